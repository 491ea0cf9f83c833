//! Resolving `cgroupsPath` and reading the caller's own cgroup from `/proc/self/cgroup`.

use std::path::{Component, Path, PathBuf};

use super::CgroupError;

/// Where a container's cgroup goes, before it is placed in a hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Under the hierarchy root (per controller on v1); stored without the leading `/`.
    Absolute(PathBuf),
    /// Under the caller's own cgroup (per controller on v1).
    Relative(PathBuf),
}

/// Validates the spec's `cgroupsPath` (or the container id when it has none).
pub(crate) fn target(cgroups_path: Option<&Path>, id: &str) -> Result<Target, CgroupError> {
    let given = match cgroups_path {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from(id),
    };
    let text = given.to_string_lossy().into_owned();
    if text.is_empty() {
        return Err(CgroupError::InvalidPath {
            path: text,
            reason: "empty (no cgroupsPath and no container id)".into(),
        });
    }
    // systemd's driver takes "slice:prefix:name"; a cgroupfs path never has that shape.
    if !text.starts_with('/') && text.split(':').count() == 3 {
        return Err(CgroupError::SystemdPath { path: text });
    }
    let mut clean = PathBuf::new();
    for c in given.components() {
        match c {
            Component::Normal(n) => clean.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                return Err(CgroupError::InvalidPath {
                    path: text,
                    reason: "contains a `..` component, which could escape the cgroup root".into(),
                })
            }
            Component::Prefix(_) => unreachable!("no path prefixes on Linux"),
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(CgroupError::InvalidPath {
            path: text,
            reason: "names the cgroup root itself; a container needs its own cgroup".into(),
        });
    }
    if given.is_absolute() {
        Ok(Target::Absolute(clean))
    } else {
        Ok(Target::Relative(clean))
    }
}

/// One line of `/proc/self/cgroup`: `hierarchy-id:controller,list:/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Membership {
    pub controllers: Vec<String>,
    /// The cgroup path relative to the hierarchy's mount, without the leading `/`.
    pub path: PathBuf,
}

pub(crate) fn read_memberships(file: &Path) -> Result<Vec<Membership>, CgroupError> {
    let text = std::fs::read_to_string(file).map_err(|source| CgroupError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(ctrls), Some(p)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CgroupError::ProcSelfCgroup {
                file: file.to_path_buf(),
                reason: format!("line {line:?} is not in the form N:controllers:/path"),
            });
        };
        if !p.starts_with('/') {
            return Err(CgroupError::ProcSelfCgroup {
                file: file.to_path_buf(),
                reason: format!("line {line:?}: expected an absolute cgroup path"),
            });
        }
        out.push(Membership {
            controllers: ctrls.split(',').filter(|c| !c.is_empty()).map(str::to_string).collect(),
            path: PathBuf::from(p.trim_start_matches('/')),
        });
    }
    Ok(out)
}

/// The caller's cgroup in the v1 hierarchy of `controller`, if it is listed.
pub(crate) fn own_v1(memberships: &[Membership], controller: &str) -> Option<PathBuf> {
    memberships
        .iter()
        .find(|m| m.controllers.iter().any(|c| c == controller))
        .map(|m| m.path.clone())
}

/// The caller's cgroup in the unified hierarchy (the `0::/path` line).
pub(crate) fn own_v2(memberships: &[Membership], file: &Path) -> Result<PathBuf, CgroupError> {
    memberships
        .iter()
        .find(|m| m.controllers.is_empty())
        .map(|m| m.path.clone())
        .ok_or_else(|| CgroupError::ProcSelfCgroup {
            file: file.to_path_buf(),
            reason: "no cgroup v2 line (0::/path)".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_relative_and_default() {
        assert_eq!(
            target(Some(Path::new("/default//box1/")), "x").unwrap(),
            Target::Absolute("default/box1".into())
        );
        assert_eq!(
            target(Some(Path::new("pods/./box1")), "x").unwrap(),
            Target::Relative("pods/box1".into())
        );
        assert_eq!(target(None, "box1").unwrap(), Target::Relative("box1".into()));
    }

    #[test]
    fn rejects_dotdot_systemd_and_root() {
        let e = target(Some(Path::new("/default/../../etc")), "x").unwrap_err();
        assert!(e.to_string().contains("`..`"), "{e}");
        let e = target(Some(Path::new("system.slice:sealrun:box1")), "x").unwrap_err();
        assert!(matches!(e, CgroupError::SystemdPath { .. }), "{e}");
        assert!(e.to_string().contains("systemd"), "{e}");
        let e = target(Some(Path::new("/")), "x").unwrap_err();
        assert!(e.to_string().contains("cgroup root"), "{e}");
        assert!(target(None, "").is_err());
    }

    #[test]
    fn parses_proc_self_cgroup() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cgroup");
        std::fs::write(
            &f,
            "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/a/b\n0::/user.slice\n",
        )
        .unwrap();
        let m = read_memberships(&f).unwrap();
        assert_eq!(own_v1(&m, "memory"), Some(PathBuf::from("process_api/abc")));
        assert_eq!(own_v1(&m, "cpuacct"), Some(PathBuf::from("a/b")));
        assert_eq!(own_v1(&m, "pids"), None);
        assert_eq!(own_v2(&m, &f).unwrap(), PathBuf::from("user.slice"));

        std::fs::write(&f, "garbage\n").unwrap();
        let e = read_memberships(&f).unwrap_err();
        assert!(e.to_string().contains("garbage"), "{e}");
        std::fs::write(&f, "4:memory:/x\n").unwrap();
        let m = read_memberships(&f).unwrap();
        assert!(own_v2(&m, &f).unwrap_err().to_string().contains("0::/path"));
    }
}
