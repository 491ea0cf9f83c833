//! The key broker end to end: a real server on 127.0.0.1:0 (plain HTTP on loopback, and
//! once with TLS), the real client, dev evidence through the real verifier, a file key
//! store and a hash-chained audit log in a temp dir. The broker's clock is a test clock,
//! so nonce and token expiry are tested by moving it, never by sleeping.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde_json::{json, Value};

use sealrun_attest::audit::{self, AuditLog};
use sealrun_attest::broker::client::{block_on, runtime_data, BrokerClient, ClientError, HttpResponse};
use sealrun_attest::broker::protocol::{self, AttestRequest, WorkloadClaims};
use sealrun_attest::broker::token::{verify_with_jwk, TokenSigner};
use sealrun_attest::broker::{
    request_resource, AdminToken, Broker, BrokerConfig, DevTee, EvidenceProvider, FnEvidence, RunningBroker,
};
use sealrun_attest::evidence::dev;
use sealrun_attest::jwe;
use sealrun_attest::keystore::{FileKeyStore, Kek, KeyStore, Secret};
use sealrun_policy::Policy;

const IMAGE: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const OTHER_IMAGE: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const KEY_ID: &str = "models/key/llama";
const OTHER_KEY_ID: &str = "models/key/other";
const UNSTORED_KEY_ID: &str = "models/key/unstored";
/// Not valid UTF-8 and with a NUL: the key must come back byte for byte.
const KEY: &[u8] = b"model-key-\x00\xff\x01-0123456789abcdef0123456789abcdef";
const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";

fn dev_policy() -> String {
    format!(
        r#"
version = 1

[attestation]
allow_dev = true
tee = ["dev"]

[[keys.entries]]
id = "{KEY_ID}"
image_digest = "{IMAGE}"
require_tee = ["dev"]

[[keys.entries]]
id = "{OTHER_KEY_ID}"
image_digest = "{OTHER_IMAGE}"
require_tee = ["dev"]

[[keys.entries]]
id = "{UNSTORED_KEY_ID}"
image_digest = "{IMAGE}"
require_tee = ["dev"]
"#
    )
}

/// SNP only: the dev TEE is not accepted.
fn snp_policy() -> String {
    format!(
        r#"
version = 1

[attestation]
tee = ["snp"]
snp.measurements = ["{}"]

[[keys.entries]]
id = "{KEY_ID}"
image_digest = "{IMAGE}"
require_tee = ["snp"]
"#,
        "ab".repeat(48)
    )
}

/// The digest of the policy the sandbox enforces: the broker's own (dev) policy.
fn policy_digest() -> String {
    Policy::from_str(&dev_policy(), "p.toml").unwrap().digest()
}

fn claims() -> WorkloadClaims {
    WorkloadClaims {
        image_digest: IMAGE.into(),
        policy_digest: policy_digest(),
    }
}

/// A clock the test moves by hand.
#[derive(Clone)]
struct TestClock(Arc<Mutex<SystemTime>>);

impl TestClock {
    fn new() -> TestClock {
        TestClock(Arc::new(Mutex::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        )))
    }
    fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
    fn unix(&self) -> u64 {
        self.0
            .lock()
            .unwrap()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }
}

struct Env {
    dir: tempfile::TempDir,
    broker: Option<RunningBroker>,
    url: String,
    clock: TestClock,
    keys: Arc<FileKeyStore>,
}

impl Env {
    fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.log")
    }

    fn client(&self) -> BrokerClient {
        BrokerClient::new(&self.url, None).unwrap()
    }

    /// Stops the broker, verifies the audit chain and returns its records in order.
    fn finish(mut self) -> Vec<Value> {
        drop(self.broker.take());
        audit_records(&self.audit_path())
    }
}

fn audit_records(path: &Path) -> Vec<Value> {
    let summary = audit::verify(path).expect("the audit chain verifies");
    let text = std::fs::read_to_string(path).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["record"].clone())
        .collect();
    assert_eq!(summary.entries, records.len() as u64);
    // Never a key in the log, raw or base64.
    assert!(!text.as_bytes().windows(KEY.len()).any(|w| w == KEY));
    assert!(!text.contains(&base64::engine::general_purpose::STANDARD.encode(KEY)));
    assert!(!text.contains(ADMIN_TOKEN));
    records
}

