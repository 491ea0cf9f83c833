//! SEV-SNP evidence against the real reports in the fixtures (README verdict table) and
//! against synthetic reports signed by the fixtures' test PKI.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sealrun_attest::evidence::snp::{self, SnpError, SnpEvidence};
use sealrun_attest::evidence::{verify, Evidence, EvidenceError, Verified, VerifyOptions};
use sealrun_policy::attestation::{Attestation, Snp, TeeKind};

use p384::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use x509_cert::der::asn1::{BitString, Ia5StringRef, OctetString};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate};

fn fixtures() -> PathBuf {
    match std::env::var_os("SEALRUN_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    }
}

fn fixture(rel: &str) -> Vec<u8> {
    let p = fixtures().join("attest/snp").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading fixture {}: {e}", p.display()))
}

/// 2025-06-01T00:00:00Z: inside every fixture certificate's validity.
fn june_2025() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_748_736_000)
}

fn at(now: SystemTime) -> VerifyOptions {
    VerifyOptions::at(now)
}

fn snp_verify(e: SnpEvidence, opts: &VerifyOptions) -> Result<Verified, SnpError> {
    match verify(&Evidence::Snp(e), opts) {
        Ok(v) => Ok(v),
        Err(EvidenceError::Snp(e)) => Err(e),
        Err(other) => panic!("not an snp error: {other}"),
    }
}

fn virtee_milan() -> SnpEvidence {
    let hex_text = String::from_utf8(fixture("virtee-milan/report_milan.hex")).unwrap();
    SnpEvidence {
        report: hex::decode(hex_text.trim()).unwrap(),
        vcek: Some(fixture("virtee-milan/vcek_milan.der")),
        chain: Some(fixture("virtee-milan/cert_chain_milan")),
    }
}

fn tcb(v: &Verified) -> (u8, u8, u8, u8) {
    let t = v.snp.as_ref().unwrap().reported_tcb;
    (t.bootloader, t.tee, t.snp, t.microcode)
}

fn policy_allowing(v: &Verified) -> Attestation {
    Attestation {
        tee: vec![TeeKind::Snp],
        snp: Snp {
            measurements: vec![v.snp.as_ref().unwrap().measurement.clone()],
            ..Snp::default()
        },
        ..Attestation::default()
    }
}

#[test]
fn virtee_milan_is_valid_with_its_tcb() {
    let v = snp_verify(virtee_milan(), &at(june_2025())).unwrap();
    assert_eq!(v.tee, "snp");
    assert_eq!(tcb(&v), (3, 0, 8, 115));
    let c = v.snp.as_ref().unwrap();
    assert_eq!(c.vmpl, 0);
    assert!(!c.debug);
    assert_eq!(v.claims["product"], "Milan");
    assert_eq!(v.claims["signing_key"], "vcek");
    assert_eq!(v.claims["root"], "amd");
    assert_eq!(v.claims["reported_tcb"]["microcode"], 115);
    assert_eq!(v.report_data.len(), 64);
    assert_eq!(hex::encode(&v.report_data), v.claims["report_data"].as_str().unwrap());
    // Appraisal of the real claims: its own measurement passes a strict policy.
    assert!(policy_allowing(&v).appraise_snp(c).allowed);
}

#[test]
fn virtee_milan_verifies_without_a_chain_through_the_pinned_ask() {
    let e = SnpEvidence {
        chain: None,
        ..virtee_milan()
    };
    assert_eq!(tcb(&snp_verify(e, &at(june_2025())).unwrap()), (3, 0, 8, 115));
}

#[test]
fn virtee_milan_vcek_is_not_valid_before_its_not_before() {
    // 2023-01-01: the VCEK is valid from 2023-04-03.
    let err = snp_verify(virtee_milan(), &at(UNIX_EPOCH + Duration::from_secs(1_672_531_200))).unwrap_err();
    assert!(matches!(err, SnpError::CertExpired { which: "VCEK", .. }), "{err}");
}

