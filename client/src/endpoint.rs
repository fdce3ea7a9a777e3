//! The one parser of the absolute URLs this API talks to: a publisher's
//! base, a consumer's `EndpointUri`, an AMQP broker. The grammar is
//! `hyper`'s (RFC 3986); on top of it an [`Endpoint`] is typed and strict:
//! a known scheme (any case), a non-empty host (an IPv6 literal in
//! brackets), a numeric port or the scheme's default, no fragment, and
//! user information only where it carries credentials (AMQP).

use std::fmt;
use std::net::Ipv6Addr;

/// The schemes an [`Endpoint`] may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
    Amqp,
}

impl Scheme {
    /// The port used when the URL names none.
    #[must_use]
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
            Self::Amqp => 5672,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Amqp => "amqp",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Http, Self::Https, Self::Amqp]
            .into_iter()
            .find(|k| s.eq_ignore_ascii_case(k.as_str()))
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not an [`Endpoint`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    #[error("it is not a URL")]
    Syntax(#[source] hyper::http::uri::InvalidUri),
    #[error("it has no scheme")]
    NoScheme,
    #[error("scheme {0:?} is not one of {1}")]
    Scheme(String, &'static str),
    #[error("it has no host")]
    NoHost,
    #[error("host {0:?} is not a name or an IP address")]
    Host(String),
    #[error("port {0:?} is not a number from 0 to 65535")]
    Port(String),
    #[error("user information (`user@`) is not allowed in an {0} URL")]
    Userinfo(Scheme),
    #[error("a fragment (`#...`) is not allowed")]
    Fragment,
    #[error("a path ({0:?}) is not allowed here")]
    Path(String),
}

/// A parsed absolute URL.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: Scheme,
    /// Without the brackets of an IPv6 literal.
    host: String,
    /// As written; `None`: the scheme's default.
    port: Option<u16>,
    /// Path and query, `/` when empty; percent-encoding kept as written.
    path: String,
    /// `user[:password]`, percent-decoded (AMQP only).
    userinfo: Option<(String, String)>,
}

impl Endpoint {
    /// An absolute URL with one of the [`Scheme`]s.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn parse(s: &str) -> Result<Self, EndpointError> {
        // `hyper` drops a fragment silently; a consumer that wrote one
        // would never see it, so it is refused instead.
        if s.contains('#') {
            return Err(EndpointError::Fragment);
        }
        let uri: hyper::Uri = s.parse().map_err(EndpointError::Syntax)?;
        let scheme = uri.scheme_str().ok_or(EndpointError::NoScheme)?;
        let scheme = Scheme::parse(scheme)
            .ok_or_else(|| EndpointError::Scheme(scheme.to_owned(), "http, https or amqp"))?;
        let authority = uri.authority().ok_or(EndpointError::NoHost)?.as_str();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((_, _)) if scheme != Scheme::Amqp => {
                return Err(EndpointError::Userinfo(scheme));
            }
            Some((u, h)) => {
                let (user, password) = u.split_once(':').unwrap_or((u, ""));
                (Some((decode(user), decode(password))), h)
            }
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport)?;
        Ok(Self {
            scheme,
            host,
            port,
            path: uri
                .path_and_query()
                .map(hyper::http::uri::PathAndQuery::as_str)
                .filter(|p| !p.is_empty())
                .unwrap_or("/")
                .to_owned(),
            userinfo,
        })
    }

    /// As [`Endpoint::parse`], `default` assumed when `s` names no scheme
    /// (`host:port`).
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn parse_or(s: &str, default: Scheme) -> Result<Self, EndpointError> {
        if s.contains("://") {
            Self::parse(s)
        } else {
            Self::parse(&format!("{default}://{s}"))
        }
    }

    /// An `http` or `https` URL.
    ///
    /// # Errors
    /// What is wrong with it; another scheme.
    pub fn http(s: &str) -> Result<Self, EndpointError> {
        let e = Self::parse(s)?;
        if e.scheme == Scheme::Amqp {
            return Err(EndpointError::Scheme(e.scheme.to_string(), "http or https"));
        }
        Ok(e)
    }

    #[must_use]
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host name or address, IPv6 without brackets.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port to connect to: as written, else the scheme's default.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.scheme.default_port())
    }

    /// Path and query (`/` at least).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `user` and `password` (empty when not given), decoded.
    #[must_use]
    pub fn userinfo(&self) -> Option<(&str, &str)> {
        self.userinfo
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// `host[:port]` as written (IPv6 in brackets): the `Host` header.
    #[must_use]
    pub fn authority(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.bracketed()),
            None => self.bracketed(),
        }
    }

    /// `host:port` with the port always given: what a socket connects to.
    #[must_use]
    pub fn host_port(&self) -> String {
        format!("{}:{}", self.bracketed(), self.port())
    }

    /// `scheme://host[:port]`, without user information and path.
    #[must_use]
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority())
    }

    /// Refuses a path other than `/` (and a query).
    ///
    /// # Errors
    /// [`EndpointError::Path`].
    pub fn without_path(self) -> Result<Self, EndpointError> {
        if self.path == "/" {
            Ok(self)
        } else {
            Err(EndpointError::Path(self.path))
        }
    }

    fn bracketed(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// Without the password: an `Endpoint` may be logged.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin(), self.path)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &format_args!("{self}"))
            .field("user", &self.userinfo.as_ref().map(|u| &u.0))
            .finish()
    }
}

