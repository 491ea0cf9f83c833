use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use anyhow::{bail, Context};
use sealrun_sandbox::channel;
use sealrun_sandbox::container::{create::create, delete::delete, start::start};
use sealrun_sandbox::sys;

use crate::Global;

#[derive(clap::Args)]
#[group(skip)]
pub struct Args {
    #[command(flatten)]
    pub create: super::create::Args,
    /// Do not wait for the container: create, start and return
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits (no delete)
    #[arg(long)]
    pub keep: bool,
}

/// Does the bundle's process want a terminal? (Read before create, to set up the pty
/// proxy; create itself validates the whole document.)
fn wants_terminal(bundle: &std::path::Path) -> bool {
    std::fs::read(bundle.join("config.json"))
        .ok()
        .and_then(|d| serde_json::from_slice::<serde_json::Value>(&d).ok())
        .and_then(|v| v.pointer("/process/terminal").and_then(|t| t.as_bool()))
        .unwrap_or(false)
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let mut opts = a.create.opts();
    // Like runc: with a terminal and no --console-socket, `run` takes the pty master
    // itself and connects it to our own stdin/stdout.
    let mut console: Option<UnixStream> = None;
    let mut _theirs: Option<UnixStream> = None;
    if opts.console_socket.is_none() && wants_terminal(&opts.bundle) {
        if a.detach {
            bail!("run --detach: process.terminal is true, so --console-socket is required");
        }
        let (ours, theirs) = UnixStream::pair().context("socketpair for the console")?;
        opts.console_fd = Some(theirs.as_raw_fd());
        console = Some(ours);
        _theirs = Some(theirs);
    }
    if !a.detach {
        // The init is our child (create clones it), but its own children are
        // re-parented to us when it exits: reap them too.
        sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1).context("PR_SET_CHILD_SUBREAPER")?;
    }
    let pid = create(&g.runtime, &opts)?;
    drop(_theirs);
    let master = match &console {
        Some(c) => Some(channel::recv_fd(c.as_raw_fd()).context("receiving the pty master")?),
        None => None,
    };
    if let Err(e) = start(&g.runtime, &a.create.id) {
        let _ = delete(&g.runtime, &a.create.id, true);
        return Err(e.into());
    }
    if a.detach {
        return Ok(0);
    }
    if let Some(m) = &master {
        proxy(m, pid);
    }
    let code = loop {
        let (p, status) = sys::waitpid(-1, 0).context("waiting for the container")?;
        if p == pid {
            break sys::exit_code_of(status);
        }
    };
    if !a.keep {
        delete(&g.runtime, &a.create.id, true)?;
    }
    Ok(code)
}

/// Copy our stdin to the pty and the pty to our stdout until the container's init
/// exits; our terminal (if stdin is one) is in raw mode meanwhile, so keys such as
/// ^C reach the container.
fn proxy(master: &OwnedFd, pid: i32) {
    let m = master.as_raw_fd();
    let _raw = RawMode::enter(0, m);
    let Ok(pidfd) = sys::pidfd_open(pid) else { return };
    let mut stdin_open = true;
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = vec![m, pidfd.as_raw_fd()];
        if stdin_open {
            fds.push(0);
        }
        let Ok(ready) = sys::poll_in(&fds, -1) else { return };
        if ready[0] && !copy(m, 1, &mut buf) {
            return;
        }
        if ready[1] {
            // Drain what the container wrote before it exited.
            while sys::poll_in(&[m], 0).map(|r| r[0]).unwrap_or(false) && copy(m, 1, &mut buf) {}
            return;
        }
        if stdin_open && ready[2] && !copy(0, m, &mut buf) {
            stdin_open = false;
        }
    }
}

fn copy(from: RawFd, to: RawFd, buf: &mut [u8]) -> bool {
    // SAFETY: reading into and writing from a buffer we own.
    let n = unsafe { libc::read(from, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
    if n <= 0 {
        return false;
    }
    let mut off = 0;
    while off < n as usize {
        // SAFETY: as above; the slice [off, n) is initialised.
        let w = unsafe { libc::write(to, buf[off..].as_ptr() as *const libc::c_void, n as usize - off) };
        if w <= 0 {
            return false;
        }
        off += w as usize;
    }
    true
}

/// Raw mode on a terminal for as long as this lives; also gives the pty our size.
struct RawMode {
    fd: RawFd,
    saved: Option<libc::termios>,
}

impl RawMode {
    fn enter(fd: RawFd, pty: RawFd) -> RawMode {
        // SAFETY: termios/winsize are plain C structs; the ioctls and tc* calls only
        // read or write them, and fail harmlessly when fd is not a terminal.
        unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            if libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0 {
                libc::ioctl(pty, libc::TIOCSWINSZ, &ws);
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut t) != 0 {
                return RawMode { fd, saved: None };
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(fd, libc::TCSANOW, &t);
            RawMode { fd, saved: Some(saved) }
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            // SAFETY: restoring the attributes we read from the same fd.
            unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, t) };
        }
    }
}
