//! The certificate method: the bundle's leaf (plus the intermediates it carries) must chain to a
//! CA certificate the caller trusts.
//!
//! Validity: `model_signing` 1.1.1 sets the OpenSSL store's clock to the leaf's `notBefore`
//! (its "max signing time") and checks every certificate of the chain at that instant, so a
//! signature made while the certificate was valid keeps verifying after it expires (there is
//! no timestamp to prove when it was made). sealrun does the same: every certificate of the
//! path, the trusted CA included, must be valid at the leaf's `notBefore`.
//!
//! Also checked, on every link: the issuer's name equals the child's issuer name, the
//! signature (ECDSA P-256/P-384/P-521 or RSA PKCS#1 v1.5, with SHA-256/384/512), the issuer's
//! basicConstraints CA:TRUE (and pathLenConstraint) and, if present, its keyUsage
//! keyCertSign; unknown critical extensions are refused. On the leaf: keyUsage
//! digitalSignature AND extendedKeyUsage codeSigning (the reference accepts either one; sealrun
//! requires both) and an ECDSA key. Any trusted certificate is a trust anchor (it need not be
//! self-signed).

use std::time::Duration;

use rsa::pkcs1::DecodeRsaPublicKey;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use x509_cert::spki::SubjectPublicKeyInfoRef;
use x509_cert::Certificate;

use super::key::{EcPublicKey, ID_EC_PUBLIC_KEY};
use super::OmsError;

const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

const EXT_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const EXT_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const EXT_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const EXT_AUTHORITY_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
const EXT_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const KP_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

/// Longest path (leaf to anchor) sealrun builds.
const MAX_DEPTH: usize = 8;

pub(crate) struct VerifiedLeaf {
    pub key: EcPublicKey,
    /// "subject (issued by …, anchor …)".
    pub description: String,
}

fn cerr(s: impl Into<String>) -> OmsError {
    OmsError::Certificate(s.into())
}

fn subject(c: &Certificate) -> String {
    c.tbs_certificate.subject.to_string()
}

fn ext(c: &Certificate, oid: ObjectIdentifier) -> Option<&x509_cert::ext::Extension> {
    c.tbs_certificate.extensions.as_ref()?.iter().find(|e| e.extn_id == oid)
}

/// Parse every PEM certificate in `pems` (each may hold several).
pub(crate) fn load_pems(pems: &[Vec<u8>], what: &str) -> Result<Vec<Certificate>, OmsError> {
    let mut out = Vec::new();
    for (i, pem) in pems.iter().enumerate() {
        let certs = Certificate::load_pem_chain(pem)
            .map_err(|e| cerr(format!("{what} #{}: not PEM certificates: {e}", i + 1)))?;
        if certs.is_empty() {
            return Err(cerr(format!("{what} #{}: no certificate", i + 1)));
        }
        out.extend(certs);
    }
    Ok(out)
}

