//! Request bodies: size limit, JSON, the `SubscriptionInfo` fields.
//! Unknown keys are ignored; keys match case-insensitively, as Go's
//! `encoding/json` does; `SubscriptionId` and `UriLocation` are ignored
//! (O-RAN: "shall ignore").

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use cloud_event_client::Endpoint;
use http_body_util::BodyExt;
use serde_json::{Map, Value};

use super::problem::Problem;
use crate::event::parse::lookup;
use crate::transport::policy::Policy;

/// The fields of a `SubscriptionInfo` request that we use.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct InfoRequest {
    pub resource: String,
    /// `None` when absent, `null` or empty.
    pub endpoint: Option<String>,
}

fn too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "Request body too large",
        format!("the request body exceeds the limit of {limit} bytes"),
    )
    .with("limit", limit)
}

/// How long a client may take to send its body once its head arrived.
pub(super) const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this much of a refused body is read and thrown away while and
/// after the answer goes out (lingering close): a client that writes its
/// whole body before reading (Python's `http.client`) then reads its 413 or
/// 415 instead of a broken pipe. Past it the connection is closed.
pub(super) const DRAIN_LIMIT: u64 = 1 << 20;

/// Whether `headers` declare a JSON body: `application/json` or a
/// `+json` type (`application/cloudevents+json`), any parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let Some((ty, sub)) = essence.split_once('/') else {
        return false;
    };
    ty.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json")
            || sub.len() > 5 && sub[sub.len() - 5..].eq_ignore_ascii_case("+json"))
}

fn unsupported_type(headers: &HeaderMap) -> Problem {
    let got = headers.get(header::CONTENT_TYPE).map_or_else(
        || "none".to_owned(),
        |v| format!("{:?}", String::from_utf8_lossy(v.as_bytes())),
    );
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "Request body must be JSON",
        format!("writes take Content-Type: application/json; this request has {got}"),
    )
}

/// Reads the whole JSON body, refusing more than `limit` bytes (413) and
/// any other content type (415); a refused body is drained first, up to
/// [`DRAIN_LIMIT`].
///
/// # Errors
/// 415 not JSON, 413 over the limit, 408 too slow, 400 unreadable.
pub(super) async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Problem> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // No body and no type: nothing to mistake for JSON (400 below).
    let empty = declared == Some(0) && !headers.contains_key(header::CONTENT_TYPE);
    if !empty && !is_json(headers) {
        drain(body);
        return Err(unsupported_type(headers));
    }
    if declared.is_some_and(|n| n > limit as u64) {
        drain(body);
        return Err(too_large(limit));
    }
    let mut body = body;
    let mut out = bytes::BytesMut::new();
    let read = async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                if out.len() + data.len() > limit {
                    return Ok(false);
                }
                out.extend_from_slice(&data);
            }
        }
        Ok::<_, axum::Error>(true)
    };
    match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Ok(Ok(true)) => Ok(out.freeze()),
        Ok(Ok(false)) => {
            drain(body);
            Err(too_large(limit))
        }
        Ok(Err(e)) => Err(Problem::bad_request(
            "unreadable-body",
            "Request body could not be read",
            format!("reading the request body failed: {e}"),
        )),
        Err(_) => Err(Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "body-timeout",
            "Request body too slow",
            format!("the request body did not arrive within {BODY_TIMEOUT:?}"),
        )),
    }
}

/// Reads and discards up to [`DRAIN_LIMIT`] bytes of `body`, within
/// [`BODY_TIMEOUT`], on a task of its own: the answer goes out meanwhile
/// (the connection keeps reading while the body is alive).
fn drain(mut body: Body) {
    let discard = async move {
        let mut seen = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                seen += data.len() as u64;
                if seen > DRAIN_LIMIT {
                    return;
                }
            }
        }
    };
    tokio::spawn(async move {
        let _ = tokio::time::timeout(BODY_TIMEOUT, discard).await;
    });
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string field; `None` when absent, `null` or empty.
fn string_field(obj: &Map<String, Value>, name: &'static str) -> Result<Option<String>, Problem> {
    match lookup(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Problem::bad_request(
            "invalid-field",
            "Invalid field",
            format!("{name} must be a string, not {}", type_name(other)),
        )
        .field(name)),
    }
}

