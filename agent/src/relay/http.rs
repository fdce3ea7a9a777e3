//! Subscribing at a publisher's v2 API on the CNF's behalf. Checked every
//! `--publisher-check-ms` (the anchor's example consumer: health and list
//! every 30 s) and whenever the CNF's subscriptions change: what the
//! publisher lost is made again, what is no longer needed is deleted. A
//! 409 names the existing subscription, which is used as is.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prometheus::IntCounter;
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::{info, warn};

use super::Relay;
use crate::event::EventKind;
use crate::metrics::Metrics;

const API: &str = "/api/ocloudNotifications/v2";
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the CNF's subscriptions are looked at for changes.
const WATCH: Duration = Duration::from_millis(200);
/// Retry period while the publisher is unreachable.
const RETRY: Duration = Duration::from_secs(1);

pub struct HttpSubscriber {
    /// `http://host:port` of the publisher.
    base: String,
    /// Our inbound endpoint, as the publisher reaches it.
    endpoint: String,
    relay: Arc<Relay>,
    every: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
    created: IntCounter,
    existing: IntCounter,
    failed: IntCounter,
    checks_ok: IntCounter,
    checks_failed: IntCounter,
}

#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("{0}")]
    Http(String),
    #[error("no answer in {0:?}")]
    Timeout(Duration),
}

impl HttpSubscriber {
    #[must_use]
    pub fn new(
        base: String,
        endpoint: String,
        relay: Arc<Relay>,
        every: Duration,
        metrics: &Metrics,
    ) -> Self {
        let m = &metrics.transport.relay_subscriptions;
        let checks = &metrics.transport.relay_checks;
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        Self {
            base,
            endpoint,
            relay,
            every,
            client: Client::builder(TokioExecutor::new()).build(http),
            created: m.with_label_values(&["created"]),
            existing: m.with_label_values(&["existing"]),
            failed: m.with_label_values(&["failed"]),
            checks_ok: checks.with_label_values(&["ok"]),
            checks_failed: checks.with_label_values(&["failed"]),
        }
    }

