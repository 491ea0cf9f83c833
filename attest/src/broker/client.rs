//! The broker client: the KBS flow from a guest (auth → evidence → attest → resource →
//! JWE decrypt) and the admin API, over hyper's HTTP/1.1 connection API on a tokio TCP
//! stream, with rustls for `https://`.
//!
//! One connection per request: the flow is four requests, and no pool is worth its code.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use zeroize::Zeroizing;

use super::protocol::{self, AttestRequest, AuthRequest, Challenge, WorkloadClaims, PROTOCOL_VERSION, SESSION_COOKIE};
use crate::attester::Tee;
use crate::jwe;

/// The largest response body the client reads.
const MAX_BODY: usize = 4 << 20;
/// How long one request may take, connect to last byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("broker URL `{url}`: {reason}")]
    Url { url: String, reason: String },
    #[error("broker URL `{0}`: plain http:// is allowed to a loopback address only; use https://")]
    InsecureNonLoopback(String),
    #[error("TLS root {path}: {reason}")]
    TlsRoot { path: String, reason: String },
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS with {host}: {source}")]
    Tls {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP {method} {path}: {reason}")]
    Http {
        method: String,
        path: String,
        reason: String,
    },
    #[error("HTTP {method} {path} timed out after {}s", REQUEST_TIMEOUT.as_secs())]
    Timeout { method: String, path: String },
    /// The broker answered with an error status.
    #[error("{step}: the broker refused ({status}): {code}: {detail}")]
    Refused {
        step: &'static str,
        status: u16,
        code: String,
        detail: String,
    },
    #[error("{step}: unexpected response from the broker: {reason}")]
    Protocol { step: &'static str, reason: String },
    #[error("collecting evidence: {0}")]
    Evidence(String),
    #[error("resource id `{0}`: expected repo/type/tag of [A-Za-z0-9._-]")]
    Resource(String),
    #[error(transparent)]
    Jwe(#[from] jwe::JweError),
    #[error("starting the client runtime: {0}")]
    Runtime(std::io::Error),
}

/// Where evidence comes from: a TEE (or a stand-in) that signs 64 bytes of report data.
pub trait EvidenceProvider {
    /// The `tee` sent at auth (`snp`, `tdx`, `dev`).
    fn tee(&self) -> String;
    /// `tee-evidence` JSON binding `report_data`.
    fn evidence(&self, report_data: &[u8; 64]) -> Result<Value, ClientError>;
}

/// The software dev TEE (`evidence::dev`): insecure by design, accepted only by policies
/// with `allow_dev = true`.
pub struct DevTee;

impl EvidenceProvider for DevTee {
    fn tee(&self) -> String {
        "dev".into()
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<Value, ClientError> {
        Tee::Dev.evidence(report_data)
    }
}

/// A TEE of this machine, through [`crate::attester::collect`].
impl EvidenceProvider for Tee {
    fn tee(&self) -> String {
        self.as_str().into()
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<Value, ClientError> {
        let ev = crate::attester::collect(*self, report_data).map_err(|e| ClientError::Evidence(e.to_string()))?;
        ev.to_envelope_json().map_err(|e| ClientError::Evidence(e.to_string()))
    }
}

/// Evidence from a closure: `collect(report_data)` returns the `tee-evidence` JSON.
pub struct FnEvidence<F> {
    pub tee: String,
    pub collect: F,
}

impl<F> EvidenceProvider for FnEvidence<F>
where
    F: Fn(&[u8; 64]) -> Result<Value, String>,
{
    fn tee(&self) -> String {
        self.tee.clone()
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<Value, ClientError> {
        (self.collect)(report_data).map_err(ClientError::Evidence)
    }
}

/// A response: status, content type, body.
pub struct HttpResponse {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Clone)]
struct Target {
    url: String,
    tls: bool,
    host: String,
    port: u16,
    /// The path prefix of the URL, without a trailing slash.
    base: String,
}

fn parse_url(url: &str) -> Result<Target, ClientError> {
    let bad = |reason: &str| ClientError::Url {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(bad("expected https://HOST[:PORT] (or http:// to loopback)"));
    };
    let (authority, base) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed `[` in the host"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad("the port is not a number 0-65535"))?,
            None if after.is_empty() => default_port,
            None => return Err(bad("unexpected text after `]`")),
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse().map_err(|_| bad("the port is not a number 0-65535"))?,
            ),
            None => (authority.to_string(), default_port),
        }
    };
    if host.is_empty() || authority.contains('@') {
        return Err(bad("expected a host (no user info)"));
    }
    Ok(Target {
        url: url.to_string(),
        tls,
        host,
        port,
        base: base.to_string(),
    })
}

/// A client of one broker. Keeps the session cookie between `auth` and `attest`.
pub struct BrokerClient {
    target: Target,
    tls: Option<tokio_rustls::TlsConnector>,
    session: Option<String>,
}

fn tls_connector(root: &Path) -> Result<tokio_rustls::TlsConnector, ClientError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let err = |reason: String| ClientError::TlsRoot {
        path: root.display().to_string(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(root)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("expected at least one PEM CERTIFICATE, found none".into()));
    }
    for c in certs {
        roots.add(c).map_err(|e| err(e.to_string()))?;
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}

impl BrokerClient {
    /// A client of the broker at `url`. `https://` needs `tls_root` (PEM CA certificates
    /// to trust); `http://` is refused unless the host is a loopback address.
    pub fn new(url: &str, tls_root: Option<&Path>) -> Result<BrokerClient, ClientError> {
        let target = parse_url(url)?;
        let tls = if target.tls {
            let root = tls_root.ok_or_else(|| ClientError::TlsRoot {
                path: "(none)".into(),
                reason: "an https:// broker needs a CA certificate to trust (--tls-root)".into(),
            })?;
            Some(tls_connector(root)?)
        } else {
            None
        };
        Ok(BrokerClient {
            target,
            tls,
            session: None,
        })
    }

    /// The session id from the last `auth` (a credential: do not log it).
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// Replaces the session cookie (tests use this to replay a session).
    pub fn set_session(&mut self, id: Option<String>) {
        self.session = id;
    }

    async fn connect(&self) -> Result<tokio::net::TcpStream, ClientError> {
        let t = &self.target;
        let addrs: Vec<SocketAddr> = (t.host.as_str(), t.port)
            .to_socket_addrs()
            .map_err(|e| ClientError::Connect {
                addr: format!("{}:{}", t.host, t.port),
                source: e,
            })?
            .collect();
        let addrs: Vec<SocketAddr> = if t.tls {
            addrs
        } else {
            // Plain HTTP carries bearer credentials: only ever to this machine.
            let lo: Vec<SocketAddr> = addrs.into_iter().filter(|a| a.ip().is_loopback()).collect();
            if lo.is_empty() {
                return Err(ClientError::InsecureNonLoopback(t.url.clone()));
            }
            lo
        };
        let mut last = None;
        for a in &addrs {
            match tokio::net::TcpStream::connect(a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(ClientError::Connect {
            addr: format!("{}:{}", t.host, t.port),
            source: last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address")),
        })
    }

    /// Sends one request; attaches the session cookie, keeps a new one.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(header::HeaderName, String)],
        body: Vec<u8>,
    ) -> Result<HttpResponse, ClientError> {
        let m = method.to_string();
        let fut = self.send_inner(method, path, headers, body);
        match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout {
                method: m,
                path: path.to_string(),
            }),
        }
    }

    async fn send_inner(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(header::HeaderName, String)],
        body: Vec<u8>,
    ) -> Result<HttpResponse, ClientError> {
        let http_err = |reason: String| ClientError::Http {
            method: method.to_string(),
            path: path.to_string(),
            reason,
        };
        let t = self.target.clone();
        let authority = if t.host.contains(':') {
            format!("[{}]:{}", t.host, t.port)
        } else {
            format!("{}:{}", t.host, t.port)
        };
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("{}{}", t.base, path))
            .header(header::HOST, authority)
            .header(header::CONNECTION, "close");
        if !body.is_empty() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        for (k, v) in headers {
            req = req.header(k, v);
        }
        if let Some(sid) = &self.session {
            req = req.header(header::COOKIE, format!("{SESSION_COOKIE}={sid}"));
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| http_err(e.to_string()))?;
        let tcp = self.connect().await?;
        let (resp, set_cookie) = match &self.tls {
            Some(connector) => {
                let name = rustls_pki_types::ServerName::try_from(t.host.clone()).map_err(|e| ClientError::Tls {
                    host: t.host.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()),
                })?;
                let tls = connector.connect(name, tcp).await.map_err(|e| ClientError::Tls {
                    host: t.host.clone(),
                    source: e,
                })?;
                exchange(tls, req).await.map_err(http_err)?
            }
            None => exchange(tcp, req).await.map_err(http_err)?,
        };
        if let Some(sid) = set_cookie {
            self.session = Some(sid);
        }
        Ok(resp)
    }

    /// `POST /kbs/v0/auth`: starts a session; returns the challenge.
    pub async fn auth(&mut self, tee: &str) -> Result<Challenge, ClientError> {
        let body = serde_json::to_vec(&AuthRequest {
            version: PROTOCOL_VERSION.into(),
            tee: tee.into(),
            extra_params: json!({}),
        })
        .expect("auth request serialises");
        let r = self.send(Method::POST, "/kbs/v0/auth", &[], body).await?;
        let r = expect_ok("auth", r)?;
        if self.session.is_none() {
            return Err(ClientError::Protocol {
                step: "auth",
                reason: format!("no `{SESSION_COOKIE}` cookie set"),
            });
        }
        serde_json::from_slice(&r.body).map_err(|e| ClientError::Protocol {
            step: "auth",
            reason: e.to_string(),
        })
    }

    /// `POST /kbs/v0/attest`: returns the attestation token.
    pub async fn attest(&mut self, req: &AttestRequest) -> Result<String, ClientError> {
        let body = serde_json::to_vec(req).expect("attest request serialises");
        let r = self.send(Method::POST, "/kbs/v0/attest", &[], body).await?;
        let r = expect_ok("attest", r)?;
        let v: Value = serde_json::from_slice(&r.body).map_err(|e| ClientError::Protocol {
            step: "attest",
            reason: e.to_string(),
        })?;
        v.get("token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ClientError::Protocol {
                step: "attest",
                reason: "no `token` in the response".into(),
            })
    }

    /// `GET /kbs/v0/resource/ID`: the compact JWE. With `token` as bearer, else the
    /// session cookie alone.
    pub async fn resource(&mut self, id: &str, token: Option<&str>) -> Result<String, ClientError> {
        if !protocol::valid_resource_id(id) {
            return Err(ClientError::Resource(id.to_string()));
        }
        let headers: Vec<(header::HeaderName, String)> = token
            .map(|t| vec![(header::AUTHORIZATION, format!("Bearer {t}"))])
            .unwrap_or_default();
        let r = self
            .send(Method::GET, &format!("/kbs/v0/resource/{id}"), &headers, Vec::new())
            .await?;
        let r = expect_ok("resource", r)?;
        String::from_utf8(r.body).map_err(|_| ClientError::Protocol {
            step: "resource",
            reason: "the JWE is not UTF-8".into(),
        })
    }

    /// `GET /kbs/v0/token-key`: the broker's token-signing JWK.
    pub async fn token_key(&mut self) -> Result<Value, ClientError> {
        let r = expect_ok(
            "token-key",
            self.send(Method::GET, "/kbs/v0/token-key", &[], Vec::new()).await?,
        )?;
        serde_json::from_slice(&r.body).map_err(|e| ClientError::Protocol {
            step: "token-key",
            reason: e.to_string(),
        })
    }

    /// `PUT /admin/keys/ID` with the key bytes.
    pub async fn admin_put(&mut self, admin_token: &[u8], id: &str, key: &[u8]) -> Result<(), ClientError> {
        if !protocol::valid_resource_id(id) {
            return Err(ClientError::Resource(id.to_string()));
        }
        let h = admin_header(admin_token)?;
        let body = key.to_vec();
        let r = self.send(Method::PUT, &format!("/admin/keys/{id}"), &h, body).await?;
        expect_ok("admin put", r).map(|_| ())
    }

    /// `DELETE /admin/keys/ID`.
    pub async fn admin_delete(&mut self, admin_token: &[u8], id: &str) -> Result<(), ClientError> {
        if !protocol::valid_resource_id(id) {
            return Err(ClientError::Resource(id.to_string()));
        }
        let h = admin_header(admin_token)?;
        let r = self
            .send(Method::DELETE, &format!("/admin/keys/{id}"), &h, Vec::new())
            .await?;
        expect_ok("admin delete", r).map(|_| ())
    }

    /// `GET /admin/keys`: the key ids.
    pub async fn admin_list(&mut self, admin_token: &[u8]) -> Result<Vec<String>, ClientError> {
        let h = admin_header(admin_token)?;
        let r = expect_ok(
            "admin list",
            self.send(Method::GET, "/admin/keys", &h, Vec::new()).await?,
        )?;
        let v: Value = serde_json::from_slice(&r.body).map_err(|e| ClientError::Protocol {
            step: "admin list",
            reason: e.to_string(),
        })?;
        serde_json::from_value(v.get("keys").cloned().unwrap_or(Value::Null)).map_err(|e| ClientError::Protocol {
            step: "admin list",
            reason: format!("`keys`: {e}"),
        })
    }
}

