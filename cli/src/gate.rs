//! The supply-chain gate: a model image runs only if a signer the policy trusts signed it
//! and its SBOM passes the policy. `sealrun verify image` runs it by hand; `sealrun create`
//! runs it for a bundle annotated `io.sealrun.image`, before anything is created.
//!
//! The steps, each failing closed:
//! 1. open the OCI layout and resolve the reference to a manifest;
//! 2. find its referrers (OCI 1.1 `subject`, or cosign's `sha256-….sig` tag);
//! 3. signature: an OMS bundle (media type pinned by the policy) verified against each
//!    signer of `[trust]`, or a cosign simple-signing signature over the manifest digest
//!    against a `[trust]` key;
//! 4. files: for an OMS signature, every model file of the manifest is a signed resource
//!    whose digest equals the layer digest (`.raw` layers: the layer *is* the file), and
//!    every signed resource is in the image — the OMS manifest is checked against the OCI
//!    manifest without hashing twice; then every layer blob is streamed once, its digest
//!    and size checked (in parallel across layers);
//! 5. SBOM: each CycloneDX / SPDX referrer parsed and checked against `[sbom]` (formats,
//!    licenses, denied purls, offline OSV with the CVSS threshold, Rego rules).

use std::path::{Path, PathBuf};

use sealrun_image::oci::{self, Compression, OciLayout, ReferrerKind};
use sealrun_image::oms;
use sealrun_policy::Policy;
use serde::Serialize;

/// The bundle annotation naming the model image: `LAYOUT[:TAG]` or `LAYOUT@sha256:HEX`
/// (a relative LAYOUT is relative to the bundle directory).
pub const IMAGE_ANNOTATION: &str = "io.sealrun.image";

/// An image reference: an OCI layout directory and a tag or digest in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub layout: PathBuf,
    /// A tag (`org.opencontainers.image.ref.name`) or `sha256:…`; `None`: the layout's
    /// only model manifest.
    pub reference: Option<String>,
}

impl ImageRef {
    /// `LAYOUT@sha256:HEX`, `LAYOUT:TAG` (when LAYOUT:TAG is not itself a directory) or
    /// `LAYOUT`.
    pub fn parse(s: &str) -> ImageRef {
        if let Some((l, d)) = s.rsplit_once('@') {
            return ImageRef {
                layout: l.into(),
                reference: Some(d.into()),
            };
        }
        if !Path::new(s).is_dir() {
            if let Some((l, t)) = s.rsplit_once(':') {
                if !t.contains('/') && !t.is_empty() {
                    return ImageRef {
                        layout: l.into(),
                        reference: Some(t.into()),
                    };
                }
            }
        }
        ImageRef {
            layout: s.into(),
            reference: None,
        }
    }

    pub fn display(&self) -> String {
        match &self.reference {
            Some(r) if r.contains(':') => format!("{}@{r}", self.layout.display()),
            Some(r) => format!("{}:{r}", self.layout.display()),
            None => self.layout.display().to_string(),
        }
    }
}

/// One reason the gate refuses, or a note it records.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `signature`, `files`, `sbom`.
    pub gate: &'static str,
    /// The policy key or artefact field the finding is about.
    pub rule: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignatureOutcome {
    /// `oms-key`, `oms-certificate`, `oms-sigstore`, `cosign-key`.
    pub method: String,
    pub signer: String,
    /// The referrer manifest that carried the signature.
    pub referrer: String,
    /// OMS root digest (sha256 over the resource digests), when an OMS bundle verified.
    pub oms_root_digest: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SbomOutcome {
    pub referrer: String,
    pub format: String,
    pub components: usize,
    pub passed: bool,
}

/// What the gate decided, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub image: String,
    pub manifest_digest: String,
    pub policy: String,
    pub policy_digest: String,
    pub passed: bool,
    pub signature: Option<SignatureOutcome>,
    /// Model files checked against the signature, and layer blobs whose digest was checked.
    pub files_signed: usize,
    pub blobs_verified: usize,
    pub bytes_verified: u64,
    pub sboms: Vec<SbomOutcome>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "image {} ({})\npolicy {} ({})\n",
            self.image, self.manifest_digest, self.policy, self.policy_digest
        );
        match &self.signature {
            Some(s) => out.push_str(&format!(
                "signature: {} by {} (referrer {})\n",
                s.method, s.signer, s.referrer
            )),
            None => out.push_str("signature: none accepted\n"),
        }
        out.push_str(&format!(
            "files: {} signed model files; {} blobs ({} bytes) digest-checked\n",
            self.files_signed, self.blobs_verified, self.bytes_verified
        ));
        for s in &self.sboms {
            out.push_str(&format!(
                "sbom: {} ({} components) {}\n",
                s.format,
                s.components,
                if s.passed { "passes" } else { "fails" }
            ));
        }
        for f in &self.findings {
            out.push_str(&format!("refused [{}] {}: {}\n", f.gate, f.rule, f.message));
        }
        out.push_str(if self.passed {
            "verdict: verified\n"
        } else {
            "verdict: refused\n"
        });
        out
    }

    /// The first findings, in one line (for `--log`).
    pub fn summary(&self) -> String {
        let msgs: Vec<String> = self
            .findings
            .iter()
            .map(|f| format!("[{}] {}: {}", f.gate, f.rule, f.message))
            .collect();
        format!("image {} ({}): {}", self.image, self.manifest_digest, msgs.join("; "))
    }
}

