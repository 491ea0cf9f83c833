//! The signed payload: an in-toto Statement v1 whose predicate lists every resource (file or
//! file shard) with its digest, and the serialization that produced them.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{OmsError, IN_TOTO_STATEMENT_V1, PREDICATE_TYPE_V0_2, PREDICATE_TYPE_V1};

/// The content hash of files or shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashType {
    Sha256,
    /// BLAKE2b-512 (Python's `hashlib.blake2b()`).
    Blake2b,
    Blake3,
}

impl HashType {
    /// The name `model_signing` records (`hash_type`, and the resource algorithm for files).
    pub fn name(self) -> &'static str {
        match self {
            HashType::Sha256 => "sha256",
            HashType::Blake2b => "blake2b",
            HashType::Blake3 => "blake3",
        }
    }

    /// Accepts `blake2` too: it is what `model_signing`'s CLI and API call it.
    pub fn parse(s: &str) -> Option<HashType> {
        match s {
            "sha256" => Some(HashType::Sha256),
            "blake2b" | "blake2" => Some(HashType::Blake2b),
            "blake3" => Some(HashType::Blake3),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerializationMethod {
    Files,
    Shards { shard_size: u64 },
}

/// `predicate.serialization`: how the model was turned into resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serialization {
    pub method: SerializationMethod,
    pub hash_type: HashType,
    pub allow_symlinks: bool,
    /// Relative to the model root, as signed.
    pub ignore_paths: Vec<String>,
}

impl Serialization {
    /// The resource `algorithm` every resource of this serialization must carry.
    pub fn resource_algorithm(&self) -> String {
        match self.method {
            SerializationMethod::Files => self.hash_type.name().to_string(),
            SerializationMethod::Shards { shard_size } => format!("{}-sharded-{shard_size}", self.hash_type.name()),
        }
    }
}

/// One signed resource, as in the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The path relative to the model root (`/`-separated; `.` for a single-file model), or
    /// `path:start:end` for a shard.
    pub name: String,
    pub algorithm: String,
    /// Lowercase hex.
    pub digest: String,
}

pub(crate) struct ParsedPayload {
    pub model_name: String,
    pub serialization: Serialization,
    pub root_digest: String,
    pub resources: Vec<Resource>,
    pub legacy_v0_2: bool,
}

fn perr(field: &str, reason: impl Into<String>) -> OmsError {
    OmsError::Payload {
        field: field.to_string(),
        reason: reason.into(),
    }
}

fn get_str<'a>(v: &'a Value, key: &str, field: &str) -> Result<&'a str, OmsError> {
    match v.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(perr(field, format!("expected a string, found {other}"))),
        None => Err(perr(field, "missing")),
    }
}

fn get_array<'a>(v: &'a Value, key: &str, field: &str) -> Result<&'a Vec<Value>, OmsError> {
    match v.get(key) {
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(perr(field, format!("expected an array, found {other}"))),
        None => Err(perr(field, "missing")),
    }
}

/// Lowercase hex of a hex digest (Python's `bytes.fromhex` accepts either case).
fn parse_hex(s: &str, field: &str) -> Result<Vec<u8>, OmsError> {
    hex::decode(s).map_err(|e| perr(field, format!("not a hex digest ({e}): {s:?}")))
}

pub(crate) fn root_digest(digests: &[Vec<u8>]) -> String {
    let mut h = Sha256::new();
    for d in digests {
        h.update(d);
    }
    hex::encode(h.finalize())
}

/// Whether an (unverified) payload claims the 0.2 predicate: only used to word an error.
pub(crate) fn is_v0_2(payload: &[u8]) -> bool {
    serde_json::from_slice::<Value>(payload)
        .is_ok_and(|v| v.get("predicateType").and_then(Value::as_str) == Some(PREDICATE_TYPE_V0_2))
}

