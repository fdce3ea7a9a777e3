//! For the benches: many subscriptions spread over a few
//! `test-consumer --receipts-only` processes, their receipts
//! (`GET /_receipts`), and percentiles.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{Agent, Consumer, request, wait_for};

/// Consumer processes: at most this many, endpoints spread over them.
pub const MAX_CONSUMERS: usize = 10;

/// One event received by a consumer.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// The endpoint path it was posted to.
    pub path: String,
    /// The CloudEvent `id`.
    pub id: String,
    /// Unix ns of the CloudEvent `time` (when the agent made the event).
    pub created_ns: u128,
    /// Unix ns when the consumer received it.
    pub recv_ns: u128,
}

/// Unix time in ns, this machine's wall clock.
#[must_use]
pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// Starts `min(subscribers, MAX_CONSUMERS)` receipts-only consumers and
/// subscribes `subscribers` endpoints (`/ep/<i>`, spread over them) to the
/// lock-state of `a`.
#[must_use]
pub fn fan_out(a: &Agent, subscribers: usize) -> Vec<Consumer> {
    let consumers: Vec<_> = (0..subscribers.min(MAX_CONSUMERS))
        .map(|_| Consumer::with_args(&["--receipts-only"]))
        .collect();
    let lock = a.address("/sync/ptp-status/lock-state");
    for i in 0..subscribers {
        let ep = consumers[i % consumers.len()].endpoint(&format!("/ep/{i}"));
        let body = format!(r#"{{"ResourceAddress":"{lock}","EndpointUri":"{ep}"}}"#);
        let r =
            request("POST", &a.api("/subscriptions"), Some(body.as_bytes())).expect("subscribe");
        assert_eq!(r.status, 201, "subscribe {i}: {}", r.text());
    }
    consumers
}

/// The receipts of every consumer for events created at or after
/// `since_ns` (initial notifications excluded); a consumer that does not
/// answer adds none.
#[must_use]
pub fn collect(consumers: &[Consumer], since_ns: u128) -> Vec<Receipt> {
    let mut all = Vec::new();
    for c in consumers {
        let Ok(r) = request("GET", &c.endpoint("/_receipts"), None) else {
            continue;
        };
        let v: Vec<(String, String, u128, u128)> =
            serde_json::from_slice(&r.body).unwrap_or_default();
        all.extend(v.into_iter().filter(|r| r.2 >= since_ns).map(
            |(path, id, created_ns, recv_ns)| Receipt {
                path,
                id,
                created_ns,
                recv_ns,
            },
        ));
    }
    all
}

/// How many receipts the consumers hold for events created at or after
/// `since_ns` (see [`collect`]).
#[must_use]
pub fn count(consumers: &[Consumer], since_ns: u128) -> usize {
    consumers
        .iter()
        .filter_map(|c| {
            let url = c.endpoint(&format!("/_receipts/count?since={since_ns}"));
            let r = request("GET", &url, None).ok()?;
            std::str::from_utf8(&r.body)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        })
        .sum()
}

/// Waits up to `timeout` for `want` receipts (see [`collect`]); returns
/// what arrived, with a note on stderr when that is fewer.
#[must_use]
pub fn wait(
    consumers: &[Consumer],
    since_ns: u128,
    want: usize,
    timeout: Duration,
) -> Vec<Receipt> {
    // Poll the counts: fetching (and parsing) every receipt each 20 ms
    // would load the machine the bench is measuring.
    let ok = wait_for(timeout, || {
        (count(consumers, since_ns) >= want).then_some(())
    });
    if ok.is_none() {
        eprintln!("note: fewer than {want} receipts arrived");
    }
    collect(consumers, since_ns)
}

/// The `p` quantile (0 to 1, nearest rank) of ns values sorted ascending,
/// in µs; NaN if there are none.
#[must_use]
pub fn pct_us(sorted: &[u128], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    #[allow(clippy::cast_precision_loss)]
    let v = sorted[i] as f64 / 1000.0;
    v
}