fn admin_header(token: &[u8]) -> Result<Vec<(header::HeaderName, String)>, ClientError> {
    let t = std::str::from_utf8(token)
        .ok()
        .filter(|t| HeaderValue::from_str(t).is_ok())
        .ok_or_else(|| ClientError::Protocol {
            step: "admin",
            reason: "the admin token is not printable ASCII".into(),
        })?;
    Ok(vec![(header::AUTHORIZATION, format!("Bearer {t}"))])
}

/// A non-2xx response as [`ClientError::Refused`], with the broker's `{error, detail}`.
fn expect_ok(step: &'static str, r: HttpResponse) -> Result<HttpResponse, ClientError> {
    if r.status.is_success() {
        return Ok(r);
    }
    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    let code = v.get("error").and_then(Value::as_str).unwrap_or("").to_string();
    let detail = v
        .get("detail")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&r.body[..r.body.len().min(200)]).into_owned());
    Err(ClientError::Refused {
        step,
        status: r.status.as_u16(),
        code,
        detail,
    })
}

/// One HTTP/1.1 exchange on `io`. Returns the response and the session cookie it set.
async fn exchange<IO>(io: IO, req: Request<Full<Bytes>>) -> Result<(HttpResponse, Option<String>), String>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    // The request future owns the sender: when it is done the sender drops and the
    // connection future finishes, so joining both ends.
    let request = async move {
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("reading the body: {e}"))?
            .to_bytes();
        Ok::<_, String>((parts, body))
    };
    let (result, conn_result) = tokio::join!(request, conn);
    let (parts, body) = result?;
    if let Err(e) = conn_result {
        tracing::debug!(error = %e, "broker connection ended with an error after the response");
    }
    let set_cookie = parts
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let first = v.split(';').next()?.trim();
            let (k, val) = first.split_once('=')?;
            (k == SESSION_COOKIE).then(|| val.to_string())
        });
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((
        HttpResponse {
            status: parts.status,
            content_type,
            body: body.to_vec(),
        },
        set_cookie,
    ))
}

