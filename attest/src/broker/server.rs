//! The broker's HTTP service (axum): the KBS endpoints, the admin API and `/metrics`.
//!
//! Every decision (auth, attest, resource, admin) is appended to the audit log with who
//! asked (peer address, a hash of the session id), what evidence (its SHA-256), the
//! claims, the policy rules that decided and the key id, never a key or a whole token.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path as UrlPath, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use sealrun_policy::{Decision, Policy, TeeKind};

use super::metrics::Metrics;
use super::protocol::{self, AttestRequest, AuthRequest, Challenge, RuntimeData, SESSION_COOKIE};
use super::session::{NonceRefusal, Sessions};
use super::token::{TokenError, TokenSigner, EAR_PROFILE, ISSUER};
use super::BrokerError;
use crate::audit::AuditLog;
use crate::evidence::{self, VerifyOptions};
use crate::jwe;
use crate::keystore::{KeyStore, Secret};

/// The broker's clock. Injectable so tests can age nonces and tokens without sleeping.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The longest a nonce or token may live.
pub const MAX_TTL: Duration = Duration::from_secs(300);

/// The admin API's bearer token. No `Debug`; wiped on drop.
pub struct AdminToken(Zeroizing<Vec<u8>>);

impl AdminToken {
    /// The token in a file, surrounding whitespace removed. Refuses an empty file.
    pub fn from_file(path: &Path) -> Result<AdminToken, BrokerError> {
        let raw = Zeroizing::new(std::fs::read(path).map_err(|e| BrokerError::Io {
            what: "read the admin token file",
            path: path.display().to_string(),
            source: e,
        })?);
        let trimmed = raw.trim_ascii();
        if trimmed.is_empty() {
            return Err(BrokerError::Config(format!(
                "admin token file {}: expected a token, found an empty file",
                path.display()
            )));
        }
        Ok(AdminToken(Zeroizing::new(trimmed.to_vec())))
    }

    pub fn new(token: &[u8]) -> AdminToken {
        AdminToken(Zeroizing::new(token.to_vec()))
    }

    /// The token bytes (for a client that sends it).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time comparison: compares SHA-256 digests byte by byte without an early
    /// exit, so neither the content nor the length of the token leaks through timing.
    fn matches(&self, presented: &[u8]) -> bool {
        let a = Sha256::digest(&self.0[..]);
        let b = Sha256::digest(presented);
        let diff = a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y));
        std::hint::black_box(diff) == 0
    }
}

/// What the broker is built from.
pub struct BrokerConfig {
    pub policy: Policy,
    pub keys: Arc<dyn KeyStore>,
    pub audit: Arc<AuditLog>,
    /// `None`: the admin API answers 403 to everything.
    pub admin_token: Option<AdminToken>,
    /// How long a challenge nonce stays usable (at most [`MAX_TTL`]).
    pub nonce_ttl: Duration,
    /// How long a token stays valid (at most [`MAX_TTL`]).
    pub token_ttl: Duration,
    pub clock: Clock,
    /// Extra evidence roots (test PKIs); empty in production.
    pub extra_roots: Vec<Vec<u8>>,
    /// CRLs (DER or PEM) that SNP evidence is checked against (the ARK's; see
    /// `evidence::snp::verify_with_crls`). Empty: no revocation check.
    pub snp_crls: Vec<Vec<u8>>,
}

impl BrokerConfig {
    /// A configuration with 5-minute nonces and tokens, the system clock, no admin API.
    pub fn new(policy: Policy, keys: Arc<dyn KeyStore>, audit: Arc<AuditLog>) -> BrokerConfig {
        BrokerConfig {
            policy,
            keys,
            audit,
            admin_token: None,
            nonce_ttl: MAX_TTL,
            token_ttl: MAX_TTL,
            clock: Arc::new(SystemTime::now),
            extra_roots: Vec::new(),
            snp_crls: Vec::new(),
        }
    }
}

struct State {
    policy: Policy,
    policy_digest: String,
    keys: Arc<dyn KeyStore>,
    audit: Arc<AuditLog>,
    admin_token: Option<AdminToken>,
    nonce_ttl: Duration,
    token_ttl: Duration,
    clock: Clock,
    extra_roots: Vec<Vec<u8>>,
    snp_crls: Vec<Vec<u8>>,
    signer: TokenSigner,
    sessions: Sessions,
    metrics: Metrics,
    /// Whether the broker serves TLS (the session cookie then gets `Secure`).
    tls: std::sync::atomic::AtomicBool,
}

/// The key broker. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Broker {
    state: Arc<State>,
}

