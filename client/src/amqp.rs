//! AMQP 1.0 (feature `amqp`), the v1-era transport: events arrive at the
//! AMQP address equal to their resource address, status requests go to
//! `<resource>/status` and are answered at the request's reply address.
//! The wire format is the CloudEvents AMQP binding in binary mode
//! (`cloudEvents:*` application properties, specversion 0.3, the event's
//! `data` JSON as the body).
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use std::collections::BTreeSet;
//! use cloud_event_client::amqp::{AmqpConfig, AmqpReceiver};
//! use cloud_event_client::{EventType, Inbox, ReceiverConfig, ResourceAddress};
//! let (inbox, mut events) = Inbox::new(ReceiverConfig::default());
//! let cfg = AmqpConfig::parse("amqp://router:5672", "my-cnf")?;
//! let wanted = BTreeSet::from([ResourceAddress::event("n1", EventType::LockState)]);
//! let (_keep, watch) = tokio::sync::watch::channel(wanted);
//! tokio::spawn(AmqpReceiver::new(cfg, inbox).run(watch));
//! while let Some(ev) = events.next().await {
//!     println!("{:?}", ev.sync_state());
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fe2o3_amqp::connection::ConnectionHandle;
use fe2o3_amqp::link::{Receiver, Sender};
use fe2o3_amqp::sasl_profile::SaslProfile;
use fe2o3_amqp::session::SessionHandle;
use fe2o3_amqp::types::messaging::{ApplicationProperties, Body, Data, Message, Properties};
use fe2o3_amqp::types::primitives::{SimpleValue, Symbol, Timestamp, Value};
use fe2o3_amqp::{Connection, Session};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::endpoint::{Endpoint, EndpointError, Scheme};
use crate::event::{DecodeError, Event, Format, KeyStyle, parse_data};
use crate::keeper::backoff;
use crate::receiver::Inbox;
use crate::resource::{EventType, ResourceAddress};
use crate::time::{format_rfc3339, parse_rfc3339};

pub const P_ID: &str = "cloudEvents:id";
pub const P_TIME: &str = "cloudEvents:time";
pub const P_SPEC: &str = "cloudEvents:specversion";
pub const P_TYPE: &str = "cloudEvents:type";
pub const P_SOURCE: &str = "cloudEvents:source";
pub const P_SUBJECT: &str = "cloudEvents:subject";
/// The `type` of a status request.
pub const STATUS_CHECK: &str = "status_check";

/// Connect, open and begin, together.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// One attach or send.
pub const OP_TIMEOUT: Duration = Duration::from_secs(2);
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);
/// The first wait for an answer to a status request, and the longest.
const STATUS_RETRY_FIRST: Duration = Duration::from_millis(200);
const STATUS_RETRY_MAX: Duration = Duration::from_secs(5);

/// How resource addresses map to AMQP addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AddressStyle {
    /// The resource address as is (Qpid Dispatch, the anchor's router).
    #[default]
    ORan,
    /// RabbitMQ refuses `/` in names: through its topic exchange,
    /// `/exchange/amq.topic/cluster.node.n1.sync...`.
    RabbitMq,
}

impl AddressStyle {
    /// The AMQP address of an O-RAN path; an exchange address is kept.
    #[must_use]
    pub fn map(self, path: &str) -> String {
        match self {
            Self::ORan => path.to_owned(),
            Self::RabbitMq if path.starts_with("/exchange/") => path.to_owned(),
            Self::RabbitMq => format!(
                "/exchange/amq.topic/{}",
                path.trim_matches('/').replace('/', ".")
            ),
        }
    }

    /// Where status requests for `resource` go.
    #[must_use]
    pub fn status(self, resource: &str) -> String {
        self.map(&format!("{resource}/status"))
    }

    /// A fresh reply address for `resource` (`<resource>/<5 letters>`).
    #[must_use]
    pub fn reply(self, resource: &str) -> String {
        let tag: String = (0..5).map(|_| fastrand::lowercase()).collect();
        self.map(&format!("{resource}/{tag}"))
    }
}