/// The `runtime-data` the client sends: the nonce, its ephemeral key, the workload claims.
pub fn runtime_data(nonce: &str, tee_pubkey: Value, claims: &WorkloadClaims) -> Value {
    json!({
        "nonce": nonce,
        "tee-pubkey": tee_pubkey,
        "image-digest": claims.image_digest,
        "policy-digest": claims.policy_digest,
    })
}

/// The full flow, async: auth, evidence over `runtime-data`, attest, resource, decrypt.
pub async fn request_resource_async(
    broker_url: &str,
    resource: &str,
    evidence: &dyn EvidenceProvider,
    claims: &WorkloadClaims,
    tls_root: Option<&Path>,
) -> Result<Zeroizing<Vec<u8>>, ClientError> {
    if !protocol::valid_resource_id(resource) {
        return Err(ClientError::Resource(resource.to_string()));
    }
    let mut c = BrokerClient::new(broker_url, tls_root)?;
    let challenge = c.auth(&evidence.tee()).await?;
    let nonce_ok = base64::engine::general_purpose::STANDARD
        .decode(&challenge.nonce)
        .is_ok_and(|n| n.len() == 32);
    if !nonce_ok {
        return Err(ClientError::Protocol {
            step: "auth",
            reason: "the nonce is not base64 of 32 bytes".into(),
        });
    }
    let key = jwe::EphemeralKey::generate();
    let rd = runtime_data(&challenge.nonce, key.public_jwk(), claims);
    let report_data = protocol::report_data(&rd);
    let tee_evidence = evidence.evidence(&report_data)?;
    let token = c
        .attest(&AttestRequest {
            runtime_data: rd,
            tee_evidence,
            gpu_evidence: Vec::new(),
        })
        .await?;
    let compact = c.resource(resource, Some(&token)).await?;
    Ok(jwe::decrypt(&key, &compact)?)
}

