//! NVIDIA Hopper GPU evidence: an SPDM 1.1 GET_MEASUREMENTS request and its signed
//! MEASUREMENTS response, with the device certificate chain.
//!
//! What is checked, in order: the requester's nonce is the one the caller sent
//! ([`VerifyOptions::nonce`], required); the chain runs leaf → … → the pinned NVIDIA device
//! root (or a root in [`VerifyOptions::extra_roots`]), each link signed by the next, every
//! certificate valid at [`VerifyOptions::now`]; the leaf's FWID (TCG DICE TcbInfo extension)
//! equals the FWID in the response's opaque data; and the leaf key's ECDSA P-384 signature
//! over SHA-384(request || response without the signature).
//!
//! Layouts (DSP0274 SPDM 1.1):
//! request  = version 0x11 | code 0xE0 | param1 (bit 0: signature requested) | param2
//!            (measurement operation) | nonce[32] | slot id
//! response = version 0x11 | code 0x60 | param1 | param2 | number of blocks | record length
//!            (u24 LE) | record | nonce[32] | opaque length (u16 LE) | opaque data | signature
//! block    = index | measurement specification (bit 0: DMTF) | size (u16 LE) |
//!            DMTF type | DMTF value size (u16 LE) | value

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384};
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

use super::{Verified, VerifyOptions};

/// The NVIDIA device identity root, pinned into the binary.
const NVIDIA_DEVICE_ROOT_PEM: &str = include_str!("roots/nvidia_device_root.pem");

const SPDM_VERSION_1_1: u8 = 0x11;
const GET_MEASUREMENTS: u8 = 0xE0;
const MEASUREMENTS: u8 = 0x60;
const REQUEST_LEN: usize = 37;
const NONCE_LEN: usize = 32;
/// Raw r || s of an ECDSA P-384 signature (the device's only algorithm on Hopper).
const SIGNATURE_LEN: usize = 96;
/// Opaque data item type carrying the firmware id (FWID), as NVIDIA numbers them.
const OPAQUE_FWID: u16 = 20;

const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_CURVE_P256: &str = "1.2.840.10045.3.1.7";
const OID_CURVE_P384: &str = "1.3.132.0.34";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
/// TCG DICE TcbInfo; its last 48 bytes are the FWID digest.
const OID_TCG_DICE_TCB_INFO: &str = "2.23.133.5.4.1";

/// GPU evidence as it arrives.
#[derive(Debug, Clone)]
pub struct NvidiaEvidence {
    /// The SPDM GET_MEASUREMENTS request followed by the MEASUREMENTS response, raw bytes.
    pub report: Vec<u8>,
    /// The device certificate chain, PEM, leaf first.
    pub certs: Vec<u8>,
}

impl NvidiaEvidence {
    /// Evidence from the text format NVIDIA's tools and the fixtures use: the report as
    /// hex (whitespace ignored) and the chain as PEM.
    pub fn from_text(report_hex: &str, certs_pem: &str) -> Result<NvidiaEvidence, NvidiaError> {
        Ok(NvidiaEvidence {
            report: decode_hex(report_hex)?,
            certs: certs_pem.as_bytes().to_vec(),
        })
    }
}

/// Hex text (whitespace ignored) to bytes.
pub fn decode_hex(text: &str) -> Result<Vec<u8>, NvidiaError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(&compact).map_err(|e| NvidiaError::Hex { reason: e.to_string() })
}

