//! JWE ECDH-ES+A256KW / A256GCM: round trip, the RFC 7518 Appendix C vector, interop with
//! python-jwcrypto in both directions, tampering and every downgrade refused.

use std::fs::{self, File};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use elliptic_curve::sec1::FromEncodedPoint;
use sealrun_attest::jwe::{self, concat_kdf, EphemeralKey, JweError, PublicJwk};
use serde_json::{json, Value};

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

#[test]
fn round_trip() {
    let key = EphemeralKey::generate();
    let jwk = key.public_jwk();
    let obj = jwk.as_object().unwrap();
    let mut members: Vec<&str> = obj.keys().map(String::as_str).collect();
    members.sort();
    assert_eq!(members, ["crv", "kty", "x", "y"]);
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");
    assert_eq!(unb64(jwk["x"].as_str().unwrap()).len(), 32);
    assert_eq!(unb64(jwk["y"].as_str().unwrap()).len(), 32);

    let to = PublicJwk::from_json(&jwk).unwrap();
    assert_eq!(to, key.public_key());
    assert_eq!(to.to_json(), jwk);

    for plaintext in [&b""[..], b"x", &[0xa5u8; 4096][..]] {
        let compact = jwe::encrypt(&to, plaintext).unwrap();
        assert_eq!(compact.split('.').count(), 5);
        let header: Value = serde_json::from_slice(&unb64(compact.split('.').next().unwrap())).unwrap();
        assert_eq!(header["alg"], "ECDH-ES+A256KW");
        assert_eq!(header["enc"], "A256GCM");
        assert_eq!(header["epk"]["crv"], "P-256");
        assert_eq!(unb64(compact.split('.').nth(1).unwrap()).len(), 40);
        let out = jwe::decrypt(&key, &compact).unwrap();
        assert_eq!(&out[..], plaintext);
    }
    // A fresh ephemeral key, CEK and IV every time.
    let a = jwe::encrypt(&to, b"same").unwrap();
    let b = jwe::encrypt(&to, b"same").unwrap();
    assert_ne!(a, b);
    assert_ne!(a.split('.').next(), b.split('.').next());
}

#[test]
fn wrong_recipient_key_fails_unwrap() {
    let key = EphemeralKey::generate();
    let other = EphemeralKey::generate();
    let compact = jwe::encrypt(&key.public_key(), b"model key").unwrap();
    let err = jwe::decrypt(&other, &compact).unwrap_err();
    assert!(matches!(err, JweError::Unwrap), "{err}");
}

/// RFC 7518 Appendix C (ECDH-ES, enc A128GCM, apu "Alice", apv "Bob"): the ECDH output Z
/// and the Concat KDF output.
#[test]
fn rfc7518_appendix_c_vector() {
    let z_expected: [u8; 32] = [
        158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49, 110, 163, 218, 128, 106,
        72, 246, 218, 167, 121, 140, 254, 144, 196,
    ];
    // Alice's ephemeral private key and Bob's public key from the RFC.
    let alice_d = unb64("0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo");
    let bob = json!({
        "kty": "EC", "crv": "P-256",
        "x": "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
        "y": "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
    });
    PublicJwk::from_json(&bob).expect("RFC key is a valid P-256 point");
    let alice = p256::SecretKey::from_slice(&alice_d).unwrap();
    let bob_point = p256::EncodedPoint::from_affine_coordinates(
        unb64(bob["x"].as_str().unwrap()).as_slice().into(),
        unb64(bob["y"].as_str().unwrap()).as_slice().into(),
        false,
    );
    let bob_pk = p256::PublicKey::from_encoded_point(&bob_point).unwrap();
    let z = elliptic_curve::ecdh::diffie_hellman(alice.to_nonzero_scalar(), bob_pk.as_affine());
    assert_eq!(z.raw_secret_bytes().as_slice(), &z_expected);

    let derived = concat_kdf(&z_expected, "A128GCM", b"Alice", b"Bob", 128);
    assert_eq!(
        &derived[..],
        &[86, 170, 141, 234, 248, 35, 109, 32, 92, 34, 40, 205, 113, 167, 16, 26]
    );
    assert_eq!(b64(&derived), "VqqN6vgjbSBcIijNcacQGg");

    // Every OtherInfo input changes the output (the parameterisation is really used).
    for other in [
        concat_kdf(&z_expected, "A256GCM", b"Alice", b"Bob", 128),
        concat_kdf(&z_expected, "A128GCM", b"Alicf", b"Bob", 128),
        concat_kdf(&z_expected, "A128GCM", b"Alice", b"Bob!", 128),
        concat_kdf(&z_expected, "A128GCM", b"Alice", b"Bob", 256),
    ] {
        assert_ne!(&other[..16], &derived[..]);
    }
    // Longer than one SHA-256 round: counter 2 is used.
    let long = concat_kdf(&z_expected, "A128GCM", b"", b"", 512);
    assert_eq!(long.len(), 64);
    assert_ne!(&long[..32], &long[32..]);
}

