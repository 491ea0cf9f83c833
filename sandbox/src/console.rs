//! The container's terminal: a pty from the container's own devpts instance, its
//! master sent to the caller over `--console-socket` (SCM_RIGHTS), its slave made the
//! process's controlling terminal and stdio.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::rootfs::Rootfs;

/// Open a pty pair in `rfs`'s devpts: (master, slave).
pub fn open_pty(rfs: &Rootfs) -> Result<(OwnedFd, OwnedFd)> {
    let master = rfs.open_ptmx()?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK takes a pointer to an int that lives across the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } < 0 {
        return Err(Error::Io {
            what: "unlocking the pty".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    // TIOCGPTPEER opens the slave from the master itself: no /dev/pts/N path lookup
    // that a racing symlink could redirect.
    // SAFETY: TIOCGPTPEER takes open flags and returns a new fd.
    let s = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if s < 0 {
        return Err(Error::Io {
            what: "opening the pty slave".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: fresh fd from the kernel.
    Ok((master, unsafe { OwnedFd::from_raw_fd(s) }))
}

pub fn make_controlling_tty(slave: RawFd) -> Result<()> {
    // SAFETY: setsid/ioctl/dup2 on fds we own.
    unsafe {
        libc::setsid();
        if libc::ioctl(slave, libc::TIOCSCTTY, 0) < 0 {
            return Err(Error::Io {
                what: "TIOCSCTTY".into(),
                source: std::io::Error::last_os_error(),
            });
        }
        for fd in 0..3 {
            if libc::dup2(slave, fd) < 0 {
                return Err(Error::Io {
                    what: "dup2 of the pty".into(),
                    source: std::io::Error::last_os_error(),
                });
            }
        }
    }
    Ok(())
}
