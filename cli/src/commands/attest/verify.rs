//! `sealrun attest verify`: verify evidence offline (signatures, certificate chains to the
//! pinned roots, at a given clock) and appraise its claims against a policy's
//! `[attestation]`, or without one against a built-in baseline (signature and chain, debug
//! off, VMPL 0, TCB status UpToDate; the dev TEE refused). Exit status is the verdict:
//! 0 accepted, 1 refused (why on stdout, text or JSON).

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use sealrun_attest::evidence::{self, dev, nvidia, snp, tdx, Evidence, VerifyOptions};
use sealrun_policy::{Check, Decision, TeeKind};

use crate::commands::policy::{load, Output};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TeeArg {
    Snp,
    Tdx,
    Nvidia,
    Dev,
}

#[derive(clap::Args)]
pub struct Args {
    /// The kind of evidence (not needed with --evidence)
    #[arg(long, value_enum)]
    pub tee: Option<TeeArg>,
    /// An evidence envelope as `sealrun attest evidence` writes it
    #[arg(long, conflicts_with_all = ["report", "quote"])]
    pub evidence: Option<PathBuf>,
    /// SNP: the attestation report (raw 1184 bytes, or hex); NVIDIA: the SPDM
    /// request+response (hex text); dev: the JSON report
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// SNP: the VCEK or VLEK certificate (DER)
    #[arg(long)]
    pub vcek: Option<PathBuf>,
    /// SNP: the ASK/ASVK and ARK (PEM)
    #[arg(long)]
    pub chain: Option<PathBuf>,
    /// SNP: a CRL issued by the ARK (DER or PEM; repeatable): the ASK/ASVK and VCEK/VLEK
    /// must not be revoked
    #[arg(long)]
    pub crl: Vec<PathBuf>,
    /// TDX: the quote (raw)
    #[arg(long)]
    pub quote: Option<PathBuf>,
    /// TDX: the collateral (dcap-qvl QuoteCollateralV3 JSON)
    #[arg(long)]
    pub collateral: Option<PathBuf>,
    /// NVIDIA: the device certificate chain (PEM)
    #[arg(long)]
    pub certs: Option<PathBuf>,
    /// NVIDIA: the SPDM nonce the requester sent (hex, 32 bytes)
    #[arg(long)]
    pub nonce: Option<String>,
    /// The report data the evidence must carry (hex, up to 64 bytes, zero-padded)
    #[arg(long = "report-data")]
    pub report_data: Option<String>,
    /// Appraise against this policy's [attestation] (a path or library:NAME)
    #[arg(long)]
    pub policy: Option<String>,
    /// The verification clock: RFC 3339 (2025-06-01T00:00:00Z) or Unix seconds.
    /// Default: the wall clock (real collateral expires; pin it to re-check old evidence)
    #[arg(long)]
    pub now: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

fn read(p: &PathBuf, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("{what} {}", p.display()))
}

/// Raw bytes, or the bytes of a hex text file (as the SNP fixtures ship them).
fn raw_or_hex(bytes: Vec<u8>) -> Vec<u8> {
    let text: String = String::from_utf8_lossy(&bytes).split_whitespace().collect();
    if !text.is_empty() && text.len() % 2 == 0 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        if let Ok(v) = hex(&text) {
            return v;
        }
    }
    bytes
}

fn hex(s: &str) -> anyhow::Result<Vec<u8>> {
    let s = s.trim();
    if s.len() % 2 != 0 {
        bail!("expected an even number of hex digits, found {}", s.len());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| anyhow::anyhow!("not hex: {:?}", &s[i..i + 2])))
        .collect()
}

