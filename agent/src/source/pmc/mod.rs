//! ptp4l's management socket, spoken as `pmc` does: subscribe to
//! port-state notifications (`SUBSCRIBE_EVENTS_NP`),
//! read the port states, the parent data set's clock class and
//! `TIME_STATUS_NP`, and hand them to the engine as typed facts of that
//! ptp4l. Duplicates of the log's own port lines are harmless: the engine
//! acts on changes only.
//!
//! One client per ptp4l: per running ptp4l the eBPF source found (its
//! socket reached through `/proc/<pid>/root`), else per ptp4l config of the
//! profiles (its `uds_address`, else `--ptp4l-uds`). Each binds its reply
//! socket beside ptp4l's own, as `pmc` does, so it works when the agent
//! and ptp4l have different /tmp. A client that was answered and then is
//! refused, finds the socket gone or hears nothing for [`SILENCE`] tells
//! the engine that ptp4l died: the liveness of socket mode.
//!
//! linuxptp 3.1.1 has no parent-data-set notification (4.0 has, and we
//! subscribe to it too), so the class is also polled.

mod daemons;
pub(crate) mod wire;

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UnixDatagram;
use tokio::task::JoinHandle;
use tracing::{debug, info, trace, warn};

pub(crate) use daemons::Daemons;

use crate::engine::parse::port::PortState;
use crate::engine::profiles::file::is_config_name;
use crate::engine::{EngineHandle, Origin, What};

/// ptp4l's default management socket.
pub(crate) const DEFAULT_UDS: &str = "/var/run/ptp4l";
/// Requests go out this often; a dead ptp4l refuses the next one.
const POLL: Duration = Duration::from_millis(250);
const CHECK: Duration = Duration::from_millis(500);
/// No answer for this long from a ptp4l that answered: it stopped working.
const SILENCE: Duration = Duration::from_millis(1500);
const SUBSCRIPTION: u16 = 180;
const RENEW: Duration = Duration::from_secs(60);
const EVENTS: &[usize] = &[wire::NOTIFY_PORT_STATE, wire::NOTIFY_PARENT_DATA_SET];

/// One ptp4l to follow: whose facts, and where its socket is.
type Target = (Origin, PathBuf);

/// Runs one client per ptp4l (see the module doc), following changes.
pub(crate) async fn supervise(engine: EngineHandle, daemons: Daemons, fallback: PathBuf) {
    let mut clients: HashMap<Target, JoinHandle<()>> = HashMap::new();
    let mut warned = HashSet::new();
    loop {
        let want = match daemons.targets() {
            Some(t) => unshared(t, &mut warned),
            None => profile_targets(&engine, &fallback),
        };
        clients.retain(|k, h| {
            let keep = want.contains(k) && !h.is_finished();
            if !keep {
                h.abort();
            }
            keep
        });
        for k in want {
            if let std::collections::hash_map::Entry::Vacant(v) = clients.entry(k) {
                let (origin, path) = v.key().clone();
                debug!(uds = %path.display(), pid = origin.pid.unwrap_or(0), config = %origin.config.as_deref().unwrap_or("none"), "ptp4l management client started");
                v.insert(tokio::spawn(client(engine.clone(), origin, path)));
            }
        }
        tokio::time::sleep(CHECK).await;
    }
}

/// The targets whose socket file is theirs alone. Several ptp4l that use
/// one path (ptp4l's default `/var/run/ptp4l` in one filesystem, from
/// different network namespaces) leave one file, bound by the last of them:
/// which one answers there cannot be told, so none of them is followed
/// (their exits still come from the kernel).
fn unshared(targets: Vec<Target>, warned: &mut HashSet<PathBuf>) -> Vec<Target> {
    use std::os::unix::fs::MetadataExt;
    let ids: Vec<Option<(u64, u64)>> = targets
        .iter()
        .map(|(_, p)| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino())))
        .collect();
    targets
        .into_iter()
        .enumerate()
        .filter(|(i, (_, path))| {
            let shared = ids[*i].is_some() && ids.iter().filter(|x| **x == ids[*i]).count() > 1;
            if shared && warned.insert(path.clone()) {
                warn!(uds = %path.display(), "several ptp4l use this management socket path (set uds_address per ptp4l): not followed");
            }
            !shared
        })
        .map(|(_, t)| t)
        .collect()
}

