//! One HTTP/1.1 keep-alive connection to one consumer endpoint, owned by
//! that endpoint's worker (no shared pool: a hung consumer holds only its
//! own connection), over TCP or TLS. Every open connection holds a permit
//! of [`Outbound`], so the number of subscribers is not bounded by the
//! open-file limit.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use cloud_event_client::{Endpoint, EndpointError, Scheme};
use prometheus::IntGauge;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::policy::Policy;

/// Why a POST got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeliveryError {
    #[error("invalid endpoint URI {uri:?}")]
    BadUri {
        uri: String,
        #[source]
        source: EndpointError,
    },
    /// The URI was refused when the endpoint's worker started.
    #[error("the endpoint URI is not usable")]
    Unusable,
    #[error("no connection to {0}")]
    NotConnected(String),
    #[error("{0} is not allowed by the endpoint policy")]
    Forbidden(String),
    #[error("TLS with {addr} failed: {source}")]
    Tls { addr: String, source: io::Error },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("connection refused by {0}")]
    Refused(String),
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("connection failed: {0}")]
    Io(#[from] io::Error),
    #[error("bad HTTP answer: {0}")]
    Protocol(&'static str),
}

impl DeliveryError {
    /// Failures that count towards removing a consumer: nobody is there
    /// (DNS errors, refused or reset connections). A timeout is not one: a
    /// consumer that answers, however slowly, is alive (the anchor counts
    /// timeouts too, and so unsubscribes consumers that got every event).
    #[must_use]
    pub(crate) fn counts_as_dead(&self) -> bool {
        match self {
            Self::Resolve { .. } | Self::Refused(_) => true,
            Self::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
            ),
            _ => false,
        }
    }

    /// The request went out and no answer came in time.
    #[must_use]
    pub(crate) fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }
}

/// Where to connect and what to put in the request line.
#[derive(Clone, Debug)]
pub(super) struct Target {
    host: String,
    port: u16,
    tls: bool,
    /// `Host` header value.
    authority: String,
    /// Path and query.
    path: String,
}

impl Target {
    /// # Errors
    /// The URI does not parse, or is not `http://` or `https://`.
    pub(crate) fn parse(endpoint: &str) -> Result<Self, DeliveryError> {
        let e = Endpoint::http(endpoint).map_err(|source| DeliveryError::BadUri {
            uri: endpoint.to_owned(),
            source,
        })?;
        Ok(Self {
            host: e.host().to_owned(),
            port: e.port(),
            tls: e.scheme() == Scheme::Https,
            authority: e.authority(),
            path: e.path().to_owned(),
        })
    }

    fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// What every outbound connection shares: TLS client config, endpoint
/// policy, and the cap on open connections.
pub(crate) struct Outbound {
    pub tls: Arc<rustls::ClientConfig>,
    pub policy: Policy,
    permits: Arc<Semaphore>,
    /// Connections waiting for a permit.
    waiting: AtomicUsize,
    /// Wakes idle connections to close when others wait.
    pressure: Notify,
    open: IntGauge,
}

impl Outbound {
    #[must_use]
    pub(crate) fn new(
        tls: Arc<rustls::ClientConfig>,
        policy: Policy,
        max_connections: usize,
        open: IntGauge,
    ) -> Arc<Self> {
        Arc::new(Self {
            tls,
            policy,
            permits: Arc::new(Semaphore::new(max_connections.max(1))),
            waiting: AtomicUsize::new(0),
            pressure: Notify::new(),
            open,
        })
    }

    /// Whether a connection is waiting for a permit (idle ones should go).
    #[must_use]
    pub(crate) fn under_pressure(&self) -> bool {
        self.waiting.load(Ordering::Acquire) > 0
    }

    /// Resolves when another connection needs a permit.
    pub(crate) async fn pressed(&self) {
        let n = self.pressure.notified();
        if self.under_pressure() {
            return;
        }
        n.await;
    }

