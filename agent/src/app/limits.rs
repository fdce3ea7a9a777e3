//! Process limits at start: the open-file limit, and the connection caps
//! derived from it.

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use tracing::{info, warn};

/// Raises the soft open-file limit to the hard one (Go does this by itself
/// at start; a Rust binary must ask). Returns the soft limit in force.
pub(super) fn raise_nofile() -> u64 {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    if soft >= hard {
        info!(limit = soft, "open-file limit");
        return soft;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => {
            info!(
                from = soft,
                to = hard,
                "open-file limit raised to the hard limit"
            );
            hard
        }
        Err(e) => {
            warn!(limit = soft, hard, error = %e, "cannot raise the open-file limit");
            soft
        }
    }
}

/// The caps: `(api, metrics, outbound)`. Given ones are kept; 0 means a
/// share of `nofile`: a quarter for the API, half for subscribers, the rest
/// for the store, the log socket and the metrics listener.
#[must_use]
pub(super) fn caps(nofile: u64, api: usize, outbound: usize) -> (usize, usize, usize) {
    let n = usize::try_from(nofile).unwrap_or(usize::MAX);
    let api = if api == 0 {
        (n / 4).clamp(16, 4096)
    } else {
        api
    };
    let outbound = if outbound == 0 {
        (n / 2).clamp(16, 1024)
    } else {
        outbound
    };
    (api, 32, outbound)
}

#[cfg(test)]
mod tests {
    #[test]
    fn caps_leave_room_under_the_limit() {
        let (api, metrics, out) = super::caps(1024, 0, 0);
        assert_eq!((api, out), (256, 512));
        assert!(api + metrics + out < 1024);
        assert_eq!(super::caps(1 << 20, 0, 0).0, 4096);
        assert_eq!(super::caps(1024, 10, 20), (10, 32, 20));
    }
}
