//! The publisher's REST API (O-Cloud Notification API v2, and the legacy
//! v1): subscriptions, publishers, CurrentState, `create/event` and the
//! status ping.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tracing::warn;

use crate::endpoint::{Endpoint, EndpointError, Scheme};
use crate::event::{CloudNativeEvent, DecodeError, Event};
use crate::resource::ResourceAddress;

/// The API path of each version.
pub const API_V2: &str = "/api/ocloudNotifications/v2";
/// The legacy v1 API path.
pub const API_V1: &str = "/api/ocloudNotifications/v1";

/// Answers larger than this are refused (a list of many subscriptions fits).
const MAX_ANSWER: usize = 16 << 20;

/// Which version of the API to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ApiVersion {
    /// The legacy API: keys `id`, `endpointUri`, `uriLocation`, `resource`;
    /// errors are 400; a duplicate subscribe returns the existing one (201).
    V1,
    /// The O-RAN v2 API: keys `SubscriptionId`, `EndpointUri`,
    /// `UriLocation`, `ResourceAddress`; a duplicate is a 409.
    #[default]
    V2,
}

impl ApiVersion {
    #[must_use]
    pub const fn path(self) -> &'static str {
        match self {
            Self::V1 => API_V1,
            Self::V2 => API_V2,
        }
    }

    /// `(resource, endpoint, id, uri location)` keys.
    const fn keys(self) -> [&'static str; 4] {
        match self {
            Self::V1 => ["resource", "endpointUri", "id", "uriLocation"],
            Self::V2 => [
                "ResourceAddress",
                "EndpointUri",
                "SubscriptionId",
                "UriLocation",
            ],
        }
    }
}

/// A subscription (or a publisher: same object) at a publisher.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Subscription {
    pub id: String,
    pub resource: ResourceAddress,
    /// Where events are pushed; empty for a publisher without one.
    pub endpoint: String,
    pub uri_location: Option<String>,
}

/// A publisher registration (the same object as a subscription).
pub type Publisher = Subscription;

/// The outcome of a subscribe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    pub subscription: Subscription,
    /// The publisher already had it (v2: a 409 naming it).
    pub existing: bool,
}

