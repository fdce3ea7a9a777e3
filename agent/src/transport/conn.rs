//! One HTTP/1.1 keep-alive connection to one consumer endpoint, owned by
//! that endpoint's worker (no shared pool: a hung consumer holds only its
//! own connection).

use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why a POST got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("invalid endpoint URI {0:?}")]
    BadUri(String),
    #[error("endpoint scheme {0:?} is not supported (http only)")]
    Scheme(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("connection refused by {0}")]
    Refused(String),
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("request failed: {0}")]
    Request(#[from] hyper::Error),
}

impl DeliveryError {
    /// Failures that count towards removing a consumer (the anchor's rule:
    /// DNS errors, timeouts, refused connections; not resets).
    #[must_use]
    pub fn counts_as_dead(&self) -> bool {
        matches!(
            self,
            Self::Timeout(_) | Self::Resolve { .. } | Self::Refused(_)
        )
    }
}

/// Where to connect and what to put in the request line.
#[derive(Clone, Debug)]
pub struct Target {
    host: String,
    port: u16,
    /// `Host` header value.
    authority: String,
    /// Path and query.
    path: String,
}

impl Target {
    /// # Errors
    /// The URI does not parse, or is not `http://`.
    pub fn parse(endpoint: &str) -> Result<Self, DeliveryError> {
        let uri: Uri = endpoint
            .parse()
            .map_err(|_| DeliveryError::BadUri(endpoint.to_owned()))?;
        match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => {}
            Some(s) => return Err(DeliveryError::Scheme(s.to_owned())),
            None => return Err(DeliveryError::BadUri(endpoint.to_owned())),
        }
        let auth = uri
            .authority()
            .ok_or_else(|| DeliveryError::BadUri(endpoint.to_owned()))?;
        let host = auth.host().trim_start_matches('[').trim_end_matches(']');
        Ok(Self {
            host: host.to_owned(),
            port: auth.port_u16().unwrap_or(80),
            authority: auth.as_str().to_owned(),
            path: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        })
    }

    fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// A connection that reconnects on demand.
pub struct Conn {
    target: Target,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    #[must_use]
    pub fn new(target: Target) -> Self {
        Self {
            target,
            sender: None,
        }
    }

    /// POSTs `body`; returns the status once the answer's body is read (so
    /// the connection can carry the next request). On any error the
    /// connection is dropped and the next call reconnects.
    ///
    /// # Errors
    /// No HTTP answer within `timeout`.
    pub async fn post(&mut self, body: Bytes, timeout: Duration) -> Result<u16, DeliveryError> {
        match tokio::time::timeout(timeout, self.post_inner(body)).await {
            Ok(Ok(code)) => Ok(code),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                Err(DeliveryError::Timeout(timeout))
            }
        }
    }

    async fn post_inner(&mut self, body: Bytes) -> Result<u16, DeliveryError> {
        // A kept-alive connection the consumer closed while idle fails on
        // first use; that is not the consumer's fault: try a fresh one once.
        let reused = self.sender.as_ref().is_some_and(|s| !s.is_closed());
        if !reused {
            self.sender = Some(self.connect().await?);
        }
        match self.send(body.clone()).await {
            Err(DeliveryError::Request(e)) if reused && !e.is_timeout() => {
                tracing::trace!(error = %e, "kept-alive connection failed; reconnecting");
                self.sender = Some(self.connect().await?);
                self.send(body).await
            }
            other => other,
        }
    }

    async fn send(&mut self, body: Bytes) -> Result<u16, DeliveryError> {
        let Some(sender) = self.sender.as_mut() else {
            return Err(DeliveryError::BadUri(self.target.authority.clone()));
        };
        sender.ready().await?;
        let req = Request::post(self.target.path.as_str())
            .header(hyper::header::HOST, self.target.authority.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|_| DeliveryError::BadUri(self.target.authority.clone()))?;
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        resp.into_body().collect().await?;
        Ok(status)
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, DeliveryError> {
        let t = &self.target;
        let addrs: Vec<_> = tokio::net::lookup_host((t.host.as_str(), t.port))
            .await
            .map_err(|source| DeliveryError::Resolve {
                host: t.host.clone(),
                source,
            })?
            .collect();
        let mut last = None;
        for a in addrs {
            match TcpStream::connect(a).await {
                Ok(stream) => {
                    // One small request per event: latency, not batching.
                    let _ = stream.set_nodelay(true);
                    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::trace!(error = %e, "consumer connection ended");
                        }
                    });
                    return Ok(sender);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("http://consumer:8080/event?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("consumer", 8080));
        assert_eq!(t.path, "/event?x=1");
        assert_eq!(t.authority, "consumer:8080");
        let t = Target::parse("http://[::1]/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 80));
        assert!(matches!(
            Target::parse("https://a/"),
            Err(DeliveryError::Scheme(_))
        ));
        assert!(Target::parse("not a uri").is_err());
    }

    #[tokio::test]
    async fn refused_counts_as_dead() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut c = Conn::new(Target::parse(&format!("http://127.0.0.1:{port}/")).unwrap());
        let e = c
            .post(Bytes::from_static(b"{}"), Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(matches!(e, DeliveryError::Refused(_)), "{e}");
        assert!(e.counts_as_dead());
    }
}