/// The peer of a connection, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>> for Peer {
    fn connect_info(s: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Peer {
        Peer(*s.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(s: axum::serve::IncomingStream<'_, TlsListener>) -> Peer {
        Peer(*s.remote_addr())
    }
}

/// A refusal: status, machine-readable code, a sentence naming what failed.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "detail": self.detail });
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// What the audit log says about a session: a hash, since the id itself is a credential.
fn session_ref(id: &str) -> String {
    protocol::sha256_hex(id.as_bytes())[..23].to_string()
}

/// The policy rules of a decision, split into those that passed and those that failed.
/// Adds the policy's Rego rules for `target` to `decision`. A rule that fails to evaluate
/// refuses (fail closed) with a 500 naming the rule.
fn with_rules(policy: &Policy, target: &str, input: &Value, decision: &mut Decision) -> Result<(), Refusal> {
    match sealrun_policy::rego::evaluate(policy, target, input) {
        Ok(d) => {
            decision.allowed &= d.allowed;
            decision.checks.extend(d.checks);
            Ok(())
        }
        Err(e) => Err(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "policy_rule_error",
            format!("[[rules]] for {target}: {e}"),
        )),
    }
}

fn decision_json(d: &Decision) -> Value {
    let passed: Vec<&str> = d.checks.iter().filter(|c| c.passed).map(|c| c.rule.as_str()).collect();
    let failed: Vec<Value> = d
        .failures()
        .map(|c| json!({"rule": c.rule, "expected": c.expected, "found": c.found}))
        .collect();
    json!({ "allowed": d.allowed, "passed": passed, "failed": failed })
}

fn failures_text(d: &Decision) -> String {
    d.failures()
        .map(|c| format!("{}: expected {}, found {}", c.rule, c.expected, c.found))
        .collect::<Vec<_>>()
        .join("; ")
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';').find_map(|kv| {
                let (k, val) = kv.trim().split_once('=')?;
                (k == name).then(|| val.to_string())
            })
        })
}

fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let v = headers.get(header::AUTHORIZATION)?.as_bytes();
    let prefix = b"Bearer ";
    (v.len() > prefix.len() && v[..prefix.len()].eq_ignore_ascii_case(prefix)).then(|| &v[prefix.len()..])
}

impl Broker {
    /// Builds the broker: generates its token key, checks the TTLs.
    pub fn new(config: BrokerConfig) -> Result<Broker, BrokerError> {
        for (name, ttl) in [("nonce", config.nonce_ttl), ("token", config.token_ttl)] {
            if ttl > MAX_TTL {
                return Err(BrokerError::Config(format!(
                    "{name} lifetime: expected at most {}s, found {}s",
                    MAX_TTL.as_secs(),
                    ttl.as_secs()
                )));
            }
        }
        let signer = TokenSigner::generate()?;
        let policy_digest = config.policy.digest();
        Ok(Broker {
            state: Arc::new(State {
                policy: config.policy,
                policy_digest,
                keys: config.keys,
                audit: config.audit,
                admin_token: config.admin_token,
                nonce_ttl: config.nonce_ttl,
                token_ttl: config.token_ttl,
                clock: config.clock,
                extra_roots: config.extra_roots,
                snp_crls: config.snp_crls,
                signer,
                sessions: Sessions::new(),
                metrics: Metrics::new(),
                tls: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// The counters behind `GET /metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.state.metrics
    }

    /// The token-signing public key (also at `GET /kbs/v0/token-key`).
    pub fn token_public_jwk(&self) -> Value {
        self.state.signer.public_jwk()
    }

    /// The routes. Handlers need `ConnectInfo<Peer>`: serve with
    /// `into_make_service_with_connect_info::<Peer>()` (as [`Broker::serve`] does).
    pub fn router(&self) -> Router {
        Router::new()
            .fallback(not_found)
            .route("/kbs/v0/auth", post(auth))
            .route("/kbs/v0/attest", post(attest))
            .route("/kbs/v0/token-key", get(token_key))
            .route("/kbs/v0/resource/{repo}/{kind}/{tag}", get(resource))
            .route("/admin/keys", get(admin_list))
            .route("/admin/keys/{repo}/{kind}/{tag}", put(admin_put).delete(admin_delete))
            .route("/metrics", get(metrics))
            .with_state(self.state.clone())
            .layer(axum::middleware::from_fn(json_errors))
    }

    /// Serves on `listener` until `shutdown` completes; with `tls`, every connection is
    /// TLS. Refuses plain HTTP on an address that is not loopback.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), BrokerError> {
        let local = listener.local_addr().map_err(|e| BrokerError::Io {
            what: "read the listening address",
            path: String::new(),
            source: e,
        })?;
        check_listen(local, tls.is_some())?;
        self.state
            .tls
            .store(tls.is_some(), std::sync::atomic::Ordering::Relaxed);
        let app = self.router();
        let io_err = |e| BrokerError::Io {
            what: "serve",
            path: local.to_string(),
            source: e,
        };
        let shutdown = Box::pin(shutdown);
        match tls {
            Some(cfg) => serve_connections(TlsListener::new(listener, cfg), app, shutdown).await,
            None => serve_connections(listener, app, shutdown).await,
        }
        .map_err(io_err)
    }

    /// Binds `addr` and serves on a thread of its own (with its own runtime) until the
    /// returned handle is dropped. For tests and embedding.
    pub fn spawn(self, addr: SocketAddr, tls: Option<Arc<rustls::ServerConfig>>) -> Result<RunningBroker, BrokerError> {
        check_listen(addr, tls.is_some())?;
        let rt = runtime()?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(addr))
            .map_err(|e| BrokerError::Io {
                what: "bind",
                path: addr.to_string(),
                source: e,
            })?;
        let local = listener.local_addr().map_err(|e| BrokerError::Io {
            what: "bind",
            path: addr.to_string(),
            source: e,
        })?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sealrun-broker".into())
            .spawn(move || {
                let result = rt.block_on(self.serve(listener, tls, async {
                    let _ = rx.await;
                }));
                if let Err(e) = &result {
                    tracing::error!(error = %e, "broker stopped");
                }
                result
            })
            .map_err(|e| BrokerError::Io {
                what: "start the broker thread",
                path: String::new(),
                source: e,
            })?;
        Ok(RunningBroker {
            addr: local,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// Binds `addr` and serves until the process ends.
    pub fn run_blocking(self, addr: SocketAddr, tls: Option<Arc<rustls::ServerConfig>>) -> Result<(), BrokerError> {
        check_listen(addr, tls.is_some())?;
        let rt = runtime()?;
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| BrokerError::Io {
                what: "bind",
                path: addr.to_string(),
                source: e,
            })?;
            let local = listener.local_addr().unwrap_or(addr);
            tracing::info!(%local, tls = tls.is_some(), "broker listening");
            self.serve(listener, tls, std::future::pending()).await
        })
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, BrokerError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| BrokerError::Io {
            what: "start the async runtime",
            path: String::new(),
            source: e,
        })
}

/// A broker serving on its own thread; dropping it stops the broker.
pub struct RunningBroker {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), BrokerError>>>,
}

impl RunningBroker {
    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self, tls: bool) -> String {
        format!("{}://{}", if tls { "https" } else { "http" }, self.addr)
    }

