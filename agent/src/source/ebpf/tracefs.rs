//! tracefs: tracepoints are attached through their ids under
//! `/sys/kernel/tracing/events`, so tracefs must be mounted.

use std::path::Path;

const TRACEFS: &str = "/sys/kernel/tracing";

/// Mounts tracefs on `/sys/kernel/tracing` when it is missing (as
/// `mount -t tracefs nodev /sys/kernel/tracing`). Returns true when this
/// call mounted it.
///
/// # Errors
/// The mount failed (no privilege, no tracefs in this kernel).
pub(crate) fn ensure_mounted() -> Result<bool, nix::Error> {
    if Path::new(TRACEFS).join("events").is_dir() {
        return Ok(false);
    }
    nix::mount::mount(
        Some("nodev"),
        TRACEFS,
        Some("tracefs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )?;
    Ok(true)
}