#[test]
fn public_jwk_refusals() {
    let good = EphemeralKey::generate().public_jwk();
    let with = |field: &str, v: Value| {
        let mut j = good.clone();
        j[field] = v;
        j
    };
    let cases: Vec<(Value, &str)> = vec![
        (with("kty", json!("RSA")), "kty"),
        (with("kty", json!("OKP")), "kty"),
        (with("crv", json!("P-384")), "crv"),
        (with("crv", json!("secp256k1")), "crv"),
        (with("d", json!("AAAA")), "d"),
        (with("x", json!(12)), "x"),
        (json!("not an object"), "jwk"),
    ];
    for (jwk, field) in cases {
        match PublicJwk::from_json(&jwk) {
            Err(JweError::Field { field: f, .. }) => assert_eq!(f, field, "{jwk}"),
            other => panic!("{jwk}: expected a Field error for {field}, got {:?}", other.map(|_| ())),
        }
    }
    // 31-byte coordinate.
    let short = with("x", json!(b64(&[7u8; 31])));
    assert!(matches!(
        PublicJwk::from_json(&short),
        Err(JweError::Length { found: 31, .. })
    ));
    // Off the curve: same x, y + 1.
    let mut y = unb64(good["y"].as_str().unwrap());
    y[31] ^= 1;
    let off = with("y", json!(b64(&y)));
    let err = PublicJwk::from_json(&off).unwrap_err();
    assert!(err.to_string().contains("a point on P-256"), "{err}");
    // Padding is not base64url-without-padding.
    let padded = with("x", json!(format!("{}=", good["x"].as_str().unwrap())));
    assert!(matches!(PublicJwk::from_json(&padded), Err(JweError::Base64 { .. })));
}

/// Re-encodes the protected header of `compact` after `edit`.
fn with_header(compact: &str, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut parts: Vec<String> = compact.split('.').map(str::to_string).collect();
    let mut h: Value = serde_json::from_slice(&unb64(&parts[0])).unwrap();
    edit(h.as_object_mut().unwrap());
    parts[0] = b64(h.to_string().as_bytes());
    parts.join(".")
}

