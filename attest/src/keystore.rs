//! Key store: a trait, and an encrypted-at-rest file store.
//!
//! [`FileKeyStore`] keeps every secret in one JSON file:
//! `{ "version": 1, "keys": { "<id>": { "nonce": "<b64>", "ciphertext": "<b64>" } } }`.
//! Each secret is sealed with AES-256-GCM under the key-encryption key ([`Kek`]) with the key
//! id as additional authenticated data, so an entry copied or swapped under another id fails
//! to open. The file is replaced atomically (temp file in the same directory, write, fsync,
//! rename, fsync the directory) with mode 0600, and every read-modify-write holds an
//! exclusive `flock` on a sidecar `<file>.lock` so concurrent processes never lose updates.
//! A crash before the rename leaves at most a stale `.<file>.tmp.*` beside the intact old file.
//!
//! Key ids are KBS resource paths `repo/type/tag`: three non-empty segments of ASCII letters,
//! digits, `.`, `_` or `-` (and not `.`/`..`).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use nix::fcntl::{Flock, FlockArg};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

const STORE_VERSION: u32 = 1;
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("key store {path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("key store {path}: invalid JSON: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("key store {path}: field \"version\": expected {expected}, found {found}")]
    Version { path: PathBuf, expected: u32, found: u32 },
    #[error("key store {path}: entry \"{id}\" field \"{field}\": expected {expected}, found {found}")]
    Entry {
        path: PathBuf,
        id: String,
        field: &'static str,
        expected: String,
        found: String,
    },
    #[error("key store {path}: entry \"{id}\" failed to decrypt (AES-256-GCM with the id as AAD): wrong KEK, or the entry was tampered with or moved from another id")]
    Decrypt { path: PathBuf, id: String },
    #[error("KEK file {path}: mode {mode:04o} lets group/others access it: expected no group/other permission bits (chmod 600)")]
    KekPermissions { path: PathBuf, mode: u32 },
    #[error("KEK file {path}: expected 32 raw bytes or 64 hex characters, found {found}")]
    KekFormat { path: PathBuf, found: String },
    #[error("key id \"{id}\": expected a resource path repo/type/tag (3 non-empty segments of [A-Za-z0-9._-], not \".\" or \"..\"), found {problem}")]
    InvalidId { id: String, problem: String },
    #[error("key store: {what} failed: {detail}")]
    Crypto { what: &'static str, detail: String },
}

/// Secret bytes: wiped on drop, never printed (no `Debug`/`Display`), cloned only explicitly.
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl From<Zeroizing<Vec<u8>>> for Secret {
    fn from(z: Zeroizing<Vec<u8>>) -> Secret {
        Secret(z)
    }
}

/// Where the broker's resources (model keys) live.
pub trait KeyStore: Send + Sync {
    fn get(&self, id: &str) -> Result<Option<Secret>, KeyStoreError>;
    /// Inserts or replaces.
    fn put(&self, id: &str, secret: Secret) -> Result<(), KeyStoreError>;
    /// Returns whether the id existed.
    fn delete(&self, id: &str) -> Result<bool, KeyStoreError>;
    /// Ids in sorted order.
    fn list(&self) -> Result<Vec<String>, KeyStoreError>;
}

/// The 32-byte key-encryption key. Wiped on drop; no `Debug`.
pub struct Kek(Zeroizing<[u8; 32]>);

