//! Offline Sigstore bundle verification against real bundles: the OpenSSF model-signing
//! upstream keyless bundles (fixtures), and sigstore-rust's cosign and managed-key bundles
//! (tests/data/sigstore-rust, Apache-2.0).

use std::path::{Path, PathBuf};

use sealrun_image::sigstore::{
    load_trusted_root, verify_bundle, verify_bundle_with_key, verify_bundle_with_root, Artifact, KeyPolicy,
    SigstoreError, SigstorePolicy, SigstoreVerifyError,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

const IDENTITY: &str = "stefanb@us.ibm.com";
const ISSUER: &str = "https://sigstore.verify.ibm.com/oauth2";

fn fixtures() -> PathBuf {
    match std::env::var_os("SEALRUN_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    }
}

fn oms() -> PathBuf {
    fixtures().join("signing/oms-upstream")
}

fn trust_config() -> PathBuf {
    oms().join("trust_config.json")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sigstore-rust")
        .join(name)
}

fn bundle(version: &str) -> Vec<u8> {
    std::fs::read(oms().join(version).join("model.sig")).unwrap()
}

fn policy<'a>(identity: &'a str, issuer: &'a str, root: &'a Path) -> SigstorePolicy<'a> {
    SigstorePolicy {
        identity,
        issuer,
        trusted_root: root,
        require_tlog: true,
        require_timestamp: false,
    }
}

/// Parse, change, re-serialise a bundle.
fn edit(bundle: &[u8], f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(bundle).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn b64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn b64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, &b| (acc << 8) | b as u32) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
        }
        out.push_str(&"=".repeat(3 - chunk.len()));
    }
    out
}

/// Apply `f` to the decoded bytes of a base64 string field.
fn edit_b64(field: &mut Value, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = b64_decode(field.as_str().unwrap());
    f(&mut bytes);
    *field = Value::String(b64_encode(&bytes));
}

#[test]
fn base64_helpers_round_trip() {
    for s in ["", "a", "ab", "abc", "abcd"] {
        assert_eq!(b64_decode(&b64_encode(s.as_bytes())), s.as_bytes());
    }
    assert_eq!(b64_encode(b"ab"), "YWI=");
}

#[test]
fn oms_v1_1_0_verifies_with_trust_config() {
    let root = trust_config();
    let v = verify_bundle(
        &bundle("v1.1.0-sigstore"),
        Artifact::Dsse,
        &policy(IDENTITY, ISSUER, &root),
    )
    .unwrap();
    assert_eq!(v.identity, IDENTITY);
    assert_eq!(v.issuer, ISSUER);
    assert_eq!(v.payload_type.as_deref(), Some("application/vnd.in-toto+json"));
    let statement: Value = serde_json::from_slice(v.payload.as_ref().unwrap()).unwrap();
    assert_eq!(statement["predicateType"], "https://model_signing/signature/v1.0");
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        "61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226"
    );
    assert!(v.tlog_verified);
    // One RFC 3161 timestamp and one SET-authenticated integrated time.
    assert_eq!(v.verified_times.len(), 2, "{:?}", v.verified_times);
    assert_eq!(v.signed_at, Some(1760062340));
}

#[test]
fn oms_v1_1_0_verifies_with_require_timestamp_and_globs() {
    let root = trust_config();
    for identity in ["stefanb@*", "*@us.ibm.com", "*", "s*b@us.*.com"] {
        let mut p = policy(identity, ISSUER, &root);
        p.require_timestamp = true;
        let v =
            verify_bundle(&bundle("v1.1.0-sigstore"), Artifact::Dsse, &p).unwrap_or_else(|e| panic!("{identity}: {e}"));
        assert_eq!(v.identity, IDENTITY);
    }
}

#[test]
fn oms_v1_0_0_verifies_by_its_tlog_time() {
    let root = trust_config();
    let v = verify_bundle(
        &bundle("v1.0.0-sigstore"),
        Artifact::Dsse,
        &policy(IDENTITY, ISSUER, &root),
    )
    .unwrap();
    assert_eq!(v.identity, IDENTITY);
    assert!(v.tlog_verified);
    // No RFC 3161 timestamp in this bundle: the SET's integrated time is the signing time.
    assert_eq!(v.verified_times, vec![1746236086]);
    assert_eq!(v.signed_at, Some(1746236086));
}

