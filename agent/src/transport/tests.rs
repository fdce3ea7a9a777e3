//! The dispatcher against real HTTP servers on loopback (in-process here;
//! the black-box tests use consumer processes).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use uuid::Uuid;

use super::*;
use crate::event::DataValue;
use crate::store::{ApiVersion, Store, Subscription};

const NODE: &str = "n1";

#[derive(Clone, Copy)]
enum Mode {
    Answer(u16),
    /// Reads the request, never answers.
    Hang,
    /// Answers after a pause.
    Slow(Duration),
}

struct Server {
    port: u16,
    got: Arc<Mutex<Vec<Bytes>>>,
}

impl Server {
    async fn start(mode: Mode) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        tokio::spawn(async move {
            loop {
                let Ok((s, _)) = l.accept().await else { return };
                let g = g.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let g = g.clone();
                        async move {
                            let body = req.into_body().collect().await?.to_bytes();
                            g.lock().push(body);
                            match mode {
                                Mode::Hang => std::future::pending::<()>().await,
                                Mode::Slow(d) => tokio::time::sleep(d).await,
                                Mode::Answer(_) => {}
                            }
                            let code = match mode {
                                Mode::Answer(c) => c,
                                _ => 204,
                            };
                            Ok::<_, hyper::Error>(
                                Response::builder()
                                    .status(StatusCode::from_u16(code).unwrap())
                                    .body(Full::new(Bytes::new()))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        Self { port, got }
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}/event", self.port)
    }

    fn count(&self) -> usize {
        self.got.lock().len()
    }

    fn values(&self) -> Vec<String> {
        self.got
            .lock()
            .iter()
            .map(|b| {
                let v: serde_json::Value = serde_json::from_slice(b).unwrap();
                v["data"]["values"][0]["value"].as_str().unwrap().to_owned()
            })
            .collect()
    }
}

fn setup(
    cap: usize,
    max_failures: u32,
    timeout: Duration,
) -> (Arc<Dispatcher>, Arc<Store>, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new().unwrap());
    let store = Arc::new(Store::in_memory());
    let d = Dispatcher::new(
        DeliveryConfig {
            node: NODE.into(),
            timeout,
            queue_capacity: cap,
            max_consecutive_failures: max_failures,
            idle: Duration::from_secs(30),
            v1_keys: crate::event::ValueKeys::Legacy,
        },
        crate::transport::test_outbound(),
        metrics.clone(),
        store.clone() as Arc<dyn Subscriptions>,
    );
    (d, store, metrics)
}

fn subscribe(store: &Store, resource: &str, endpoint: &str) {
    store
        .create(Subscription {
            id: Uuid::new_v4(),
            resource: resource.into(),
            endpoint: endpoint.into(),
            uri_location: String::new(),
            version: ApiVersion::V2,
        })
        .unwrap();
}

fn lock_event(value: &str) -> Event {
    Event::new(
        EventKind::LockState,
        vec![DataValue::state(
            "/cluster/node/n1/ens1fx/master".into(),
            value,
        )],
    )
}

async fn wait(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..1000 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

const LOCK: &str = "/cluster/node/n1/sync/ptp-status/lock-state";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_bytes_to_every_subscriber_once_per_endpoint() {
    let (d, store, metrics) = setup(16, 10, Duration::from_secs(2));
    let a = Server::start(Mode::Answer(204)).await;
    let b = Server::start(Mode::Answer(200)).await;
    let other = Server::start(Mode::Answer(204)).await;
    subscribe(&store, LOCK, &a.uri());
    // Exact and prefix subscriptions of one endpoint: delivered once.
    subscribe(&store, LOCK, &b.uri());
    subscribe(&store, "/cluster/node/n1/sync", &b.uri());
    subscribe(
        &store,
        "/cluster/node/n1/sync/sync-status/sync-state",
        &other.uri(),
    );

    d.publish(lock_event("LOCKED"));
    assert!(wait(|| a.count() == 1 && b.count() == 1).await);
    assert_eq!(a.got.lock()[0], b.got.lock()[0], "one serialisation");
    assert!(wait(|| d.pending() == 0).await);
    assert_eq!(b.count(), 1);
    assert_eq!(other.count(), 0);
    assert_eq!(
        metrics
            .delivery
            .deliveries
            .with_label_values(&["success"])
            .get(),
        2
    );
    assert_eq!(metrics.delivery.latency.get_sample_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stage_is_timed() {
    let (d, store, metrics) = setup(16, 10, Duration::from_secs(2));
    let a = Server::start(Mode::Answer(204)).await;
    let b = Server::start(Mode::Answer(204)).await;
    subscribe(&store, LOCK, &a.uri());
    subscribe(&store, LOCK, &b.uri());
    let read = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(2)).await;
    // One event from a line read 2 ms ago, one without a source read.
    d.publish_read(lock_event("LOCKED"), read);
    d.publish(lock_event("FREERUN"));
    assert!(wait(|| d.pending() == 0 && a.count() == 2 && b.count() == 2).await);
    let st = &metrics.delivery.stages;
    assert_eq!(st.engine.get_sample_count(), 1);
    assert!(
        st.engine.get_sample_sum() >= 0.002,
        "the read time is carried"
    );
    assert_eq!(st.queued.get_sample_count(), 2, "per event");
    assert_eq!(st.written.get_sample_count(), 4, "per delivery");
    assert_eq!(st.answered.get_sample_count(), 4, "per delivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_consumer_delays_no_one_else() {
    // The hung consumer's timeout is far longer than the wait below: if
    // delivery to the healthy one waited for it, the test would fail.
    let (d, store, _) = setup(64, 10, Duration::from_secs(60));
    let hung = Server::start(Mode::Hang).await;
    let ok = Server::start(Mode::Answer(204)).await;
    subscribe(&store, LOCK, &hung.uri());
    subscribe(&store, LOCK, &ok.uri());
    for i in 0..20 {
        d.publish(lock_event(&i.to_string()));
    }
    assert!(wait(|| ok.count() == 20).await, "got {}", ok.count());
    let want: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    assert_eq!(ok.values(), want, "in order");
    // The hung one took the first event and still holds it.
    assert_eq!(hung.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_keeps_the_latest_state() {
    let (d, store, metrics) = setup(2, 10, Duration::from_secs(5));
    let slow = Server::start(Mode::Slow(Duration::from_millis(300))).await;
    subscribe(&store, LOCK, &slow.uri());
    d.publish(lock_event("first"));
    assert!(wait(|| slow.count() == 1).await);
    // In flight: "first". Queue of 2 gets 5 events for one resource: once
    // full, it keeps one entry for the resource, the newest, so the
    // consumer gets the final state right after the one in flight.
    for v in ["a", "b", "c", "d", "last"] {
        d.publish(lock_event(v));
    }
    assert!(wait(|| d.pending() == 0).await);
    assert_eq!(slow.values(), ["first", "last"]);
    assert_eq!(metrics.delivery.coalesced.get(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_consumer_is_removed_after_consecutive_failures() {
    let (d, store, metrics) = setup(64, 2, Duration::from_millis(500));
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}/event", l.local_addr().unwrap().port())
    };
    let ok = Server::start(Mode::Answer(204)).await;
    subscribe(&store, LOCK, &dead);
    subscribe(&store, LOCK, &ok.uri());
    d.publish(lock_event("1"));
    d.publish(lock_event("2"));
    assert!(
        wait(|| store.len() == 1).await,
        "dead consumer still subscribed"
    );
    assert_eq!(store.list()[0].endpoint, ok.uri());
    assert_eq!(metrics.delivery.consumers_removed.get(), 1);
    // The last failed event was retried before it counted; the first
    // stopped retrying once a newer state was queued behind it.
    assert!(metrics.delivery.retries.get() >= u64::from(endpoint::RETRIES));
    // Delivery to the rest goes on, to the new routes.
    d.publish(lock_event("3"));
    assert!(wait(|| ok.count() == 3).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_events_are_not_failures() {
    let (d, store, metrics) = setup(64, 1, Duration::from_secs(2));
    let refuses = Server::start(Mode::Answer(500)).await;
    subscribe(&store, LOCK, &refuses.uri());
    for i in 0..3 {
        d.publish(lock_event(&i.to_string()));
    }
    assert!(wait(|| d.pending() == 0 && refuses.count() == 3).await);
    assert_eq!(store.len(), 1, "an answering consumer is not dead");
    assert_eq!(
        metrics
            .delivery
            .deliveries
            .with_label_values(&["rejected"])
            .get(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_then_stops() {
    let (d, store, _) = setup(64, 10, Duration::from_secs(2));
    let slow = Server::start(Mode::Slow(Duration::from_millis(20))).await;
    subscribe(&store, LOCK, &slow.uri());
    for i in 0..10 {
        d.publish(lock_event(&i.to_string()));
    }
    d.shutdown(Duration::from_secs(10)).await;
    assert_eq!(slow.count(), 10, "drained before shutdown returned");
    d.publish(lock_event("after"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(slow.count(), 10, "nothing taken after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_subscribers_get_the_v1_body_with_their_subscription_id() {
    let (d, store, _) = setup(16, 10, Duration::from_secs(2));
    let v1 = Server::start(Mode::Answer(204)).await;
    let v2 = Server::start(Mode::Answer(204)).await;
    let id = Uuid::new_v4();
    store
        .create(Subscription {
            id,
            resource: "/cluster/node/n1/sync/ptp-status".into(),
            endpoint: v1.uri(),
            uri_location: String::new(),
            version: ApiVersion::V1,
        })
        .unwrap();
    subscribe(&store, LOCK, &v2.uri());
    let ev = lock_event("LOCKED");
    let ev_id = ev.id;
    d.publish(ev);
    assert!(wait(|| v1.count() == 1 && v2.count() == 1).await);
    let b1: serde_json::Value = serde_json::from_slice(&v1.got.lock()[0]).unwrap();
    assert_eq!(b1["id"], id.to_string());
    assert_eq!(b1["source"], LOCK);
    assert_eq!(b1["dataContentType"], "application/json");
    assert!(b1.get("specversion").is_none());
    assert_eq!(b1["data"]["values"][0]["value"], "LOCKED");
    let b2: serde_json::Value = serde_json::from_slice(&v2.got.lock()[0]).unwrap();
    assert_eq!(b2["id"], ev_id.to_string());
    assert_eq!(b2["specversion"], "1.0");
}