impl Kek {
    /// Reads a KEK file holding 64 hex characters (surrounding whitespace allowed) or exactly
    /// 32 raw bytes. Refuses a file with any group/other permission bit set.
    pub fn from_file(path: &Path) -> Result<Kek, KeyStoreError> {
        let io = |op| {
            let path = path.to_path_buf();
            move |source| KeyStoreError::Io { path, op, source }
        };
        let mut f = File::open(path).map_err(io("open KEK"))?;
        let mode = f.metadata().map_err(io("stat KEK"))?.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyStoreError::KekPermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        let mut buf = Zeroizing::new(Vec::new());
        f.read_to_end(&mut buf).map_err(io("read KEK"))?;
        let mut key = Zeroizing::new([0u8; 32]);
        if buf.len() == 32 {
            key.copy_from_slice(&buf);
            return Ok(Kek(key));
        }
        let text = buf.trim_ascii();
        if text.len() == 64 && text.iter().all(u8::is_ascii_hexdigit) {
            for (i, pair) in text.chunks(2).enumerate() {
                key[i] = (hex_val(pair[0]) << 4) | hex_val(pair[1]);
            }
            return Ok(Kek(key));
        }
        Err(KeyStoreError::KekFormat {
            path: path.to_path_buf(),
            // Never echo the content: it may be a mangled key.
            found: format!(
                "{} bytes ({} after trimming whitespace, {})",
                buf.len(),
                text.len(),
                if text.iter().all(u8::is_ascii_hexdigit) {
                    "all hex"
                } else {
                    "not all hex"
                }
            ),
        })
    }

    pub fn from_bytes(b: [u8; 32]) -> Kek {
        Kek(Zeroizing::new(b))
    }
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[derive(Serialize, Deserialize, Default)]
struct StoreFile {
    version: u32,
    keys: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Entry {
    nonce: String,
    ciphertext: String,
}

/// The encrypted-at-rest file store. Every call re-reads the file under the lock, so several
/// `FileKeyStore`s (threads or processes) on one path see each other's changes.
pub struct FileKeyStore {
    path: PathBuf,
    lock_path: PathBuf,
    cipher: Aes256Gcm,
}

impl FileKeyStore {
    /// Opens `path`, creating an empty store (and nothing else: the directory must exist)
    /// when it is missing. Entries are decrypted lazily, so a wrong KEK shows at `get`.
    pub fn open(path: &Path, kek: Kek) -> Result<FileKeyStore, KeyStoreError> {
        let cipher = Aes256Gcm::new_from_slice(kek.0.as_slice()).map_err(|e| KeyStoreError::Crypto {
            what: "AES-256-GCM key setup",
            detail: e.to_string(),
        })?;
        let mut lock_name = path.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".lock");
        let store = FileKeyStore {
            path: path.to_path_buf(),
            lock_path: path.with_file_name(lock_name),
            cipher,
        };
        let _lock = store.lock(FlockArg::LockExclusive)?;
        if store.read()?.is_none() {
            store.write(&StoreFile {
                version: STORE_VERSION,
                keys: BTreeMap::new(),
            })?;
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, path: &Path, op: &'static str) -> impl FnOnce(std::io::Error) -> KeyStoreError {
        let path = path.to_path_buf();
        move |source| KeyStoreError::Io { path, op, source }
    }

    fn lock(&self, arg: FlockArg) -> Result<Flock<File>, KeyStoreError> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&self.lock_path)
            .map_err(self.io(&self.lock_path, "open lock file"))?;
        Flock::lock(f, arg).map_err(|(_, errno)| KeyStoreError::Io {
            path: self.lock_path.clone(),
            op: "flock",
            source: errno.into(),
        })
    }