#[test]
fn every_downgrade_is_refused_naming_field_expected_found() {
    let key = EphemeralKey::generate();
    let good = jwe::encrypt(&key.public_key(), b"secret").unwrap();
    let p384_epk = json!({
        "kty": "EC", "crv": "P-384",
        "x": b64(&[1u8; 48]), "y": b64(&[2u8; 48]),
    });
    let mut off_curve = key.public_jwk();
    off_curve["y"] = json!(b64(&[9u8; 32]));

    let set = |k: &'static str, v: Value| {
        move |h: &mut serde_json::Map<String, Value>| {
            h.insert(k.to_string(), v);
        }
    };
    let cases: Vec<(String, &str, &str, &str)> = vec![
        (
            with_header(&good, set("alg", json!("ECDH-ES"))),
            "alg",
            "\"ECDH-ES+A256KW\"",
            "\"ECDH-ES\"",
        ),
        (
            with_header(&good, set("alg", json!("A128KW"))),
            "alg",
            "\"ECDH-ES+A256KW\"",
            "\"A128KW\"",
        ),
        (
            with_header(&good, set("alg", json!("ECDH-ES+A128KW"))),
            "alg",
            "\"ECDH-ES+A256KW\"",
            "\"ECDH-ES+A128KW\"",
        ),
        (
            with_header(&good, set("alg", json!("dir"))),
            "alg",
            "\"ECDH-ES+A256KW\"",
            "\"dir\"",
        ),
        (
            with_header(&good, set("alg", json!("RSA1_5"))),
            "alg",
            "\"ECDH-ES+A256KW\"",
            "\"RSA1_5\"",
        ),
        (
            with_header(&good, set("alg", json!("none"))),
            "alg",
            "\"ECDH-ES+A256KW\"",
            "\"none\"",
        ),
        (
            with_header(&good, |h| {
                h.remove("alg");
            }),
            "alg",
            "\"ECDH-ES+A256KW\"",
            "absent",
        ),
        (
            with_header(&good, set("enc", json!("A128GCM"))),
            "enc",
            "\"A256GCM\"",
            "\"A128GCM\"",
        ),
        (
            with_header(&good, set("enc", json!("A256CBC-HS512"))),
            "enc",
            "\"A256GCM\"",
            "\"A256CBC-HS512\"",
        ),
        (
            with_header(&good, |h| {
                h.remove("enc");
            }),
            "enc",
            "\"A256GCM\"",
            "absent",
        ),
        (with_header(&good, set("zip", json!("DEF"))), "zip", "absent", "\"DEF\""),
        (
            with_header(&good, set("crit", json!(["exp"]))),
            "crit",
            "absent",
            "[\"exp\"]",
        ),
        (
            with_header(&good, set("epk", p384_epk)),
            "epk.crv",
            "\"P-256\"",
            "\"P-384\"",
        ),
        (
            with_header(&good, set("epk", off_curve)),
            "epk.x/y",
            "a point on P-256",
            "not on the curve",
        ),
        (
            with_header(&good, |h| {
                h.remove("epk");
            }),
            "epk",
            "P-256",
            "absent",
        ),
        (with_header(&good, set("apu", json!(5))), "apu", "base64url", "5"),
    ];
    for (compact, field, expected, found) in cases {
        let err = jwe::decrypt(&key, &compact).unwrap_err();
        let msg = err.to_string();
        match &err {
            JweError::Field {
                field: f,
                expected: e,
                found: fo,
            } => {
                assert_eq!(f, field, "{msg}");
                assert!(e.contains(expected), "{msg}");
                assert!(fo.contains(found), "{msg}");
            }
            other => panic!("{field}: expected a Field error, got {other}"),
        }
        assert!(
            msg.contains(field) && msg.contains(expected) && msg.contains(found),
            "{msg}"
        );
    }
    // The untouched token still decrypts: the cases above failed for their header alone.
    assert_eq!(&jwe::decrypt(&key, &good).unwrap()[..], b"secret");
}

fn flip(compact: &str, part: usize, byte: usize) -> String {
    let mut parts: Vec<String> = compact.split('.').map(str::to_string).collect();
    let mut b = unb64(&parts[part]);
    b[byte] ^= 0x01;
    parts[part] = b64(&b);
    parts.join(".")
}

#[test]
fn tampering_is_detected() {
    let key = EphemeralKey::generate();
    let good = jwe::encrypt(&key.public_key(), b"the model key, 32 bytes long!!!!").unwrap();

    for (name, bad) in [
        ("ciphertext first byte", flip(&good, 3, 0)),
        ("ciphertext last byte", flip(&good, 3, 31)),
        ("tag", flip(&good, 4, 15)),
        ("iv", flip(&good, 2, 0)),
        // A header change that is still well-formed only shows through the AAD.
        (
            "header kid",
            with_header(&good, |h| {
                h.insert("kid".into(), json!("attacker"));
            }),
        ),
    ] {
        let err = jwe::decrypt(&key, &bad).unwrap_err();
        assert!(matches!(err, JweError::Decrypt), "{name}: {err}");
    }
    // The wrapped CEK and the ephemeral key feed the key unwrap.
    let err = jwe::decrypt(&key, &flip(&good, 1, 3)).unwrap_err();
    assert!(matches!(err, JweError::Unwrap), "{err}");
    let other_epk = EphemeralKey::generate().public_jwk();
    let err = jwe::decrypt(
        &key,
        &with_header(&good, |h| {
            h.insert("epk".into(), other_epk);
        }),
    )
    .unwrap_err();
    assert!(matches!(err, JweError::Unwrap), "{err}");
    let err = jwe::decrypt(
        &key,
        &with_header(&good, |h| {
            h.insert("apu".into(), json!(b64(b"Mallory")));
        }),
    )
    .unwrap_err();
    assert!(matches!(err, JweError::Unwrap), "{err}");

    // Structure.
    let four: Vec<&str> = good.split('.').take(4).collect();
    assert!(matches!(
        jwe::decrypt(&key, &four.join(".")),
        Err(JweError::Format { found: 4 })
    ));
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    parts[4] = b64(&unb64(&parts[4])[..12]);
    let err = jwe::decrypt(&key, &parts.join(".")).unwrap_err();
    assert!(
        matches!(&err, JweError::Length { part, found: 12, .. } if part == "tag"),
        "{err}"
    );
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    parts[0] = b64(b"[1,2]");
    assert!(matches!(
        jwe::decrypt(&key, &parts.join(".")),
        Err(JweError::Header { .. })
    ));
    parts[0] = "e30=".to_string(); // "{}" with padding
    assert!(matches!(
        jwe::decrypt(&key, &parts.join(".")),
        Err(JweError::Base64 { .. })
    ));
}

