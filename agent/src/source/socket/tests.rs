//! The socket source against real Unix sockets in a temporary directory.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use super::{SocketError, SocketSource};
use crate::engine::tests::Recorder;
use crate::engine::{Engine, EngineHandle, Sink, Snapshot, Thresholds};
use crate::event::EventKind;
use crate::metrics::{PtpMetrics, SocketLines};

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    rec: Arc<Recorder>,
    engine: EngineHandle,
    lines: SocketLines,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.sock");
        let metrics = PtpMetrics::unregistered().unwrap();
        let rec = Arc::new(Recorder::default());
        let engine = EngineHandle::new(
            Engine::new("n1".into(), Thresholds::default(), metrics.clone()),
            rec.clone() as Arc<dyn Sink>,
        );
        Self {
            _dir: dir,
            path,
            rec,
            engine,
            lines: metrics.socket_lines(),
        }
    }

    fn source(&self) -> SocketSource {
        SocketSource {
            path: self.path.clone(),
            engine: self.engine.clone(),
            lines: self.lines.clone(),
        }
    }

    /// Binds and serves on a task; aborting it removes the socket file.
    async fn start(&self) -> tokio::task::JoinHandle<()> {
        let bound = self.source().bind().await.unwrap();
        tokio::spawn(bound.serve())
    }

    fn addresses(&self) -> Vec<String> {
        self.rec.take().into_iter().map(|(_, a, _, _)| a).collect()
    }
}

/// Waits (without a deadline assertion on speed) until `cond` holds.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

async fn send(path: &Path, text: &[u8]) -> UnixStream {
    let mut s = UnixStream::connect(path).await.unwrap();
    s.write_all(text).await.unwrap();
    s
}

#[tokio::test]
async fn two_concurrent_connections_and_learnt_origin() {
    let f = Fixture::new();
    let task = f.start().await;
    let mut a = send(&f.path, b"ptp4l[1]:[ptp4l.0.config] PTP_PROCESS_STATUS:1\n").await;
    let mut b = send(&f.path, b"ptp4l[1]:[ptp4l.1.config] PTP_PROCESS_STATUS:1\n").await;
    eventually("both status lines", || f.lines.ok.get() == 2).await;
    // Untagged lines: each connection's own origin places them.
    a.write_all(b"master offset 5 s2 freq 1 path delay 2\n")
        .await
        .unwrap();
    eventually("a's line", || f.lines.ok.get() == 3).await;
    b.write_all(b"master offset 7 s2 freq 1 path delay 2\n")
        .await
        .unwrap();
    eventually("b's line", || f.lines.ok.get() == 4).await;
    let addrs = f.addresses();
    assert!(addrs.contains(&"/cluster/node/n1/ptp4l.0.config/master".to_owned()));
    assert!(addrs.contains(&"/cluster/node/n1/ptp4l.1.config/master".to_owned()));
    task.abort();
    let _ = task.await;
    assert!(!f.path.exists(), "socket file removed on shutdown");
}

#[tokio::test]
async fn cmd_restart_resets_and_live_start_is_ignored() {
    let f = Fixture::new();
    let _task = f.start().await;
    let _a = send(
        &f.path,
        b"CMD LIVE_START\nptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq 1 path delay 2\n",
    )
    .await;
    eventually("line used", || f.lines.ok.get() == 1).await;
    assert_eq!(f.lines.ignored.get(), 1);
    assert!(matches!(
        f.engine.snapshot(EventKind::LockState),
        Snapshot::Values(_)
    ));
    let _b = send(&f.path, b"CMD RESTART\n").await;
    eventually("restart", || f.lines.ok.get() == 2).await;
    assert_eq!(f.engine.snapshot(EventKind::LockState), Snapshot::NotSet);
}