    /// `None` when the file does not exist yet.
    fn read(&self) -> Result<Option<StoreFile>, KeyStoreError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(&self.path, "read")(e)),
        };
        let file: StoreFile = serde_json::from_slice(&bytes).map_err(|e| KeyStoreError::Parse {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        if file.version != STORE_VERSION {
            return Err(KeyStoreError::Version {
                path: self.path.clone(),
                expected: STORE_VERSION,
                found: file.version,
            });
        }
        Ok(Some(file))
    }

    fn read_existing(&self) -> Result<StoreFile, KeyStoreError> {
        Ok(self.read()?.unwrap_or(StoreFile {
            version: STORE_VERSION,
            keys: BTreeMap::new(),
        }))
    }

    /// Atomic replace: a reader (or a crash) sees the old file or the new one, never a mix.
    fn write(&self, file: &StoreFile) -> Result<(), KeyStoreError> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut suffix = [0u8; 8];
        OsRng.try_fill_bytes(&mut suffix).map_err(|e| KeyStoreError::Crypto {
            what: "random generation",
            detail: e.to_string(),
        })?;
        let tmp = dir.join(format!(
            ".{}.tmp.{}.{}",
            self.path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id(),
            u64::from_le_bytes(suffix)
        ));
        let json = serde_json::to_vec_pretty(file).map_err(|e| KeyStoreError::Parse {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(self.io(&tmp, "create temp file"))?;
            // The umask can only clear bits, but be explicit about the final mode.
            f.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(self.io(&tmp, "chmod 600"))?;
            f.write_all(&json).map_err(self.io(&tmp, "write"))?;
            f.sync_all().map_err(self.io(&tmp, "fsync"))?;
            fs::rename(&tmp, &self.path).map_err(self.io(&self.path, "rename temp file"))?;
            File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(self.io(&dir, "fsync directory"))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn seal(&self, id: &str, secret: &Secret) -> Result<Entry, KeyStoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.try_fill_bytes(&mut nonce).map_err(|e| KeyStoreError::Crypto {
            what: "random generation",
            detail: e.to_string(),
        })?;
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.expose(),
                    aad: id.as_bytes(),
                },
            )
            .map_err(|e| KeyStoreError::Crypto {
                what: "AES-256-GCM encryption",
                detail: e.to_string(),
            })?;
        Ok(Entry {
            nonce: STANDARD.encode(nonce),
            ciphertext: STANDARD.encode(ct),
        })
    }

    fn open_entry(&self, id: &str, e: &Entry) -> Result<Secret, KeyStoreError> {
        let field_err = |field, expected: &str, found: String| KeyStoreError::Entry {
            path: self.path.clone(),
            id: id.to_string(),
            field,
            expected: expected.to_string(),
            found,
        };
        let nonce = STANDARD
            .decode(&e.nonce)
            .map_err(|err| field_err("nonce", "base64", err.to_string()))?;
        if nonce.len() != NONCE_LEN {
            return Err(field_err("nonce", "12 bytes", format!("{} bytes", nonce.len())));
        }
        let ct = STANDARD
            .decode(&e.ciphertext)
            .map_err(|err| field_err("ciphertext", "base64", err.to_string()))?;
        let pt = self
            .cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ct,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| KeyStoreError::Decrypt {
                path: self.path.clone(),
                id: id.to_string(),
            })?;
        Ok(Secret::new(pt))
    }
}

fn check_id(id: &str) -> Result<(), KeyStoreError> {
    let bad = |problem: String| {
        Err(KeyStoreError::InvalidId {
            id: id.escape_debug().to_string(),
            problem,
        })
    };
    let segments: Vec<&str> = id.split('/').collect();
    if segments.len() != 3 {
        return bad(format!("{} segment(s)", segments.len()));
    }
    for s in segments {
        if s.is_empty() || s == "." || s == ".." {
            return bad(format!("segment \"{s}\""));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return bad(format!("character {c:?}"));
        }
    }
    Ok(())
}

impl KeyStore for FileKeyStore {
    fn get(&self, id: &str) -> Result<Option<Secret>, KeyStoreError> {
        check_id(id)?;
        let _lock = self.lock(FlockArg::LockShared)?;
        let file = self.read_existing()?;
        file.keys.get(id).map(|e| self.open_entry(id, e)).transpose()
    }

    fn put(&self, id: &str, secret: Secret) -> Result<(), KeyStoreError> {
        check_id(id)?;
        let entry = self.seal(id, &secret)?;
        let _lock = self.lock(FlockArg::LockExclusive)?;
        let mut file = self.read_existing()?;
        file.keys.insert(id.to_string(), entry);
        self.write(&file)
    }

    fn delete(&self, id: &str) -> Result<bool, KeyStoreError> {
        check_id(id)?;
        let _lock = self.lock(FlockArg::LockExclusive)?;
        let mut file = self.read_existing()?;
        if file.keys.remove(id).is_none() {
            return Ok(false);
        }
        self.write(&file)?;
        Ok(true)
    }

    fn list(&self) -> Result<Vec<String>, KeyStoreError> {
        let _lock = self.lock(FlockArg::LockShared)?;
        Ok(self.read_existing()?.keys.into_keys().collect())
    }
}
