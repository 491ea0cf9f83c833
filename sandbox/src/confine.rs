//! The policy's confinement of a container: what the runtime applies on top of the
//! bundle's own settings to every process of the container (the init and each `exec`):
//! a Landlock ruleset and extra seccomp filters. It is stored in the state directory
//! at create time so that `exec` confines exactly as the init was confined, and its
//! compiled form is hashed into the decision record.

use std::path::Path;

use oci_spec::runtime::LinuxSeccomp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Context, Error, Result};
use crate::landlock::LandlockRules;
use crate::seccomp::CompiledSeccomp;

const FILE: &str = "confinement.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Confinement {
    pub landlock: Option<LandlockRules>,
    /// Filters stacked after the bundle's own, in install order.
    pub seccomp: Vec<LinuxSeccomp>,
}

/// Ready to apply between fork and exec (nothing left to allocate or parse).
pub struct Compiled {
    pub landlock: Option<LandlockRules>,
    pub seccomp: Vec<CompiledSeccomp>,
}

impl Confinement {
    pub fn compile(&self) -> Result<Compiled> {
        let seccomp = self.seccomp.iter().map(CompiledSeccomp::compile).collect::<Result<Vec<_>, _>>()?;
        Ok(Compiled { landlock: self.landlock.clone(), seccomp })
    }

    pub fn save(&self, state_dir: &Path) -> Result<()> {
        crate::state::write_atomic(&state_dir.join(FILE), &serde_json::to_vec(self).expect("serializes"))
    }

    /// The confinement stored at create time; None for a container without a policy.
    pub fn load(state_dir: &Path) -> Result<Option<Confinement>> {
        let p = state_dir.join(FILE);
        match std::fs::read(&p) {
            Ok(d) => serde_json::from_slice(&d)
                .map(Some)
                .map_err(|e| Error::Setup(format!("{}: {e}", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).ctx(|| format!("reading {}", p.display())),
        }
    }
}

impl Compiled {
    /// sha256 over the BPF of every filter that will be installed (bundle's first, then
    /// the policy's), in install order: what the decision record attests.
    pub fn seccomp_sha256(bundle: Option<&CompiledSeccomp>, policy: &[CompiledSeccomp]) -> String {
        let mut h = Sha256::new();
        for s in bundle.into_iter().chain(policy) {
            h.update(s.program_bytes());
        }
        format!("sha256:{:x}", h.finalize())
    }
}