/// The ptp4l configs of the profiles (socket mode), or the fallback. A
/// config is a ptp4l's by its name (`ptp4l.N.config`), or, whatever it is
/// called (`slave.cfg`), once the engine saw ptp4l's lines with its tag:
/// never is a ts2phc or phc2sys config (whose `uds_address` names the
/// ptp4l it talks to) taken for a ptp4l.
fn profile_targets(engine: &EngineHandle, fallback: &Path) -> Vec<Target> {
    let (set, seen) = engine.with(|e, _| {
        let set = e.profiles().clone();
        let seen: Vec<bool> = set.configs.iter().map(|c| e.is_ptp4l(&c.config)).collect();
        (set, seen)
    });
    let origin = |config: Option<&str>| Origin {
        process: Some("ptp4l".into()),
        config: config.map(Into::into),
        ..Origin::default()
    };
    let mut want: Vec<Target> = set
        .configs
        .iter()
        .zip(seen)
        .filter(|(c, seen)| c.config.starts_with("ptp4l.") || (*seen && !is_config_name(&c.config)))
        .map(|(c, _)| {
            let path = c.uds_address.clone().unwrap_or_else(|| fallback.to_owned());
            (origin(Some(&c.config)), path)
        })
        .collect();
    if want.is_empty() {
        want.push((origin(None), fallback.to_owned()));
    }
    want
}

/// Our socket files left beside `uds` by agents that were killed.
fn remove_stale_sockets(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
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

/// Connects whenever the socket exists; tells the engine when a ptp4l
/// that answered is gone.
async fn client(engine: EngineHandle, origin: Origin, uds: PathBuf) {
    if let Some(dir) = uds.parent() {
        remove_stale_sockets(dir);
    }
    let mut warned = false;
    loop {
        // A socket path shared by several ptp4l belongs to one of them: a
        // daemon is followed only through a socket it bound itself.
        let exists = uds.exists();
        trace!(uds = %uds.display(), exists, "ptp4l management socket check");
        let own = exists && origin.daemon.is_none_or(|d| daemons::owned_by(d.pid, &uds));
        if exists && !own && !warned {
            warn!(uds = %uds.display(), pid = origin.pid.unwrap_or(0), "ptp4l's management socket is not (yet) bound by that ptp4l (several ptp4l on one path need uds_address each); not followed until it is");
            warned = true;
        }
        if own {
            let mut answered = false;
            let r = session(&engine, &origin, &uds, &mut answered).await;
            match &r {
                Ok(()) => debug!(uds = %uds.display(), "ptp4l stopped answering"),
                Err(e) => {
                    debug!(uds = %uds.display(), error = %e, "ptp4l management session ended");
                }
            }
            if answered {
                info!(uds = %uds.display(), config = %origin.config.as_deref().unwrap_or("none"), "ptp4l's management socket stopped answering: its clocks run free");
                engine.apply_in_order(origin.clone(), Instant::now(), What::Exited);
            } else if let Err(e) = r
                && !warned
            {
                warn!(uds = %uds.display(), error = %e, "ptp4l management socket not usable");
                warned = true;
            }
        }
        tokio::time::sleep(POLL).await;
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

/// Binds beside `uds`, as pmc does (`/var/run/pmc.<pid>`): a file path,
/// not an abstract name, since ptp4l may live in another network
/// namespace, and beside its socket, since it may have another /tmp. A
/// socket reached through `/proc/<pid>/root` is bound from inside that
/// process's mount namespace, so the address ptp4l answers to is a path
/// of its own filesystem (ptp4l in a container has its own /proc).
fn bind(uds: &Path, pid: Option<u32>) -> io::Result<Local> {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let name = format!("cloud-event-agent.{}.{n}.pmc", std::process::id());
    let dir = uds.parent().unwrap_or_else(|| Path::new("/"));
    let path = dir.join(&name);
    let _ = std::fs::remove_file(&path);
    let inner = pid.and_then(|p| {
        let root = PathBuf::from(format!("/proc/{p}/root"));
        let rest = uds.strip_prefix(&root).ok()?;
        Some((p, Path::new("/").join(rest)))
    });
    let std_sock = match inner {
        Some((p, inner)) => match bind_in_mount_ns(p, &inner, &name) {
            Ok(s) => s,
            Err(e) => {
                debug!(error = %e, "binding inside ptp4l's mount namespace failed; binding through /proc");
                bind_here(&path, uds)?
            }
        },
        None => bind_here(&path, uds)?,
    };
    std_sock.set_nonblocking(true)?;
    let sock = UnixDatagram::from_std(std_sock)?;
    Ok(Local { sock, path })
}

fn bind_here(path: &Path, uds: &Path) -> io::Result<std::os::unix::net::UnixDatagram> {
    let s = std::os::unix::net::UnixDatagram::bind(path)?;
    s.connect(uds)?;
    Ok(s)
}

/// Binds `<dir of inner>/<name>` and connects to `inner` on a thread that
/// entered `pid`'s mount namespace (the thread ends with it).
fn bind_in_mount_ns(
    pid: u32,
    inner: &Path,
    name: &str,
) -> io::Result<std::os::unix::net::UnixDatagram> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))?;
    let inner = inner.to_owned();
    let name = name.to_owned();
    std::thread::spawn(move || {
        // unshare and setns act on this thread only (CLONE_FS first, so the
        // namespace change does not reach the other threads).
        use nix::sched::{CloneFlags, setns, unshare};
        unshare(CloneFlags::CLONE_FS)
            .and_then(|()| setns(&ns, CloneFlags::CLONE_NEWNS))
            .map_err(io::Error::from)?;
        let dir = inner.parent().unwrap_or_else(|| Path::new("/"));
        let here = dir.join(&name);
        let _ = std::fs::remove_file(&here);
        bind_here(&here, &inner)
    })
    .join()
    .map_err(|_| io::Error::other("bind thread panicked"))?
}

