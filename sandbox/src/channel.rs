//! The sync channel between the runtime (parent) and the process it is setting up
//! (child): a SOCK_SEQPACKET socketpair, so every message arrives whole, and EOF means
//! the other side died or exec'd (the child's end is close-on-exec).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// What the two sides say to each other. Kept as plain bytes: the child must not need
/// a serializer between fork and exec.
#[derive(Debug, PartialEq, Eq)]
pub enum Msg {
    /// parent → child: cgroup joined and id maps written; go on.
    Go,
    /// child → parent: mounts are ready; run prestart and createRuntime hooks now.
    Hooks,
    /// parent → child: hooks done.
    HooksDone,
    /// child → parent: the pid of a grandchild (exec: after joining a pid namespace).
    Pid(i32),
    /// child → parent: setup complete; the process is waiting for `start` (create) or
    /// about to exec (exec).
    Ready,
    /// child → parent: setup failed; the message says where and why.
    Error(String),
}

pub struct Channel {
    fd: OwnedFd,
}

pub fn pair() -> io::Result<(Channel, Channel)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid out-array of two ints.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created for us.
    unsafe {
        Ok((
            Channel {
                fd: OwnedFd::from_raw_fd(fds[0]),
            },
            Channel {
                fd: OwnedFd::from_raw_fd(fds[1]),
            },
        ))
    }
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> io::Result<()> {
        let mut buf = Vec::with_capacity(64);
        match msg {
            Msg::Go => buf.push(b'G'),
            Msg::Hooks => buf.push(b'H'),
            Msg::HooksDone => buf.push(b'D'),
            Msg::Ready => buf.push(b'R'),
            Msg::Pid(p) => {
                buf.push(b'P');
                buf.extend_from_slice(&p.to_le_bytes());
            }
            Msg::Error(e) => {
                buf.push(b'E');
                buf.extend_from_slice(e.as_bytes());
            }
        }
        // SAFETY: buf is a valid readable buffer of buf.len() bytes.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                buf.as_ptr() as *const libc::c_void,
                buf.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Receive one message; `Ok(None)` is EOF (the peer exited or exec'd).
    pub fn recv(&self) -> io::Result<Option<Msg>> {
        let mut buf = vec![0u8; 8192];
        let n = loop {
            // SAFETY: buf is a valid writable buffer of buf.len() bytes.
            let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            break n as usize;
        };
        if n == 0 {
            return Ok(None);
        }
        let body = &buf[1..n];
        let msg = match buf[0] {
            b'G' => Msg::Go,
            b'H' => Msg::Hooks,
            b'D' => Msg::HooksDone,
            b'R' => Msg::Ready,
            b'P' if body.len() == 4 => Msg::Pid(i32::from_le_bytes([body[0], body[1], body[2], body[3]])),
            b'E' => Msg::Error(String::from_utf8_lossy(body).into_owned()),
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("sync channel: unexpected message tag {other:#x}"),
                ))
            }
        };
        Ok(Some(msg))
    }

    /// Wait for a specific message; anything else (an error, EOF) becomes an error.
    pub fn expect(&self, want: Msg, what: &str) -> Result<(), String> {
        match self.recv() {
            Ok(Some(m)) if m == want => Ok(()),
            Ok(Some(Msg::Error(e))) => Err(e),
            Ok(Some(m)) => Err(format!("{what}: expected {want:?} from the peer, got {m:?}")),
            Ok(None) => Err(format!("{what}: the peer exited before sending {want:?}")),
            Err(e) => Err(format!("{what}: {e}")),
        }
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Send `fd` over the unix socket `sock` with SCM_RIGHTS, with `name` as the payload
/// (containerd's console receiver reads the fd and ignores the name; runc sends the
/// pty's path).
pub fn send_fd(sock: RawFd, name: &str, fd: RawFd) -> io::Result<()> {
    let payload = if name.is_empty() { "/dev/ptmx" } else { name };
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut cbuf = vec![0u8; space];
    // SAFETY: an all-zero msghdr is valid; we fill the fields we use below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = space as _;
    // SAFETY: msg_control points to a buffer of CMSG_SPACE(sizeof fd) bytes, so the first
    // header and its data fit; CMSG_* only compute offsets into that buffer.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut RawFd, fd);
    }
    // SAFETY: msg and everything it points to are valid for the duration of the call.
    let r = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receive one fd sent with SCM_RIGHTS on `sock` (the receiving side of a console
/// socket).
pub fn recv_fd(sock: RawFd) -> io::Result<OwnedFd> {
    let mut data = [0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut cbuf = vec![0u8; space];
    // SAFETY: an all-zero msghdr is valid; we fill the fields we use.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = space as _;
    // SAFETY: msg points to buffers that live across the call.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: CMSG_FIRSTHDR/CMSG_DATA read within msg_control, whose length the kernel set.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() || (*cmsg).cmsg_level != libc::SOL_SOCKET || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "console socket: no file descriptor received",
            ));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const RawFd);
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Connect to the unix socket at `path` (the `--console-socket` of create and exec).
pub fn connect_unix(path: &std::path::Path) -> io::Result<OwnedFd> {
    let s = std::os::unix::net::UnixStream::connect(path)?;
    Ok(OwnedFd::from(s))
}
