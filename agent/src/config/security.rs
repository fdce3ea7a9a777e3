//! Flags of the security and limits layer: TLS and mTLS on the REST API,
//! token auth, the TLS client of https endpoints, the endpoint policy and
//! the connection limits. The anchor's `--auth-config` JSON maps onto the
//! same settings, so ptp-operator's rendering works unchanged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use super::ConfigError;

/// Where an in-cluster pod finds its service account.
pub(crate) const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

#[derive(Clone, Debug, Args)]
pub struct SecurityArgs {
    /// Serve the REST API over TLS with this PEM certificate chain
    /// (reloaded when the file changes).
    #[arg(long, env = "TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of `--tls-cert`.
    #[arg(long, env = "TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Require client certificates signed by this PEM CA (mTLS).
    #[arg(long, env = "TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// How often the TLS files are checked for a change, in milliseconds.
    #[arg(long, env = "TLS_RELOAD_MS", default_value_t = 2000)]
    pub tls_reload_ms: u64,

    /// The anchor's auth JSON (`enableMTLS`, `caCertPath`, `serverCertPath`,
    /// `serverKeyPath`, `enableOAuth`, `oauthIssuer`, `oauthJWKSURL`,
    /// `requiredAudience`, `serviceAccountToken`); flags given as well win.
    #[arg(long, env = "AUTH_CONFIG")]
    pub auth_config: Option<PathBuf>,

    /// Check `Authorization: Bearer` tokens with the Kubernetes TokenReview
    /// API: writes need a valid token.
    #[arg(long, env = "AUTH_TOKEN_REVIEW")]
    pub auth_token_review: bool,

    /// Validate JWTs against this JWKS (RS256/ES256), as well as or instead
    /// of TokenReview.
    #[arg(long, env = "AUTH_JWKS_URL")]
    pub auth_jwks_url: Option<String>,

    /// Required `iss` of JWTs.
    #[arg(long, env = "AUTH_ISSUER")]
    pub auth_issuer: Option<String>,

    /// Audiences a token must carry (any of them), comma separated.
    #[arg(long, env = "AUTH_AUDIENCES", value_delimiter = ',')]
    pub auth_audiences: Vec<String>,

    /// With auth on, reads (GET) need a valid identity too; by default
    /// they stay open, as health probes and listing clients expect.
    #[arg(long, env = "AUTH_PROTECT_READS")]
    pub auth_protect_reads: bool,

    /// How long a token's review is cached, in milliseconds.
    #[arg(long, env = "AUTH_CACHE_MS", default_value_t = 60_000)]
    pub auth_cache_ms: u64,

    /// The Kubernetes API server. Default: in-cluster
    /// (`https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`).
    #[arg(long, env = "KUBE_API")]
    pub kube_api: Option<String>,

    /// Service account token the agent calls the API server with.
    #[arg(long, env = "KUBE_TOKEN_FILE")]
    pub kube_token_file: Option<PathBuf>,

    /// CA of the API server.
    #[arg(long, env = "KUBE_CA_FILE")]
    pub kube_ca_file: Option<PathBuf>,

    /// Extra PEM CAs trusted for `https://` endpoints (besides the web PKI).
    #[arg(long, env = "ENDPOINT_CA", value_delimiter = ',')]
    pub endpoint_ca: Vec<PathBuf>,

    /// Client certificate for `https://` endpoints that require one.
    #[arg(long, env = "ENDPOINT_CERT", requires = "endpoint_key")]
    pub endpoint_cert: Option<PathBuf>,

    /// PEM private key of `--endpoint-cert`.
    #[arg(long, env = "ENDPOINT_KEY", requires = "endpoint_cert")]
    pub endpoint_key: Option<PathBuf>,

    /// Where `EndpointUri`s may point: CIDRs (`10.0.0.0/8`) and host
    /// patterns (`*.svc.cluster.local`), comma separated. Default: any
    /// address but link-local and cloud metadata ones.
    #[arg(long, env = "ENDPOINT_POLICY", value_delimiter = ',')]
    pub endpoint_policy: Vec<String>,