pub(crate) fn verify_chain(chain_der: &[Vec<u8>], ca_pems: &[Vec<u8>]) -> Result<VerifiedLeaf, OmsError> {
    let anchors = load_pems(ca_pems, "trusted CA file")?;
    if anchors.is_empty() {
        return Err(cerr("no trusted CA certificate given"));
    }
    let mut chain = Vec::new();
    for (i, der) in chain_der.iter().enumerate() {
        let c = Certificate::from_der(der).map_err(|e| cerr(format!("bundle certificate #{i}: not DER X.509: {e}")))?;
        chain.push(c);
    }
    let leaf = &chain[0];
    let at = leaf.tbs_certificate.validity.not_before.to_unix_duration();

    check_leaf(leaf)?;
    check_validity(leaf, at)?;
    let spki = spki_ref(leaf)?;
    let key = EcPublicKey::from_spki(&spki).map_err(|e| cerr(format!("leaf {:?}: {e}", subject(leaf))))?;

    // Walk up from the leaf: a trusted anchor ends the path, a bundle intermediate extends it.
    let mut path: Vec<&Certificate> = vec![leaf];
    let mut used = vec![false; chain.len()];
    used[0] = true;
    loop {
        let current = *path.last().expect("path starts with the leaf");
        let depth = path.len(); // number of certificates below the next issuer, plus one
        if depth > MAX_DEPTH {
            return Err(cerr(format!("no path to a trusted CA within {MAX_DEPTH} certificates")));
        }
        let mut last_err = None;
        for anchor in &anchors {
            if anchor.tbs_certificate.subject != current.tbs_certificate.issuer {
                continue;
            }
            match check_link(current, anchor, depth - 1, at) {
                Ok(()) => {
                    let description = format!(
                        "certificate {:?} (issued by {:?}, trusted CA {:?})",
                        subject(leaf),
                        leaf.tbs_certificate.issuer.to_string(),
                        subject(anchor)
                    );
                    return Ok(VerifiedLeaf { key, description });
                }
                Err(e) => last_err = Some(e),
            }
        }
        let mut next = None;
        for (i, c) in chain.iter().enumerate() {
            if used[i] || c.tbs_certificate.subject != current.tbs_certificate.issuer {
                continue;
            }
            match check_link(current, c, depth - 1, at) {
                Ok(()) => {
                    next = Some(i);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        match next {
            Some(i) => {
                used[i] = true;
                path.push(&chain[i]);
            }
            None => {
                return Err(last_err.unwrap_or_else(|| {
                    cerr(format!(
                        "{:?}: issuer {:?} is neither a trusted CA nor in the bundle's chain",
                        subject(current),
                        current.tbs_certificate.issuer.to_string()
                    ))
                }))
            }
        }
    }
}

fn spki_ref(c: &Certificate) -> Result<SubjectPublicKeyInfoRef<'_>, OmsError> {
    let spki = &c.tbs_certificate.subject_public_key_info;
    let params = spki.algorithm.parameters.as_ref().map(|p| p.into());
    Ok(SubjectPublicKeyInfoRef {
        algorithm: x509_cert::spki::AlgorithmIdentifier {
            oid: spki.algorithm.oid,
            parameters: params,
        },
        subject_public_key: x509_cert::der::asn1::BitStringRef::from(&spki.subject_public_key),
    })
}

fn check_validity(c: &Certificate, at: Duration) -> Result<(), OmsError> {
    let v = &c.tbs_certificate.validity;
    if at < v.not_before.to_unix_duration() || at > v.not_after.to_unix_duration() {
        return Err(cerr(format!(
            "{:?}: validity expected to cover {} (the leaf's notBefore, when it signed) found {} .. {}",
            subject(c),
            v_time(at),
            v.not_before,
            v.not_after
        )));
    }
    Ok(())
}

fn v_time(d: Duration) -> String {
    x509_cert::der::asn1::GeneralizedTime::from_unix_duration(d)
        .map(|t| t.to_date_time().to_string())
        .unwrap_or_else(|_| format!("{}s", d.as_secs()))
}

fn check_critical(c: &Certificate, handled: &[ObjectIdentifier]) -> Result<(), OmsError> {
    for e in c.tbs_certificate.extensions.iter().flatten() {
        if e.critical && !handled.contains(&e.extn_id) {
            return Err(cerr(format!(
                "{:?}: unsupported critical extension {}",
                subject(c),
                e.extn_id
            )));
        }
    }
    Ok(())
}

fn check_leaf(leaf: &Certificate) -> Result<(), OmsError> {
    let s = subject(leaf);
    check_critical(
        leaf,
        &[
            EXT_BASIC_CONSTRAINTS,
            EXT_KEY_USAGE,
            EXT_EXT_KEY_USAGE,
            EXT_SUBJECT_ALT_NAME,
        ],
    )?;
    let ku = ext(leaf, EXT_KEY_USAGE).ok_or_else(|| {
        cerr(format!(
            "leaf {s:?}: keyUsage expected digitalSignature found no keyUsage extension"
        ))
    })?;
    let ku = KeyUsage::from_der(ku.extn_value.as_bytes()).map_err(|e| cerr(format!("leaf {s:?}: keyUsage: {e}")))?;
    if !ku.digital_signature() {
        return Err(cerr(format!(
            "leaf {s:?}: keyUsage expected digitalSignature found {:?}",
            ku.0
        )));
    }
    let eku = ext(leaf, EXT_EXT_KEY_USAGE).ok_or_else(|| {
        cerr(format!(
            "leaf {s:?}: extendedKeyUsage expected codeSigning found no extendedKeyUsage extension"
        ))
    })?;
    let eku = ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
        .map_err(|e| cerr(format!("leaf {s:?}: extendedKeyUsage: {e}")))?;
    if !eku.0.contains(&KP_CODE_SIGNING) {
        let found: Vec<String> = eku.0.iter().map(|o| o.to_string()).collect();
        return Err(cerr(format!(
            "leaf {s:?}: extendedKeyUsage expected codeSigning (1.3.6.1.5.5.7.3.3) found {found:?}"
        )));
    }
    Ok(())
}

/// `child` is signed by `issuer`, which is a CA allowed `below` CA certificates under it.
fn check_link(child: &Certificate, issuer: &Certificate, below: usize, at: Duration) -> Result<(), OmsError> {
    let is = subject(issuer);
    check_critical(
        issuer,
        &[
            EXT_BASIC_CONSTRAINTS,
            EXT_KEY_USAGE,
            EXT_EXT_KEY_USAGE,
            EXT_SUBJECT_ALT_NAME,
            EXT_AUTHORITY_KEY_ID,
            EXT_SUBJECT_KEY_ID,
        ],
    )?;
    let bc = ext(issuer, EXT_BASIC_CONSTRAINTS).ok_or_else(|| {
        cerr(format!(
            "issuer {is:?}: basicConstraints expected CA:TRUE found no basicConstraints"
        ))
    })?;
    let bc = BasicConstraints::from_der(bc.extn_value.as_bytes())
        .map_err(|e| cerr(format!("issuer {is:?}: basicConstraints: {e}")))?;
    if !bc.ca {
        return Err(cerr(format!(
            "issuer {is:?}: basicConstraints expected CA:TRUE found CA:FALSE"
        )));
    }
    // `below` counts the certificates under this issuer other than the leaf.
    if let Some(max) = bc.path_len_constraint {
        if below > max as usize {
            return Err(cerr(format!(
                "issuer {is:?}: pathLenConstraint {max} but {below} CA certificates below it"
            )));
        }
    }
    if let Some(ku) = ext(issuer, EXT_KEY_USAGE) {
        let ku =
            KeyUsage::from_der(ku.extn_value.as_bytes()).map_err(|e| cerr(format!("issuer {is:?}: keyUsage: {e}")))?;
        if !ku.key_cert_sign() {
            return Err(cerr(format!(
                "issuer {is:?}: keyUsage expected keyCertSign found {:?}",
                ku.0
            )));
        }
    }
    check_validity(issuer, at)?;
    verify_signature(child, issuer)
}

fn verify_signature(child: &Certificate, issuer: &Certificate) -> Result<(), OmsError> {
    let cs = subject(child);
    let is = subject(issuer);
    let tbs = child
        .tbs_certificate
        .to_der()
        .map_err(|e| cerr(format!("{cs:?}: re-encoding: {e}")))?;
    let alg = child.signature_algorithm.oid;
    let sig = child
        .signature
        .as_bytes()
        .ok_or_else(|| cerr(format!("{cs:?}: signature is not whole bytes")))?;
    let digest: Vec<u8> = match alg {
        ECDSA_SHA256 | RSA_SHA256 => Sha256::digest(&tbs).to_vec(),
        ECDSA_SHA384 | RSA_SHA384 => Sha384::digest(&tbs).to_vec(),
        ECDSA_SHA512 | RSA_SHA512 => Sha512::digest(&tbs).to_vec(),
        other => return Err(cerr(format!("{cs:?}: unsupported signature algorithm {other}"))),
    };
    let spki = spki_ref(issuer)?;
    let ok = match alg {
        ECDSA_SHA256 | ECDSA_SHA384 | ECDSA_SHA512 => {
            if spki.algorithm.oid != ID_EC_PUBLIC_KEY {
                return Err(cerr(format!(
                    "{cs:?}: ECDSA signature but issuer {is:?} has a {} key",
                    spki.algorithm.oid
                )));
            }
            let k = EcPublicKey::from_spki(&spki).map_err(|e| cerr(format!("issuer {is:?}: {e}")))?;
            k.verify_prehash(&digest, sig)
        }
        _ => {
            if spki.algorithm.oid != RSA_ENCRYPTION {
                return Err(cerr(format!(
                    "{cs:?}: RSA signature but issuer {is:?} has a {} key",
                    spki.algorithm.oid
                )));
            }
            let k = rsa::RsaPublicKey::from_pkcs1_der(spki.subject_public_key.raw_bytes())
                .map_err(|e| cerr(format!("issuer {is:?}: RSA key: {e}")))?;
            let scheme = match alg {
                RSA_SHA256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
                RSA_SHA384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
                _ => rsa::Pkcs1v15Sign::new::<Sha512>(),
            };
            k.verify(scheme, &digest, sig).is_ok()
        }
    };
    if !ok {
        return Err(cerr(format!(
            "{cs:?}: signature does not verify with the key of issuer {is:?}"
        )));
    }
    Ok(())
}
