//! `[attestation]`: which confidential machines may run the workload, and the
//! appraisal of their (already verified) claims against the policy's allow-lists.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decision::Decision;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// Accept the `dev` TEE (tests and demos only; never in production).
    #[serde(default)]
    pub allow_dev: bool,
    /// TEE kinds accepted. Empty: none (no attestation can succeed).
    #[serde(default)]
    pub tee: Vec<TeeKind>,
    #[serde(default)]
    pub snp: Snp,
    #[serde(default)]
    pub tdx: Tdx,
    #[serde(default)]
    pub gpu: Gpu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TeeKind {
    /// AMD SEV-SNP.
    Snp,
    /// Intel TDX.
    Tdx,
    /// The software-only development TEE.
    Dev,
}

impl TeeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TeeKind::Snp => "snp",
            TeeKind::Tdx => "tdx",
            TeeKind::Dev => "dev",
        }
    }
}

/// SEV-SNP allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Snp {
    /// Launch measurements accepted (48 bytes, hex). Required when `tee` has `snp`.
    #[serde(default)]
    #[schemars(inner(regex(pattern = r"^[0-9a-fA-F]{96}$")))]
    pub measurements: Vec<String>,
    /// Minimum reported TCB, per component.
    #[serde(default)]
    pub min_tcb: SnpTcb,
    /// Required VMPL of the report (0..=3). Unset: any.
    #[serde(default)]
    #[schemars(range(max = 3))]
    pub vmpl: Option<u8>,
    #[serde(default)]
    pub allow_debug: bool,
    #[serde(default)]
    pub allow_migration_agent: bool,
    /// Required HOST_DATA (32 bytes, hex). Unset: any.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[0-9a-fA-F]{64}$"))]
    pub host_data: Option<String>,
}

/// SEV-SNP TCB version components (SVNs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnpTcb {
    #[serde(default)]
    pub bootloader: u8,
    #[serde(default)]
    pub tee: u8,
    #[serde(default)]
    pub snp: u8,
    #[serde(default)]
    pub microcode: u8,
}

/// TDX allow-list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tdx {
    /// MRTD values accepted (48 bytes, hex). Required when `tee` has `tdx`.
    #[serde(default)]
    #[schemars(inner(regex(pattern = r"^[0-9a-fA-F]{96}$")))]
    pub mrtd: Vec<String>,
    /// Accepted values of each RTMR (48 bytes, hex). Empty: not constrained.
    #[serde(default)]
    pub rtmr0: Vec<String>,
    #[serde(default)]
    pub rtmr1: Vec<String>,
    #[serde(default)]
    pub rtmr2: Vec<String>,
    #[serde(default)]
    pub rtmr3: Vec<String>,
    /// Required MRCONFIGID (48 bytes, hex). Unset: any.
    #[serde(default)]
    pub mr_config_id: Option<String>,
    /// TCB statuses accepted from quote verification (default: UpToDate only).
    #[serde(default = "default_tcb_status")]
    pub allowed_tcb_status: Vec<TcbStatus>,
    /// Intel security advisory IDs (INTEL-SA-NNNNN) that may be outstanding.
    #[serde(default)]
    pub allowed_advisories: Vec<String>,
    /// Accept a TD with the DEBUG attribute (its memory is readable by the host).
    #[serde(default)]
    pub allow_debug: bool,
}

fn default_tcb_status() -> Vec<TcbStatus> {
    vec![TcbStatus::UpToDate]
}

impl Default for Tdx {
    fn default() -> Self {
        Tdx {
            mrtd: Vec::new(),
            rtmr0: Vec::new(),
            rtmr1: Vec::new(),
            rtmr2: Vec::new(),
            rtmr3: Vec::new(),
            mr_config_id: None,
            allowed_tcb_status: default_tcb_status(),
            allowed_advisories: Vec::new(),
            allow_debug: false,
        }
    }
}

/// Intel's TCB status values. `Revoked` cannot be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum TcbStatus {
    UpToDate,
    SWHardeningNeeded,
    ConfigurationNeeded,
    ConfigurationAndSWHardeningNeeded,
    OutOfDate,
    OutOfDateConfigurationNeeded,
    Revoked,
}

