//! Measurement only: hyper's `client::conn::http1` driven inside the
//! endpoint's own task (the connection future polled beside the request,
//! no task of its own), to compare with `conn.rs` on the delivery bench.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest, handshake};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::conn::{DeliveryError, Target};

type Io = TokioIo<TcpStream>;

pub struct HyperConn {
    target: Target,
    live: Option<(
        SendRequest<Full<Bytes>>,
        Pin<Box<Connection<Io, Full<Bytes>>>>,
    )>,
    pub written: Option<Instant>,
}

/// Runs `f` while polling the connection in the same task.
async fn drive<F: Future>(
    conn: &mut Pin<Box<Connection<Io, Full<Bytes>>>>,
    f: F,
) -> Option<F::Output> {
    tokio::pin!(f);
    tokio::select! {
        biased;
        r = &mut f => Some(r),
        _ = conn.as_mut() => None,
    }
}

impl HyperConn {
    pub fn new(target: Target) -> Self {
        Self {
            target,
            live: None,
            written: None,
        }
    }

    pub async fn post(&mut self, body: &[&[u8]], timeout: Duration) -> Result<u16, DeliveryError> {
        match tokio::time::timeout(timeout, self.inner(body)).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => {
                self.live = None;
                Err(e)
            }
            Err(_) => {
                self.live = None;
                Err(DeliveryError::Timeout(timeout))
            }
        }
    }

    async fn inner(&mut self, body: &[&[u8]]) -> Result<u16, DeliveryError> {
        if self.live.as_ref().is_none_or(|(s, _)| s.is_closed()) {
            let s = TcpStream::connect(self.target.addr())
                .await
                .map_err(DeliveryError::Io)?;
            let _ = s.set_nodelay(true);
            let (send, conn) = handshake(TokioIo::new(s))
                .await
                .map_err(|_| DeliveryError::Protocol("handshake"))?;
            self.live = Some((send, Box::pin(conn)));
        }
        let Some((send, conn)) = self.live.as_mut() else {
            return Err(DeliveryError::Protocol("no connection"));
        };
        let bytes = if let [one] = body {
            Bytes::copy_from_slice(one)
        } else {
            Bytes::from(body.concat())
        };
        let req = hyper::Request::post(self.target.path())
            .header(hyper::header::HOST, self.target.authority())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(bytes))
            .map_err(|_| DeliveryError::Protocol("request"))?;
        drive(conn, send.ready())
            .await
            .ok_or(DeliveryError::Protocol("closed"))?
            .map_err(|_| DeliveryError::Protocol("not ready"))?;
        let resp = drive(conn, send.send_request(req))
            .await
            .ok_or(DeliveryError::Protocol("closed"))?
            .map_err(|_| DeliveryError::Protocol("request failed"))?;
        self.written = Some(Instant::now());
        let code = resp.status().as_u16();
        drive(conn, resp.into_body().collect())
            .await
            .ok_or(DeliveryError::Protocol("closed"))?
            .map_err(|_| DeliveryError::Protocol("body"))?;
        Ok(code)
    }
}