/// Runs the gate. An `Err` is an image that cannot be read at all (no layout, unknown
/// reference); a readable image that fails a check is an `Ok` report with `passed: false`.
pub fn verify_image(image: &ImageRef, policy: &Policy, policy_source: &str) -> anyhow::Result<Report> {
    let layout = OciLayout::open(&image.layout)?;
    let manifest = match &image.reference {
        Some(r) => layout.resolve(r)?,
        None => only_model_manifest(&layout)?,
    };
    let digest = manifest.digest.to_string();
    let mut report = Report {
        image: image.display(),
        manifest_digest: digest.clone(),
        policy: policy_source.to_string(),
        policy_digest: policy.digest(),
        passed: false,
        signature: None,
        files_signed: 0,
        blobs_verified: 0,
        bytes_verified: 0,
        sboms: Vec::new(),
        findings: Vec::new(),
    };
    let referrers = oci::referrers(&layout, &digest)?;
    let files = oci::model_files(&manifest.manifest);

    // 3. Signature.
    let signed = signature(&layout, &digest, &referrers, policy, &mut report);

    // 4. Files against the signature.
    let unpacked = match &signed {
        Some(signed) => cross_check(&layout, &manifest, &files, signed, &mut report),
        None => Vec::new(),
    };
    // Referrer configs too (their layers were read, digest-checked, as payloads).
    let extra: Vec<_> = referrers.iter().map(|r| r.manifest.manifest.config().clone()).collect();
    verify_blobs(&layout, &manifest, &extra, &unpacked, &mut report);

    // 5. SBOM.
    sbom(&referrers, policy, &mut report);

    report.passed = report.findings.is_empty() && report.signature.is_some();
    Ok(report)
}

fn only_model_manifest(layout: &OciLayout) -> anyhow::Result<oci::ManifestBlob> {
    let mut models = Vec::new();
    for m in layout.manifests()? {
        if m.manifest.subject().is_none() {
            models.push(m);
        }
    }
    match models.len() {
        1 => Ok(models.remove(0)),
        0 => anyhow::bail!(
            "{}: index.json: expected a model manifest, found none",
            layout.root().display()
        ),
        n => anyhow::bail!(
            "{}: index.json: {n} manifests without a subject; name one as LAYOUT:TAG or LAYOUT@sha256:…",
            layout.root().display()
        ),
    }
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{path}: {e}"))
}

/// The policy's signers as OMS verifiers, each with a label for messages.
fn verifiers(policy: &Policy) -> (Vec<(String, oms::Verifier)>, Vec<Finding>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let s = &policy.trust.signers;
    for k in &s.keys {
        match read(&k.path) {
            Ok(pem) => out.push((format!("key {}", k.path), oms::Verifier::Key { public_key_pem: pem })),
            Err(e) => problems.push(finding("signature", "trust.signers.keys.path", e)),
        }
    }
    for c in &s.certificates {
        match read(&c.path) {
            Ok(pem) => out.push((
                format!("CA {}", c.path),
                oms::Verifier::Certificate { ca_pems: vec![pem] },
            )),
            Err(e) => problems.push(finding("signature", "trust.signers.certificates.path", e)),
        }
    }
    for g in &s.sigstore {
        out.push((
            format!("sigstore {} ({})", g.identity, g.issuer),
            oms::Verifier::Sigstore {
                identity: g.identity.clone(),
                issuer: g.issuer.clone(),
                trusted_root: g.trusted_root.clone().into(),
            },
        ));
    }
    (out, problems)
}

fn finding(gate: &'static str, rule: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding {
        gate,
        rule: rule.into(),
        message: message.into(),
    }
}

