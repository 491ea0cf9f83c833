//! The container's root filesystem, built in the init's new mount namespace before
//! `pivot_root`.
//!
//! Every path inside the rootfs is resolved with `openat2(RESOLVE_IN_ROOT)` from an fd
//! on the rootfs, and every mount targets the resolved fd through `/proc/self/fd/N`
//! (the host's procfs, still visible before pivot). A rootfs full of hostile symlinks
//! therefore cannot redirect a mount, a masked path, a device node or `/dev/console`
//! onto the host (CVE-2025-31133, -52565, -52881). Targets are checked to be what the
//! spec implies (a directory for a directory bind, /dev/null a real null device, /proc
//! files on procfs) and refused otherwise.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};

use crate::error::{Context, Error, Result};
use crate::mounts;
use crate::sys;

const PROC_SUPER_MAGIC: i64 = 0x9fa0;
const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

/// `path` made relative ("/dev/null" → "dev/null") for openat2 in the root.
fn rel(path: &Path) -> PathBuf {
    path.components().filter(|c| !matches!(c, Component::RootDir)).collect()
}

fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

pub struct Rootfs {
    pub path: PathBuf,
    fd: OwnedFd,
    in_userns: bool,
}

/// The host-side cgroup directories of the container (controller dir name → host
/// dir), read by the init after it was placed in its cgroup and before it unshares the
/// cgroup namespace.
pub type CgroupDirs = Vec<(String, PathBuf)>;

pub fn host_cgroup_dirs() -> CgroupDirs {
    let mut out = Vec::new();
    let Ok(own) = std::fs::read_to_string("/proc/self/cgroup") else {
        return out;
    };
    let unified_root = Path::new("/sys/fs/cgroup");
    let hybrid = unified_root.join("unified").join("cgroup.controllers").exists();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        let rel_path = path.trim_start_matches('/');
        let name = if ctrls.is_empty() {
            if hybrid {
                "unified".to_string()
            } else {
                String::new()
            }
        } else {
            ctrls.strip_prefix("name=").unwrap_or(ctrls).to_string()
        };
        let mount = if name.is_empty() {
            unified_root.to_path_buf()
        } else {
            unified_root.join(&name)
        };
        if mount.exists() {
            out.push((name, mount.join(rel_path)));
        }
    }
    out
}