    /// Stops the broker and waits for it.
    pub fn stop(mut self) -> Result<(), BrokerError> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), BrokerError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(BrokerError::Config("the broker thread panicked".into()))),
            None => Ok(()),
        }
    }
}

impl Drop for RunningBroker {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// Plain HTTP only on loopback: tokens and session cookies are bearer credentials.
pub fn check_listen(addr: SocketAddr, tls: bool) -> Result<(), BrokerError> {
    if !tls && !addr.ip().is_loopback() {
        return Err(BrokerError::Config(format!(
            "listen address {addr}: plain HTTP is allowed on loopback only (127.0.0.0/8, ::1); give --tls-cert and --tls-key"
        )));
    }
    Ok(())
}

/// A rustls server configuration (ring provider, TLS 1.2 and 1.3, HTTP/1.1 ALPN) from a
/// PEM certificate chain and a PEM private key.
pub fn tls_server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, BrokerError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let pem_err = |path: &Path, what: &str, e: rustls_pki_types::pem::Error| {
        BrokerError::Config(format!("{}: expected {what} in PEM, found: {e}", path.display()))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_err(cert, "certificates", e))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem_err(cert, "certificates", e))?;
    if certs.is_empty() {
        return Err(BrokerError::Config(format!(
            "{}: expected at least one CERTIFICATE block, found none",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_err(key, "a private key", e))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| BrokerError::Config(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| BrokerError::Config(format!("TLS certificate and key: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// A listener that completes TLS handshakes in tasks of their own, so one slow client
/// cannot hold up the accept loop.
pub struct TlsListener {
    local: SocketAddr,
    rx: tokio::sync::mpsc::Receiver<(tokio_rustls::server::TlsStream<tokio::net::TcpStream>, SocketAddr)>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(tcp: tokio::net::TcpListener, cfg: Arc<rustls::ServerConfig>) -> TlsListener {
        let local = tcp.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
        let task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        TlsListener { local, rx, task }
    }
}

/// At most this many connections at once; more are closed on accept, so stalled clients
/// cannot exhaust the broker's file descriptors.
pub const MAX_CONNECTIONS: usize = 1024;
/// A client has this long to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection (and any request on it, body included) is closed after this long.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// The accept loop: HTTP/1.1 per connection through hyper with a header-read timeout, a
/// lifetime for the whole connection (bounds a stalled body too), and a connection cap.
/// (`axum::serve` sets no timer on hyper, so its header timeout never fires.)
async fn serve_connections<L>(
    mut listener: L,
    app: Router,
    mut shutdown: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (io, peer) = tokio::select! {
            x = listener.accept() => x,
            _ = &mut shutdown => return Ok(()),
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection refused: {MAX_CONNECTIONS} connections open");
            drop(io);
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(Peer(peer)));
                let mut app = app.clone();
                tower_service::Service::call(&mut app, req)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(io), svc);
            match tokio::time::timeout(CONNECTION_LIFETIME, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "connection ended with an error"),
                Err(_) => tracing::debug!(%peer, "connection closed: lifetime over"),
            }
        });
    }
}

/// Unknown paths: a JSON 404 like every other refusal.
async fn not_found(uri: axum::http::Uri) -> Response {
    Refusal::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("path {}: no such endpoint", uri.path()),
    )
    .into_response()
}

