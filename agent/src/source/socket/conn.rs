//! One connection: bounded line framing over a reused buffer, control
//! lines, the connection's origin, counters.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixStream;
use tracing::{debug, info, trace, warn};

use super::MAX_LINE;
use crate::engine::{EngineHandle, Ingest, Origin};
use crate::metrics::SocketLines;

/// At most one warning per connection in this period.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Lines a connection handles before it lets the other tasks run. A line
/// already in the read buffer costs no await, so without this one flooding
/// writer keeps a worker for a whole buffer per read and for tokio's 128
/// reads per turn (tens of thousands of lines), and a state-changing line
/// of another connection waits behind every flooder in turn (seconds with
/// 100 of them). With it, a turn is about 32 lines (~10 µs of engine time).
const LINE_BUDGET: u32 = 32;

/// Reads lines until EOF or an error. Lines that fit in the read buffer are
/// handed over in place; others are assembled in one reused `Vec` of at
/// most [`MAX_LINE`] bytes.
pub(super) async fn serve(stream: UnixStream, engine: EngineHandle, lines: SocketLines) {
    let mut conn = Conn {
        engine,
        lines,
        origin: Origin::default(),
        limit: RateLimit::default(),
    };
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    let mut line: Vec<u8> = Vec::with_capacity(1024);
    // Inside an over-long line: drop bytes up to its newline.
    let mut discarding = false;
    let mut budget = LINE_BUDGET;
    loop {
        if budget == 0 {
            budget = LINE_BUDGET;
            tokio::task::yield_now().await;
        }
        budget -= 1;
        let buf = match reader.fill_buf().await {
            Ok(b) => b,
            Err(e) => {
                debug!(error = %e, "log socket connection failed");
                return;
            }
        };
        // When these bytes were read: the first stage of the stage timing.
        let read = Instant::now();
        if buf.is_empty() {
            // EOF: a last line without newline still counts.
            if !discarding && !line.is_empty() {
                conn.line(&line, read);
            }
            debug!("log socket connection closed");
            return;
        }
        let (chunk, used, complete) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        if discarding {
            discarding = !complete;
        } else if line.len() + chunk.len() > MAX_LINE {
            conn.oversize();
            line.clear();
            discarding = !complete;
        } else if !complete {
            line.extend_from_slice(chunk);
        } else if line.is_empty() {
            conn.line(chunk, read);
        } else {
            line.extend_from_slice(chunk);
            conn.line(&line, read);
            line.clear();
        }
        reader.consume(used);
    }
}

struct Conn {
    engine: EngineHandle,
    lines: SocketLines,
    /// Learnt from the tagged lines, for the untagged ones after them.
    origin: Origin,
    limit: RateLimit,
}

impl Conn {
    fn line(&mut self, line: &[u8], read: Instant) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match line {
            b"CMD RESTART" => {
                info!("CMD RESTART: forgetting all clock state");
                self.engine.reset();
                self.lines.ok.inc();
                return;
            }
            b"CMD LIVE_START" | b"" => {
                self.lines.ignored.inc();
                return;
            }
            _ => {}
        }
        if std::str::from_utf8(line).is_err() {
            self.invalid(line, "not UTF-8");
            return;
        }
        match self.engine.ingest_learning(&mut self.origin, line, read) {
            Ingest::Used => self.lines.ok.inc(),
            Ingest::Ignored => {
                trace!(line = %String::from_utf8_lossy(line), "log line ignored");
                self.lines.ignored.inc();
            }
            Ingest::Invalid => self.invalid(line, "not understood"),
        }
    }

    fn invalid(&mut self, line: &[u8], why: &'static str) {
        self.lines.invalid.inc();
        if let Some(suppressed) = self.limit.allow(Instant::now()) {
            let shown = &line[..line.len().min(200)];
            warn!(reason = why, suppressed, line = %String::from_utf8_lossy(shown), "log socket line dropped");
        }
    }

    fn oversize(&mut self) {
        self.lines.oversize.inc();
        if let Some(suppressed) = self.limit.allow(Instant::now()) {
            warn!(
                max = MAX_LINE,
                suppressed, "log socket line too long, discarded"
            );
        }
    }
}

/// Lets one message through per [`WARN_EVERY`]; counts the others.
#[derive(Default)]
struct RateLimit {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    /// `Some(suppressed since the last one)` when a message may be logged.
    fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.duration_since(t) < WARN_EVERY => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}