#[test]
fn oms_v1_0_0_refused_when_a_timestamp_is_required() {
    let root = trust_config();
    let mut p = policy(IDENTITY, ISSUER, &root);
    p.require_timestamp = true;
    let err = verify_bundle(&bundle("v1.0.0-sigstore"), Artifact::Dsse, &p).unwrap_err();
    assert!(
        err.to_string().contains("rfc3161Timestamps") && err.to_string().contains("found none"),
        "{err}"
    );
}

#[test]
fn wrong_identity_is_refused_with_expected_and_found() {
    let root = trust_config();
    for identity in ["alice@us.ibm.com", "stefanb@", "stefanb@*.de", "*@ibm.com"] {
        let err = verify_bundle(
            &bundle("v1.1.0-sigstore"),
            Artifact::Dsse,
            &policy(identity, ISSUER, &root),
        )
        .unwrap_err();
        match &err {
            SigstoreError::IdentityMismatch { expected, found } => {
                assert_eq!(expected, identity);
                assert_eq!(found, IDENTITY);
            }
            other => panic!("{identity}: expected an identity mismatch, got {other}"),
        }
        assert!(err
            .to_string()
            .contains(&format!("expected {identity}, found {IDENTITY}")));
    }
}

#[test]
fn wrong_issuer_is_refused() {
    let root = trust_config();
    for issuer in [
        "https://accounts.google.com",
        "https://sigstore.verify.ibm.com/oauth2/",
        "https://sigstore.verify.ibm.com/*",
    ] {
        let err = verify_bundle(
            &bundle("v1.1.0-sigstore"),
            Artifact::Dsse,
            &policy(IDENTITY, issuer, &root),
        )
        .unwrap_err();
        assert!(
            matches!(&err, SigstoreError::IssuerMismatch { expected, found } if expected == issuer && found == ISSUER),
            "{issuer}: {err}"
        );
    }
}

