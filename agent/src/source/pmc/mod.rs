//! ptp4l's management socket, spoken as `pmc` does (§3.3 "Clock class",
//! §3.6): subscribe to port-state notifications (`SUBSCRIBE_EVENTS_NP`),
//! read the port states and the parent data set's clock class, and hand
//! what changed to the engine as the lines the linuxptp-daemon would write
//! (`port N: A to B`, `CLOCK_CLASS_CHANGE N`). Duplicates of the log's own
//! port lines are harmless: the engine acts on changes only.
//!
//! One client per ptp4l config (its `uds_address`, else `--ptp4l-uds`).
//! linuxptp 3.1.1 has no parent-data-set notification (4.0 has, and we
//! subscribe to it too), so the class is also polled every second.

pub mod wire;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UnixDatagram;
use tokio::task::JoinHandle;
use tracing::{debug, info};

use crate::engine::{EngineHandle, Origin};

/// ptp4l's default management socket.
pub const DEFAULT_UDS: &str = "/var/run/ptp4l";
const POLL: Duration = Duration::from_secs(1);
const CHECK: Duration = Duration::from_secs(2);
/// No answer for this long: ptp4l is gone, reconnect.
const SILENCE: Duration = Duration::from_secs(5);
const SUBSCRIPTION: u16 = 180;
const RENEW: Duration = Duration::from_secs(60);
const EVENTS: &[usize] = &[wire::NOTIFY_PORT_STATE, wire::NOTIFY_PARENT_DATA_SET];

/// Runs one client per ptp4l config found in the engine's profiles (or one
/// for `fallback` when there are none), following profile changes.
pub async fn supervise(engine: EngineHandle, fallback: PathBuf) {
    remove_stale_sockets();
    let mut clients: HashMap<(Option<String>, PathBuf), JoinHandle<()>> = HashMap::new();
    loop {
        let set = engine.with(|e, _| e.profiles().clone());
        let mut want: Vec<(Option<String>, PathBuf)> = set
            .configs
            .iter()
            .filter(|c| c.config.starts_with("ptp4l."))
            .map(|c| {
                let path = c.uds_address.clone().unwrap_or_else(|| fallback.clone());
                (Some(c.config.clone()), path)
            })
            .collect();
        if want.is_empty() {
            want.push((None, fallback.clone()));
        }
        clients.retain(|k, h| {
            let keep = want.contains(k);
            if !keep {
                h.abort();
            }
            keep
        });
        for k in want {
            if let std::collections::hash_map::Entry::Vacant(v) = clients.entry(k) {
                let (config, path) = v.key().clone();
                v.insert(tokio::spawn(client(engine.clone(), config, path)));
            }
        }
        tokio::time::sleep(CHECK).await;
    }
}

/// Our socket files left by agents that were killed.
fn remove_stale_sockets() {
    let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("cloud-event-agent."))
            .filter(|n| n.ends_with(".pmc"))
            .and_then(|n| n.split('.').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Connects whenever the socket exists; runs until ptp4l stops answering.
async fn client(engine: EngineHandle, config: Option<String>, uds: PathBuf) {
    let origin = Origin {
        process: Some("ptp4l".into()),
        config: config.as_deref().map(Arc::from),
        ..Origin::default()
    };
    loop {
        if uds.exists() {
            match session(&engine, &origin, &uds).await {
                Ok(()) => debug!(uds = %uds.display(), "ptp4l stopped answering."),
                Err(e) => {
                    debug!(uds = %uds.display(), error = %e, "ptp4l management session ended.");
                }
            }
        }
        tokio::time::sleep(CHECK).await;
    }
}

/// Our end of the socket; its file goes when the session ends.
struct Local {
    sock: UnixDatagram,
    path: PathBuf,
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn bind(uds: &Path) -> io::Result<Local> {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    // A file path, not an abstract name: ptp4l may live in another network
    // namespace, and abstract names are per namespace.
    let path =
        std::env::temp_dir().join(format!("cloud-event-agent.{}.{n}.pmc", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path)?;
    let local = Local { sock, path };
    local.sock.connect(uds)?;
    Ok(local)
}

/// One connection: subscribe, snapshot, then follow.
async fn session(engine: &EngineHandle, origin: &Origin, uds: &Path) -> io::Result<()> {
    let local = bind(uds)?;
    let mut seq: u16 = 0;
    let mut next = || {
        seq = seq.wrapping_add(1);
        seq
    };
    let sock = &local.sock;
    sock.send(&wire::subscribe(next(), SUBSCRIPTION, EVENTS))
        .await?;
    sock.send(&wire::request(
        wire::Action::Get,
        wire::PORT_DATA_SET,
        next(),
        &[],
    ))
    .await?;
    let mut ports: HashMap<u16, &'static str> = HashMap::new();
    let mut class: Option<u8> = None;
    let (mut last_heard, mut subscribed) = (Instant::now(), Instant::now());
    let mut announced = false;
    let mut buf = vec![0u8; 1500];
    let mut poll = tokio::time::interval(POLL);
    loop {
        tokio::select! {
            r = sock.recv(&mut buf) => {
                let n = r?;
                last_heard = Instant::now();
                if !announced {
                    info!(uds = %uds.display(), "Following ptp4l through its management socket.");
                    announced = true;
                }
                if let Some(reply) = wire::parse(&buf[..n]) {
                    handle(engine, origin, &reply, &mut ports, &mut class);
                }
            }
            _ = poll.tick() => {
                if last_heard.elapsed() > SILENCE {
                    return Ok(());
                }
                if subscribed.elapsed() > RENEW {
                    sock.send(&wire::subscribe(next(), SUBSCRIPTION, EVENTS)).await?;
                    subscribed = Instant::now();
                }
                sock.send(&wire::request(wire::Action::Get, wire::PARENT_DATA_SET, next(), &[])).await?;
            }
        }
    }
}

/// Turns a reply into the daemon's lines, when something changed.
fn handle(
    engine: &EngineHandle,
    origin: &Origin,
    r: &wire::Reply<'_>,
    ports: &mut HashMap<u16, &'static str>,
    class: &mut Option<u8>,
) {
    // Untagged: the engine takes the config from `origin`, so an unchanged
    // reply costs no allocation.
    let line = match r.id {
        wire::PORT_DATA_SET => {
            let Some((port, state)) = wire::port_state(r.data) else {
                return;
            };
            let prev = ports.insert(port, state);
            if prev == Some(state) {
                return;
            }
            // The first sight of a port: from = to (sets the role, no fault).
            let from = prev.unwrap_or(state);
            format!("ptp4l[pmc]: port {port}: {from} to {state} on PMC_NOTIFICATION")
        }
        wire::PARENT_DATA_SET => {
            let Some(c) = wire::gm_clock_class(r.data) else {
                return;
            };
            if *class == Some(c) {
                return;
            }
            *class = Some(c);
            format!("ptp4l[pmc]: CLOCK_CLASS_CHANGE {c}")
        }
        _ => return,
    };
    debug!(line = %line, "From ptp4l's management socket.");
    engine.ingest_line(origin, line.as_bytes());
}
