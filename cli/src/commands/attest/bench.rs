//! `sealrun attest bench --broker URL --clients N --duration S …`: a load generator for the
//! key broker, in the manner of pgbench or redis-benchmark.
//!
//! N clients (one OS thread each, each driving its own single-threaded tokio runtime through
//! [`block_on`]) loop the full KBS flow with dev evidence: auth → evidence → attest →
//! resource → JWE decrypt, for S seconds after W seconds of warm-up. Flows that end inside
//! the measured window count; the others are discarded. Prints completed releases, errors
//! by kind, throughput and latency percentiles, and the client-side time of each phase.
//!
//! The clients run on the same machine as the broker when it is local: their CPU (dev
//! signing, P-256 key generation, ECDH for the JWE) competes with the broker's, so the
//! figures are a lower bound for the broker alone. The broker's `/metrics` counters are read
//! before and after, so the server-side release count can be checked against ours.
//!
//! Exit status: 0 if at least one release completed and no flow failed, 1 otherwise.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use sealrun_attest::broker::client::{block_on, runtime_data, BrokerClient, ClientError};
use sealrun_attest::broker::protocol::{self, AttestRequest};
use sealrun_attest::broker::{DevTee, EvidenceProvider, WorkloadClaims};
use sealrun_attest::jwe;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The broker's URL (https://HOST:PORT, or http:// to loopback)
    #[arg(long)]
    pub broker: String,
    /// Concurrent clients (one thread each)
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub clients: u32,
    /// Measured seconds (after the warm-up)
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Resource id repo/type/tag to request
    #[arg(long)]
    pub resource: String,
    /// The image digest (sha256:<hex>) bound into the evidence; must match the key's [keys] entry
    #[arg(long)]
    pub image_digest: String,
    /// The broker policy's digest (sha256:<hex>), bound into the evidence
    #[arg(long, required_unless_present = "policy", conflicts_with = "policy")]
    pub policy_digest: Option<String>,
    /// Or: the broker's policy file, whose digest is computed here
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// CA certificate(s) (PEM) to trust for an https:// broker
    #[arg(long)]
    pub tls_root: Option<PathBuf>,
    /// Seconds of unmeasured load before the measured window
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

/// The phases of one flow, in order.
const PHASES: [&str; 5] = ["auth", "evidence", "attest", "resource", "decrypt"];

/// One completed flow: total and per-phase client-side time, microseconds.
struct Sample {
    total_us: u64,
    phases_us: [u64; 5],
}

/// What one client thread measured inside the window.
#[derive(Default)]
struct ClientResult {
    samples: Vec<Sample>,
    /// Error kind → (count, first message).
    errors: BTreeMap<String, (u64, String)>,
}

fn error_kind(e: &ClientError) -> String {
    match e {
        ClientError::Refused { step, code, .. } => format!("refused:{step}:{code}"),
        ClientError::Connect { .. } => "connect".into(),
        ClientError::Timeout { .. } => "timeout".into(),
        ClientError::Http { .. } => "http".into(),
        ClientError::Tls { .. } => "tls".into(),
        ClientError::Protocol { step, .. } => format!("protocol:{step}"),
        ClientError::Evidence(_) => "evidence".into(),
        ClientError::Jwe(_) => "jwe".into(),
        _ => "other".into(),
    }
}