    /// A permit to open a connection; while waiting, idle connections are
    /// told to give theirs up. `None` only if the cap was torn down.
    async fn permit(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(p) = self.permits.clone().try_acquire_owned() {
            return Some(p);
        }
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let _waiting = Waiting(&self.waiting);
        // Counted before the announcement: an idle connection that starts
        // waiting after it sees the count (see `pressed`).
        self.pressure.notify_waiters();
        self.permits.clone().acquire_owned().await.ok()
    }
}

/// A plain or TLS stream.
enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An open connection and its permit.
struct Live {
    io: Io,
    _permit: OwnedSemaphorePermit,
    open: IntGauge,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// Largest response (head and body) we read from a consumer.
const MAX_RESPONSE: usize = 1 << 20;

/// A connection that reconnects on demand. A small HTTP/1.1 client of its
/// own: one POST is one `write` and, usually, one `read`, with no task hop
/// per request (a hyper connection task costs a wake-up per request, which
/// is most of our per-delivery CPU on a 2-core node).
pub(super) struct Conn {
    target: Target,
    out: Arc<Outbound>,
    stream: Option<Live>,
    /// Taken before a delivery starts (see [`Conn::reserve`]).
    permit: Option<OwnedSemaphorePermit>,
    /// `POST <path> HTTP/1.1 ... Content-Length: `, built once.
    head: Vec<u8>,
    /// Reused request and response buffers.
    req: Vec<u8>,
    buf: Vec<u8>,
    /// When the last request was written to the socket (stage timing).
    written: Option<Instant>,
}

/// How an exchange failed, for the reconnect-once rule.
enum Failure {
    /// Nothing came back before the connection failed: a kept-alive
    /// connection the consumer had closed. Safe to send again.
    Stale(DeliveryError),
    Other(DeliveryError),
}

impl Conn {
    #[must_use]
    pub(super) fn new(target: Target, out: Arc<Outbound>) -> Self {
        Self::with_content_type(target, out, "application/json")
    }

    /// A connection whose POSTs carry `content_type`.
    #[must_use]
    pub(super) fn with_content_type(
        target: Target,
        out: Arc<Outbound>,
        content_type: &str,
    ) -> Self {
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: ",
            target.path, target.authority
        )
        .into_bytes();
        Self {
            target,
            out,
            stream: None,
            permit: None,
            head,
            req: Vec::new(),
            buf: Vec::new(),
            written: None,
        }
    }

    #[must_use]
    pub(super) fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    /// Waits for the permit a new connection needs, if one will be needed:
    /// callers wait here, in a small future, rather than inside a whole
    /// delivery's (thousands of endpoints may wait at once).
    pub(super) async fn reserve(&mut self) {
        if self.stream.is_none() && self.permit.is_none() {
            self.permit = self.out.permit().await;
        }
    }

    /// Closes the connection (its permit goes back) and frees its buffers:
    /// an idle subscriber costs its queue and task, not a socket.
    pub(super) fn close(&mut self) {
        self.stream = None;
        self.permit = None;
        self.req = Vec::new();
        self.buf = Vec::new();
    }

    /// Sends one request with `headers` (`Name: value` lines without the
    /// CRLF) and `body`; returns the status and the response body (at most
    /// 1 MiB). For the agent's own calls (TokenReview, JWKS).
    ///
    /// # Errors
    /// As [`Conn::post`].
    pub(super) async fn call(
        &mut self,
        method: &str,
        headers: &[String],
        body: &[u8],
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), DeliveryError> {
        let fut = async {
            if self.stream.is_none() {
                self.stream = Some(self.connect().await?);
            }
            let Some(live) = self.stream.as_mut() else {
                return Err(DeliveryError::NotConnected(self.target.authority.clone()));
            };
            let mut req = format!(
                "{method} {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
                self.target.path,
                self.target.authority,
                body.len()
            );
            for h in headers {
                req.push_str(h);
                req.push_str("\r\n");
            }
            req.push_str("\r\n");
            let mut bytes = req.into_bytes();
            bytes.extend_from_slice(body);
            live.io.write_all(&bytes).await?;
            self.buf.clear();
            let mut out = Vec::new();
            let (code, keep) = read_response(&mut live.io, &mut self.buf, Some(&mut out))
                .await
                .map_err(|(Failure::Stale(e) | Failure::Other(e))| e)?;
            if !keep {
                self.stream = None;
            }
            Ok((code, out))
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                self.stream = None;
                Err(e)
            }
            Err(_) => {
                self.stream = None;
                Err(DeliveryError::Timeout(timeout))
            }
        }
    }

    /// POSTs the concatenation of `body` (parts, so a per-subscriber prefix
    /// and a shared tail need no buffer of their own); returns the status once the whole answer is read (so
    /// the connection can carry the next request). On any error the
    /// connection is dropped and the next call reconnects.
    ///
    /// # Errors
    /// No complete HTTP answer within `timeout`.
    pub(super) async fn post(
        &mut self,
        body: &[&[u8]],
        timeout: Duration,
    ) -> Result<u16, DeliveryError> {
        match tokio::time::timeout(timeout, self.post_inner(body)).await {
            Ok(Ok(code)) => Ok(code),
            Ok(Err(e)) => {
                self.stream = None;
                Err(e)
            }
            Err(_) => {
                self.stream = None;
                Err(DeliveryError::Timeout(timeout))
            }
        }
    }