#[test]
fn trustee_vcek_is_valid() {
    let e = SnpEvidence {
        report: fixture("trustee-vcek/test-report.bin"),
        vcek: Some(fixture("trustee-vcek/test-vcek.der")),
        chain: None,
    };
    let v = snp_verify(e, &at(june_2025())).unwrap();
    assert_eq!(tcb(&v), (3, 0, 8, 115));
    assert!(!v.snp.as_ref().unwrap().debug);
    assert_eq!(
        &v.report_data[32..],
        &[0u8; 32],
        "report_data = 32-byte digest + 32 zero bytes"
    );
    assert_ne!(&v.report_data[..32], &[0u8; 32]);
}

fn trustee_vlek() -> SnpEvidence {
    SnpEvidence {
        report: fixture("trustee-vlek-vmpl1/test-vlek-report.bin"),
        vcek: Some(fixture("trustee-vlek-vmpl1/test-vlek.der")),
        chain: Some(fixture("trustee-vlek-vmpl1/milan_ask_ark_asvk.pem")),
    }
}

#[test]
fn trustee_vlek_vmpl1_is_valid_in_2025_and_refused_by_a_vmpl0_policy() {
    let v = snp_verify(trustee_vlek(), &at(june_2025())).unwrap();
    assert_eq!(v.claims["signing_key"], "vlek");
    let c = v.snp.as_ref().unwrap();
    assert_eq!(c.vmpl, 1);
    let mut policy = policy_allowing(&v);
    assert!(policy.appraise_snp(c).allowed, "any vmpl");
    policy.snp.vmpl = Some(0);
    let d = policy.appraise_snp(c);
    assert!(!d.allowed);
    let failed: Vec<&str> = d.failures().map(|c| c.rule.as_str()).collect();
    assert_eq!(failed, ["attestation.snp.vmpl"]);
}

#[test]
fn trustee_vlek_is_expired_in_2026() {
    // 2026-01-01: the VLEK certificate expired 2025-12-10.
    let err = snp_verify(trustee_vlek(), &at(UNIX_EPOCH + Duration::from_secs(1_767_225_600))).unwrap_err();
    assert!(matches!(err, SnpError::CertExpired { which: "VLEK", .. }), "{err}");
}

#[test]
fn gosev_debug_is_valid_but_refused_by_a_no_debug_policy() {
    let e = SnpEvidence {
        report: fixture("gosev-debug/attestation.bin"),
        vcek: Some(fixture("gosev-debug/vcek.testcer")),
        chain: Some(fixture("gosev-debug/ask_ark_milan.pem")),
    };
    let v = snp_verify(e, &at(june_2025())).unwrap();
    assert_eq!(tcb(&v), (2, 0, 5, 68));
    let c = v.snp.as_ref().unwrap();
    assert!(c.debug);
    assert_eq!(v.claims["policy"]["debug"], true);
    let mut policy = policy_allowing(&v);
    let d = policy.appraise_snp(c);
    assert!(!d.allowed);
    assert_eq!(
        d.failures().map(|c| c.rule.as_str()).collect::<Vec<_>>(),
        ["attestation.snp.allow_debug"]
    );
    policy.snp.allow_debug = true;
    assert!(policy.appraise_snp(c).allowed);
}

#[test]
fn a_flipped_report_byte_fails_the_signature() {
    for offset in [
        0x50,  /* report_data */
        0x90,  /* measurement */
        0x2A0, /* signature R */
    ] {
        let mut e = virtee_milan();
        e.report[offset] ^= 0x01;
        let err = snp_verify(e, &at(june_2025())).unwrap_err();
        assert!(matches!(err, SnpError::Signature(_)), "offset {offset:#x}: {err}");
    }
}

#[test]
fn a_vcek_of_another_chip_fails() {
    let e = SnpEvidence {
        vcek: Some(fixture("trustee-vcek/test-vcek.der")),
        ..virtee_milan()
    };
    let err = snp_verify(e, &at(june_2025())).unwrap_err();
    // Another chip's VCEK has another key: the signature check refuses it (the synthetic
    // tests below reach the hwID check with a key that does sign).
    assert!(
        matches!(err, SnpError::Signature(_) | SnpError::Extension { name: "hwID", .. }),
        "{err}"
    );
}

#[test]
fn a_truncated_report_and_a_missing_vcek_are_refused() {
    let mut e = virtee_milan();
    e.report.truncate(1000);
    assert!(matches!(
        snp_verify(e, &at(june_2025())).unwrap_err(),
        SnpError::ReportLength(1000)
    ));
    let e = SnpEvidence {
        vcek: None,
        ..virtee_milan()
    };
    assert!(matches!(
        snp_verify(e, &at(june_2025())).unwrap_err(),
        SnpError::MissingVek
    ));
}