// ---- interop with python-jwcrypto ----

const JWCRYPTO_SCRIPT: &str = r#"
import json, sys
from jwcrypto import jwe, jwk
from jwcrypto.common import json_encode

mode = sys.argv[1]
if mode == "genkey":
    print(jwk.JWK.generate(kty="EC", crv="P-256").export_private())
elif mode == "public":
    print(jwk.JWK.from_json(sys.argv[2]).export_public())
elif mode == "encrypt":
    to = jwk.JWK(**json.loads(sys.argv[2]))
    protected = json.loads(sys.argv[3])
    token = jwe.JWE(sys.argv[4].encode(), protected=json_encode(protected))
    token.add_recipient(to)
    print(token.serialize(compact=True))
elif mode == "decrypt":
    key = jwk.JWK.from_json(sys.argv[2])
    token = jwe.JWE()
    token.deserialize(sys.argv[3], key=key)
    sys.stdout.write(token.payload.decode())
else:
    sys.exit("unknown mode " + mode)
"#;

/// A venv with jwcrypto, made once (and shared by every test process through an flock).
/// Missing python3 or pip is a test failure, never a skip: this is the independent
/// implementation the interop claims rest on.
fn python() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let home = std::env::var("HOME").expect("HOME must be set to place the jwcrypto venv");
        let cache = PathBuf::from(home).join(".cache");
        fs::create_dir_all(&cache).unwrap();
        let venv = cache.join("sealrun-venv-jwe");
        let lock = File::create(cache.join("sealrun-venv-jwe.lock")).unwrap();
        let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .unwrap();
        let py = venv.join("bin/python");
        if !py.exists() {
            let out = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .output()
                .expect("python3 is required for the jwcrypto interop test");
            assert!(
                out.status.success(),
                "python3 -m venv {}: {}",
                venv.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let has = Command::new(&py)
            .args(["-c", "import jwcrypto"])
            .output()
            .expect("run venv python");
        if !has.status.success() {
            let out = Command::new(&py)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--quiet",
                    "jwcrypto==1.6.1",
                ])
                .output()
                .expect("run pip");
            assert!(
                out.status.success(),
                "pip install jwcrypto failed (the interop test needs PyPI): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        py
    })
    .clone()
}

fn jwcrypto(args: &[&str]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(JWCRYPTO_SCRIPT)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "jwcrypto {}: {}",
        args[0],
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end_matches('\n')
        .to_string()
}

#[test]
fn decrypts_what_jwcrypto_encrypts() {
    let key = EphemeralKey::generate();
    let public = key.public_jwk().to_string();
    let plaintext = "model key: 0123456789abcdef";
    for protected in [
        json!({"alg": "ECDH-ES+A256KW", "enc": "A256GCM"}),
        // apu/apv go into the Concat KDF: both sides must read them from the header.
        json!({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "apu": b64(b"broker"), "apv": b64(b"tee")}),
    ] {
        let compact = jwcrypto(&["encrypt", &public, &protected.to_string(), plaintext]);
        let out = jwe::decrypt(&key, &compact).unwrap();
        assert_eq!(&out[..], plaintext.as_bytes(), "{protected}");
    }
    // jwcrypto's ECDH-ES (direct) to the same key is a downgrade we refuse.
    let direct = jwcrypto(&[
        "encrypt",
        &public,
        &json!({"alg": "ECDH-ES", "enc": "A256GCM"}).to_string(),
        plaintext,
    ]);
    let err = jwe::decrypt(&key, &direct).unwrap_err();
    assert!(matches!(&err, JweError::Field { field, .. } if field == "alg"), "{err}");
}

#[test]
fn jwcrypto_decrypts_what_we_encrypt() {
    let private = jwcrypto(&["genkey"]);
    let public: Value = serde_json::from_str(&jwcrypto(&["public", &private])).unwrap();
    let to = PublicJwk::from_json(&public).unwrap();
    let plaintext = "weights key \u{1F512} 7f3a";
    let compact = jwe::encrypt(&to, plaintext.as_bytes()).unwrap();
    assert_eq!(jwcrypto(&["decrypt", &private, &compact]), plaintext);
}