#[derive(Debug, thiserror::Error)]
pub enum NvidiaError {
    #[error("nvidia report hex: {reason}")]
    Hex { reason: String },
    #[error("nvidia evidence: a nonce is required (VerifyOptions.nonce): found none")]
    NonceRequired,
    #[error("nvidia evidence: VerifyOptions.nonce must be {expected} bytes, found {found}")]
    NonceLength { expected: usize, found: usize },
    #[error("nvidia report: {field} at byte {offset}: expected {expected}, found {found}")]
    Malformed {
        field: &'static str,
        offset: usize,
        expected: String,
        found: String,
    },
    #[error("nvidia report: request nonce: expected {expected}, found {found}")]
    NonceMismatch { expected: String, found: String },
    #[error("nvidia certificate chain: cannot parse PEM: {reason}")]
    ChainParse { reason: String },
    #[error("nvidia certificate chain: expected at least 2 certificates (signing leaf .. root), found {found}")]
    ChainTooShort { found: usize },
    #[error("nvidia certificate chain: certificate {index} ({subject}) is not valid at {now}: valid {not_before}..{not_after} (unix seconds)")]
    CertificateNotValid {
        index: usize,
        subject: String,
        now: u64,
        not_before: u64,
        not_after: u64,
    },
    #[error("nvidia certificate chain: certificate {index} ({subject}) is not issued by certificate {next}: {reason}")]
    ChainBroken {
        index: usize,
        next: usize,
        subject: String,
        reason: String,
    },
    #[error("nvidia certificate chain: certificate {index} ({subject}) signs another certificate but is not a CA (basicConstraints cA)")]
    NotACa { index: usize, subject: String },
    #[error("nvidia certificate chain: ends at {subject}, which is neither a trusted root nor issued by one (pinned NVIDIA device root or VerifyOptions.extra_roots)")]
    UntrustedRoot { subject: String },
    #[error("VerifyOptions.extra_roots[{index}]: not a DER certificate: {reason}")]
    BadExtraRoot { index: usize, reason: String },
    #[error("nvidia certificate chain: leaf ({subject}) has no FWID extension ({OID_TCG_DICE_TCB_INFO}): it is not a device signing certificate")]
    LeafWithoutFwid { subject: String },
    #[error("nvidia report: opaque data has no FWID item (type {OPAQUE_FWID})")]
    ReportWithoutFwid,
    #[error("nvidia evidence: FWID: certificate says {certificate}, report says {report}")]
    FwidMismatch { certificate: String, report: String },
    #[error("nvidia report: leaf public key: expected an EC P-384 key, found {found}")]
    LeafKey { found: String },
    #[error("nvidia report: the ECDSA P-384 signature over request || response does not verify with the leaf key ({subject})")]
    BadSignature { subject: String },
}

/// The parsed GET_MEASUREMENTS request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpdmRequest {
    pub param1: u8,
    pub param2: u8,
    pub nonce: [u8; NONCE_LEN],
    pub slot_id: u8,
}

/// One measurement block of the response (DMTF layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasurementBlock {
    pub index: u8,
    /// DMTFSpecMeasurementValueType (bit 7: raw bit stream rather than a digest).
    pub value_type: u8,
    pub value: Vec<u8>,
}

/// The parsed MEASUREMENTS response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpdmResponse {
    pub param1: u8,
    pub param2: u8,
    pub blocks: Vec<MeasurementBlock>,
    /// The responder's nonce.
    pub nonce: [u8; NONCE_LEN],
    pub opaque_data: Vec<u8>,
    /// Raw r || s.
    pub signature: Vec<u8>,
}

/// A parsed report: request, response, and how many leading bytes the signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpdmReport {
    pub request: SpdmRequest,
    pub response: SpdmResponse,
    /// Length of request || response without the signature: the signed bytes.
    pub signed_len: usize,
    /// Bytes after the signature. Not signed and not used; some drivers pad the report.
    pub trailing: usize,
}