/// `--now`: Unix seconds or RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`).
pub fn parse_time(s: &str) -> anyhow::Result<SystemTime> {
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(UNIX_EPOCH + Duration::from_secs(secs));
    }
    let bad = || anyhow::anyhow!("--now {s:?}: expected Unix seconds or RFC 3339 such as 2025-06-01T00:00:00Z");
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<i64>().ok()).ok_or_else(bad);
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && &rest[3..4] == ":" => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (num_at(rest, 1..3).ok_or_else(bad)? * 3600 + num_at(rest, 4..6).ok_or_else(bad)? * 60)
        }
        _ => return Err(bad()),
    };
    // Days from civil (Howard Hinnant's algorithm).
    let (yy, m) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days * 86400 + h * 3600 + mi * 60 + se - offset;
    if secs < 0 {
        return Err(bad());
    }
    Ok(UNIX_EPOCH + Duration::from_secs(secs as u64))
}

fn num_at(s: &str, r: std::ops::Range<usize>) -> Option<i64> {
    s.get(r).and_then(|t| t.parse().ok())
}

fn evidence(a: &Args) -> anyhow::Result<Evidence> {
    if let Some(p) = &a.evidence {
        let v: serde_json::Value = serde_json::from_slice(&read(p, "evidence")?)
            .with_context(|| format!("evidence {}: not JSON", p.display()))?;
        return Evidence::from_envelope_json(&v).with_context(|| format!("evidence {}", p.display()));
    }
    let Some(tee) = a.tee else {
        bail!("--tee snp|tdx|nvidia|dev is required without --evidence")
    };
    let need = |p: &Option<PathBuf>, flag: &str| p.clone().ok_or_else(|| anyhow::anyhow!("--tee needs {flag}"));
    Ok(match tee {
        TeeArg::Snp => Evidence::Snp(snp::SnpEvidence {
            report: raw_or_hex(read(&need(&a.report, "--report FILE")?, "report")?),
            vcek: a.vcek.as_ref().map(|p| read(p, "vcek")).transpose()?,
            chain: a.chain.as_ref().map(|p| read(p, "chain")).transpose()?,
        }),
        TeeArg::Tdx => Evidence::Tdx(tdx::TdxEvidence {
            quote: read(&need(&a.quote, "--quote FILE")?, "quote")?,
            collateral: read(&need(&a.collateral, "--collateral FILE")?, "collateral")?,
        }),
        TeeArg::Nvidia => {
            let r = read(&need(&a.report, "--report FILE")?, "report")?;
            let c = read(&need(&a.certs, "--certs PEM")?, "certs")?;
            Evidence::Nvidia(nvidia::NvidiaEvidence::from_text(
                &String::from_utf8_lossy(&r),
                &String::from_utf8_lossy(&c),
            )?)
        }
        TeeArg::Dev => Evidence::Dev(dev::DevEvidence {
            report: read(&need(&a.report, "--report FILE")?, "report")?,
        }),
    })
}

fn check(checks: &mut Vec<Check>, rule: &str, passed: bool, expected: impl Into<String>, found: impl Into<String>) {
    checks.push(Check {
        rule: rule.into(),
        passed,
        expected: expected.into(),
        found: found.into(),
    });
}

/// The appraisal without a policy: production minimums that need no allow-list.
fn baseline(v: &evidence::Verified) -> Decision {
    let mut c = Vec::new();
    check(&mut c, "baseline.signature", true, "verified", "verified");
    if let Some(s) = &v.snp {
        check(
            &mut c,
            "baseline.snp.debug",
            !s.debug,
            "debug off",
            if s.debug { "debug on" } else { "debug off" },
        );
        check(&mut c, "baseline.snp.vmpl", s.vmpl == 0, "0", s.vmpl.to_string());
    }
    if let Some(t) = &v.tdx {
        check(
            &mut c,
            "baseline.tdx.debug",
            !t.debug,
            "debug off",
            if t.debug { "debug on" } else { "debug off" },
        );
        check(
            &mut c,
            "baseline.tdx.tcb_status",
            t.tcb_status == "UpToDate",
            "UpToDate",
            t.tcb_status.clone(),
        );
    }
    if v.tee == "dev" {
        check(
            &mut c,
            "baseline.tee",
            false,
            "a hardware TEE (the dev TEE needs a policy with allow_dev = true)",
            "dev",
        );
    }
    Decision {
        allowed: c.iter().all(|c| c.passed),
        checks: c,
    }
}

