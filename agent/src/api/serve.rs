//! The server's connection layer: accepts, caps and times out the
//! connections of one listener, and hands their requests to a router.
//!
//! Nothing a client sends can stop the API from serving `/health`: there is
//! a cap on connections (when it is reached, the connection idle the
//! longest is closed, so new clients always get in), a header read timeout
//! (2 s, the anchor's), an idle keep-alive timeout and a bounded read
//! buffer per connection. Each listener (API, metrics) has its own cap, so
//! one cannot starve the other.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use prometheus::{IntCounterVec, IntGauge, IntGaugeVec};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tower::ServiceExt;
use tracing::{debug, warn};

use crate::tls::{PeerIdentity, TlsAcceptor};

/// How one listener treats its connections.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Open connections at most; at the cap the oldest idle one is closed
    /// (when every one is busy, a quarter more are let in).
    pub max_connections: usize,
    /// A request head (and a TLS handshake) must arrive within this.
    pub header_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Read buffer bound per connection (request heads larger are 431).
    pub max_buf: usize,
}

impl Limits {
    /// hyper's smallest read buffer; plenty for our request heads.
    pub(crate) const MAX_BUF: usize = 16 * 1024;
}

/// One open connection, as the table sees it.
struct Slot {
    epoch: Instant,
    /// Requests in flight.
    busy: AtomicU32,
    /// Milliseconds since the table's epoch of the last request's end (or
    /// of the accept).
    last: AtomicU64,
    close: Notify,
}

/// The open connections of one listener.
struct Table {
    epoch: Instant,
    next: AtomicU64,
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
}

impl Table {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn insert(&self) -> (u64, Arc<Slot>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            epoch: self.epoch,
            busy: AtomicU32::new(0),
            last: AtomicU64::new(self.now_ms()),
            close: Notify::new(),
        });
        self.slots.lock().insert(id, slot.clone());
        (id, slot)
    }

    fn remove(&self, id: u64) {
        self.slots.lock().remove(&id);
    }

    fn len(&self) -> usize {
        self.slots.lock().len()
    }

    /// Connections with a request in flight.
    fn busy(&self) -> usize {
        self.slots
            .lock()
            .values()
            .filter(|s| s.busy.load(Ordering::Acquire) > 0)
            .count()
    }

    /// Closes the connection idle the longest; false when all are busy.
    fn close_oldest_idle(&self) -> bool {
        let slots = self.slots.lock();
        let oldest = slots
            .values()
            .filter(|s| s.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|s| s.last.load(Ordering::Relaxed));
        match oldest {
            Some(s) => {
                s.close.notify_one();
                true
            }
            None => false,
        }
    }

    /// Closes every connection idle for longer than `idle`.
    fn close_idle(&self, idle: Duration) -> usize {
        let cutoff = self
            .now_ms()
            .saturating_sub(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX));
        let slots = self.slots.lock();
        let mut n = 0;
        for s in slots.values() {
            if s.busy.load(Ordering::Acquire) == 0 && s.last.load(Ordering::Relaxed) < cutoff {
                s.close.notify_one();
                n += 1;
            }
        }
        n
    }
}

/// Counters of a listener: `cloud_event_agent_api_connections_closed_total{reason}`.
#[derive(Clone)]
pub(crate) struct Closed {
    vec: IntCounterVec,
    listener: &'static str,
    /// Connections with a request in flight on this listener.
    busy: IntGauge,
}

impl Closed {
    #[must_use]
    pub(crate) fn new(vec: IntCounterVec, busy: &IntGaugeVec, listener: &'static str) -> Self {
        Self {
            vec,
            listener,
            busy: busy.with_label_values(&[listener]),
        }
    }

    fn inc(&self, reason: &str) {
        self.vec.with_label_values(&[self.listener, reason]).inc();
    }
}

/// A request in flight on a connection: busy until dropped, also when the
/// request is dropped half-way (the client went away mid-body).
struct InFlight {
    slot: Arc<Slot>,
    busy: IntGauge,
}

