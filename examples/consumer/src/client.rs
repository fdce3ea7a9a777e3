//! The publisher's v2 API, as a consumer uses it.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Which version of the O-Cloud Notification API to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Api {
    V1,
    V2,
}

impl Api {
    fn path(self) -> &'static str {
        match self {
            Self::V1 => "/api/ocloudNotifications/v1",
            Self::V2 => "/api/ocloudNotifications/v2",
        }
    }

    /// The `(resource, endpoint, id)` keys of a subscription object.
    pub fn keys(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::V1 => ("resource", "endpointUri", "id"),
            Self::V2 => ("ResourceAddress", "EndpointUri", "SubscriptionId"),
        }
    }
}

pub struct Publisher {
    base: String,
    api: Api,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Publisher {
    pub fn new(base: &str, api: Api) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            api,
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<(u16, Bytes)> {
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{}{path}", self.base, self.api.path()))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let resp = tokio::time::timeout(Duration::from_secs(5), self.client.request(req)).await??;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    pub async fn healthy(&self) -> bool {
        matches!(self.call(Method::GET, "/health", None).await, Ok((200, _)))
    }

    pub async fn subscriptions(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let (_, body) = self.call(Method::GET, "/subscriptions", None).await?;
        Ok(serde_json::from_slice::<Option<Vec<serde_json::Value>>>(&body)?.unwrap_or_default())
    }

    pub async fn subscribe(
        &self,
        resource: &str,
        endpoint: &str,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let (rk, ek, _) = self.api.keys();
        let req = serde_json::json!({ rk: resource, ek: endpoint });
        let (code, body) = self
            .call(
                Method::POST,
                "/subscriptions",
                Some(serde_json::to_vec(&req)?),
            )
            .await?;
        Ok((
            code,
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        ))
    }

    /// The CurrentState body, or None when there is no data yet (v2: 404,
    /// v1: 400).
    pub async fn current_state(&self, resource: &str) -> anyhow::Result<Option<String>> {
        let (code, body) = self
            .call(Method::GET, &format!("{resource}/CurrentState"), None)
            .await?;
        match code {
            200 => Ok(Some(String::from_utf8_lossy(&body).into_owned())),
            404 | 400 => Ok(None),
            other => anyhow::bail!("CurrentState answered {other}"),
        }
    }
}
