//! sealrun-sandbox: the OCI runtime that every sealrun gate stands on.
//!
//! The public API is small: a [`Runtime`] holds the state root and global options,
//! and each container operation lives in its own module under [`container`] (as
//! youki's `libcontainer` does). The syscall-level pieces (namespaces, rootfs, cgroups,
//! seccomp, capabilities, console, hooks) are modules named after the concept they
//! implement; every `unsafe` block of the launch path is in [`sys`] or next to the
//! one ioctl it wraps, with its justification.
//!
//! No threads are started before `clone`: the launch path is synchronous and small,
//! and the init is a clone of the runtime process, not a re-exec of it.

pub mod bundle;
pub mod capabilities;
pub mod cgroups;
pub mod channel;
pub mod confine;
pub mod console;
pub mod container;
pub mod error;
pub mod features;
pub mod hooks;
pub mod init;
pub mod landlock;
pub mod mounts;
pub mod namespaces;
pub mod process;
pub mod rlimits;
pub mod rootfs;
pub mod sealed_exe;
pub mod seccomp;
pub mod state;
pub mod sys;
pub mod syscalls;

pub use container::{Container, Runtime};
pub use error::{Error, Result};
pub use oci_spec;
pub use state::{State, Status};