    /// Open REST API connections at most (0: a quarter of the open-file
    /// limit, at most 4096). At the cap the one idle longest is closed.
    #[arg(long, env = "MAX_API_CONNECTIONS", default_value_t = 0)]
    pub max_api_connections: usize,

    /// A request head (and TLS handshake) must arrive within this, in ms.
    #[arg(long, env = "HEADER_TIMEOUT_MS", default_value_t = 2000)]
    pub header_timeout_ms: u64,

    /// An API connection with no request for this long is closed, in ms (a
    /// backstop: the header timeout already closes a keep-alive connection
    /// that sends no new request head in time).
    #[arg(long, env = "IDLE_TIMEOUT_MS", default_value_t = 30_000)]
    pub idle_timeout_ms: u64,

    /// Open connections to subscribers at most (0: half the open-file
    /// limit, at most 1024). Idle ones are closed when others wait.
    #[arg(long, env = "MAX_OUTBOUND_CONNECTIONS", default_value_t = 0)]
    pub max_outbound_connections: usize,

    /// A connection to a subscriber unused for this long is closed, in ms.
    #[arg(long, env = "OUTBOUND_IDLE_MS", default_value_t = 30_000)]
    pub outbound_idle_ms: u64,
}

/// The anchor's `--auth-config` file (extra keys ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct AuthFile {
    #[serde(rename = "enableMTLS")]
    enable_mtls: bool,
    ca_cert_path: Option<PathBuf>,
    server_cert_path: Option<PathBuf>,
    server_key_path: Option<PathBuf>,
    #[serde(rename = "enableOAuth")]
    enable_oauth: bool,
    oauth_issuer: Option<String>,
    #[serde(rename = "oauthJWKSURL")]
    oauth_jwks_url: Option<String>,
    required_audience: Option<String>,
    service_account_token: Option<PathBuf>,
}

/// TLS and token auth of the REST API, validated. (The endpoint and
/// connection flags of this group go to the transport and API settings.)
#[derive(Clone, Debug, Default)]
pub(crate) struct Security {
    pub tls: Option<crate::tls::ServerFiles>,
    pub tls_reload: Duration,
    pub auth: Option<AuthSettings>,
}

/// Token auth.
#[derive(Clone, Debug)]
pub(crate) struct AuthSettings {
    pub token_review: bool,
    pub jwks_url: Option<String>,
    pub issuer: Option<String>,
    pub audiences: Vec<String>,
    pub protect_reads: bool,
    pub cache: Duration,
    /// `https://host:port` of the API server (None: not in a cluster).
    pub kube_api: Option<String>,
    pub kube_token_file: PathBuf,
    pub kube_ca_file: PathBuf,
}

impl SecurityArgs {
    pub(super) fn validate(self) -> Result<Security, ConfigError> {
        let file = match &self.auth_config {
            Some(p) => read_auth_file(p)?,
            None => AuthFile::default(),
        };
        let cert = self.tls_cert.or(file.server_cert_path);
        let key = self.tls_key.or(file.server_key_path);
        let client_ca = self
            .tls_client_ca
            .or(file.enable_mtls.then_some(file.ca_cert_path).flatten());
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => Some(crate::tls::ServerFiles {
                cert,
                key,
                client_ca,
            }),
            (None, None) if client_ca.is_none() => None,
            _ => {
                return Err(ConfigError::TlsPair);
            }
        };
        let jwks_url = self
            .auth_jwks_url
            .or(file.oauth_jwks_url.filter(|_| file.enable_oauth));
        let issuer = self
            .auth_issuer
            .or(file.oauth_issuer.filter(|_| file.enable_oauth));
        let mut audiences = self.auth_audiences;
        audiences.retain(|a| !a.is_empty());
        if audiences.is_empty()
            && let Some(a) = file.required_audience.filter(|_| file.enable_oauth)
        {
            audiences.push(a);
        }
        let token_review = self.auth_token_review || file.enable_oauth;
        let auth = (token_review || jwks_url.is_some()).then(|| {
            let sa = Path::new(SA_DIR);
            AuthSettings {
                token_review,
                jwks_url,
                issuer,
                audiences,
                protect_reads: self.auth_protect_reads,
                cache: Duration::from_millis(self.auth_cache_ms),
                kube_api: self.kube_api.or_else(in_cluster_api),
                kube_token_file: self
                    .kube_token_file
                    .or(file.service_account_token)
                    .unwrap_or_else(|| sa.join("token")),
                kube_ca_file: self.kube_ca_file.unwrap_or_else(|| sa.join("ca.crt")),
            }
        });
        Ok(Security {
            tls,
            tls_reload: Duration::from_millis(self.tls_reload_ms.max(100)),
            auth,
        })
    }
}