#[test]
fn other_pinned_certificates_in_the_chain_are_harmless() {
    // The Turin ASK and ARK appended to a Milan chain: pinned, but unrelated.
    let mut chain = fixture("virtee-milan/cert_chain_milan");
    chain.extend(fixture("virtee-turin-chain/cert_chain_turin"));
    let e = SnpEvidence {
        chain: Some(chain),
        ..virtee_milan()
    };
    // Extra pinned roots in the chain are harmless: the Milan chain is still found.
    snp_verify(e, &at(june_2025())).unwrap();
}

// ---- synthetic reports signed by the test PKI ----

/// Deterministic randomness for RSA-PSS salts: test certificates need no secrecy.
struct TestRng(u64);
impl rsa::rand_core::RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rsa::rand_core::CryptoRng for TestRng {}

fn rsa_key(name: &str) -> rsa::RsaPrivateKey {
    let pem = String::from_utf8(fixture(&format!("test-keys/{name}_private_key.pem"))).unwrap();
    rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap()
}

fn ec_key(name: &str) -> p384::ecdsa::SigningKey {
    let pem = String::from_utf8(fixture(&format!("test-keys/{name}_private_key.pem"))).unwrap();
    p384::ecdsa::SigningKey::from_pkcs8_pem(&pem).unwrap()
}

const CHIP_ID: [u8; 64] = [0xC1; 64];
const TCB: [u8; 4] = [3, 0, 8, 115]; // bootloader, tee, snp, microcode

/// What goes into the synthetic VCEK certificate; each test changes one thing.
struct VcekSpec {
    spl: [u8; 4],
    hwid: Vec<u8>,
    product: &'static str,
    not_after: SystemTime,
}

impl Default for VcekSpec {
    fn default() -> Self {
        VcekSpec {
            spl: TCB,
            hwid: CHIP_ID.to_vec(),
            product: "Milan-B0",
            not_after: UNIX_EPOCH + Duration::from_secs(2_000_000_000),
        }
    }
}

struct TestPki {
    ark: Certificate,
    ask: Certificate,
    vcek: Certificate,
}

impl TestPki {
    fn chain_pem(&self, with_ark: bool) -> Vec<u8> {
        use x509_cert::der::EncodePem;
        let lf = x509_cert::der::pem::LineEnding::LF;
        let mut pem = self.ask.to_pem(lf).unwrap();
        if with_ark {
            pem.push_str(&self.ark.to_pem(lf).unwrap());
        }
        pem.into_bytes()
    }
}

/// RSASSA-PSS (SHA-384, MGF1-SHA-384, salt 48) as AMD signs: the algorithm identifier
/// is taken from a real VCEK.
fn pss_algorithm() -> x509_cert::spki::AlgorithmIdentifierOwned {
    Certificate::from_der(&fixture("virtee-milan/vcek_milan.der"))
        .unwrap()
        .signature_algorithm
}

fn ext(oid: &str, value: Vec<u8>) -> Extension {
    Extension {
        extn_id: ObjectIdentifier::new_unwrap(oid),
        critical: false,
        extn_value: OctetString::new(value).unwrap(),
    }
}

fn issue(
    subject: &str,
    issuer: &str,
    spki: SubjectPublicKeyInfoOwned,
    signer: &rsa::RsaPrivateKey,
    not_after: SystemTime,
    extensions: Option<Vec<Extension>>,
) -> Certificate {
    let tbs = TbsCertificate {
        version: x509_cert::Version::V3,
        serial_number: SerialNumber::new(&[1]).unwrap(),
        signature: pss_algorithm(),
        issuer: Name::from_str(issuer).unwrap(),
        validity: Validity {
            not_before: Time::try_from(UNIX_EPOCH + Duration::from_secs(1_600_000_000)).unwrap(),
            not_after: Time::try_from(not_after).unwrap(),
        },
        subject: Name::from_str(subject).unwrap(),
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions,
    };
    let key = rsa::pss::SigningKey::<sha2::Sha384>::new(signer.clone());
    let sig = key.sign_with_rng(&mut TestRng(7), &tbs.to_der().unwrap());
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm: pss_algorithm(),
        signature: BitString::from_bytes(&sig.to_bytes()).unwrap(),
    }
}

