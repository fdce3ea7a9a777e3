//! JWTs signed by a key of a JWKS (RFC 7515/7517/7519): RS256 and ES256,
//! `exp` required, `nbf`, `iss` and `aud` checked. The key set is fetched
//! on first use, kept for [`KEEP`], and fetched again (at most every
//! [`REFETCH`]) when a token names a key it does not hold.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;
use ring::signature;
use serde::Deserialize;
use serde_json::Value;

use super::{CALL_TIMEOUT, Verdict};
use crate::transport::Outbound;

const KEEP: Duration = Duration::from_secs(300);
const REFETCH: Duration = Duration::from_secs(10);
/// Clock skew allowed on `nbf`.
const SKEW: u64 = 60;

#[derive(Clone, Debug, Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

pub(super) struct Jwks {
    url: String,
    out: Arc<Outbound>,
    keys: Mutex<Option<(Instant, Arc<Vec<Jwk>>)>>,
}

/// Three base64url parts separated by dots.
pub(super) fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

fn b64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Jwks {
    pub(super) fn new(url: String, out: Arc<Outbound>) -> Self {
        Self {
            url,
            out,
            keys: Mutex::new(None),
        }
    }

    pub(super) async fn verify(
        &self,
        token: &str,
        issuer: Option<&str>,
        audiences: &[String],
    ) -> Verdict {
        let bad = |why: &str| Verdict::Invalid(why.to_owned());
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
            return bad("not a JWT");
        };
        let Some(header) = b64(h).and_then(|b| serde_json::from_slice::<Header>(&b).ok()) else {
            return bad("JWT header is not base64url JSON");
        };
        let (Some(claims), Some(sig)) = (
            b64(p).and_then(|b| serde_json::from_slice::<Value>(&b).ok()),
            b64(s),
        ) else {
            return bad("JWT payload or signature is not base64url");
        };
        let signed = &token.as_bytes()[..h.len() + 1 + p.len()];
        let keys = match self.keys(header.kid.as_deref()).await {
            Ok(k) => k,
            Err(v) => return v,
        };
        let candidates = keys
            .iter()
            .filter(|k| header.kid.is_none() || k.kid == header.kid);
        let mut verified = false;
        for k in candidates {
            if verify_with(k, &header.alg, signed, &sig) {
                verified = true;
                break;
            }
        }
        if !verified {
            return bad("JWT signature does not verify with any key of the JWKS");
        }
        check_claims(&claims, issuer, audiences)
    }

    /// The key set; fetched again when `kid` is not in it.
    async fn keys(&self, kid: Option<&str>) -> Result<Arc<Vec<Jwk>>, Verdict> {
        let cached = self.keys.lock().clone();
        if let Some((at, keys)) = &cached {
            let known = kid.is_none_or(|kid| keys.iter().any(|k| k.kid.as_deref() == Some(kid)));
            if at.elapsed() < KEEP && (known || at.elapsed() < REFETCH) {
                return Ok(keys.clone());
            }
        }
        let fetched = crate::transport::call(
            &self.out,
            &self.url,
            "GET",
            &["Accept: application/json".to_owned()],
            &[],
            CALL_TIMEOUT,
        )
        .await;
        let set = match fetched {
            Ok((200, body)) => serde_json::from_slice::<KeySet>(&body)
                .map_err(|e| Verdict::Unavailable(format!("JWKS is not a key set: {e}"))),
            Ok((code, _)) => Err(Verdict::Unavailable(format!("JWKS answered HTTP {code}"))),
            Err(e) => Err(Verdict::Unavailable(format!("JWKS: {e}"))),
        };
        match set {
            Ok(set) => {
                let keys = Arc::new(set.keys);
                *self.keys.lock() = Some((Instant::now(), keys.clone()));
                Ok(keys)
            }
            // A stale set still verifies the tokens of known keys.
            Err(v) => cached.map(|(_, k)| k).ok_or(v),
        }
    }
}

fn verify_with(k: &Jwk, alg: &str, signed: &[u8], sig: &[u8]) -> bool {
    match (alg, k.kty.as_str()) {
        ("RS256", "RSA") => {
            let (Some(n), Some(e)) = (k.n.as_deref().and_then(b64), k.e.as_deref().and_then(b64))
            else {
                return false;
            };
            signature::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, signed, sig)
                .is_ok()
        }
        ("ES256", "EC") if k.crv.as_deref() == Some("P-256") => {
            let (Some(x), Some(y)) = (k.x.as_deref().and_then(b64), k.y.as_deref().and_then(b64))
            else {
                return false;
            };
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(signed, sig)
                .is_ok()
        }
        // `none` and everything else.
        _ => false,
    }
}

fn check_claims(c: &Value, issuer: Option<&str>, audiences: &[String]) -> Verdict {
    let now = now();
    let Some(exp) = c.get("exp").and_then(Value::as_u64) else {
        return Verdict::Invalid("JWT has no exp".into());
    };
    if now >= exp {
        return Verdict::Invalid("JWT has expired".into());
    }
    if c.get("nbf")
        .and_then(Value::as_u64)
        .is_some_and(|nbf| nbf > now + SKEW)
    {
        return Verdict::Invalid("JWT is not valid yet".into());
    }
    if let Some(want) = issuer
        && c.get("iss").and_then(Value::as_str) != Some(want)
    {
        return Verdict::Invalid("JWT issuer is not the configured one".into());
    }
    if !audiences.is_empty() {
        let ok = match c.get("aud") {
            Some(Value::String(a)) => audiences.contains(a),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .any(|a| audiences.iter().any(|w| w == a)),
            _ => false,
        };
        if !ok {
            return Verdict::Forbidden(format!("JWT audience is not one of {audiences:?}"));
        }
    }
    let who = c
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or("(no sub)")
        .to_owned();
    Verdict::Valid(who)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims() {
        let aud = vec!["agent".to_owned()];
        let t = now() + 100;
        let ok = json!({"exp": t, "iss": "i", "aud": ["x", "agent"], "sub": "s"});
        assert_eq!(
            check_claims(&ok, Some("i"), &aud),
            Verdict::Valid("s".into())
        );
        assert!(matches!(
            check_claims(&json!({"exp": 5, "aud": "agent"}), None, &aud),
            Verdict::Invalid(_)
        ));
        assert!(matches!(
            check_claims(&json!({"exp": t, "aud": "other"}), None, &aud),
            Verdict::Forbidden(_)
        ));
        assert!(matches!(
            check_claims(
                &json!({"exp": t, "iss": "j", "aud": "agent"}),
                Some("i"),
                &aud
            ),
            Verdict::Invalid(_)
        ));
        assert!(matches!(
            check_claims(&json!({}), None, &[]),
            Verdict::Invalid(_)
        ));
    }

    #[test]
    fn es256_signatures_verify_and_none_does_not() {
        use ring::rand::SystemRandom;
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let pt = kp.public_key().as_ref();
        let jwk = Jwk {
            kty: "EC".into(),
            kid: None,
            crv: Some("P-256".into()),
            n: None,
            e: None,
            x: Some(URL_SAFE_NO_PAD.encode(&pt[1..33])),
            y: Some(URL_SAFE_NO_PAD.encode(&pt[33..])),
        };
        let msg = b"head.payload";
        let sig = kp.sign(&rng, msg).unwrap();
        assert!(verify_with(&jwk, "ES256", msg, sig.as_ref()));
        assert!(!verify_with(&jwk, "ES256", b"head.other", sig.as_ref()));
        assert!(!verify_with(&jwk, "none", msg, b""));
    }
}