fn us(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

/// One full flow with dev evidence, timed phase by phase. Returns the key's length.
async fn flow(
    url: &str,
    tls_root: Option<&std::path::Path>,
    resource: &str,
    claims: &WorkloadClaims,
) -> Result<(Sample, usize), ClientError> {
    let t0 = Instant::now();
    let mut c = BrokerClient::new(url, tls_root)?;
    let challenge = c.auth("dev").await?;
    let t1 = Instant::now();
    let key = jwe::EphemeralKey::generate();
    let rd = runtime_data(&challenge.nonce, key.public_jwk(), claims);
    let evidence = DevTee.evidence(&protocol::report_data(&rd))?;
    let t2 = Instant::now();
    let token = c
        .attest(&AttestRequest {
            runtime_data: rd,
            tee_evidence: evidence,
            gpu_evidence: Vec::new(),
        })
        .await?;
    let t3 = Instant::now();
    let compact = c.resource(resource, Some(&token)).await?;
    let t4 = Instant::now();
    let secret = jwe::decrypt(&key, &compact)?;
    let t5 = Instant::now();
    let sample = Sample {
        total_us: us(t5 - t0),
        phases_us: [us(t1 - t0), us(t2 - t1), us(t3 - t2), us(t4 - t3), us(t5 - t4)],
    };
    Ok((sample, secret.len()))
}

/// The broker's released-resource counter from `/metrics`, if it can be read. Plain
/// `http://` only (the CLI has no HTTP client of its own, and `BrokerClient::send` needs
/// hyper's `Method`); over https this is skipped.
fn server_releases(url: &str) -> Option<u64> {
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    let mut s = std::net::TcpStream::connect(authority).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    if !text.starts_with("HTTP/1.1 200") {
        return None;
    }
    Some(
        text.lines()
            .find_map(|l| l.strip_prefix("sealrun_broker_resource_total{result=\"released\"} "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
    )
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    if !(a.duration > 0.0 && a.duration.is_finite()) {
        anyhow::bail!(
            "--duration: expected a positive number of seconds, found {}",
            a.duration
        );
    }
    if !(a.warmup >= 0.0 && a.warmup.is_finite()) {
        anyhow::bail!("--warmup: expected zero or more seconds, found {}", a.warmup);
    }
    let policy_digest = match (&a.policy_digest, &a.policy) {
        (Some(d), _) => d.clone(),
        (None, Some(p)) => sealrun_policy::Policy::from_file(p)
            .with_context(|| format!("--policy {}", p.display()))?
            .digest(),
        (None, None) => anyhow::bail!("give --policy-digest or --policy"),
    };
    let claims = Arc::new(WorkloadClaims {
        image_digest: a.image_digest.clone(),
        policy_digest,
    });
    let url: Arc<str> = a.broker.as_str().into();
    let resource: Arc<str> = a.resource.as_str().into();
    let tls_root = a.tls_root.clone().map(Arc::new);

    // One flow first: a misconfiguration (wrong digest, unknown resource) then fails once,
    // clearly, instead of N times a second.
    let (_, key_len) = block_on(flow(&url, a.tls_root.as_deref(), &resource, &claims))?
        .context("the first flow failed; nothing was measured")?;

    let before = server_releases(&url);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(a.warmup);
    let measure_to = measure_from + Duration::from_secs_f64(a.duration);
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for i in 0..a.clients {
        let (url, resource, claims, tls_root, stop) = (
            url.clone(),
            resource.clone(),
            claims.clone(),
            tls_root.clone(),
            stop.clone(),
        );
        let t = std::thread::Builder::new()
            .name(format!("bench-client-{i}"))
            .spawn(move || {
                block_on(async move {
                    let mut out = ClientResult::default();
                    let root = tls_root.as_deref().map(|p| p.as_path());
                    while Instant::now() < measure_to && !stop.load(Ordering::Relaxed) {
                        let began = Instant::now();
                        let r = flow(&url, root, &resource, &claims).await;
                        let ended = Instant::now();
                        // A flow counts when it both started and ended inside the window.
                        if began < measure_from || ended > measure_to {
                            continue;
                        }
                        match r {
                            Ok((s, _)) => out.samples.push(s),
                            Err(e) => {
                                let entry = out.errors.entry(error_kind(&e)).or_insert((0, e.to_string()));
                                entry.0 += 1;
                            }
                        }
                    }
                    out
                })
            })
            .context("starting a client thread")?;
        threads.push(t);
    }
    let mut samples = Vec::new();
    let mut errors: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for t in threads {
        match t.join() {
            Ok(Ok(r)) => {
                samples.extend(r.samples);
                for (k, (n, msg)) in r.errors {
                    errors.entry(k).or_insert((0, msg)).0 += n;
                }
            }
            Ok(Err(e)) => {
                errors.entry("runtime".into()).or_insert((0, e.to_string())).0 += 1;
            }
            Err(_) => {
                errors
                    .entry("panic".into())
                    .or_insert((0, "a client thread panicked".into()))
                    .0 += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let after = server_releases(&url);

    let window = a.duration;
    let completed = samples.len() as u64;
    let error_total: u64 = errors.values().map(|(n, _)| n).sum();
    let mut totals: Vec<u64> = samples.iter().map(|s| s.total_us).collect();
    totals.sort_unstable();
    let phase_mean_us: Vec<f64> = (0..PHASES.len())
        .map(|i| {
            if samples.is_empty() {
                0.0
            } else {
                samples.iter().map(|s| s.phases_us[i] as f64).sum::<f64>() / samples.len() as f64
            }
        })
        .collect();
    let phase_p99_us: Vec<u64> = (0..PHASES.len())
        .map(|i| {
            let mut v: Vec<u64> = samples.iter().map(|s| s.phases_us[i]).collect();
            v.sort_unstable();
            percentile(&v, 99.0)
        })
        .collect();
    let throughput = completed as f64 / window;
    let (p50, p90, p99, max) = (
        percentile(&totals, 50.0),
        percentile(&totals, 90.0),
        percentile(&totals, 99.0),
        totals.last().copied().unwrap_or(0),
    );
    let server_delta = match (before, after) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b)),
        _ => None,
    };

    match a.output {
        Output::Json => {
            let phases: serde_json::Map<String, serde_json::Value> = PHASES
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    (
                        p.to_string(),
                        json!({"mean_ms": phase_mean_us[i] / 1000.0, "p99_ms": ms(phase_p99_us[i])}),
                    )
                })
                .collect();
            let errs: serde_json::Map<String, serde_json::Value> = errors
                .iter()
                .map(|(k, (n, msg))| (k.clone(), json!({"count": n, "first": msg})))
                .collect();
            let v = json!({
                "broker": a.broker,
                "clients": a.clients,
                "duration_s": window,
                "warmup_s": a.warmup,
                "resource": a.resource,
                "key_bytes": key_len,
                "completed": completed,
                "errors_total": error_total,
                "errors": errs,
                "releases_per_s": throughput,
                "latency_ms": {"p50": ms(p50), "p90": ms(p90), "p99": ms(p99), "max": ms(max)},
                "phases": phases,
                "server_releases": server_delta,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Output::Text => {
            println!(
                "sealrun attest bench: {} clients, {:.1} s measured after {:.1} s warm-up, resource {} ({} bytes)",
                a.clients, window, a.warmup, a.resource, key_len
            );
            println!("completed releases: {completed}");
            println!("errors:             {error_total}");
            for (k, (n, msg)) in &errors {
                println!("  {k}: {n} (first: {msg})");
            }
            println!("throughput:         {throughput:.1} releases/s");
            println!(
                "latency (ms):       p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
                ms(p50),
                ms(p90),
                ms(p99),
                ms(max)
            );
            println!("client-side phases (ms, mean / p99):");
            for (i, p) in PHASES.iter().enumerate() {
                println!(
                    "  {p:<9} {:>8.3} / {:>8.3}",
                    phase_mean_us[i] / 1000.0,
                    ms(phase_p99_us[i])
                );
            }
            match server_delta {
                // The server counts warm-up and tail flows too, so it is at least ours.
                Some(n) => println!("broker-side releases during the run (from /metrics, incl. warm-up): {n}"),
                None => println!("broker-side releases: /metrics not readable"),
            }
        }
    }
    Ok(if completed > 0 && error_total == 0 { 0 } else { 1 })
}
