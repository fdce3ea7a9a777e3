//! Who sent a request: `Authorization: Bearer` tokens checked with the
//! Kubernetes TokenReview API and, where a JWKS is configured, as JWTs
//! signed by one of its keys. Answers are cached for a bounded time (and
//! number of tokens); a checker that fails is never cached.

mod jwt;
mod review;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prometheus::IntCounterVec;

use crate::config::AuthSettings;
use crate::transport::Outbound;

/// Longest token taken (a Kubernetes service account token is ~1 KiB).
pub(crate) const MAX_TOKEN: usize = 8 * 1024;
/// Tokens remembered at most; past it the cache starts over.
const CACHE_ENTRIES: usize = 4096;
/// One call to the API server or the JWKS URL.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// The outcome of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Authenticated as this user.
    Valid(String),
    /// 401: no such identity (bad, expired, malformed token).
    Invalid(String),
    /// 403: authentic, but not for us (audience).
    Forbidden(String),
    /// 503: the checker could not answer (API server down, garbage).
    Unavailable(String),
}

impl Verdict {
    /// The `reason` label of `cloud_event_agent_auth_failures_total`.
    #[must_use]
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Self::Valid(_) => "none",
            Self::Invalid(_) => "invalid-token",
            Self::Forbidden(_) => "wrong-audience",
            Self::Unavailable(_) => "checker-unavailable",
        }
    }
}

pub(crate) struct Authenticator {
    settings: AuthSettings,
    review: Option<review::TokenReview>,
    jwks: Option<jwt::Jwks>,
    cache: Mutex<HashMap<[u8; 32], (Instant, Verdict)>>,
    pub failures: IntCounterVec,
}

impl Authenticator {
    /// # Errors
    /// The API server's CA cannot be loaded.
    pub(crate) fn new(
        settings: AuthSettings,
        failures: IntCounterVec,
        open: prometheus::IntGauge,
    ) -> Result<Arc<Self>, crate::tls::TlsError> {
        let kube_tls = |ca: &std::path::Path| {
            crate::tls::client_config(&crate::tls::ClientFiles {
                ca: if ca.exists() {
                    vec![ca.to_owned()]
                } else {
                    Vec::new()
                },
                cert: None,
                key: None,
            })
        };
        let out = Outbound::new(
            kube_tls(&settings.kube_ca_file)?,
            crate::transport::policy::Policy::default(),
            16,
            open,
        );
        let review = settings.token_review.then(|| review::TokenReview {
            api: settings.kube_api.clone(),
            token_file: settings.kube_token_file.clone(),
            audiences: settings.audiences.clone(),
            out: out.clone(),
        });
        let jwks = settings
            .jwks_url
            .clone()
            .map(|url| jwt::Jwks::new(url, out));
        Ok(Arc::new(Self {
            settings,
            review,
            jwks,
            cache: Mutex::new(HashMap::new()),
            failures,
        }))
    }

    /// Whether reads need an identity too.
    #[must_use]
    pub(crate) fn protect_reads(&self) -> bool {
        self.settings.protect_reads
    }

    /// Checks `token` (without `Bearer `).
    pub(crate) async fn check(&self, token: &str) -> Verdict {
        if token.is_empty()
            || token.len() > MAX_TOKEN
            || !token.bytes().all(|b| b.is_ascii_graphic())
        {
            return Verdict::Invalid("malformed or oversized token".into());
        }
        let key = digest(token);
        if let Some((until, v)) = self.cache.lock().get(&key)
            && *until > Instant::now()
        {
            return v.clone();
        }
        let verdict = self.check_uncached(token).await;
        if !matches!(verdict, Verdict::Unavailable(_)) {
            let mut c = self.cache.lock();
            if c.len() >= CACHE_ENTRIES {
                let now = Instant::now();
                c.retain(|_, (until, _)| *until > now);
                if c.len() >= CACHE_ENTRIES {
                    c.clear();
                }
            }
            c.insert(key, (Instant::now() + self.settings.cache, verdict.clone()));
        }
        verdict
    }

    async fn check_uncached(&self, token: &str) -> Verdict {
        // A JWT our JWKS signed is decided here; anything else (an opaque
        // token, another issuer's) goes to TokenReview when it is on.
        if let Some(jwks) = &self.jwks
            && jwt::looks_like_jwt(token)
        {
            let v = jwks
                .verify(
                    token,
                    self.settings.issuer.as_deref(),
                    &self.settings.audiences,
                )
                .await;
            // Not ours (another signer, e.g. a service account token) or
            // the JWKS is down: TokenReview decides when it is on.
            if self.review.is_none() || matches!(v, Verdict::Valid(_) | Verdict::Forbidden(_)) {
                return v;
            }
        }
        match &self.review {
            Some(r) => r.review(token).await,
            None => Verdict::Invalid("not a JWT signed by the configured JWKS".into()),
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(d.as_ref());
    out
}