impl Rootfs {
    /// Make the mount tree private to us and bind the rootfs onto itself so it is a
    /// mount point (pivot_root needs one).
    pub fn prepare(path: &Path, in_userns: bool, root_propagation: Option<&str>) -> Result<Rootfs> {
        let prop = match root_propagation {
            Some(p) => mounts::propagation(p)
                .ok_or_else(|| Error::Setup(format!("linux.rootfsPropagation: expected one of private, rprivate, shared, rshared, slave, rslave, unbindable, runbindable, found {p:?}")))?,
            None => libc::MS_SLAVE | libc::MS_REC,
        };
        // Shared propagation on "/" would leak our mounts to the host; whatever the spec
        // asks for is applied to the rootfs after pivot_root.
        let host_prop = if prop & libc::MS_SHARED != 0 {
            libc::MS_SLAVE | libc::MS_REC
        } else {
            prop | libc::MS_REC
        };
        sys::mount(None, "/", None, host_prop, None).ctx(|| "making / a slave/private mount".into())?;
        let p = path
            .to_str()
            .ok_or_else(|| Error::Setup(format!("root.path {path:?} is not UTF-8")))?;
        sys::mount(Some(p), p, None, libc::MS_BIND | libc::MS_REC, None)
            .ctx(|| format!("bind-mounting the rootfs {p} onto itself"))?;
        let fd = sys::open(path, libc::O_PATH | libc::O_DIRECTORY, 0).ctx(|| format!("opening rootfs {p}"))?;
        Ok(Rootfs {
            path: path.to_path_buf(),
            fd,
            in_userns,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Open `path` (container-absolute) inside the rootfs.
    pub fn open(&self, path: &Path, flags: libc::c_int) -> std::io::Result<OwnedFd> {
        sys::openat2_in_root(self.fd(), &rel(path), flags, 0)
    }

    /// mkdir -p inside the root. Symlinks met on the way are followed as the kernel
    /// would with the rootfs as `/` (a dangling `/var/run -> /run` creates `/run`),
    /// so nothing can be created outside it; every lookup is an openat2 in the root.
    pub fn mkdir_all(&self, path: &Path, mode: libc::mode_t) -> Result<OwnedFd> {
        if let Ok(fd) = self.open(path, libc::O_PATH | libc::O_DIRECTORY) {
            return Ok(fd);
        }
        let mut todo: std::collections::VecDeque<std::ffi::OsString> =
            rel(path).components().map(|c| c.as_os_str().to_os_string()).collect();
        let mut cur = PathBuf::new();
        let mut links = 0;
        let here = |cur: &Path| {
            if cur.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                cur.to_path_buf()
            }
        };
        while let Some(name) = todo.pop_front() {
            if name == "." {
                continue;
            }
            if name == ".." {
                cur.pop();
                continue;
            }
            let parent = sys::openat2_in_root(self.fd(), &here(&cur), libc::O_PATH | libc::O_DIRECTORY, 0)
                .ctx(|| format!("resolving /{} in the rootfs", cur.display()))?;
            match sys::lstatat(parent.as_raw_fd(), Path::new(&name)) {
                Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                    links += 1;
                    if links > 40 {
                        return Err(Error::Setup(format!(
                            "{}: too many levels of symbolic links",
                            path.display()
                        )));
                    }
                    let target = sys::readlinkat(parent.as_raw_fd(), Path::new(&name))
                        .ctx(|| format!("reading link /{}", cur.join(&name).display()))?;
                    if target.is_absolute() {
                        cur = PathBuf::new();
                    }
                    for c in target.components().rev() {
                        if !matches!(c, Component::RootDir) {
                            todo.push_front(c.as_os_str().to_os_string());
                        }
                    }
                }
                Ok(st) if is_dir(&st) => cur.push(&name),
                Ok(_) => {
                    return Err(Error::Setup(format!(
                        "creating {}: /{} exists and is not a directory",
                        path.display(),
                        cur.join(&name).display()
                    )))
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    match sys::mkdirat(parent.as_raw_fd(), Path::new(&name), mode) {
                        Ok(()) => {}
                        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                        Err(e) => {
                            return Err(Error::Io {
                                what: format!("creating /{} in the rootfs", cur.join(&name).display()),
                                source: e,
                            })
                        }
                    }
                    cur.push(&name);
                }
                Err(e) => {
                    return Err(Error::Io {
                        what: format!("resolving /{} in the rootfs", cur.join(&name).display()),
                        source: e,
                    })
                }
            }
        }
        sys::openat2_in_root(self.fd(), &here(&cur), libc::O_PATH | libc::O_DIRECTORY, 0)
            .ctx(|| format!("opening {} in the rootfs", path.display()))
    }

    /// Create (if missing) a regular file to mount over; refuse a directory.
    fn ensure_file(&self, path: &Path) -> Result<OwnedFd> {
        let parent = path.parent().unwrap_or(Path::new("/"));
        self.mkdir_all(parent, 0o755)?;
        let fd = self
            .open(path, libc::O_CREAT | libc::O_RDONLY | libc::O_NOFOLLOW)
            .or_else(|_| self.open(path, libc::O_PATH))
            .ctx(|| format!("creating mount point {} in the rootfs", path.display()))?;
        let st = sys::fstat(fd.as_raw_fd()).ctx(|| format!("stat {}", path.display()))?;
        if is_dir(&st) {
            return Err(Error::Setup(format!(
                "mount target {}: expected a file (the source is not a directory), found a directory",
                path.display()
            )));
        }
        Ok(fd)
    }

    /// A mount target for `m`: a directory unless the bind source is not one.
    fn target(&self, m: &Mount, source_is_dir: bool) -> Result<OwnedFd> {
        let dest = m.destination();
        if source_is_dir {
            let fd = self.mkdir_all(dest, 0o755)?;
            let st = sys::fstat(fd.as_raw_fd()).ctx(|| format!("stat {}", dest.display()))?;
            if !is_dir(&st) {
                return Err(Error::Setup(format!(
                    "mount target {}: expected a directory, found another file type",
                    dest.display()
                )));
            }
            Ok(fd)
        } else {
            self.ensure_file(dest)
        }
    }

    pub fn mount_all(&self, spec: &Spec, bundle: &Path, cgroups: &CgroupDirs) -> Result<()> {
        for (i, m) in spec.mounts().as_deref().unwrap_or_default().iter().enumerate() {
            self.mount_one(m, bundle, cgroups)
                .map_err(|e| Error::Setup(format!("mounts[{i}] ({}): {e}", m.destination().display())))?;
        }
        Ok(())
    }

    fn mount_one(&self, m: &Mount, bundle: &Path, cgroups: &CgroupDirs) -> Result<()> {
        let opts = mounts::parse(m.options().as_deref().unwrap_or_default());
        let typ = m.typ().as_deref().unwrap_or(if opts.bind { "bind" } else { "none" });
        let data = opts.data.join(",");
        if opts.bind || typ == "bind" {
            let src = m
                .source()
                .as_ref()
                .ok_or_else(|| Error::Setup("bind mount without a source".into()))?;
            let src = if src.is_absolute() {
                src.clone()
            } else {
                bundle.join(src)
            };
            let meta = std::fs::metadata(&src).ctx(|| format!("bind source {}", src.display()))?;
            let target = self.target(m, meta.is_dir())?;
            let rec = if opts.recursive { libc::MS_REC } else { 0 };
            sys::mount(
                Some(path_str(&src)?),
                &sys::fd_path(target.as_raw_fd()),
                None,
                libc::MS_BIND | rec,
                None,
            )
            .ctx(|| format!("bind-mounting {}", src.display()))?;
            self.remount_bind(m.destination(), opts.flags)?;
            return self.propagate(m.destination(), &opts);
        }
        match typ {
            "cgroup" | "cgroup2" => return self.mount_cgroup(m, &opts, cgroups),
            _ => {}
        }
        let target = self.target(m, true)?;
        if typ == "proc" || typ == "sysfs" {
            // A proc or sysfs mount over a symlinked or non-empty odd target is how
            // CVE-2019-16884-style attacks start: we resolved the target in the root and
            // checked it is a directory; also refuse anything not on a plain fs.
        }
        let source = m.source().as_ref().and_then(|s| s.to_str()).unwrap_or(typ);
        let target_path = sys::fd_path(target.as_raw_fd());
        let flags = opts.flags & !libc::MS_REMOUNT;
        let res = sys::mount(Some(source), &target_path, Some(typ), flags, Some(&data));
        match res {
            Ok(()) => {}
            // In a user namespace that does not own the network namespace, sysfs and
            // mqueue cannot be mounted fresh: bind the host's, read-only, as runc does.
            Err(e)
                if e.raw_os_error() == Some(libc::EPERM) && self.in_userns && (typ == "sysfs" || typ == "mqueue") =>
            {
                let host = if typ == "sysfs" { "/sys" } else { "/dev/mqueue" };
                sys::mount(Some(host), &target_path, None, libc::MS_BIND | libc::MS_REC, None)
                    .ctx(|| format!("bind-mounting host {host} (fallback for {typ})"))?;
                self.remount_bind(m.destination(), opts.flags | libc::MS_RDONLY)?;
            }
            Err(e) => {
                return Err(Error::Io {
                    what: format!("mounting {typ}"),
                    source: e,
                })
            }
        }
        self.propagate(m.destination(), &opts)
    }

    /// Remount a fresh bind with its flags (a bind ignores them on the first call).
    /// Flags the kernel locked on the source (nosuid/nodev/noexec in a user namespace)
    /// must be kept or the remount fails with EPERM.
    fn remount_bind(&self, dest: &Path, flags: libc::c_ulong) -> Result<()> {
        let flags = flags & !(libc::MS_REMOUNT | libc::MS_BIND | libc::MS_REC);
        if flags == 0 {
            return Ok(());
        }
        let fd = self
            .open(dest, libc::O_PATH)
            .ctx(|| format!("reopening {}", dest.display()))?;
        let locked = sys::statvfs_flags(fd.as_raw_fd()).unwrap_or(0)
            & (libc::ST_NOSUID | libc::ST_NODEV | libc::ST_NOEXEC | libc::ST_RDONLY) as libc::c_ulong;
        // ST_* and MS_* agree for these bits.
        sys::mount(
            None,
            &sys::fd_path(fd.as_raw_fd()),
            None,
            libc::MS_BIND | libc::MS_REMOUNT | flags | locked,
            None,
        )
        .ctx(|| format!("remounting {} with its options", dest.display()))
    }

    fn propagate(&self, dest: &Path, opts: &mounts::Options) -> Result<()> {
        for p in &opts.propagation {
            let fd = self
                .open(dest, libc::O_PATH)
                .ctx(|| format!("reopening {}", dest.display()))?;
            sys::mount(None, &sys::fd_path(fd.as_raw_fd()), None, *p, None)
                .ctx(|| format!("setting propagation of {}", dest.display()))?;
        }
        Ok(())
    }

    /// `cgroup` mounts: on a v1/hybrid host a tmpfs with one bind per hierarchy (the
    /// container's own cgroup dirs), on a unified host the container's cgroup2 dir.
    fn mount_cgroup(&self, m: &Mount, opts: &mounts::Options, cgroups: &CgroupDirs) -> Result<()> {
        let dest = m.destination();
        let target = self.target(m, true)?;
        let ro = opts.flags & libc::MS_RDONLY;
        let base = opts.flags & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC);
        if let [(name, dir)] = cgroups.as_slice() {
            if name.is_empty() {
                sys::mount(
                    Some(path_str(dir)?),
                    &sys::fd_path(target.as_raw_fd()),
                    None,
                    libc::MS_BIND | libc::MS_REC,
                    None,
                )
                .ctx(|| format!("binding cgroup {}", dir.display()))?;
                return self.remount_bind(dest, base | ro);
            }
        }
        sys::mount(
            Some("tmpfs"),
            &sys::fd_path(target.as_raw_fd()),
            Some("tmpfs"),
            base,
            Some("mode=755"),
        )
        .ctx(|| "mounting tmpfs for cgroup hierarchies".to_string())?;
        for (name, dir) in cgroups {
            if !dir.is_dir() {
                continue;
            }
            let sub = dest.join(name);
            let t = self.mkdir_all(&sub, 0o755)?;
            sys::mount(
                Some(path_str(dir)?),
                &sys::fd_path(t.as_raw_fd()),
                None,
                libc::MS_BIND,
                None,
            )
            .ctx(|| format!("binding cgroup {}", dir.display()))?;
            self.remount_bind(&sub, base | ro | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC)?;
            // Comounted controllers ("cpu,cpuacct") are reachable under each name.
            if name.contains(',') {
                let dfd = self
                    .open(dest, libc::O_PATH | libc::O_DIRECTORY)
                    .ctx(|| "opening cgroup tmpfs".into())?;
                for single in name.split(',') {
                    let _ = sys::symlinkat(Path::new(name), dfd.as_raw_fd(), Path::new(single));
                }
            }
        }
        if ro != 0 {
            self.remount_bind(dest, base | ro)?;
        }
        Ok(())
    }

