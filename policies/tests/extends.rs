//! `extends`: library and file parents, merge rules, chains and cycles.

use std::fs;

use sealrun_policy::{Policy, PolicyError};

#[test]
fn library_names_and_policies_load() {
    assert_eq!(
        Policy::library_names(),
        vec!["dev-permissive", "gpu-worker", "model-server-strict"]
    );
    for name in Policy::library_names() {
        let p = Policy::library(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.chain()[0], format!("library:{name}"));
    }
    let e = Policy::library("model-server-stict").unwrap_err();
    assert!(
        e.to_string().contains("did you mean `library:model-server-strict`"),
        "{e}"
    );
}

#[test]
fn strict_library_is_what_it_says() {
    let p = Policy::library("model-server-strict").unwrap();
    let s = &p.sandbox;
    assert!(s.fs.read.contains(&"/models".to_string()));
    assert_eq!(s.fs.write, vec!["/tmp"]);
    assert_eq!(s.net.tcp_bind, vec![8080]);
    assert!(s.net.tcp_connect.is_empty());
    assert!(!s.net.allow_udp && !s.net.allow_raw && !s.net.allow_netlink && !s.net.allow_vsock && !s.net.allow_unix);
    assert_eq!(s.syscalls.base, sealrun_policy::sandbox::SyscallBase::ModelServer);
    assert!(s.capabilities.keep.is_empty());
    assert!(s.limits.memory.is_some() && s.limits.pids.is_some());
    assert!(s.devices.is_empty());
}

#[test]
fn gpu_worker_extends_strict_and_adds_devices() {
    let p = Policy::library("gpu-worker").unwrap();
    assert_eq!(p.chain(), ["library:gpu-worker", "library:model-server-strict"]);
    let devs: Vec<(&str, u32, u32)> = p
        .sandbox
        .devices
        .iter()
        .map(|d| (d.path.as_str(), d.major, d.minor))
        .collect();
    assert_eq!(
        devs,
        vec![
            ("/dev/nvidia-uvm", 236, 0),
            ("/dev/nvidia0", 195, 0),
            ("/dev/nvidiactl", 195, 255)
        ]
    );
    // Inherited from strict, untouched.
    assert_eq!(p.sandbox.net.tcp_bind, vec![8080]);
    assert_eq!(p.sandbox.limits.cpus, Some(4.0));
    // Overridden.
    assert_eq!(p.sandbox.limits.memory.unwrap().0, 32 << 30);
}

#[test]
fn child_scalars_override_lists_replace_tables_merge() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("base")).unwrap();
    fs::write(
        dir.path().join("base/parent.toml"),
        "version = 1\nextends = \"library:model-server-strict\"\n[sandbox.net]\ntcp_connect = [443]\nallow_udp = true\n[[trust.signers.keys]]\npath = \"keys/signer.pem\"\nalgorithm = \"ecdsa-p256-sha256\"\n",
    )
    .unwrap();
    let child = dir.path().join("child.toml");
    fs::write(
        &child,
        "version = 1\nextends = \"base/parent.toml\"\n[sandbox.fs]\nread = [\"/models\", \"/srv\"]\n[sandbox.net]\nallow_udp = false\n",
    )
    .unwrap();
    let p = Policy::from_file(&child).unwrap();
    // Lists are replaced, not appended.
    assert_eq!(p.sandbox.fs.read, vec!["/models", "/srv"]);
    // Scalars: the child wins; what it does not say comes from the parents.
    assert!(!p.sandbox.net.allow_udp);
    assert_eq!(p.sandbox.net.tcp_connect, vec![443]);
    assert_eq!(p.sandbox.net.tcp_bind, vec![8080]);
    assert_eq!(p.sandbox.fs.write, vec!["/tmp"]);
    // The parent's relative path is relative to the parent's directory.
    let key_path = &p.trust.signers.keys[0].path;
    assert!(
        key_path.ends_with("base/keys/signer.pem") && key_path.starts_with('/'),
        "{key_path}"
    );
    let chain = p.chain();
    assert_eq!(chain.len(), 3);
    assert!(chain[0].ends_with("child.toml") && chain[1].ends_with("parent.toml"));
    assert_eq!(chain[2], "library:model-server-strict");
}