/// Where and how to reach the broker.
#[derive(Clone)]
pub struct AmqpConfig {
    /// `host:port`.
    pub addr: String,
    /// SASL PLAIN user and password; none: ANONYMOUS.
    pub credentials: Option<(String, String)>,
    /// Our container id (unique per process).
    pub container: String,
    pub style: AddressStyle,
}

impl std::fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpConfig")
            .field("addr", &self.addr)
            .field("user", &self.credentials.as_ref().map(|c| &c.0))
            .field("container", &self.container)
            .field("style", &self.style)
            .finish()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong with the broker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AmqpError {
    #[error("bad AMQP URL {url:?}: {source} (use amqp://[user:password@]host[:port])")]
    Url {
        url: String,
        #[source]
        source: crate::EndpointError,
    },
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: BoxError,
    },
    #[error("timed out: {0}")]
    Timeout(&'static str),
    #[error("the broker refused a link on {address}: {source}")]
    Attach {
        address: String,
        #[source]
        source: BoxError,
    },
    #[error("sending to {address} failed: {source}")]
    Send {
        address: String,
        #[source]
        source: fe2o3_amqp::link::SendError,
    },
    #[error("a receiver stopped: {0}")]
    Receiver(#[source] fe2o3_amqp::link::RecvError),
    #[error("all receivers ended")]
    ReceiversEnded,
}

impl AmqpConfig {
    /// From `amqp://[user:password@]host[:port]` (port 5672 by default).
    ///
    /// # Errors
    /// Not such a URL.
    pub fn parse(url: &str, container: &str) -> Result<Self, AmqpError> {
        let bad = |source| AmqpError::Url {
            url: url.to_owned(),
            source,
        };
        let e = Endpoint::parse(url)
            .and_then(Endpoint::without_path)
            .map_err(bad)?;
        if e.scheme() != Scheme::Amqp {
            return Err(bad(EndpointError::Scheme(e.scheme().to_string(), "amqp")));
        }
        let addr = e.host_port();
        let creds = e.userinfo().map(|(u, p)| (u.to_owned(), p.to_owned()));
        Ok(Self {
            addr,
            credentials: creds,
            container: container.to_owned(),
            style: AddressStyle::ORan,
        })
    }

    #[must_use]
    pub fn with_style(mut self, style: AddressStyle) -> Self {
        self.style = style;
        self
    }
}

/// One connection and one session. fe2o3-amqp does not set TCP_NODELAY
/// (a round trip then takes ~50 ms): the stream is opened here. Every
/// teardown step has a timeout (brokers differ in how they close).
pub struct Link {
    conn: ConnectionHandle<()>,
    session: SessionHandle<()>,
}

impl Link {
    /// Connects, opens and begins a session.
    ///
    /// # Errors
    /// Refused, a protocol failure, or no answer in time.
    pub async fn open(cfg: &AmqpConfig) -> Result<Self, AmqpError> {
        let addr = cfg.addr.as_str();
        let sasl = match &cfg.credentials {
            Some((u, p)) => SaslProfile::Plain {
                username: u.clone(),
                password: p.clone(),
            },
            None => SaslProfile::Anonymous,
        };
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h).to_owned();
        let fut = async {
            let err = |source: BoxError| AmqpError::Connect {
                addr: addr.to_owned(),
                source,
            };
            let stream = TcpStream::connect(addr).await.map_err(|e| err(e.into()))?;
            let _ = stream.set_nodelay(true);
            let mut conn = Connection::builder()
                .container_id(cfg.container.as_str())
                .hostname(host.as_str())
                .sasl_profile(sasl)
                .open_with_stream(stream)
                .await
                .map_err(|e| err(e.into()))?;
            let session = Session::begin(&mut conn).await.map_err(|e| err(e.into()))?;
            Ok(Self { conn, session })
        };
        tokio::time::timeout(OPEN_TIMEOUT, fut)
            .await
            .map_err(|_| AmqpError::Timeout("opening the AMQP connection"))?
    }

    /// A sender to `address`.
    ///
    /// # Errors
    /// Refused or no answer in time.
    pub async fn sender(&mut self, name: String, address: &str) -> Result<Sender, AmqpError> {
        match tokio::time::timeout(OP_TIMEOUT, Sender::attach(&mut self.session, name, address))
            .await
        {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(AmqpError::Attach {
                address: address.to_owned(),
                source: e.into(),
            }),
            Err(_) => Err(AmqpError::Timeout("attaching a sender")),
        }
    }

    /// A receiver from `address`, accepting what it receives.
    ///
    /// # Errors
    /// Refused or no answer in time.
    pub async fn receiver(&mut self, name: String, address: &str) -> Result<Receiver, AmqpError> {
        let fut = Receiver::builder()
            .name(name)
            .source(address)
            .auto_accept(true)
            .attach(&mut self.session);
        match tokio::time::timeout(OP_TIMEOUT, fut).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(AmqpError::Attach {
                address: address.to_owned(),
                source: e.into(),
            }),
            Err(_) => Err(AmqpError::Timeout("attaching a receiver")),
        }
    }

    /// Sends `msg` on a fresh link to `address`.
    ///
    /// # Errors
    /// Refused, or no disposition in time.
    pub async fn send_to(
        &mut self,
        name: String,
        address: &str,
        msg: Message<Data>,
    ) -> Result<(), AmqpError> {
        let mut s = self.sender(name, address).await?;
        let res = match tokio::time::timeout(OP_TIMEOUT, s.send(msg)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(source)) => Err(AmqpError::Send {
                address: address.to_owned(),
                source,
            }),
            Err(_) => Err(AmqpError::Timeout("sending")),
        };
        close_sender(s).await;
        res
    }

    /// Ends the session and closes the connection, each step bounded.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.session.end()).await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.conn.close()).await;
    }
}