fn signature(
    layout: &OciLayout,
    digest: &str,
    referrers: &[oci::Referrer],
    policy: &Policy,
    report: &mut Report,
) -> Option<oms::SignedManifest> {
    if policy.trust.has_no_signers() {
        report.findings.push(finding(
            "signature",
            "trust.signers",
            "expected at least one trusted signer (keys, certificates or sigstore), found none: nothing can verify",
        ));
        return None;
    }
    let (verifiers, problems) = verifiers(policy);
    report.findings.extend(problems);
    let opts = oms::VerifyOptions {
        media_types: policy.trust.media_types.clone(),
        ..oms::VerifyOptions::default()
    };
    let mut tried: Vec<String> = Vec::new();
    for r in referrers.iter().filter(|r| r.kind == ReferrerKind::SigstoreBundle) {
        let rdigest = r.manifest.digest.to_string();
        for p in &r.payloads {
            if !policy.trust.accepts_media_type(&p.media_type) {
                tried.push(format!(
                    "referrer {rdigest}: bundle media type `{}` is not in trust.media_types [{}]",
                    p.media_type,
                    policy.trust.media_types.join(", ")
                ));
                continue;
            }
            for (label, v) in &verifiers {
                match oms::verify_bundle_manifest(&p.bytes, v, &opts) {
                    Ok(signed) => {
                        report.signature = Some(SignatureOutcome {
                            method: format!("oms-{}", signed.method),
                            signer: format!("{} ({label})", signed.signer),
                            referrer: rdigest.clone(),
                            oms_root_digest: Some(signed.root_digest.clone()),
                        });
                        return Some(signed);
                    }
                    Err(e) => tried.push(format!("referrer {rdigest} with {label}: {e}")),
                }
            }
        }
    }
    // A cosign signature over the manifest digest binds every layer through the manifest.
    for k in &policy.trust.signers.keys {
        let Ok(pem) = read(&k.path) else { continue };
        let key = match oci::cosign::parse_public_key(&String::from_utf8_lossy(&pem), &k.path) {
            Ok(key) => key,
            Err(_) => continue, // not a P-256 key: cosign keyed signatures are P-256 only
        };
        match oci::verify_cosign(layout, digest, &key) {
            Ok(v) => {
                report.signature = Some(SignatureOutcome {
                    method: "cosign-key".into(),
                    signer: format!("key {} (identity {})", k.path, v.payload.docker_reference),
                    referrer: v.signature_manifest.clone(),
                    oms_root_digest: None,
                });
                return None;
            }
            Err(e) => {
                if referrers.iter().any(|r| r.kind == ReferrerKind::CosignSignature) {
                    tried.push(format!("cosign signature with key {}: {e}", k.path));
                }
            }
        }
    }
    let why = if tried.is_empty() {
        "expected a signature referrer (an OMS Sigstore bundle or a cosign signature) whose subject is the model manifest, found none".to_string()
    } else {
        format!("no trusted signer verified a signature: {}", tried.join("; "))
    };
    report.findings.push(finding("signature", "trust.signers", why));
    None
}

/// Every model file is a signed resource with the layer's digest (a `.raw` layer is the
/// file; a tarball layer is unpacked into a private temporary directory, safely, and each of
/// its files hashed); every signed resource is in the image. Returns the digests of the
/// layers unpacked, whose blobs the unpacker read to the end with the digest checked.
fn cross_check(
    layout: &OciLayout,
    manifest: &oci::ManifestBlob,
    files: &[oci::ModelFile],
    signed: &oms::SignedManifest,
    report: &mut Report,
) -> Vec<String> {
    let mut unpacked = Vec::new();
    use std::collections::BTreeMap;
    let mut resources: BTreeMap<&str, &oms::Resource> = signed.resources.iter().map(|r| (r.name.as_str(), r)).collect();
    if signed.resources.iter().any(|r| r.name.contains(':')) {
        report.findings.push(finding(
            "files",
            "serialization.method",
            "expected a `files` OMS manifest (one digest per file, comparable with layer digests), found `shards`",
        ));
        return unpacked;
    }
    for f in files {
        let Some(path) = &f.path else {
            report.findings.push(finding(
                "files",
                format!("layer {}", f.digest),
                "expected an org.cncf.model.filepath annotation naming the file, found none",
            ));
            continue;
        };
        if f.compression != Compression::Raw {
            if tarball(layout, manifest, f, path, &mut resources, report) {
                unpacked.push(f.digest.clone());
            }
            continue;
        }
        let name = path.trim_start_matches("./");
        match resources.remove(name) {
            None => report.findings.push(finding(
                "files",
                format!("layer {} ({name})", f.digest),
                "the file is in the image but not signed",
            )),
            Some(r) => {
                let layer_hex = f.digest.strip_prefix("sha256:").unwrap_or(&f.digest);
                if r.algorithm != "sha256" || !r.digest.eq_ignore_ascii_case(layer_hex) {
                    report.findings.push(finding(
                        "files",
                        format!("layer {} ({name})", f.digest),
                        format!(
                            "signed digest {}:{} does not equal the layer digest",
                            r.algorithm, r.digest
                        ),
                    ));
                } else {
                    report.files_signed += 1;
                }
            }
        }
    }
    for name in resources.keys() {
        report.findings.push(finding(
            "files",
            format!("resource {name}"),
            "signed, but not in the image",
        ));
    }
    unpacked
}

