//! A stand-in for the Kubernetes API server's TokenReview API, for tests:
//! there is no API server here, so this implements the published contract
//! of `POST /apis/authentication.k8s.io/v1/tokenreviews` (Kubernetes API
//! reference, authentication.k8s.io/v1 TokenReview): the caller
//! authenticates with its own bearer token; the body is a `TokenReview`
//! whose `spec` has `token` and optional `audiences`; the answer is `201
//! Created` with the same object and a `status` of `authenticated`, `user`
//! (`username`, `uid`, `groups`), `audiences` (the intersection of the
//! requested audiences and the token's) and `error` (as kube-apiserver
//! words it for an expired token or a wrong audience). It also serves a
//! JWKS (`GET /oauth/jwks`) with one ES256 key and signs JWTs with it.
//! Over TLS with a certificate of a test CA, as in a cluster.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use crate::tls::{Pair, server_config};

/// How the stand-in behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// As the API server does.
    Honest,
    /// Reads the request and never answers.
    Hang,
    /// Answers 200 with a body that is not a TokenReview.
    Garbage,
}

/// A token the stand-in knows.
#[derive(Clone, Debug)]
pub struct Known {
    pub username: String,
    pub audiences: Vec<String>,
    pub expired: bool,
}

pub struct KubeApi {
    pub port: u16,
    /// TokenReview requests received.
    pub reviews: Arc<AtomicUsize>,
    key: Arc<EcdsaKeyPair>,
    rng: SystemRandom,
    _rt: tokio::runtime::Runtime,
}

struct State {
    mode: Mode,
    sa_token: String,
    tokens: HashMap<String, Known>,
    reviews: Arc<AtomicUsize>,
    jwks: Value,
}

impl KubeApi {
    /// Serves on 127.0.0.1 with `server` (its certificate), accepting
    /// callers that present `sa_token`.
    #[must_use]
    pub fn start(
        server: &Pair,
        sa_token: &str,
        tokens: HashMap<String, Known>,
        mode: Mode,
    ) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = Arc::new(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
        );
        let pt = key.public_key().as_ref();
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(&pt[1..33]), "y": URL_SAFE_NO_PAD.encode(&pt[33..])}]});
        let reviews = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(State {
            mode,
            sa_token: sa_token.to_owned(),
            tokens,
            reviews: reviews.clone(),
            jwks,
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = tokio_rustls::TlsAcceptor::from(server_config(server));
        rt.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, state) = (acceptor.clone(), state.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        Self {
            port,
            reviews,
            key,
            rng,
            _rt: rt,
        }
    }

    #[must_use]
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// An ES256 JWT over `claims`, signed by the JWKS key (`kid` k1), or
    /// with `alg: none` when `unsigned`.
    #[must_use]
    pub fn jwt(&self, claims: &Value, unsigned: bool) -> String {
        let alg = if unsigned { "none" } else { "ES256" };
        let h = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "k1", "typ": "JWT"}).to_string());
        let p = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{h}.{p}");
        if unsigned {
            return format!("{signed}.");
        }
        let sig = self.key.sign(&self.rng, signed.as_bytes()).unwrap();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

fn reply(code: StatusCode, v: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())))
        .unwrap()
}

/// A `Status` object, as the API server answers errors.
fn status(code: StatusCode, reason: &str, message: &str) -> Response<Full<Bytes>> {
    reply(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code.as_u16()}),
    )
}

async fn handle(
    st: Arc<State>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    if parts.method == hyper::Method::GET && parts.uri.path() == "/oauth/jwks" {
        return Ok(reply(StatusCode::OK, &st.jwks));
    }
    if parts.method != hyper::Method::POST
        || parts.uri.path() != "/apis/authentication.k8s.io/v1/tokenreviews"
    {
        return Ok(status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        ));
    }
    st.reviews.fetch_add(1, Ordering::SeqCst);
    match st.mode {
        Mode::Honest => {}
        Mode::Hang => std::future::pending::<()>().await,
        Mode::Garbage => {
            return Ok(Response::new(Full::new(Bytes::from_static(
                b"\x00garbage{",
            ))));
        }
    }
    let caller = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if caller != Some(st.sa_token.as_str()) {
        return Ok(status(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized",
        ));
    }
    let Ok(review) = serde_json::from_slice::<Value>(&body) else {
        return Ok(status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "invalid JSON",
        ));
    };
    if review["apiVersion"] != "authentication.k8s.io/v1" || review["kind"] != "TokenReview" {
        return Ok(status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "not an authentication.k8s.io/v1 TokenReview",
        ));
    }
    let Some(token) = review["spec"]["token"].as_str() else {
        return Ok(status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "spec.token: Required value",
        ));
    };
    let wanted: Vec<String> = review["spec"]["audiences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let st_obj = match st.tokens.get(token) {
        None => {
            json!({"user": {}, "error": "[invalid bearer token, square/go-jose: error in cryptographic primitive]"})
        }
        Some(k) if k.expired => {
            json!({"user": {}, "error": "[invalid bearer token, service account token has expired]"})
        }
        Some(k) => {
            let common: Vec<&String> = if wanted.is_empty() {
                k.audiences.iter().collect()
            } else {
                wanted.iter().filter(|a| k.audiences.contains(a)).collect()
            };
            if common.is_empty() {
                json!({"user": {}, "error": format!(
                    "[invalid bearer token, token audiences {:?} is invalid for the target audiences {:?}]",
                    k.audiences, wanted)})
            } else {
                json!({"authenticated": true, "user": {"username": k.username, "uid": "0b4c4f6e-1c2d-4f3e-9a8b-7c6d5e4f3a2b",
                    "groups": ["system:serviceaccounts", "system:authenticated"]}, "audiences": common})
            }
        }
    };
    let mut out = review.clone();
    out["metadata"] = json!({"creationTimestamp": null});
    out["status"] = st_obj;
    Ok(reply(StatusCode::CREATED, &out))
}
