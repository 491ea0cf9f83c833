use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Print only the ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let mut states = Vec::new();
    for id in g.runtime.store.list()? {
        // A container deleted while we list is simply skipped.
        if let Ok(c) = g.runtime.load(&id) {
            states.push(c.state);
        }
    }
    if a.quiet {
        for s in &states {
            println!("{}", s.id);
        }
    } else if a.format == "json" {
        let v: Vec<_> = states.iter().map(|s| s.oci_json()).collect();
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!(
            "{:<20} {:<8} {:<10} {:<40} {:<32} OWNER",
            "ID", "PID", "STATUS", "BUNDLE", "CREATED"
        );
        for s in &states {
            println!(
                "{:<20} {:<8} {:<10} {:<40} {:<32} {}",
                s.id,
                if s.status == sealrun_sandbox::Status::Stopped {
                    0
                } else {
                    s.pid
                },
                s.status,
                s.bundle.display(),
                s.created,
                if s.owner.is_empty() { "root" } else { &s.owner }
            );
        }
    }
    Ok(0)
}
