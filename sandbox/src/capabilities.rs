//! Capabilities: the five sets of `process.capabilities`, applied with the `caps` crate.

use oci_spec::runtime::{Capability as OciCap, LinuxCapabilities};

use crate::error::{Error, Result};
use caps::{CapSet, Capability, CapsHashSet};

fn convert(set: &Option<std::collections::HashSet<OciCap>>) -> CapsHashSet {
    set.iter()
        .flatten()
        .filter_map(|c| format!("CAP_{c}").parse::<Capability>().ok())
        .collect()
}

fn fail(set: &str, e: caps::errors::CapsError) -> Error {
    Error::Setup(format!("process.capabilities.{set}: {e}"))
}

/// Drop the bounding set to what the spec lists. Needs CAP_SETPCAP, so it runs before
/// the user switch.
pub fn drop_bounding(c: &LinuxCapabilities) -> Result<()> {
    let keep = convert(c.bounding());
    for cap in caps::all() {
        if !keep.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap).map_err(|e| fail("bounding", e))?;
        }
    }
    Ok(())
}

/// Set effective, permitted, inheritable and ambient, after the uid switch (done with
/// PR_SET_KEEPCAPS so the permitted set survives it).
pub fn apply(c: &LinuxCapabilities) -> Result<()> {
    let permitted = convert(c.permitted());
    // The kernel requires effective ⊆ permitted; a spec that lists more in effective
    // gets what it can actually have.
    let effective: CapsHashSet = convert(c.effective()).intersection(&permitted).copied().collect();
    let current_permitted = caps::read(None, CapSet::Permitted).map_err(|e| fail("permitted", e))?;
    for cap in &permitted {
        if !current_permitted.contains(cap) {
            return Err(Error::Setup(format!(
                "process.capabilities.permitted: {cap} requested, but the runtime does not hold it (not in its bounding set)"
            )));
        }
    }
    caps::set(None, CapSet::Effective, &effective).map_err(|e| fail("effective", e))?;
    caps::set(None, CapSet::Permitted, &permitted).map_err(|e| fail("permitted", e))?;
    caps::set(None, CapSet::Inheritable, &convert(c.inheritable())).map_err(|e| fail("inheritable", e))?;
    let _ = caps::clear(None, CapSet::Ambient);
    // The kernel only raises an ambient capability that is both permitted and
    // inheritable; like runc, a spec that lists one without the other gets the rest
    // (runc's default spec does exactly that).
    for cap in convert(c.ambient()) {
        if let Err(e) = caps::raise(None, CapSet::Ambient, cap) {
            tracing::debug!("process.capabilities.ambient: {cap} not raised: {e}");
        }
    }
    Ok(())
}
