//! `pause` and `resume`: freeze and thaw the container's cgroup.

use super::Runtime;
use crate::error::Result;
use crate::state::Status;

pub fn pause(rt: &Runtime, id: &str) -> Result<()> {
    let c = rt.load(id)?;
    c.require("pause", &[Status::Running, Status::Created], "running or created")?;
    c.cgroup()?.freeze()?;
    Ok(())
}

pub fn resume(rt: &Runtime, id: &str) -> Result<()> {
    let c = rt.load(id)?;
    c.require("resume", &[Status::Paused], "paused")?;
    c.cgroup()?.thaw()?;
    Ok(())
}