    /// When the last request was completely written to the socket.
    #[must_use]
    pub(super) fn written(&self) -> Option<Instant> {
        self.written
    }

    async fn post_inner(&mut self, body: &[&[u8]]) -> Result<u16, DeliveryError> {
        let reused = self.stream.is_some();
        if !reused {
            self.stream = Some(self.connect().await?);
        }
        match self.exchange(body).await {
            Ok(code) => Ok(code),
            Err(Failure::Stale(e)) if reused => {
                tracing::trace!(error = %e, "kept-alive connection closed; reconnecting");
                // Its permit back first: the new one may need it.
                self.stream = None;
                self.stream = Some(self.connect().await?);
                self.exchange(body)
                    .await
                    .map_err(|(Failure::Stale(e) | Failure::Other(e))| e)
            }
            Err(Failure::Stale(e) | Failure::Other(e)) => Err(e),
        }
    }

    async fn exchange(&mut self, body: &[&[u8]]) -> Result<u16, Failure> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(Failure::Other(DeliveryError::NotConnected(
                self.target.authority.clone(),
            )));
        };
        self.req.clear();
        self.req.extend_from_slice(&self.head);
        self.req.extend_from_slice(
            itoa::Buffer::new()
                .format(body.iter().map(|p| p.len()).sum::<usize>())
                .as_bytes(),
        );
        self.req.extend_from_slice(b"\r\n\r\n");
        for part in body {
            self.req.extend_from_slice(part);
        }
        stream
            .io
            .write_all(&self.req)
            .await
            .map_err(|e| Failure::Stale(DeliveryError::Io(e)))?;
        self.written = Some(Instant::now());
        self.buf.clear();
        let (code, keep_alive) = read_response(&mut stream.io, &mut self.buf, None).await?;
        if !keep_alive {
            self.stream = None;
        }
        Ok(code)
    }

    async fn connect(&mut self) -> Result<Live, DeliveryError> {
        let t = &self.target;
        let resolved: Vec<_> = tokio::net::lookup_host((t.host.as_str(), t.port))
            .await
            .map_err(|source| DeliveryError::Resolve {
                host: t.host.clone(),
                source,
            })?
            .collect();
        let addrs: Vec<_> = resolved
            .iter()
            .filter(|a| self.out.policy.allows(&t.host, a.ip()))
            .copied()
            .collect();
        if addrs.is_empty() && !resolved.is_empty() {
            return Err(DeliveryError::Forbidden(t.host.clone()));
        }
        let permit = match self.permit.take() {
            Some(p) => p,
            None => self
                .out
                .permit()
                .await
                .ok_or(DeliveryError::Protocol("no connection permits"))?,
        };
        let mut last = None;
        let mut tcp = None;
        for a in addrs {
            match TcpStream::connect(a).await {
                Ok(stream) => {
                    // One small request per event: latency, not batching.
                    let _ = stream.set_nodelay(true);
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let Some(tcp) = tcp else {
            return Err(match last {
                Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    DeliveryError::Refused(t.addr())
                }
                Some(source) => DeliveryError::Connect {
                    addr: t.addr(),
                    source,
                },
                None => DeliveryError::Resolve {
                    host: t.host.clone(),
                    source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
                },
            });
        };
        let io = if t.tls {
            let tls_err = |source| DeliveryError::Tls {
                addr: t.addr(),
                source,
            };
            let name = crate::tls::server_name(&t.host).map_err(tls_err)?;
            let s = tokio_rustls::TlsConnector::from(self.out.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(tls_err)?;
            Io::Tls(Box::new(s))
        } else {
            Io::Plain(tcp)
        };
        self.out.open.inc();
        Ok(Live {
            io,
            _permit: permit,
            open: self.out.open.clone(),
        })
    }
}

/// Reads more bytes into `buf`; `Ok(0)` at end of stream.
async fn fill(stream: &mut Io, buf: &mut Vec<u8>) -> Result<usize, DeliveryError> {
    if buf.len() >= MAX_RESPONSE {
        return Err(DeliveryError::Protocol("response too large"));
    }
    // Answers to a POST are a few hundred bytes: small steps, small buffers
    // on thousands of idle connections.
    buf.reserve(1024);
    Ok(stream.read_buf(buf).await?)
}

/// Reads one whole response; returns its status and whether the
/// connection may carry another request.
async fn read_response(
    stream: &mut Io,
    buf: &mut Vec<u8>,
    keep: Option<&mut Vec<u8>>,
) -> Result<(u16, bool), Failure> {
    let mut keep = keep;
    let mut start = 0;
    // Parse what is buffered first: an interim answer may be followed by
    // the real one in the same read.
    let mut need_more = true;
    loop {
        if need_more {
            let n = fill(stream, buf).await.map_err(|e| {
                if buf.is_empty() {
                    Failure::Stale(e)
                } else {
                    Failure::Other(e)
                }
            })?;
            if n == 0 {
                let e = DeliveryError::Protocol("connection closed before the response ended");
                return Err(if buf.is_empty() {
                    Failure::Stale(e)
                } else {
                    Failure::Other(e)
                });
            }
        }
        need_more = true;
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        let head_len = match resp.parse(&buf[start..]) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => continue,
            Err(_) => {
                return Err(Failure::Other(DeliveryError::Protocol(
                    "malformed response head",
                )));
            }
        };
        let code = resp.code.unwrap_or(0);
        if (100..200).contains(&code) {
            // An interim answer (100 Continue): the real one follows.
            start += head_len;
            need_more = start >= buf.len();
            continue;
        }
        let framing = Framing::of(&resp, code);
        let keep_alive = framing != Framing::UntilClose && keeps_alive(&resp);
        let body_at = start + head_len;
        framing
            .skip_body(stream, buf, body_at, keep.as_deref_mut())
            .await
            .map_err(Failure::Other)?;
        return Ok((code, keep_alive));
    }
}

fn header<'a>(resp: &'a httparse::Response<'_, '_>, name: &str) -> Option<&'a [u8]> {
    resp.headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