/// Reads `bytes`, which start at byte `base` of the report (for error offsets).
struct Cursor<'a> {
    bytes: &'a [u8],
    offset: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], NvidiaError> {
        let end = self
            .offset
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(NvidiaError::Malformed {
                field,
                offset: self.base + self.offset,
                expected: format!("{n} bytes"),
                found: format!("{} bytes left", self.bytes.len() - self.offset),
            })?;
        let out = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, NvidiaError> {
        Ok(self.take(field, 1)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, NvidiaError> {
        let b = self.take(field, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u24(&mut self, field: &'static str) -> Result<usize, NvidiaError> {
        let b = self.take(field, 3)?;
        Ok(usize::from(b[0]) | usize::from(b[1]) << 8 | usize::from(b[2]) << 16)
    }

    fn expect(&mut self, field: &'static str, want: u8) -> Result<(), NvidiaError> {
        let offset = self.base + self.offset;
        let got = self.u8(field)?;
        if got != want {
            return Err(NvidiaError::Malformed {
                field,
                offset,
                expected: format!("{want:#04x}"),
                found: format!("{got:#04x}"),
            });
        }
        Ok(())
    }
}

/// Parses request || response (no signature or certificate check).
pub fn parse_report(bytes: &[u8]) -> Result<SpdmReport, NvidiaError> {
    let mut c = Cursor {
        bytes,
        offset: 0,
        base: 0,
    };
    c.expect("request SPDMVersion", SPDM_VERSION_1_1)?;
    c.expect("request RequestResponseCode (GET_MEASUREMENTS)", GET_MEASUREMENTS)?;
    let offset = c.offset;
    let param1 = c.u8("request Param1")?;
    if param1 & 0x01 == 0 {
        return Err(NvidiaError::Malformed {
            field: "request Param1",
            offset,
            expected: "bit 0 set (signature requested)".into(),
            found: format!("{param1:#04x}"),
        });
    }
    let param2 = c.u8("request Param2")?;
    let nonce: [u8; NONCE_LEN] = c.take("request Nonce", NONCE_LEN)?.try_into().expect("32 bytes taken");
    let slot_id = c.u8("request SlotIDParam")?;
    debug_assert_eq!(c.offset, REQUEST_LEN);
    let request = SpdmRequest {
        param1,
        param2,
        nonce,
        slot_id,
    };

    c.expect("response SPDMVersion", SPDM_VERSION_1_1)?;
    c.expect("response RequestResponseCode (MEASUREMENTS)", MEASUREMENTS)?;
    let r_param1 = c.u8("response Param1")?;
    let r_param2 = c.u8("response Param2")?;
    let count = c.u8("response NumberOfBlocks")?;
    let record_len = c.u24("response MeasurementRecordLength")?;
    let record_start = c.offset;
    let record = c.take("response MeasurementRecord", record_len)?;
    let blocks = parse_record(record, record_start, count)?;
    let r_nonce: [u8; NONCE_LEN] = c.take("response Nonce", NONCE_LEN)?.try_into().expect("32 bytes taken");
    let opaque_len = c.u16("response OpaqueLength")?;
    let opaque_data = c.take("response OpaqueData", usize::from(opaque_len))?.to_vec();
    let signed_len = c.offset;
    let signature = c.take("response Signature", SIGNATURE_LEN)?.to_vec();
    Ok(SpdmReport {
        request,
        response: SpdmResponse {
            param1: r_param1,
            param2: r_param2,
            blocks,
            nonce: r_nonce,
            opaque_data,
            signature,
        },
        signed_len,
        trailing: bytes.len() - c.offset,
    })
}

fn parse_record(record: &[u8], base: usize, count: u8) -> Result<Vec<MeasurementBlock>, NvidiaError> {
    let mut c = Cursor {
        bytes: record,
        offset: 0,
        base,
    };
    let mut blocks: Vec<MeasurementBlock> = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let at = base + c.offset;
        let index = c.u8("measurement block Index")?;
        let spec = c.u8("measurement block MeasurementSpecification")?;
        if spec & 0x01 == 0 {
            return Err(NvidiaError::Malformed {
                field: "measurement block MeasurementSpecification",
                offset: at + 1,
                expected: "bit 0 set (DMTF)".into(),
                found: format!("{spec:#04x}"),
            });
        }
        let size = usize::from(c.u16("measurement block MeasurementSize")?);
        let value_type = c.u8("DMTFSpecMeasurementValueType")?;
        let value_size = usize::from(c.u16("DMTFSpecMeasurementValueSize")?);
        if size != value_size + 3 {
            return Err(NvidiaError::Malformed {
                field: "measurement block MeasurementSize",
                offset: at + 2,
                expected: format!("{} (3 + DMTF value size)", value_size + 3),
                found: size.to_string(),
            });
        }
        let value = c.take("DMTFSpecMeasurementValue", value_size)?.to_vec();
        if blocks.iter().any(|b| b.index == index) {
            return Err(NvidiaError::Malformed {
                field: "measurement block Index",
                offset: at,
                expected: "an index not seen before".into(),
                found: format!("{index} again"),
            });
        }
        blocks.push(MeasurementBlock {
            index,
            value_type,
            value,
        });
    }
    if c.offset != record.len() {
        return Err(NvidiaError::Malformed {
            field: "response MeasurementRecord",
            offset: base + c.offset,
            expected: format!("{count} blocks filling {} bytes", record.len()),
            found: format!("{} bytes left over", record.len() - c.offset),
        });
    }
    Ok(blocks)
}

/// The opaque data items: (type, value bytes), in order.
fn opaque_items(data: &[u8], base: usize) -> Result<Vec<(u16, &[u8])>, NvidiaError> {
    let mut c = Cursor {
        bytes: data,
        offset: 0,
        base,
    };
    let mut items = Vec::new();
    while c.offset < data.len() {
        let kind = c.u16("opaque item DataType")?;
        let len = usize::from(c.u16("opaque item DataSize")?);
        let value = c.take("opaque item Data", len)?;
        items.push((kind, value));
    }
    Ok(items)
}

/// Names NVIDIA gives the opaque item types (nvtrust), for the claims.
fn opaque_name(kind: u16) -> Option<&'static str> {
    Some(match kind {
        1 => "cert_issuer_name",
        2 => "cert_authority_key_identifier",
        3 => "driver_version",
        4 => "gpu_info",
        5 => "id_sku",
        6 => "vbios_version",
        7 => "manufacturer_id",
        8 => "tamper_detection",
        9 => "smc",
        10 => "vpr",
        11 => "nvdec0_status",
        12 => "measurement_count",
        13 => "cpr_info",
        14 => "board_id",
        15 => "chip_sku",
        16 => "chip_sku_mod",
        17 => "project",
        18 => "project_sku",
        19 => "project_sku_mod",
        20 => "fwid",
        21 => "protected_pcie_status",
        22 => "switch_pdi",
        23 => "floorswept_ports",
        24 => "position_id",
        25 => "lock_switch_status",
        32 => "gpu_link_conn",
        33 => "sys_enable_status",
        34 => "opaque_data_version",
        35 => "chip_info",
        36 => "feature_flag",
        _ => return None,
    })
}

fn opaque_claims(items: &[(u16, &[u8])]) -> Value {
    let mut out = serde_json::Map::new();
    for (kind, value) in items {
        let name = opaque_name(*kind)
            .map(str::to_string)
            .unwrap_or_else(|| format!("type_{kind}"));
        let v = match kind {
            // NUL-terminated ASCII.
            3 | 15 | 16 | 17 | 18 | 35 => {
                Value::String(String::from_utf8_lossy(value).trim_end_matches('\0').to_string())
            }
            // First half little-endian, dotted, then the first byte of the second half:
            // 00 9f 00 96 01 00 00 00 → 96.00.9f.00.01.
            6 if value.len() >= 2 => {
                let half = value.len() / 2;
                let mut parts: Vec<String> = value[..half].iter().rev().map(|b| format!("{b:02x}")).collect();
                parts.push(format!("{:02x}", value[half]));
                Value::String(parts.join("."))
            }
            _ => Value::String(hex::encode(value)),
        };
        out.insert(name, v);
    }
    Value::Object(out)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn subject(cert: &Certificate) -> String {
    cert.tbs_certificate.subject.to_string()
}

/// Whether two ASN.1 values have the same DER encoding (false if either cannot be encoded).
fn same_der<A: Encode, B: Encode>(a: &A, b: &B) -> bool {
    matches!((a.to_der(), b.to_der()), (Ok(x), Ok(y)) if x == y)
}

/// Verifies `cert`'s signature with `issuer`'s key (ECDSA with SHA-256 or SHA-384, P-256 or
/// P-384 key). Returns why not, for the error.
fn check_signed_by(cert: &Certificate, issuer: &Certificate) -> Result<(), String> {
    use p384::ecdsa::signature::hazmat::PrehashVerifier;
    let alg = cert.signature_algorithm.oid.to_string();
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|e| format!("re-encoding the TBS certificate: {e}"))?;
    let digest: Vec<u8> = match alg.as_str() {
        OID_ECDSA_SHA384 => Sha384::digest(&tbs).to_vec(),
        OID_ECDSA_SHA256 => Sha256::digest(&tbs).to_vec(),
        other => {
            return Err(format!(
                "signature algorithm {other}: expected ecdsa-with-SHA384 or -SHA256"
            ))
        }
    };
    let sig = cert
        .signature
        .as_bytes()
        .ok_or("signature BIT STRING has unused bits")?;
    let spki = &issuer.tbs_certificate.subject_public_key_info;
    let key = spki.subject_public_key.raw_bytes();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<x509_cert::der::asn1::ObjectIdentifier>().ok())
        .map(|o| o.to_string())
        .unwrap_or_default();
    let ok = match curve.as_str() {
        OID_CURVE_P384 => {
            let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|e| format!("issuer P-384 key: {e}"))?;
            let s = p384::ecdsa::Signature::from_der(sig).map_err(|e| format!("signature DER: {e}"))?;
            vk.verify_prehash(&digest, &s).is_ok()
        }
        OID_CURVE_P256 => {
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|e| format!("issuer P-256 key: {e}"))?;
            let s = p256::ecdsa::Signature::from_der(sig).map_err(|e| format!("signature DER: {e}"))?;
            vk.verify_prehash(&digest, &s).is_ok()
        }
        other => return Err(format!("issuer key curve {other:?}: expected P-384 or P-256")),
    };
    if ok {
        Ok(())
    } else {
        Err("signature does not verify with the issuer's key".into())
    }
}