const ARK_NAME: &str = "CN=ARK-Milan,O=sealrun test PKI";
const ASK_NAME: &str = "CN=SEV-Milan,O=sealrun test PKI";
const VCEK_NAME: &str = "CN=SEV-VCEK,O=sealrun test PKI";

fn test_pki(spec: &VcekSpec) -> TestPki {
    let (ark_key, ask_key) = (rsa_key("ark"), rsa_key("ask"));
    let spki_rsa = |k: &rsa::RsaPrivateKey| {
        SubjectPublicKeyInfoOwned::from_der(k.to_public_key().to_public_key_der().unwrap().as_bytes()).unwrap()
    };
    let far = UNIX_EPOCH + Duration::from_secs(2_500_000_000);
    let ark = issue(ARK_NAME, ARK_NAME, spki_rsa(&ark_key), &ark_key, far, None);
    let ask = issue(ASK_NAME, ARK_NAME, spki_rsa(&ask_key), &ark_key, far, None);
    let vcek_pub = p384::PublicKey::from(ec_key("vcek").verifying_key());
    let vcek_spki = SubjectPublicKeyInfoOwned::from_der(vcek_pub.to_public_key_der().unwrap().as_bytes()).unwrap();
    let int = |n: u8| n.to_der().unwrap();
    let exts = vec![
        ext(
            "1.3.6.1.4.1.3704.1.2",
            Ia5StringRef::new(spec.product).unwrap().to_der().unwrap(),
        ),
        ext("1.3.6.1.4.1.3704.1.3.1", int(spec.spl[0])),
        ext("1.3.6.1.4.1.3704.1.3.2", int(spec.spl[1])),
        ext("1.3.6.1.4.1.3704.1.3.3", int(spec.spl[2])),
        ext("1.3.6.1.4.1.3704.1.3.8", int(spec.spl[3])),
        ext("1.3.6.1.4.1.3704.1.4", spec.hwid.clone()),
    ];
    let vcek = issue(VCEK_NAME, ASK_NAME, vcek_spki, &ask_key, spec.not_after, Some(exts));
    TestPki { ark, ask, vcek }
}

/// A version-3 Milan report (ABI spec layout) binding `report_data`, signed by the test VCEK key.
fn synthetic_report(report_data: &[u8; 64]) -> Vec<u8> {
    let mut r = vec![0u8; snp::REPORT_LEN];
    r[0x00..0x04].copy_from_slice(&3u32.to_le_bytes()); // version
    r[0x08..0x10].copy_from_slice(&0x3_0000u64.to_le_bytes()); // policy: SMT, reserved bit 17
    r[0x34..0x38].copy_from_slice(&1u32.to_le_bytes()); // sig_algo: ECDSA P-384 SHA-384
    let tcb = [TCB[0], TCB[1], 0, 0, 0, 0, TCB[2], TCB[3]]; // Milan TCB_VERSION layout
    for off in [0x38, 0x180, 0x1E0, 0x1F0] {
        r[off..off + 8].copy_from_slice(&tcb); // current, reported, committed, launch
    }
    r[0x50..0x90].copy_from_slice(report_data);
    r[0x90..0xC0].copy_from_slice(&[0xAB; 48]); // measurement
    r[0x188] = 0x19; // CPUID family: Milan
    r[0x189] = 0x01; // model
    r[0x1A0..0x1E0].copy_from_slice(&CHIP_ID);
    let sig: p384::ecdsa::Signature = p384::ecdsa::signature::Signer::sign(&ec_key("vcek"), &r[..0x2A0]);
    let (rb, sb) = sig.split_bytes();
    for (field, be) in [(0x2A0, rb), (0x2A0 + 72, sb)] {
        for (i, b) in be.iter().rev().enumerate() {
            r[field + i] = *b; // little-endian
        }
    }
    r
}

fn synthetic(spec: &VcekSpec, report_data: &[u8; 64]) -> (SnpEvidence, TestPki) {
    let pki = test_pki(spec);
    let e = SnpEvidence {
        report: synthetic_report(report_data),
        vcek: Some(pki.vcek.to_der().unwrap()),
        chain: Some(pki.chain_pem(true)),
    };
    (e, pki)
}

