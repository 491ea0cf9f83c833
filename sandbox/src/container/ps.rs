//! `ps`: the container's processes (host pids), from its cgroup.

use super::Runtime;
use crate::error::Result;

pub fn pids(rt: &Runtime, id: &str) -> Result<Vec<i32>> {
    let c = rt.load(id)?;
    let mut pids = c.cgroup()?.pids()?;
    pids.sort_unstable();
    Ok(pids)
}
