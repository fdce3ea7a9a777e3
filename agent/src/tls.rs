//! TLS with rustls (ring): the REST API's server side (certificate files
//! reloaded when they change, as a Kubernetes secret rotates; client
//! certificates required with a client CA) and the client side used to
//! deliver to `https://` endpoints and to call the Kubernetes API.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{info, warn};

#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("{path}: {source}")]
    Pem {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("{0}: no certificate in it")]
    NoCert(PathBuf),
    #[error("{path}: {source}")]
    Rustls {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("client CA {path}: {source}")]
    ClientCa {
        path: PathBuf,
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
}

/// ring, not aws-lc-rs: aws-lc-rs needs cmake and a long C build on every
/// machine that builds the agent; ring's primitives cover TLS 1.2/1.3 here.
#[allow(
    deprecated,
    reason = "ring has no post-quantum key exchange; fine for a node-local API"
)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate of a PEM file.
///
/// # Errors
/// Unreadable, not PEM, or no certificate in it.
pub(crate) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = |source| TlsError::Pem {
        path: path.to_owned(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem)?;
    if certs.is_empty() {
        return Err(TlsError::NoCert(path.to_owned()));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
///
/// # Errors
/// Unreadable or no key in it.
pub(crate) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| TlsError::Pem {
        path: path.to_owned(),
        source,
    })
}

/// A root store of the certificates of `path`.
///
/// # Errors
/// As [`load_certs`], or a certificate that is not a usable CA.
pub(crate) fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in load_certs(path)? {
        roots.add(c).map_err(|source| TlsError::Rustls {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(roots)
}

/// The files of the server side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServerFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Client certificates signed by this CA are required (mTLS).
    pub client_ca: Option<PathBuf>,
}

impl ServerFiles {
    fn paths(&self) -> impl Iterator<Item = &Path> {
        [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()]
            .into_iter()
            .flatten()
            .map(PathBuf::as_path)
    }

    /// A server config from the files as they are now.
    ///
    /// # Errors
    /// A file cannot be read or does not hold what it should.
    pub(crate) fn build(&self) -> Result<ServerConfig, TlsError> {
        let certs = load_certs(&self.cert)?;
        let key = load_key(&self.key)?;
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Rustls {
                path: self.cert.clone(),
                source,
            })?;
        let builder = match &self.client_ca {
            Some(ca) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(
                    Arc::new(load_roots(ca)?),
                    provider(),
                )
                .build()
                .map_err(|source| TlsError::ClientCa {
                    path: ca.clone(),
                    source,
                })?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut cfg = builder
            .with_single_cert(certs, key)
            .map_err(|source| TlsError::Rustls {
                path: self.key.clone(),
                source,
            })?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(cfg)
    }

    /// What identifies the files' current contents (follows symlinks, so a
    /// Kubernetes secret's `..data` swap is seen).
    fn stamp(&self) -> Vec<Option<(SystemTime, u64, u64)>> {
        use std::os::unix::fs::MetadataExt;
        self.paths()
            .map(|p| {
                std::fs::metadata(p).ok().map(|m| {
                    (
                        m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                        m.len(),
                        m.ino(),
                    )
                })
            })
            .collect()
    }
}

/// Who the client proved to be at the TLS layer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum PeerIdentity {
    #[default]
    None,
    /// A client certificate verified against the client CA.
    ClientCert,
}

/// Accepts TLS connections with the current server config.
#[derive(Clone)]
pub(crate) struct TlsAcceptor {
    config: Arc<ArcSwap<ServerConfig>>,
}

impl TlsAcceptor {
    /// Loads the files and starts watching them (every `every`).
    ///
    /// # Errors
    /// The files do not make a server config now.
    pub(crate) fn start(files: ServerFiles, every: Duration) -> Result<Self, TlsError> {
        let config = Arc::new(ArcSwap::from_pointee(files.build()?));
        info!(cert = %files.cert.display(), mtls = files.client_ca.is_some(), "TLS on the REST API");
        tokio::spawn(watch(files, config.clone(), every));
        Ok(Self { config })
    }

    /// Runs the handshake.
    ///
    /// # Errors
    /// The handshake failed (no or a bad client certificate, not TLS).
    pub(crate) async fn accept<S>(
        &self,
        stream: S,
    ) -> std::io::Result<(tokio_rustls::server::TlsStream<S>, PeerIdentity)>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let acceptor = tokio_rustls::TlsAcceptor::from(self.config.load_full());
        let s = acceptor.accept(stream).await?;
        let peer = if s
            .get_ref()
            .1
            .peer_certificates()
            .is_some_and(|c| !c.is_empty())
        {
            PeerIdentity::ClientCert
        } else {
            PeerIdentity::None
        };
        Ok((s, peer))
    }
}

/// Rebuilds the config when a file changes; a broken update keeps the old
/// config (and says so) until the files are whole again.
async fn watch(files: ServerFiles, config: Arc<ArcSwap<ServerConfig>>, every: Duration) {
    let mut seen = files.stamp();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = files.stamp();
        if now == seen {
            continue;
        }
        match files.build() {
            Ok(c) => {
                config.store(Arc::new(c));
                seen = now;
                info!(cert = %files.cert.display(), "TLS certificate reloaded");
            }
            // Not `seen = now`: retried next tick (a rotation writes the
            // cert and the key one after the other).
            Err(e) => warn!(error = %e, "TLS files changed but do not load; keeping the old ones"),
        }
    }
}

/// The files of the client side.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientFiles {
    /// Extra roots (besides the web PKI roots).
    pub ca: Vec<PathBuf>,
    /// A client certificate, for consumers that require one.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// A client config: web PKI roots plus `files.ca`, with the client
/// certificate when given.
///
/// # Errors
/// A file cannot be read or does not hold what it should.
pub(crate) fn client_config(files: &ClientFiles) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for ca in &files.ca {
        for c in load_certs(ca)? {
            roots.add(c).map_err(|source| TlsError::Rustls {
                path: ca.clone(),
                source,
            })?;
        }
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Rustls {
            path: PathBuf::new(),
            source,
        })?
        .with_root_certificates(roots);
    let cfg = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|source| TlsError::Rustls {
                path: key.clone(),
                source,
            })?,
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(cfg))
}

/// The name a client verifies the server's certificate against.
///
/// # Errors
/// `host` is neither a DNS name nor an IP address.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, std::io::Error> {
    ServerName::try_from(host.to_owned())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}