impl TcbStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TcbStatus::UpToDate => "UpToDate",
            TcbStatus::SWHardeningNeeded => "SWHardeningNeeded",
            TcbStatus::ConfigurationNeeded => "ConfigurationNeeded",
            TcbStatus::ConfigurationAndSWHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            TcbStatus::OutOfDate => "OutOfDate",
            TcbStatus::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            TcbStatus::Revoked => "Revoked",
        }
    }
}

/// NVIDIA GPU requirements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gpu {
    /// Minimum number of attested GPUs.
    #[serde(default)]
    pub count: u32,
    /// Require verified GPU evidence (in confidential-computing mode).
    #[serde(default)]
    pub require_evidence: bool,
}

/// What a verified SEV-SNP report says, as the appraisal needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnpClaims {
    /// MEASUREMENT, hex.
    pub measurement: String,
    pub vmpl: u8,
    /// The guest policy's DEBUG bit.
    pub debug: bool,
    /// The guest policy's MIGRATE_MA bit.
    pub migration_agent: bool,
    /// HOST_DATA, hex.
    pub host_data: String,
    /// REPORTED_TCB.
    pub reported_tcb: SnpTcb,
}

/// What a verified TDX quote says, as the appraisal needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TdxClaims {
    pub mrtd: String,
    pub rtmr: [String; 4],
    pub mr_config_id: String,
    /// The TD attributes' DEBUG bit.
    pub debug: bool,
    /// TCB status from quote verification, e.g. "UpToDate".
    pub tcb_status: String,
    /// Advisory IDs reported by quote verification.
    pub advisories: Vec<String>,
}

fn hex_in(list: &[String], value: &str) -> bool {
    list.iter().any(|m| m.eq_ignore_ascii_case(value.trim()))
}

fn list_text(list: &[String]) -> String {
    format!("one of [{}]", list.join(", "))
}

impl Attestation {
    fn check_kind(&self, d: &mut Decision, kind: TeeKind) {
        let kinds: Vec<&str> = self.tee.iter().map(|k| k.as_str()).collect();
        d.check(
            "attestation.tee",
            self.tee.contains(&kind),
            format!("one of [{}]", kinds.join(", ")),
            kind.as_str(),
        );
    }

    /// Whether `kind` is accepted at all (for `dev`, also `allow_dev`).
    pub fn accepts_tee(&self, kind: TeeKind) -> Decision {
        let mut d = Decision::new();
        self.check_kind(&mut d, kind);
        if kind == TeeKind::Dev {
            d.check(
                "attestation.allow_dev",
                self.allow_dev,
                "true",
                self.allow_dev.to_string(),
            );
        }
        d
    }

    /// Appraises verified SEV-SNP claims; every rule is listed in the decision.
    pub fn appraise_snp(&self, c: &SnpClaims) -> Decision {
        let p = &self.snp;
        let mut d = Decision::new();
        self.check_kind(&mut d, TeeKind::Snp);
        d.check(
            "attestation.snp.measurements",
            hex_in(&p.measurements, &c.measurement),
            list_text(&p.measurements),
            c.measurement.clone(),
        );
        match p.vmpl {
            Some(v) => d.check("attestation.snp.vmpl", c.vmpl == v, v.to_string(), c.vmpl.to_string()),
            None => d.check("attestation.snp.vmpl", true, "any", c.vmpl.to_string()),
        }
        d.check(
            "attestation.snp.allow_debug",
            p.allow_debug || !c.debug,
            if p.allow_debug { "debug allowed" } else { "debug off" },
            if c.debug { "debug on" } else { "debug off" },
        );
        d.check(
            "attestation.snp.allow_migration_agent",
            p.allow_migration_agent || !c.migration_agent,
            if p.allow_migration_agent {
                "migration agent allowed"
            } else {
                "no migration agent"
            },
            if c.migration_agent {
                "migration agent"
            } else {
                "no migration agent"
            },
        );
        match &p.host_data {
            Some(h) => d.check(
                "attestation.snp.host_data",
                h.eq_ignore_ascii_case(c.host_data.trim()),
                h.clone(),
                c.host_data.clone(),
            ),
            None => d.check("attestation.snp.host_data", true, "any", c.host_data.clone()),
        }
        let min = p.min_tcb;
        let got = c.reported_tcb;
        for (name, want, have) in [
            ("bootloader", min.bootloader, got.bootloader),
            ("tee", min.tee, got.tee),
            ("snp", min.snp, got.snp),
            ("microcode", min.microcode, got.microcode),
        ] {
            d.check(
                &format!("attestation.snp.min_tcb.{name}"),
                have >= want,
                format!(">= {want}"),
                have.to_string(),
            );
        }
        d
    }

