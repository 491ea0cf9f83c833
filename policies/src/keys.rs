//! `[keys]`: which model key may be released for which image under which TEE.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::attestation::TeeKind;
use crate::decision::Decision;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    #[serde(default)]
    pub entries: Vec<KeyEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Key identifier at the broker.
    pub id: String,
    /// The only image this key decrypts: `sha256:` and 64 lowercase hex digits.
    #[schemars(regex(pattern = r"^sha256:[0-9a-f]{64}$"))]
    pub image_digest: String,
    /// TEE kinds whose attestation releases the key (at least one).
    pub require_tee: Vec<TeeKind>,
}

impl Keys {
    /// Whether key `key_id` may be released to `image_digest` attested by a `tee` TEE.
    /// Appraising the evidence itself is `Attestation::appraise_*`'s job.
    pub fn release_allowed(&self, key_id: &str, image_digest: &str, tee: TeeKind) -> Decision {
        let mut d = Decision::new();
        let Some(entry) = self.entries.iter().find(|e| e.id == key_id) else {
            let known: Vec<&str> = self.entries.iter().map(|e| e.id.as_str()).collect();
            d.check(
                "keys.entries.id",
                false,
                format!("one of [{}]", known.join(", ")),
                format!("`{key_id}`"),
            );
            return d;
        };
        d.check("keys.entries.id", true, format!("`{key_id}`"), format!("`{key_id}`"));
        d.check(
            &format!("keys.entries[{key_id}].image_digest"),
            entry.image_digest.eq_ignore_ascii_case(image_digest),
            entry.image_digest.clone(),
            image_digest.to_string(),
        );
        let kinds: Vec<&str> = entry.require_tee.iter().map(|k| k.as_str()).collect();
        d.check(
            &format!("keys.entries[{key_id}].require_tee"),
            entry.require_tee.contains(&tee),
            format!("one of [{}]", kinds.join(", ")),
            tee.as_str().to_string(),
        );
        d
    }
}