#[tokio::test]
async fn oversize_line_is_discarded_and_the_connection_continues() {
    let f = Fixture::new();
    let _task = f.start().await;
    let mut text = vec![b'x'; super::MAX_LINE + 1];
    text.extend_from_slice(
        b"\nptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq 1 path delay 2\n",
    );
    // Exactly the limit is still a line (ignored: not a known message).
    text.extend(std::iter::repeat_n(b'y', super::MAX_LINE));
    text.extend_from_slice(b"\n");
    // Far beyond the buffer: discarded in chunks.
    text.extend(std::iter::repeat_n(b'z', 1 << 20));
    text.extend_from_slice(
        b"\nptp4l[1.0]: [ptp4l.1.config] master offset 5 s2 freq 1 path delay 2",
    );
    let mut s = send(&f.path, &text).await;
    s.shutdown().await.unwrap();
    eventually("both servo lines", || f.lines.ok.get() == 2).await;
    assert_eq!(f.lines.oversize.get(), 2);
    assert_eq!(f.lines.ignored.get(), 1);
    assert_eq!(f.rec.take().len(), 3, "lock-state, sync-state, lock-state");
}

#[tokio::test]
async fn garbage_is_counted_and_the_source_keeps_going() {
    let f = Fixture::new();
    let _task = f.start().await;
    let mut s = send(
        &f.path,
        b"\xff\xfe not utf8\nptp4l[1.0]: [ptp4l.0.config] master offset 1e9 s2 freq 1 path delay 2\nport 1: hello\n\r\n",
    )
    .await;
    eventually("garbage counted", || f.lines.invalid.get() == 2).await;
    s.write_all(b"ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq 1 path delay 2\r\n")
        .await
        .unwrap();
    eventually("good line after garbage", || f.lines.ok.get() == 1).await;
    assert_eq!(f.lines.ignored.get(), 2);
}

#[tokio::test]
async fn stale_socket_file_is_replaced_live_one_refused() {
    let f = Fixture::new();
    // A socket file nobody listens on any more.
    drop(std::os::unix::net::UnixListener::bind(&f.path).unwrap());
    assert!(f.path.exists());
    let task = f.start().await;
    let _s = send(&f.path, b"ptp4l[1]:[ptp4l.0.config] PTP_PROCESS_STATUS:1\n").await;
    eventually("served after replacing", || f.lines.ok.get() == 1).await;

    // While it serves, a second source must not steal the path.
    match f.source().bind().await {
        Err(SocketError::InUse { .. }) => {}
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("bound a live socket"),
    }
    assert!(f.path.exists());
    task.abort();
    let _ = task.await;
    assert!(!f.path.exists());
}

/// Records, at each published event, how many lines the source had taken.
struct CountAtPublish {
    lines: SocketLines,
    at: parking_lot::Mutex<Vec<u64>>,
}

impl CountAtPublish {
    fn taken(&self) -> u64 {
        self.lines.ok.get() + self.lines.ignored.get() + self.lines.invalid.get()
    }
}

impl Sink for CountAtPublish {
    fn publish(&self, _: crate::event::Event) {
        let n = self.taken();
        self.at.lock().push(n);
    }
}

/// A connection that never stops writing cannot keep another connection's
/// state-changing line waiting behind it: the flooder gets a bounded turn
/// (counted in lines, not timed). Without the per-connection line budget
/// the flooder kept the only worker for tokio's whole budget of reads
/// (over ten thousand lines) per turn.
#[tokio::test]
async fn a_flooding_connection_takes_turns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sock");
    let metrics = PtpMetrics::unregistered().unwrap();
    let lines = metrics.socket_lines();
    let sink = Arc::new(CountAtPublish {
        lines: lines.clone(),
        at: parking_lot::Mutex::new(Vec::new()),
    });
    let engine = EngineHandle::new(
        Engine::new("n1".into(), Thresholds::default(), metrics),
        sink.clone() as Arc<dyn Sink>,
    );
    let source = SocketSource {
        path: path.clone(),
        engine,
        lines,
    };
    let task = tokio::spawn(source.bind().await.unwrap().serve());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooder = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
            let block = b"no linuxptp line, flooding the socket\n".repeat(2000);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if s.write_all(&block).is_err() {
                    return;
                }
            }
        })
    };
    eventually("the flood is read", || sink.taken() > 50_000).await;
    let before = sink.taken();
    let _b = send(
        &path,
        b"ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq 1 path delay 2\n",
    )
    .await;
    eventually("the state change", || !sink.at.lock().is_empty()).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    task.abort();
    let _ = task.await;
    let _ = flooder.join();
    let flood_lines = sink.at.lock()[0] - before;
    assert!(
        flood_lines < 5_000,
        "{flood_lines} flood lines taken before the other connection's line"
    );
}