impl InFlight {
    fn start(slot: Arc<Slot>, busy: IntGauge) -> Self {
        if slot.busy.fetch_add(1, Ordering::AcqRel) == 0 {
            busy.inc();
        }
        Self { slot, busy }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.slot.touch();
        if self.slot.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.busy.dec();
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops
/// accepting, waits (up to [`SHUTDOWN_GRACE`]) for the requests in flight
/// and returns.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    closed: Closed,
    shutdown: impl Future<Output = ()> + Send,
) {
    let table = Arc::new(Table {
        epoch: Instant::now(),
        next: AtomicU64::new(0),
        slots: Mutex::new(HashMap::new()),
    });
    let reaper = tokio::spawn(reap(table.clone(), limits.idle_timeout, closed.clone()));
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => r,
        };
        let stream = match stream {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of file descriptors (or a transient error): make room
                // and retry shortly rather than spin.
                warn!(error = %e, "accept failed");
                if table.close_oldest_idle() {
                    closed.inc("fd-limit");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let open = table.len();
        if open >= limits.max_connections {
            if table.close_oldest_idle() {
                closed.inc("cap");
            } else if open >= limits.max_connections + limits.max_connections / 4 {
                // Every connection has a request in flight, and the reserve
                // is used up: this one is refused, the others finish.
                closed.inc("cap-busy");
                drop(stream);
                continue;
            }
            // Else all are busy (slow bodies, slow probes): a quarter more
            // are let in, so a new client and `/health` still get through.
        }
        let _ = stream.set_nodelay(true);
        let (id, slot) = table.insert();
        let table = table.clone();
        let router = router.clone();
        let limits = limits.clone();
        let tls = tls.clone();
        let closed = closed.clone();
        tokio::spawn(async move {
            connection(stream, &slot, router, &limits, tls, &closed).await;
            table.remove(id);
        });
    }
    reaper.abort();
    let end = Instant::now() + SHUTDOWN_GRACE;
    while table.busy() > 0 && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How long a shutdown waits for requests in flight.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Closes idle connections past their time, once a second.
async fn reap(table: Arc<Table>, idle: Duration, closed: Closed) {
    let mut tick = tokio::time::interval(Duration::from_secs(1).min(idle));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for _ in 0..table.close_idle(idle) {
            closed.inc("idle");
        }
    }
}

async fn connection(
    stream: TcpStream,
    slot: &Arc<Slot>,
    router: Router,
    limits: &Limits,
    tls: Option<TlsAcceptor>,
    closed: &Closed,
) {
    match tls {
        None => http(stream, PeerIdentity::None, slot, router, limits, closed).await,
        Some(acceptor) => {
            let handshake = tokio::select! {
                r = tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)) => r,
                () = slot.close.notified() => return,
            };
            match handshake {
                Ok(Ok((s, peer))) => http(s, peer, slot, router, limits, closed).await,
                Ok(Err(e)) => {
                    debug!(error = %e, "TLS handshake refused");
                    closed.inc("tls-handshake");
                }
                Err(_) => closed.inc("tls-timeout"),
            }
        }
    }
}

async fn http<S>(
    stream: S,
    peer: PeerIdentity,
    slot: &Arc<Slot>,
    router: Router,
    limits: &Limits,
    closed: &Closed,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc_slot = slot.clone();
    let busy = closed.busy.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let router = router.clone();
        let slot = svc_slot.clone();
        let busy = busy.clone();
        req.extensions_mut().insert(peer.clone());
        async move {
            let in_flight = InFlight::start(slot, busy);
            let resp = router.oneshot(req.map(Body::new)).await;
            drop(in_flight);
            Ok::<_, Infallible>(match resp {
                Ok(r) => r,
                Err(never) => match never {},
            })
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_buf)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                if e.is_timeout() {
                    closed.inc("header-timeout");
                }
                debug!(error = %e, "connection ended");
            }
        }
        () = slot.close.notified() => {
            // Idle (no request in flight): dropping it closes the socket.
        }
    }
}

impl Slot {
    /// Marks the end of a request (idle time counts from here).
    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }
}
