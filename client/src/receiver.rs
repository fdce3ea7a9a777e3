//! Receiving pushed events: an HTTP endpoint that answers 204 to every
//! event (400 to anything else), drops duplicates by id, and hands typed
//! events to an [`EventStream`].

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::{BodyExt, Limited};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::event::{DecodeError, Event};

/// How a receiver behaves.
#[derive(Clone, Debug)]
pub struct ReceiverConfig {
    /// Bodies larger than this are answered 413 and counted invalid.
    pub max_body: usize,
    /// How many recent event ids are remembered to drop duplicates.
    pub dedupe_window: usize,
    /// Events the stream holds before the receiver waits (and with it the
    /// publisher's delivery).
    pub capacity: usize,
    /// Answer 400 to events of a type this client does not know.
    pub known_types_only: bool,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        Self {
            max_body: 1 << 20,
            dedupe_window: 1024,
            capacity: 1024,
            known_types_only: false,
        }
    }
}

/// Counts of what a receiver got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Events passed on to the stream.
    pub events: u64,
    /// Events dropped because their id (and time) was seen already.
    pub duplicates: u64,
    /// Bodies that were not events (answered 400 or 413).
    pub invalid: u64,
    /// Empty POSTs (the v1 endpoint check), answered 204.
    pub checks: u64,
}

/// Hooks for a caller that counts or logs on its own (e.g. metrics).
pub trait Observer: Send + Sync {
    /// A body that is not an event was refused.
    fn invalid(&self, _error: &ReceiveError) {}
    /// A duplicate was dropped.
    fn duplicate(&self, _event: &Event) {}
}

/// Why a body was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the body could not be read")]
    Read(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("not an event")]
    Decode(#[source] DecodeError),
    #[error("event type {0:?} is not one this receiver takes")]
    UnknownType(String),
}

#[derive(Default)]
struct Counters {
    events: AtomicU64,
    duplicates: AtomicU64,
    invalid: AtomicU64,
    checks: AtomicU64,
}

/// Recently seen events, oldest first out.
struct Seen {
    order: VecDeque<(String, Option<SystemTime>)>,
    set: HashSet<(String, Option<SystemTime>)>,
    cap: usize,
}

impl Seen {
    /// Records `key`; false when it was there already.
    fn insert(&mut self, key: (String, Option<SystemTime>)) -> bool {
        if self.cap == 0 {
            return true;
        }
        if self.set.contains(&key) {
            return false;
        }
        if self.order.len() == self.cap
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.order.push_back(key.clone());
        self.set.insert(key);
        true
    }
}

struct Inner {
    cfg: ReceiverConfig,
    tx: mpsc::Sender<Event>,
    seen: std::sync::Mutex<Seen>,
    counters: Counters,
    observer: Option<Arc<dyn Observer>>,
}

/// The receiving side: hands bodies in, events out. Cheap to clone.
#[derive(Clone)]
pub struct Inbox(Arc<Inner>);

/// Typed events as a [`futures_core::Stream`]; also usable without one
/// through [`EventStream::next`].
pub struct EventStream {
    rx: mpsc::Receiver<Event>,
}

