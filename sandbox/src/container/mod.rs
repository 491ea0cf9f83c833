//! Container operations, one file per verb (as youki's `container_*.rs`), over a
//! [`Runtime`] (the state root and global options) and a locked [`Container`].

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod kill;
pub mod pause;
pub mod ps;
pub mod start;
pub mod update;

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::cgroups::{self, Cgroup, CgroupConfig};
use crate::error::{Error, Result};
use crate::state::{Locked, State, Status, Store};
use crate::sys;

pub struct Runtime {
    pub store: Store,
    /// `--systemd-cgroup`: the systemd cgroup driver. Refused at create time where
    /// systemd is absent; not implemented yet where it is present.
    pub systemd_cgroup: bool,
}

impl Runtime {
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime {
            store: Store::new(root),
            systemd_cgroup: false,
        }
    }

    /// Lock and load a container, with its status brought up to date.
    pub fn load(&self, id: &str) -> Result<Container> {
        let locked = self.store.open(id)?;
        let state = locked.load()?;
        let mut c = Container { locked, state };
        c.refresh();
        Ok(c)
    }
}

pub struct Container {
    pub locked: Locked,
    pub state: State,
}

/// Is `pid` still the process we started (not exited, not a zombie, not recycled)?
pub fn alive(pid: i32, start_time: u64) -> bool {
    pid > 0
        && sys::process_start_time(pid) == Some(start_time)
        && !matches!(sys::process_state(pid), Some('Z') | Some('X') | None)
}

impl Container {
    pub fn id(&self) -> &str {
        &self.state.id
    }

    pub fn init_alive(&self) -> bool {
        alive(self.state.pid, self.state.private.init_start_time)
    }

    /// Derive the status from the world: a dead init means stopped; a live one waiting
    /// on the exec fifo is created; a frozen cgroup is paused.
    pub fn refresh(&mut self) {
        if self.state.status == Status::Creating {
            return;
        }
        let alive = alive(self.state.pid, self.state.private.init_start_time);
        self.state.status = if !alive {
            Status::Stopped
        } else if self.locked.fifo().exists() {
            Status::Created
        } else if self.cgroup().ok().and_then(|c| c.is_frozen().ok()).unwrap_or(false) {
            Status::Paused
        } else {
            Status::Running
        };
    }

    /// The config as it was at create time (and after `update`).
    pub fn spec(&self) -> Result<Spec> {
        let p = self.locked.config_path();
        let data = std::fs::read(&p).map_err(|e| Error::Io {
            what: format!("reading {}", p.display()),
            source: e,
        })?;
        serde_json::from_slice(&data).map_err(|e| Error::Setup(format!("{}: {e}", p.display())))
    }

    pub fn cgroup(&self) -> Result<Box<dyn Cgroup>> {
        let cfg = CgroupConfig::new(self.state.private.cgroups_path.clone(), &self.state.id);
        Ok(cgroups::open(&cfg)?)
    }

    pub fn require(&self, op: &'static str, allowed: &[Status], expected: &'static str) -> Result<()> {
        if allowed.contains(&self.state.status) {
            Ok(())
        } else {
            Err(Error::InvalidState {
                id: self.state.id.clone(),
                status: self.state.status.to_string(),
                op,
                expected,
            })
        }
    }

    pub fn dir(&self) -> &Path {
        &self.locked.dir
    }
}
