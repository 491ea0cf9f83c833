//! Mount options: the OCI/fstab option strings → mount(2) flags, propagation flags and
//! the data string passed to the filesystem.

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Options {
    pub flags: libc::c_ulong,
    /// Flags explicitly cleared ("rw", "suid", ...): matters when remounting a bind.
    pub cleared: libc::c_ulong,
    pub propagation: Vec<libc::c_ulong>,
    pub data: Vec<String>,
    pub bind: bool,
    pub recursive: bool,
}

pub fn parse(options: &[String]) -> Options {
    let mut o = Options::default();
    for opt in options {
        let (set, clear): (libc::c_ulong, libc::c_ulong) = match opt.as_str() {
            "ro" => (libc::MS_RDONLY, 0),
            "rw" => (0, libc::MS_RDONLY),
            "nosuid" => (libc::MS_NOSUID, 0),
            "suid" => (0, libc::MS_NOSUID),
            "nodev" => (libc::MS_NODEV, 0),
            "dev" => (0, libc::MS_NODEV),
            "noexec" => (libc::MS_NOEXEC, 0),
            "exec" => (0, libc::MS_NOEXEC),
            "sync" => (libc::MS_SYNCHRONOUS, 0),
            "async" => (0, libc::MS_SYNCHRONOUS),
            "dirsync" => (libc::MS_DIRSYNC, 0),
            "remount" => (libc::MS_REMOUNT, 0),
            "mand" => (libc::MS_MANDLOCK, 0),
            "nomand" => (0, libc::MS_MANDLOCK),
            "atime" => (0, libc::MS_NOATIME),
            "noatime" => (libc::MS_NOATIME, 0),
            "diratime" => (0, libc::MS_NODIRATIME),
            "nodiratime" => (libc::MS_NODIRATIME, 0),
            "relatime" => (libc::MS_RELATIME, 0),
            "norelatime" => (0, libc::MS_RELATIME),
            "strictatime" => (libc::MS_STRICTATIME, 0),
            "nostrictatime" => (0, libc::MS_STRICTATIME),
            "lazytime" => (libc::MS_LAZYTIME, 0),
            "nolazytime" => (0, libc::MS_LAZYTIME),
            "silent" => (libc::MS_SILENT, 0),
            "loud" => (0, libc::MS_SILENT),
            "iversion" => (libc::MS_I_VERSION, 0),
            "noiversion" => (0, libc::MS_I_VERSION),
            "bind" => {
                o.bind = true;
                continue;
            }
            "rbind" => {
                o.bind = true;
                o.recursive = true;
                continue;
            }
            "private" => (o.propagation.push(libc::MS_PRIVATE), (0, 0)).1,
            "rprivate" => (o.propagation.push(libc::MS_PRIVATE | libc::MS_REC), (0, 0)).1,
            "shared" => (o.propagation.push(libc::MS_SHARED), (0, 0)).1,
            "rshared" => (o.propagation.push(libc::MS_SHARED | libc::MS_REC), (0, 0)).1,
            "slave" => (o.propagation.push(libc::MS_SLAVE), (0, 0)).1,
            "rslave" => (o.propagation.push(libc::MS_SLAVE | libc::MS_REC), (0, 0)).1,
            "unbindable" => (o.propagation.push(libc::MS_UNBINDABLE), (0, 0)).1,
            "runbindable" => (o.propagation.push(libc::MS_UNBINDABLE | libc::MS_REC), (0, 0)).1,
            // runc extension; containerd does not send it for the default spec.
            "tmpcopyup" => {
                tracing::warn!("mount option tmpcopyup is not supported; ignored");
                continue;
            }
            other => {
                o.data.push(other.to_string());
                continue;
            }
        };
        o.flags = (o.flags | set) & !clear;
        o.cleared = (o.cleared | clear) & !set;
    }
    o
}

/// Parse a propagation name as used by `linux.rootfsPropagation`.
pub fn propagation(name: &str) -> Option<libc::c_ulong> {
    let o = parse(&[name.to_string()]);
    o.propagation.first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn flags_and_data_are_split() {
        let o = parse(&s(&["nosuid", "strictatime", "mode=755", "size=65536k"]));
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(o.data, s(&["mode=755", "size=65536k"]));
        assert!(!o.bind);
    }

    #[test]
    fn later_options_win() {
        let o = parse(&s(&["ro", "rw", "rbind", "rprivate"]));
        assert_eq!(o.flags & libc::MS_RDONLY, 0);
        assert_ne!(o.cleared & libc::MS_RDONLY, 0);
        assert!(o.bind && o.recursive);
        assert_eq!(o.propagation, vec![libc::MS_PRIVATE | libc::MS_REC]);
    }

    #[test]
    fn rootfs_propagation_names() {
        assert_eq!(propagation("rslave"), Some(libc::MS_SLAVE | libc::MS_REC));
        assert_eq!(propagation("nonsense"), None);
    }
}
