//! `[sandbox]`: what the workload may do once it runs. The runtime compiles this into
//! Landlock, seccomp, capabilities, cgroup limits and device rules; this crate only
//! defines, validates and explains it.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

fn yes() -> bool {
    true
}

/// The confinement of the workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sandbox {
    #[serde(default)]
    pub fs: Fs,
    #[serde(default)]
    pub landlock: Landlock,
    #[serde(default)]
    pub net: Net,
    #[serde(default)]
    pub syscalls: Syscalls,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub limits: Limits,
    /// Device nodes the workload may use (e.g. GPUs).
    #[serde(default)]
    pub devices: Vec<Device>,
    #[serde(default)]
    pub scope: Scope,
    /// Always on. The key exists only so that `no_new_privs = false` is refused with a
    /// clear error instead of an "unknown key".
    #[serde(default = "yes")]
    #[schemars(extend("const" = true))]
    pub no_new_privs: bool,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox {
            fs: Fs::default(),
            landlock: Landlock::default(),
            net: Net::default(),
            syscalls: Syscalls::default(),
            capabilities: Capabilities::default(),
            limits: Limits::default(),
            devices: Vec::new(),
            scope: Scope::default(),
            no_new_privs: true,
        }
    }
}

/// Filesystem access, enforced with Landlock. Paths are absolute paths inside the
/// container; each grants access to the path and everything beneath it. Nothing that is
/// not listed is accessible.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fs {
    /// Read files and list directories.
    #[serde(default)]
    pub read: Vec<String>,
    /// Create, modify, rename and delete (and read).
    #[serde(default)]
    pub write: Vec<String>,
    /// Execute (and read).
    #[serde(default)]
    pub exec: Vec<String>,
}

/// Landlock requirements.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Landlock {
    /// Minimum Landlock ABI (1..=7). Without `best_effort`, the runtime refuses to start on
    /// a kernel below it. Unset: the ABI the rules in use need (4 for TCP ports, 6 for
    /// scopes).
    #[serde(default)]
    #[schemars(range(min = 1, max = 7))]
    pub min_abi: Option<u8>,
    /// Apply what the kernel supports and record the downgrade instead of refusing.
    #[serde(default)]
    pub best_effort: bool,
}

/// Network access. TCP ports are enforced with Landlock (ABI ≥ 4); socket families and
/// types Landlock cannot see are filtered with seccomp on `socket()`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Net {
    /// TCP ports the workload may bind (listen on).
    #[serde(default)]
    pub tcp_bind: Vec<u16>,
    /// TCP ports the workload may connect to.
    #[serde(default)]
    pub tcp_connect: Vec<u16>,
    #[serde(default)]
    pub allow_udp: bool,
    #[serde(default)]
    pub allow_raw: bool,
    #[serde(default)]
    pub allow_netlink: bool,
    #[serde(default)]
    pub allow_vsock: bool,
    /// UNIX domain sockets (pathname and abstract; abstract ones outside the sandbox are
    /// further limited by `scope.abstract_unix`).
    #[serde(default)]
    pub allow_unix: bool,
    #[serde(default)]
    pub namespace: NetNamespace,
}

/// Which network namespace the workload gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetNamespace {
    /// A new namespace; the runtime or the orchestrator wires its interfaces.
    #[default]
    New,
    /// The host's network namespace.
    Host,
    /// A new namespace with only loopback.
    None,
}

impl NetNamespace {
    pub fn as_str(self) -> &'static str {
        match self {
            NetNamespace::New => "new",
            NetNamespace::Host => "host",
            NetNamespace::None => "none",
        }
    }
}

/// The seccomp filter: a base list plus edits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Syscalls {
    #[serde(default)]
    pub base: SyscallBase,
    /// Syscalls added to the base (a name, or a table with argument conditions).
    #[serde(default)]
    pub allow: Vec<SyscallRule>,
    /// Syscalls refused even if the base allows them (returning `errno`, default EPERM).
    #[serde(default)]
    pub deny: Vec<SyscallRule>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SyscallBase {
    /// sealrun's own allow-list for model servers.
    #[default]
    ModelServer,
    /// moby's default profile, evaluated against the final capabilities and arch.
    DockerDefault,
    /// No base: only `allow` (everything else is refused).
    None,
}

impl SyscallBase {
    pub fn as_str(self) -> &'static str {
        match self {
            SyscallBase::ModelServer => "model-server",
            SyscallBase::DockerDefault => "docker-default",
            SyscallBase::None => "none",
        }
    }
}

/// One allow or deny edit. In TOML either `"name"` or
/// `{ name = "...", args = [...], errno = "..." }`; `errno` only in `deny`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SyscallRule {
    pub name: String,
    /// All conditions must hold for the rule to match.
    pub args: Vec<ArgCondition>,
    /// For `deny`: the errno returned (filled with EPERM when normalised).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SyscallRuleTable")]
struct SyscallRuleTable {
    name: String,
    #[serde(default)]
    args: Vec<ArgCondition>,
    /// errno name returned by a `deny` rule, e.g. "EPERM".
    #[serde(default)]
    errno: Option<String>,
}