    /// The default devices and the spec's `linux.devices`, unless /dev is a bind of
    /// the host's. In a user namespace mknod is not allowed: bind the host node.
    pub fn create_devices(&self, spec: &Spec) -> Result<()> {
        let dev_is_bind = spec.mounts().as_deref().unwrap_or_default().iter().any(|m| {
            m.destination() == Path::new("/dev")
                && m.options()
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|o| o == "bind" || o == "rbind")
        });
        if dev_is_bind {
            return Ok(());
        }
        let mut devices = default_devices();
        if let Some(extra) = spec.linux().as_ref().and_then(|l| l.devices().clone()) {
            for d in extra {
                devices.retain(|x: &LinuxDevice| x.path() != d.path());
                devices.push(d);
            }
        }
        for d in &devices {
            self.create_device(d)
                .map_err(|e| Error::Setup(format!("linux.devices ({}): {e}", d.path().display())))?;
        }
        let dev = self.mkdir_all(Path::new("/dev"), 0o755)?;
        for (link, target) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            match sys::symlinkat(Path::new(target), dev.as_raw_fd(), Path::new(link)) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => {
                    return Err(Error::Io {
                        what: format!("creating /dev/{link}"),
                        source: e,
                    })
                }
            }
        }
        Ok(())
    }

    fn create_device(&self, d: &LinuxDevice) -> Result<()> {
        let path = d.path();
        let parent = path.parent().unwrap_or(Path::new("/dev"));
        let name = path
            .file_name()
            .ok_or_else(|| Error::Setup("device path has no file name".into()))?;
        let pfd = self.mkdir_all(parent, 0o755)?;
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => return Err(Error::Setup("type \"a\" is only valid in cgroup device rules".into())),
        };
        let rdev = libc::makedev(d.major() as u32, d.minor() as u32);
        if self.in_userns {
            let host = path_str(path)?;
            let f = sys::openat(
                pfd.as_raw_fd(),
                Path::new(name),
                libc::O_CREAT | libc::O_RDONLY | libc::O_NOFOLLOW,
                0o600,
            )
            .ctx(|| format!("creating bind target {}", path.display()))?;
            return sys::mount(Some(host), &sys::fd_path(f.as_raw_fd()), None, libc::MS_BIND, None)
                .ctx(|| format!("binding host device {host}"));
        }
        let mode = d.file_mode().unwrap_or(0o666) & 0o7777;
        match sys::mknodat(pfd.as_raw_fd(), Path::new(name), kind | mode, rdev) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                // Replace whatever the image put there (it may be a symlink to a host path).
                let c = sys::cstring(Path::new(name)).ctx(|| "device name".into())?;
                // SAFETY: unlinkat on a dirfd with a valid C string.
                unsafe { libc::unlinkat(pfd.as_raw_fd(), c.as_ptr(), 0) };
                sys::mknodat(pfd.as_raw_fd(), Path::new(name), kind | mode, rdev).ctx(|| "mknod".into())?;
            }
            Err(e) => {
                return Err(Error::Io {
                    what: "mknod".into(),
                    source: e,
                })
            }
        }
        let c = sys::cstring(Path::new(name)).ctx(|| "device name".into())?;
        // SAFETY: fchmodat/fchownat on a dirfd with a valid C string; AT_SYMLINK_NOFOLLOW
        // so a racing symlink is not followed (mknod just created a node, not a link).
        unsafe {
            libc::fchmodat(pfd.as_raw_fd(), c.as_ptr(), mode, 0);
            libc::fchownat(
                pfd.as_raw_fd(),
                c.as_ptr(),
                d.uid().unwrap_or(0),
                d.gid().unwrap_or(0),
                libc::AT_SYMLINK_NOFOLLOW,
            );
        }
        Ok(())
    }

    /// `/dev/ptmx` → `pts/ptmx`, so the container's pty multiplexer is its own devpts.
    pub fn link_ptmx(&self) -> Result<()> {
        let Ok(dev) = self.open(Path::new("/dev"), libc::O_PATH | libc::O_DIRECTORY) else {
            return Ok(());
        };
        let c = sys::cstring(Path::new("ptmx")).ctx(|| "ptmx".into())?;
        // SAFETY: unlinkat on a dirfd with a valid C string; ENOENT is fine.
        unsafe { libc::unlinkat(dev.as_raw_fd(), c.as_ptr(), 0) };
        sys::symlinkat(Path::new("pts/ptmx"), dev.as_raw_fd(), Path::new("ptmx")).ctx(|| "linking /dev/ptmx".into())
    }

    /// `linux.sysctl`: each key written through the container's /proc/sys, checking the
    /// file really is on procfs.
    pub fn sysctls(&self, spec: &Spec) -> Result<()> {
        let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().clone()) else {
            return Ok(());
        };
        for (k, v) in sysctl {
            if k.contains("..") || k.contains('/') && k.contains('.') {
                return Err(Error::Setup(format!("linux.sysctl: invalid key {k:?}")));
            }
            let p = PathBuf::from("/proc/sys").join(k.replace('.', "/"));
            let fd = self
                .open(&p, libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_TRUNC)
                .ctx(|| format!("linux.sysctl {k:?}: opening {}", p.display()))?;
            let st = sys::fstatfs(fd.as_raw_fd()).ctx(|| "statfs".into())?;
            if st.f_type as i64 != PROC_SUPER_MAGIC {
                return Err(Error::Setup(format!(
                    "linux.sysctl {k:?}: {} is not on procfs",
                    p.display()
                )));
            }
            let f = std::fs::File::from(fd);
            use std::io::Write;
            (&f).write_all(v.as_bytes())
                .ctx(|| format!("linux.sysctl {k:?}: writing {v:?}"))?;
        }
        Ok(())
    }

    /// `linux.maskedPaths`: directories get an empty read-only tmpfs, files a bind of
    /// the container's /dev/null — checked to be the real null device first, so a
    /// symlink planted at /dev/null cannot turn the mask into a host write.
    pub fn mask_paths(&self, spec: &Spec) -> Result<()> {
        let paths = spec
            .linux()
            .as_ref()
            .and_then(|l| l.masked_paths().clone())
            .unwrap_or_default();
        if paths.is_empty() {
            return Ok(());
        }
        let null = self
            .open(Path::new("/dev/null"), libc::O_PATH | libc::O_NOFOLLOW)
            .ctx(|| "opening /dev/null in the rootfs".into())?;
        let st = sys::fstat(null.as_raw_fd()).ctx(|| "stat /dev/null".into())?;
        if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != libc::makedev(1, 3) {
            return Err(Error::Setup(
                "linux.maskedPaths: /dev/null in the rootfs is not the null device (1:3); refusing to use it as a mask"
                    .into(),
            ));
        }
        for p in paths {
            let p = PathBuf::from(p);
            let fd = match self.open(&p, libc::O_PATH | libc::O_NOFOLLOW) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) => {
                    return Err(Error::Io {
                        what: format!("linux.maskedPaths: resolving {}", p.display()),
                        source: e,
                    })
                }
            };
            let st = sys::fstat(fd.as_raw_fd()).ctx(|| format!("stat {}", p.display()))?;
            let target = sys::fd_path(fd.as_raw_fd());
            if is_dir(&st) {
                sys::mount(Some("tmpfs"), &target, Some("tmpfs"), libc::MS_RDONLY, Some("size=0k"))
                    .ctx(|| format!("linux.maskedPaths: masking directory {}", p.display()))?;
            } else {
                sys::mount(
                    Some(&sys::fd_path(null.as_raw_fd())),
                    &target,
                    None,
                    libc::MS_BIND,
                    None,
                )
                .ctx(|| format!("linux.maskedPaths: masking {}", p.display()))?;
            }
        }
        Ok(())
    }

    /// `linux.readonlyPaths`: bind each onto itself and remount read-only.
    pub fn readonly_paths(&self, spec: &Spec) -> Result<()> {
        for p in spec
            .linux()
            .as_ref()
            .and_then(|l| l.readonly_paths().clone())
            .unwrap_or_default()
        {
            let p = PathBuf::from(p);
            let fd = match self.open(&p, libc::O_PATH | libc::O_NOFOLLOW) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) => {
                    return Err(Error::Io {
                        what: format!("linux.readonlyPaths: resolving {}", p.display()),
                        source: e,
                    })
                }
            };
            let t = sys::fd_path(fd.as_raw_fd());
            sys::mount(Some(&t), &t, None, libc::MS_BIND | libc::MS_REC, None)
                .ctx(|| format!("linux.readonlyPaths: binding {}", p.display()))?;
            self.remount_bind(&p, libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC)
                .or_else(|_| self.remount_bind(&p, libc::MS_RDONLY))?;
        }
        Ok(())
    }

    /// Open the pty multiplexer of the container's devpts, checking it is devpts.
    pub fn open_ptmx(&self) -> Result<OwnedFd> {
        let fd = self
            .open(
                Path::new("/dev/pts/ptmx"),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_NOFOLLOW,
            )
            .ctx(|| "process.terminal: opening /dev/pts/ptmx in the rootfs (is devpts mounted at /dev/pts?)".into())?;
        let st = sys::fstatfs(fd.as_raw_fd()).ctx(|| "statfs /dev/pts/ptmx".into())?;
        if st.f_type as i64 != DEVPTS_SUPER_MAGIC {
            return Err(Error::Setup(
                "process.terminal: /dev/pts/ptmx in the rootfs is not on devpts".into(),
            ));
        }
        Ok(fd)
    }

    /// Bind the pty slave onto /dev/console (a regular file we create, never a
    /// pre-existing node or link the image planted).
    pub fn bind_console(&self, slave: RawFd) -> Result<()> {
        let dev = self.mkdir_all(Path::new("/dev"), 0o755)?;
        let c = sys::cstring(Path::new("console")).ctx(|| "console".into())?;
        // SAFETY: unlinkat on a dirfd with a valid C string; ENOENT is fine.
        unsafe { libc::unlinkat(dev.as_raw_fd(), c.as_ptr(), 0) };
        let f = sys::openat(
            dev.as_raw_fd(),
            Path::new("console"),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDONLY | libc::O_NOFOLLOW,
            0o600,
        )
        .ctx(|| "creating /dev/console".into())?;
        sys::mount(
            Some(&sys::fd_path(slave)),
            &sys::fd_path(f.as_raw_fd()),
            None,
            libc::MS_BIND,
            None,
        )
        .ctx(|| "binding the pty onto /dev/console".into())
    }

    /// Remount the rootfs read-only (`root.readonly`); submounts keep their own flags.
    pub fn make_readonly(&self) -> Result<()> {
        let flags = sys::statvfs_flags(self.fd()).unwrap_or(0)
            & (libc::ST_NOSUID | libc::ST_NODEV | libc::ST_NOEXEC) as libc::c_ulong;
        sys::mount(
            None,
            &sys::fd_path(self.fd()),
            None,
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | flags,
            None,
        )
        .ctx(|| "root.readonly: remounting the rootfs read-only".into())
    }

    /// Switch to the rootfs. With pivot_root the old root is detached entirely (after
    /// making it a slave so the unmount does not propagate to the host); `no_pivot`
    /// (for ramfs roots) moves the mount over / and chroots.
    pub fn enter(self, no_pivot: bool, propagation: Option<&str>) -> Result<()> {
        sys::fchdir(self.fd()).ctx(|| "chdir to rootfs".into())?;
        if no_pivot {
            sys::mount(Some("."), "/", None, libc::MS_MOVE, None).ctx(|| "moving the rootfs to /".into())?;
            sys::chroot(".").ctx(|| "chroot".into())?;
        } else {
            let old_root = sys::open(Path::new("/"), libc::O_DIRECTORY | libc::O_RDONLY, 0)
                .ctx(|| "opening the old root".into())?;
            sys::pivot_root(".", ".").ctx(|| "pivot_root".into())?;
            // The old root is now stacked on the new one; which of the two "." names
            // after pivot_root is not promised by the kernel, so go to the old root by
            // fd. Making "." a slave then touches only the old tree: the container's
            // own mounts keep the propagation the spec gave them.
            sys::fchdir(old_root.as_raw_fd()).ctx(|| "chdir to the old root".into())?;
            sys::mount(None, ".", None, libc::MS_SLAVE | libc::MS_REC, None)
                .ctx(|| "making the old root a slave".into())?;
            sys::umount2(".", libc::MNT_DETACH).ctx(|| "detaching the old root".into())?;
        }
        sys::chdir("/").ctx(|| "chdir /".into())?;
        // Applied to "/" only now that it is the container's root (before pivot it was
        // the host's). Private was already applied recursively in prepare(); repeating
        // it here would wipe the per-mount propagation the spec asked for.
        if let Some(p) = propagation.and_then(mounts::propagation) {
            if p & libc::MS_PRIVATE == 0 {
                sys::mount(None, "/", None, p, None).ctx(|| "linux.rootfsPropagation".into())?;
            }
        }
        Ok(())
    }
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| Error::Setup(format!("path {p:?} is not UTF-8")))
}

