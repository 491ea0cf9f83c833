//! AMD SEV-SNP evidence: a 1184-byte attestation report signed by the chip's VCEK (or a
//! cloud provider's VLEK), whose certificate chains to AMD's root key (ARK) for the
//! product through the ASK (or, for a VLEK, the ASVK).
//!
//! The `sev` crate checks the RSA-PSS signatures ARK → ARK, ARK → ASK/ASVK and
//! ASK/ASVK → VCEK/VLEK. What it does not check is done here: that the ARK is one of the
//! pinned product roots (Milan, Genoa, Turin, in `roots/`) or a caller-supplied test root,
//! every certificate's validity at the verifier's clock, that the VCEK's TCB extensions
//! equal the report's REPORTED_TCB, that its hwID equals the report's CHIP_ID, that the
//! product names agree, and the report signature over the raw report bytes.

use std::time::SystemTime;

use sev::certs::snp::{ca, Chain, Verifiable};
use sev::firmware::guest::AttestationReport;
use sev::firmware::host::TcbVersion;
use sev::parser::ByteParser;
use x509_cert::der::asn1::Ia5StringRef;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

use super::{Verified, VerifyOptions};
use sealrun_policy::attestation::{SnpClaims, SnpTcb};

/// Length of an SEV-SNP attestation report (ABI spec, table "ATTESTATION_REPORT").
pub const REPORT_LEN: usize = 1184;
/// The signature covers bytes 0x000..0x2A0 of the report.
const SIGNED_LEN: usize = 0x2A0;

/// The pinned AMD product roots and their intermediates: public certificates from AMD's
/// key distribution service, identical to the ones `sev` ships.
const PINNED: &[Product] = &[
    Product {
        ark: include_bytes!("roots/milan_ark.pem"),
        ask: include_bytes!("roots/milan_ask.pem"),
        asvk: include_bytes!("roots/milan_asvk.pem"),
    },
    Product {
        ark: include_bytes!("roots/genoa_ark.pem"),
        ask: include_bytes!("roots/genoa_ask.pem"),
        asvk: include_bytes!("roots/genoa_asvk.pem"),
    },
    Product {
        ark: include_bytes!("roots/turin_ark.pem"),
        ask: include_bytes!("roots/turin_ask.pem"),
        asvk: include_bytes!("roots/turin_asvk.pem"),
    },
];

struct Product {
    ark: &'static [u8],
    ask: &'static [u8],
    asvk: &'static [u8],
}

/// AMD's VCEK/VLEK certificate extensions (VCEK specification, 57230, table 8).
const OID_PRODUCT_NAME: &str = "1.3.6.1.4.1.3704.1.2";
const OID_BL_SPL: &str = "1.3.6.1.4.1.3704.1.3.1";
const OID_TEE_SPL: &str = "1.3.6.1.4.1.3704.1.3.2";
const OID_SNP_SPL: &str = "1.3.6.1.4.1.3704.1.3.3";
const OID_UCODE_SPL: &str = "1.3.6.1.4.1.3704.1.3.8";
const OID_FMC_SPL: &str = "1.3.6.1.4.1.3704.1.3.9";
const OID_HWID: &str = "1.3.6.1.4.1.3704.1.4";
const OID_CN: &str = "2.5.4.3";

/// SEV-SNP evidence as a guest sends it.
#[derive(Debug, Clone)]
pub struct SnpEvidence {
    /// The raw 1184-byte attestation report.
    pub report: Vec<u8>,
    /// The VCEK or VLEK certificate, DER. Required: the verifier does not fetch from AMD.
    pub vcek: Option<Vec<u8>>,
    /// PEM certificates: the ASK (or ASVK) and the ARK, in any order; extra ones are
    /// ignored. Absent: the pinned product intermediates are used.
    pub chain: Option<Vec<u8>>,
}

/// Which key signed the report (KEY_INFO.SIGNING_KEY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningKey {
    Vcek,
    Vlek,
}