impl std::str::FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// `host[:port]` of an authority without user information.
fn split_host_port(s: &str) -> Result<(String, Option<u16>), EndpointError> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or(EndpointError::NoHost)?;
        // A zone (`%25eth0`) is not routable from a pod; refused with the rest.
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(EndpointError::Host(v6.to_owned()));
        }
        match after {
            "" => (v6, None),
            p => (v6, Some(p.strip_prefix(':').ok_or(EndpointError::NoHost)?)),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err(EndpointError::NoHost);
    }
    if !host.contains(':')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err(EndpointError::Host(host.to_owned()));
    }
    let port = match port {
        // RFC 3986: an empty port is the default one.
        None | Some("") => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => Some(
            p.parse::<u16>()
                .map_err(|_| EndpointError::Port(p.to_owned()))?,
        ),
        Some(p) => return Err(EndpointError::Port(p.to_owned())),
    };
    Ok((host.to_owned(), port))
}

/// Percent-decoding of user information (`%40` is `@`); an invalid escape
/// is kept as written.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            // Two hex digits: below 256.
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Endpoint {
        Endpoint::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parts_and_default_ports() {
        let e = ok("http://consumer:8080/event?x=1");
        assert_eq!(
            (e.scheme(), e.host(), e.port(), e.path()),
            (Scheme::Http, "consumer", 8080, "/event?x=1")
        );
        assert_eq!(e.authority(), "consumer:8080");
        assert_eq!(e.to_string(), "http://consumer:8080/event?x=1");
        let e = ok("https://a");
        assert_eq!((e.port(), e.path(), e.authority()), (443, "/", "a".into()));
        assert_eq!(ok("amqp://b").host_port(), "b:5672");
        assert_eq!(ok("http://h:/x").port(), 80);
    }

    #[test]
    fn ipv6_literals() {
        let e = ok("http://[::1]:8080/ev");
        assert_eq!((e.host(), e.port()), ("::1", 8080));
        assert_eq!(e.authority(), "[::1]:8080");
        assert_eq!(e.origin(), "http://[::1]:8080");
        let e = ok("http://[fd00::1]");
        assert_eq!(
            (e.host(), e.port(), e.host_port()),
            ("fd00::1", 80, "[fd00::1]:80".into())
        );
        for bad in [
            "http://[::1",
            "http://[nope]/",
            "http://[fe80::1%25eth0]/",
            "http://[::1]x/",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scheme_in_any_case() {
        let e = ok("HTTP://10.0.0.1:9/e");
        assert_eq!(e.scheme(), Scheme::Http);
        assert_eq!(e.origin(), "http://10.0.0.1:9");
        assert_eq!(ok("Amqp://b:5674").scheme(), Scheme::Amqp);
        assert!(matches!(
            Endpoint::parse("ftp://e/x"),
            Err(EndpointError::Scheme(..))
        ));
        assert!(matches!(
            Endpoint::http("amqp://e"),
            Err(EndpointError::Scheme(..))
        ));
        assert!(matches!(
            Endpoint::parse("consumer:8080"),
            Err(EndpointError::NoScheme | EndpointError::Syntax(_))
        ));
        assert_eq!(
            Endpoint::parse_or("consumer:8080", Scheme::Http)
                .unwrap()
                .origin(),
            "http://consumer:8080"
        );
    }

    #[test]
    fn junk_is_refused() {
        for bad in [
            "http://",
            "http:///x",
            "http://h:80x/",
            "http://h:99999/",
            "http://h:1:2/",
            "http://h x/",
            "http://a!b/",
            "http://h/x#frag",
            "http://user:pw@h/",
            "http://@h/",
            "",
            "/relative",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percent_encoding() {
        // Kept in the path as written, refused in a host, decoded in
        // credentials.
        assert_eq!(ok("http://h/a%20b?q=%2F").path(), "/a%20b?q=%2F");
        assert!(Endpoint::parse("http://h%41/").is_err());
        let e = ok("amqp://gu%40st:s3%3Acret@b:5674/");
        assert_eq!(e.userinfo(), Some(("gu@st", "s3:cret")));
        assert_eq!(e.host_port(), "b:5674");
        assert_eq!(ok("amqp://u@b").userinfo(), Some(("u", "")));
        assert!(!format!("{e} {e:?}").contains("s3"));
    }

    #[test]
    fn paths_can_be_refused() {
        assert!(ok("amqp://b/").without_path().is_ok());
        assert!(matches!(
            ok("amqp://b/vhost").without_path(),
            Err(EndpointError::Path(_))
        ));
    }
}
