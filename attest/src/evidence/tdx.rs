//! Intel TDX (and SGX) DCAP quotes, verified with `dcap-qvl` against Intel's SGX root CA
//! (pinned inside dcap-qvl) or a root in [`VerifyOptions::extra_roots`], with the caller's
//! collateral (PCK CRLs, TCB info, QE identity: dcap-qvl's `QuoteCollateralV3` as JSON) at the
//! caller's clock [`VerifyOptions::now`].
//!
//! Verification checks signatures, chains, CRLs, collateral freshness and the TCB level
//! match; it does not judge the TCB status (OutOfDate, advisories …) nor the DEBUG
//! attribute of a TD: those are appraisal, the policy's `Attestation::appraise_tdx`.
//! SGX quotes verify too, but there is no SGX policy, so a debug enclave is refused here.

use std::time::UNIX_EPOCH;

use dcap_qvl::quote::{EnclaveReport, Quote, Report, TDReport10};
use dcap_qvl::verify::QuoteVerifier;
use dcap_qvl::{PckCertFlag, QuoteCollateralV3, QuotePolicy};
use serde_json::{json, Value};

use super::{Verified, VerifyOptions};

const TEE_TYPE_SGX: u32 = 0x0000_0000;
const TEE_TYPE_TDX: u32 = 0x0000_0081;

/// A DCAP quote and the collateral to check it with.
#[derive(Debug, Clone)]
pub struct TdxEvidence {
    /// The raw quote (v4/v5 for TDX, v3 for SGX).
    pub quote: Vec<u8>,
    /// JSON in dcap-qvl's `QuoteCollateralV3` shape (CRLs and signatures as hex strings).
    pub collateral: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum TdxError {
    #[error("tdx collateral: not dcap-qvl QuoteCollateralV3 JSON: {reason}")]
    Collateral { reason: String },
    #[error("tdx quote: cannot parse: {reason}")]
    Parse { reason: String },
    #[error("tdx quote: TEE type {found:#010x}: expected {TEE_TYPE_TDX:#010x} (TDX) or {TEE_TYPE_SGX:#010x} (SGX)")]
    TeeType { found: u32 },
    #[error("tdx quote: VerifyOptions.now is before 1970")]
    Clock,
    #[error("tdx quote verification failed at unix time {now} (root: {root}): {reason}")]
    Verification { now: u64, root: String, reason: String },
    #[error("tdx quote: verified report: expected a {expected} body, found {found}")]
    Body {
        expected: &'static str,
        found: &'static str,
    },
}

fn body_name(r: &Report) -> &'static str {
    match r {
        Report::SgxEnclave(_) => "SGX enclave",
        Report::TD10(_) => "TD 1.0",
        Report::TD15(_) => "TD 1.5",
        Report::TD15Ex(_) => "TD 1.5ex",
    }
}

fn td10(r: &Report) -> Option<&TDReport10> {
    match r {
        Report::TD10(t) => Some(t),
        Report::TD15(t) => Some(&t.base),
        Report::TD15Ex(t) => Some(&t.base.base),
        Report::SgxEnclave(_) => None,
    }
}

/// The TD's TUD byte (attributes bits 0-7: DEBUG and the other debug features): any bit set
/// means the host can inspect the TD, so the policy treats it as debug.
fn td_debug(t: &TDReport10) -> bool {
    t.td_attributes[0] != 0
}

fn td_claims(report: &Report, t: &TDReport10) -> Value {
    let mut c = json!({
        "tee": "tdx",
        "body": body_name(report),
        "mrtd": hex::encode(t.mr_td),
        "rtmr0": hex::encode(t.rt_mr0),
        "rtmr1": hex::encode(t.rt_mr1),
        "rtmr2": hex::encode(t.rt_mr2),
        "rtmr3": hex::encode(t.rt_mr3),
        "mr_config_id": hex::encode(t.mr_config_id),
        "mr_owner": hex::encode(t.mr_owner),
        "mr_owner_config": hex::encode(t.mr_owner_config),
        "mr_seam": hex::encode(t.mr_seam),
        "mr_signer_seam": hex::encode(t.mr_signer_seam),
        "seam_attributes": hex::encode(t.seam_attributes),
        "td_attributes": hex::encode(t.td_attributes),
        // DEBUG (bit 0) or any other TUD bit: what the policy's `debug` sees.
        "debug": td_debug(t),
        "xfam": hex::encode(t.xfam),
        "tee_tcb_svn": hex::encode(t.tee_tcb_svn),
        "report_data": hex::encode(t.report_data),
    });
    let extra = match report {
        Report::TD15(t15) => Some(json!({ "mr_service_td": hex::encode(t15.mr_service_td) })),
        Report::TD15Ex(tx) => Some(json!({
            "mr_service_td": hex::encode(tx.base.mr_service_td),
            "cur_service_td_hash": hex::encode(tx.cur_service_td_hash),
        })),
        _ => None,
    };
    if let (Some(Value::Object(extra)), Value::Object(m)) = (extra, &mut c) {
        m.extend(extra);
    }
    c
}

fn sgx_claims(r: &EnclaveReport) -> Value {
    json!({
        "tee": "sgx",
        "body": "SGX enclave",
        "mr_enclave": hex::encode(r.mr_enclave),
        "mr_signer": hex::encode(r.mr_signer),
        "isv_prod_id": r.isv_prod_id,
        "isv_svn": r.isv_svn,
        "cpu_svn": hex::encode(r.cpu_svn),
        "attributes": hex::encode(r.attributes),
        "debug": r.attributes[0] & 0x02 != 0,
        "report_data": hex::encode(r.report_data),
    })
}