pub(crate) fn parse_payload(payload: &[u8], allow_legacy: bool) -> Result<ParsedPayload, OmsError> {
    let v: Value = serde_json::from_slice(payload).map_err(|e| perr("(payload)", format!("not JSON: {e}")))?;
    let ty = get_str(&v, "_type", "_type")?;
    if ty != IN_TOTO_STATEMENT_V1 {
        return Err(perr("_type", format!("expected {IN_TOTO_STATEMENT_V1:?} found {ty:?}")));
    }
    let predicate_type = get_str(&v, "predicateType", "predicateType")?;
    match predicate_type {
        PREDICATE_TYPE_V1 => parse_v1(&v),
        PREDICATE_TYPE_V0_2 if allow_legacy => parse_v0_2(&v),
        PREDICATE_TYPE_V0_2 => Err(OmsError::LegacyNotAllowed),
        other => Err(perr(
            "predicateType",
            format!("expected {PREDICATE_TYPE_V1:?} found {other:?}"),
        )),
    }
}

fn parse_v1(v: &Value) -> Result<ParsedPayload, OmsError> {
    let subjects = get_array(v, "subject", "subject")?;
    if subjects.len() != 1 {
        return Err(perr(
            "subject",
            format!("expected exactly one subject, found {}", subjects.len()),
        ));
    }
    let subject = &subjects[0];
    let model_name = get_str(subject, "name", "subject[0].name")?.to_string();
    let expected_root = get_str(
        subject.get("digest").unwrap_or(&Value::Null),
        "sha256",
        "subject[0].digest.sha256",
    )?;
    let expected_root = hex::encode(parse_hex(expected_root, "subject[0].digest.sha256")?);

    let predicate = v.get("predicate").ok_or_else(|| perr("predicate", "missing"))?;
    let ser = predicate
        .get("serialization")
        .ok_or_else(|| perr("predicate.serialization", "missing"))?;
    let serialization = parse_serialization(ser)?;
    let expected_alg = serialization.resource_algorithm();

    let mut resources = Vec::new();
    let mut digests = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, r) in get_array(predicate, "resources", "predicate.resources")?
        .iter()
        .enumerate()
    {
        let field = |f: &str| format!("predicate.resources[{i}].{f}");
        let name = get_str(r, "name", &field("name"))?.to_string();
        let algorithm = get_str(r, "algorithm", &field("algorithm"))?.to_string();
        let digest = parse_hex(get_str(r, "digest", &field("digest"))?, &field("digest"))?;
        if algorithm != expected_alg {
            return Err(perr(
                &field("algorithm"),
                format!("expected {expected_alg:?} found {algorithm:?}"),
            ));
        }
        // The reference keeps the last of duplicates silently; two digests for one file is
        // an ambiguity, not a signature.
        if !seen.insert(name.clone()) {
            return Err(perr(&field("name"), format!("{name:?} is listed twice")));
        }
        resources.push(Resource {
            name,
            algorithm,
            digest: hex::encode(&digest),
        });
        digests.push(digest);
    }
    let found_root = root_digest(&digests);
    if found_root != expected_root {
        return Err(OmsError::RootDigest {
            expected: expected_root,
            found: found_root,
        });
    }
    Ok(ParsedPayload {
        model_name,
        serialization,
        root_digest: found_root,
        resources,
        legacy_v0_2: false,
    })
}