impl<'de> Deserialize<'de> for SyscallRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SyscallRule;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a syscall name or a table { name, args, errno }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SyscallRule, E> {
                Ok(SyscallRule {
                    name: v.to_string(),
                    args: Vec::new(),
                    errno: None,
                })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<SyscallRule, A::Error> {
                let t = SyscallRuleTable::deserialize(MapAccessDeserializer::new(map))?;
                Ok(SyscallRule {
                    name: t.name,
                    args: t.args,
                    errno: t.errno,
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for SyscallRule {
    fn schema_name() -> Cow<'static, str> {
        "SyscallRule".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let table = generator.subschema_for::<SyscallRuleTable>();
        schemars::json_schema!({
            "description": "A syscall name, or a table with argument conditions.",
            "anyOf": [ { "type": "string", "pattern": "^[a-z0-9_]+$" }, table ]
        })
    }
}

/// A condition on one syscall argument, as in OCI `linux.seccomp`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgCondition {
    /// Argument index, 0..=5.
    #[schemars(range(max = 5))]
    pub index: u8,
    pub op: ArgOp,
    pub value: u64,
    /// For `masked_eq`: `(arg & value) == value_two`.
    #[serde(default)]
    pub value_two: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArgOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    MaskedEq,
}

impl ArgOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ArgOp::Eq => "==",
            ArgOp::Ne => "!=",
            ArgOp::Lt => "<",
            ArgOp::Le => "<=",
            ArgOp::Gt => ">",
            ArgOp::Ge => ">=",
            ArgOp::MaskedEq => "&",
        }
    }
}

impl fmt::Display for SyscallRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.args.is_empty() {
            let conds: Vec<String> = self
                .args
                .iter()
                .map(|a| match a.op {
                    ArgOp::MaskedEq => format!("arg{} & {:#x} == {:#x}", a.index, a.value, a.value_two.unwrap_or(0)),
                    op => format!("arg{} {} {}", a.index, op.as_str(), a.value),
                })
                .collect();
            write!(f, " when {}", conds.join(" and "))?;
        }
        if let Some(e) = &self.errno {
            write!(f, " → {e}")?;
        }
        Ok(())
    }
}

/// Capabilities kept in every set (bounding, effective, permitted, inheritable, ambient);
/// all others are dropped. Empty: none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    #[serde(default)]
    pub keep: Vec<String>,
}

/// cgroup limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Memory limit: bytes, or a string such as "8GiB" / "512MiB" / "2GB".
    #[serde(default)]
    pub memory: Option<ByteSize>,
    /// Maximum number of processes and threads.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub pids: Option<u32>,
    /// CPU quota in CPUs (e.g. 1.5).
    #[serde(default)]
    pub cpus: Option<f64>,
    /// Relative IO weight, 1..=10000 (cgroup v2 scale; the runtime maps it for v1).
    #[serde(default)]
    #[schemars(range(min = 1, max = 10000))]
    pub io_weight: Option<u16>,
}

/// A size in bytes; written as an integer or a string with a unit (B, KB, MB, GB, TB
/// powers of 1000; KiB, MiB, GiB, TiB powers of 1024). Normalised to bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses "8GiB", "8 GiB", "512MB", "1024".
    pub fn parse(s: &str) -> Option<ByteSize> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num.parse().ok()?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" => 1000,
            "MB" => 1000_u64.pow(2),
            "GB" => 1000_u64.pow(3),
            "TB" => 1000_u64.pow(4),
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "TiB" => 1 << 40,
            _ => return None,
        };
        n.checked_mul(mult).map(ByteSize)
    }
}

impl fmt::Display for ByteSize {
    /// The largest binary unit that divides the size exactly ("8 GiB"), else bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
            let m = 1u64 << shift;
            if self.0 >= m && self.0 % m == 0 {
                return write!(f, "{} {unit}", self.0 / m);
            }
        }
        write!(f, "{} bytes", self.0)
    }
}

const SIZE_EXPECTED: &str =
    "a size in bytes or a string such as \"8GiB\" (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)";

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(SIZE_EXPECTED)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": SIZE_EXPECTED,
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^\\s*[0-9]+\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\\s*$" }
            ]
        })
    }
}

/// A device node the workload may open (device cgroup rule plus the node in /dev).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Absolute path under /dev.
    pub path: String,
    #[serde(rename = "type")]
    pub kind: DeviceKind,
    pub major: u32,
    pub minor: u32,
    /// Any of r (read), w (write), m (mknod); default "rw".
    #[serde(default = "default_access")]
    pub access: String,
}

fn default_access() -> String {
    "rw".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum DeviceKind {
    /// Character device.
    #[serde(rename = "c")]
    Char,
    /// Block device.
    #[serde(rename = "b")]
    Block,
}

/// Landlock scopes (ABI 6): true means the workload is confined to its own domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// May not signal processes outside the sandbox.
    #[serde(default = "yes")]
    pub signals: bool,
    /// May not connect to abstract UNIX sockets created outside the sandbox.
    #[serde(default = "yes")]
    pub abstract_unix: bool,
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            signals: true,
            abstract_unix: true,
        }
    }
}