fn flag(f: PckCertFlag) -> Value {
    match f {
        PckCertFlag::True => json!(true),
        PckCertFlag::False => json!(false),
        PckCertFlag::Undefined => Value::Null,
    }
}

fn parse(quote: &[u8]) -> Result<Quote, TdxError> {
    let q = Quote::parse(quote).map_err(|e| TdxError::Parse {
        reason: format!("{e:#}"),
    })?;
    match q.header.tee_type {
        TEE_TYPE_TDX | TEE_TYPE_SGX => Ok(q),
        found => Err(TdxError::TeeType { found }),
    }
}

/// Claims of a quote **without verifying it** (for inspection and for quotes whose
/// collateral is incomplete). Never use them for a trust decision.
pub fn unverified_claims(quote: &[u8]) -> Result<Value, TdxError> {
    let q = parse(quote)?;
    let mut c = match td10(&q.report) {
        Some(t) => td_claims(&q.report, t),
        None => sgx_claims(q.report.as_sgx().expect("not a TD body, so SGX")),
    };
    if let Value::Object(m) = &mut c {
        m.insert("quote_version".into(), json!(q.header.version));
        m.insert("verified".into(), json!(false));
    }
    Ok(c)
}

/// Verifies a TDX or SGX quote with its collateral at `opts.now`.
pub fn verify(e: &TdxEvidence, opts: &VerifyOptions) -> Result<Verified, TdxError> {
    let collateral: QuoteCollateralV3 = serde_json::from_slice(&e.collateral).map_err(|err| TdxError::Collateral {
        reason: err.to_string(),
    })?;
    let now = opts
        .now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| TdxError::Clock)?
        .as_secs();
    let is_tdx = parse(&e.quote)?.header.tee_type == TEE_TYPE_TDX;

    // A debug TD is verified and reported, and the policy refuses it; SGX has no policy.
    // dcap-qvl's own policies would judge the TCB status and platform flags: `claims_only`
    // passes every verified quote, and `Attestation::appraise_tdx` judges its claims.
    let policy = QuotePolicy::claims_only(now);
    let run = |v: QuoteVerifier| {
        v.allow_debug(is_tdx)
            .verify_with_policy(&e.quote, collateral.clone(), now, &policy)
    };
    let mut result = run(QuoteVerifier::new_prod());
    let mut root = "Intel SGX Root CA (pinned)".to_string();
    if result.is_err() {
        // Test PKIs only; the pinned root's error is the one reported if none verifies.
        for (i, der) in opts.extra_roots.iter().enumerate() {
            if let Ok(r) = run(QuoteVerifier::new(der.clone())) {
                result = Ok(r);
                root = format!("VerifyOptions.extra_roots[{i}]");
                break;
            }
        }
    }
    let verified = result.map_err(|err| TdxError::Verification {
        now,
        root: root.clone(),
        reason: format!("{err:#}"),
    })?;

    let status = verified.tcb.status.to_string();
    let advisories = verified.tcb.advisory_ids.clone();
    let (tee, report_data, mut claims, tdx) = match &verified.report {
        Report::SgxEnclave(r) => ("sgx", r.report_data.to_vec(), sgx_claims(r), None),
        other => {
            let t = td10(other).ok_or(TdxError::Body {
                expected: "TD",
                found: body_name(other),
            })?;
            let policy_claims = sealrun_policy::attestation::TdxClaims {
                mrtd: hex::encode(t.mr_td),
                rtmr: [t.rt_mr0, t.rt_mr1, t.rt_mr2, t.rt_mr3].map(hex::encode),
                mr_config_id: hex::encode(t.mr_config_id),
                debug: td_debug(t),
                tcb_status: status.clone(),
                advisories: advisories.clone(),
            };
            ("tdx", t.report_data.to_vec(), td_claims(other, t), Some(policy_claims))
        }
    };
    if let Value::Object(m) = &mut claims {
        m.insert("tcb_status".into(), json!(status));
        m.insert("advisory_ids".into(), json!(advisories));
        m.insert("quote_version".into(), json!(verified.header.version));
        m.insert(
            "platform_tcb_status".into(),
            json!(verified.platform.tcb_level.tcb_status.to_string()),
        );
        m.insert(
            "qe_tcb_status".into(),
            json!(verified.qe.tcb_level.tcb_status.to_string()),
        );
        m.insert("tcb_eval_data_number".into(), json!(verified.tcb.eval_data_number));
        let pck = &verified.platform.pck;
        m.insert(
            "platform".into(),
            json!({
                "fmspc": hex::encode(pck.fmspc),
                "cpu_svn": hex::encode(pck.cpu_svn),
                "pce_svn": pck.pce_svn,
                "sgx_type": pck.sgx_type,
                "dynamic_platform": flag(pck.dynamic_platform),
                "cached_keys": flag(pck.cached_keys),
                "smt_enabled": flag(pck.smt_enabled),
            }),
        );
        m.insert(
            "collateral".into(),
            json!({
                "latest_issue": verified.latest_issue_date,
                "earliest_expiration": verified.earliest_expiration_date,
            }),
        );
        m.insert("verified_at".into(), json!(now));
        m.insert("root".into(), json!(root));
    }
    tracing::debug!(tee, %status, "dcap quote verified");
    Ok(Verified {
        tee,
        report_data,
        claims,
        snp: None,
        tdx,
    })
}