fn with_root(pki: &TestPki) -> VerifyOptions {
    VerifyOptions {
        extra_roots: vec![pki.ark.to_der().unwrap()],
        ..at(june_2025())
    }
}

#[test]
fn synthetic_report_verifies_only_with_the_test_ark_in_extra_roots() {
    let mut rd = [0u8; 64];
    rd[..16].copy_from_slice(b"sealrun-nonce-01");
    let (e, pki) = synthetic(&VcekSpec::default(), &rd);

    let v = snp_verify(e.clone(), &with_root(&pki)).unwrap();
    assert_eq!(v.report_data, rd.to_vec());
    assert_eq!(tcb(&v), (3, 0, 8, 115));
    assert_eq!(v.claims["root"], "extra_roots");
    assert_eq!(v.claims["chip_id"], hex::encode(CHIP_ID));
    assert_eq!(v.snp.as_ref().unwrap().measurement, hex::encode([0xAB; 48]));

    // Without the test root: the ARK in the chain is not pinned.
    let err = snp_verify(e.clone(), &at(june_2025())).unwrap_err();
    assert!(matches!(err, SnpError::UntrustedArk { .. }), "{err}");
    // And without the ARK in the chain, no trusted root issues the test ASK.
    let e2 = SnpEvidence {
        chain: Some(pki.chain_pem(false)),
        ..e
    };
    let err = snp_verify(e2.clone(), &at(june_2025())).unwrap_err();
    assert!(matches!(err, SnpError::NoTrustedChain { .. }), "{err}");
    snp_verify(e2, &with_root(&pki)).unwrap();
}

#[test]
fn synthetic_report_with_other_report_data_is_not_confused() {
    let (e, pki) = synthetic(&VcekSpec::default(), &[0x11; 64]);
    let mut tampered = e.clone();
    tampered.report[0x50] = 0x12; // a different nonce, same signature
    assert!(matches!(
        snp_verify(tampered, &with_root(&pki)).unwrap_err(),
        SnpError::Signature(_)
    ));
    assert_eq!(snp_verify(e, &with_root(&pki)).unwrap().report_data, vec![0x11; 64]);
}

