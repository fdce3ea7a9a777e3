//! The JSON Schemas (2020-12) of every event body the agent emits,
//! committed under `schemas/` and served beside the OpenAPI document at
//! `/api/ocloudNotifications/v2/schemas/<name>`.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::{API_V2, no_such_path};

/// `(file name, schema)`: v2 push, v2 CurrentState, v1 push, v1 CurrentState.
pub(crate) const SCHEMAS: [(&str, &str); 4] = [
    (
        "v2-event.json",
        include_str!("../../../schemas/v2-event.json"),
    ),
    (
        "v2-current-state.json",
        include_str!("../../../schemas/v2-current-state.json"),
    ),
    (
        "v1-event.json",
        include_str!("../../../schemas/v1-event.json"),
    ),
    (
        "v1-current-state.json",
        include_str!("../../../schemas/v1-current-state.json"),
    ),
];

/// `GET schemas/{name}`.
pub(super) async fn get(name: Option<Path<String>>) -> Response {
    let name = name.map(|Path(n)| n).unwrap_or_default();
    match SCHEMAS.iter().find(|(n, _)| *n == name) {
        Some((_, s)) => ([(header::CONTENT_TYPE, "application/schema+json")], *s).into_response(),
        None => no_such_path(&format!("{API_V2}/schemas/{name}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use axum::http::StatusCode;

    use super::*;

    #[tokio::test]
    async fn serves_each_committed_schema_and_404s_others() {
        for (name, text) in SCHEMAS {
            let r = get(Some(Path(name.to_owned()))).await;
            assert_eq!(r.status(), StatusCode::OK);
            let body = to_bytes(r.into_body(), 1 << 20).await.unwrap();
            assert_eq!(body, text.as_bytes());
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
            assert!(v["$id"].as_str().unwrap().ends_with(name));
        }
        let r = get(Some(Path("../Cargo.toml".into()))).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
}