/// (event, result, reason) of each audit record.
fn outcomes(records: &[Value]) -> Vec<(String, String, String)> {
    records
        .iter()
        .map(|r| {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (s("event"), s("result"), s("reason"))
        })
        .collect()
}

fn o(event: &str, result: &str, reason: &str) -> (String, String, String) {
    (event.into(), result.into(), reason.into())
}

fn start_with(policy: &str, tls: Option<Arc<rustls::ServerConfig>>, customise: impl FnOnce(&mut BrokerConfig)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(FileKeyStore::open(&dir.path().join("keys.json"), Kek::from_bytes([7u8; 32])).unwrap());
    keys.put(KEY_ID, Secret::new(KEY.to_vec())).unwrap();
    keys.put(OTHER_KEY_ID, Secret::new(b"other image's key".to_vec()))
        .unwrap();
    let audit = Arc::new(AuditLog::open(&dir.path().join("audit.log")).unwrap());
    let policy = Policy::from_str(policy, "broker-test.toml").unwrap();
    let clock = TestClock::new();
    let c = clock.clone();
    let mut config = BrokerConfig::new(policy, keys.clone() as Arc<dyn KeyStore>, audit);
    config.clock = Arc::new(move || *c.0.lock().unwrap());
    config.admin_token = Some(AdminToken::new(ADMIN_TOKEN.as_bytes()));
    customise(&mut config);
    let is_tls = tls.is_some();
    let broker = Broker::new(config)
        .unwrap()
        .spawn("127.0.0.1:0".parse().unwrap(), tls)
        .unwrap();
    let url = if is_tls {
        format!("https://localhost:{}", broker.addr.port())
    } else {
        broker.url(false)
    };
    Env {
        dir,
        broker: Some(broker),
        url,
        clock,
        keys,
    }
}

fn start(policy: &str) -> Env {
    start_with(policy, None, |_| {})
}

/// Asserts a refusal with this status and error code; returns the detail.
fn refused<T: std::fmt::Debug>(r: Result<T, ClientError>, status: u16, code: &str) -> String {
    match r {
        Err(ClientError::Refused {
            status: s,
            code: c,
            detail,
            ..
        }) => {
            assert_eq!((s, c.as_str()), (status, code), "detail: {detail}");
            detail
        }
        other => panic!("expected refusal {status} {code}, found {other:?}"),
    }
}

/// Auth, then an attest request over dev evidence for `claims`, not yet sent.
fn prepare(client: &mut BrokerClient, key: &jwe::EphemeralKey, claims: &WorkloadClaims) -> AttestRequest {
    let ch = block_on(client.auth("dev")).unwrap().unwrap();
    let rd = runtime_data(&ch.nonce, key.public_jwk(), claims);
    let ev = DevTee.evidence(&protocol::report_data(&rd)).unwrap();
    AttestRequest {
        runtime_data: rd,
        tee_evidence: ev,
        gpu_evidence: Vec::new(),
    }
}

fn get(client: &mut BrokerClient, path: &str, headers: &[(hyper::header::HeaderName, String)]) -> HttpResponse {
    block_on(client.send(hyper::Method::GET, path, headers, Vec::new()))
        .unwrap()
        .unwrap()
}