fn parse_serialization(ser: &Value) -> Result<Serialization, OmsError> {
    let f = "predicate.serialization";
    let method = get_str(ser, "method", &format!("{f}.method"))?;
    let hash_name = get_str(ser, "hash_type", &format!("{f}.hash_type"))?;
    let hash_type = HashType::parse(hash_name).ok_or_else(|| {
        perr(
            &format!("{f}.hash_type"),
            format!("expected sha256, blake2b or blake3, found {hash_name:?}"),
        )
    })?;
    let allow_symlinks = match ser.get("allow_symlinks") {
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(perr(
                &format!("{f}.allow_symlinks"),
                format!("expected a boolean, found {other}"),
            ))
        }
        None => return Err(perr(&format!("{f}.allow_symlinks"), "missing")),
    };
    let method = match method {
        "files" => SerializationMethod::Files,
        "shards" => {
            if hash_type == HashType::Blake3 {
                return Err(perr(&format!("{f}.hash_type"), "blake3 is not used with shards"));
            }
            // Protobuf's JSON writes numbers as doubles: 300000 may come as 300000.0.
            let field = format!("{f}.shard_size");
            let n = ser.get("shard_size").ok_or_else(|| perr(&field, "missing"))?;
            let shard_size = match n.as_u64() {
                Some(n) => n,
                None => match n.as_f64() {
                    Some(x) if x.fract() == 0.0 && (1.0..9.0e15).contains(&x) => x as u64,
                    _ => return Err(perr(&field, format!("expected a positive integer, found {n}"))),
                },
            };
            if shard_size == 0 {
                return Err(perr(&field, "expected a positive integer, found 0"));
            }
            SerializationMethod::Shards { shard_size }
        }
        other => {
            return Err(perr(
                &format!("{f}.method"),
                format!("expected \"files\" or \"shards\", found {other:?}"),
            ))
        }
    };
    let mut ignore_paths = Vec::new();
    if let Some(list) = ser.get("ignore_paths") {
        let Value::Array(list) = list else {
            return Err(perr(
                &format!("{f}.ignore_paths"),
                format!("expected an array, found {list}"),
            ));
        };
        for (i, p) in list.iter().enumerate() {
            match p {
                Value::String(s) => ignore_paths.push(s.clone()),
                other => {
                    return Err(perr(
                        &format!("{f}.ignore_paths[{i}]"),
                        format!("expected a string, found {other}"),
                    ))
                }
            }
        }
    }
    Ok(Serialization {
        method,
        hash_type,
        allow_symlinks,
        ignore_paths,
    })
}

/// `model_signing` 0.2: one subject per file (sha256), no serialization, no root digest.
fn parse_v0_2(v: &Value) -> Result<ParsedPayload, OmsError> {
    let mut resources = Vec::new();
    let mut digests = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, s) in get_array(v, "subject", "subject")?.iter().enumerate() {
        let name = get_str(s, "name", &format!("subject[{i}].name"))?.to_string();
        let field = format!("subject[{i}].digest.sha256");
        let digest = parse_hex(
            get_str(s.get("digest").unwrap_or(&Value::Null), "sha256", &field)?,
            &field,
        )?;
        if !seen.insert(name.clone()) {
            return Err(perr(&format!("subject[{i}].name"), format!("{name:?} is listed twice")));
        }
        resources.push(Resource {
            name,
            algorithm: "sha256".into(),
            digest: hex::encode(&digest),
        });
        digests.push(digest);
    }
    if resources.is_empty() {
        return Err(perr("subject", "no subjects"));
    }
    Ok(ParsedPayload {
        model_name: String::new(),
        // The reference fakes `allow_symlinks: "false"` (a truthy string in Python); sealrun
        // reads it as false.
        serialization: Serialization {
            method: SerializationMethod::Files,
            hash_type: HashType::Sha256,
            allow_symlinks: false,
            ignore_paths: Vec::new(),
        },
        root_digest: root_digest(&digests),
        resources,
        legacy_v0_2: true,
    })
}

/// The payload `model_signing` 1.x signs; `resources` must already be in canonical order.
pub(crate) fn build_payload(model_name: &str, ser: &Serialization, resources: &[(String, Vec<u8>)]) -> Vec<u8> {
    let alg = ser.resource_algorithm();
    let digests: Vec<Vec<u8>> = resources.iter().map(|(_, d)| d.clone()).collect();
    let mut serialization = json!({
        "method": match ser.method { SerializationMethod::Files => "files", SerializationMethod::Shards { .. } => "shards" },
        "hash_type": ser.hash_type.name(),
        "allow_symlinks": ser.allow_symlinks,
    });
    if let SerializationMethod::Shards { shard_size } = ser.method {
        serialization["shard_size"] = json!(shard_size);
    }
    if !ser.ignore_paths.is_empty() {
        serialization["ignore_paths"] = json!(ser.ignore_paths);
    }
    let resources: Vec<Value> = resources
        .iter()
        .map(|(name, d)| json!({ "name": name, "algorithm": alg, "digest": hex::encode(d) }))
        .collect();
    let statement = json!({
        "_type": IN_TOTO_STATEMENT_V1,
        "subject": [{ "name": model_name, "digest": { "sha256": root_digest(&digests) } }],
        "predicateType": PREDICATE_TYPE_V1,
        "predicate": { "serialization": serialization, "resources": resources },
    });
    serde_json::to_vec_pretty(&statement).expect("a JSON value serialises")
}
