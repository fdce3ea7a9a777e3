//! The publisher's v2 API, as a consumer uses it.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const API: &str = "/api/ocloudNotifications/v2";

pub struct Publisher {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Publisher {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
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
            .uri(format!("{}{API}{path}", self.base))
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
        let req = serde_json::json!({ "ResourceAddress": resource, "EndpointUri": endpoint });
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

    /// The CurrentState body, or None on 404 (no data yet).
    pub async fn current_state(&self, resource: &str) -> anyhow::Result<Option<String>> {
        let (code, body) = self
            .call(Method::GET, &format!("{resource}/CurrentState"), None)
            .await?;
        match code {
            200 => Ok(Some(String::from_utf8_lossy(&body).into_owned())),
            404 => Ok(None),
            other => anyhow::bail!("CurrentState answered {other}"),
        }
    }
}
