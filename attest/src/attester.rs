//! Attester backends: collect evidence on a real machine (configfs-tsm, /dev/sev-guest,
//! /dev/tdx_guest) and the dev TEE.
//!
//! [`detect`] never falls back to the dev TEE: a machine without a TEE is an error, and
//! the dev TEE is only used when asked for by name.
//!
//! # Evidence envelope
//! Evidence travels (CLI output, broker requests) as one JSON object:
//! ```json
//! {"tee": "snp" | "tdx" | "dev", "report": "<base64>", "vcek": "<base64>", "chain": "<base64>", "collateral": "<base64>"}
//! ```
//! `report` is the raw report (SNP: the 1184-byte report; TDX: the quote; dev: the JSON
//! report's bytes). `vcek` (SNP only, optional) is the VCEK/VLEK certificate, DER;
//! `chain` (SNP only, optional) is PEM text: ASK or ASVK, then ARK. `collateral` (TDX
//! only, optional) is the quote's collateral JSON when the attester has it; attesters on a
//! guest leave it out and the verifier supplies its own. Base64 is the
//! standard alphabet with padding. Absent optional fields are omitted; unknown fields
//! are refused.

use std::fs;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::evidence::dev::{dev_report, DevEvidence};
use crate::evidence::snp::{SnpEvidence, REPORT_LEN};
use crate::evidence::{tdx, Evidence};

/// Where configfs-tsm exposes report entries.
pub const TSM_REPORT_ROOT: &str = "/sys/kernel/config/tsm/report";
/// The SEV-SNP guest device.
pub const SEV_GUEST_DEVICE: &str = "/dev/sev-guest";
/// The TDX guest device.
pub const TDX_GUEST_DEVICE: &str = "/dev/tdx_guest";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tee {
    Snp,
    Tdx,
    Dev,
}

impl Tee {
    pub fn as_str(self) -> &'static str {
        match self {
            Tee::Snp => "snp",
            Tee::Tdx => "tdx",
            Tee::Dev => "dev",
        }
    }

    /// The configfs-tsm provider name of this TEE.
    fn tsm_provider(self) -> Option<&'static str> {
        match self {
            Tee::Snp => Some("sev_guest"),
            Tee::Tdx => Some("tdx_guest"),
            Tee::Dev => None,
        }
    }
}