#[test]
fn happy_path_releases_the_exact_key() {
    let env = start(&dev_policy());
    let key = request_resource(&env.url, KEY_ID, &DevTee, &claims(), None).unwrap();
    assert_eq!(&key[..], KEY);

    // The same flow by hand, to look at the token and use the session cookie instead.
    let mut c = env.client();
    let eph = jwe::EphemeralKey::generate();
    let req = prepare(&mut c, &eph, &claims());
    let token = block_on(c.attest(&req)).unwrap().unwrap();
    let jwk = block_on(c.token_key()).unwrap().unwrap();
    let tc = verify_with_jwk(&jwk, &token, env.clock.unix()).unwrap();
    assert_eq!(tc["tee"], "dev");
    assert_eq!(tc["image-digest"], IMAGE);
    assert_eq!(tc["policy-digest"], policy_digest().as_str());
    assert_eq!(tc["tee-pubkey"], eph.public_jwk());
    assert_eq!(tc["ear.status"], "affirming");
    assert!(tc["evidence-digest"].as_str().unwrap().starts_with("sha256:"));
    let (iat, exp) = (tc["iat"].as_u64().unwrap(), tc["exp"].as_u64().unwrap());
    assert!(exp > iat && exp - iat <= 300, "iat {iat} exp {exp}");
    assert!(tc["appraisal"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["rule"] == "attestation.allow_dev" && c["passed"] == true));
    // Cookie only (no bearer): the session attested, so it may fetch.
    let compact = block_on(c.resource(KEY_ID, None)).unwrap().unwrap();
    assert_eq!(&jwe::decrypt(&eph, &compact).unwrap()[..], KEY);
    // The JWE is for this session's key only.
    assert!(jwe::decrypt(&jwe::EphemeralKey::generate(), &compact).is_err());

    let metrics = String::from_utf8(get(&mut c, "/metrics", &[]).body).unwrap();
    assert!(
        metrics.contains("sealrun_broker_auth_total{result=\"ok\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sealrun_broker_attest_total{result=\"ok\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sealrun_broker_resource_total{result=\"released\"} 2\n"),
        "{metrics}"
    );

    let records = env.finish();
    assert_eq!(
        outcomes(&records),
        vec![
            o("auth", "ok", ""),
            o("attest", "ok", ""),
            o("resource", "released", ""),
            o("auth", "ok", ""),
            o("attest", "ok", ""),
            o("resource", "released", ""),
        ]
    );
    let attest = &records[1];
    assert!(attest["evidence_sha256"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(attest["claims"]["tee"], "dev", "{attest}");
    assert!(attest["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(records[2]["key_id"], KEY_ID);
    assert_eq!(records[2]["decision"]["allowed"], true);
}

#[test]
fn tokens_and_session_ids_never_reach_the_audit_log() {
    let env = start(&dev_policy());
    let mut c = env.client();
    let eph = jwe::EphemeralKey::generate();
    let req = prepare(&mut c, &eph, &claims());
    let sid = c.session().unwrap().to_string();
    let token = block_on(c.attest(&req)).unwrap().unwrap();
    block_on(c.resource(KEY_ID, Some(&token))).unwrap().unwrap();
    let text = std::fs::read_to_string(env.audit_path()).unwrap();
    assert!(!text.contains(&token));
    assert!(
        !text.contains(token.split('.').nth(2).unwrap()),
        "the token signature leaked"
    );
    assert!(!text.contains(&sid));
    assert_eq!(env.finish().len(), 3);
}

#[test]
fn a_nonce_is_single_use() {
    let env = start(&dev_policy());
    let mut c = env.client();
    let eph = jwe::EphemeralKey::generate();
    let req = prepare(&mut c, &eph, &claims());
    block_on(c.attest(&req)).unwrap().unwrap();
    // The same attestation again on the same session.
    let d = refused(block_on(c.attest(&req)).unwrap(), 401, "nonce_replayed");
    assert!(d.contains("nonce"), "{d}");
    // The same attestation on a new session: its nonce is not this session's.
    block_on(c.auth("dev")).unwrap().unwrap();
    refused(block_on(c.attest(&req)).unwrap(), 401, "nonce_mismatch");
    // A failed first attempt consumes the nonce too.
    let req2 = prepare(&mut c, &eph, &claims());
    let mut broken = req2.clone();
    broken.tee_evidence = json!({"tee": "dev", "report": "bm90IGEgcmVwb3J0"});
    refused(block_on(c.attest(&broken)).unwrap(), 401, "evidence_invalid");
    refused(block_on(c.attest(&req2)).unwrap(), 401, "nonce_replayed");

    assert_eq!(
        outcomes(&env.finish()),
        vec![
            o("auth", "ok", ""),
            o("attest", "ok", ""),
            o("attest", "denied", "nonce_replayed"),
            o("auth", "ok", ""),
            o("attest", "denied", "nonce_mismatch"),
            o("auth", "ok", ""),
            o("attest", "denied", "evidence_invalid"),
            o("attest", "denied", "nonce_replayed"),
        ]
    );
}

#[test]
fn a_stale_nonce_is_refused() {
    let env = start(&dev_policy());
    let mut c = env.client();
    let eph = jwe::EphemeralKey::generate();
    let req = prepare(&mut c, &eph, &claims());
    env.clock.advance(Duration::from_secs(300));
    refused(block_on(c.attest(&req)).unwrap(), 401, "nonce_expired");
    // Just inside the lifetime is fine.
    let req = prepare(&mut c, &eph, &claims());
    env.clock.advance(Duration::from_secs(299));
    block_on(c.attest(&req)).unwrap().unwrap();
    assert_eq!(
        outcomes(&env.finish()),
        vec![
            o("auth", "ok", ""),
            o("attest", "denied", "nonce_expired"),
            o("auth", "ok", ""),
            o("attest", "ok", "")
        ]
    );
}

#[test]
fn a_shorter_nonce_lifetime_is_injectable() {
    let env = start_with(&dev_policy(), None, |c| c.nonce_ttl = Duration::from_secs(10));
    let mut c = env.client();
    let eph = jwe::EphemeralKey::generate();
    let req = prepare(&mut c, &eph, &claims());
    env.clock.advance(Duration::from_secs(10));
    let d = refused(block_on(c.attest(&req)).unwrap(), 401, "nonce_expired");
    assert!(d.contains("10s"), "{d}");
}

#[test]
fn evidence_for_other_runtime_data_is_refused() {
    let env = start(&dev_policy());
    // Evidence over runtime-data with another image digest than the one sent.
    let lying = FnEvidence {
        tee: "dev".to_string(),
        collect: |rd: &[u8; 64]| {
            let mut other = *rd;
            other[0] ^= 1;
            DevTee.evidence(&other).map_err(|e| e.to_string())
        },
    };
    let d = refused(
        request_resource(&env.url, KEY_ID, &lying, &claims(), None),
        401,
        "report_data_mismatch",
    );
    assert!(d.contains("report_data"), "{d}");

    // Sending other claims than the evidence binds.
    let mut c = env.client();
    let eph = jwe::EphemeralKey::generate();
    let mut req = prepare(&mut c, &eph, &claims());
    req.runtime_data["image-digest"] = OTHER_IMAGE.into();
    refused(block_on(c.attest(&req)).unwrap(), 401, "report_data_mismatch");

    // Evidence signed by a key that is not the dev TEE's.
    let forged = FnEvidence {
        tee: "dev".to_string(),
        collect: |rd: &[u8; 64]| {
            let report = dev::sign_report(&[9u8; 32], rd);
            Ok(json!({"tee": "dev", "report": base64::engine::general_purpose::STANDARD.encode(report)}))
        },
    };
    refused(
        request_resource(&env.url, KEY_ID, &forged, &claims(), None),
        401,
        "evidence_invalid",
    );

    assert_eq!(
        outcomes(&env.finish()),
        vec![
            o("auth", "ok", ""),
            o("attest", "denied", "report_data_mismatch"),
            o("auth", "ok", ""),
            o("attest", "denied", "report_data_mismatch"),
            o("auth", "ok", ""),
            o("attest", "denied", "evidence_invalid"),
        ]
    );
}

#[test]
fn tee_pubkey_must_be_an_ec_p256_jwk() {
    let env = start(&dev_policy());
    let rsa = json!({"kty": "RSA", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw", "e": "AQAB"});
    let p384 = json!({"kty": "EC", "crv": "P-384",
        "x": "iA7lWQLzVrKGEFjfGMfMHfTEZ2KnLiKU7JuNT3E7ygsfE7ygsfE7ygsfE7ygsfE7",
        "y": "mLgl1xH0TKP0VFl_0wbtPeXoeJIvC_n7TvdX2ew1wL8-yXQJQ-xJ_m0OVpnpn1Hz"});
    let off_curve = json!({"kty": "EC", "crv": "P-256", "x": "AQ", "y": "AQ"});
    for (bad, what) in [(rsa, "RSA"), (p384, "P-384"), (off_curve, "not a P-256 point")] {
        let mut c = env.client();
        let ch = block_on(c.auth("dev")).unwrap().unwrap();
        let rd = runtime_data(&ch.nonce, bad, &claims());
        // Evidence that binds this runtime-data, so only the key is wrong.
        let ev = DevTee.evidence(&protocol::report_data(&rd)).unwrap();
        let d = refused(
            block_on(c.attest(&AttestRequest {
                runtime_data: rd,
                tee_evidence: ev,
                gpu_evidence: Vec::new(),
            }))
            .unwrap(),
            400,
            "tee_pubkey_invalid",
        );
        assert!(d.contains("tee-pubkey"), "{what}: {d}");
    }
    let records = env.finish();
    assert_eq!(records.len(), 6);
    assert_eq!(
        outcomes(&records)
            .iter()
            .filter(|x| x.2 == "tee_pubkey_invalid")
            .count(),
        3
    );
}

#[test]
fn a_policy_without_allow_dev_refuses_the_dev_tee() {
    let env = start(&snp_policy());
    let mut c = env.client();
    let d = refused(block_on(c.auth("dev")).unwrap(), 401, "tee_not_accepted");
    assert!(
        d.contains("attestation.allow_dev") && d.contains("attestation.tee"),
        "{d}"
    );
    let d = refused(
        request_resource(&env.url, KEY_ID, &DevTee, &claims(), None),
        401,
        "tee_not_accepted",
    );
    assert!(d.contains("dev"), "{d}");
    refused(block_on(c.auth("sgx")).unwrap(), 400, "tee_unknown");
    let records = env.finish();
    assert_eq!(
        outcomes(&records),
        vec![
            o("auth", "denied", "tee_not_accepted"),
            o("auth", "denied", "tee_not_accepted"),
            o("auth", "denied", "tee_unknown")
        ]
    );
    let failed = records[0]["decision"]["failed"].as_array().unwrap();
    assert!(
        failed.iter().any(|c| c["rule"] == "attestation.allow_dev"),
        "{failed:?}"
    );
}

#[test]
fn release_follows_the_keys_policy() {
    let env = start(&dev_policy());
    let mut c = env.client();
    let eph = jwe::EphemeralKey::generate();
    let req = prepare(&mut c, &eph, &claims());
    let token = block_on(c.attest(&req)).unwrap().unwrap();
    // A key bound to another image.
    let d = refused(
        block_on(c.resource(OTHER_KEY_ID, Some(&token))).unwrap(),
        403,
        "release_denied",
    );
    assert!(
        d.contains(&format!("keys.entries[{OTHER_KEY_ID}].image_digest")) && d.contains(OTHER_IMAGE),
        "{d}"
    );
    // A key the policy does not list (even if the store had it).
    env.keys.put("models/key/unlisted", Secret::new(b"x".to_vec())).unwrap();
    let d = refused(
        block_on(c.resource("models/key/unlisted", Some(&token))).unwrap(),
        403,
        "release_denied",
    );
    assert!(d.contains("keys.entries.id"), "{d}");
    // Listed and allowed, but not in the store.
    refused(
        block_on(c.resource(UNSTORED_KEY_ID, Some(&token))).unwrap(),
        404,
        "resource_not_found",
    );
    // And the right one.
    let jwe_text = block_on(c.resource(KEY_ID, Some(&token))).unwrap().unwrap();
    assert_eq!(&jwe::decrypt(&eph, &jwe_text).unwrap()[..], KEY);

    let records = env.finish();
    assert_eq!(
        outcomes(&records),
        vec![
            o("auth", "ok", ""),
            o("attest", "ok", ""),
            o("resource", "denied", "release_denied"),
            o("resource", "denied", "release_denied"),
            o("resource", "denied", "resource_not_found"),
            o("resource", "released", ""),
        ]
    );
    assert_eq!(records[2]["key_id"], OTHER_KEY_ID);
    let failed = records[2]["decision"]["failed"].as_array().unwrap();
    assert_eq!(failed[0]["rule"], format!("keys.entries[{OTHER_KEY_ID}].image_digest"));
}

#[test]
fn resources_need_a_valid_unexpired_token() {
    let env = start(&dev_policy());
    let mut c = env.client();
    // No token, no session.
    refused(block_on(c.resource(KEY_ID, None)).unwrap(), 401, "token_missing");
    // A session that has not attested.
    block_on(c.auth("dev")).unwrap().unwrap();
    refused(block_on(c.resource(KEY_ID, None)).unwrap(), 401, "token_missing");

    let eph = jwe::EphemeralKey::generate();
    let req = prepare(&mut c, &eph, &claims());
    let token = block_on(c.attest(&req)).unwrap().unwrap();
    let mut fresh = env.client(); // no cookie: the bearer alone decides

    // A token signed by another key, with the same claims.
    let jwk = block_on(fresh.token_key()).unwrap().unwrap();
    let claims_json = verify_with_jwk(&jwk, &token, env.clock.unix()).unwrap();
    let other = TokenSigner::generate().unwrap();
    let d = refused(
        block_on(fresh.resource(KEY_ID, Some(&other.sign(&claims_json)))).unwrap(),
        401,
        "token_invalid",
    );
    assert!(d.contains("kid"), "{d}");
    // This broker's header and signature over changed claims (another image).
    let parts: Vec<&str> = token.split('.').collect();
    let mut changed = claims_json.clone();
    changed["image-digest"] = OTHER_IMAGE.into();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let forged = format!("{}.{}.{}", parts[0], b64.encode(changed.to_string()), parts[2]);
    let d = refused(
        block_on(fresh.resource(OTHER_KEY_ID, Some(&forged))).unwrap(),
        401,
        "token_invalid",
    );
    assert!(d.contains("signature"), "{d}");
    refused(
        block_on(fresh.resource(KEY_ID, Some("not.a.token"))).unwrap(),
        401,
        "token_invalid",
    );

    // Still valid one second before expiry, then expired (bearer and cookie alike).
    env.clock.advance(Duration::from_secs(299));
    block_on(fresh.resource(KEY_ID, Some(&token))).unwrap().unwrap();
    env.clock.advance(Duration::from_secs(1));
    refused(
        block_on(fresh.resource(KEY_ID, Some(&token))).unwrap(),
        401,
        "token_expired",
    );
    refused(block_on(c.resource(KEY_ID, None)).unwrap(), 401, "token_expired");

    let records = env.finish();
    assert_eq!(
        outcomes(&records),
        vec![
            o("resource", "denied", "token_missing"),
            o("auth", "ok", ""),
            o("resource", "denied", "token_missing"),
            o("auth", "ok", ""),
            o("attest", "ok", ""),
            o("resource", "denied", "token_invalid"),
            o("resource", "denied", "token_invalid"),
            o("resource", "denied", "token_invalid"),
            o("resource", "released", ""),
            o("resource", "denied", "token_expired"),
            o("resource", "denied", "token_expired"),
        ]
    );
}

#[test]
fn admin_api_needs_the_admin_token() {
    let env = start(&dev_policy());
    let mut c = env.client();
    let bearer = |t: &str| vec![(hyper::header::AUTHORIZATION, format!("Bearer {t}"))];
    // Without a token, and with a wrong one (same length, and a prefix of the right one).
    let r = block_on(c.send(hyper::Method::GET, "/admin/keys", &[], Vec::new()))
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 401);
    let wrong = "x".repeat(ADMIN_TOKEN.len());
    refused(
        block_on(c.admin_list(wrong.as_bytes())).unwrap(),
        401,
        "admin_unauthorized",
    );
    refused(
        block_on(c.admin_put(&ADMIN_TOKEN.as_bytes()[..10], KEY_ID, b"evil")).unwrap(),
        401,
        "admin_unauthorized",
    );
    refused(
        block_on(c.admin_delete(b"wrong", KEY_ID)).unwrap(),
        401,
        "admin_unauthorized",
    );
    let r = block_on(c.send(
        hyper::Method::PUT,
        &format!("/admin/keys/{KEY_ID}"),
        &bearer("nope"),
        b"evil".to_vec(),
    ))
    .unwrap()
    .unwrap();
    assert_eq!(r.status, 401);
    // Nothing changed.
    assert_eq!(env.keys.get(KEY_ID).unwrap().unwrap().expose(), KEY);

    // With the token: list, replace, fetch the new key through the full flow, delete.
    let t = ADMIN_TOKEN.as_bytes();
    assert_eq!(
        block_on(c.admin_list(t)).unwrap().unwrap(),
        vec![KEY_ID.to_string(), OTHER_KEY_ID.to_string()]
    );
    block_on(c.admin_put(t, KEY_ID, b"rotated key")).unwrap().unwrap();
    let key = request_resource(&env.url, KEY_ID, &DevTee, &claims(), None).unwrap();
    assert_eq!(&key[..], b"rotated key");
    block_on(c.admin_delete(t, KEY_ID)).unwrap().unwrap();
    refused(block_on(c.admin_delete(t, KEY_ID)).unwrap(), 404, "resource_not_found");
    assert_eq!(
        block_on(c.admin_list(t)).unwrap().unwrap(),
        vec![OTHER_KEY_ID.to_string()]
    );
    refused(
        request_resource(&env.url, KEY_ID, &DevTee, &claims(), None),
        404,
        "resource_not_found",
    );

    let metrics = String::from_utf8(get(&mut c, "/metrics", &[]).body).unwrap();
    assert!(
        metrics.contains("sealrun_broker_admin_total{op=\"list\",result=\"denied\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sealrun_broker_admin_total{op=\"put\",result=\"ok\"} 1\n"),
        "{metrics}"
    );

    let records = env.finish();
    let admin: Vec<_> = outcomes(&records)
        .into_iter()
        .filter(|x| x.0.starts_with("admin_"))
        .collect();
    assert_eq!(
        admin,
        vec![
            o("admin_list", "denied", "admin_unauthorized"),
            o("admin_list", "denied", "admin_unauthorized"),
            o("admin_put", "denied", "admin_unauthorized"),
            o("admin_delete", "denied", "admin_unauthorized"),
            o("admin_put", "denied", "admin_unauthorized"),
            o("admin_list", "ok", ""),
            o("admin_put", "ok", ""),
            o("admin_delete", "ok", ""),
            o("admin_delete", "ok", ""),
            o("admin_list", "ok", ""),
        ]
    );
    // 10 admin decisions + 2 flows of (auth, attest, resource).
    assert_eq!(records.len(), 16);
}

#[test]
fn admin_token_file_is_trimmed_and_must_not_be_empty() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("admin");
    std::fs::write(&p, format!("{ADMIN_TOKEN}\n")).unwrap();
    assert_eq!(AdminToken::from_file(&p).unwrap().expose(), ADMIN_TOKEN.as_bytes());
    std::fs::write(&p, "  \n").unwrap();
    assert!(AdminToken::from_file(&p).is_err());
}

#[test]
fn plain_http_is_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(FileKeyStore::open(&dir.path().join("k"), Kek::from_bytes([1; 32])).unwrap());
    let audit = Arc::new(AuditLog::open(&dir.path().join("a")).unwrap());
    let config = BrokerConfig::new(Policy::from_str(&dev_policy(), "p.toml").unwrap(), keys, audit);
    let err = Broker::new(config)
        .unwrap()
        .spawn("0.0.0.0:0".parse().unwrap(), None)
        .err()
        .unwrap();
    assert!(err.to_string().contains("loopback"), "{err}");
    let err = BrokerClient::new("http://192.0.2.7:8080", None)
        .and_then(|mut c| block_on(c.auth("dev")).unwrap().map(|_| ()))
        .unwrap_err();
    assert!(matches!(err, ClientError::InsecureNonLoopback(_)), "{err}");
}

fn openssl(args: &[&str], dir: &Path) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package `openssl`) makes the test PKI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tls_end_to_end() {
    let pki = tempfile::tempdir().unwrap();
    let d = pki.path();
    openssl(
        &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"],
        d,
    );
    openssl(
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/CN=sealrun test CA",
            "-days",
            "2",
            "-out",
            "ca.pem",
        ],
        d,
    );
    openssl(
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "server.key",
        ],
        d,
    );
    openssl(
        &[
            "req",
            "-new",
            "-key",
            "server.key",
            "-subj",
            "/CN=localhost",
            "-out",
            "server.csr",
        ],
        d,
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
        d,
    );
    let tls = sealrun_attest::broker::server::tls_server_config(&d.join("server.pem"), &d.join("server.key")).unwrap();
    let env = start_with(&dev_policy(), Some(tls), |_| {});
    assert!(env.url.starts_with("https://localhost:"));
    let key = request_resource(&env.url, KEY_ID, &DevTee, &claims(), Some(&d.join("ca.pem"))).unwrap();
    assert_eq!(&key[..], KEY);
    // A client that trusts another CA does not get through the handshake.
    let err = request_resource(&env.url, KEY_ID, &DevTee, &claims(), Some(&d.join("server.pem"))).unwrap_err();
    assert!(matches!(err, ClientError::Tls { .. }), "{err}");
    // https without a root to trust is refused before connecting.
    assert!(matches!(
        BrokerClient::new(&env.url, None),
        Err(ClientError::TlsRoot { .. })
    ));
    assert_eq!(
        outcomes(&env.finish()),
        vec![
            o("auth", "ok", ""),
            o("attest", "ok", ""),
            o("resource", "released", "")
        ]
    );
}