    /// Keeps the subscriptions at this publisher in line, forever.
    pub async fn run(self) {
        let mut seen_gen = None;
        let mut next = Instant::now();
        loop {
            let generation = self.relay.generation();
            if seen_gen != Some(generation) || Instant::now() >= next {
                let ok = self.sync().await;
                if ok {
                    &self.checks_ok
                } else {
                    &self.checks_failed
                }
                .inc();
                seen_gen = Some(generation);
                next = Instant::now()
                    + if ok {
                        self.every
                    } else {
                        RETRY.min(self.every)
                    };
            }
            tokio::time::sleep(WATCH).await;
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Bytes), CallError> {
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{API}{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| CallError::Http(e.to_string()))?;
        let fut = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| CallError::Http(e.to_string()))?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| CallError::Http(e.to_string()))?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(CALL_TIMEOUT, fut)
            .await
            .map_err(|_| CallError::Timeout(CALL_TIMEOUT))?
    }

    /// One check; false when the publisher could not be reached.
    async fn sync(&self) -> bool {
        match self.call(Method::GET, "/health", None).await {
            Ok((200, _)) => {}
            Ok((code, _)) => {
                warn!(publisher = %self.base, status = code, "publisher not healthy");
                return false;
            }
            Err(e) => {
                warn!(publisher = %self.base, error = %e, "publisher unreachable");
                return false;
            }
        }
        let ours = match self.ours().await {
            Ok(o) => o,
            Err(e) => {
                warn!(publisher = %self.base, error = %e, "cannot list the publisher's subscriptions");
                return false;
            }
        };
        let node = self.relay.node().to_owned();
        let needed: BTreeSet<String> = self
            .relay
            .needed()
            .into_iter()
            .map(|k: EventKind| k.address(&node))
            .collect();
        for addr in needed.iter().filter(|a| !ours.contains_key(*a)) {
            self.subscribe(addr).await;
        }
        for (addr, id) in ours.iter().filter(|(a, _)| !needed.contains(*a)) {
            match self
                .call(Method::DELETE, &format!("/subscriptions/{id}"), None)
                .await
            {
                Ok((204 | 404, _)) => {
                    info!(publisher = %self.base, resource = %addr, "subscription no longer needed; deleted");
                }
                Ok((code, _)) => {
                    warn!(publisher = %self.base, resource = %addr, status = code, "cannot delete a subscription");
                }
                Err(e) => {
                    warn!(publisher = %self.base, resource = %addr, error = %e, "cannot delete a subscription");
                }
            }
        }
        true
    }

    /// Our subscriptions at the publisher: resource address -> id.
    async fn ours(&self) -> Result<HashMap<String, String>, CallError> {
        let (code, body) = self.call(Method::GET, "/subscriptions", None).await?;
        if code != 200 {
            return Err(CallError::Http(format!("list answered HTTP {code}")));
        }
        let list: Option<Vec<Value>> =
            serde_json::from_slice(&body).map_err(|e| CallError::Http(e.to_string()))?;
        Ok(list
            .unwrap_or_default()
            .iter()
            .filter(|s| s["EndpointUri"].as_str() == Some(self.endpoint.as_str()))
            .filter_map(|s| {
                Some((
                    s["ResourceAddress"].as_str()?.to_owned(),
                    s["SubscriptionId"].as_str()?.to_owned(),
                ))
            })
            .collect())
    }

    async fn subscribe(&self, addr: &str) {
        let body = json!({"ResourceAddress": addr, "EndpointUri": self.endpoint});
        let res = self
            .call(
                Method::POST,
                "/subscriptions",
                serde_json::to_vec(&body).ok(),
            )
            .await;
        match res {
            Ok((201, b)) => {
                self.created.inc();
                let id = serde_json::from_slice::<Value>(&b).unwrap_or_default();
                info!(publisher = %self.base, resource = addr, id = %id["SubscriptionId"], "subscribed on the CNF's behalf");
            }
            Ok((409, b)) => {
                // The publisher names the existing one: nothing to undo.
                self.existing.inc();
                let p = serde_json::from_slice::<Value>(&b).unwrap_or_default();
                info!(publisher = %self.base, resource = addr, id = %p["SubscriptionId"], "already subscribed");
            }
            Ok((code, b)) => {
                self.failed.inc();
                warn!(publisher = %self.base, resource = addr, status = code, body = %String::from_utf8_lossy(&b), "subscription refused");
            }
            Err(e) => {
                self.failed.inc();
                warn!(publisher = %self.base, resource = addr, error = %e, "subscription failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;

    use super::*;
    use crate::store::{ApiVersion, Store, Subscription};

    /// A publisher that lists nothing and answers every subscribe with 409
    /// (another path made it meanwhile): the 409 is taken as the existing
    /// subscription, once per check, with no retry storm.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_409_is_the_existing_subscription() {
        let posts = Arc::new(AtomicUsize::new(0));
        let p = posts.clone();
        let app = Router::new()
            .route("/api/ocloudNotifications/v2/health", get(|| async { "OK" }))
            .route(
                "/api/ocloudNotifications/v2/subscriptions",
                get(|| async { "null" }).post(move || {
                    let p = p.clone();
                    async move {
                        p.fetch_add(1, Ordering::SeqCst);
                        (
                            StatusCode::CONFLICT,
                            r#"{"SubscriptionId":"620283f3-26cd-4a6d-b80a-bdc4b614a96a"}"#,
                        )
                    }
                }),
            );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(l, app).await });

        let metrics = Arc::new(Metrics::new().unwrap());
        let store = Arc::new(Store::in_memory());
        store
            .create(Subscription {
                id: uuid::Uuid::new_v4(),
                resource: "/cluster/node/n1/sync/ptp-status/lock-state".into(),
                endpoint: "http://cnf/event".into(),
                uri_location: String::new(),
                version: ApiVersion::V2,
            })
            .unwrap();
        let (_, relay) = crate::relay::tests::relay_over(store, &metrics);
        let sub = HttpSubscriber::new(
            format!("http://127.0.0.1:{port}"),
            "http://sidecar/relay/event".into(),
            relay,
            Duration::from_secs(30),
            &metrics,
        );
        assert!(sub.sync().await);
        assert_eq!(posts.load(Ordering::SeqCst), 1);
        assert_eq!(sub.existing.get(), 1);
        assert_eq!(sub.created.get(), 0);
        assert_eq!(sub.failed.get(), 0);
    }
}