/// JSON bodies for the protocol's POSTs (415 otherwise), and JSON for axum's own
/// body-limit refusal.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    if req.method() == axum::http::Method::POST && (path == "/kbs/v0/auth" || path == "/kbs/v0/attest") {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type",
                format!("content-type: expected application/json, found `{ct}`"),
            )
            .into_response();
        }
    }
    let resp = next.run(req).await;
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "request body: larger than the broker accepts",
        )
        .into_response();
    }
    resp
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task only ends when the listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

type St = AxState<Arc<State>>;

impl State {
    fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// Appends a decision to the audit log, with the time and the peer. Returns whether it
    /// was written: a release must not happen unrecorded.
    fn audit(&self, peer: Peer, mut record: Value) -> bool {
        record["time"] = unix(self.now()).into();
        record["peer"] = peer.0.to_string().into();
        match self.audit.append(record) {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(error = %e, "audit log append failed");
                false
            }
        }
    }

    /// Records and returns a refusal of `event`.
    fn refuse(&self, peer: Peer, event: &'static str, r: Refusal, mut record: Value) -> Response {
        record["event"] = event.into();
        record["result"] = "denied".into();
        record["reason"] = r.code.into();
        record["detail"] = r.detail.clone().into();
        self.audit(peer, record);
        let metric = match event {
            "auth" => "sealrun_broker_auth_total",
            "attest" => "sealrun_broker_attest_total",
            "resource" => "sealrun_broker_resource_total",
            _ => "sealrun_broker_admin_total",
        };
        if metric == "sealrun_broker_admin_total" {
            self.metrics.inc(
                metric,
                &[("op", event.trim_start_matches("admin_")), ("result", "denied")],
            );
        } else {
            self.metrics.inc(metric, &[("result", "denied"), ("reason", r.code)]);
        }
        tracing::info!(event, reason = r.code, detail = %r.detail, peer = %peer.0, "refused");
        r.into_response()
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Refusal> {
    serde_json::from_slice(body)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, "bad_request", format!("{what}: {e}")))
}

