//! RFC 7807 `application/problem+json` error bodies. The anchor answers
//! errors with empty bodies; the O-RAN spec asks for problem details, and a
//! consumer (or its operator) should be told what was wrong.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

/// Prefix of every problem `type`: a stable, non-dereferenceable URI.
pub(crate) const TYPE_PREFIX: &str = "urn:cloud-event-agent:problem:";

/// One problem: `type`, `title`, `status`, `detail`, and extension members
/// (`field` names the offending request field). Boxed: it travels in
/// `Result`s on every request path.
#[derive(Debug, Clone)]
pub(crate) struct Problem(Box<Details>);

#[derive(Debug, Clone)]
pub(crate) struct Details {
    pub status: StatusCode,
    /// Last part of the `type` URI, e.g. `missing-field`.
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub field: Option<&'static str>,
    pub extra: Map<String, Value>,
    /// `Location` header (a 409 points at the existing subscription).
    pub location: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

impl Problem {
    #[must_use]
    pub(crate) fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: String,
    ) -> Self {
        Self(Box::new(Details {
            status,
            kind,
            title,
            detail,
            field: None,
            extra: Map::new(),
            location: None,
        }))
    }

    #[must_use]
    pub(crate) fn bad_request(kind: &'static str, title: &'static str, detail: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, title, detail)
    }

    #[must_use]
    pub(crate) fn not_found(kind: &'static str, title: &'static str, detail: String) -> Self {
        Self::new(StatusCode::NOT_FOUND, kind, title, detail)
    }

    /// A server-side failure (the store could not write). `detail` (which
    /// names files) goes to the log; the body says only what failed, so no
    /// path or OS error reaches an API client.
    #[must_use]
    pub(crate) fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %detail, "request failed inside the agent");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store-failure",
            "The change could not be stored",
            "the subscription store could not be written; the agent's log says why".to_owned(),
        )
    }

    #[must_use]
    pub(crate) fn field(mut self, name: &'static str) -> Self {
        self.0.field = Some(name);
        self
    }

    #[must_use]
    pub(crate) fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.extra.insert(key.to_owned(), value.into());
        self
    }

    /// The same problem under another status (v1 answers 400 where v2
    /// says 404 or 409).
    #[must_use]
    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.0.status = status;
        self
    }

    #[must_use]
    pub(crate) fn location(mut self, uri: String) -> Self {
        self.0.location = Some(uri);
        self
    }

    /// The JSON body.
    #[must_use]
    pub(crate) fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&Body {
            kind: format!("{TYPE_PREFIX}{}", self.kind),
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            field: self.field,
            extra: &self.extra,
        })
        .unwrap_or_default()
    }
}

impl std::ops::Deref for Problem {
    type Target = Details;
    fn deref(&self) -> &Details {
        &self.0
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            self.body(),
        )
            .into_response();
        if let Some(loc) = self.0.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            resp.headers_mut().insert(header::LOCATION, loc);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_rfc7807_members_and_extensions() {
        let p = Problem::bad_request("missing-field", "Missing field", "x is not set".into())
            .field("ResourceAddress")
            .with("endpointStatus", 500);
        let v: Value = serde_json::from_slice(&p.body()).unwrap();
        assert_eq!(v["type"], "urn:cloud-event-agent:problem:missing-field");
        assert_eq!(v["title"], "Missing field");
        assert_eq!(v["status"], 400);
        assert_eq!(v["detail"], "x is not set");
        assert_eq!(v["field"], "ResourceAddress");
        assert_eq!(v["endpointStatus"], 500);
    }
}
