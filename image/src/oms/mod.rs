//! OpenSSF model signing (OMS): bundles, DSSE, manifests, hashing, key and certificate verification, signing.
