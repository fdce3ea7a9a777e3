//! One connection and session to the broker. fe2o3-amqp does not set
//! TCP_NODELAY (a round trip then takes ~50 ms, LAB.md §5), so we open the
//! TCP stream ourselves. Teardown differs by broker (`close()` errors on
//! RabbitMQ, `detach()` hangs on broker.py): every step has a timeout, and
//! dropping a handle only queues a close without waiting.

use std::time::Duration;

use fe2o3_amqp::connection::ConnectionHandle;
use fe2o3_amqp::link::{Receiver, Sender};
use fe2o3_amqp::sasl_profile::SaslProfile;
use fe2o3_amqp::session::SessionHandle;
use fe2o3_amqp::{Connection, Session};
use tokio::net::TcpStream;

use super::AmqpConfig;

/// Connect, open and begin, all together.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// Attach or one send (with its disposition).
pub const OP_TIMEOUT: Duration = Duration::from_secs(2);
/// Each teardown step.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("timed out: {0}")]
    Timeout(&'static str),
    #[error("the broker refused a link on {address}: {reason}")]
    Attach { address: String, reason: String },
    #[error("sending to {address} failed: {reason}")]
    Send { address: String, reason: String },
    #[error("a receiver stopped: {0}")]
    Receiver(String),
}

pub struct Link {
    conn: ConnectionHandle<()>,
    pub session: SessionHandle<()>,
}

impl Link {
    /// Opens a connection and one session to the broker of `cfg`.
    ///
    /// # Errors
    /// Connection refused, protocol failure, or no answer in time.
    pub async fn open(cfg: &AmqpConfig) -> Result<Self, AmqpError> {
        let addr = cfg.addr.as_str();
        let container = cfg.container.as_str();
        let sasl = match &cfg.credentials {
            Some(c) => SaslProfile::Plain {
                username: c.user.clone(),
                password: c.password.clone(),
            },
            None => SaslProfile::Anonymous,
        };
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h).to_owned();
        let fut = async {
            let err = |reason: String| AmqpError::Connect {
                addr: addr.to_owned(),
                reason,
            };
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| err(e.to_string()))?;
            let _ = stream.set_nodelay(true);
            let mut conn = Connection::builder()
                .container_id(container)
                .hostname(host.as_str())
                .sasl_profile(sasl)
                .open_with_stream(stream)
                .await
                .map_err(|e| err(e.to_string()))?;
            let session = Session::begin(&mut conn)
                .await
                .map_err(|e| err(format!("begin session: {e}")))?;
            Ok(Self { conn, session })
        };
        tokio::time::timeout(OPEN_TIMEOUT, fut)
            .await
            .map_err(|_| AmqpError::Timeout("opening the AMQP connection"))?
    }

    /// A sender to `address`.
    ///
    /// # Errors
    /// The broker refused the address, or did not answer in time.
    pub async fn sender(&mut self, name: String, address: &str) -> Result<Sender, AmqpError> {
        let fut = Sender::attach(&mut self.session, name, address);
        match tokio::time::timeout(OP_TIMEOUT, fut).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(AmqpError::Attach {
                address: address.to_owned(),
                reason: e.to_string(),
            }),
            Err(_) => Err(AmqpError::Timeout("attaching a sender")),
        }
    }

    /// A receiver from `address` that accepts what it receives.
    ///
    /// # Errors
    /// The broker refused the address, or did not answer in time.
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
                reason: e.to_string(),
            }),
            Err(_) => Err(AmqpError::Timeout("attaching a receiver")),
        }
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

/// Reconnect delay after `failures` failures in a row (0 after the first):
/// the one backoff of the workspace, 100 ms doubling to 5 s with ±25%
/// jitter so that many agents do not return to a restarted broker at once.
#[must_use]
pub fn backoff(failures: u32) -> Duration {
    cloud_event_client::backoff(failures.saturating_add(1))
}