/// Detaches `s` without waiting longer than the teardown timeout.
pub async fn close_sender(s: Sender) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, s.close()).await;
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn props(
    id: &str,
    time: SystemTime,
    ty: &str,
    source: &str,
    subject: &str,
) -> ApplicationProperties {
    ApplicationProperties::builder()
        .insert(P_ID, SimpleValue::String(id.to_owned()))
        .insert(
            P_TIME,
            SimpleValue::Timestamp(Timestamp::from_milliseconds(millis(time))),
        )
        .insert(P_SPEC, SimpleValue::String("0.3".into()))
        .insert(P_TYPE, SimpleValue::String(ty.to_owned()))
        .insert(P_SOURCE, SimpleValue::String(source.to_owned()))
        .insert(P_SUBJECT, SimpleValue::String(subject.to_owned()))
        .build()
}

/// The message carrying `ev`, sent to `address` (its resource address).
#[must_use]
pub fn encode(ev: &Event, address: &str) -> Message<Data> {
    let data = serde_json::json!({
        "version": ev.data_version.as_deref().unwrap_or("1.0"),
        "values": ev.values.iter().map(|v| v.to_json(KeyStyle::ORan)).collect::<Vec<_>>(),
    });
    event_message(
        &ev.id,
        ev.time.unwrap_or_else(SystemTime::now),
        &ev.type_name,
        address,
        serde_json::to_vec(&data).unwrap_or_default(),
    )
}

/// The anchor's wire format around an event's `data` JSON: binary mode,
/// `cloudEvents:*` application properties (specversion 0.3), `source` and
/// `subject` = `address`. For publishers with their own event type.
#[must_use]
pub fn event_message(
    id: &str,
    time: SystemTime,
    type_name: &str,
    address: &str,
    data: Vec<u8>,
) -> Message<Data> {
    Message::builder()
        .properties(
            Properties::builder()
                .content_type(Symbol::from("application/json"))
                .build(),
        )
        .application_properties(props(id, time, type_name, address, address))
        .data(data)
        .build()
}

/// A status request about `resource`; the answer goes to `reply_to`.
#[must_use]
pub fn status_request(resource: &str, reply_to: &str) -> Message<Data> {
    Message::builder()
        .properties(
            Properties::builder()
                .reply_to(reply_to.to_owned())
                .content_type(Symbol::from("application/json"))
                .build(),
        )
        .application_properties(props(
            &uuid::Uuid::new_v4().to_string(),
            SystemTime::now(),
            STATUS_CHECK,
            reply_to,
            resource,
        ))
        .data(b"{}".to_vec())
        .build()
}

