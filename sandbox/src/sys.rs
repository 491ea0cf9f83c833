//! The thin syscall layer: every `unsafe` block of the runtime's launch path lives here,
//! each with the reason it is sound. Callers get `io::Result` and owned fds.
//!
//! Why raw syscalls rather than a wrapper crate for these: `openat2`, `pivot_root`,
//! `close_range`, `pidfd_open`, fd-relative mounts and `clone` without a callback are
//! either missing from the wrappers or wrapped in ways that allocate between fork and
//! exec. The launch path needs exact control over both.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cvt_i(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

pub fn cstring(p: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("path {p:?} contains a NUL byte")))
}

pub fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("{s:?} contains a NUL byte")))
}

/// `clone(2)` used like `fork(2)`: no callback, no new stack, so the child continues
/// here with a copy of our (single-threaded) address space.
pub fn clone_fork(flags: libc::c_int) -> io::Result<libc::pid_t> {
    // SAFETY: without CLONE_VM the child gets a private copy of the address space, exactly
    // as with fork(2); the runtime is single-threaded when it calls this (no threads are
    // started before clone), so no lock can be held by a thread that does not exist in
    // the child. The null stack/ptid/ctid/tls arguments are valid for this use.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
            0 as libc::c_ulong,
        )
    };
    cvt(ret).map(|p| p as libc::pid_t)
}

/// Resolve `path` beneath `root` as if `root` were `/`: `..` and absolute symlinks
/// cannot leave it, and magic links (`/proc/self/fd/…`) are refused. This is what
/// keeps a hostile rootfs from redirecting a mount target or a device node onto the host.
pub fn openat2_in_root(root: RawFd, path: &Path, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    let c = cstring(path)?;
    // SAFETY: open_how is a plain C struct for which all-zero is valid.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
        mode as u64
    } else {
        0
    };
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `how` is a fully initialised open_how that outlives the call, its size is
    // passed exactly, and `c` is a valid NUL-terminated string.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root,
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    let fd = cvt(fd)? as RawFd;
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn open(path: &Path, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    let c = cstring(path)?;
    // SAFETY: `c` is a valid C string; open returns a new fd or -1.
    let fd = cvt_i(unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) })?;
    // SAFETY: fresh fd from the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn openat(dir: RawFd, path: &Path, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    let c = cstring(path)?;
    // SAFETY: `c` is a valid C string; openat returns a new fd or -1.
    let fd = cvt_i(unsafe { libc::openat(dir, c.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) })?;
    // SAFETY: fresh fd from the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn mkdirat(dir: RawFd, name: &Path, mode: libc::mode_t) -> io::Result<()> {
    let c = cstring(name)?;
    // SAFETY: valid C string and dirfd.
    cvt_i(unsafe { libc::mkdirat(dir, c.as_ptr(), mode) }).map(drop)
}

pub fn mknodat(dir: RawFd, name: &Path, mode: libc::mode_t, dev: libc::dev_t) -> io::Result<()> {
    let c = cstring(name)?;
    // SAFETY: valid C string and dirfd.
    cvt_i(unsafe { libc::mknodat(dir, c.as_ptr(), mode, dev) }).map(drop)
}

pub fn symlinkat(target: &Path, dir: RawFd, name: &Path) -> io::Result<()> {
    let t = cstring(target)?;
    let n = cstring(name)?;
    // SAFETY: valid C strings and dirfd.
    cvt_i(unsafe { libc::symlinkat(t.as_ptr(), dir, n.as_ptr()) }).map(drop)
}

pub fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: an all-zero stat is a valid value to be overwritten by the kernel.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable stat buffer.
    cvt_i(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st)
}

pub fn fstatfs(fd: RawFd) -> io::Result<libc::statfs> {
    // SAFETY: an all-zero statfs is a valid value to be overwritten by the kernel.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable statfs buffer.
    cvt_i(unsafe { libc::fstatfs(fd, &mut st) })?;
    Ok(st)
}

pub fn statvfs_flags(fd: RawFd) -> io::Result<libc::c_ulong> {
    // SAFETY: an all-zero statvfs is a valid value to be overwritten by the kernel.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable statvfs buffer.
    cvt_i(unsafe { libc::fstatvfs(fd, &mut st) })?;
    Ok(st.f_flag)
}

/// The path through which a mount syscall reaches an fd we resolved safely. The
/// kernel follows this magic link to the exact inode, so the target cannot be swapped
/// for a symlink between our check and the mount.
pub fn fd_path(fd: RawFd) -> String {
    format!("/proc/self/fd/{fd}")
}

pub fn mount(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let source = source.map(cstr).transpose()?;
    let target = cstr(target)?;
    let fstype = fstype.map(cstr).transpose()?;
    let data = data.filter(|d| !d.is_empty()).map(cstr).transpose()?;
    // SAFETY: every pointer is either null or a valid NUL-terminated string that lives
    // until the call returns.
    cvt_i(unsafe {
        libc::mount(
            source.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            target.as_ptr(),
            fstype.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            flags,
            data.as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr() as *const libc::c_void),
        )
    })
    .map(drop)
}

pub fn umount2(target: &str, flags: libc::c_int) -> io::Result<()> {
    let t = cstr(target)?;
    // SAFETY: valid C string.
    cvt_i(unsafe { libc::umount2(t.as_ptr(), flags) }).map(drop)
}