async fn auth(AxState(st): St, ConnectInfo(peer): ConnectInfo<Peer>, body: Bytes) -> Response {
    let req: AuthRequest = match parse_json(&body, "auth request body") {
        Ok(r) => r,
        Err(r) => return st.refuse(peer, "auth", r, json!({})),
    };
    // KBS protocol versions 0.x differ in payload details this broker tolerates; a new
    // major version would not be the same protocol.
    if req.version.split('.').next() != Some("0") {
        let r = Refusal::new(
            StatusCode::BAD_REQUEST,
            "version_unsupported",
            format!(
                "version: expected 0.x (this broker speaks {}), found `{}`",
                protocol::PROTOCOL_VERSION,
                req.version
            ),
        );
        return st.refuse(peer, "auth", r, json!({"tee": req.tee}));
    }
    let Some(kind) = protocol::tee_kind(&req.tee) else {
        let r = Refusal::new(
            StatusCode::BAD_REQUEST,
            "tee_unknown",
            format!(
                "tee: expected one of snp, amd-sev-snp, tdx, intel-tdx, dev; found `{}`",
                req.tee
            ),
        );
        return st.refuse(peer, "auth", r, json!({"tee": req.tee}));
    };
    let decision = st.policy.attestation.accepts_tee(kind);
    if !decision.allowed {
        let r = Refusal::new(
            StatusCode::UNAUTHORIZED,
            "tee_not_accepted",
            format!(
                "tee `{}` is not accepted by the policy: {}",
                req.tee,
                failures_text(&decision)
            ),
        );
        return st.refuse(
            peer,
            "auth",
            r,
            json!({"tee": kind.as_str(), "decision": decision_json(&decision)}),
        );
    }
    let now = st.now();
    let Some((sid, nonce)) = st.sessions.create(kind, now, st.nonce_ttl + st.token_ttl) else {
        let r = Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_sessions",
            "too many live sessions; retry later",
        );
        return st.refuse(peer, "auth", r, json!({"tee": kind.as_str()}));
    };
    st.audit(
        peer,
        json!({"event": "auth", "result": "ok", "session": session_ref(&sid), "tee": kind.as_str(),
               "decision": decision_json(&decision)}),
    );
    st.metrics.inc("sealrun_broker_auth_total", &[("result", "ok")]);
    let challenge = Challenge {
        nonce: base64::engine::general_purpose::STANDARD.encode(nonce),
        extra_params: json!({}),
    };
    let max_age = (st.nonce_ttl + st.token_ttl).as_secs();
    let secure = if st.tls.load(std::sync::atomic::Ordering::Relaxed) {
        "; Secure"
    } else {
        ""
    };
    let set_cookie = format!("{SESSION_COOKIE}={sid}; Path=/kbs; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&challenge).unwrap_or_default(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn attest(AxState(st): St, ConnectInfo(peer): ConnectInfo<Peer>, headers: HeaderMap, body: Bytes) -> Response {
    let unauthorized = |code, detail: String| Refusal::new(StatusCode::UNAUTHORIZED, code, detail);
    let bad = |code, detail: String| Refusal::new(StatusCode::BAD_REQUEST, code, detail);

    let Some(sid) = cookie(&headers, SESSION_COOKIE) else {
        let r = unauthorized(
            "session_missing",
            format!("cookie `{SESSION_COOKIE}`: expected the id from /kbs/v0/auth, found none"),
        );
        return st.refuse(peer, "attest", r, json!({}));
    };
    let mut record = json!({"session": session_ref(&sid)});
    let now = st.now();
    // The nonce is consumed before anything else is looked at: one attempt per challenge.
    let (tee, nonce) = match st.sessions.take_nonce(&sid, now, st.nonce_ttl) {
        Ok(x) => x,
        Err(NonceRefusal::UnknownSession) => {
            let r = unauthorized(
                "session_unknown",
                "session: not known to this broker (expired, or never issued)".into(),
            );
            return st.refuse(peer, "attest", r, record);
        }
        Err(NonceRefusal::Replayed) => {
            let r = unauthorized(
                "nonce_replayed",
                "nonce: already used by an attestation attempt; start again at /kbs/v0/auth".into(),
            );
            return st.refuse(peer, "attest", r, record);
        }
        Err(NonceRefusal::Expired) => {
            let r = unauthorized(
                "nonce_expired",
                format!(
                    "nonce: older than {}s; start again at /kbs/v0/auth",
                    st.nonce_ttl.as_secs()
                ),
            );
            return st.refuse(peer, "attest", r, record);
        }
    };
    record["tee"] = tee.as_str().into();

    let req: AttestRequest = match parse_json(&body, "attest request body") {
        Ok(r) => r,
        Err(r) => return st.refuse(peer, "attest", r, record),
    };
    let evidence_sha256 =
        protocol::sha256_hex(&serde_json_canonicalizer::to_vec(&req.tee_evidence).unwrap_or_default());
    record["evidence_sha256"] = evidence_sha256.clone().into();
    let rd: RuntimeData = match serde_json::from_value(req.runtime_data.clone()) {
        Ok(rd) => rd,
        Err(e) => {
            let r = bad(
                "runtime_data_invalid",
                format!("runtime-data: expected {{nonce, tee-pubkey, image-digest, policy-digest}}: {e}"),
            );
            return st.refuse(peer, "attest", r, record);
        }
    };
    record["image_digest"] = rd.image_digest.clone().into();
    record["policy_digest"] = rd.policy_digest.clone().into();
    let expected_nonce = base64::engine::general_purpose::STANDARD.encode(nonce);
    if rd.nonce != expected_nonce {
        let r = unauthorized(
            "nonce_mismatch",
            "runtime-data.nonce: expected this session's challenge nonce, found another value".into(),
        );
        return st.refuse(peer, "attest", r, record);
    }
    for (field, value) in [("image-digest", &rd.image_digest), ("policy-digest", &rd.policy_digest)] {
        if !value.is_empty() && !protocol::is_sha256_digest(value) {
            let r = bad(
                "workload_claims_invalid",
                format!("runtime-data.{field}: expected sha256:<64 lowercase hex>, found `{value}`"),
            );
            return st.refuse(peer, "attest", r, record);
        }
    }
    // The key is released to a sandbox that enforces *this* policy: the policy digest the
    // runtime attests must be the broker's own.
    if rd.policy_digest != st.policy_digest {
        let r = unauthorized(
            "policy_digest_mismatch",
            format!(
                "runtime-data.policy-digest: expected {} (the broker's policy), found `{}`",
                st.policy_digest, rd.policy_digest
            ),
        );
        return st.refuse(peer, "attest", r, record);
    }
    let pubkey = match jwe::PublicJwk::from_json(&rd.tee_pubkey) {
        Ok(k) => k,
        Err(e) => {
            let r = bad(
                "tee_pubkey_invalid",
                format!("runtime-data.tee-pubkey: expected an EC P-256 public JWK: {e}"),
            );
            return st.refuse(peer, "attest", r, record);
        }
    };
    let ev = match protocol::decode_evidence(&req.tee_evidence) {
        Ok(ev) => ev,
        Err(e) => {
            let r = bad("evidence_malformed", format!("tee-evidence: {e}"));
            return st.refuse(peer, "attest", r, record);
        }
    };
    let opts = VerifyOptions {
        now,
        nonce: None,
        extra_roots: st.extra_roots.clone(),
    };
    let result = match &ev {
        evidence::Evidence::Snp(e) if !st.snp_crls.is_empty() => {
            evidence::snp::verify_with_crls(e, &st.snp_crls, &opts).map_err(evidence::EvidenceError::from)
        }
        _ => evidence::verify(&ev, &opts),
    };
    let verified = match result {
        Ok(v) => v,
        Err(e) => {
            let r = unauthorized("evidence_invalid", format!("tee-evidence: {e}"));
            return st.refuse(peer, "attest", r, record);
        }
    };
    record["claims"] = verified.claims.clone();
    if verified.tee != tee.as_str() {
        let r = unauthorized(
            "tee_mismatch",
            format!(
                "tee-evidence: expected {} evidence (the session's tee), found {}",
                tee.as_str(),
                verified.tee
            ),
        );
        return st.refuse(peer, "attest", r, record);
    }
    let expected_rd = protocol::report_data(&req.runtime_data);
    if verified.report_data.as_slice() != expected_rd.as_slice() {
        let r = unauthorized(
            "report_data_mismatch",
            format!(
                "report_data: expected {} (SHA-384 of the RFC 8785 JSON of runtime-data, zero-padded), found {}",
                protocol::hex_lower(&expected_rd),
                protocol::hex_lower(&verified.report_data)
            ),
        );
        return st.refuse(peer, "attest", r, record);
    }
    let appraisal = match tee {
        TeeKind::Dev => st.policy.attestation.accepts_tee(TeeKind::Dev),
        TeeKind::Snp => match &verified.snp {
            Some(c) => st.policy.attestation.appraise_snp(c),
            None => {
                let r = unauthorized("evidence_invalid", "snp evidence verified without SNP claims".into());
                return st.refuse(peer, "attest", r, record);
            }
        },
        TeeKind::Tdx => match &verified.tdx {
            Some(c) => st.policy.attestation.appraise_tdx(c),
            None => {
                let r = unauthorized("evidence_invalid", "tdx evidence verified without TDX claims".into());
                return st.refuse(peer, "attest", r, record);
            }
        },
    };
    let mut appraisal = appraisal;
    // GPUs: each must answer the SPDM nonce derived from this request's report data, which
    // binds it to the same challenge as the CPU report.
    let gpu = &st.policy.attestation.gpu;
    if gpu.count > 0 || gpu.require_evidence || !req.gpu_evidence.is_empty() {
        let nonce = protocol::gpu_nonce(&expected_rd);
        let mut gpu_claims = Vec::new();
        for (i, g) in req.gpu_evidence.iter().enumerate() {
            let Ok(report) = base64::engine::general_purpose::STANDARD.decode(&g.report) else {
                let r = bad(
                    "evidence_malformed",
                    format!("gpu-evidence[{i}].report: expected standard base64"),
                );
                return st.refuse(peer, "attest", r, record);
            };
            let ev = evidence::Evidence::Nvidia(evidence::nvidia::NvidiaEvidence {
                report,
                certs: g.certs.as_bytes().to_vec(),
            });
            let opts = VerifyOptions {
                now,
                nonce: Some(nonce.to_vec()),
                extra_roots: st.extra_roots.clone(),
            };
            match evidence::verify(&ev, &opts) {
                Ok(v) => gpu_claims.push(v.claims),
                Err(e) => {
                    let r = unauthorized("gpu_evidence_invalid", format!("gpu-evidence[{i}]: {e}"));
                    return st.refuse(peer, "attest", r, record);
                }
            }
        }
        let n = gpu_claims.len() as u32;
        record["gpu_claims"] = gpu_claims.into();
        let d = st.policy.attestation.appraise_gpu(n, n > 0);
        appraisal.allowed &= d.allowed;
        appraisal.checks.extend(d.checks);
    }
    // `[[rules]]` that apply to attestation: Rego over the verified claims.
    let input = json!({"tee": tee.as_str(), "claims": verified.claims, "runtime_data": req.runtime_data});
    if let Err(r) = with_rules(&st.policy, "attestation", &input, &mut appraisal) {
        return st.refuse(peer, "attest", r, record);
    }
    record["decision"] = decision_json(&appraisal);
    if !appraisal.allowed {
        let r = unauthorized(
            "appraisal_failed",
            format!("evidence does not meet the policy: {}", failures_text(&appraisal)),
        );
        return st.refuse(peer, "attest", r, record);
    }

    let iat = unix(now);
    let jti = protocol::hex_lower(&super::session::random::<16>());
    let appraisal_checks: Vec<Value> = appraisal
        .checks
        .iter()
        .map(|c| json!({"rule": c.rule, "passed": c.passed, "found": c.found}))
        .collect();
    let claims = json!({
        "eat_profile": EAR_PROFILE,
        "iss": ISSUER,
        "iat": iat,
        "exp": iat + st.token_ttl.as_secs(),
        "jti": jti,
        "ear.status": "affirming",
        "ear.verifier-id": {"developer": "sealrun", "build": concat!("sealrun-attest ", env!("CARGO_PKG_VERSION"))},
        "ear.appraisal-policy-id": st.policy_digest,
        "tee": tee.as_str(),
        "evidence-digest": evidence_sha256,
        "image-digest": rd.image_digest,
        "policy-digest": rd.policy_digest,
        "tee-pubkey": pubkey.to_json(),
        "appraisal": appraisal_checks,
    });
    let token = st.signer.sign(&claims);
    record["event"] = "attest".into();
    record["result"] = "ok".into();
    record["token_jti"] = jti.into();
    if !st.audit(peer, record) {
        let r = Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "audit_failed",
            "the audit log could not be written",
        );
        st.metrics.inc(
            "sealrun_broker_attest_total",
            &[("result", "denied"), ("reason", "audit_failed")],
        );
        return r.into_response();
    }
    st.sessions.set_attested(&sid, claims);
    st.metrics.inc("sealrun_broker_attest_total", &[("result", "ok")]);
    tracing::info!(tee = tee.as_str(), peer = %peer.0, "attested");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "token": token }).to_string(),
    )
        .into_response()
}

