//! sealrun: a confidential model-serving sandbox. This binary is, first, an OCI
//! runtime with runc's command line, so containerd's runc shim can drive it through
//! `BinaryName`.

mod commands;
mod gate;
mod logging;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sealrun",
    about = "sealrun: a confidential model-serving sandbox and runc-compatible OCI runtime",
    long_about = None,
    disable_version_flag = true
)]
pub struct Cli {
    /// Root directory for container state (tmpfs recommended)
    #[arg(long, global = true, default_value = "/run/sealrun")]
    root: PathBuf,
    /// Write logs to this file instead of stderr
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Enable debug logging
    #[arg(long, global = true)]
    debug: bool,
    /// Use the systemd cgroup driver (refused where systemd is absent)
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Accepted for runc compatibility (before the verb); rootless mode is not supported yet
    #[arg(long, hide = true)]
    rootless: Option<String>,
    /// Accepted for runc compatibility (before the verb); checkpoint/restore is not supported
    #[arg(long, hide = true)]
    criu: Option<String>,
    /// Print version information
    #[arg(short = 'v', long = "version")]
    version: bool,
    #[command(subcommand)]
    cmd: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Create a container (its process waits for `start`)
    Create(commands::create::Args),
    /// Start the user process of a created container
    Start(commands::start::Args),
    /// Create and start a container, and wait for it unless --detach
    Run(commands::run::Args),
    /// Print the state of a container as JSON
    State(commands::state::Args),
    /// Send a signal to the container's init (or all its processes)
    Kill(commands::kill::Args),
    /// Delete a container and everything it holds
    Delete(commands::delete::Args),
    /// Run another process in a running container
    Exec(commands::exec::Args),
    /// List the processes of a container
    Ps(commands::ps::Args),
    /// Freeze all processes of a container
    Pause(commands::pause::Args),
    /// Thaw a paused container
    Resume(commands::resume::Args),
    /// Change a container's resource limits
    Update(commands::update::Args),
    /// Print resource statistics and OOM notifications
    Events(commands::events::Args),
    /// List containers
    List(commands::list::Args),
    /// Write a default config.json
    Spec(commands::spec::Args),
    /// Print the features this runtime supports, as JSON
    Features,
    /// Lint, explain, digest, test and diff sealrun policies
    #[command(subcommand)]
    Policy(commands::policy::Verb),
    /// Verify model signatures, Sigstore bundles, images and SBOMs
    #[command(subcommand)]
    Verify(commands::verify::Verb),
    /// Sign a model directory (OpenSSF model signing)
    Sign(commands::sign::Args),
    /// Collect, verify and request with attestation evidence
    #[command(subcommand)]
    Attest(commands::attest::Verb),
    /// Run and administer the key broker
    Broker(commands::broker::Args),
    /// The whole launch path on embedded defaults: sign, package, verify, attest, release, run
    Demo(commands::demo::Args),
}

pub struct Global {
    pub runtime: sealrun_sandbox::Runtime,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        println!("sealrun version {}", env!("CARGO_PKG_VERSION"));
        println!("spec: {}", sealrun_sandbox::state::OCI_VERSION);
        return ExitCode::SUCCESS;
    }
    let logger = match logging::Logger::new(cli.log.as_deref(), cli.log_format == "json", cli.debug) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            eprintln!("sealrun: cannot open log file {:?}: {e}", cli.log);
            return ExitCode::from(1);
        }
    };
    let _ = tracing::subscriber::set_global_default(LogHandle(logger.clone()));
    let Some(cmd) = cli.cmd else {
        eprintln!("sealrun: no command given; see `sealrun --help`");
        return ExitCode::from(1);
    };
    // `exec` puts a runtime process inside a live container: it first moves onto a
    // sealed, immutable copy of this binary (CVE-2019-5736). `create` decides for
    // itself (see sealed_exe.rs).
    if matches!(cmd, Command::Exec(_)) {
        if let Err(e) = sealrun_sandbox::sealed_exe::reexec_sealed() {
            logger.write(tracing::Level::ERROR, &e.to_string());
            return ExitCode::from(1);
        }
    }
    let mut runtime = sealrun_sandbox::Runtime::new(&cli.root);
    runtime.systemd_cgroup = cli.systemd_cgroup;
    let g = Global { runtime };
    let res = match cmd {
        Command::Create(a) => commands::create::run(a, &g),
        Command::Start(a) => commands::start::run(a, &g),
        Command::Run(a) => commands::run::run(a, &g),
        Command::State(a) => commands::state::run(a, &g),
        Command::Kill(a) => commands::kill::run(a, &g),
        Command::Delete(a) => commands::delete::run(a, &g),
        Command::Exec(a) => commands::exec::run(a, &g),
        Command::Ps(a) => commands::ps::run(a, &g),
        Command::Pause(a) => commands::pause::run(a, &g),
        Command::Resume(a) => commands::resume::run(a, &g),
        Command::Update(a) => commands::update::run(a, &g),
        Command::Events(a) => commands::events::run(a, &g),
        Command::List(a) => commands::list::run(a, &g),
        Command::Spec(a) => commands::spec::run(a, &g),
        Command::Features => commands::features::run(),
        Command::Policy(v) => commands::policy::run(v),
        Command::Verify(v) => commands::verify::run(v),
        Command::Sign(a) => commands::sign::run(a),
        Command::Attest(v) => commands::attest::run(v),
        Command::Broker(a) => commands::broker::run(a),
        Command::Demo(a) => commands::demo::run(a),
    };
    match res {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            // The chain, without repeating a cause its parent already quotes.
            let mut msg = String::new();
            for cause in e.chain() {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    if !msg.is_empty() {
                        msg.push_str(": ");
                    }
                    msg.push_str(&c);
                }
            }
            logger.write(tracing::Level::ERROR, &msg);
            if cli.log.is_some() {
                eprintln!("sealrun: {msg}");
            }
            ExitCode::from(1)
        }
    }
}

/// `set_global_default` wants an owned subscriber; share the logger with main's
/// error path through an Arc.
struct LogHandle(Arc<logging::Logger>);

impl tracing::Subscriber for LogHandle {
    fn enabled(&self, m: &tracing::Metadata<'_>) -> bool {
        self.0.enabled(m)
    }
    fn new_span(&self, a: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        self.0.new_span(a)
    }
    fn record(&self, s: &tracing::span::Id, r: &tracing::span::Record<'_>) {
        self.0.record(s, r)
    }
    fn record_follows_from(&self, a: &tracing::span::Id, b: &tracing::span::Id) {
        self.0.record_follows_from(a, b)
    }
    fn event(&self, e: &tracing::Event<'_>) {
        self.0.event(e)
    }
    fn enter(&self, s: &tracing::span::Id) {
        self.0.enter(s)
    }
    fn exit(&self, s: &tracing::span::Id) {
        self.0.exit(s)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