/// A string (or symbol) application property of `m`.
#[must_use]
pub fn prop<'a>(m: &'a Message<Body<Value>>, key: &str) -> Option<&'a str> {
    match m.application_properties.as_ref()?.get(key)? {
        SimpleValue::String(s) => Some(s),
        SimpleValue::Symbol(s) => Some(s.as_str()),
        _ => None,
    }
}

/// Where an answer to a status request goes: `reply-to`, else its source.
#[must_use]
pub fn reply_to(m: &Message<Body<Value>>) -> Option<String> {
    m.properties
        .as_ref()
        .and_then(|p| p.reply_to.clone())
        .or_else(|| prop(m, P_SOURCE).map(str::to_owned))
}

fn body_bytes(m: &Message<Body<Value>>) -> Option<Vec<u8>> {
    match &m.body {
        Body::Data(batch) => Some(batch.iter().flat_map(|d| d.0.iter().copied()).collect()),
        Body::Value(v) => match &v.0 {
            Value::String(s) => Some(s.as_bytes().to_vec()),
            Value::Binary(b) => Some(b.to_vec()),
            _ => None,
        },
        _ => None,
    }
}

/// The event a message carries.
///
/// # Errors
/// Not a CloudEvent (no `cloudEvents:*` properties), or its data is not.
pub fn decode(m: &Message<Body<Value>>) -> Result<Event, DecodeError> {
    let spec = prop(m, P_SPEC).ok_or(DecodeError::Missing(P_SPEC))?;
    let format = match spec {
        "1.0" => Format::CloudEvent,
        _ => Format::CloudEventV03,
    };
    let id = prop(m, P_ID)
        .filter(|s| !s.is_empty())
        .ok_or(DecodeError::Missing(P_ID))?;
    let type_name = prop(m, P_TYPE)
        .filter(|s| !s.is_empty())
        .ok_or(DecodeError::Missing(P_TYPE))?;
    let source = prop(m, P_SOURCE)
        .or_else(|| prop(m, P_SUBJECT))
        .unwrap_or_default();
    let time = match m
        .application_properties
        .as_ref()
        .and_then(|p| p.get(P_TIME))
    {
        Some(SimpleValue::Timestamp(t)) => u64::try_from(t.milliseconds())
            .ok()
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms)),
        Some(SimpleValue::String(s)) => parse_rfc3339(s),
        _ => None,
    };
    let bytes = body_bytes(m).ok_or(DecodeError::Missing("body"))?;
    let data: serde_json::Value = serde_json::from_slice(&bytes).map_err(DecodeError::Json)?;
    let (data_version, values) = parse_data(&data)?;
    // The subject names the resource where the source is a reply address.
    let event_type = EventType::from_type_str(type_name)
        .or_else(|| EventType::from_source(source))
        .or_else(|| prop(m, P_SUBJECT).and_then(EventType::from_source));
    Ok(Event {
        id: id.to_owned(),
        event_type,
        type_name: type_name.to_owned(),
        source: source.to_owned(),
        time,
        format,
        data_version,
        values,
    })
}

/// Connection events, for callers that count them.
pub trait AmqpObserver: Send + Sync {
    /// Connected (again, when `reconnect`).
    fn connected(&self, _reconnect: bool) {}
    /// The connection is gone (or never came).
    fn disconnected(&self, _error: &AmqpError) {}
    /// A message arrived: an event (`true`) or not (`false`).
    fn received(&self, _event: bool) {}
    /// A status request about `resource` went to the broker.
    fn asked(&self, _resource: &ResourceAddress) {}
}

struct Quiet;
impl AmqpObserver for Quiet {}

enum Msg {
    /// An event at the addresses of the `n`th wanted resource.
    Event(usize, Box<Event>),
    Invalid(DecodeError),
    Dead(fe2o3_amqp::link::RecvError),
}

