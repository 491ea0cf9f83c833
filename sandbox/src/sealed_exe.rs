//! CVE-2019-5736: a container that can reach `/proc/<pid>/exe` of a runtime process
//! inside it (the init before `start`, an `exec` helper before its execve) could open
//! the runtime's binary for writing and replace it on the host.
//!
//! Two layers. Every process that enters the container's namespaces is non-dumpable
//! until its execve, which keeps `/proc/<pid>/exe` out of reach of anything without
//! CAP_SYS_PTRACE in the host's user namespace. And where a runtime process can be seen
//! from inside a container — every `exec`, and a `create` whose init joins an existing
//! pid namespace (the host's, or a pod's shared one) — it first re-executes itself from
//! a sealed memfd copy of the binary (as crun does), so even a container granted
//! CAP_SYS_PTRACE finds only an immutable anonymous file: F_SEAL_WRITE makes every write
//! fail, and the host binary is never reachable. A `create` with a new pid namespace
//! skips the copy (it costs ~4 ms for a 5.6 MB binary): until `start` its init is alone
//! in that namespace, and at `start` it execs the user's program.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use crate::error::{Context, Error, Result};
use crate::sys;

const SEALS: libc::c_int = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
const MFD_EXEC: libc::c_uint = 0x0010;

/// Is this process already running from a sealed copy?
pub fn is_sealed() -> bool {
    let Ok(fd) = sys::open(std::path::Path::new("/proc/self/exe"), libc::O_RDONLY, 0) else {
        return false;
    };
    // SAFETY: fcntl with an integer command on an fd we own.
    let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

/// Re-execute the current command line from a sealed memfd copy of our binary,
/// unless we already run from one. Returns only on error.
pub fn reexec_sealed() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let exe =
        sys::open(std::path::Path::new("/proc/self/exe"), libc::O_RDONLY, 0).ctx(|| "opening /proc/self/exe".into())?;
    let size = sys::fstat(exe.as_raw_fd())
        .ctx(|| "stat /proc/self/exe".into())?
        .st_size as usize;
    let name = c"sealrun";
    // SAFETY: memfd_create with a valid C string; returns a new fd or -1. MFD_EXEC is
    // needed where vm.memfd_noexec=1 and unknown (EINVAL) before Linux 6.3.
    let mut fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING | MFD_EXEC) };
    if fd < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    }
    if fd < 0 {
        return Err(Error::Io {
            what: "memfd_create".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: fresh fd owned by us.
    let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut left = size;
    while left > 0 {
        // SAFETY: sendfile between two fds we own; the kernel advances exe's offset.
        let n = unsafe { libc::sendfile(memfd.as_raw_fd(), exe.as_raw_fd(), std::ptr::null_mut(), left) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::Io {
                what: "copying the runtime binary into a memfd".into(),
                source: e,
            });
        }
        if n == 0 {
            break;
        }
        left -= n as usize;
    }
    // SAFETY: fcntl with integer arguments on an fd we own.
    if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(Error::Io {
            what: "sealing the memfd".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    let argv: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
        .collect();
    let envp: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut b = k.as_bytes().to_vec();
            b.push(b'=');
            b.extend_from_slice(v.as_bytes());
            CString::new(b).unwrap_or_default()
        })
        .collect();
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: execveat(fd, "", argv, envp, AT_EMPTY_PATH) executes the memfd itself;
    // both arrays are NULL-terminated and point to live C strings. The memfd is
    // close-on-exec: the kernel holds its own reference to the file it executes.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            memfd.as_raw_fd(),
            c"".as_ptr(),
            a.as_ptr(),
            e.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
    }
    Err(Error::Io {
        what: "re-executing from the sealed memfd".into(),
        source: std::io::Error::last_os_error(),
    })
}
