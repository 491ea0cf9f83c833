//! A deliberately small `tracing` subscriber: one line per event to the `--log` file
//! (or stderr), as text or as the JSON lines runc writes (`{"level","msg","time"}`),
//! which is what containerd's shim reads back to report "OCI runtime create failed".

use std::fs::File;
use std::io::Write;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};

pub struct Logger {
    out: Mutex<Box<dyn Write + Send>>,
    json: bool,
    max: Level,
}

impl Logger {
    pub fn new(path: Option<&std::path::Path>, json: bool, debug: bool) -> std::io::Result<Logger> {
        let out: Box<dyn Write + Send> = match path {
            Some(p) => Box::new(File::options().create(true).append(true).open(p)?),
            None => Box::new(std::io::stderr()),
        };
        Ok(Logger {
            out: Mutex::new(out),
            json,
            max: if debug { Level::DEBUG } else { Level::INFO },
        })
    }

    pub fn write(&self, level: Level, msg: &str) {
        let line = if self.json {
            serde_json::json!({
                "level": level.as_str().to_ascii_lowercase(),
                "msg": msg,
                "time": sealrun_sandbox::state::now_rfc3339(),
            })
            .to_string()
        } else {
            format!("{} {:5} {msg}", sealrun_sandbox::state::now_rfc3339(), level.as_str())
        };
        if let Ok(mut o) = self.out.lock() {
            let _ = writeln!(o, "{line}");
        }
    }
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl Subscriber for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        *m.level() <= self.max
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, e: &Event<'_>) {
        let mut m = Message(String::new());
        e.record(&mut m);
        self.write(*e.metadata().level(), &m.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