/// Receives at the addresses of a wanted set of resources into an
/// [`Inbox`], reconnecting with backoff. On every (re)connect it asks for
/// the current state of each resource (a status request), so nothing sent
/// while it was away is missed for good; it asks again, with backoff, until
/// something arrives for that resource, since a request sent before the
/// publisher listens is lost (a topic exchange drops what no queue is bound
/// to).
pub struct AmqpReceiver {
    cfg: AmqpConfig,
    inbox: Inbox,
    observer: Arc<dyn AmqpObserver>,
}

impl AmqpReceiver {
    #[must_use]
    pub fn new(cfg: AmqpConfig, inbox: Inbox) -> Self {
        Self {
            cfg,
            inbox,
            observer: Arc::new(Quiet),
        }
    }

    #[must_use]
    pub fn with_observer(mut self, o: Arc<dyn AmqpObserver>) -> Self {
        self.observer = o;
        self
    }

    /// Connects, receives, reconnects; until the `wanted` sender is dropped.
    pub async fn run(self, mut wanted: watch::Receiver<BTreeSet<ResourceAddress>>) {
        let mut failures = 0u32;
        let mut connected_once = false;
        loop {
            match Link::open(&self.cfg).await {
                Ok(mut link) => {
                    self.observer.connected(connected_once && failures > 0);
                    connected_once = true;
                    failures = 0;
                    let res = self.serve(&mut link, &mut wanted).await;
                    link.close().await;
                    match res {
                        Ok(true) => continue,
                        Ok(false) => return,
                        Err(e) => {
                            failures = 1;
                            warn!(broker = %self.cfg.addr, error = %e, "AMQP connection lost; reconnecting");
                            self.observer.disconnected(&e);
                        }
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    if failures == 1 {
                        warn!(broker = %self.cfg.addr, error = %e, "cannot reach the AMQP broker; retrying");
                    }
                    self.observer.disconnected(&e);
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff(failures)) => {}
                changed = wanted.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Receives for the current set; `Ok(true)` when the set changed,
    /// `Ok(false)` when its sender is gone, `Err` when the link failed.
    async fn serve(
        &self,
        link: &mut Link,
        wanted: &mut watch::Receiver<BTreeSet<ResourceAddress>>,
    ) -> Result<bool, AmqpError> {
        let set = wanted.borrow_and_update().clone();
        let (tx, mut rx) = mpsc::channel(256);
        let mut tasks = JoinSet::new();
        let mut asks = match self.attach(link, &set, &tx, &mut tasks).await {
            Ok(a) => a,
            Err(e) => {
                tasks.abort_all();
                return Err(e);
            }
        };
        info!(broker = %self.cfg.addr, resources = set.len(), "AMQP receiving");
        let mut retries = 0u32;
        let mut again = Instant::now() + status_retry(retries);
        let out = loop {
            let unanswered = asks.iter().any(|a| !a.answered);
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Msg::Event(i, ev)) => {
                        if let Some(a) = asks.get_mut(i) {
                            a.answered = true;
                        }
                        self.observer.received(true);
                        let _ = self.inbox.accept_event(*ev).await;
                    }
                    Some(Msg::Invalid(e)) => {
                        self.observer.received(false);
                        self.inbox.refuse_decoded(e);
                    }
                    Some(Msg::Dead(e)) => break Err(AmqpError::Receiver(e)),
                    None => break Err(AmqpError::ReceiversEnded),
                },
                () = tokio::time::sleep_until(again), if unanswered => {
                    for (i, a) in asks.iter().enumerate().filter(|(_, a)| !a.answered) {
                        debug!(resource = %a.resource, retries, "no answer yet; asking again");
                        self.ask(link, i, a).await;
                    }
                    retries = retries.saturating_add(1);
                    again = Instant::now() + status_retry(retries);
                }
                changed = wanted.changed() => {
                    if changed.is_err() {
                        break Ok(false);
                    }
                    if *wanted.borrow() != set {
                        break Ok(true);
                    }
                }
            }
        };
        tasks.abort_all();
        out
    }

    /// Attaches the receivers of each resource and asks for its state.
    async fn attach(
        &self,
        link: &mut Link,
        set: &BTreeSet<ResourceAddress>,
        tx: &mpsc::Sender<Msg>,
        tasks: &mut JoinSet<()>,
    ) -> Result<Vec<Ask>, AmqpError> {
        let (style, c) = (self.cfg.style, &self.cfg.container);
        let mut asks = Vec::with_capacity(set.len());
        for (i, resource) in set.iter().enumerate() {
            let r = link
                .receiver(format!("{c}-events-{i}"), &style.map(resource.as_str()))
                .await?;
            tasks.spawn(forward(r, i, tx.clone()));
            let reply = style.reply(resource.as_str());
            let r = link.receiver(format!("{c}-reply-{i}"), &reply).await?;
            tasks.spawn(forward(r, i, tx.clone()));
            let a = Ask {
                resource: resource.clone(),
                reply,
                answered: false,
            };
            self.ask(link, i, &a).await;
            asks.push(a);
        }
        Ok(asks)
    }

    /// Sends one status request; a failure is logged (asked again later).
    async fn ask(&self, link: &mut Link, i: usize, a: &Ask) {
        let status = self.cfg.style.status(a.resource.as_str());
        let name = format!("{}-status-{i}", self.cfg.container);
        match link
            .send_to(name, &status, status_request(a.resource.as_str(), &a.reply))
            .await
        {
            Ok(()) => {
                debug!(address = %status, "status request sent");
                self.observer.asked(&a.resource);
            }
            Err(e) => warn!(address = %status, error = %e, "status request not sent"),
        }
    }
}

/// The status request of one wanted resource on the current connection.
struct Ask {
    resource: ResourceAddress,
    reply: String,
    /// Something arrived for it: asking again is no use.
    answered: bool,
}

/// How long to wait for an answer before asking again, after `retries`
/// unanswered repeats: 200 ms doubling up to 5 s, jittered by ±25 % so
/// many consumers do not ask in step.
fn status_retry(retries: u32) -> Duration {
    let base = STATUS_RETRY_FIRST.saturating_mul(1 << retries.min(5));
    base.min(STATUS_RETRY_MAX)
        .mul_f64(0.75 + fastrand::f64() / 2.0)
}

/// Decodes what one receiver gets and hands it on.
async fn forward(mut r: Receiver, resource: usize, tx: mpsc::Sender<Msg>) {
    loop {
        let msg = match r.recv::<Body<Value>>().await {
            Ok(d) => match decode(d.message()) {
                Ok(ev) => Msg::Event(resource, Box::new(ev)),
                Err(e) => Msg::Invalid(e),
            },
            Err(e) => {
                let _ = tx.send(Msg::Dead(e)).await;
                return;
            }
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
}

/// The publisher's side of the status request (the seed SDK's status
/// listener): listens at `<resource>/status` and answers each request with
/// what `current` returns, at the request's reply address (nothing when it
/// returns `None`). Returns when the connection fails (call it again to
/// reconnect).
///
/// # Errors
/// The connection or the listening link failed.
pub async fn serve_status<F, Fut>(
    cfg: &AmqpConfig,
    resource: &ResourceAddress,
    current: F,
) -> Result<(), AmqpError>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: std::future::Future<Output = Option<Event>> + Send,
{
    let mut link = Link::open(cfg).await?;
    let status = cfg.style.status(resource.as_str());
    let mut r = link
        .receiver(format!("{}-status", cfg.container), &status)
        .await?;
    info!(address = %status, "answering status requests");
    let res = loop {
        let d = match r.recv::<Body<Value>>().await {
            Ok(d) => d,
            Err(e) => break Err(AmqpError::Receiver(e)),
        };
        let Some(to) = reply_to(d.message()).filter(|t| !t.is_empty() && *t != status) else {
            warn!(address = %status, "status request without a reply address; dropped");
            continue;
        };
        let Some(ev) = current().await else { continue };
        let msg = encode(&ev, &cfg.style.map(resource.as_str()));
        let name = format!("{}-reply-{}", cfg.container, fastrand::u32(..));
        if let Err(e) = link.send_to(name, &to, msg).await {
            warn!(address = %to, error = %e, "cannot answer a status request");
        } else {
            debug!(address = %to, time = %ev.time.map(format_rfc3339).unwrap_or_default(), "status request answered");
        }
    };
    link.close().await;
    res
}

/// Sends one status request about `resource` and waits up to `wait` for
/// the answer (the seed's status ping over AMQP); `None` when none came.
///
/// # Errors
/// The broker cannot be reached or refuses the links.
pub async fn request_status(
    cfg: &AmqpConfig,
    resource: &ResourceAddress,
    wait: Duration,
) -> Result<Option<Event>, AmqpError> {
    let mut link = Link::open(cfg).await?;
    let reply = cfg.style.reply(resource.as_str());
    let res = async {
        let mut r = link.receiver(format!("{}-reply", cfg.container), &reply).await?;
        let status = cfg.style.status(resource.as_str());
        link.send_to(format!("{}-status", cfg.container), &status, status_request(resource.as_str(), &reply))
            .await?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, r.recv::<Body<Value>>()).await {
                Err(_) => return Ok(None),
                Ok(Err(e)) => return Err(AmqpError::Receiver(e)),
                Ok(Ok(d)) => match decode(d.message()) {
                    Ok(ev) => return Ok(Some(ev)),
                    Err(e) => warn!(address = %reply, error = %e, "a reply that is not an event; waiting on"),
                },
            }
        }
    }
    .await;
    link.close().await;
    res
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use fe2o3_amqp::types::messaging::Batch;

    use super::*;
    use crate::event::DataValue;
    use crate::resource::SyncState;

    fn as_received(m: Message<Data>) -> Message<Body<Value>> {
        Message {
            header: m.header,
            delivery_annotations: m.delivery_annotations,
            message_annotations: m.message_annotations,
            properties: m.properties,
            application_properties: m.application_properties,
            body: Body::Data(Batch::new(vec![m.body])),
            footer: m.footer,
        }
    }

    #[test]
    fn round_trip_and_garbage() {
        let ev = Event::new(
            EventType::OsClockSyncState,
            vec![DataValue::state(
                "/cluster/node/n1/CLOCK_REALTIME",
                SyncState::Locked,
            )],
        );
        let addr = "/cluster/node/n1/sync/sync-status/os-clock-sync-state";
        let got = decode(&as_received(encode(&ev, addr))).unwrap();
        assert_eq!(got.event_type, Some(EventType::OsClockSyncState));
        assert_eq!(got.id, ev.id);
        assert_eq!(got.values, ev.values);
        assert_eq!(got.format, Format::CloudEventV03);
        let mut m = as_received(encode(&ev, addr));
        m.application_properties = None;
        assert!(decode(&m).is_err());
        let r = as_received(status_request("/r", "/r/abcde"));
        assert_eq!(reply_to(&r).as_deref(), Some("/r/abcde"));
    }

    #[test]
    fn status_requests_are_repeated_with_a_growing_capped_wait() {
        for _ in 0..100 {
            let first = status_retry(0);
            assert!(first >= Duration::from_millis(150) && first <= Duration::from_millis(250));
            assert!(status_retry(3) >= Duration::from_millis(1200));
            let late = status_retry(u32::MAX);
            assert!(late >= Duration::from_millis(3750) && late <= Duration::from_millis(6250));
        }
    }

    #[test]
    fn urls_and_styles() {
        let c = AmqpConfig::parse("amqp://u:p@h", "c").unwrap();
        assert_eq!(c.addr, "h:5672");
        assert_eq!(c.credentials, Some(("u".into(), "p".into())));
        assert_eq!(AmqpConfig::parse("amqp://h:1/", "c").unwrap().addr, "h:1");
        assert!(AmqpConfig::parse("http://h", "c").is_err());
        // The password never shows in logs.
        assert!(!format!("{c:?}").contains("\"p\""));
        let a = "/cluster/node/n1/sync/ptp-status/lock-state";
        assert_eq!(AddressStyle::ORan.map(a), a);
        assert_eq!(
            AddressStyle::RabbitMq.status(a),
            "/exchange/amq.topic/cluster.node.n1.sync.ptp-status.lock-state.status"
        );
    }
}
