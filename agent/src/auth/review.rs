//! The Kubernetes TokenReview API (`authentication.k8s.io/v1`): a `POST
//! /apis/authentication.k8s.io/v1/tokenreviews` of a `TokenReview` whose
//! `spec` holds the token (and the audiences we require), authorised with
//! our service account token; the API server fills in `status`
//! (`authenticated`, `user`, `audiences`, `error`).

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use super::{CALL_TIMEOUT, Verdict};
use crate::transport::Outbound;

const PATH: &str = "/apis/authentication.k8s.io/v1/tokenreviews";

pub(super) struct TokenReview {
    /// `https://host:port` of the API server; none outside a cluster.
    pub api: Option<String>,
    pub token_file: PathBuf,
    pub audiences: Vec<String>,
    pub out: Arc<Outbound>,
}

#[derive(Deserialize)]
struct Review {
    kind: String,
    #[serde(default)]
    status: Status,
}

#[derive(Default, Deserialize)]
struct Status {
    #[serde(default)]
    authenticated: bool,
    #[serde(default)]
    user: User,
    audiences: Option<Vec<String>>,
    #[serde(default)]
    error: String,
}

#[derive(Default, Deserialize)]
struct User {
    #[serde(default)]
    username: String,
}

impl TokenReview {
    pub(super) async fn review(&self, token: &str) -> Verdict {
        let Some(api) = &self.api else {
            return Verdict::Unavailable(
                "no Kubernetes API server (not in a cluster, no --kube-api)".into(),
            );
        };
        let own = match std::fs::read_to_string(&self.token_file) {
            Ok(t) => t.trim().to_owned(),
            Err(e) => {
                return Verdict::Unavailable(format!(
                    "service account token {}: {e}",
                    self.token_file.display()
                ));
            }
        };
        let mut spec = json!({ "token": token });
        if !self.audiences.is_empty() {
            spec["audiences"] = json!(self.audiences);
        }
        let body = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": spec,
        })
        .to_string();
        let headers = [
            format!("Authorization: Bearer {own}"),
            "Content-Type: application/json".to_owned(),
            "Accept: application/json".to_owned(),
        ];
        let url = format!("{}{PATH}", api.trim_end_matches('/'));
        let (code, answer) = match crate::transport::call(
            &self.out,
            &url,
            "POST",
            &headers,
            body.as_bytes(),
            CALL_TIMEOUT,
        )
        .await
        {
            Ok(r) => r,
            Err(e) => return Verdict::Unavailable(format!("TokenReview: {e}")),
        };
        if !(200..300).contains(&code) {
            return Verdict::Unavailable(format!("TokenReview answered HTTP {code}"));
        }
        let review: Review = match serde_json::from_slice(&answer) {
            Ok(r) => r,
            Err(e) => return Verdict::Unavailable(format!("TokenReview answer is not JSON: {e}")),
        };
        if review.kind != "TokenReview" {
            return Verdict::Unavailable(format!("TokenReview answered a {:?}", review.kind));
        }
        self.judge(review.status)
    }

    fn judge(&self, st: Status) -> Verdict {
        if !st.authenticated {
            let why = if st.error.is_empty() {
                "token not authenticated".to_owned()
            } else {
                st.error
            };
            return Verdict::Invalid(why);
        }
        // An authenticator that ignores audiences leaves them out; one that
        // honours them lists those the token is valid for.
        if !self.audiences.is_empty()
            && let Some(got) = &st.audiences
            && !got.iter().any(|a| self.audiences.contains(a))
        {
            return Verdict::Forbidden(format!(
                "token audiences {got:?} do not include {:?}",
                self.audiences
            ));
        }
        Verdict::Valid(st.user.username)
    }
}