/// 400 naming a mandatory field that is missing or empty.
#[must_use]
pub(super) fn missing(name: &'static str) -> Problem {
    Problem::bad_request(
        "missing-field",
        "Missing mandatory field",
        format!("mandatory field {name} is not set"),
    )
    .field(name)
}

/// The keys of one API version's subscription object, and the resource key
/// of the other version (to say so when a client mixes them up).
pub(super) struct Keys {
    pub resource: &'static str,
    pub endpoint: &'static str,
    pub other_resource: &'static str,
    pub other_api: &'static str,
}

pub(super) const V2_KEYS: Keys = Keys {
    resource: "ResourceAddress",
    endpoint: "EndpointUri",
    other_resource: "resource",
    other_api: "v1",
};

pub(super) const V1_KEYS: Keys = Keys {
    resource: "resource",
    endpoint: "endpointUri",
    other_resource: "ResourceAddress",
    other_api: "v2",
};

/// Parses a `SubscriptionInfo` request body.
///
/// # Errors
/// 400: not JSON, not an object, `ResourceAddress` missing, a field of the
/// wrong type.
pub(super) fn parse_info(bytes: &[u8]) -> Result<InfoRequest, Problem> {
    parse_info_as(bytes, &V2_KEYS)
}

/// Parses a subscription request with the keys of one API version.
///
/// # Errors
/// As [`parse_info`]; a body with the other version's resource key says so.
pub(super) fn parse_info_as(bytes: &[u8], keys: &Keys) -> Result<InfoRequest, Problem> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        Problem::bad_request(
            "invalid-json",
            "Request body is not valid JSON",
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(obj) = v else {
        return Err(Problem::bad_request(
            "invalid-body",
            "Request body is not a JSON object",
            format!(
                "the request body must be a JSON object with {} and {}, not {}",
                keys.resource,
                keys.endpoint,
                type_name(&v)
            ),
        ));
    };
    let resource = match string_field(&obj, keys.resource)? {
        Some(r) => r,
        None if lookup(&obj, keys.other_resource).is_some() => {
            return Err(Problem::bad_request(
                "wrong-api-version",
                "Request uses the keys of the other API version",
                format!(
                    "mandatory field {} is not set; {} is the {} spelling, this API takes {} and {}",
                    keys.resource, keys.other_resource, keys.other_api, keys.resource, keys.endpoint
                ),
            )
            .field(keys.resource));
        }
        None => return Err(missing(keys.resource)),
    };
    let endpoint = string_field(&obj, keys.endpoint)?;
    Ok(InfoRequest { resource, endpoint })
}

/// `EndpointUri` must be an absolute `http` or `https` URL with a host
/// that `policy` allows.
///
/// # Errors
/// 400 naming `EndpointUri` and what is wrong with it.
pub(super) fn check_endpoint(endpoint: &str, policy: &Policy) -> Result<(), Problem> {
    let bad = |why: String| {
        Problem::bad_request(
            "invalid-field",
            "Invalid field",
            format!("EndpointUri {endpoint:?} is not an absolute http(s) URL: {why}"),
        )
        .field("EndpointUri")
    };
    let parsed = Endpoint::http(endpoint).map_err(|e| bad(e.to_string()))?;
    let host = parsed.host();
    if !policy.allows_host(host) {
        return Err(Problem::bad_request(
            "endpoint-not-allowed",
            "EndpointUri not allowed",
            format!("EndpointUri {endpoint:?}: host {host} is not allowed by the endpoint policy"),
        )
        .field("EndpointUri"));
    }
    Ok(())
}