pub fn pivot_root(new_root: &str, put_old: &str) -> io::Result<()> {
    let n = cstr(new_root)?;
    let o = cstr(put_old)?;
    // SAFETY: valid C strings; pivot_root has no libc wrapper.
    cvt(unsafe { libc::syscall(libc::SYS_pivot_root, n.as_ptr(), o.as_ptr()) }).map(drop)
}

pub fn chdir(p: &str) -> io::Result<()> {
    let c = cstr(p)?;
    // SAFETY: valid C string.
    cvt_i(unsafe { libc::chdir(c.as_ptr()) }).map(drop)
}

pub fn fchdir(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain syscall on an fd.
    cvt_i(unsafe { libc::fchdir(fd) }).map(drop)
}

pub fn chroot(p: &str) -> io::Result<()> {
    let c = cstr(p)?;
    // SAFETY: valid C string.
    cvt_i(unsafe { libc::chroot(c.as_ptr()) }).map(drop)
}

pub fn setns(fd: RawFd, nstype: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall on an fd.
    cvt_i(unsafe { libc::setns(fd, nstype) }).map(drop)
}

pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt_i(unsafe { libc::unshare(flags) }).map(drop)
}

/// Mark every fd from `first` up as close-on-exec: only stdio and the preserved fds
/// survive into the container (CVE-2024-21626 leaked a host directory fd this way).
pub fn cloexec_from(first: libc::c_uint) -> io::Result<()> {
    // SAFETY: plain syscall; CLOSE_RANGE_CLOEXEC changes flags and closes nothing.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    })
    .map(drop)
}

pub fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on an fd with integer arguments.
    let flags = cvt_i(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    let flags = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: as above.
    cvt_i(unsafe { libc::fcntl(fd, libc::F_SETFD, flags) }).map(drop)
}

pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall returning a new fd.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })? as RawFd;
    // SAFETY: fresh fd owned by us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn pidfd_send_signal(pidfd: RawFd, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall; a null siginfo means "as kill(2) would".
    cvt(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })
    .map(drop)
}

/// Wait until `fd` is readable (or hung up) or `timeout_ms` passes (-1: forever).
pub fn poll_in(fds: &[RawFd], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: `p` is a valid array of pollfd of the given length.
        let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(p.iter().map(|x| x.revents != 0).collect());
    }
}

pub fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    cvt_i(unsafe { libc::prctl(option, arg2, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong) }).map(drop)
}

pub fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe a valid byte buffer.
    cvt_i(unsafe { libc::sethostname(name.as_ptr() as *const libc::c_char, name.len()) }).map(drop)
}

pub fn setdomainname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe a valid byte buffer.
    cvt_i(unsafe { libc::setdomainname(name.as_ptr() as *const libc::c_char, name.len()) }).map(drop)
}

pub fn setresuid(uid: u32) -> io::Result<()> {
    // SAFETY: raw syscall (not the libc wrapper, which would broadcast to threads via
    // signals — harmless here, but the raw call is what we mean: this thread only).
    cvt(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
}

pub fn setresgid(gid: u32) -> io::Result<()> {
    // SAFETY: as for setresuid.
    cvt(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
}

pub fn setgroups(gids: &[u32]) -> io::Result<()> {
    // SAFETY: pointer and length describe a valid gid_t array.
    cvt(unsafe { libc::syscall(libc::SYS_setgroups, gids.len(), gids.as_ptr()) }).map(drop)
}

pub fn kill(pid: libc::pid_t, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt_i(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// waitpid that retries on EINTR; returns the raw status.
pub fn waitpid(pid: libc::pid_t, flags: libc::c_int) -> io::Result<(libc::pid_t, libc::c_int)> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, flags) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok((r, status));
    }
}

pub fn exit_code_of(status: libc::c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}

pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: both arrays are NULL-terminated and point to C strings that outlive the call.
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    io::Error::last_os_error()
}

pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and runs no atexit handlers or destructors, which is
    // what a forked child must do so it does not flush the parent's buffers twice.
    unsafe { libc::_exit(code) }
}

/// Field 22 of /proc/PID/stat: the start time in clock ticks since boot. Stored with the
/// pid so a recycled pid is never mistaken for the container's init.
pub fn process_start_time(pid: libc::pid_t) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// Process state letter from /proc/PID/stat ('Z' = zombie, not running).
pub fn process_state(pid: libc::pid_t) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

pub fn fd_raw<F: AsRawFd>(f: &F) -> RawFd {
    f.as_raw_fd()
}

/// lstat of `name` in the directory `dir` (symlinks are not followed).
pub fn lstatat(dir: RawFd, name: &Path) -> io::Result<libc::stat> {
    let c = cstring(name)?;
    // SAFETY: an all-zero stat is a valid value to be overwritten by the kernel.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid dirfd, C string and out-buffer.
    cvt_i(unsafe { libc::fstatat(dir, c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

pub fn readlinkat(dir: RawFd, name: &Path) -> io::Result<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let c = cstring(name)?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: buf is a writable buffer of buf.len() bytes.
    let n = unsafe { libc::readlinkat(dir, c.as_ptr(), buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&buf)))
}