async fn token_key(AxState(st): St) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        st.signer.public_jwk().to_string(),
    )
        .into_response()
}

async fn resource(
    AxState(st): St,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    UrlPath((repo, kind, tag)): UrlPath<(String, String, String)>,
) -> Response {
    let key_id = format!("{repo}/{kind}/{tag}");
    let mut record = json!({ "key_id": key_id });
    if !protocol::valid_resource_id(&key_id) {
        let r = Refusal::new(
            StatusCode::BAD_REQUEST,
            "resource_invalid",
            format!("resource: expected repo/type/tag of [A-Za-z0-9._-], found `{key_id}`"),
        );
        return st.refuse(peer, "resource", r, record);
    }
    let now = unix(st.now());
    let claims = if let Some(t) = bearer(&headers) {
        let t = String::from_utf8_lossy(t);
        match st.signer.verify(&t, now) {
            Ok(c) => c,
            Err(e) => {
                let code = match e {
                    TokenError::Expired { .. } => "token_expired",
                    _ => "token_invalid",
                };
                let r = Refusal::new(StatusCode::UNAUTHORIZED, code, format!("bearer token: {e}"));
                return st.refuse(peer, "resource", r, record);
            }
        }
    } else if let Some(sid) = cookie(&headers, SESSION_COOKIE) {
        record["session"] = session_ref(&sid).into();
        match st.sessions.attested(&sid) {
            Some(c) if c.get("exp").and_then(Value::as_u64).is_some_and(|exp| now < exp) => c,
            Some(_) => {
                let r = Refusal::new(
                    StatusCode::UNAUTHORIZED,
                    "token_expired",
                    "session: its attestation has expired; attest again",
                );
                return st.refuse(peer, "resource", r, record);
            }
            None => {
                let r = Refusal::new(
                    StatusCode::UNAUTHORIZED,
                    "token_missing",
                    "session: not attested (or unknown); attest first",
                );
                return st.refuse(peer, "resource", r, record);
            }
        }
    } else {
        let r = Refusal::new(
            StatusCode::UNAUTHORIZED,
            "token_missing",
            format!("expected `Authorization: Bearer <attestation token>` or the `{SESSION_COOKIE}` cookie of an attested session, found neither"),
        );
        return st.refuse(peer, "resource", r, record);
    };
    let tee_name = claims.get("tee").and_then(Value::as_str).unwrap_or("");
    let image_digest = claims
        .get("image-digest")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    record["tee"] = tee_name.into();
    record["image_digest"] = image_digest.clone().into();
    record["token_jti"] = claims.get("jti").cloned().unwrap_or(Value::Null);
    let Some(tee) = protocol::tee_kind(tee_name) else {
        let r = Refusal::new(
            StatusCode::UNAUTHORIZED,
            "token_invalid",
            format!("token claim tee: expected snp, tdx or dev, found `{tee_name}`"),
        );
        return st.refuse(peer, "resource", r, record);
    };
    let mut decision = st.policy.keys.release_allowed(&key_id, &image_digest, tee);
    // `[[rules]]` that apply to keys: Rego over the request and the token's claims.
    let input = json!({"key_id": key_id, "image_digest": image_digest, "tee": tee.as_str(), "token": claims});
    if let Err(r) = with_rules(&st.policy, "keys", &input, &mut decision) {
        return st.refuse(peer, "resource", r, record);
    }
    record["decision"] = decision_json(&decision);
    if !decision.allowed {
        let r = Refusal::new(
            StatusCode::FORBIDDEN,
            "release_denied",
            format!("resource `{key_id}`: {}", failures_text(&decision)),
        );
        return st.refuse(peer, "resource", r, record);
    }
    let pubkey = match claims.get("tee-pubkey").map(jwe::PublicJwk::from_json) {
        Some(Ok(k)) => k,
        _ => {
            let r = Refusal::new(
                StatusCode::UNAUTHORIZED,
                "token_invalid",
                "token claim tee-pubkey: expected an EC P-256 JWK",
            );
            return st.refuse(peer, "resource", r, record);
        }
    };
    let secret = match st.keys.get(&key_id) {
        Ok(Some(s)) => s,
        Ok(None) => {
            let r = Refusal::new(
                StatusCode::NOT_FOUND,
                "resource_not_found",
                format!("resource `{key_id}`: allowed by the policy but not in the key store"),
            );
            return st.refuse(peer, "resource", r, record);
        }
        Err(e) => {
            let r = Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "keystore_error",
                format!("key store: {e}"),
            );
            return st.refuse(peer, "resource", r, record);
        }
    };
    let jwe = match jwe::encrypt(&pubkey, secret.expose()) {
        Ok(j) => j,
        Err(e) => {
            let r = Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "wrap_failed",
                format!("wrapping the key: {e}"),
            );
            return st.refuse(peer, "resource", r, record);
        }
    };
    drop(secret);
    record["event"] = "resource".into();
    record["result"] = "released".into();
    if !st.audit(peer, record) {
        st.metrics.inc(
            "sealrun_broker_resource_total",
            &[("result", "denied"), ("reason", "audit_failed")],
        );
        return Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "audit_failed",
            "the audit log could not be written",
        )
        .into_response();
    }
    st.metrics
        .inc("sealrun_broker_resource_total", &[("result", "released")]);
    tracing::info!(key_id = %key_id, tee = tee.as_str(), peer = %peer.0, "resource released");
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/jose")], jwe).into_response()
}