fn appraise(policy: &sealrun_policy::Policy, v: &evidence::Verified) -> Decision {
    let a = &policy.attestation;
    if let Some(s) = &v.snp {
        return a.appraise_snp(s);
    }
    if let Some(t) = &v.tdx {
        return a.appraise_tdx(t);
    }
    match v.tee {
        "dev" => a.accepts_tee(TeeKind::Dev),
        "nvidia" => a.appraise_gpu(1, true),
        other => {
            let mut c = Vec::new();
            check(&mut c, "attestation.tee", false, "snp, tdx, dev or a GPU", other);
            Decision {
                allowed: false,
                checks: c,
            }
        }
    }
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let now = match &a.now {
        Some(s) => parse_time(s)?,
        None => SystemTime::now(),
    };
    let ev = evidence(&a)?;
    let mut opts = VerifyOptions::at(now);
    if let Some(n) = &a.nonce {
        opts.nonce = Some(hex(n).context("--nonce")?);
    }
    let now_secs = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let crls = a
        .crl
        .iter()
        .map(|p| read(p, "crl"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let result = match (&ev, crls.is_empty()) {
        (Evidence::Snp(e), false) => snp::verify_with_crls(e, &crls, &opts).map_err(evidence::EvidenceError::from),
        (_, false) => bail!("--crl applies to --tee snp only"),
        _ => evidence::verify(&ev, &opts),
    };
    let verified = match result {
        Ok(v) => v,
        Err(e) => {
            let msg = format!("{} evidence does not verify: {e}", ev.tee());
            match a.output {
                Output::Text => println!("{msg}\nverdict: refused"),
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "tee": ev.tee(), "verified": false, "error": e.to_string(), "now": now_secs, "accepted": false
                    }))?
                ),
            }
            return Ok(1);
        }
    };
    let mut decision = match &a.policy {
        Some(p) => appraise(&load(p)?, &verified),
        None => baseline(&verified),
    };
    if let Some(rd) = &a.report_data {
        let mut want = hex(rd).context("--report-data")?;
        if want.len() > 64 {
            bail!("--report-data: expected at most 64 bytes, found {}", want.len());
        }
        if verified.report_data.len() > want.len() {
            want.resize(verified.report_data.len(), 0);
        }
        let found: String = verified.report_data.iter().map(|b| format!("{b:02x}")).collect();
        let expected: String = want.iter().map(|b| format!("{b:02x}")).collect();
        decision.allowed &= found == expected;
        decision.checks.push(Check {
            rule: "report_data".into(),
            passed: found == expected,
            expected,
            found,
        });
    }
    match a.output {
        Output::Text => {
            println!("{} evidence verified (clock {now_secs})", verified.tee);
            println!("claims: {}", serde_json::to_string_pretty(&verified.claims)?);
            print!(
                "appraisal ({}): {}",
                a.policy.as_deref().unwrap_or("built-in baseline"),
                decision.to_text()
            );
            println!("verdict: {}", if decision.allowed { "accepted" } else { "refused" });
        }
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "tee": verified.tee,
                "verified": true,
                "now": now_secs,
                "claims": verified.claims,
                "appraisal": decision,
                "policy": a.policy,
                "accepted": decision.allowed,
            }))?
        ),
    }
    Ok(if decision.allowed { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_formats() {
        let secs = |s| parse_time(s).unwrap().duration_since(UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs("1750332747"), 1750332747);
        assert_eq!(secs("2025-06-19T11:32:27Z"), 1750332747);
        assert_eq!(secs("2025-06-19T13:32:27.5+02:00"), 1750332747);
        assert_eq!(secs("1970-01-01T00:00:00Z"), 0);
        assert_eq!(secs("2000-02-29T00:00:00Z"), 951782400);
        assert!(parse_time("2025-13-01T00:00:00Z").is_err());
        assert!(parse_time("yesterday").is_err());
    }
}