fn read_auth_file(p: &Path) -> Result<AuthFile, ConfigError> {
    let text = std::fs::read(p).map_err(|source| ConfigError::AuthRead {
        path: p.to_owned(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|source| ConfigError::AuthJson {
        path: p.to_owned(),
        source,
    })
}

/// `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT` in a pod.
fn in_cluster_api() -> Option<String> {
    let host = std::env::var("KUBERNETES_SERVICE_HOST").ok()?;
    let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    Some(format!("https://{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        s: SecurityArgs,
    }

    fn parse(args: &[&str]) -> Result<Security, ConfigError> {
        let mut v = vec!["t"];
        v.extend_from_slice(args);
        T::try_parse_from(v).unwrap().s.validate()
    }

    #[test]
    fn the_anchors_auth_config_maps_onto_the_flags() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("auth.json");
        std::fs::write(
            &f,
            r#"{"enableMTLS":true,"useServiceCA":true,"caCertPath":"/ca/tls.crt","serverCertPath":"/certs/tls.crt","serverKeyPath":"/certs/tls.key","enableOAuth":true,"useOpenShiftOAuth":true,"oauthIssuer":"https://oauth.example","oauthJWKSURL":"https://oauth.example/oauth/jwks","requiredScopes":["user:info"],"requiredAudience":"openshift","serviceAccountName":"cloud-event-proxy-sa","serviceAccountToken":"/sa/token"}"#,
        )
        .unwrap();
        let s = parse(&["--auth-config", f.to_str().unwrap()]).unwrap();
        let tls = s.tls.unwrap();
        assert_eq!(tls.cert, PathBuf::from("/certs/tls.crt"));
        assert_eq!(tls.key, PathBuf::from("/certs/tls.key"));
        assert_eq!(tls.client_ca, Some(PathBuf::from("/ca/tls.crt")));
        let auth = s.auth.unwrap();
        assert!(auth.token_review);
        assert_eq!(
            auth.jwks_url.as_deref(),
            Some("https://oauth.example/oauth/jwks")
        );
        assert_eq!(auth.issuer.as_deref(), Some("https://oauth.example"));
        assert_eq!(auth.audiences, ["openshift"]);
        assert_eq!(auth.kube_token_file, PathBuf::from("/sa/token"));
        // A flag wins over the file.
        let s = parse(&[
            "--auth-config",
            f.to_str().unwrap(),
            "--tls-cert",
            "/c",
            "--tls-key",
            "/k",
        ])
        .unwrap();
        assert_eq!(s.tls.unwrap().cert, PathBuf::from("/c"));
    }

    #[test]
    fn bad_settings_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("auth.json");
        std::fs::write(&f, "{not json").unwrap();
        assert!(parse(&["--auth-config", f.to_str().unwrap()]).is_err());
        std::fs::write(&f, r#"{"serverCertPath":"/c"}"#).unwrap();
        assert!(parse(&["--auth-config", f.to_str().unwrap()]).is_err());
        // --endpoint-policy is checked where the policy is built (tests.rs).
        let s = parse(&[]).unwrap();
        assert!(s.tls.is_none() && s.auth.is_none());
    }
}