impl std::str::FromStr for Tee {
    type Err = AttesterError;
    fn from_str(s: &str) -> Result<Tee, AttesterError> {
        match s {
            "snp" => Ok(Tee::Snp),
            "tdx" => Ok(Tee::Tdx),
            "dev" => Ok(Tee::Dev),
            other => Err(AttesterError::UnknownTee(other.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AttesterError {
    #[error("no TEE found: checked {tsm}, {sev}, {tdx}")]
    NoTee { tsm: String, sev: String, tdx: String },
    #[error("unknown TEE {0:?}: expected snp, tdx or dev")]
    UnknownTee(String),
    #[error("{tee} evidence: no configfs-tsm provider at {tsm} and cannot open {device}: {source}")]
    Device {
        tee: &'static str,
        tsm: String,
        device: String,
        source: std::io::Error,
    },
    #[error("{tee} evidence: collecting through {device} is not supported; use configfs-tsm ({tsm})")]
    Unsupported {
        tee: &'static str,
        device: String,
        tsm: String,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configfs-tsm {path}: provider is {found:?}, expected {expected:?}")]
    Provider {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("configfs-tsm {path}: generation changed from {before} to {after} while reading: another writer raced this report")]
    Race {
        path: PathBuf,
        before: String,
        after: String,
    },
    #[error("{what}: expected {expected}, found {found}")]
    Malformed {
        what: String,
        expected: String,
        found: String,
    },
    #[error("{device} SNP_GET_REPORT failed: {source} (firmware error {fw_error:#x}, vmm error {vmm_error:#x})")]
    Ioctl {
        device: String,
        source: std::io::Error,
        fw_error: u32,
        vmm_error: u32,
    },
    #[error("evidence envelope: {0}")]
    Envelope(String),
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> AttesterError + 'a {
    move |source| AttesterError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Finds this machine's TEE: configfs-tsm (its provider says which), then the guest
/// devices. Never the dev TEE.
pub fn detect() -> Result<Tee, AttesterError> {
    detect_with(
        Path::new(TSM_REPORT_ROOT),
        Path::new(SEV_GUEST_DEVICE),
        Path::new(TDX_GUEST_DEVICE),
    )
}

/// [`detect`] with the paths injectable (tests).
pub fn detect_with(tsm_root: &Path, sev_device: &Path, tdx_device: &Path) -> Result<Tee, AttesterError> {
    if tsm_root.is_dir() {
        // The provider is only visible inside an entry.
        let entry = TsmEntry::create(tsm_root)?;
        let provider = entry.read_text("provider")?;
        match provider.as_str() {
            "sev_guest" => return Ok(Tee::Snp),
            "tdx_guest" => return Ok(Tee::Tdx),
            other => tracing::warn!(
                provider = other,
                "unknown configfs-tsm provider; trying the guest devices"
            ),
        }
    }
    if sev_device.exists() {
        return Ok(Tee::Snp);
    }
    if tdx_device.exists() {
        return Ok(Tee::Tdx);
    }
    Err(AttesterError::NoTee {
        tsm: tsm_root.display().to_string(),
        sev: sev_device.display().to_string(),
        tdx: tdx_device.display().to_string(),
    })
}

/// Collects evidence binding `report_data` from `tee`.
pub fn collect(tee: Tee, report_data: &[u8; 64]) -> Result<Evidence, AttesterError> {
    collect_with(
        Path::new(TSM_REPORT_ROOT),
        Path::new(SEV_GUEST_DEVICE),
        Path::new(TDX_GUEST_DEVICE),
        tee,
        report_data,
    )
}

/// [`collect`] with the paths injectable (tests).
pub fn collect_with(
    tsm_root: &Path,
    sev_device: &Path,
    tdx_device: &Path,
    tee: Tee,
    report_data: &[u8; 64],
) -> Result<Evidence, AttesterError> {
    let Some(provider) = tee.tsm_provider() else {
        return Ok(Evidence::Dev(DevEvidence {
            report: dev_report(report_data),
        }));
    };
    if tsm_root.is_dir() {
        let out = tsm_report(tsm_root, provider, report_data)?;
        return evidence_from_tsm(tee, out);
    }
    match tee {
        Tee::Snp => {
            let report = snp_get_report(sev_device, report_data).map_err(|e| match e {
                AttesterError::Io { source, .. } => AttesterError::Device {
                    tee: "snp",
                    tsm: tsm_root.display().to_string(),
                    device: sev_device.display().to_string(),
                    source,
                },
                other => other,
            })?;
            Ok(Evidence::Snp(SnpEvidence {
                report,
                vcek: None,
                chain: None,
            }))
        }
        _ => {
            // A TDX quote needs the host's quoting service; only configfs-tsm reaches it.
            if let Err(source) = fs::metadata(tdx_device) {
                return Err(AttesterError::Device {
                    tee: "tdx",
                    tsm: tsm_root.display().to_string(),
                    device: tdx_device.display().to_string(),
                    source,
                });
            }
            Err(AttesterError::Unsupported {
                tee: "tdx",
                device: tdx_device.display().to_string(),
                tsm: tsm_root.display().to_string(),
            })
        }
    }
}

/// What a configfs-tsm report entry returned.
#[derive(Debug, Clone)]
pub struct TsmOutput {
    pub provider: String,
    pub outblob: Vec<u8>,
    /// Provider-specific; for SNP the host's certificate table (may be empty).
    pub auxblob: Vec<u8>,
}

/// A configfs-tsm report entry, removed on drop.
struct TsmEntry {
    path: PathBuf,
}

static ENTRY_SEQ: AtomicU64 = AtomicU64::new(0);

impl TsmEntry {
    fn create(root: &Path) -> Result<TsmEntry, AttesterError> {
        let name = format!(
            "sealrun-{}-{}",
            std::process::id(),
            ENTRY_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let path = root.join(name);
        fs::create_dir(&path).map_err(io("creating configfs-tsm entry", &path))?;
        Ok(TsmEntry { path })
    }

    fn read(&self, attr: &str) -> Result<Vec<u8>, AttesterError> {
        let p = self.path.join(attr);
        let mut buf = Vec::new();
        fs::File::open(&p)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .map_err(io("reading", &p))?;
        Ok(buf)
    }

    fn read_text(&self, attr: &str) -> Result<String, AttesterError> {
        Ok(String::from_utf8_lossy(&self.read(attr)?).trim().to_string())
    }
}

impl Drop for TsmEntry {
    fn drop(&mut self) {
        // configfs removes the attributes with the directory.
        if let Err(e) = fs::remove_dir(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove configfs-tsm entry");
        }
    }
}

/// One report through configfs-tsm: mkdir an entry under `root`, write `inblob`, read
/// `outblob`, `auxblob` and `provider`, check `generation` around the reads, rmdir.
pub fn tsm_report(root: &Path, expected_provider: &str, inblob: &[u8; 64]) -> Result<TsmOutput, AttesterError> {
    let entry = TsmEntry::create(root)?;
    tsm_report_in(&entry.path, expected_provider, inblob)
}

/// The reads and writes of [`tsm_report`] on an existing entry directory (tests drive
/// this against a fake entry).
pub fn tsm_report_in(entry: &Path, expected_provider: &str, inblob: &[u8; 64]) -> Result<TsmOutput, AttesterError> {
    let e = TsmEntry {
        path: entry.to_path_buf(),
    };
    // Not ours to remove when driven on an existing directory.
    let e = std::mem::ManuallyDrop::new(e);
    let provider = e.read_text("provider")?;
    if provider != expected_provider {
        return Err(AttesterError::Provider {
            path: entry.join("provider"),
            expected: expected_provider.to_string(),
            found: provider,
        });
    }
    let inblob_path = entry.join("inblob");
    fs::write(&inblob_path, inblob).map_err(io("writing", &inblob_path))?;
    // Every write to the entry bumps `generation`; if it moves while we read, another
    // process wrote to the same entry and the outblob may not bind our inblob.
    let before = e.read_text("generation")?;
    let outblob = e.read("outblob")?;
    let auxblob = match e.read("auxblob") {
        Ok(b) => b,
        Err(AttesterError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => Vec::new(),
        Err(other) => return Err(other),
    };
    let after = e.read_text("generation")?;
    if before != after {
        return Err(AttesterError::Race {
            path: entry.join("generation"),
            before,
            after,
        });
    }
    Ok(TsmOutput {
        provider,
        outblob,
        auxblob,
    })
}

fn evidence_from_tsm(tee: Tee, out: TsmOutput) -> Result<Evidence, AttesterError> {
    match tee {
        Tee::Snp => {
            if out.outblob.len() != REPORT_LEN {
                return Err(AttesterError::Malformed {
                    what: "configfs-tsm sev_guest outblob".into(),
                    expected: format!("{REPORT_LEN} bytes"),
                    found: format!("{} bytes", out.outblob.len()),
                });
            }
            let certs = parse_snp_cert_table(&out.auxblob)?;
            let chain = certs.chain_pem();
            Ok(Evidence::Snp(SnpEvidence {
                report: out.outblob,
                vcek: certs.vek,
                chain,
            }))
        }
        // The collateral (PCK CRLs, TCB info, QE identity) comes from Intel's PCS or a
        // cache on the verifier's side, not from the guest.
        Tee::Tdx => Ok(Evidence::Tdx(tdx::TdxEvidence {
            quote: out.outblob,
            collateral: Vec::new(),
        })),
        Tee::Dev => unreachable!("the dev TEE has no configfs-tsm provider"),
    }
}

/// Certificates from the SNP host's certificate table (auxblob / extended report).
#[derive(Debug, Clone, Default)]
pub struct SnpCerts {
    pub ark: Option<Vec<u8>>,
    pub ask: Option<Vec<u8>>,
    /// VCEK or VLEK, DER.
    pub vek: Option<Vec<u8>>,
}

impl SnpCerts {
    /// ASK (or ASVK), then ARK, as PEM; `None` when neither is present.
    pub fn chain_pem(&self) -> Option<Vec<u8>> {
        let mut pem = String::new();
        for der in [&self.ask, &self.ark].into_iter().flatten() {
            pem.push_str(&der_to_pem(der));
        }
        (!pem.is_empty()).then(|| pem.into_bytes())
    }
}

fn der_to_pem(der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// GUIDs of the GHCB certificate table (GHCB spec, "SNP Extended Guest Request"), in
/// RFC 4122 byte order as the kernel passes them through.
const GUID_ARK: &str = "c0b406a4-a803-4952-9743-3fb6014cd0ae";
const GUID_ASK: &str = "4ab7b379-bbac-4fe4-a02f-05aef327c782";
const GUID_VCEK: &str = "63da758d-e664-4564-adc5-f4b93be8accd";
const GUID_VLEK: &str = "a8074bc2-a25a-483e-aae6-39c045a0b8a1";

fn guid_bytes(s: &str) -> [u8; 16] {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    let v = hex::decode(hex).expect("a constant GUID");
    v.try_into().expect("16 bytes")
}

/// Parses the SNP certificate table: entries of {guid[16], offset u32 LE, length u32 LE},
/// ended by an all-zero entry; offsets are from the start of the table.
pub fn parse_snp_cert_table(table: &[u8]) -> Result<SnpCerts, AttesterError> {
    let mut certs = SnpCerts::default();
    if table.is_empty() {
        return Ok(certs);
    }
    let malformed = |expected: String, found: String| AttesterError::Malformed {
        what: "SNP certificate table".into(),
        expected,
        found,
    };
    let (ark, ask, vcek, vlek) = (
        guid_bytes(GUID_ARK),
        guid_bytes(GUID_ASK),
        guid_bytes(GUID_VCEK),
        guid_bytes(GUID_VLEK),
    );
    let mut vlek_der = None;
    let mut i = 0usize;
    loop {
        let Some(entry) = table.get(i * 24..i * 24 + 24) else {
            return Err(malformed(
                "an all-zero terminating entry".into(),
                format!("end of table after {i} entries"),
            ));
        };
        let guid: [u8; 16] = entry[..16].try_into().expect("16 bytes");
        if guid == [0; 16] {
            break;
        }
        let offset = u32::from_le_bytes(entry[16..20].try_into().expect("4 bytes")) as usize;
        let length = u32::from_le_bytes(entry[20..24].try_into().expect("4 bytes")) as usize;
        let data = offset
            .checked_add(length)
            .and_then(|end| table.get(offset..end))
            .ok_or_else(|| {
                malformed(
                    format!("entry {i} inside the table ({} bytes)", table.len()),
                    format!("offset {offset}, length {length}"),
                )
            })?
            .to_vec();
        let slot = if guid == ark {
            &mut certs.ark
        } else if guid == ask {
            &mut certs.ask
        } else if guid == vcek {
            &mut certs.vek
        } else if guid == vlek {
            &mut vlek_der
        } else {
            i += 1;
            continue; // e.g. a CRL: not needed for verification here
        };
        if slot.is_some() {
            return Err(malformed(
                format!("one entry per GUID (entry {i})"),
                "a duplicate".into(),
            ));
        }
        *slot = Some(data);
        i += 1;
    }
    // A host with a VLEK signs reports with it: prefer it, as the `sev` crate does.
    if vlek_der.is_some() {
        certs.vek = vlek_der;
    }
    Ok(certs)
}

/// The 64 bytes of report data for a nonce: the nonce itself when it is exactly 64 bytes,
/// otherwise its SHA-512, so that any nonce binds into the report.
pub fn report_data_from_nonce(nonce: &[u8]) -> [u8; 64] {
    use sha2::{Digest, Sha512};
    match <[u8; 64]>::try_from(nonce) {
        Ok(rd) => rd,
        Err(_) => Sha512::digest(nonce).into(),
    }
}

/// Parses report data given as hex: exactly 128 hex digits (64 bytes).
pub fn report_data_from_hex(s: &str) -> Result<[u8; 64], AttesterError> {
    let s = s.trim();
    let bad = || AttesterError::Malformed {
        what: "report data".into(),
        expected: "128 hex digits (64 bytes)".into(),
        found: format!("{} characters", s.len()),
    };
    hex::decode(s).map_err(|_| bad())?.try_into().map_err(|_| bad())
}

// ---- /dev/sev-guest (include/uapi/linux/sev-guest.h) ----

/// `struct snp_report_req`.
#[repr(C)]
struct SnpReportReq {
    user_data: [u8; 64],
    vmpl: u32,
    rsvd: [u8; 28],
}

/// `struct snp_report_resp`: the firmware's MSG_REPORT_RSP.
#[repr(C)]
struct SnpReportResp {
    data: [u8; 4000],
}

/// `struct snp_guest_request_ioctl`; `exitinfo2` is a union of it and {fw_error, vmm_error}.
#[repr(C)]
struct SnpGuestRequestIoctl {
    msg_version: u8,
    req_data: u64,
    resp_data: u64,
    exitinfo2: u64,
}

/// `_IOWR('S', 0x0, struct snp_guest_request_ioctl)`.
const SNP_GET_REPORT: libc::c_ulong =
    (3 << 30) | ((std::mem::size_of::<SnpGuestRequestIoctl>() as libc::c_ulong) << 16) | ((b'S' as libc::c_ulong) << 8);

/// SNP_GET_REPORT on the guest device at VMPL 0. The report comes without certificates:
/// the verifier then needs the VCEK from elsewhere (configfs-tsm's auxblob has it).
pub fn snp_get_report(device: &Path, report_data: &[u8; 64]) -> Result<Vec<u8>, AttesterError> {
    use std::os::fd::AsRawFd;
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(device)
        .map_err(io("opening", device))?;
    let req = SnpReportReq {
        user_data: *report_data,
        vmpl: 0,
        rsvd: [0; 28],
    };
    let mut resp = SnpReportResp { data: [0; 4000] };
    let mut arg = SnpGuestRequestIoctl {
        msg_version: 1,
        req_data: &req as *const SnpReportReq as u64,
        resp_data: &mut resp as *mut SnpReportResp as u64,
        exitinfo2: 0,
    };
    // SAFETY: `file` is an open descriptor; `arg` matches the kernel's
    // struct snp_guest_request_ioctl and points at `req` and `resp`, which match
    // snp_report_req / snp_report_resp and outlive the call. The kernel writes only
    // within `resp` and `arg`.
    let rc = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            SNP_GET_REPORT as _,
            &mut arg as *mut SnpGuestRequestIoctl,
        )
    };
    if rc < 0 {
        return Err(AttesterError::Ioctl {
            device: device.display().to_string(),
            source: std::io::Error::last_os_error(),
            fw_error: arg.exitinfo2 as u32,
            vmm_error: (arg.exitinfo2 >> 32) as u32,
        });
    }
    // MSG_REPORT_RSP: status u32, report_size u32, reserved[24], report.
    let status = u32::from_le_bytes(resp.data[0..4].try_into().expect("4 bytes"));
    let size = u32::from_le_bytes(resp.data[4..8].try_into().expect("4 bytes")) as usize;
    if status != 0 || size != REPORT_LEN {
        return Err(AttesterError::Malformed {
            what: format!("{} MSG_REPORT_RSP", device.display()),
            expected: format!("status 0, report_size {REPORT_LEN}"),
            found: format!("status {status:#x}, report_size {size}"),
        });
    }
    Ok(resp.data[32..32 + REPORT_LEN].to_vec())
}

// ---- the evidence envelope ----

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    tee: String,
    report: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vcek: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    collateral: Option<String>,
}

impl Evidence {
    /// The evidence envelope (see the module documentation).
    pub fn to_envelope_json(&self) -> Result<serde_json::Value, AttesterError> {
        let env = match self {
            Evidence::Snp(e) => Envelope {
                tee: "snp".into(),
                report: B64.encode(&e.report),
                vcek: e.vcek.as_ref().map(|v| B64.encode(v)),
                chain: e.chain.as_ref().map(|v| B64.encode(v)),
                collateral: None,
            },
            Evidence::Dev(e) => Envelope {
                tee: "dev".into(),
                report: B64.encode(&e.report),
                vcek: None,
                chain: None,
                collateral: None,
            },
            Evidence::Tdx(e) => Envelope {
                tee: "tdx".into(),
                report: B64.encode(&e.quote),
                vcek: None,
                chain: None,
                collateral: (!e.collateral.is_empty()).then(|| B64.encode(&e.collateral)),
            },
            Evidence::Nvidia(_) => {
                return Err(AttesterError::Envelope(
                    "nvidia evidence travels beside the CPU evidence, not in this envelope".into(),
                ))
            }
        };
        serde_json::to_value(env).map_err(|e| AttesterError::Envelope(e.to_string()))
    }

    /// Parses an evidence envelope (see the module documentation).
    pub fn from_envelope_json(v: &serde_json::Value) -> Result<Evidence, AttesterError> {
        let env: Envelope = serde_json::from_value(v.clone()).map_err(|e| AttesterError::Envelope(e.to_string()))?;
        let b64 = |field: &str, s: &str| {
            B64.decode(s)
                .map_err(|e| AttesterError::Envelope(format!("field {field}: not standard base64: {e}")))
        };
        let report = b64("report", &env.report)?;
        let tee: Tee = env.tee.parse().map_err(|_| {
            AttesterError::Envelope(format!("field tee: expected snp, tdx or dev, found {:?}", env.tee))
        })?;
        if tee != Tee::Snp && (env.vcek.is_some() || env.chain.is_some()) {
            return Err(AttesterError::Envelope(format!(
                "fields vcek/chain are for snp only, found them with tee {:?}",
                env.tee
            )));
        }
        if tee != Tee::Tdx && env.collateral.is_some() {
            return Err(AttesterError::Envelope(format!(
                "field collateral is for tdx only, found it with tee {:?}",
                env.tee
            )));
        }
        Ok(match tee {
            Tee::Snp => Evidence::Snp(SnpEvidence {
                report,
                vcek: env.vcek.as_deref().map(|s| b64("vcek", s)).transpose()?,
                chain: env.chain.as_deref().map(|s| b64("chain", s)).transpose()?,
            }),
            Tee::Dev => Evidence::Dev(DevEvidence { report }),
            Tee::Tdx => Evidence::Tdx(tdx::TdxEvidence {
                quote: report,
                collateral: env
                    .collateral
                    .as_deref()
                    .map(|s| b64("collateral", s))
                    .transpose()?
                    .unwrap_or_default(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{verify, VerifyOptions};

    const RD: [u8; 64] = [0x5A; 64];

    fn write(dir: &Path, name: &str, data: &[u8]) {
        fs::write(dir.join(name), data).unwrap();
    }

    /// A fake configfs-tsm entry as the kernel would present it after a report.
    fn fake_entry(dir: &Path, provider: &str, outblob: &[u8], auxblob: Option<&[u8]>) {
        write(dir, "provider", format!("{provider}\n").as_bytes());
        write(dir, "generation", b"1\n");
        write(dir, "outblob", outblob);
        if let Some(aux) = auxblob {
            write(dir, "auxblob", aux);
        }
    }

    fn cert_table(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let header = (entries.len() + 1) * 24;
        let mut table = Vec::new();
        let mut data = Vec::new();
        for (guid, body) in entries {
            table.extend_from_slice(&guid_bytes(guid));
            table.extend_from_slice(&((header + data.len()) as u32).to_le_bytes());
            table.extend_from_slice(&(body.len() as u32).to_le_bytes());
            data.extend_from_slice(body);
        }
        table.extend_from_slice(&[0; 24]);
        table.extend_from_slice(&data);
        table
    }

    #[test]
    fn this_machine_has_no_tee_and_says_where_it_looked() {
        let err = detect().unwrap_err();
        assert_eq!(
            err.to_string(),
            "no TEE found: checked /sys/kernel/config/tsm/report, /dev/sev-guest, /dev/tdx_guest"
        );
    }

    #[test]
    fn collect_snp_without_a_device_names_the_device() {
        let err = collect(Tee::Snp, &RD).unwrap_err();
        assert!(matches!(err, AttesterError::Device { tee: "snp", .. }), "{err}");
        assert!(err.to_string().contains("/dev/sev-guest"), "{err}");
        let err = collect(Tee::Tdx, &RD).unwrap_err();
        assert!(err.to_string().contains("/dev/tdx_guest"), "{err}");
    }

    #[test]
    fn detect_reads_the_provider_and_prefers_configfs_tsm() {
        let tmp = tempfile::tempdir().unwrap();
        let none = tmp.path().join("absent");
        assert!(matches!(
            detect_with(&none, &none, &none),
            Err(AttesterError::NoTee { .. })
        ));
        let sev = tmp.path().join("sev-guest");
        write(tmp.path(), "sev-guest", b"");
        assert_eq!(detect_with(&none, &none, &sev).unwrap(), Tee::Tdx);
        assert_eq!(detect_with(&none, &sev, &none).unwrap(), Tee::Snp);
        // A tsm root on a plain filesystem: the new entry has no `provider`, and the entry
        // is removed again.
        let root = tmp.path().join("tsm");
        fs::create_dir(&root).unwrap();
        let err = detect_with(&root, &none, &none).unwrap_err();
        assert!(err.to_string().contains("provider"), "{err}");
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0, "entry removed");
    }

    #[test]
    fn collect_dev_verifies() {
        let Evidence::Dev(e) = collect(Tee::Dev, &RD).unwrap() else {
            panic!("not dev evidence")
        };
        let v = verify(&Evidence::Dev(e), &VerifyOptions::at(std::time::SystemTime::now())).unwrap();
        assert_eq!(v.report_data, RD.to_vec());
    }

    #[test]
    fn tsm_entry_snp_report_with_cert_table() {
        let tmp = tempfile::tempdir().unwrap();
        let (ark, ask, vcek) = (b"ark-der".to_vec(), b"ask-der".to_vec(), b"vcek-der".to_vec());
        let table = cert_table(&[(GUID_VCEK, &vcek), (GUID_ASK, &ask), (GUID_ARK, &ark)]);
        fake_entry(tmp.path(), "sev_guest", &[7u8; REPORT_LEN], Some(&table));
        let out = tsm_report_in(tmp.path(), "sev_guest", &RD).unwrap();
        assert_eq!(fs::read(tmp.path().join("inblob")).unwrap(), RD.to_vec());
        let Evidence::Snp(e) = evidence_from_tsm(Tee::Snp, out).unwrap() else {
            panic!("not snp")
        };
        assert_eq!(e.report, vec![7u8; REPORT_LEN]);
        assert_eq!(e.vcek, Some(vcek));
        let pem = String::from_utf8(e.chain.unwrap()).unwrap();
        let ask_pos = pem.find(&B64.encode(&ask)).unwrap();
        let ark_pos = pem.find(&B64.encode(&ark)).unwrap();
        assert!(ask_pos < ark_pos, "ASK first, then ARK");
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 2);
    }

    #[test]
    fn tsm_entry_refuses_another_provider_and_a_short_report() {
        let tmp = tempfile::tempdir().unwrap();
        fake_entry(tmp.path(), "tdx_guest", b"quote", None);
        let err = tsm_report_in(tmp.path(), "sev_guest", &RD).unwrap_err();
        assert!(matches!(err, AttesterError::Provider { .. }), "{err}");
        // Without an auxblob, the TDX quote still comes out.
        let out = tsm_report_in(tmp.path(), "tdx_guest", &RD).unwrap();
        let Evidence::Tdx(t) = evidence_from_tsm(Tee::Tdx, out.clone()).unwrap() else {
            panic!("not tdx")
        };
        assert_eq!(t.quote, b"quote");
        let err = evidence_from_tsm(Tee::Snp, out).unwrap_err();
        assert!(err.to_string().contains("1184 bytes"), "{err}");
    }

    #[test]
    fn tsm_entry_detects_a_generation_race() {
        let tmp = tempfile::tempdir().unwrap();
        fake_entry(tmp.path(), "sev_guest", &[], None);
        write(tmp.path(), "generation", b"4\n");
        let outblob = tmp.path().join("outblob");
        fs::remove_file(&outblob).unwrap();
        let c = std::ffi::CString::new(outblob.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // `outblob` is a FIFO: the writer's open returns only once the reader has opened it,
        // that is after the reader's first `generation` read. The writer then bumps
        // `generation`, as another process writing to the entry would, before it hands
        // over the report and closes: the reader's second read sees the new value.
        let gen = tmp.path().join("generation");
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let mut f = fs::OpenOptions::new().write(true).open(&outblob).unwrap();
            fs::write(&gen, b"5\n").unwrap();
            f.write_all(&[0u8; REPORT_LEN]).unwrap();
        });
        let err = tsm_report_in(tmp.path(), "sev_guest", &RD).unwrap_err();
        writer.join().unwrap();
        assert!(
            matches!(&err, AttesterError::Race { before, after, .. } if before == "4" && after == "5"),
            "{err}"
        );
    }

    #[test]
    fn tsm_report_on_a_plain_directory_fails_and_cleans_up() {
        let tmp = tempfile::tempdir().unwrap();
        let err = collect_with(
            tmp.path(),
            Path::new("/nonexistent"),
            Path::new("/nonexistent"),
            Tee::Snp,
            &RD,
        )
        .unwrap_err();
        assert!(
            matches!(&err, AttesterError::Io { path, .. } if path.ends_with("provider")),
            "{err}"
        );
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn cert_table_prefers_the_vlek_and_refuses_bad_tables() {
        let t = cert_table(&[
            (GUID_VCEK, b"vcek"),
            (GUID_VLEK, b"vlek"),
            ("92f81bc3-5811-4d3d-97ff-d19f88dc67ea", b"crl"),
        ]);
        let c = parse_snp_cert_table(&t).unwrap();
        assert_eq!(c.vek.as_deref(), Some(&b"vlek"[..]));
        assert!(c.ark.is_none() && c.chain_pem().is_none());

        let mut bad = cert_table(&[(GUID_ARK, b"ark")]);
        bad[16..20].copy_from_slice(&10_000u32.to_le_bytes());
        assert!(matches!(
            parse_snp_cert_table(&bad),
            Err(AttesterError::Malformed { .. })
        ));
        let unterminated = cert_table(&[(GUID_ARK, b"ark")])[..24].to_vec();
        assert!(matches!(
            parse_snp_cert_table(&unterminated),
            Err(AttesterError::Malformed { .. })
        ));
        let dup = cert_table(&[(GUID_ARK, b"a"), (GUID_ARK, b"b")]);
        assert!(matches!(
            parse_snp_cert_table(&dup),
            Err(AttesterError::Malformed { .. })
        ));
        assert!(parse_snp_cert_table(&[]).unwrap().vek.is_none());
    }

    #[test]
    fn ioctl_layout_matches_the_kernel_uapi() {
        assert_eq!(std::mem::size_of::<SnpReportReq>(), 96);
        assert_eq!(std::mem::size_of::<SnpReportResp>(), 4000);
        assert_eq!(std::mem::size_of::<SnpGuestRequestIoctl>(), 32);
        assert_eq!(SNP_GET_REPORT, 0xC020_5300);
    }

    #[test]
    fn envelope_round_trips_and_is_strict() {
        let snp = Evidence::Snp(SnpEvidence {
            report: vec![1; REPORT_LEN],
            vcek: Some(vec![2, 3]),
            chain: None,
        });
        let j = snp.to_envelope_json().unwrap();
        assert_eq!(j["tee"], "snp");
        assert_eq!(j["vcek"], "AgM=");
        assert!(j.get("chain").is_none());
        let Evidence::Snp(back) = Evidence::from_envelope_json(&j).unwrap() else {
            panic!("not snp")
        };
        assert_eq!(
            (back.report, back.vcek, back.chain),
            (vec![1; REPORT_LEN], Some(vec![2, 3]), None)
        );

        let dev = collect(Tee::Dev, &RD).unwrap();
        let j = dev.to_envelope_json().unwrap();
        let back = Evidence::from_envelope_json(&j).unwrap();
        verify(&back, &VerifyOptions::at(std::time::SystemTime::now())).unwrap();

        let tdx = Evidence::Tdx(tdx::TdxEvidence {
            quote: vec![9; 10],
            collateral: Vec::new(),
        });
        let j = tdx.to_envelope_json().unwrap();
        assert!(j.get("collateral").is_none());
        let Evidence::Tdx(t) = Evidence::from_envelope_json(&j).unwrap() else {
            panic!("not tdx")
        };
        assert_eq!(t.quote, vec![9; 10]);

        for bad in [
            serde_json::json!({"tee": "dev", "report": "AA==", "extra": 1}),
            serde_json::json!({"tee": "dev", "report": "AA==", "vcek": "AA=="}),
            serde_json::json!({"tee": "sgx", "report": "AA=="}),
            serde_json::json!({"tee": "snp", "report": "not base64!"}),
            serde_json::json!({"tee": "snp"}),
        ] {
            assert!(
                matches!(Evidence::from_envelope_json(&bad), Err(AttesterError::Envelope(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn report_data_inputs() {
        assert_eq!(report_data_from_hex(&"5a".repeat(64)).unwrap(), RD);
        assert!(report_data_from_hex(&"5a".repeat(63)).is_err());
        assert!(report_data_from_hex(&"zz".repeat(64)).is_err());
        assert_eq!(report_data_from_nonce(&RD), RD);
        let h = report_data_from_nonce(b"nonce");
        assert_ne!(h, [0; 64]);
        assert_eq!(h, report_data_from_nonce(b"nonce"));
    }
}
