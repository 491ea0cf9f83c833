//! OCI image layouts, referrers, model media types, cosign signatures, safe unpacking.