#[test]
fn a_sandbox_under_another_policy_gets_no_token() {
    let env = start(&dev_policy());
    let mut c = env.client();
    let eph = jwe::EphemeralKey::generate();
    let other = WorkloadClaims {
        image_digest: IMAGE.into(),
        policy_digest: format!("sha256:{}", "3".repeat(64)),
    };
    let req = prepare(&mut c, &eph, &other);
    let msg = refused(block_on(c.attest(&req)).unwrap(), 401, "policy_digest_mismatch");
    assert!(msg.contains(&policy_digest()), "{msg}");
}

#[test]
fn rego_rules_take_part_in_attestation_and_key_release() {
    let rules = format!(
        r#"
[[rules]]
name = "frozen-key"
applies_to = ["keys"]
module = '''
package sealrun.rules.frozen
deny contains msg if {{
    input.key_id == "{KEY_ID}"
    msg := "{KEY_ID} is frozen"
}}
'''

[[rules]]
name = "quarantine"
applies_to = ["attestation"]
module = '''
package sealrun.rules.quarantine
deny contains msg if {{
    input.runtime_data["image-digest"] == "{OTHER_IMAGE}"
    msg := "image quarantined"
}}
'''
"#
    );
    let policy = format!("{}{rules}", dev_policy());
    let digest = Policy::from_str(&policy, "p.toml").unwrap().digest();
    let env = start(&policy);
    // The keys rule refuses a release that [keys] alone would allow.
    let ok_image = WorkloadClaims {
        image_digest: IMAGE.into(),
        policy_digest: digest.clone(),
    };
    let detail = refused(
        request_resource(&env.url, KEY_ID, &DevTee, &ok_image, None),
        403,
        "release_denied",
    );
    assert!(
        detail.contains("rules.frozen-key") && detail.contains("is frozen"),
        "{detail}"
    );
    // The attestation rule refuses the token itself.
    let quarantined = WorkloadClaims {
        image_digest: OTHER_IMAGE.into(),
        policy_digest: digest,
    };
    let detail = refused(
        request_resource(&env.url, OTHER_KEY_ID, &DevTee, &quarantined, None),
        401,
        "appraisal_failed",
    );
    assert!(detail.contains("image quarantined"), "{detail}");
    env.finish();
}