/// A tarball layer: unpacked (no escape, limits, digest checked to the end of the blob) into
/// a temporary directory that is removed afterwards; each regular file must be a signed
/// resource (by its path in the tar, relative to the model root) with the same sha256.
fn tarball(
    layout: &OciLayout,
    manifest: &oci::ManifestBlob,
    f: &oci::ModelFile,
    path: &str,
    resources: &mut std::collections::BTreeMap<&str, &oms::Resource>,
    report: &mut Report,
) -> bool {
    let rule = format!("layer {} ({path})", f.digest);
    let Some(desc) = manifest
        .manifest
        .layers()
        .iter()
        .find(|d| d.digest().to_string() == f.digest)
    else {
        report
            .findings
            .push(finding("files", rule, "not in the manifest's layers"));
        return false;
    };
    let tmp = match tempdir() {
        Ok(t) => t,
        Err(e) => {
            report
                .findings
                .push(finding("files", rule, format!("temporary directory: {e}")));
            return false;
        }
    };
    let target = tmp.0.join("layer");
    if let Err(e) = oci::unpack_layer(layout, desc, &target, &oci::UnpackLimits::default()) {
        report.findings.push(finding("files", rule, e.to_string()));
        return false;
    }
    let mut stack = vec![target.clone()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                report
                    .findings
                    .push(finding("files", rule.clone(), format!("{}: {e}", dir.display())));
                return false;
            }
        };
        for entry in entries.flatten() {
            let p = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.strip_prefix(&target).unwrap_or(&p).to_string_lossy().into_owned();
            if !ft.is_file() {
                report
                    .findings
                    .push(finding("files", rule.clone(), format!("{name}: not a regular file")));
                continue;
            }
            let digest = match sha256_file(&p) {
                Ok(d) => d,
                Err(e) => {
                    report
                        .findings
                        .push(finding("files", rule.clone(), format!("{name}: {e}")));
                    continue;
                }
            };
            match resources.remove(name.as_str()) {
                None => report.findings.push(finding(
                    "files",
                    rule.clone(),
                    format!("{name} is in the layer but not signed"),
                )),
                Some(r) if r.algorithm != "sha256" || !r.digest.eq_ignore_ascii_case(&digest) => {
                    report.findings.push(finding(
                        "files",
                        rule.clone(),
                        format!(
                            "{name}: signed digest {}:{} does not equal the file's sha256:{digest}",
                            r.algorithm, r.digest
                        ),
                    ))
                }
                Some(_) => report.files_signed += 1,
            }
        }
    }
    true
}