/// Checks the admin bearer token; on failure returns the refusal (already recorded).
/// `None`: go ahead.
fn admin_guard(
    st: &State,
    peer: Peer,
    headers: &HeaderMap,
    op: &'static str,
    key_id: Option<&str>,
) -> Option<Response> {
    let record = json!({ "key_id": key_id });
    let Some(expected) = &st.admin_token else {
        let r = Refusal::new(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "the admin API is disabled (no admin token configured)",
        );
        return Some(st.refuse(peer, op, r, record));
    };
    match bearer(headers) {
        Some(t) if expected.matches(t) => None,
        Some(_) => {
            let r = Refusal::new(
                StatusCode::UNAUTHORIZED,
                "admin_unauthorized",
                "admin bearer token: does not match",
            );
            Some(st.refuse(peer, op, r, record))
        }
        None => {
            let r = Refusal::new(
                StatusCode::UNAUTHORIZED,
                "admin_unauthorized",
                "expected `Authorization: Bearer <admin token>`, found none",
            );
            Some(st.refuse(peer, op, r, record))
        }
    }
}

fn admin_ok(st: &State, peer: Peer, op: &'static str, key_id: Option<&str>, extra: Value) -> bool {
    let mut record = json!({ "event": op, "result": "ok", "key_id": key_id });
    if let (Value::Object(r), Value::Object(e)) = (&mut record, extra) {
        r.extend(e);
    }
    let op_label = op.trim_start_matches("admin_");
    if st.audit(peer, record) {
        st.metrics
            .inc("sealrun_broker_admin_total", &[("op", op_label), ("result", "ok")]);
        true
    } else {
        st.metrics
            .inc("sealrun_broker_admin_total", &[("op", op_label), ("result", "denied")]);
        false
    }
}