impl EventStream {
    /// The next event; `None` once every [`Inbox`] is gone.
    pub async fn next(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

impl futures_core::Stream for EventStream {
    type Item = Event;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

/// What [`Inbox::accept`] did with a body.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Accepted {
    /// Passed on to the stream.
    Event,
    /// Dropped: seen already.
    Duplicate,
    /// An empty body (an endpoint check).
    Check,
}

impl Inbox {
    /// An inbox and the stream of what it accepts.
    #[must_use]
    pub fn new(cfg: ReceiverConfig) -> (Self, EventStream) {
        Self::with_observer(cfg, None)
    }

    /// Like [`Inbox::new`], reporting to `observer` too.
    #[must_use]
    pub fn with_observer(
        cfg: ReceiverConfig,
        observer: Option<Arc<dyn Observer>>,
    ) -> (Self, EventStream) {
        let (tx, rx) = mpsc::channel(cfg.capacity.max(1));
        let seen = Seen {
            order: VecDeque::new(),
            set: HashSet::new(),
            cap: cfg.dedupe_window,
        };
        let inner = Inner {
            cfg,
            tx,
            seen: std::sync::Mutex::new(seen),
            counters: Counters::default(),
            observer,
        };
        (Self(Arc::new(inner)), EventStream { rx })
    }

    /// What this inbox got so far.
    #[must_use]
    pub fn stats(&self) -> ReceiverStats {
        let c = &self.0.counters;
        ReceiverStats {
            events: c.events.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            invalid: c.invalid.load(Ordering::Relaxed),
            checks: c.checks.load(Ordering::Relaxed),
        }
    }

    fn refuse(&self, e: ReceiveError) -> ReceiveError {
        self.0.counters.invalid.fetch_add(1, Ordering::Relaxed);
        if let Some(o) = &self.0.observer {
            o.invalid(&e);
        }
        e
    }

    /// Counts a message decoded elsewhere that is not an event.
    pub fn refuse_decoded(&self, e: DecodeError) {
        let e = self.refuse(ReceiveError::Decode(e));
        warn!(error = %chain(&e), "refused a message that is not an event");
    }

    /// Takes one body: decodes it, drops it if seen, else passes it on
    /// (waiting while the stream is full).
    ///
    /// # Errors
    /// The body is not an event (counted).
    pub async fn accept(&self, body: &[u8]) -> Result<Accepted, ReceiveError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            self.0.counters.checks.fetch_add(1, Ordering::Relaxed);
            return Ok(Accepted::Check);
        }
        if body.len() > self.0.cfg.max_body {
            return Err(self.refuse(ReceiveError::TooLarge(self.0.cfg.max_body)));
        }
        let ev = Event::decode(body).map_err(|e| self.refuse(ReceiveError::Decode(e)))?;
        self.accept_event(ev).await
    }

    /// Takes an event decoded elsewhere (e.g. from an AMQP message).
    ///
    /// # Errors
    /// Its type is unknown and the inbox takes known types only (counted).
    pub async fn accept_event(&self, ev: Event) -> Result<Accepted, ReceiveError> {
        if self.0.cfg.known_types_only && ev.event_type.is_none() {
            return Err(self.refuse(ReceiveError::UnknownType(ev.type_name)));
        }
        let fresh = match self.0.seen.lock() {
            Ok(mut s) => s.insert(ev.dedupe_key()),
            Err(poisoned) => poisoned.into_inner().insert(ev.dedupe_key()),
        };
        if !fresh {
            self.0.counters.duplicates.fetch_add(1, Ordering::Relaxed);
            if let Some(o) = &self.0.observer {
                o.duplicate(&ev);
            }
            debug!(id = %ev.id, "duplicate event dropped");
            return Ok(Accepted::Duplicate);
        }
        self.0.counters.events.fetch_add(1, Ordering::Relaxed);
        // A closed stream: nobody listens; the event is dropped.
        let _ = self.0.tx.send(ev).await;
        Ok(Accepted::Event)
    }

    /// A router answering `POST path` with this inbox (204 for events and
    /// checks, 400 problem+json for the rest, 413 when too large).
    pub fn router(&self, path: &str) -> Router {
        Router::new()
            .route(path, post(handle))
            .with_state(self.clone())
    }

    /// Like [`Inbox::router`], answering a POST on any path.
    pub fn router_any_path(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }
}

async fn handle(axum::extract::State(inbox): axum::extract::State<Inbox>, body: Body) -> Response {
    let max = inbox.0.cfg.max_body;
    let bytes = match Limited::new(body, max).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            let err = if e.is::<http_body_util::LengthLimitError>() {
                ReceiveError::TooLarge(max)
            } else {
                ReceiveError::Read(e)
            };
            let status = if matches!(err, ReceiveError::TooLarge(_)) {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            let err = inbox.refuse(err);
            return problem(status, &err);
        }
    };
    match inbox.accept(&bytes).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            let status = if matches!(e, ReceiveError::TooLarge(_)) {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            problem(status, &e)
        }
    }
}

/// `e` and its causes, `: `-separated.
fn chain(e: &ReceiveError) -> String {
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        src = s.source();
    }
    detail
}