impl SigningKey {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningKey::Vcek => "vcek",
            SigningKey::Vlek => "vlek",
        }
    }

    fn as_str_upper(self) -> &'static str {
        match self {
            SigningKey::Vcek => "VCEK",
            SigningKey::Vlek => "VLEK",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SnpError {
    #[error("snp report: expected {REPORT_LEN} bytes, found {0}")]
    ReportLength(usize),
    #[error("snp report: cannot parse: {0}")]
    ReportParse(String),
    #[error("snp report: field {field}: expected {expected}, found {found}")]
    ReportField {
        field: &'static str,
        expected: String,
        found: String,
    },
    #[error("snp evidence: no VCEK/VLEK certificate (field `vcek`); the verifier does not fetch certificates")]
    MissingVek,
    #[error("snp {which} certificate: cannot parse: {detail}")]
    CertParse { which: &'static str, detail: String },
    #[error("snp certificate chain (field `chain`): ARK `{subject}` is not a pinned AMD product root (Milan, Genoa, Turin) nor in extra_roots")]
    UntrustedArk { subject: String },
    #[error("snp certificate chain: no trusted chain for {vek} issued by `{issuer}`: {detail}")]
    NoTrustedChain {
        vek: &'static str,
        issuer: String,
        detail: String,
    },
    #[error("snp {which} certificate `{subject}` is not valid at {now}: valid {not_before} .. {not_after}")]
    CertExpired {
        which: &'static str,
        subject: String,
        now: String,
        not_before: String,
        not_after: String,
    },
    #[error("snp {which} certificate: extension {name} ({oid}): expected {expected}, found {found}")]
    Extension {
        which: &'static str,
        name: &'static str,
        oid: &'static str,
        expected: String,
        found: String,
    },
    #[error("snp CRL {index}: {detail}")]
    Crl { index: usize, detail: String },
    #[error("snp {which} certificate (serial {serial}) is revoked by CRL {index} (revoked {date})")]
    Revoked {
        which: &'static str,
        serial: String,
        index: usize,
        date: String,
    },
    #[error("snp report signature: {0}")]
    Signature(String),
}

/// Verifies an SEV-SNP report and its certificate chain at `opts.now`.
pub fn verify(e: &SnpEvidence, opts: &VerifyOptions) -> Result<Verified, SnpError> {
    if e.report.len() != REPORT_LEN {
        return Err(SnpError::ReportLength(e.report.len()));
    }
    let report = AttestationReport::from_bytes(&e.report).map_err(|err| SnpError::ReportParse(err.to_string()))?;
    if report.version < 2 {
        return Err(field("version", ">= 2", report.version));
    }
    // SIG_ALGO 1 = ECDSA P-384 with SHA-384, the only algorithm defined.
    if report.sig_algo != 1 {
        return Err(field("sig_algo", "1 (ECDSA P-384 SHA-384)", report.sig_algo));
    }
    if report.key_info.mask_chip_key() {
        return Err(field("key_info.mask_chip_key", "0 (report signed)", 1));
    }
    let signing_key = match report.key_info.signing_key() {
        0 => SigningKey::Vcek,
        1 => SigningKey::Vlek,
        other => return Err(field("key_info.signing_key", "0 (VCEK) or 1 (VLEK)", other)),
    };

    let vek_name = match signing_key {
        SigningKey::Vcek => "VCEK",
        SigningKey::Vlek => "VLEK",
    };
    let vek_der = e.vcek.as_deref().ok_or(SnpError::MissingVek)?;
    let (vek, product, anchor, _, _) = checked_chain(vek_der, e.chain.as_deref(), signing_key, opts)?;

    check_report_signature(&e.report, &vek)?;
    check_vek_extensions(vek_name, &vek, &report, signing_key, &product)?;

    let snp = SnpClaims {
        measurement: hex::encode(report.measurement),
        vmpl: match u8::try_from(report.vmpl) {
            Ok(v) if v <= 3 => v,
            _ => return Err(field("vmpl", "0..=3", report.vmpl)),
        },
        debug: report.policy.debug_allowed(),
        migration_agent: report.policy.migrate_ma_allowed(),
        host_data: hex::encode(report.host_data),
        reported_tcb: policy_tcb(&report.reported_tcb),
    };
    let policy_raw = u64::from_le_bytes(e.report[0x08..0x10].try_into().expect("8 bytes"));
    let claims = serde_json::json!({
        "tee": "snp",
        "product": product,
        "signing_key": signing_key.as_str(),
        "root": match anchor {
            Anchor::Pinned => "amd",
            Anchor::Extra => "extra_roots",
        },
        "version": report.version,
        "guest_svn": report.guest_svn,
        "policy": {
            "raw": format!("{policy_raw:#x}"),
            "abi_major": report.policy.abi_major(),
            "abi_minor": report.policy.abi_minor(),
            "smt": report.policy.smt_allowed(),
            "migration_agent": snp.migration_agent,
            "debug": snp.debug,
            "single_socket": report.policy.single_socket_required(),
        },
        "vmpl": snp.vmpl,
        "measurement": snp.measurement,
        "host_data": snp.host_data,
        "report_data": hex::encode(report.report_data),
        "family_id": hex::encode(report.family_id),
        "image_id": hex::encode(report.image_id),
        "id_key_digest": hex::encode(report.id_key_digest),
        "author_key_digest": hex::encode(report.author_key_digest),
        "report_id": hex::encode(report.report_id),
        "chip_id": hex::encode(report.chip_id),
        "current_tcb": tcb_json(&report.current_tcb),
        "reported_tcb": tcb_json(&report.reported_tcb),
        "committed_tcb": tcb_json(&report.committed_tcb),
        "launch_tcb": tcb_json(&report.launch_tcb),
    });
    Ok(Verified {
        tee: "snp",
        report_data: report.report_data.to_vec(),
        claims,
        snp: Some(snp),
        tdx: None,
    })
}

/// [`verify`], then revocation: each CRL (DER or PEM) must be issued and signed by the
/// chain's ARK (RSASSA-PSS SHA-384, as AMD's KDS signs them), current at `opts.now`
/// (thisUpdate ≤ now ≤ nextUpdate), and list neither the ASK/ASVK's nor the VCEK/VLEK's
/// serial number. CRLs are checked only when supplied: the verifier fetches nothing.
pub fn verify_with_crls(e: &SnpEvidence, crls: &[Vec<u8>], opts: &VerifyOptions) -> Result<Verified, SnpError> {
    let verified = verify(e, opts)?;
    if crls.is_empty() {
        return Ok(verified);
    }
    let signing_key = if verified.claims["signing_key"] == SigningKey::Vlek.as_str() {
        SigningKey::Vlek
    } else {
        SigningKey::Vcek
    };
    let vek_der = e.vcek.as_deref().ok_or(SnpError::MissingVek)?;
    let (vek, _, _, ark, intermediate) = checked_chain(vek_der, e.chain.as_deref(), signing_key, opts)?;
    let ask_name = match signing_key {
        SigningKey::Vcek => "ASK",
        SigningKey::Vlek => "ASVK",
    };
    for (index, raw) in crls.iter().enumerate() {
        check_crl(
            index,
            raw,
            &ark,
            &[(ask_name, &intermediate), (signing_key.as_str_upper(), &vek)],
            opts.now,
        )?;
    }
    Ok(verified)
}

fn check_crl(
    index: usize,
    raw: &[u8],
    ark: &Certificate,
    certs: &[(&'static str, &Certificate)],
    now: SystemTime,
) -> Result<(), SnpError> {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    use x509_cert::crl::CertificateList;
    let bad = |detail: String| SnpError::Crl { index, detail };
    let der = if raw.starts_with(b"-----BEGIN") {
        use base64::Engine as _;
        let text = String::from_utf8_lossy(raw);
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .map_err(|err| bad(format!("PEM body is not base64: {err}")))?
    } else {
        raw.to_vec()
    };
    let crl = CertificateList::from_der(&der).map_err(|err| bad(format!("not a DER CertificateList: {err}")))?;
    let tbs = &crl.tbs_cert_list;
    if tbs.issuer != ark.tbs_certificate.subject {
        return Err(bad(format!(
            "issuer: expected the ARK `{}`, found `{}`",
            ark.tbs_certificate.subject, tbs.issuer
        )));
    }
    const RSASSA_PSS: &str = "1.2.840.113549.1.1.10";
    if crl.signature_algorithm.oid.to_string() != RSASSA_PSS {
        return Err(bad(format!(
            "signatureAlgorithm: expected RSASSA-PSS ({RSASSA_PSS}), found {}",
            crl.signature_algorithm.oid
        )));
    }
    let spki = ark
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|err| bad(format!("ARK public key: {err}")))?;
    let key = rsa::RsaPublicKey::from_public_key_der(&spki).map_err(|err| bad(format!("ARK public key: {err}")))?;
    let sig =
        rsa::pss::Signature::try_from(crl.signature.raw_bytes()).map_err(|err| bad(format!("signature: {err}")))?;
    let tbs_der = tbs.to_der().map_err(|err| bad(format!("tbsCertList: {err}")))?;
    rsa::pss::VerifyingKey::<sha2::Sha384>::new(key)
        .verify(&tbs_der, &sig)
        .map_err(|_| bad("signature: does not verify with the ARK's key (RSASSA-PSS SHA-384)".into()))?;
    let this_update = tbs.this_update.to_system_time();
    if now < this_update {
        return Err(bad(format!(
            "thisUpdate {} is after the verification time",
            tbs.this_update
        )));
    }
    if let Some(next) = &tbs.next_update {
        if now > next.to_system_time() {
            return Err(bad(format!(
                "expired: nextUpdate {next} is before the verification time"
            )));
        }
    }
    for r in tbs.revoked_certificates.iter().flatten() {
        for (which, cert) in certs {
            if r.serial_number == cert.tbs_certificate.serial_number {
                return Err(SnpError::Revoked {
                    which,
                    serial: hex::encode(r.serial_number.as_bytes()),
                    index,
                    date: r.revocation_date.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Verifies a VCEK (or VLEK) certificate's chain without a report: ARK (pinned or in
/// `opts.extra_roots`) → ASK (or ASVK) → VEK, signatures and validity at `opts.now`.
/// `chain` is PEM as in [`SnpEvidence::chain`]. Returns the product name (e.g. "Milan").
pub fn verify_vek_chain(
    vek_der: &[u8],
    chain: Option<&[u8]>,
    signing_key: SigningKey,
    opts: &VerifyOptions,
) -> Result<String, SnpError> {
    checked_chain(vek_der, chain, signing_key, opts).map(|(_, product, _, _, _)| product)
}

fn checked_chain(
    vek_der: &[u8],
    chain: Option<&[u8]>,
    signing_key: SigningKey,
    opts: &VerifyOptions,
) -> Result<(Certificate, String, Anchor, Certificate, Certificate), SnpError> {
    let vek_name = match signing_key {
        SigningKey::Vcek => "VCEK",
        SigningKey::Vlek => "VLEK",
    };
    let vek = Certificate::from_der(vek_der).map_err(|err| cert_parse(vek_name, err))?;
    let vek_cn = common_name(&vek.tbs_certificate.subject);
    let want_cn = format!("SEV-{vek_name}");
    if vek_cn.as_deref() != Some(want_cn.as_str()) {
        return Err(SnpError::Extension {
            which: vek_name,
            name: "subject CN",
            oid: OID_CN,
            expected: format!("{want_cn} (report key_info.signing_key = {})", signing_key.as_str()),
            found: vek_cn.unwrap_or_else(|| "none".into()),
        });
    }

    let ask_name = match signing_key {
        SigningKey::Vcek => "ASK",
        SigningKey::Vlek => "ASVK",
    };
    // The RSA-4096 signatures of the chain are most of the cost of verifying a report, and
    // a VCEK's chain does not change: a chain whose signatures verified is remembered (by
    // the digest of exactly these bytes and roots); validity at `opts.now` is re-checked.
    let key = chain_key(vek_der, chain, signing_key, &opts.extra_roots);
    if let Some(c) = chain_cache()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .cloned()
    {
        for (which, cert) in [("ARK", &c.ark), (ask_name, &c.intermediate), (vek_name, &vek)] {
            check_validity(which, cert, opts.now)?;
        }
        return Ok((vek, c.product.clone(), c.anchor, c.ark.clone(), c.intermediate.clone()));
    }
    let (ark, intermediate, product, anchor) = trusted_chain(chain, opts, &vek, signing_key)?;
    for (which, cert) in [("ARK", &ark), (ask_name, &intermediate), (vek_name, &vek)] {
        check_validity(which, cert, opts.now)?;
    }
    let mut cache = chain_cache().lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= CHAIN_CACHE_ENTRIES {
        cache.clear();
    }
    cache.insert(
        key,
        std::sync::Arc::new(CachedChain {
            ark: ark.clone(),
            intermediate: intermediate.clone(),
            product: product.clone(),
            anchor,
        }),
    );
    Ok((vek, product, anchor, ark, intermediate))
}

/// Chains kept at most; the cache is emptied when full (a broker sees few distinct chips).
const CHAIN_CACHE_ENTRIES: usize = 1024;

struct CachedChain {
    ark: Certificate,
    intermediate: Certificate,
    product: String,
    anchor: Anchor,
}

type ChainCache = std::sync::Mutex<std::collections::HashMap<[u8; 32], std::sync::Arc<CachedChain>>>;

fn chain_cache() -> &'static ChainCache {
    static CACHE: std::sync::OnceLock<ChainCache> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// sha256 over everything the chain verdict depends on, length-prefixed.
fn chain_key(vek_der: &[u8], chain: Option<&[u8]>, signing_key: SigningKey, extra_roots: &[Vec<u8>]) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    let mut part = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    part(vek_der);
    part(chain.unwrap_or(b"(pinned)"));
    part(signing_key.as_str().as_bytes());
    for r in extra_roots {
        part(r);
    }
    h.finalize().into()
}

fn field(name: &'static str, expected: &str, found: impl std::fmt::Display) -> SnpError {
    SnpError::ReportField {
        field: name,
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

fn cert_parse(which: &'static str, err: impl std::fmt::Display) -> SnpError {
    SnpError::CertParse {
        which,
        detail: err.to_string(),
    }
}

fn policy_tcb(t: &TcbVersion) -> SnpTcb {
    SnpTcb {
        bootloader: t.bootloader,
        tee: t.tee,
        snp: t.snp,
        microcode: t.microcode,
    }
}

fn tcb_json(t: &TcbVersion) -> serde_json::Value {
    let mut v = serde_json::json!({
        "bootloader": t.bootloader, "tee": t.tee, "snp": t.snp, "microcode": t.microcode,
    });
    if let Some(fmc) = t.fmc {
        v["fmc"] = fmc.into();
    }
    v
}

fn common_name(name: &x509_cert::name::Name) -> Option<String> {
    let cn = ObjectIdentifier::new_unwrap(OID_CN);
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == cn)
        .map(|atv| String::from_utf8_lossy(atv.value.value()).into_owned())
}

fn subject_text(c: &Certificate) -> String {
    c.tbs_certificate.subject.to_string()
}

fn is_self_signed(c: &Certificate) -> bool {
    c.tbs_certificate.subject == c.tbs_certificate.issuer
}

fn der_of(c: &Certificate) -> Vec<u8> {
    c.to_der().unwrap_or_default()
}

/// Where the chain's ARK came from: reported in the claims so that an audit can tell a
/// test PKI from AMD's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    Pinned,
    Extra,
}

/// The trust anchors: pinned product ARKs first, then the caller's test roots.
fn trusted_roots(opts: &VerifyOptions) -> Result<Vec<(Certificate, Anchor)>, SnpError> {
    let mut roots = Vec::new();
    for p in PINNED {
        roots.push((
            Certificate::from_pem(p.ark).map_err(|err| cert_parse("pinned ARK", err))?,
            Anchor::Pinned,
        ));
    }
    for (i, der) in opts.extra_roots.iter().enumerate() {
        // Extra roots may include keys for other TEEs; only certificates count here.
        if let Ok(c) = Certificate::from_der(der) {
            roots.push((c, Anchor::Extra));
        } else {
            tracing::debug!(index = i, "extra root is not a DER certificate; ignored for snp");
        }
    }
    Ok(roots)
}

/// Finds an ARK → ASK/ASVK → VEK chain whose ARK is trusted, and checks its signatures
/// with `sev`. Returns the ARK, the intermediate, the product name and the anchor kind.
fn trusted_chain(
    chain: Option<&[u8]>,
    opts: &VerifyOptions,
    vek: &Certificate,
    signing_key: SigningKey,
) -> Result<(Certificate, Certificate, String, Anchor), SnpError> {
    let roots = trusted_roots(opts)?;
    let root_ders: Vec<Vec<u8>> = roots.iter().map(|(c, _)| der_of(c)).collect();

    let mut intermediates = Vec::new();
    if let Some(pem) = chain {
        let certs = Certificate::load_pem_chain(pem).map_err(|err| cert_parse("chain", err))?;
        for c in certs {
            if is_self_signed(&c) {
                // A supplied ARK is only a hint: it must be one of the trust anchors.
                if !root_ders.contains(&der_of(&c)) {
                    return Err(SnpError::UntrustedArk {
                        subject: subject_text(&c),
                    });
                }
            } else {
                intermediates.push(c);
            }
        }
    } else {
        for p in PINNED {
            let pem = match signing_key {
                SigningKey::Vcek => p.ask,
                SigningKey::Vlek => p.asvk,
            };
            intermediates.push(Certificate::from_pem(pem).map_err(|err| cert_parse("pinned ASK/ASVK", err))?);
        }
    }

    let vek_issuer = vek.tbs_certificate.issuer.clone();
    let mut tried = Vec::new();
    for ask in intermediates.iter().filter(|c| c.tbs_certificate.subject == vek_issuer) {
        for (ark, anchor) in roots
            .iter()
            .filter(|(r, _)| r.tbs_certificate.subject == ask.tbs_certificate.issuer)
        {
            let chain = Chain {
                ca: ca::Chain {
                    ark: ark.clone().into(),
                    ask: ask.clone().into(),
                },
                vek: vek.clone().into(),
            };
            match (&chain).verify() {
                Ok(_) => {
                    let product = product_of(ark, ask, signing_key)?;
                    return Ok((ark.clone(), ask.clone(), product, *anchor));
                }
                Err(err) => tried.push(format!("root `{}`: {err}", subject_text(ark))),
            }
        }
    }
    let vek_name = match signing_key {
        SigningKey::Vcek => "VCEK",
        SigningKey::Vlek => "VLEK",
    };
    let detail = if tried.is_empty() {
        "no trusted ARK (pinned or extra_roots) issued an intermediate whose subject is the VEK's issuer".to_string()
    } else {
        tried.join("; ")
    };
    Err(SnpError::NoTrustedChain {
        vek: vek_name,
        issuer: vek_issuer.to_string(),
        detail,
    })
}

/// The product is named by the ARK ("ARK-Milan"); the intermediate must be the matching
/// ASK ("SEV-Milan") for a VCEK or ASVK ("SEV-VLEK-Milan") for a VLEK.
fn product_of(ark: &Certificate, ask: &Certificate, signing_key: SigningKey) -> Result<String, SnpError> {
    let ark_cn = common_name(&ark.tbs_certificate.subject).unwrap_or_default();
    let product = ark_cn
        .strip_prefix("ARK-")
        .map(str::to_string)
        .ok_or_else(|| SnpError::Extension {
            which: "ARK",
            name: "subject CN",
            oid: OID_CN,
            expected: "ARK-<product>".into(),
            found: ark_cn.clone(),
        })?;
    let (which, want) = match signing_key {
        SigningKey::Vcek => ("ASK", format!("SEV-{product}")),
        SigningKey::Vlek => ("ASVK", format!("SEV-VLEK-{product}")),
    };
    let found = common_name(&ask.tbs_certificate.subject).unwrap_or_default();
    if found != want {
        return Err(SnpError::Extension {
            which,
            name: "subject CN",
            oid: OID_CN,
            expected: want,
            found,
        });
    }
    Ok(product)
}

fn check_validity(which: &'static str, c: &Certificate, now: SystemTime) -> Result<(), SnpError> {
    let v = &c.tbs_certificate.validity;
    let (nb, na) = (v.not_before.to_system_time(), v.not_after.to_system_time());
    if now < nb || now > na {
        return Err(SnpError::CertExpired {
            which,
            subject: subject_text(c),
            now: rfc3339(now),
            not_before: v.not_before.to_string(),
            not_after: v.not_after.to_string(),
        });
    }
    Ok(())
}

fn rfc3339(t: SystemTime) -> String {
    match x509_cert::der::DateTime::from_system_time(t) {
        Ok(dt) => dt.to_string(),
        Err(_) => format!("{t:?}"),
    }
}

/// ECDSA P-384 over SHA-384 of the raw report bytes 0x000..0x2A0. Done on the bytes as
/// received rather than on `sev`'s re-encoding of its parsed report, so that no byte
/// (reserved ones included) escapes the signature check.
fn check_report_signature(raw: &[u8], vek: &Certificate) -> Result<(), SnpError> {
    use p384::ecdsa::signature::Verifier;
    let sig = &raw[SIGNED_LEN..SIGNED_LEN + 144];
    // R and S are 72-byte little-endian fields; P-384 scalars use the low 48 bytes.
    let scalar = |le: &[u8]| -> Result<[u8; 48], SnpError> {
        if le[48..].iter().any(|b| *b != 0) {
            return Err(SnpError::Signature("R or S has non-zero bytes above 48".into()));
        }
        let mut be = [0u8; 48];
        for (i, b) in le[..48].iter().enumerate() {
            be[47 - i] = *b;
        }
        Ok(be)
    };
    let (r, s) = (scalar(&sig[..72])?, scalar(&sig[72..])?);
    let signature = p384::ecdsa::Signature::from_scalars(r, s)
        .map_err(|err| SnpError::Signature(format!("malformed R/S: {err}")))?;
    let spki = &vek.tbs_certificate.subject_public_key_info;
    let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes())
        .map_err(|err| SnpError::Signature(format!("VEK public key is not P-384: {err}")))?;
    key.verify(&raw[..SIGNED_LEN], &signature)
        .map_err(|_| SnpError::Signature("the VEK's key does not sign this report (bytes 0x000..0x2A0)".into()))
}

fn extension<'a>(c: &'a Certificate, oid: &str) -> Option<&'a [u8]> {
    let oid = ObjectIdentifier::new_unwrap(oid);
    c.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|x| x.extn_id == oid)
        .map(|x| x.extn_value.as_bytes())
}

/// The VEK's TCB, hwID and product-name extensions must describe this report.
fn check_vek_extensions(
    which: &'static str,
    vek: &Certificate,
    report: &AttestationReport,
    signing_key: SigningKey,
    product: &str,
) -> Result<(), SnpError> {
    let tcb = &report.reported_tcb;
    let mut spl = vec![
        ("bootloader SPL", OID_BL_SPL, tcb.bootloader),
        ("tee SPL", OID_TEE_SPL, tcb.tee),
        ("snp SPL", OID_SNP_SPL, tcb.snp),
        ("microcode SPL", OID_UCODE_SPL, tcb.microcode),
    ];
    if let Some(fmc) = tcb.fmc {
        spl.push(("fmc SPL", OID_FMC_SPL, fmc));
    }
    for (name, oid, want) in spl {
        let found = match extension(vek, oid) {
            None => "absent".to_string(),
            Some(v) => match u32::from_der(v) {
                Ok(n) if n == u32::from(want) => continue,
                Ok(n) => n.to_string(),
                Err(err) => format!("not a DER INTEGER ({err})"),
            },
        };
        return Err(SnpError::Extension {
            which,
            name,
            oid,
            expected: format!("{want} (report reported_tcb)"),
            found,
        });
    }

    // A VLEK is not bound to one chip: it carries a CSP id instead of a hwID.
    if signing_key == SigningKey::Vcek {
        let chip = &report.chip_id;
        match extension(vek, OID_HWID) {
            // Turin's hwID is 8 bytes; the report's CHIP_ID is then zero-padded to 64.
            Some(hwid)
                if !hwid.is_empty()
                    && hwid.len() <= 64
                    && chip[..hwid.len()] == *hwid
                    && chip[hwid.len()..].iter().all(|b| *b == 0) => {}
            other => {
                return Err(SnpError::Extension {
                    which,
                    name: "hwID",
                    oid: OID_HWID,
                    expected: format!("{} (report chip_id)", hex::encode(chip)),
                    found: other.map(hex::encode).unwrap_or_else(|| "absent".into()),
                })
            }
        }
    }

    let name = extension(vek, OID_PRODUCT_NAME).map(|v| match Ia5StringRef::from_der(v) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => String::from_utf8_lossy(v).into_owned(),
    });
    // "Milan-B0" (VCEK: product and stepping) or "Milan" (VLEK).
    let ok = name
        .as_deref()
        .is_some_and(|n| n == product || n.strip_prefix(product).is_some_and(|rest| rest.starts_with('-')));
    if !ok {
        return Err(SnpError::Extension {
            which,
            name: "product name",
            oid: OID_PRODUCT_NAME,
            expected: format!("{product} or {product}-<stepping> (the root's product)"),
            found: name.unwrap_or_else(|| "absent".into()),
        });
    }
    Ok(())
}