fn is_ca(cert: &Certificate) -> bool {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == OID_BASIC_CONSTRAINTS)
        .and_then(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|bc| bc.ca)
}

fn trusted_roots(opts: &VerifyOptions) -> Result<Vec<Certificate>, NvidiaError> {
    let pinned = Certificate::from_pem(NVIDIA_DEVICE_ROOT_PEM.as_bytes())
        .expect("the pinned NVIDIA device root is a valid PEM certificate");
    let mut roots = vec![pinned];
    for (index, der) in opts.extra_roots.iter().enumerate() {
        roots.push(Certificate::from_der(der).map_err(|e| NvidiaError::BadExtraRoot {
            index,
            reason: e.to_string(),
        })?);
    }
    Ok(roots)
}

/// Checks the chain (leaf first) up to a trusted root at `opts.now`.
fn verify_chain(chain: &[Certificate], opts: &VerifyOptions) -> Result<(), NvidiaError> {
    if chain.len() < 2 {
        return Err(NvidiaError::ChainTooShort { found: chain.len() });
    }
    let now = unix(opts.now);
    for (index, cert) in chain.iter().enumerate() {
        let v = &cert.tbs_certificate.validity;
        let (nb, na) = (
            v.not_before.to_unix_duration().as_secs(),
            v.not_after.to_unix_duration().as_secs(),
        );
        if now < nb || now > na {
            return Err(NvidiaError::CertificateNotValid {
                index,
                subject: subject(cert),
                now,
                not_before: nb,
                not_after: na,
            });
        }
    }
    for (index, pair) in chain.windows(2).enumerate() {
        let (cert, issuer) = (&pair[0], &pair[1]);
        let broken = |reason: String| NvidiaError::ChainBroken {
            index,
            next: index + 1,
            subject: subject(cert),
            reason,
        };
        if !same_der(&cert.tbs_certificate.issuer, &issuer.tbs_certificate.subject) {
            return Err(broken(format!(
                "issuer is {}, the next certificate is {}",
                cert.tbs_certificate.issuer,
                subject(issuer)
            )));
        }
        if !is_ca(issuer) {
            return Err(NvidiaError::NotACa {
                index: index + 1,
                subject: subject(issuer),
            });
        }
        check_signed_by(cert, issuer).map_err(broken)?;
    }
    let last = chain.last().expect("at least 2 certificates");
    for root in trusted_roots(opts)? {
        if same_der(&root, last) {
            return Ok(());
        }
        // A chain that stops below the root: accept it when a trusted root issued its top.
        if same_der(&last.tbs_certificate.issuer, &root.tbs_certificate.subject) && check_signed_by(last, &root).is_ok()
        {
            let v = &root.tbs_certificate.validity;
            if v.not_before.to_unix_duration().as_secs() <= now && now <= v.not_after.to_unix_duration().as_secs() {
                return Ok(());
            }
        }
    }
    Err(NvidiaError::UntrustedRoot { subject: subject(last) })
}

