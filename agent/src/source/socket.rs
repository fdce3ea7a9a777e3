//! The linuxptp-daemon line protocol on a Unix socket (§3.1). Interim.

use std::path::PathBuf;

use crate::engine::EngineHandle;

pub struct SocketSource {
    pub path: PathBuf,
    pub engine: EngineHandle,
}

impl SocketSource {
    /// Binds the socket and serves connections until the task is dropped.
    ///
    /// # Errors
    /// The socket cannot be bound.
    pub async fn run(self) -> std::io::Result<()> {
        let _ = (&self.path, &self.engine);
        std::future::pending::<()>().await;
        Ok(())
    }
}
