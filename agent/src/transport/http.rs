//! HTTP delivery. Interim: a one-shot POST for initial notifications; the
//! per-subscriber queues arrive with the delivery work.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::engine::Sink;
use crate::event::Event;
use crate::metrics::Metrics;
use crate::store::Subscriptions;

#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    pub node: String,
    pub timeout: Duration,
    pub queue_capacity: usize,
    pub max_consecutive_failures: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("invalid endpoint URI {0:?}")]
    BadUri(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Request(String),
}

pub struct Dispatcher {
    cfg: DeliveryConfig,
    #[allow(dead_code, reason = "used by the delivery queues")]
    metrics: Arc<Metrics>,
    #[allow(dead_code, reason = "used by the delivery queues")]
    subs: Arc<dyn Subscriptions>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Dispatcher {
    #[must_use]
    pub fn new(
        cfg: DeliveryConfig,
        metrics: Arc<Metrics>,
        subs: Arc<dyn Subscriptions>,
    ) -> Arc<Self> {
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(conn);
        Arc::new(Self {
            cfg,
            metrics,
            subs,
            client,
        })
    }

    /// POSTs `body` to `endpoint` once (initial notification); returns the
    /// HTTP status.
    ///
    /// # Errors
    /// Network failure, timeout or an invalid URI.
    pub async fn post_once(&self, endpoint: &str, body: Bytes) -> Result<u16, DeliveryError> {
        let req = Request::post(endpoint)
            .header("content-type", "application/json")
            .body(Full::new(body))
            .map_err(|_| DeliveryError::BadUri(endpoint.to_owned()))?;
        let resp = tokio::time::timeout(self.cfg.timeout, self.client.request(req))
            .await
            .map_err(|_| DeliveryError::Timeout(self.cfg.timeout))?
            .map_err(|e| {
                if e.is_connect() {
                    DeliveryError::Connect(e.to_string())
                } else {
                    DeliveryError::Request(e.to_string())
                }
            })?;
        Ok(resp.status().as_u16())
    }

    /// Stops accepting events and waits up to `timeout` for queues to drain.
    pub async fn shutdown(&self, _timeout: Duration) {}
}

impl Sink for Dispatcher {
    fn publish(&self, _event: Event) {}
}
