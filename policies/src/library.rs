//! Reviewed building blocks shipped with sealrun, embedded so `library:NAME` resolves the
//! same from any working directory.

const LIBRARY: &[(&str, &str)] = &[
    ("dev-permissive", include_str!("../library/dev-permissive.toml")),
    ("gpu-worker", include_str!("../library/gpu-worker.toml")),
    (
        "model-server-strict",
        include_str!("../library/model-server-strict.toml"),
    ),
];

pub(crate) fn get(name: &str) -> Option<&'static str> {
    LIBRARY.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

pub(crate) fn names() -> Vec<&'static str> {
    LIBRARY.iter().map(|(n, _)| *n).collect()
}