fn fixtures() -> PathBuf {
    std::env::var_os("SEALRUN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"))
}

#[test]
fn gpus_must_answer_the_nonce_derived_from_the_same_challenge() {
    let policy = format!(
        "{}\n[attestation.gpu]\ncount = 1\nrequire_evidence = true\n",
        dev_policy()
    );
    let digest = Policy::from_str(&policy, "p.toml").unwrap().digest();
    let claims = WorkloadClaims {
        image_digest: IMAGE.into(),
        policy_digest: digest,
    };
    let env = start(&policy);
    // No GPU evidence: the policy's GPU count is not met.
    let mut c = env.client();
    let eph = jwe::EphemeralKey::generate();
    let req = prepare(&mut c, &eph, &claims);
    let detail = refused(block_on(c.attest(&req)).unwrap(), 401, "appraisal_failed");
    assert!(detail.contains("attestation.gpu.count"), "{detail}");
    // Real Hopper evidence, but made for another nonce: not bound to this challenge.
    let nv = fixtures().join("attest/nvidia");
    let report_hex = std::fs::read_to_string(nv.join("hopperAttestationReport.txt")).unwrap();
    let certs = std::fs::read_to_string(nv.join("hopper_cert_chain_case1.txt")).unwrap();
    let ev = sealrun_attest::evidence::nvidia::NvidiaEvidence::from_text(&report_hex, &certs).unwrap();
    let mut c = env.client();
    let mut req = prepare(&mut c, &eph, &claims);
    req.gpu_evidence = vec![protocol::GpuEvidence {
        report: base64::engine::general_purpose::STANDARD.encode(&ev.report),
        certs: certs.clone(),
    }];
    let detail = refused(block_on(c.attest(&req)).unwrap(), 401, "gpu_evidence_invalid");
    assert!(
        detail.contains("gpu-evidence[0]") && detail.to_lowercase().contains("nonce"),
        "{detail}"
    );
    // The derivation: what the GPU would have to sign for this request.
    let rd = protocol::report_data(&req.runtime_data);
    assert_ne!(
        protocol::gpu_nonce(&rd).to_vec(),
        hex::decode("931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb").unwrap()
    );
    env.finish();
}
