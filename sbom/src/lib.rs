//! sealrun-sbom: SBOM documents into one normalised inventory, checked against a policy's
//! `[sbom]` section with offline OSV data.