#[test]
fn flipped_payload_byte_is_refused() {
    let root = trust_config();
    for version in ["v1.1.0-sigstore", "v1.0.0-sigstore"] {
        // A changed subject digest keeps the statement valid JSON: only the signature
        // (and the tlog's payload hash) can catch it.
        let tampered = edit(&bundle(version), |b| {
            edit_b64(&mut b["dsseEnvelope"]["payload"], |p| {
                let at = p.windows(8).position(|w| w == b"61d4849d").unwrap();
                p[at] = b'7';
            })
        });
        let err = verify_bundle(&tampered, Artifact::Dsse, &policy(IDENTITY, ISSUER, &root)).unwrap_err();
        assert!(
            matches!(
                &err,
                SigstoreError::Verification {
                    error: SigstoreVerifyError::SignatureInvalid(_),
                    ..
                }
            ),
            "{version}: {err}"
        );
        assert!(err.to_string().contains("dsseEnvelope"), "{err}");

        // The first byte of the payload: no longer JSON, refused all the same.
        let tampered = edit(&bundle(version), |b| {
            edit_b64(&mut b["dsseEnvelope"]["payload"], |p| p[0] ^= 1)
        });
        let err = verify_bundle(&tampered, Artifact::Dsse, &policy(IDENTITY, ISSUER, &root)).unwrap_err();
        assert!(
            matches!(
                err,
                SigstoreError::BundleContent {
                    field: "dsseEnvelope.payload",
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn flipped_signature_byte_is_refused() {
    let root = trust_config();
    for version in ["v1.1.0-sigstore", "v1.0.0-sigstore"] {
        for at in [10, 40] {
            let tampered = edit(&bundle(version), |b| {
                edit_b64(&mut b["dsseEnvelope"]["signatures"][0]["sig"], |s| s[at] ^= 0x01)
            });
            let err = verify_bundle(&tampered, Artifact::Dsse, &policy(IDENTITY, ISSUER, &root)).unwrap_err();
            if version == "v1.1.0-sigstore" {
                // The RFC 3161 timestamp's message imprint is the signature's hash.
                assert!(
                    matches!(
                        &err,
                        SigstoreError::Verification {
                            error: SigstoreVerifyError::Timestamp(_),
                            ..
                        }
                    ),
                    "{err}"
                );
                // Without that timestamp (SET time only) the envelope signature check fails.
                let tampered = edit(&tampered, |b| {
                    b["verificationMaterial"]["timestampVerificationData"] = serde_json::json!({})
                });
                let err = verify_bundle(&tampered, Artifact::Dsse, &policy(IDENTITY, ISSUER, &root)).unwrap_err();
                assert_signature_invalid(&err);
            } else {
                assert_signature_invalid(&err);
            }
        }
    }
}

fn assert_signature_invalid(err: &SigstoreError) {
    assert!(
        matches!(
            err,
            SigstoreError::Verification {
                error: SigstoreVerifyError::SignatureInvalid(_),
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("bundle dsseEnvelope.signatures[0]")
            || err.to_string().starts_with("bundle messageSignature.signature"),
        "{err}"
    );
}

#[test]
fn removed_tlog_entry_is_refused_when_the_tlog_is_required() {
    let root = trust_config();
    for version in ["v1.1.0-sigstore", "v1.0.0-sigstore"] {
        let tampered = edit(&bundle(version), |b| {
            b["verificationMaterial"]["tlogEntries"] = Value::Array(vec![])
        });
        let err = verify_bundle(&tampered, Artifact::Dsse, &policy(IDENTITY, ISSUER, &root)).unwrap_err();
        assert!(
            err.to_string()
                .contains("verificationMaterial.tlogEntries: expected an entry with an inclusionProof")
                && err.to_string().contains("found no entries"),
            "{err}"
        );
        // The inclusion proof alone removed: the SET remains, but the proof is required.
        let tampered = edit(&bundle(version), |b| {
            b["verificationMaterial"]["tlogEntries"][0]
                .as_object_mut()
                .unwrap()
                .remove("inclusionProof");
        });
        let err = verify_bundle(&tampered, Artifact::Dsse, &policy(IDENTITY, ISSUER, &root)).unwrap_err();
        assert!(err.to_string().contains("none with an inclusionProof"), "{err}");
    }
}

#[test]
fn without_the_tlog_requirement_a_timestamp_alone_suffices() {
    let root = trust_config();
    let mut p = policy(IDENTITY, ISSUER, &root);
    p.require_tlog = false;
    // v1.1.0 still has its RFC 3161 timestamp.
    let tampered = edit(&bundle("v1.1.0-sigstore"), |b| {
        b["verificationMaterial"]["tlogEntries"] = Value::Array(vec![])
    });
    let v = verify_bundle(&tampered, Artifact::Dsse, &p).unwrap();
    assert!(!v.tlog_verified);
    assert_eq!(v.verified_times.len(), 1);
    // v1.0.0 has nothing else to say when it was signed.
    let tampered = edit(&bundle("v1.0.0-sigstore"), |b| {
        b["verificationMaterial"]["tlogEntries"] = Value::Array(vec![])
    });
    let err = verify_bundle(&tampered, Artifact::Dsse, &p).unwrap_err();
    assert!(
        err.to_string().contains("at least one tlog entry or timestamp"),
        "{err}"
    );
}

#[test]
fn tampered_tlog_entry_is_refused() {
    let root = trust_config();
    type Edit = fn(&mut Value);
    // (what is changed, what must fail)
    let edits: [(&str, Edit); 4] = [
        ("invalid inclusion promise", |e| {
            e["integratedTime"] = Value::String("1760062341".into())
        }),
        ("invalid inclusion proof", |e| {
            edit_b64(&mut e["inclusionProof"]["hashes"][0], |h| h[0] ^= 1)
        }),
        ("invalid inclusion promise", |e| {
            edit_b64(&mut e["inclusionPromise"]["signedEntryTimestamp"], |s| {
                let n = s.len();
                s[n - 2] ^= 1
            })
        }),
        ("invalid checkpoint", |e| {
            // Change the last base64 character of the checkpoint's signature line.
            let mut cp = e["inclusionProof"]["checkpoint"]["envelope"]
                .as_str()
                .unwrap()
                .to_string();
            let at = cp.trim_end().len() - 2;
            let c = if &cp[at..at + 1] == "A" { "B" } else { "A" };
            cp.replace_range(at..at + 1, c);
            e["inclusionProof"]["checkpoint"]["envelope"] = Value::String(cp);
        }),
    ];
    for (expected, f) in edits {
        let tampered = edit(&bundle("v1.1.0-sigstore"), |b| {
            f(&mut b["verificationMaterial"]["tlogEntries"][0])
        });
        let err = verify_bundle(&tampered, Artifact::Dsse, &policy(IDENTITY, ISSUER, &root))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("bundle verificationMaterial.tlogEntries: ") && err.contains(expected),
            "expected {expected}, got {err}"
        );
    }
}

#[test]
fn a_root_without_the_fulcio_ca_refuses_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(trust_config()).unwrap()).unwrap();
    cfg["trustedRoot"]["certificateAuthorities"] = Value::Array(vec![]);
    let path = dir.path().join("trust_config.json");
    std::fs::write(&path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let err = verify_bundle(
        &bundle("v1.1.0-sigstore"),
        Artifact::Dsse,
        &policy(IDENTITY, ISSUER, &path),
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("bundle verificationMaterial.certificate:"),
        "{err}"
    );
}

#[test]
fn trusted_root_forms_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let cfg: Value = serde_json::from_slice(&std::fs::read(trust_config()).unwrap()).unwrap();
    // The trustedRoot of the trust config, as a bare trusted_root.json.
    let bare = dir.path().join("trusted_root.json");
    std::fs::write(&bare, serde_json::to_vec(&cfg["trustedRoot"]).unwrap()).unwrap();
    let from_cfg = load_trusted_root(&trust_config()).unwrap();
    let from_bare = load_trusted_root(&bare).unwrap();
    assert_eq!(from_cfg.certificate_authorities.len(), 2);
    assert_eq!(from_bare.certificate_authorities.len(), 2);
    assert_eq!(from_bare.tlogs.len(), from_cfg.tlogs.len());
    verify_bundle(
        &bundle("v1.1.0-sigstore"),
        Artifact::Dsse,
        &policy(IDENTITY, ISSUER, &bare),
    )
    .unwrap();

    let other = dir.path().join("other.json");
    std::fs::write(&other, br#"{"mediaType": "application/json", "tlogs": []}"#).unwrap();
    let err = load_trusted_root(&other).unwrap_err();
    assert!(
        err.to_string().contains("other.json: mediaType: expected")
            && err.to_string().contains("found \"application/json\""),
        "{err}"
    );
    let missing = dir.path().join("missing.json");
    assert!(matches!(
        load_trusted_root(&missing),
        Err(SigstoreError::TrustedRootRead { .. })
    ));
}

#[test]
fn cosign_message_signature_bundle_verifies_over_bytes_and_digest() {
    let json = std::fs::read(data("cosign-v3-blob.sigstore.json")).unwrap();
    let blob = std::fs::read(data("cosign-v3-blob.txt")).unwrap();
    let root = data("trusted_root.json");
    let p = policy("w.vollprecht@gmail.com", "https://github.com/login/oauth", &root);
    let v = verify_bundle(&json, Artifact::Bytes(&blob), &p).unwrap();
    assert_eq!(v.identity, "w.vollprecht@gmail.com");
    assert!(v.payload.is_none() && v.payload_type.is_none());
    assert!(v.tlog_verified);
    let digest: [u8; 32] = Sha256::digest(&blob).into();
    verify_bundle(&json, Artifact::Sha256(digest), &p).unwrap();

    // Another artifact, by bytes or by digest.
    let mut other = blob.clone();
    other[0] ^= 1;
    let err = verify_bundle(&json, Artifact::Bytes(&other), &p).unwrap_err();
    assert_artifact_mismatch(&err);
    let mut wrong = digest;
    wrong[31] ^= 1;
    let err = verify_bundle(&json, Artifact::Sha256(wrong), &p).unwrap_err();
    assert_artifact_mismatch(&err);
    // A message signature needs its artifact.
    let err = verify_bundle(&json, Artifact::Dsse, &p).unwrap_err();
    assert!(matches!(
        err,
        SigstoreError::BundleContent {
            field: "messageSignature",
            ..
        }
    ));
    // Wrong identity.
    let q = policy("*@example.com", "https://github.com/login/oauth", &root);
    assert!(matches!(
        verify_bundle(&json, Artifact::Bytes(&blob), &q),
        Err(SigstoreError::IdentityMismatch { .. })
    ));
    // A flipped signature byte (digest still matching).
    // A flipped signature byte (digest still matching): the timestamp over the signature
    // fails first, and without the timestamp the signature check itself.
    let tampered = edit(&json, |b| {
        edit_b64(&mut b["messageSignature"]["signature"], |s| s[12] ^= 1)
    });
    let err = verify_bundle(&tampered, Artifact::Bytes(&blob), &p).unwrap_err();
    assert!(
        matches!(
            &err,
            SigstoreError::Verification {
                error: SigstoreVerifyError::Timestamp(_),
                ..
            }
        ),
        "{err}"
    );
    let tampered = edit(&tampered, |b| {
        b["verificationMaterial"]["timestampVerificationData"] = serde_json::json!({})
    });
    let err = verify_bundle(&tampered, Artifact::Bytes(&blob), &p).unwrap_err();
    assert_signature_invalid(&err);
}

#[test]
fn managed_key_bundle_verifies_with_its_key_only() {
    let json = std::fs::read(data("managed-key.sigstore.json")).unwrap();
    let blob = std::fs::read(data("managed-key-artifact.txt")).unwrap();
    let key = std::fs::read_to_string(data("managed-key.pub")).unwrap();
    let root = load_trusted_root(&data("trusted_root.json")).unwrap();
    let kp = KeyPolicy {
        public_key_pem: &key,
        require_tlog: true,
        require_timestamp: false,
    };
    let v = verify_bundle_with_key(&json, Artifact::Bytes(&blob), &kp, &root).unwrap();
    assert!(v.identity.starts_with("key:sha256:"), "{}", v.identity);
    assert!(v.tlog_verified);
    let digest: [u8; 32] = Sha256::digest(&blob).into();
    verify_bundle_with_key(&json, Artifact::Sha256(digest), &kp, &root).unwrap();

    // Another P-256 key (the OMS upstream test key).
    let other = std::fs::read_to_string(oms().join("keys/signing-key-pub.pem")).unwrap();
    let kp_other = KeyPolicy {
        public_key_pem: &other,
        ..kp.clone()
    };
    let err = verify_bundle_with_key(&json, Artifact::Bytes(&blob), &kp_other, &root).unwrap_err();
    assert_signature_invalid(&err);
    // Another artifact.
    let err = verify_bundle_with_key(&json, Artifact::Bytes(b"other"), &kp, &root).unwrap_err();
    assert_artifact_mismatch(&err);
    // Keyless verification of a key bundle says why it cannot.
    let p = policy("*", "*", Path::new("unused"));
    let err = verify_bundle_with_root(&json, Artifact::Bytes(&blob), &p, &root).unwrap_err();
    assert!(err.to_string().contains("public key hint"), "{err}");
    // And a keyless bundle is not a key bundle.
    let keyless = std::fs::read(data("cosign-v3-blob.sigstore.json")).unwrap();
    let err = verify_bundle_with_key(&keyless, Artifact::Bytes(&blob), &kp, &root).unwrap_err();
    assert!(err.to_string().contains("a certificate"), "{err}");
}

fn assert_artifact_mismatch(err: &SigstoreError) {
    assert!(
        matches!(
            err,
            SigstoreError::Verification {
                error: SigstoreVerifyError::ArtifactMismatch(_),
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("bundle messageSignature.messageDigest vs the artifact"),
        "{err}"
    );
}