#[test]
fn errors_in_a_parent_point_into_the_parent() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("parent.toml"),
        "version = 1\n\n[sandbox.net]\ntcp_bnd = [80]\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("child.toml"),
        "version = 1\nextends = \"parent.toml\"\n",
    )
    .unwrap();
    match Policy::from_file(dir.path().join("child.toml")).unwrap_err() {
        PolicyError::Invalid {
            location,
            key,
            suggestion,
            ..
        } => {
            assert!(location.origin.ends_with("parent.toml"), "{}", location.origin);
            assert_eq!((location.line, location.column), (4, 1));
            assert_eq!(key, "sandbox.net.tcp_bnd");
            assert_eq!(suggestion.as_deref(), Some("tcp_bind"));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn merged_validation_errors_point_at_the_file_that_sets_the_key() {
    let dir = tempfile::tempdir().unwrap();
    // Fine on its own: allow_dev is set, so `dev` is a valid TEE...
    fs::write(
        dir.path().join("parent.toml"),
        "version = 1\n[attestation]\nallow_dev = true\ntee = [\"dev\"]\n",
    )
    .unwrap();
    // ...until the child turns allow_dev off.
    fs::write(
        dir.path().join("child.toml"),
        "version = 1\nextends = \"parent.toml\"\n[attestation]\nallow_dev = false\n",
    )
    .unwrap();
    match Policy::from_file(dir.path().join("child.toml")).unwrap_err() {
        PolicyError::Invalid { location, key, .. } => {
            assert_eq!(key, "attestation.tee[0]");
            assert!(location.origin.ends_with("parent.toml"));
            assert_eq!((location.line, location.column), (4, 8));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn cycles_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.toml"), "version = 1\nextends = \"b.toml\"\n").unwrap();
    fs::write(dir.path().join("b.toml"), "version = 1\nextends = \"./a.toml\"\n").unwrap();
    match Policy::from_file(dir.path().join("a.toml")).unwrap_err() {
        PolicyError::ExtendsCycle { location, chain } => {
            assert!(location.origin.ends_with("b.toml"));
            assert_eq!((location.line, location.column), (2, 11));
            assert_eq!(chain.len(), 3);
            assert!(chain[0].ends_with("a.toml") && chain[1].ends_with("b.toml") && chain[2].ends_with("a.toml"));
        }
        other => panic!("{other}"),
    }
    fs::write(dir.path().join("self.toml"), "version = 1\nextends = \"self.toml\"\n").unwrap();
    assert!(matches!(
        Policy::from_file(dir.path().join("self.toml")),
        Err(PolicyError::ExtendsCycle { .. })
    ));
}

#[test]
fn missing_parent_is_an_error_at_extends() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.toml"), "version = 1\n\nextends = \"nope.toml\"\n").unwrap();
    match Policy::from_file(dir.path().join("a.toml")).unwrap_err() {
        PolicyError::Invalid {
            location, key, found, ..
        } => {
            assert_eq!((location.line, location.column, key.as_str()), (3, 11, "extends"));
            assert!(found.contains("nope.toml"), "{found}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn library_reference_works_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p.toml");
    fs::write(&f, "version = 1\nextends = \"library:gpu-worker\"\n").unwrap();
    let p = Policy::from_file(&f).unwrap();
    assert_eq!(p.chain().len(), 3);
    assert_eq!(
        Policy::load_reference("library:gpu-worker").unwrap().digest(),
        p.digest()
    );
    assert_eq!(
        Policy::load_reference(f.to_str().unwrap()).unwrap().digest(),
        p.digest()
    );
}