fn default_devices() -> Vec<LinuxDevice> {
    [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ]
    .into_iter()
    .map(|(p, ma, mi)| {
        oci_spec::runtime::LinuxDeviceBuilder::default()
            .path(p)
            .typ(LinuxDeviceType::C)
            .major(ma)
            .minor(mi)
            .file_mode(0o666u32)
            .uid(0u32)
            .gid(0u32)
            .build()
            .expect("static device")
    })
    .collect()
}

impl Rootfs {
    /// The current root (after pivot_root, from inside the container), for `exec`.
    pub fn open_current_root() -> Result<Rootfs> {
        let fd = sys::open(Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0).ctx(|| "opening /".into())?;
        Ok(Rootfs {
            path: PathBuf::from("/"),
            fd,
            in_userns: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn at(dir: &Path) -> Rootfs {
        let fd = sys::open(dir, libc::O_PATH | libc::O_DIRECTORY, 0).unwrap();
        Rootfs {
            path: dir.to_path_buf(),
            fd,
            in_userns: false,
        }
    }

    #[test]
    fn mkdir_all_stays_inside_through_hostile_symlinks() {
        let host = tempfile::tempdir().unwrap();
        let root = host.path().join("rootfs");
        std::fs::create_dir(&root).unwrap();
        let outside = host.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        // An absolute link and a relative one that climbs out, both aimed at `outside`.
        symlink(&outside, root.join("abs")).unwrap();
        symlink("../../../../outside", root.join("rel")).unwrap();
        let r = at(&root);
        r.mkdir_all(Path::new("/abs/x/y"), 0o755).unwrap();
        r.mkdir_all(Path::new("/rel/z"), 0o755).unwrap();
        r.mkdir_all(Path::new("/../../escape"), 0o755).unwrap();
        assert_eq!(
            std::fs::read_dir(&outside).unwrap().count(),
            0,
            "a directory was created outside the rootfs"
        );
        assert!(!host.path().join("escape").exists());
        // The link targets were re-rooted: `/abs` → `<root>/<outside path>`.
        assert!(root.join(outside.strip_prefix("/").unwrap()).join("x/y").is_dir());
        assert!(root.join("escape").is_dir());
    }

    #[test]
    fn mkdir_all_refuses_link_loops_and_files() {
        let host = tempfile::tempdir().unwrap();
        symlink("b", host.path().join("a")).unwrap();
        symlink("a", host.path().join("b")).unwrap();
        std::fs::write(host.path().join("f"), b"").unwrap();
        let r = at(host.path());
        let e = r.mkdir_all(Path::new("/a/x"), 0o755).unwrap_err().to_string();
        assert!(e.contains("too many levels"), "{e}");
        let e = r.mkdir_all(Path::new("/f/x"), 0o755).unwrap_err().to_string();
        assert!(e.contains("/f exists and is not a directory"), "{e}");
    }

    #[test]
    fn file_mount_target_refuses_a_directory() {
        let host = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(host.path().join("etc/hosts")).unwrap();
        let r = at(host.path());
        let e = r.ensure_file(Path::new("/etc/hosts")).unwrap_err().to_string();
        assert!(e.contains("expected a file") && e.contains("found a directory"), "{e}");
        r.ensure_file(Path::new("/etc/resolv.conf")).unwrap();
        assert!(host.path().join("etc/resolv.conf").is_file());
    }

    #[test]
    fn masking_refuses_a_dev_null_that_is_not_the_null_device() {
        let host = tempfile::tempdir().unwrap();
        let root = host.path();
        std::fs::create_dir_all(root.join("dev")).unwrap();
        std::fs::create_dir_all(root.join("proc")).unwrap();
        std::fs::write(root.join("proc/kcore"), b"").unwrap();
        // CVE-2025-31133: /dev/null swapped for a link to something the mask would hit.
        symlink("/proc/sys/kernel/core_pattern", root.join("dev/null")).unwrap();
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2", "root": {"path": "rootfs"},
            "linux": {"maskedPaths": ["/proc/kcore"]}
        }))
        .unwrap();
        let e = at(root).mask_paths(&spec).unwrap_err().to_string();
        assert!(e.contains("/dev/null") && e.contains("not the null device"), "{e}");
    }

    #[test]
    fn sysctl_keys_cannot_escape_proc_sys() {
        let host = tempfile::tempdir().unwrap();
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2", "root": {"path": "rootfs"},
            "linux": {"sysctl": {"kernel/../../etc.passwd": "x"}}
        }))
        .unwrap();
        assert!(at(host.path())
            .sysctls(&spec)
            .unwrap_err()
            .to_string()
            .contains("invalid key"));
    }
}