#[test]
fn a_wrong_tcb_extension_fails() {
    let spec = VcekSpec {
        spl: [3, 0, 8, 116],
        ..VcekSpec::default()
    };
    let (e, pki) = synthetic(&spec, &[0; 64]);
    let err = snp_verify(e, &with_root(&pki)).unwrap_err();
    assert!(
        matches!(
            err,
            SnpError::Extension {
                name: "microcode SPL",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("expected 115"), "{err}");

    let spec = VcekSpec {
        spl: [2, 0, 8, 115],
        ..VcekSpec::default()
    };
    let (e, pki) = synthetic(&spec, &[0; 64]);
    let err = snp_verify(e, &with_root(&pki)).unwrap_err();
    assert!(
        matches!(
            err,
            SnpError::Extension {
                name: "bootloader SPL",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_vcek_with_another_chip_id_fails_the_hwid_check() {
    let spec = VcekSpec {
        hwid: vec![0xC2; 64],
        ..VcekSpec::default()
    };
    let (e, pki) = synthetic(&spec, &[0; 64]);
    let err = snp_verify(e, &with_root(&pki)).unwrap_err();
    assert!(matches!(err, SnpError::Extension { name: "hwID", .. }), "{err}");
}

#[test]
fn a_vcek_of_another_product_fails() {
    let spec = VcekSpec {
        product: "Genoa-B1",
        ..VcekSpec::default()
    };
    let (e, pki) = synthetic(&spec, &[0; 64]);
    let err = snp_verify(e, &with_root(&pki)).unwrap_err();
    assert!(
        matches!(
            err,
            SnpError::Extension {
                name: "product name",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn an_expired_synthetic_vcek_fails() {
    let spec = VcekSpec {
        not_after: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        ..VcekSpec::default()
    };
    let (e, pki) = synthetic(&spec, &[0; 64]);
    let err = snp_verify(e, &with_root(&pki)).unwrap_err();
    assert!(matches!(err, SnpError::CertExpired { which: "VCEK", .. }), "{err}");
}

#[test]
fn virtee_turin_chain_is_valid_against_the_pinned_turin_root() {
    let vek = fixture("virtee-turin-chain/vcek_turin.der");
    let chain = fixture("virtee-turin-chain/cert_chain_turin");
    let product = snp::verify_vek_chain(&vek, Some(&chain), snp::SigningKey::Vcek, &at(june_2025())).unwrap();
    assert_eq!(product, "Turin");
    // Also through the pinned Turin ASK alone.
    assert_eq!(
        snp::verify_vek_chain(&vek, None, snp::SigningKey::Vcek, &at(june_2025())).unwrap(),
        "Turin"
    );
    // A Milan chain does not issue it.
    let err = snp::verify_vek_chain(
        &vek,
        Some(&fixture("virtee-milan/cert_chain_milan")),
        snp::SigningKey::Vcek,
        &at(june_2025()),
    )
    .unwrap_err();
    assert!(matches!(err, SnpError::NoTrustedChain { .. }), "{err}");
    // A VCEK is not a VLEK.
    let err = snp::verify_vek_chain(&vek, Some(&chain), snp::SigningKey::Vlek, &at(june_2025())).unwrap_err();
    assert!(matches!(err, SnpError::Extension { name: "subject CN", .. }), "{err}");
}

/// A CRL issued by the test ARK name, signed by `signer`, revoking `serials`.
fn crl(signer: &rsa::RsaPrivateKey, serials: &[u8], next_update: SystemTime) -> Vec<u8> {
    use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
    let at = |secs: u64| Time::try_from(UNIX_EPOCH + Duration::from_secs(secs)).unwrap();
    let revoked: Vec<RevokedCert> = serials
        .iter()
        .map(|s| RevokedCert {
            serial_number: SerialNumber::new(&[*s]).unwrap(),
            revocation_date: at(1_700_000_000),
            crl_entry_extensions: None,
        })
        .collect();
    let tbs = TbsCertList {
        version: x509_cert::Version::V2,
        signature: pss_algorithm(),
        issuer: Name::from_str(ARK_NAME).unwrap(),
        this_update: at(1_600_000_000),
        next_update: Some(Time::try_from(next_update).unwrap()),
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: None,
    };
    let key = rsa::pss::SigningKey::<sha2::Sha384>::new(signer.clone());
    let sig = key.sign_with_rng(&mut TestRng(9), &tbs.to_der().unwrap());
    CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: pss_algorithm(),
        signature: BitString::from_bytes(&sig.to_bytes()).unwrap(),
    }
    .to_der()
    .unwrap()
}

#[test]
fn crls_from_the_ark_revoke_certificates_of_the_chain() {
    let (e, pki) = synthetic(&VcekSpec::default(), &[0x22; 64]);
    let opts = with_root(&pki);
    let far = UNIX_EPOCH + Duration::from_secs(2_400_000_000);
    let ark_key = rsa_key("ark");
    // A current CRL that revokes another serial: verified.
    snp::verify_with_crls(&e, &[crl(&ark_key, &[2], far)], &opts).unwrap();
    // The same as PEM.
    use base64::Engine as _;
    let pem = format!(
        "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
        base64::engine::general_purpose::STANDARD.encode(crl(&ark_key, &[], far))
    );
    snp::verify_with_crls(&e, &[pem.into_bytes()], &opts).unwrap();
    // Serial 1 (the test ASK's and VCEK's) revoked.
    let err = snp::verify_with_crls(&e, &[crl(&ark_key, &[1], far)], &opts).unwrap_err();
    assert!(matches!(err, SnpError::Revoked { index: 0, .. }), "{err}");
    // Signed by another key than the ARK's.
    let err = snp::verify_with_crls(&e, &[crl(&rsa_key("ask"), &[], far)], &opts).unwrap_err();
    assert!(err.to_string().contains("does not verify with the ARK"), "{err}");
    // Past its nextUpdate at the verification clock.
    let stale = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let err = snp::verify_with_crls(&e, &[crl(&ark_key, &[], stale)], &opts).unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    // Garbage.
    let err = snp::verify_with_crls(&e, &[b"not a crl".to_vec()], &opts).unwrap_err();
    assert!(matches!(err, SnpError::Crl { index: 0, .. }), "{err}");
}