fn sha256_file(p: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    let mut f = std::fs::File::open(p)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A private temporary directory (0700), removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> std::io::Result<TempDir> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    for i in 0..100u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = base.join(format!("sealrun-gate-{}-{nanos}-{i}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&p) {
            Ok(()) => return Ok(TempDir(p)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free temporary directory name"))
}

/// Streams every blob of the manifest (config and layers) once, digest and size checked,
/// in parallel across blobs.
fn verify_blobs(
    layout: &OciLayout,
    manifest: &oci::ManifestBlob,
    extra: &[oci_spec::image::Descriptor],
    already_read: &[String],
    report: &mut Report,
) {
    let mut descs = vec![manifest.manifest.config().clone()];
    for l in manifest.manifest.layers() {
        // A tarball the gate unpacked was read to its end with the digest checked then.
        if already_read.contains(&l.digest().to_string()) {
            report.blobs_verified += 1;
            report.bytes_verified += l.size();
        } else {
            descs.push(l.clone());
        }
    }
    descs.extend(extra.iter().cloned());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(descs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Result<u64, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(d) = descs.get(i) else { break };
                        out.push(drain(layout, d));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    for r in results {
        match r {
            Ok(n) => {
                report.blobs_verified += 1;
                report.bytes_verified += n;
            }
            Err(e) => report.findings.push(finding("files", "blob", e)),
        }
    }
}

fn drain(layout: &OciLayout, desc: &oci_spec::image::Descriptor) -> Result<u64, String> {
    let mut r = layout.open_descriptor(desc).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        match std::io::Read::read(&mut r, &mut buf) {
            Ok(0) => break,
            Ok(k) => n += k as u64,
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(n)
}

fn sbom(referrers: &[oci::Referrer], policy: &Policy, report: &mut Report) {
    let osv = match sealrun_sbom::load_osv_for(policy) {
        Ok(db) => db,
        Err(e) => {
            report.findings.push(finding("sbom", "sbom.osv_dir", e.to_string()));
            None
        }
    };
    let mut formats_seen = Vec::new();
    for r in referrers {
        if !matches!(r.kind, ReferrerKind::CycloneDx | ReferrerKind::Spdx) {
            continue;
        }
        let rdigest = r.manifest.digest.to_string();
        for p in &r.payloads {
            let origin = format!("referrer {rdigest}");
            let inv = match sealrun_sbom::parse(&p.bytes, &origin) {
                Ok(inv) => inv,
                Err(e) => {
                    report.findings.push(finding("sbom", origin, e.to_string()));
                    continue;
                }
            };
            formats_seen.push(inv.format);
            let r = sealrun_sbom::check(&inv, policy, osv.as_ref());
            for f in &r.findings {
                report.findings.push(finding("sbom", f.rule.clone(), f.message.clone()));
            }
            report.sboms.push(SbomOutcome {
                referrer: rdigest.clone(),
                format: inv.format.as_str().to_string(),
                components: inv.components.len(),
                passed: r.passed,
            });
        }
    }
    let required = &policy.sbom.formats;
    if !required.is_empty() && !formats_seen.iter().any(|f| required.contains(f)) {
        let req: Vec<&str> = required.iter().map(|f| f.as_str()).collect();
        let seen: Vec<&str> = formats_seen.iter().map(|f| f.as_str()).collect();
        report.findings.push(finding(
            "sbom",
            "sbom.formats",
            format!(
                "expected an SBOM referrer in one of [{}], found [{}]",
                req.join(", "),
                seen.join(", ")
            ),
        ));
    }
}

/// The `create` hook: for a bundle annotated `io.sealrun.image`, run the gate with the
/// container's policy before anything is created.
pub fn create_gate(
    spec: &oci_spec::runtime::Spec,
    bundle_dir: &Path,
    policy: Option<&(String, Policy)>,
) -> Result<Option<serde_json::Value>, String> {
    let Some(image) = spec.annotations().as_ref().and_then(|a| a.get(IMAGE_ANNOTATION)) else {
        return Ok(None);
    };
    let Some((source, policy)) = policy else {
        return Err(format!(
            "annotation {IMAGE_ANNOTATION} = {image:?}: the supply-chain gate needs a policy (annotation io.sealrun.policy, --policy, or /etc/sealrun/policy.toml), found none"
        ));
    };
    let mut image_ref = ImageRef::parse(image);
    if image_ref.layout.is_relative() {
        image_ref.layout = bundle_dir.join(&image_ref.layout);
    }
    let report = verify_image(&image_ref, policy, source)
        .map_err(|e| format!("annotation {IMAGE_ANNOTATION} = {image:?}: {e:#}"))?;
    if !report.passed {
        return Err(report.summary());
    }
    tracing::info!(
        "image {} ({}) verified: {}",
        report.image,
        report.manifest_digest,
        report
            .signature
            .as_ref()
            .map(|s| format!("{} by {}", s.method, s.signer))
            .unwrap_or_default()
    );
    Ok(Some(serde_json::to_value(&report).map_err(|e| e.to_string())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        assert_eq!(
            ImageRef::parse("/x/layout@sha256:ab"),
            ImageRef {
                layout: "/x/layout".into(),
                reference: Some("sha256:ab".into())
            }
        );
        assert_eq!(
            ImageRef::parse("/nonexistent/layout:v1"),
            ImageRef {
                layout: "/nonexistent/layout".into(),
                reference: Some("v1".into())
            }
        );
        assert_eq!(
            ImageRef::parse("/"),
            ImageRef {
                layout: "/".into(),
                reference: None
            }
        );
    }
}
