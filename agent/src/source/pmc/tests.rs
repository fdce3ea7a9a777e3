//! The management client against a socket that is not ptp4l: one that
//! answers garbage changes nothing; one that answered and then hangs is a
//! dead ptp4l (FREERUN, class cleared).

use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixDatagram;

use super::{Origin, client, wire};
use crate::engine::tests::Recorder;
use crate::engine::{Engine, EngineHandle, Sink, Snapshot, Thresholds};
use crate::event::EventKind;
use crate::metrics::PtpMetrics;

fn engine() -> (EngineHandle, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let e = Engine::new(
        "n1".into(),
        Thresholds::default(),
        PtpMetrics::unregistered().unwrap(),
    );
    (EngineHandle::new(e, rec.clone() as Arc<dyn Sink>), rec)
}

fn origin() -> Origin {
    Origin {
        process: Some("ptp4l".into()),
        config: Some("ptp4l.0.config".into()),
        ..Origin::default()
    }
}

/// A PARENT_DATA_SET reply with grandmaster class `class`.
fn class_reply(class: u8) -> Vec<u8> {
    let mut data = [0u8; 32];
    data[19] = class;
    let mut m = wire::request(wire::Action::Get, wire::PARENT_DATA_SET, 1, &data);
    m[46] = wire::Action::Response as u8;
    m
}

/// Serves `uds` for `answer_for`, answering each request with `reply`,
/// then reads and drops requests without answering (a hung ptp4l).
async fn fake_ptp4l(sock: UnixDatagram, reply: Vec<u8>, answer_for: Duration) {
    let until = tokio::time::Instant::now() + answer_for;
    let mut buf = [0u8; 1500];
    loop {
        let Ok((_, from)) = sock.recv_from(&mut buf).await else {
            return;
        };
        if tokio::time::Instant::now() < until
            && let Some(p) = from.as_pathname()
        {
            let _ = sock.send_to(&reply, p).await;
        }
    }
}

#[tokio::test]
async fn garbage_changes_nothing_and_a_hang_is_a_death() {
    let d = tempfile::tempdir().unwrap();
    // Garbage forever: never an answer, so never a death either.
    let (e, rec) = engine();
    e.ingest_line(
        &origin(),
        b"ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq 1 path delay 2",
    );
    rec.take();
    let path = d.path().join("garbage");
    let sock = UnixDatagram::bind(&path).unwrap();
    let server = tokio::spawn(fake_ptp4l(sock, b"\x0d\x02garbage".to_vec(), Duration::MAX));
    let c = tokio::spawn(client(e.clone(), origin(), path));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(rec.take().is_empty());
    c.abort();
    server.abort();

    // Valid answers (class 6), then silence: FREERUN and no class left.
    let (e, rec) = engine();
    e.ingest_line(
        &origin(),
        b"ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq 1 path delay 2",
    );
    rec.take();
    let path = d.path().join("hangs");
    let sock = UnixDatagram::bind(&path).unwrap();
    let server = tokio::spawn(fake_ptp4l(sock, class_reply(6), Duration::from_millis(800)));
    let c = tokio::spawn(client(e.clone(), origin(), path));
    let mut freed = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if rec
            .0
            .lock()
            .iter()
            .any(|ev| ev.kind == EventKind::LockState && ev.values[0].value == "FREERUN")
        {
            freed = true;
            break;
        }
    }
    assert!(freed, "{:?}", rec.0.lock());
    assert!(
        rec.0
            .lock()
            .iter()
            .any(|ev| ev.kind == EventKind::ClockClass),
        "the class was never read"
    );
    assert_eq!(e.snapshot(EventKind::ClockClass), Snapshot::NotFound);
    c.abort();
    server.abort();
}