/// One connection: subscribe, snapshot, then follow. `answered` is set
/// once ptp4l has answered.
async fn session(
    engine: &EngineHandle,
    origin: &Origin,
    uds: &Path,
    answered: &mut bool,
) -> io::Result<()> {
    let local = bind(uds, origin.daemon.map(|d| d.pid))?;
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
    let mut ports: HashMap<u16, PortState> = HashMap::new();
    let mut class: Option<u8> = None;
    let (mut last_heard, mut subscribed) = (Instant::now(), Instant::now());
    let mut buf = vec![0u8; 1500];
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = sock.recv(&mut buf) => {
                let n = r?;
                // Garbage does not count as an answer.
                let Some(reply) = wire::parse(&buf[..n]) else {
                    continue;
                };
                last_heard = Instant::now();
                if !*answered {
                    info!(uds = %uds.display(), config = %origin.config.as_deref().unwrap_or("none"), "following ptp4l through its management socket");
                    *answered = true;
                }
                handle(engine, origin, &reply, &mut ports, &mut class);
            }
            _ = poll.tick() => {
                if last_heard.elapsed() > SILENCE || !uds.exists() {
                    return Ok(());
                }
                if subscribed.elapsed() > RENEW {
                    sock.send(&wire::subscribe(next(), SUBSCRIPTION, EVENTS)).await?;
                    subscribed = Instant::now();
                }
                for id in [wire::PARENT_DATA_SET, wire::TIME_STATUS_NP] {
                    sock.send(&wire::request(wire::Action::Get, id, next(), &[])).await?;
                }
            }
        }
    }
}

/// Hands what changed to the engine, after the log lines written before it.
fn handle(
    engine: &EngineHandle,
    origin: &Origin,
    r: &wire::Reply<'_>,
    ports: &mut HashMap<u16, PortState>,
    class: &mut Option<u8>,
) {
    let what = match r.id {
        wire::PORT_DATA_SET => {
            let Some((port, state)) = wire::port_state(r.data) else {
                return;
            };
            if ports.insert(port, state) == Some(state) {
                return;
            }
            What::PortState { port, state }
        }
        wire::PARENT_DATA_SET => {
            let Some(c) = wire::gm_clock_class(r.data) else {
                return;
            };
            if *class == Some(c) {
                return;
            }
            *class = Some(c);
            What::ClockClass(c)
        }
        wire::TIME_STATUS_NP => {
            let Some((master_offset, gm_present)) = wire::time_status(r.data) else {
                return;
            };
            What::TimeStatus {
                master_offset,
                gm_present,
            }
        }
        _ => return,
    };
    debug!(?what, "from ptp4l's management socket");
    engine.apply_in_order(origin.clone(), Instant::now(), what);
}

#[cfg(test)]
mod tests;