fn keeps_alive(resp: &httparse::Response<'_, '_>) -> bool {
    let conn = header(resp, "connection").map(<[u8]>::to_ascii_lowercase);
    match resp.version {
        Some(1) => conn.as_deref() != Some(b"close"),
        _ => conn.as_deref() == Some(b"keep-alive"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

impl Framing {
    fn of(resp: &httparse::Response<'_, '_>, code: u16) -> Self {
        if code == 204 || code == 304 {
            return Self::Length(0);
        }
        if header(resp, "transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().ends_with(b"chunked"))
        {
            return Self::Chunked;
        }
        match header(resp, "content-length")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse().ok())
        {
            Some(n) => Self::Length(n),
            None => Self::UntilClose,
        }
    }

    /// Reads past the body that starts at `buf[at..]`, copying it into
    /// `keep` when given.
    async fn skip_body(
        self,
        stream: &mut Io,
        buf: &mut Vec<u8>,
        mut at: usize,
        mut keep: Option<&mut Vec<u8>>,
    ) -> Result<(), DeliveryError> {
        let closed = || DeliveryError::Protocol("connection closed inside the response body");
        match self {
            Self::Length(n) => {
                while buf.len() < at.saturating_add(n) {
                    if fill(stream, buf).await? == 0 {
                        return Err(closed());
                    }
                }
                if let Some(k) = keep {
                    k.extend_from_slice(&buf[at..at + n]);
                }
            }
            Self::UntilClose => {
                while fill(stream, buf).await? > 0 {}
                if let Some(k) = keep {
                    k.extend_from_slice(&buf[at..]);
                }
            }
            Self::Chunked => loop {
                match httparse::parse_chunk_size(&buf[at..]) {
                    Ok(httparse::Status::Complete((line, 0))) => {
                        at += line;
                        // Trailers, then the empty line.
                        loop {
                            if let Some(eol) = buf[at..].windows(2).position(|w| w == b"\r\n") {
                                at += eol + 2;
                                if eol == 0 {
                                    return Ok(());
                                }
                            } else if fill(stream, buf).await? == 0 {
                                return Err(closed());
                            }
                        }
                    }
                    Ok(httparse::Status::Complete((line, size))) => {
                        let size = usize::try_from(size)
                            .map_err(|_| DeliveryError::Protocol("chunk too large"))?;
                        let end = at
                            .saturating_add(line)
                            .saturating_add(size)
                            .saturating_add(2);
                        while buf.len() < end {
                            if fill(stream, buf).await? == 0 {
                                return Err(closed());
                            }
                        }
                        if let Some(k) = keep.as_deref_mut() {
                            k.extend_from_slice(&buf[at + line..end - 2]);
                        }
                        at = end;
                    }
                    Ok(httparse::Status::Partial) => {
                        if fill(stream, buf).await? == 0 {
                            return Err(closed());
                        }
                    }
                    Err(_) => return Err(DeliveryError::Protocol("malformed chunk size")),
                }
            },
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    pub(crate) fn test_outbound(max: usize) -> Arc<Outbound> {
        let tls = crate::tls::client_config(&crate::tls::ClientFiles::default()).unwrap();
        let open = IntGauge::new("open", "open").unwrap();
        Outbound::new(tls, Policy::default(), max, open)
    }

    #[test]
    fn targets() {
        let t = Target::parse("http://consumer:8080/event?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("consumer", 8080));
        assert_eq!(t.path, "/event?x=1");
        assert_eq!(t.authority, "consumer:8080");
        let t = Target::parse("http://[::1]/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 80));
        let t = Target::parse("https://a/x").unwrap();
        assert!(t.tls && t.port == 443);
        assert!(matches!(
            Target::parse("ftp://a/"),
            Err(DeliveryError::BadUri { .. })
        ));
        assert!(Target::parse("not a uri").is_err());
    }

    /// A raw server that answers the n-th request on a connection with
    /// `answers[n]` (closing after the last), recording what it read.
    async fn raw_server(answers: Vec<&'static [u8]>) -> (String, tokio::task::JoinHandle<usize>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/ev", l.local_addr().unwrap());
        let h = tokio::spawn(async move {
            let mut conns = 0;
            let mut answers = answers.into_iter();
            while let Some(first) = answers.next() {
                let (mut s, _) = l.accept().await.unwrap();
                conns += 1;
                let mut next = Some(first);
                while let Some(a) = next {
                    let mut req = vec![0u8; 4096];
                    let n = s.read(&mut req).await.unwrap();
                    assert!(req[..n].starts_with(b"POST /ev HTTP/1.1\r\n"));
                    s.write_all(a).await.unwrap();
                    // Keep-alive answers take the next request on this connection.
                    next = if a.ends_with(b"close\r\n\r\n") {
                        None
                    } else {
                        answers.next()
                    };
                    if a.is_empty() {
                        break;
                    }
                }
            }
            conns
        });
        (uri, h)
    }

    #[tokio::test]
    async fn reads_every_framing_on_one_connection() {
        let (uri, server) = raw_server(vec![
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\n",
            b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ])
        .await;
        let mut c = Conn::new(Target::parse(&uri).unwrap(), test_outbound(4));
        let t = Duration::from_secs(5);
        let body: &[&[u8]] = &[b"{", b"}"];
        assert_eq!(c.post(body, t).await.unwrap(), 204);
        assert_eq!(c.post(body, t).await.unwrap(), 200);
        assert_eq!(c.post(body, t).await.unwrap(), 200);
        assert_eq!(c.post(body, t).await.unwrap(), 500);
        assert!(c.stream.is_none(), "Connection: close honoured");
        assert_eq!(server.await.unwrap(), 1, "one connection for all four");
    }

    #[tokio::test]
    async fn a_closed_keep_alive_connection_is_replaced_once() {
        // First connection: one answer, then the server closes it while idle.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/ev", l.local_addr().unwrap());
        let server = tokio::spawn(async move {
            for _ in 0..2 {
                let (mut s, _) = l.accept().await.unwrap();
                let mut req = vec![0u8; 4096];
                let _ = s.read(&mut req).await.unwrap();
                s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                    .await
                    .unwrap();
                drop(s);
            }
        });
        let mut c = Conn::new(Target::parse(&uri).unwrap(), test_outbound(4));
        let t = Duration::from_secs(5);
        assert_eq!(c.post(&[b"1"], t).await.unwrap(), 204);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(c.post(&[b"2"], t).await.unwrap(), 204);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn garbage_and_truncated_answers_are_errors() {
        for answer in [
            &b"NOT HTTP AT ALL\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        ] {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let uri = format!("http://{}/ev", l.local_addr().unwrap());
            let server = tokio::spawn(async move {
                let (mut s, _) = l.accept().await.unwrap();
                let mut req = vec![0u8; 4096];
                let _ = s.read(&mut req).await.unwrap();
                s.write_all(answer).await.unwrap();
            });
            let mut c = Conn::new(Target::parse(&uri).unwrap(), test_outbound(4));
            let e = c.post(&[b"{}"], Duration::from_secs(5)).await.unwrap_err();
            assert!(matches!(e, DeliveryError::Protocol(_)), "{e}");
            assert!(!e.counts_as_dead());
            server.await.unwrap();
        }
    }

    #[tokio::test]
    async fn refused_counts_as_dead() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut c = Conn::new(
            Target::parse(&format!("http://127.0.0.1:{port}/")).unwrap(),
            test_outbound(4),
        );
        let e = c.post(&[b"{}"], Duration::from_secs(2)).await.unwrap_err();
        assert!(matches!(e, DeliveryError::Refused(_)), "{e}");
        assert!(e.counts_as_dead());
    }
}
