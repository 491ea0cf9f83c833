//! JWE ECDH-ES+A256KW / A256GCM to an attested ephemeral P-256 key.
