use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::engine::{Engine, Origin, Sink, Thresholds};
use crate::event::DataValue;
use crate::metrics::Metrics;
use crate::store::{Store, Subscriptions};
use crate::transport::DeliveryConfig;

fn current() -> (Arc<Current>, EngineHandle) {
    let metrics = Arc::new(Metrics::new().unwrap());
    let d = Dispatcher::new(
        DeliveryConfig {
            node: "n1".into(),
            timeout: Duration::from_secs(1),
            queue_capacity: 4,
            max_consecutive_failures: 0,
            idle: Duration::from_secs(30),
            v1_keys: crate::event::ValueKeys::Legacy,
        },
        crate::transport::test_outbound(),
        metrics.clone(),
        Arc::new(Store::in_memory()) as Arc<dyn Subscriptions>,
    );
    let engine = EngineHandle::new(
        Engine::new("n1".into(), Thresholds::default(), metrics.ptp.clone()),
        d.clone() as Arc<dyn Sink>,
    );
    (Current::new(engine.clone(), d), engine)
}

fn values(ev: &Event) -> Vec<(String, String)> {
    ev.values
        .iter()
        .map(|v| (v.resource_address.clone(), v.value.clone()))
        .collect()
}

/// The engine's values win over a published event of the same kind; the
/// engine's events are not copied, so after a reset the published event is
/// the state again, not the engine's stale LOCKED.
#[test]
fn engine_values_first_then_the_last_published_event() {
    let (cur, engine) = current();
    assert!(cur.get(EventKind::LockState).is_none());
    let ph = cur.or_placeholder(EventKind::LockState);
    assert!(ph.values[0].resource_address.ends_with("/ptp-not-set"));

    let published = Event::new(
        EventKind::LockState,
        vec![DataValue::state(
            "/cluster/node/n1/ens9fx/master".into(),
            "HOLDOVER",
        )],
    );
    cur.publish(published.clone());
    assert_eq!(cur.get(EventKind::LockState).unwrap().id, published.id);
    assert_eq!(cur.or_placeholder(EventKind::LockState).id, published.id);

    let origin = Origin {
        process: Some("ptp4l".into()),
        config: Some("ptp4l.0.config".into()),
        ..Origin::default()
    };
    engine.ingest_line(
        &origin,
        b"ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq 1 path delay 2",
    );
    let from_engine = cur.get(EventKind::LockState).unwrap();
    assert_ne!(from_engine.id, published.id);
    assert!(
        values(&from_engine)
            .iter()
            .any(|(_, v)| v.contains("LOCKED")),
        "{:?}",
        values(&from_engine)
    );

    engine.reset();
    let after = cur.get(EventKind::LockState).unwrap();
    assert_eq!(after.id, published.id);
    assert_eq!(values(&after), values(&published));
}