/// Whether a subscription read from a store file would be taken by the
/// API: an absolute http(s) `EndpointUri` the policy allows, and a
/// resource that covers an event kind of `node`.
///
/// # Errors
/// What the API would have said.
pub(crate) fn check_stored(
    node: &str,
    policy: &Policy,
    resource: &str,
    endpoint: &str,
) -> Result<(), String> {
    check_endpoint(endpoint, policy).map_err(|p| p.detail.clone())?;
    if crate::event::EventKind::matching(node, resource)
        .next()
        .is_none()
    {
        return Err(format!("resource {resource} names no event of node {node}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> Problem {
        parse_info(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn parses_and_ignores_unknown_and_ignored_keys() {
        let r = parse_info(
            br#"{"resourceaddress":"/r","EndpointUri":"http://e","SubscriptionId":5,"x":[1]}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            InfoRequest {
                resource: "/r".into(),
                endpoint: Some("http://e".into())
            }
        );
        assert_eq!(
            parse_info(br#"{"ResourceAddress":"/r","EndpointUri":null}"#)
                .unwrap()
                .endpoint,
            None
        );
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(err("{").kind, "invalid-json");
        assert!(err("{").detail.contains("line 1"));
        assert_eq!(err("[]").kind, "invalid-body");
        let p = err(r#"{"EndpointUri":"http://e"}"#);
        assert_eq!(
            (p.kind, p.field),
            ("missing-field", Some("ResourceAddress"))
        );
        let p = err(r#"{"ResourceAddress":""}"#);
        assert_eq!(p.field, Some("ResourceAddress"));
        let p = err(r#"{"ResourceAddress":7}"#);
        assert_eq!(
            (p.kind, p.field),
            ("invalid-field", Some("ResourceAddress"))
        );
        assert!(p.detail.contains("a number"));
        let p = err(r#"{"ResourceAddress":"/r","EndpointUri":{"a":1}}"#);
        assert_eq!(p.field, Some("EndpointUri"));
    }

    #[test]
    fn other_version_keys_are_named() {
        let p = err(r#"{"resource":"/r","endpointUri":"http://e"}"#);
        assert_eq!(
            (p.kind, p.field),
            ("wrong-api-version", Some("ResourceAddress"))
        );
        let p = parse_info_as(br#"{"ResourceAddress":"/r"}"#, &V1_KEYS).unwrap_err();
        assert_eq!((p.kind, p.field), ("wrong-api-version", Some("resource")));
        let r = parse_info_as(br#"{"resource":"/r","endpointUri":"http://e"}"#, &V1_KEYS).unwrap();
        assert_eq!(r.endpoint.as_deref(), Some("http://e"));
    }

    #[test]
    fn json_content_types() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::CONTENT_TYPE, v.parse().unwrap());
            m
        };
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/cloudevents+json",
        ] {
            assert!(is_json(&h(ok)), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "+json",
        ] {
            assert!(!is_json(&h(bad)), "{bad}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn endpoint_must_be_absolute_http() {
        for ok in ["http://e", "https://e:8443/x?y=1", "HTTP://10.0.0.1:9/e"] {
            check_endpoint(ok, &Policy::default()).unwrap();
        }
        for bad in [
            "/event",
            "e:80",
            "ftp://e/x",
            "http://",
            "not a url",
            "mailto:x@y",
            // Refused since one parser reads every URL: a fragment is never
            // sent, credentials would go into the Host header.
            "http://e/x#y",
            "http://u:p@e/x",
            "http://e:port/x",
        ] {
            let p = check_endpoint(bad, &Policy::default()).unwrap_err();
            assert_eq!(p.field, Some("EndpointUri"), "{bad}");
        }
        let p = check_endpoint("http://169.254.169.254/latest", &Policy::default()).unwrap_err();
        assert_eq!(p.kind, "endpoint-not-allowed");
    }
}
