//! `events`: cgroup statistics (`--stats` once, else every interval) and OOM
//! notifications, as JSON lines shaped like runc's.

use std::io::Write;
use std::time::Duration;

use super::Runtime;
use crate::error::Result;
use crate::state::Status;

pub fn stats_json(rt: &Runtime, id: &str) -> Result<serde_json::Value> {
    let c = rt.load(id)?;
    let stats = c.cgroup()?.stats()?;
    Ok(serde_json::json!({"type": "stats", "id": id, "data": stats}))
}

/// Stream events until the container stops.
pub fn stream(rt: &Runtime, id: &str, interval: Duration, out: &mut dyn Write) -> Result<()> {
    let mut last_oom = rt.load(id)?.cgroup()?.oom_kill_count().unwrap_or(0);
    loop {
        let c = rt.load(id)?;
        if c.state.status == Status::Stopped {
            return Ok(());
        }
        let cg = c.cgroup()?;
        let oom = cg.oom_kill_count().unwrap_or(last_oom);
        if oom > last_oom {
            let _ = writeln!(out, "{}", serde_json::json!({"type": "oom", "id": id}));
            last_oom = oom;
        }
        let stats = cg.stats()?;
        let _ = writeln!(out, "{}", serde_json::json!({"type": "stats", "id": id, "data": stats}));
        let _ = out.flush();
        drop(c);
        std::thread::sleep(interval);
    }
}
