//! The consumer-sidecar chain: a publisher agent, a sidecar agent relaying
//! from it (over HTTP or an AMQP broker), and what a CNF endpoint receives.

use crate::broker::{Broker, Kind};
use crate::{Agent, Consumer};

/// The lock-state resource (under `/cluster/node/<node>`).
pub const LOCK: &str = "/sync/ptp-status/lock-state";

/// A sidecar agent subscribing over HTTP at publisher `p`, checking it every
/// `check_ms`.
#[must_use]
pub fn http_sidecar(p: &Agent, check_ms: u32) -> Agent {
    Agent::start(&[
        "--http-event-publishers",
        &format!("127.0.0.1:{}", p.api_port),
        "--publisher-check-ms",
        &check_ms.to_string(),
    ])
}

/// A publisher and a consumer sidecar on broker `b`. With `sasl`, on
/// RabbitMQ the sidecar logs in with SASL PLAIN
/// (`amqp://guest:guest@...`); the publisher always connects anonymously.
#[must_use]
pub fn amqp_pair(b: &Broker, sasl: bool) -> (Agent, Agent) {
    let flags = b.agent_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let p = Agent::start(&flags);
    let mut cflags = b.agent_flags();
    if sasl && b.kind == Kind::Rabbit {
        cflags[1] = format!("amqp://guest:guest@127.0.0.1:{}", b.port);
    }
    let mut cf = vec!["--role", "consumer"];
    cf.extend(cflags.iter().map(String::as_str));
    let c = Agent::start(&cf);
    (p, c)
}

/// Subscribes the CNF `cnf` to lock-state at sidecar `c` twice: through v2
/// (endpoint `/v2`) and through v1 (`/v1`); returns the v1 subscription's
/// id.
pub fn subscribe_v2_and_v1(c: &Agent, cnf: &Consumer) -> String {
    c.subscribe(LOCK, &cnf.endpoint("/v2"));
    c.subscribe_v1(LOCK, &cnf.endpoint("/v1"))["id"]
        .as_str()
        .expect("a v1 subscription id")
        .to_owned()
}

/// Whether `body` carries a notification value `want` (v2's `data_type`
/// or v1's legacy `dataType`).
#[must_use]
pub fn is_value(body: &serde_json::Value, want: &str) -> bool {
    body["data"]["values"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|v| {
            (v["data_type"] == "notification" || v["dataType"] == "notification")
                && v["value"] == want
        })
}

/// Whether any of `bodies` carries a notification value `want`.
#[must_use]
pub fn has_value(bodies: &[serde_json::Value], want: &str) -> bool {
    bodies.iter().any(|b| is_value(b, want))
}

/// The first of `bodies` with the notification value `want`; panics if none.
#[must_use]
pub fn with_value<'a>(bodies: &'a [serde_json::Value], want: &str) -> &'a serde_json::Value {
    bodies
        .iter()
        .find(|b| is_value(b, want))
        .unwrap_or_else(|| panic!("no {want} in {bodies:?}"))
}