    /// Appraises verified TDX claims; every rule is listed in the decision.
    pub fn appraise_tdx(&self, c: &TdxClaims) -> Decision {
        let p = &self.tdx;
        let mut d = Decision::new();
        self.check_kind(&mut d, TeeKind::Tdx);
        d.check(
            "attestation.tdx.mrtd",
            hex_in(&p.mrtd, &c.mrtd),
            list_text(&p.mrtd),
            c.mrtd.clone(),
        );
        for (i, list) in [&p.rtmr0, &p.rtmr1, &p.rtmr2, &p.rtmr3].into_iter().enumerate() {
            let rule = format!("attestation.tdx.rtmr{i}");
            if list.is_empty() {
                d.check(&rule, true, "any", c.rtmr[i].clone());
            } else {
                d.check(&rule, hex_in(list, &c.rtmr[i]), list_text(list), c.rtmr[i].clone());
            }
        }
        match &p.mr_config_id {
            Some(m) => d.check(
                "attestation.tdx.mr_config_id",
                m.eq_ignore_ascii_case(c.mr_config_id.trim()),
                m.clone(),
                c.mr_config_id.clone(),
            ),
            None => d.check("attestation.tdx.mr_config_id", true, "any", c.mr_config_id.clone()),
        }
        d.check(
            "attestation.tdx.allow_debug",
            p.allow_debug || !c.debug,
            if p.allow_debug { "debug allowed" } else { "debug off" },
            if c.debug { "debug on" } else { "debug off" },
        );
        let statuses: Vec<&str> = p.allowed_tcb_status.iter().map(|s| s.as_str()).collect();
        d.check(
            "attestation.tdx.allowed_tcb_status",
            statuses.iter().any(|s| *s == c.tcb_status),
            format!("one of [{}]", statuses.join(", ")),
            c.tcb_status.clone(),
        );
        let outstanding: Vec<&String> = c
            .advisories
            .iter()
            .filter(|a| !p.allowed_advisories.iter().any(|x| x.eq_ignore_ascii_case(a)))
            .collect();
        d.check(
            "attestation.tdx.allowed_advisories",
            outstanding.is_empty(),
            list_text(&p.allowed_advisories).replacen("one of", "only advisories in", 1),
            if c.advisories.is_empty() {
                "none".to_string()
            } else {
                format!(
                    "[{}]{}",
                    c.advisories.join(", "),
                    if outstanding.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (not allowed: {})",
                            outstanding.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                        )
                    }
                )
            },
        );
        d
    }

    /// Appraises GPU evidence: how many GPUs were attested and whether their evidence verified.
    pub fn appraise_gpu(&self, attested_gpus: u32, evidence_verified: bool) -> Decision {
        let mut d = Decision::new();
        d.check(
            "attestation.gpu.count",
            attested_gpus >= self.gpu.count,
            format!(">= {}", self.gpu.count),
            attested_gpus.to_string(),
        );
        d.check(
            "attestation.gpu.require_evidence",
            !self.gpu.require_evidence || evidence_verified,
            if self.gpu.require_evidence {
                "verified GPU evidence"
            } else {
                "not required"
            },
            if evidence_verified { "verified" } else { "none" },
        );
        d
    }
}