/// What went wrong talking to a publisher.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("bad publisher URL {url:?}: {source} (use http://host:port)")]
    Url {
        url: String,
        #[source]
        source: crate::EndpointError,
    },
    #[error("cannot build the request")]
    Request(#[source] hyper::http::Error),
    #[error("cannot reach the publisher")]
    Connect(#[source] hyper_util::client::legacy::Error),
    #[error("the publisher's answer broke off")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("no answer in {0:?}")]
    Timeout(Duration),
    #[error("{method} {path} answered HTTP {status}: {detail}")]
    Status {
        method: Method,
        path: String,
        status: u16,
        /// The problem+json `detail`, the anchor's `error`, or the body.
        detail: String,
    },
    #[error("the answer is not the JSON expected: {0}")]
    Answer(String),
    #[error("the answer is not JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("the answer names no resource address: {0}")]
    Address(#[source] crate::resource::AddressError),
    #[error("the answer is not an event")]
    Event(#[source] DecodeError),
}

impl Error {
    /// The HTTP status, for [`Error::Status`].
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// One answer.
struct Answer {
    status: u16,
    location: Option<String>,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Result<Value, Error> {
        serde_json::from_slice(&self.body).map_err(Error::Json)
    }

    fn detail(&self) -> String {
        let v: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        v["detail"]
            .as_str()
            .or_else(|| v["error"].as_str())
            .map_or_else(
                || {
                    String::from_utf8_lossy(&self.body)
                        .chars()
                        .take(300)
                        .collect()
                },
                str::to_owned,
            )
    }
}

/// A client of one publisher's API.
///
/// ```no_run
/// # async fn f() -> Result<(), cloud_event_client::Error> {
/// use cloud_event_client::{Client, EventType, ResourceAddress};
/// let client = Client::new("http://ptp-event-publisher-service-n1:9043")?;
/// let lock = ResourceAddress::event("n1", EventType::LockState);
/// let created = client.create_subscription(&lock, "http://my-cnf:9089/event").await?;
/// println!("subscribed: {} (existing: {})", created.subscription.id, created.existing);
/// if let Some(ev) = client.current_state(&lock).await? {
///     println!("now: {:?}", ev.sync_state());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    version: ApiVersion,
    timeout: Duration,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Client {
    /// A v2 client of the publisher at `base` (`http://host:port`; a bare
    /// `host:port` is taken as http).
    ///
    /// # Errors
    /// `base` is not an http URL.
    pub fn new(base: &str) -> Result<Self, Error> {
        let bad = |source| Error::Url {
            url: base.to_owned(),
            source,
        };
        let base = Endpoint::parse_or(base.trim(), Scheme::Http)
            .and_then(Endpoint::without_path)
            .map_err(bad)?;
        if base.scheme() != Scheme::Http {
            return Err(bad(EndpointError::Scheme(
                base.scheme().to_string(),
                "http",
            )));
        }
        let base = base.origin();
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        conn.set_connect_timeout(Some(Duration::from_secs(5)));
        Ok(Self {
            base,
            version: ApiVersion::V2,
            timeout: Duration::from_secs(5),
            http: HyperClient::builder(TokioExecutor::new()).build(conn),
        })
    }

    /// The same client speaking `version`.
    #[must_use]
    pub fn with_version(mut self, version: ApiVersion) -> Self {
        self.version = version;
        self
    }

    /// The same client with another per-call timeout (default 5 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    #[must_use]
    pub fn version(&self) -> ApiVersion {
        self.version
    }

    /// `http://host:port` of the publisher.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn call(
        &self,
        method: Method,
        api: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, Error> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{api}{path}", self.base));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(Error::Request)?;
        let fut = async {
            let resp = self.http.request(req).await.map_err(Error::Connect)?;
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = Limited::new(resp.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(Error::Body)?
                .to_bytes();
            Ok(Answer {
                status,
                location,
                body,
            })
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| Error::Timeout(self.timeout))?
    }

    async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, Error> {
        self.call(method, self.version.path(), path, body).await
    }

    fn unexpected(&self, method: Method, path: &str, a: &Answer) -> Error {
        Error::Status {
            method,
            path: format!("{}{path}", self.version.path()),
            status: a.status,
            detail: a.detail(),
        }
    }

    /// `GET health`: Ok when the publisher answers 200.
    ///
    /// # Errors
    /// Unreachable, or another status.
    pub async fn health(&self) -> Result<(), Error> {
        let a = self.api(Method::GET, "/health", None).await?;
        if a.status == 200 {
            Ok(())
        } else {
            Err(self.unexpected(Method::GET, "/health", &a))
        }
    }

    fn parse_sub(&self, v: &Value) -> Result<Subscription, Error> {
        let [rk, ek, ik, lk] = self.version.keys();
        let s = |k: &str| v.get(k).and_then(Value::as_str);
        let resource = s(rk).ok_or_else(|| Error::Answer(format!("no {rk} in {v}")))?;
        Ok(Subscription {
            id: s(ik)
                .ok_or_else(|| Error::Answer(format!("no {ik} in {v}")))?
                .to_owned(),
            resource: ResourceAddress::parse(resource).map_err(Error::Address)?,
            endpoint: s(ek).unwrap_or_default().to_owned(),
            uri_location: s(lk).filter(|l| !l.is_empty()).map(str::to_owned),
        })
    }

    fn parse_list(&self, a: &Answer) -> Result<Vec<Subscription>, Error> {
        // The anchor renders an empty list as `null`, or an empty body.
        if a.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        match a.json()? {
            Value::Null => Ok(Vec::new()),
            // One odd entry (another client's) does not hide the others.
            Value::Array(items) => Ok(items
                .iter()
                .filter_map(|v| {
                    self.parse_sub(v)
                        .map_err(
                            |e| warn!(publisher = %self.base, error = %e, "skipped a listed entry"),
                        )
                        .ok()
                })
                .collect()),
            other => Err(Error::Answer(format!("not a list: {other}"))),
        }
    }

    fn info_body(&self, resource: &ResourceAddress, endpoint: &str) -> Vec<u8> {
        let [rk, ek, ..] = self.version.keys();
        let mut m = serde_json::Map::new();
        m.insert(rk.into(), resource.as_str().into());
        if !endpoint.is_empty() {
            m.insert(ek.into(), endpoint.into());
        }
        serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
    }

    /// `POST subscriptions`: subscribes `endpoint` to `resource`. The
    /// publisher first pushes the current state (v2) or an empty check
    /// (v1) to `endpoint`, which must answer 2xx. A duplicate is not an
    /// error: the existing subscription comes back with `existing` set (v2
    /// names it in its 409; a 409 that names none is resolved by listing).
    /// The v1 API answers a duplicate with 201 and the existing object, so
    /// `existing` is never set there.
    ///
    /// # Errors
    /// Unreachable, refused (unknown resource, endpoint check failed), or
    /// an answer that is not a subscription.
    pub async fn create_subscription(
        &self,
        resource: &ResourceAddress,
        endpoint: &str,
    ) -> Result<Created, Error> {
        let a = self
            .api(
                Method::POST,
                "/subscriptions",
                Some(self.info_body(resource, endpoint)),
            )
            .await?;
        match a.status {
            201 | 200 => Ok(Created {
                subscription: self.parse_sub(&a.json()?)?,
                existing: false,
            }),
            409 => {
                let named = a
                    .json()
                    .ok()
                    .and_then(|v| v["SubscriptionId"].as_str().map(str::to_owned))
                    .or_else(|| {
                        let loc = a.location.as_deref()?;
                        loc.rsplit('/')
                            .next()
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                    });
                let uri_location = a
                    .json()
                    .ok()
                    .and_then(|v| v["UriLocation"].as_str().map(str::to_owned))
                    .or_else(|| a.location.clone());
                let subscription = match named {
                    Some(id) => Subscription {
                        id,
                        resource: resource.clone(),
                        endpoint: endpoint.to_owned(),
                        uri_location,
                    },
                    None => self
                        .subscriptions()
                        .await?
                        .into_iter()
                        .find(|s| &s.resource == resource && s.endpoint == endpoint)
                        .ok_or_else(|| self.unexpected(Method::POST, "/subscriptions", &a))?,
                };
                Ok(Created {
                    subscription,
                    existing: true,
                })
            }
            _ => Err(self.unexpected(Method::POST, "/subscriptions", &a)),
        }
    }

    /// `GET subscriptions` (v1: the v1 subscriptions only).
    ///
    /// # Errors
    /// Unreachable, or not a list.
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, Error> {
        let a = self.api(Method::GET, "/subscriptions", None).await?;
        if a.status != 200 {
            return Err(self.unexpected(Method::GET, "/subscriptions", &a));
        }
        self.parse_list(&a)
    }

    /// `GET subscriptions/{id}`; `None` when the publisher has none.
    ///
    /// # Errors
    /// Unreachable, or an unexpected answer.
    pub async fn subscription(&self, id: &str) -> Result<Option<Subscription>, Error> {
        self.get_one("/subscriptions", id).await
    }

    async fn get_one(&self, what: &str, id: &str) -> Result<Option<Subscription>, Error> {
        let path = format!("{what}/{id}");
        let a = self.api(Method::GET, &path, None).await?;
        match a.status {
            200 => Ok(Some(self.parse_sub(&a.json()?)?)),
            404 | 400 => Ok(None),
            _ => Err(self.unexpected(Method::GET, &path, &a)),
        }
    }

    /// `DELETE subscriptions/{id}`: true if it existed.
    ///
    /// # Errors
    /// Unreachable, or an unexpected answer.
    pub async fn delete_subscription(&self, id: &str) -> Result<bool, Error> {
        self.delete_one("/subscriptions", id).await
    }

    async fn delete_one(&self, what: &str, id: &str) -> Result<bool, Error> {
        let path = format!("{what}/{id}");
        let a = self.api(Method::DELETE, &path, None).await?;
        match a.status {
            200 | 204 => Ok(true),
            404 | 400 => Ok(false),
            _ => Err(self.unexpected(Method::DELETE, &path, &a)),
        }
    }

    /// `DELETE subscriptions`: every subscription (v1: every v1 one).
    ///
    /// # Errors
    /// Unreachable, or refused.
    pub async fn delete_all_subscriptions(&self) -> Result<(), Error> {
        let a = self.api(Method::DELETE, "/subscriptions", None).await?;
        if matches!(a.status, 200 | 204) {
            Ok(())
        } else {
            Err(self.unexpected(Method::DELETE, "/subscriptions", &a))
        }
    }

    /// `GET {resource}/CurrentState`, typed; `None` while the publisher has
    /// no data for it (v2: 404, v1: 400).
    ///
    /// # Errors
    /// Unreachable, or a 200 whose body is not an event.
    pub async fn current_state(&self, resource: &ResourceAddress) -> Result<Option<Event>, Error> {
        let path = format!("{resource}/CurrentState");
        let a = self.api(Method::GET, &path, None).await?;
        match a.status {
            200 => Event::decode(&a.body).map(Some).map_err(Error::Event),
            404 | 400 => Ok(None),
            _ => Err(self.unexpected(Method::GET, &path, &a)),
        }
    }

    /// `POST publishers`: registers a publisher of `resource`. With an
    /// `endpoint`, the publisher checks it first (it must answer 2xx). An
    /// existing publisher of the resource is returned as is.
    ///
    /// # Errors
    /// Unreachable, or refused.
    pub async fn create_publisher(
        &self,
        resource: &ResourceAddress,
        endpoint: Option<&str>,
    ) -> Result<Publisher, Error> {
        let body = self.info_body(resource, endpoint.unwrap_or_default());
        let a = self.api(Method::POST, "/publishers", Some(body)).await?;
        match a.status {
            200 | 201 => self.parse_sub(&a.json()?),
            _ => Err(self.unexpected(Method::POST, "/publishers", &a)),
        }
    }

    /// `GET publishers`.
    ///
    /// # Errors
    /// Unreachable, or not a list.
    pub async fn publishers(&self) -> Result<Vec<Publisher>, Error> {
        let a = self.api(Method::GET, "/publishers", None).await?;
        if a.status != 200 {
            return Err(self.unexpected(Method::GET, "/publishers", &a));
        }
        self.parse_list(&a)
    }

    /// `GET publishers/{id}`; `None` when unknown.
    ///
    /// # Errors
    /// Unreachable, or an unexpected answer.
    pub async fn publisher(&self, id: &str) -> Result<Option<Publisher>, Error> {
        self.get_one("/publishers", id).await
    }

    /// `DELETE publishers/{id}`: true if it existed.
    ///
    /// # Errors
    /// Unreachable, or an unexpected answer.
    pub async fn delete_publisher(&self, id: &str) -> Result<bool, Error> {
        self.delete_one("/publishers", id).await
    }

    /// `POST create/event`: publishes `ev` to the subscribers of its
    /// publisher's resource (the publisher is `ev.id`).
    ///
    /// # Errors
    /// Unreachable, or refused (unknown publisher id, malformed values).
    pub async fn publish(&self, ev: &CloudNativeEvent) -> Result<(), Error> {
        let a = self
            .api(Method::POST, "/create/event", Some(ev.to_json()))
            .await?;
        if matches!(a.status, 200..=299) {
            Ok(())
        } else {
            Err(self.unexpected(Method::POST, "/create/event", &a))
        }
    }

    /// `PUT subscriptions/status/{id}` (a v1 route, whatever this client's
    /// version): asks the publisher to push the current state of the
    /// subscription's resource to its endpoint again.
    ///
    /// # Errors
    /// Unreachable, or no such subscription.
    pub async fn status_ping(&self, subscription_id: &str) -> Result<(), Error> {
        let path = format!("/subscriptions/status/{subscription_id}");
        let a = self
            .call(Method::PUT, API_V1, &path, Some(b"{}".to_vec()))
            .await?;
        if matches!(a.status, 200..=299) {
            Ok(())
        } else {
            Err(Error::Status {
                method: Method::PUT,
                path: format!("{API_V1}{path}"),
                status: a.status,
                detail: a.detail(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn answer(body: &str) -> Answer {
        Answer {
            status: 200,
            location: None,
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn lists_read_both_versions_and_skip_odd_entries() {
        let v2 = Client::new("127.0.0.1:9043").unwrap();
        assert_eq!(v2.base(), "http://127.0.0.1:9043");
        let list = v2
            .parse_list(&answer(
                r#"[{"ResourceAddress":"/cluster/node/n1/sync","EndpointUri":"http://c/e","SubscriptionId":"a","UriLocation":"http://p/a"},
                    {"ResourceAddress":"no-slash","EndpointUri":"http://c/e","SubscriptionId":"b"},
                    {"EndpointUri":"http://c/e"}]"#,
            ))
            .unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id, "a");
        assert_eq!(list[0].uri_location.as_deref(), Some("http://p/a"));
        for empty in ["null", "", " ", "[]"] {
            assert!(v2.parse_list(&answer(empty)).unwrap().is_empty());
        }
        assert!(v2.parse_list(&answer("{}")).is_err());
        let v1 = v2.with_version(ApiVersion::V1);
        let list = v1
            .parse_list(&answer(
                r#"[{"id":"x","endpointUri":"http://c/e","uriLocation":"","resource":"/cluster/node/n1/sync/ptp-status/lock-state"}]"#,
            ))
            .unwrap();
        assert_eq!(list[0].id, "x");
        assert_eq!(list[0].uri_location, None);
        assert_eq!(
            v1.info_body(&list[0].resource, "http://c/e"),
            br#"{"endpointUri":"http://c/e","resource":"/cluster/node/n1/sync/ptp-status/lock-state"}"#
        );
    }

    #[test]
    fn urls_must_be_plain_http_bases() {
        for bad in ["https://h:1", "http://h:1/api", "ftp://h", "http://"] {
            assert!(Client::new(bad).is_err(), "{bad}");
        }
        assert!(Client::new("http://h:1/").is_ok());
    }
}
