//! Sessions: one per `auth`, named by the `kbs-session-id` cookie, holding the challenge
//! nonce (single use) and, after a successful `attest`, the token's claims.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use ring::rand::SecureRandom as _;
use sealrun_policy::TeeKind;
use serde_json::Value;

/// More live sessions than this and `auth` is refused until some expire: a bound on the
/// memory an unauthenticated client can make the broker hold.
pub const MAX_SESSIONS: usize = 100_000;

pub struct Session {
    pub tee: TeeKind,
    pub nonce: [u8; 32],
    pub created: SystemTime,
    pub nonce_used: bool,
    /// The claims of the token issued to this session, once it attested.
    pub attested: Option<Value>,
}

/// Why a nonce could not be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceRefusal {
    UnknownSession,
    Replayed,
    Expired,
}

#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    /// Unix second of the last sweep of expired sessions: sweeping is O(live sessions), so
    /// it runs at most once a second (or when the table is full), not on every `auth`.
    last_sweep: std::sync::atomic::AtomicU64,
}

/// Random bytes from the system RNG.
pub fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The system RNG (getrandom) does not fail on Linux once the pool is initialised;
    // if it ever does, a zero nonce must not be handed out.
    ring::rand::SystemRandom::new()
        .fill(&mut out)
        .expect("system random number generator failed");
    out
}

impl Sessions {
    pub fn new() -> Sessions {
        Sessions::default()
    }

    /// Starts a session; returns its id and nonce, or `None` when too many are live.
    /// Sessions older than `max_age` are dropped first.
    pub fn create(&self, tee: TeeKind, now: SystemTime, max_age: Duration) -> Option<(String, [u8; 32])> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let last = self.last_sweep.swap(second, std::sync::atomic::Ordering::Relaxed);
        if last != second || map.len() >= MAX_SESSIONS {
            map.retain(|_, s| age(s.created, now) < max_age);
        }
        if map.len() >= MAX_SESSIONS {
            return None;
        }
        let id = crate::broker::protocol::hex_lower(&random::<32>());
        let nonce = random::<32>();
        map.insert(
            id.clone(),
            Session {
                tee,
                nonce,
                created: now,
                nonce_used: false,
                attested: None,
            },
        );
        Some((id, nonce))
    }

    /// Consumes the session's nonce: the first call marks it used whatever follows, so a
    /// nonce backs at most one attestation attempt. Returns the TEE and the nonce.
    pub fn take_nonce(&self, id: &str, now: SystemTime, ttl: Duration) -> Result<(TeeKind, [u8; 32]), NonceRefusal> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.get_mut(id).ok_or(NonceRefusal::UnknownSession)?;
        if s.nonce_used {
            return Err(NonceRefusal::Replayed);
        }
        s.nonce_used = true;
        if age(s.created, now) >= ttl {
            return Err(NonceRefusal::Expired);
        }
        Ok((s.tee, s.nonce))
    }

    pub fn set_attested(&self, id: &str, claims: Value) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = map.get_mut(id) {
            s.attested = Some(claims);
        }
    }

    /// The claims of the token issued to session `id`, if it attested.
    pub fn attested(&self, id: &str) -> Option<Value> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(id).and_then(|s| s.attested.clone())
    }
}

/// How long ago `then` was; a clock that went backwards counts as no time at all.
fn age(then: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_is_single_use_and_expires() {
        let s = Sessions::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ttl = Duration::from_secs(300);
        let (id, nonce) = s.create(TeeKind::Dev, t0, Duration::from_secs(600)).unwrap();
        assert_eq!(s.take_nonce(&id, t0, ttl), Ok((TeeKind::Dev, nonce)));
        assert_eq!(s.take_nonce(&id, t0, ttl), Err(NonceRefusal::Replayed));
        let (id2, _) = s.create(TeeKind::Dev, t0, Duration::from_secs(600)).unwrap();
        assert_eq!(s.take_nonce(&id2, t0 + ttl, ttl), Err(NonceRefusal::Expired));
        assert_eq!(s.take_nonce("nope", t0, ttl), Err(NonceRefusal::UnknownSession));
        assert_ne!(id, id2);
    }
}
