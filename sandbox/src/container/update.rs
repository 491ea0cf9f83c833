//! `update`: change a live container's cgroup resources and remember them.

use oci_spec::runtime::LinuxResources;

use super::Runtime;
use crate::error::{Error, Result};
use crate::state;

pub fn update(rt: &Runtime, id: &str, r: &LinuxResources) -> Result<()> {
    let c = rt.load(id)?;
    let cg = c.cgroup()?;
    for w in cg.unenforced(r) {
        tracing::warn!("update: {w}");
    }
    cg.apply(r)?;
    // Keep the stored config in step so `exec` and a later `events` see the new limits.
    let mut spec = c.spec()?;
    if let Some(linux) = spec.linux_mut() {
        let merged = merge(linux.resources().clone().unwrap_or_default(), r)?;
        linux.set_resources(Some(merged));
    }
    state::write_atomic(
        &c.locked.config_path(),
        &serde_json::to_vec(&spec).expect("spec serializes"),
    )
}

/// Overlay the fields `r` sets onto `base` (JSON-level merge: `r` wins field by field).
fn merge(base: LinuxResources, r: &LinuxResources) -> Result<LinuxResources> {
    let mut b = serde_json::to_value(base).expect("json");
    let o = serde_json::to_value(r).expect("json");
    fn overlay(b: &mut serde_json::Value, o: &serde_json::Value) {
        match (b, o) {
            (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
                for (k, v) in o {
                    overlay(b.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
            (b, o) => *b = o.clone(),
        }
    }
    overlay(&mut b, &o);
    serde_json::from_value(b).map_err(|e| Error::Setup(format!("update: merging resources: {e}")))
}