/// Runs `f` on a fresh single-threaded runtime. Not for use inside another runtime.
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, ClientError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ClientError::Runtime)?;
    Ok(rt.block_on(f))
}

/// The full flow (see [`request_resource_async`]), blocking. Must not be called from
/// inside a tokio runtime.
pub fn request_resource(
    broker_url: &str,
    resource: &str,
    evidence: &dyn EvidenceProvider,
    claims: &WorkloadClaims,
    tls_root: Option<&Path>,
) -> Result<Zeroizing<Vec<u8>>, ClientError> {
    block_on(request_resource_async(broker_url, resource, evidence, claims, tls_root))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("https://broker.example:8443/prefix/").unwrap();
        assert!(t.tls);
        assert_eq!(
            (t.host.as_str(), t.port, t.base.as_str()),
            ("broker.example", 8443, "/prefix")
        );
        let t = parse_url("http://[::1]:9000").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.tls), ("::1", 9000, false));
        assert_eq!(parse_url("https://h").unwrap().port, 443);
        assert!(parse_url("ftp://h").is_err());
        assert!(parse_url("https://user@h").is_err());
        assert!(parse_url("http://h:notaport").is_err());
    }

    #[test]
    fn plain_http_to_a_remote_host_is_refused() {
        let mut c = BrokerClient::new("http://192.0.2.1:80", None).unwrap();
        let err = block_on(c.auth("dev")).unwrap().err().unwrap();
        assert!(matches!(err, ClientError::InsecureNonLoopback(_)), "{err}");
    }
}
