//! Key store: a trait, and an encrypted-at-rest file store.