fn problem(status: StatusCode, e: &ReceiveError) -> Response {
    let detail = chain(e);
    warn!(error = %detail, "refused a body that is not an event");
    let body = serde_json::json!({
        "type": "invalid-event",
        "title": "Not an event",
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// An HTTP receiver on its own listener.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use cloud_event_client::{Receiver, ReceiverConfig};
/// let (rx, mut events) = Receiver::bind("0.0.0.0:9089".parse()?, "/event", ReceiverConfig::default()).await?;
/// println!("endpoint: {}", rx.endpoint("my-cnf.ns.svc"));
/// while let Some(ev) = events.next().await {
///     println!("{:?} {:?}", ev.event_type, ev.sync_state());
/// }
/// # Ok(()) }
/// ```
pub struct Receiver {
    inbox: Inbox,
    local: SocketAddr,
    path: String,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Listens on `addr` for POSTs to `path`.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn bind(
        addr: SocketAddr,
        path: &str,
        cfg: ReceiverConfig,
    ) -> std::io::Result<(Self, EventStream)> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let (inbox, stream) = Inbox::new(cfg);
        let app = inbox.router(path);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                warn!(error = %e, "event receiver stopped");
            }
        });
        Ok((
            Self {
                inbox,
                local,
                path: path.to_owned(),
                task,
            },
            stream,
        ))
    }

    /// The bound address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// `http://<host>:<port><path>`: the EndpointUri to subscribe with,
    /// `host` being how the publisher reaches this process.
    #[must_use]
    pub fn endpoint(&self, host: &str) -> String {
        format!("http://{host}:{}{}", self.local.port(), self.path)
    }

    /// The endpoint on the bound IP (fine when it is not a wildcard).
    #[must_use]
    pub fn local_endpoint(&self) -> String {
        format!("http://{}{}", self.local, self.path)
    }

    #[must_use]
    pub fn stats(&self) -> ReceiverStats {
        self.inbox.stats()
    }

    #[must_use]
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn v2(id: &str, value: &str) -> String {
        format!(
            r#"{{"specversion":"1.0","id":"{id}","source":"/sync/ptp-status/lock-state","type":"event.sync.ptp-status.ptp-state-change","time":"2024-08-28T14:50:57.327585316Z","data":{{"version":"1.0","values":[{{"ResourceAddress":"/cluster/node/n1/ens5fx/master","data_type":"notification","value_type":"enumeration","value":"{value}"}}]}}}}"#
        )
    }

    #[tokio::test]
    async fn drops_duplicates_and_counts_garbage() {
        let (inbox, mut events) = Inbox::new(ReceiverConfig {
            dedupe_window: 2,
            ..ReceiverConfig::default()
        });
        assert_eq!(
            inbox.accept(v2("a", "LOCKED").as_bytes()).await.unwrap(),
            Accepted::Event
        );
        assert_eq!(
            inbox.accept(v2("a", "LOCKED").as_bytes()).await.unwrap(),
            Accepted::Duplicate
        );
        assert_eq!(inbox.accept(b"").await.unwrap(), Accepted::Check);
        assert!(inbox.accept(b"{\"not\":\"an event\"}").await.is_err());
        assert!(inbox.accept(&v2("b", "X").as_bytes()[..50]).await.is_err());
        inbox.accept(v2("b", "HOLDOVER").as_bytes()).await.unwrap();
        inbox.accept(v2("c", "FREERUN").as_bytes()).await.unwrap();
        // `a` fell out of the window of two.
        assert_eq!(
            inbox.accept(v2("a", "LOCKED").as_bytes()).await.unwrap(),
            Accepted::Event
        );
        let got: Vec<String> = [
            events.next().await.unwrap(),
            events.next().await.unwrap(),
            events.next().await.unwrap(),
            events.next().await.unwrap(),
        ]
        .iter()
        .map(|e| e.id.clone())
        .collect();
        assert_eq!(got, ["a", "b", "c", "a"]);
        assert_eq!(
            inbox.stats(),
            ReceiverStats {
                events: 4,
                duplicates: 1,
                invalid: 2,
                checks: 1
            }
        );
    }

    #[tokio::test]
    async fn known_types_only_refuses_others() {
        let (inbox, _events) = Inbox::new(ReceiverConfig {
            known_types_only: true,
            ..ReceiverConfig::default()
        });
        let body = br#"{"id":"a","type":"mock","data":{"values":[]}}"#;
        assert!(matches!(
            inbox.accept(body).await,
            Err(ReceiveError::UnknownType(_))
        ));
        assert_eq!(inbox.stats().invalid, 1);
    }
}
