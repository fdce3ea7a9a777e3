//! The linuxptp-daemon line protocol on a Unix stream socket: many
//! concurrent writers, one task each, newline-framed lines of up to 64 KiB.
//! Unlike the anchor, a longer line is discarded and counted and the
//! connection stays open; `CMD RESTART` resets the engine instead of
//! re-executing the agent.

mod conn;
#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::engine::EngineHandle;
use crate::metrics::SocketLines;

/// Longest accepted line, without its newline (Go's `bufio.Scanner` limit).
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// A socket file that answers no connection within this is stale.
const STALE_PROBE: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub(crate) enum SocketError {
    #[error("binding the log socket {path}: {source}")]
    Bind { path: PathBuf, source: io::Error },
    #[error("the log socket {path} is in use by a live process")]
    InUse { path: PathBuf },
    #[error("removing the stale log socket {path}: {source}")]
    RemoveStale { path: PathBuf, source: io::Error },
}

pub(crate) struct SocketSource {
    pub path: PathBuf,
    pub engine: EngineHandle,
    pub lines: SocketLines,
}

impl SocketSource {
    /// Binds the socket and serves connections until the future is dropped,
    /// which removes the socket file and closes every connection.
    ///
    /// # Errors
    /// The socket cannot be bound.
    pub(crate) async fn run(self) -> Result<(), SocketError> {
        self.bind().await?.serve().await;
        Ok(())
    }

    /// Binds `path`, replacing a stale socket file (one that accepts no
    /// connection within 100 ms); a live one is an error.
    ///
    /// # Errors
    /// The socket cannot be bound, or another process serves it.
    pub(crate) async fn bind(self) -> Result<Bound, SocketError> {
        let listener = match UnixListener::bind(&self.path) {
            Ok(l) => l,
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                let probe = tokio::time::timeout(STALE_PROBE, UnixStream::connect(&self.path));
                if matches!(probe.await, Ok(Ok(_))) {
                    return Err(SocketError::InUse { path: self.path });
                }
                info!(path = %self.path.display(), "removing stale log socket");
                std::fs::remove_file(&self.path).map_err(|source| SocketError::RemoveStale {
                    path: self.path.clone(),
                    source,
                })?;
                UnixListener::bind(&self.path).map_err(|source| SocketError::Bind {
                    path: self.path.clone(),
                    source,
                })?
            }
            Err(source) => {
                return Err(SocketError::Bind {
                    path: self.path,
                    source,
                });
            }
        };
        info!(path = %self.path.display(), "log socket listening");
        Ok(Bound {
            listener,
            _file: SocketFile(self.path),
            engine: self.engine,
            lines: self.lines,
        })
    }
}

/// A bound socket, ready to serve. Dropping it removes the socket file.
pub(crate) struct Bound {
    listener: UnixListener,
    _file: SocketFile,
    engine: EngineHandle,
    lines: SocketLines,
}

impl Bound {
    /// Accepts connections forever, one task each; the tasks end with this
    /// future.
    pub(crate) async fn serve(self) {
        let mut conns = JoinSet::new();
        loop {
            while conns.try_join_next().is_some() {}
            match self.listener.accept().await {
                Ok((stream, _)) => {
                    debug!("log socket connection accepted");
                    conns.spawn(conn::serve(stream, self.engine.clone(), self.lines.clone()));
                }
                Err(e) => {
                    // Out of descriptors and the like: pause, keep serving.
                    warn!(error = %e, "accepting on the log socket failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Removes the socket file on drop (shutdown, or the source task aborted).
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        remove_quietly(&self.0);
    }
}

fn remove_quietly(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != io::ErrorKind::NotFound
    {
        warn!(path = %path.display(), error = %e, "could not remove the log socket");
    }
}
