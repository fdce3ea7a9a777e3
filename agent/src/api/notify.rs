//! The initial notification: on subscribe, the current state of each
//! covered event kind (or the placeholder) is POSTed to the endpoint, once
//! the subscription is stored (so the consumer can already find it); an
//! endpoint that does not answer 2xx undoes the subscription.

use bytes::Bytes;

use super::AppState;
use super::problem::Problem;
use crate::event::EventKind;

/// Sends one CloudEvent per kind, in order; stops at the first refusal.
///
/// # Errors
/// 400 "unreachable"; why is logged, not answered (the API must not serve
/// as a port scanner).
pub(crate) async fn initial(
    st: &AppState,
    kinds: &[EventKind],
    endpoint: &str,
) -> Result<(), Problem> {
    for &kind in kinds {
        let body = Bytes::from(st.current.or_placeholder(kind).to_v2_json());
        probe(st, endpoint, body, "EndpointUri").await?;
    }
    Ok(())
}

/// POSTs `body` to `endpoint` once; `Ok` on 2xx.
///
/// # Errors
/// 400 `endpoint-rejected` naming `field`, with the same detail whatever
/// the endpoint did (refused, timed out, answered 405): the reason goes to
/// the log only.
pub(crate) async fn probe(
    st: &AppState,
    endpoint: &str,
    body: Bytes,
    field: &'static str,
) -> Result<(), Problem> {
    let why = match st.dispatcher.post_once(endpoint, body).await {
        Ok(code) if (200..300).contains(&code) => return Ok(()),
        Ok(code) => format!("answered HTTP {code}"),
        Err(e) => e.to_string(),
    };
    tracing::info!(endpoint, reason = %why, "endpoint check failed");
    Err(Problem::bad_request(
        "endpoint-rejected",
        "The endpoint is unreachable",
        format!("{field} {endpoint} is unreachable: it must accept a POST with a 2xx answer"),
    )
    .field(field))
}