fn audit_failed() -> Response {
    Refusal::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "audit_failed",
        "the audit log could not be written",
    )
    .into_response()
}

async fn admin_put(
    AxState(st): St,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    UrlPath((repo, kind, tag)): UrlPath<(String, String, String)>,
    body: Bytes,
) -> Response {
    let key_id = format!("{repo}/{kind}/{tag}");
    if let Some(resp) = admin_guard(&st, peer, &headers, "admin_put", Some(&key_id)) {
        return resp;
    }
    // Owning the buffer (no copy when it is not shared) lets the Secret wipe it.
    let bytes: Vec<u8> = body.into();
    let secret = Secret::new(bytes);
    if !protocol::valid_resource_id(&key_id) || secret.expose().is_empty() {
        let r = Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("expected a resource id repo/type/tag of [A-Za-z0-9._-] and a non-empty body, found `{key_id}` and {} bytes", secret.expose().len()),
        );
        return st.refuse(peer, "admin_put", r, json!({"key_id": key_id}));
    }
    let len = secret.expose().len();
    // Audit before the write: a key never enters the store unrecorded.
    if !admin_ok(&st, peer, "admin_put", Some(&key_id), json!({"bytes": len})) {
        return audit_failed();
    }
    match st.keys.put(&key_id, secret) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => keystore_error(e),
    }
}

async fn admin_delete(
    AxState(st): St,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    UrlPath((repo, kind, tag)): UrlPath<(String, String, String)>,
) -> Response {
    let key_id = format!("{repo}/{kind}/{tag}");
    if let Some(resp) = admin_guard(&st, peer, &headers, "admin_delete", Some(&key_id)) {
        return resp;
    }
    match st.keys.delete(&key_id) {
        Ok(existed) => {
            if !admin_ok(&st, peer, "admin_delete", Some(&key_id), json!({"existed": existed})) {
                return audit_failed();
            }
            if existed {
                StatusCode::NO_CONTENT.into_response()
            } else {
                Refusal::new(
                    StatusCode::NOT_FOUND,
                    "resource_not_found",
                    format!("resource `{key_id}`: not in the key store"),
                )
                .into_response()
            }
        }
        Err(e) => keystore_error(e),
    }
}

async fn admin_list(AxState(st): St, ConnectInfo(peer): ConnectInfo<Peer>, headers: HeaderMap) -> Response {
    if let Some(resp) = admin_guard(&st, peer, &headers, "admin_list", None) {
        return resp;
    }
    match st.keys.list() {
        Ok(ids) => {
            if !admin_ok(&st, peer, "admin_list", None, json!({"count": ids.len()})) {
                return audit_failed();
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                json!({ "keys": ids }).to_string(),
            )
                .into_response()
        }
        Err(e) => keystore_error(e),
    }
}

/// The key store failed (I/O, decryption): a 500 that names it, never the key.
fn keystore_error(e: impl std::fmt::Display) -> Response {
    Refusal::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "keystore_error",
        format!("key store: {e}"),
    )
    .into_response()
}

async fn metrics(AxState(st): St) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response()
}
