//! Prometheus text-format counters, hand-written: a handful of labelled counters do not
//! justify a metrics crate.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// A counter's name and labels.
type Key = (&'static str, Vec<(&'static str, String)>);

/// The counters, each `(name, labels)` → value. Labels are fixed strings chosen by the
/// broker (never client input), so they need no escaping beyond what is done here.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<Key, u64>>,
}

const HELP: &[(&str, &str)] = &[
    ("sealrun_broker_auth_total", "Auth requests by result"),
    (
        "sealrun_broker_attest_total",
        "Attestations by result and refusal reason",
    ),
    (
        "sealrun_broker_resource_total",
        "Resource requests by result and refusal reason",
    ),
    (
        "sealrun_broker_admin_total",
        "Admin API operations by operation and result",
    ),
];

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Adds one to the counter `name{labels}`.
    pub fn inc(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        let key = (name, labels.iter().map(|(k, v)| (*k, v.to_string())).collect());
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        *c.entry(key).or_insert(0) += 1;
    }

    /// The value of `name{labels}` (0 if never incremented).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        c.iter()
            .find(|((n, l), _)| {
                *n == name && l.len() == labels.len() && l.iter().zip(labels).all(|((a, b), (c, d))| a == c && b == d)
            })
            .map(|(_, v)| *v)
            .unwrap_or(0)
    }

    /// The exposition text (`text/plain; version=0.0.4`).
    pub fn render(&self) -> String {
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        for (name, help) in HELP {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
            let mut any = false;
            for ((n, labels), v) in c.iter() {
                if n != name {
                    continue;
                }
                any = true;
                let l: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}=\"{}\"",
                            v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
                        )
                    })
                    .collect();
                if l.is_empty() {
                    out.push_str(&format!("{name} {v}\n"));
                } else {
                    out.push_str(&format!("{name}{{{}}} {v}\n", l.join(",")));
                }
            }
            if !any {
                out.push_str(&format!("{name} 0\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters() {
        let m = Metrics::new();
        m.inc(
            "sealrun_broker_attest_total",
            &[("result", "denied"), ("reason", "nonce_replayed")],
        );
        m.inc(
            "sealrun_broker_attest_total",
            &[("result", "denied"), ("reason", "nonce_replayed")],
        );
        m.inc("sealrun_broker_auth_total", &[("result", "ok")]);
        let text = m.render();
        assert!(
            text.contains("sealrun_broker_attest_total{result=\"denied\",reason=\"nonce_replayed\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("sealrun_broker_auth_total{result=\"ok\"} 1\n"), "{text}");
        assert!(text.contains("sealrun_broker_admin_total 0\n"), "{text}");
        assert_eq!(
            m.get(
                "sealrun_broker_attest_total",
                &[("result", "denied"), ("reason", "nonce_replayed")]
            ),
            2
        );
    }
}
