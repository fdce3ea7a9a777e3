//! The agent's own logs: tracing to stderr, plain or JSON, at the level
//! `LOG_LEVEL` (logrus names, as the operator passes them) or `RUST_LOG`
//! asks for.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber.
pub fn init_tracing(format: LogFormat) {
    let filter = std::env::var("LOG_LEVEL")
        .ok()
        .and_then(|l| EnvFilter::try_new(logrus_level(&l)).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // Colour codes only for a person at a terminal: piped or collected
    // logs stay plain (and NO_COLOR turns colour off everywhere).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Plain => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// `LOG_LEVEL` as the anchor reads it (logrus names) or a tracing filter.
fn logrus_level(level: &str) -> &str {
    match level.trim() {
        "panic" | "fatal" | "PANIC" | "FATAL" => "error",
        "warning" | "WARNING" => "warn",
        other => other,
    }
}
