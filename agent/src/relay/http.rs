//! Subscribing at a publisher's v2 API on the CNF's behalf, with the
//! client's [`Keeper`]: checked every `--publisher-check-ms` (the anchor's
//! example consumer: health and list every 30 s) and whenever the CNF's
//! subscriptions change; what the publisher lost is made again, what is no
//! longer needed is deleted, a 409 names the existing subscription, and a
//! publisher that is down is retried with backoff.

use std::sync::Arc;
use std::time::Duration;

use cloud_event_client::{Client, Error, Keeper, SyncReport};
use prometheus::IntCounter;
use tracing::error;

use super::Relay;
use crate::metrics::Metrics;

pub(crate) struct HttpSubscriber {
    /// `http://host:port` (or `host:port`) of the publisher.
    base: String,
    /// Our inbound endpoint, as the publisher reaches it.
    endpoint: String,
    relay: Arc<Relay>,
    every: Duration,
    m: Counters,
}

#[derive(Clone)]
struct Counters {
    created: IntCounter,
    existing: IntCounter,
    failed: IntCounter,
    checks_ok: IntCounter,
    checks_failed: IntCounter,
}

impl Counters {
    fn count(&self, r: &Result<SyncReport, Error>) {
        match r {
            Ok(r) => {
                self.checks_ok.inc();
                self.created.inc_by(r.created.len() as u64);
                self.existing.inc_by(r.conflicts as u64);
                self.failed.inc_by(r.failed.len() as u64);
            }
            Err(_) => self.checks_failed.inc(),
        }
    }
}

impl HttpSubscriber {
    #[must_use]
    pub(crate) fn new(
        base: String,
        endpoint: String,
        relay: Arc<Relay>,
        every: Duration,
        metrics: &Metrics,
    ) -> Self {
        let m = &metrics.transport.relay_subscriptions;
        let checks = &metrics.transport.relay_checks;
        Self {
            base,
            endpoint,
            relay,
            every,
            m: Counters {
                created: m.with_label_values(&["created"]),
                existing: m.with_label_values(&["existing"]),
                failed: m.with_label_values(&["failed"]),
                checks_ok: checks.with_label_values(&["ok"]),
                checks_failed: checks.with_label_values(&["failed"]),
            },
        }
    }

    fn keeper(&self) -> Option<Keeper> {
        match Client::new(&self.base) {
            Ok(c) => Some(Keeper::new(c, self.endpoint.clone())),
            Err(e) => {
                error!(publisher = %self.base, error = %e, "cannot subscribe at this publisher");
                None
            }
        }
    }

    /// Keeps the subscriptions at this publisher in line, forever.
    pub(crate) async fn run(self) {
        let Some(keeper) = self.keeper() else { return };
        let m = self.m.clone();
        keeper
            .run(self.relay.wanted(), self.every, move |r| m.count(r))
            .await;
    }

    /// One check, counted.
    #[cfg(test)]
    async fn check_once(&self) -> bool {
        let Some(keeper) = self.keeper() else {
            return false;
        };
        let wanted = self.relay.wanted().borrow().clone();
        let r = keeper.sync(&wanted).await;
        self.m.count(&r);
        r.is_ok()
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
        assert!(sub.check_once().await);
        assert_eq!(posts.load(Ordering::SeqCst), 1);
        assert_eq!(sub.m.existing.get(), 1);
        assert_eq!(sub.m.created.get(), 0);
        assert_eq!(sub.m.failed.get(), 0);
    }
}
