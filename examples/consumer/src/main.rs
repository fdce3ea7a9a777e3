//! A CNF stand-in, as the anchor's example consumer (§7.1): subscribes to
//! the node's sync events, prints each one with its latency, pulls
//! CurrentState periodically, and re-subscribes when the publisher lost its
//! subscriptions (health check + list), without duplicating them.

mod client;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use clap::Parser;
use tracing::{info, warn};

use client::{Api, Publisher};

/// The event types a RAN workload watches (the anchor's consumer set).
const RESOURCES: [&str; 5] = [
    "/sync/ptp-status/lock-state",
    "/sync/sync-status/os-clock-sync-state",
    "/sync/ptp-status/clock-class",
    "/sync/gnss-status/gnss-sync-status",
    "/sync/sync-status/sync-state",
];

#[derive(Parser, Clone)]
#[command(about)]
struct Args {
    /// Base URL of the publisher's API, e.g. http://localhost:9043.
    #[arg(long, env = "PUBLISHER", default_value = "http://localhost:9043")]
    publisher: String,
    /// Where this consumer listens for events.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:8989")]
    listen: SocketAddr,
    /// The URL the publisher posts to (default: http://<listen>/event).
    #[arg(long, env = "ENDPOINT_URI")]
    endpoint_uri: Option<String>,
    /// Node whose events to subscribe to.
    #[arg(long, env = "NODE_NAME")]
    node_name: String,
    /// Health check / re-subscribe period, seconds.
    #[arg(long, env = "HEALTH_INTERVAL", default_value_t = 30)]
    health_interval: u64,
    /// API version to subscribe through (v1: the legacy API, e.g. of a
    /// consumer sidecar on localhost).
    #[arg(long, env = "API_VERSION", value_enum, default_value_t = Api::V2)]
    api: Api,
    /// CurrentState pull period, seconds (0 = never).
    #[arg(long, env = "PULL_INTERVAL", default_value_t = 60)]
    pull_interval: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let endpoint = args
        .endpoint_uri
        .clone()
        .unwrap_or_else(|| format!("http://{}/event", args.listen));
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let app = Router::new().route("/event", post(on_event));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            warn!(error = %e, "event listener stopped");
        }
    });
    info!(%endpoint, "listening for events");

    let publisher = Publisher::new(&args.publisher, args.api);
    let addresses: Vec<String> = RESOURCES
        .iter()
        .map(|r| format!("/cluster/node/{}{r}", args.node_name))
        .collect();
    let mut health = tokio::time::interval(Duration::from_secs(args.health_interval.max(1)));
    let pull_every = Duration::from_secs(args.pull_interval.max(1));
    let mut pull = tokio::time::interval_at(tokio::time::Instant::now() + pull_every, pull_every);
    loop {
        tokio::select! {
            _ = health.tick() => ensure_subscribed(&publisher, args.api, &addresses, &endpoint).await,
            _ = pull.tick(), if args.pull_interval > 0 => {
                for a in &addresses {
                    match publisher.current_state(a).await {
                        Ok(Some(body)) => info!(resource = %a, "Got CurrentState: {body}"),
                        Ok(None) => info!(resource = %a, "no current state yet"),
                        Err(e) => warn!(resource = %a, error = %e, "CurrentState failed"),
                    }
                }
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// Subscribes to every address the publisher does not already list for our
/// endpoint. A 409 names the existing subscription: nothing to undo.
async fn ensure_subscribed(p: &Publisher, api: Api, addresses: &[String], endpoint: &str) {
    let (rk, ek, ik) = api.keys();
    if !p.healthy().await {
        warn!("publisher not healthy; will retry");
        return;
    }
    let existing = p.subscriptions().await.unwrap_or_default();
    for a in addresses {
        let have = existing
            .iter()
            .any(|s| s[rk].as_str() == Some(a.as_str()) && s[ek].as_str() == Some(endpoint));
        if have {
            continue;
        }
        match p.subscribe(a, endpoint).await {
            Ok((201, body)) => {
                info!(resource = %a, id = %body[ik], "created subscription");
            }
            Ok((409, body)) => info!(resource = %a, detail = %body["detail"], "already subscribed"),
            Ok((code, body)) => warn!(resource = %a, code, %body, "subscription refused"),
            Err(e) => warn!(resource = %a, error = %e, "subscription failed"),
        }
    }
}

async fn on_event(body: Bytes) -> StatusCode {
    // The v1 endpoint check is an empty POST.
    if body.is_empty() {
        return StatusCode::NO_CONTENT;
    }
    let Ok(ev) = serde_json::from_slice::<serde_json::Value>(&body) else {
        warn!(body = %String::from_utf8_lossy(&body), "received a body that is not JSON");
        return StatusCode::BAD_REQUEST;
    };
    let latency_ms = ev["time"].as_str().and_then(age_ms);
    let values: Vec<String> = ev["data"]["values"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            format!(
                "{}={}",
                v["ResourceAddress"].as_str().unwrap_or("?"),
                v["value"].as_str().unwrap_or("?")
            )
        })
        .collect();
    info!(
        r#type = ev["type"].as_str().unwrap_or("?"),
        values = ?values,
        latency_ms = ?latency_ms,
        "received event"
    );
    StatusCode::NO_CONTENT
}

/// Milliseconds since an RFC 3339 UTC timestamp (`...Z`), as the anchor's
/// consumer logs `Latency for the event`.
fn age_ms(t: &str) -> Option<f64> {
    let (date, time) = t.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, m, dd) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut h = hms.splitn(3, ':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (h.next()??, h.next()??, h.next()??);
    let nanos: i64 = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let then_ns = ((days * 86_400 + hh * 3600 + mm * 60 + ss) as f64) * 1e9 + nanos as f64;
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos() as f64;
    Some((now_ns - then_ns) / 1e6)
}