/// The leaf's FWID: the last 48 bytes of its TCG DICE TcbInfo extension.
fn leaf_fwid(leaf: &Certificate) -> Option<Vec<u8>> {
    let ext = leaf
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == OID_TCG_DICE_TCB_INFO)?;
    let v = ext.extn_value.as_bytes();
    (v.len() >= 48).then(|| v[v.len() - 48..].to_vec())
}

/// Verifies GPU evidence: nonce, certificate chain, FWID binding and report signature.
pub fn verify(e: &NvidiaEvidence, opts: &VerifyOptions) -> Result<Verified, NvidiaError> {
    let want_nonce = opts.nonce.as_ref().ok_or(NvidiaError::NonceRequired)?;
    if want_nonce.len() != NONCE_LEN {
        return Err(NvidiaError::NonceLength {
            expected: NONCE_LEN,
            found: want_nonce.len(),
        });
    }
    let report = parse_report(&e.report)?;
    if report.request.nonce[..] != want_nonce[..] {
        return Err(NvidiaError::NonceMismatch {
            expected: hex::encode(want_nonce),
            found: hex::encode(report.request.nonce),
        });
    }

    let chain = Certificate::load_pem_chain(&e.certs).map_err(|e| NvidiaError::ChainParse { reason: e.to_string() })?;
    verify_chain(&chain, opts)?;
    let leaf = &chain[0];

    let opaque_base = report.signed_len - report.response.opaque_data.len();
    let items = opaque_items(&report.response.opaque_data, opaque_base)?;
    let cert_fwid = leaf_fwid(leaf).ok_or_else(|| NvidiaError::LeafWithoutFwid { subject: subject(leaf) })?;
    let report_fwid = items
        .iter()
        .find(|(k, _)| *k == OPAQUE_FWID)
        .map(|(_, v)| v.to_vec())
        .ok_or(NvidiaError::ReportWithoutFwid)?;
    if cert_fwid != report_fwid {
        return Err(NvidiaError::FwidMismatch {
            certificate: hex::encode(cert_fwid),
            report: hex::encode(report_fwid),
        });
    }

    let spki = &leaf.tbs_certificate.subject_public_key_info;
    let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes()).map_err(|_| {
        NvidiaError::LeafKey {
            found: spki.algorithm.oid.to_string(),
        }
    })?;
    let sig = p384::ecdsa::Signature::from_slice(&report.response.signature)
        .map_err(|_| NvidiaError::BadSignature { subject: subject(leaf) })?;
    {
        use p384::ecdsa::signature::Verifier;
        // Verifier hashes with SHA-384, P-384's digest.
        vk.verify(&e.report[..report.signed_len], &sig)
            .map_err(|_| NvidiaError::BadSignature { subject: subject(leaf) })?;
    }

    let measurements: BTreeMap<String, String> = report
        .response
        .blocks
        .iter()
        .map(|b| (b.index.to_string(), hex::encode(&b.value)))
        .collect();
    let claims = json!({
        "tee": "nvidia",
        "nonce": hex::encode(report.request.nonce),
        "responder_nonce": hex::encode(report.response.nonce),
        "measurement_blocks": report.response.blocks.len(),
        "measurements": measurements,
        "opaque": opaque_claims(&items),
        "device_cert": {
            "subject": subject(leaf),
            "serial": hex::encode(leaf.tbs_certificate.serial_number.as_bytes()),
            "issuer": leaf.tbs_certificate.issuer.to_string(),
        },
        "chain_length": chain.len(),
        "trailing_bytes": report.trailing,
    });
    tracing::debug!(blocks = report.response.blocks.len(), "nvidia evidence verified");
    Ok(Verified {
        tee: "nvidia",
        report_data: report.request.nonce.to_vec(),
        claims,
        snp: None,
        tdx: None,
    })
}
