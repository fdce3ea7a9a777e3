//! The initial notification (§1.2 step 6): on subscribe, the current state
//! of each covered event kind (or the §2.6 placeholder) is POSTed to the
//! endpoint, which must answer 2xx before the subscription is stored.

use bytes::Bytes;

use super::AppState;
use super::problem::Problem;
use crate::event::{Event, EventKind};

/// Sends one CloudEvent per kind, in order; stops at the first refusal.
///
/// # Errors
/// 400 naming the kind and what the endpoint answered (status or failure).
pub async fn initial(st: &AppState, kinds: &[EventKind], endpoint: &str) -> Result<(), Problem> {
    for &kind in kinds {
        let body = Bytes::from(current_or_placeholder(st, kind).to_v2_json());
        let refused = |detail: String| {
            Problem::bad_request(
                "endpoint-rejected",
                "The endpoint did not accept the initial notification",
                detail,
            )
            .field("EndpointUri")
        };
        match st.dispatcher.post_once(endpoint, body).await {
            Ok(code) if (200..300).contains(&code) => {}
            Ok(code) => {
                return Err(refused(format!(
                    "the endpoint {endpoint} answered the initial notification ({}) with HTTP {code}; it must answer 2xx",
                    kind.source()
                ))
                .with("endpointStatus", code));
            }
            Err(e) => {
                return Err(refused(format!(
                    "the initial notification ({}) to {endpoint} failed: {e}",
                    kind.source()
                )));
            }
        }
    }
    Ok(())
}

/// The current state of `kind`: the engine's values, else the last event
/// published for it from outside the engine (`create/event`, a sidecar's
/// relayed events), else `None`.
#[must_use]
pub fn current(st: &AppState, kind: EventKind) -> Option<Event> {
    match st.engine.snapshot(kind) {
        crate::engine::Snapshot::Values(values) => Some(Event::new(kind, values)),
        _ => st.dispatcher.last_external(kind).map(|o| o.event.clone()),
    }
}

/// [`current`], or the §2.6 placeholder.
#[must_use]
pub fn current_or_placeholder(st: &AppState, kind: EventKind) -> Event {
    current(st, kind).unwrap_or_else(|| {
        let values = st
            .engine
            .snapshot(kind)
            .values_or_placeholder(kind, &st.node);
        Event::new(kind, values)
    })
}
