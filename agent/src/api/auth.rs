//! The route policy of token auth: health is always open; reads (`GET`)
//! are open unless `--auth-protect-reads`; writes (`POST`, `PUT`,
//! `DELETE`: subscriptions, publishers, `create/event`, `log`) need a valid
//! bearer token. 401 without one, 403 for a token that is not for us, 503
//! when the checker cannot answer; all problem+json, all counted.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::{debug, info};

use super::problem::Problem;
use crate::auth::{Authenticator, MAX_TOKEN, Verdict};

/// Wraps `router` in the policy.
pub(crate) fn layer(router: axum::Router, auth: Arc<Authenticator>) -> axum::Router {
    router.layer(axum::middleware::from_fn_with_state(auth, guard))
}

async fn guard(State(auth): State<Arc<Authenticator>>, req: Request, next: Next) -> Response {
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let health = req.uri().path().ends_with("/health");
    if health || (!write && !auth.protect_reads()) {
        return next.run(req).await;
    }
    let verdict = match bearer(req.headers()) {
        Ok(token) => auth.check(token).await,
        Err(why) => Verdict::Invalid(why.to_owned()),
    };
    if let Verdict::Valid(user) = &verdict {
        debug!(%user, method = %req.method(), path = req.uri().path(), "authenticated");
        return next.run(req).await;
    }
    auth.failures.with_label_values(&[verdict.reason()]).inc();
    info!(method = %req.method(), path = req.uri().path(), verdict = ?verdict, "request refused");
    refusal(&verdict)
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(h: &axum::http::HeaderMap) -> Result<&str, &'static str> {
    let v = h
        .get(header::AUTHORIZATION)
        .ok_or("no Authorization header")?;
    if v.len() > MAX_TOKEN + 7 {
        return Err("Authorization header too large");
    }
    let v = v
        .to_str()
        .map_err(|_| "Authorization header is not ASCII")?;
    let (scheme, token) = v
        .split_once(' ')
        .ok_or("Authorization is not a Bearer token")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("Authorization is not a Bearer token");
    }
    Ok(token.trim())
}

fn refusal(v: &Verdict) -> Response {
    let p = match v {
        Verdict::Forbidden(why) => Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Token not accepted here",
            why.clone(),
        ),
        Verdict::Unavailable(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "auth-unavailable",
            "Token could not be checked",
            // What failed is in the log; the client is told to retry.
            "the token checker is not answering; retry later".to_owned(),
        ),
        Verdict::Invalid(why) | Verdict::Valid(why) => Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid bearer token is required",
            why.clone(),
        ),
    };
    let status = p.status;
    let mut resp = p.into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}
