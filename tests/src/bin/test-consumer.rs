//! A real HTTP consumer in its own process, for black-box tests and benches.
//!
//! Listens on 127.0.0.1 (port 0 unless `--port`), prints `port=<n>` on the
//! first stdout line, answers every POST with `--status` (default 204), or
//! never answers when `--hang` (reads the request, then holds the
//! connection), or answers after `--delay-ms`; HTTPS with `--tls-cert`. Records each POST with its receipt time; `GET /_events`
//! returns them as a JSON array `[{"path", "recv_ns", "content_type",
//! "body"}]`, and
//! `DELETE /_events` clears them. With `--receipts-only` (benches) it keeps
//! no bodies, only `[path, id, created_ns, recv_ns]` per event, served by
//! `GET /_receipts` (`created_ns` from the CloudEvent `time`), their number
//! by `GET /_receipts/count?since=<unix ns>`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Status returned for POSTs.
    #[arg(long, default_value_t = 204)]
    status: u16,
    /// Accept POSTs and never answer.
    #[arg(long)]
    hang: bool,
    /// Answer this many POSTs, then hang like `--hang`.
    #[arg(long)]
    hang_after: Option<usize>,
    /// Keep receipts, not bodies (benches).
    #[arg(long)]
    receipts_only: bool,
    /// Serve HTTPS with this PEM certificate (and `--tls-key`).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    #[arg(long)]
    tls_key: Option<std::path::PathBuf>,
    /// With `--tls-cert`: require client certificates of this CA.
    #[arg(long, requires = "tls_cert")]
    tls_client_ca: Option<std::path::PathBuf>,
    /// Answer each POST after this many milliseconds (a slow consumer).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
}

struct State {
    status: StatusCode,
    hang: bool,
    hang_after: Option<usize>,
    receipts_only: bool,
    delay: std::time::Duration,
    events: Mutex<Vec<serde_json::Value>>,
    receipts: Mutex<Vec<(String, String, u128, u128)>>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    println!("port={}", listener.local_addr()?.port());
    let state = Arc::new(State {
        status: StatusCode::from_u16(args.status)?,
        hang: args.hang,
        hang_after: args.hang_after,
        receipts_only: args.receipts_only,
        delay: std::time::Duration::from_millis(args.delay_ms),
        events: Mutex::new(Vec::new()),
        receipts: Mutex::new(Vec::new()),
    });
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let pair = agent_tests::tls::Pair {
                cert: cert.clone(),
                key: key.clone(),
            };
            Some(tokio_rustls::TlsAcceptor::from(match &args.tls_client_ca {
                Some(ca) => agent_tests::tls::server_config_mtls(&pair, ca),
                None => agent_tests::tls::server_config(&pair),
            }))
        }
        _ => None,
    };
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(state.clone(), req));
            let b = http1::Builder::new();
            match tls {
                Some(t) => {
                    if let Ok(s) = t.accept(stream).await {
                        let _ = b.serve_connection(TokioIo::new(s), svc).await;
                    }
                }
                None => {
                    let _ = b.serve_connection(TokioIo::new(stream), svc).await;
                }
            }
        });
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let req_query = req.uri().query().map(str::to_owned);
    let method = req.method().clone();
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = req
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let recv_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    if path == "/_events" {
        let mut events = state
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let body = if method == Method::DELETE {
            events.clear();
            Bytes::new()
        } else {
            Bytes::from(serde_json::to_vec(&*events).unwrap_or_default())
        };
        return Ok(Response::new(Full::new(body)));
    }
    if path == "/_receipts/count" {
        // How many receipts of events created at or after `since` (Unix
        // ns): what a bench polls while it waits, instead of fetching every
        // receipt again each time (which cost the consumers more CPU than
        // the deliveries they measure).
        let since: u128 = req_query
            .as_deref()
            .and_then(|q| q.strip_prefix("since="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let n = state
            .receipts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|r| r.2 >= since)
            .count();
        return Ok(Response::new(Full::new(Bytes::from(n.to_string()))));
    }
    if path == "/_receipts" {
        let r = state
            .receipts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        return Ok(Response::new(Full::new(Bytes::from(
            serde_json::to_vec(&*r).unwrap_or_default(),
        ))));
    }
    if state.receipts_only {
        let (id, created) = id_and_time(&body);
        state
            .receipts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((path, id, created, recv_ns));
        return Ok(Response::builder()
            .status(state.status)
            .body(Full::new(Bytes::new()))
            .unwrap_or_default());
    }
    let parsed = serde_json::from_slice::<serde_json::Value>(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into()));
    let seen = {
        let mut events = state
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        events.push(serde_json::json!({
            "path": path,
            "recv_ns": recv_ns.to_string(),
            "content_type": content_type,
            "body": parsed,
        }));
        events.len()
    };
    if state.hang || state.hang_after.is_some_and(|n| seen > n) {
        std::future::pending::<()>().await;
    }
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = state.status;
    Ok(resp)
}

/// The CloudEvent `id` and `time` (as Unix ns) of a body.
fn id_and_time(body: &[u8]) -> (String, u128) {
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        #[serde(borrow, default)]
        id: &'a str,
        #[serde(borrow, default)]
        time: &'a str,
    }
    match serde_json::from_slice::<Head<'_>>(body) {
        Ok(h) => (
            h.id.to_owned(),
            agent_tests::rfc3339_ns(h.time).unwrap_or(0),
        ),
        Err(_) => (String::new(), 0),
    }
}
