//! Where `EndpointUri`s may point (`--endpoint-policy`). Checked on the
//! URI when a subscription is made and on every resolved address when a
//! connection is opened, so a name that later resolves elsewhere (DNS
//! rebinding) is refused too. Without rules any address is allowed but
//! link-local ones (cloud metadata services live there) and the other
//! well-known metadata addresses.

use std::net::IpAddr;

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("not a CIDR (address/prefix) or host pattern")]
    Syntax,
    #[error("prefix length {0} is too long for the address")]
    Prefix(u8),
}

/// One allowed range or name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    Cidr(IpAddr, u8),
    /// Exact host name, lower case.
    Host(String),
    /// `*.suffix`: any name below `suffix` (stored as `.suffix`).
    Below(String),
}

impl Rule {
    /// # Errors
    /// Neither a CIDR, an address, nor a host pattern.
    pub(crate) fn parse(s: &str) -> Result<Self, RuleError> {
        let s = s.trim();
        if let Some((addr, len)) = s.split_once('/') {
            let addr: IpAddr = addr.parse().map_err(|_| RuleError::Syntax)?;
            let len: u8 = len.parse().map_err(|_| RuleError::Syntax)?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            if len > max {
                return Err(RuleError::Prefix(len));
            }
            return Ok(Self::Cidr(addr, len));
        }
        if let Ok(addr) = s.parse::<IpAddr>() {
            return Ok(Self::Cidr(addr, if addr.is_ipv4() { 32 } else { 128 }));
        }
        let lower = s.to_ascii_lowercase();
        let valid = |h: &str| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        };
        match lower.strip_prefix("*.") {
            Some(rest) if valid(rest) => Ok(Self::Below(format!(".{rest}"))),
            None if valid(&lower) => Ok(Self::Host(lower)),
            _ => Err(RuleError::Syntax),
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Self::Cidr(IpAddr::V4(net), len), IpAddr::V4(a)) => {
                prefix_eq(&net.octets(), &a.octets(), *len)
            }
            (Self::Cidr(IpAddr::V6(net), len), IpAddr::V6(a)) => {
                prefix_eq(&net.octets(), &a.octets(), *len)
            }
            _ => false,
        }
    }

    fn names(&self, host: &str) -> bool {
        match self {
            Self::Host(h) => host.eq_ignore_ascii_case(h),
            Self::Below(suffix) => {
                host.len() > suffix.len()
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            }
            Self::Cidr(..) => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], len: u8) -> bool {
    let full = usize::from(len / 8);
    let rest = len % 8;
    if a[..full] != b[..full] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[full] & mask == b[full] & mask
    }
}

/// Link-local (169.254.0.0/16 holds the cloud metadata services,
/// fe80::/10) and the other metadata addresses (AWS IPv6, Alibaba).
fn is_metadata(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_link_local() || a.octets() == [100, 100, 100, 200],
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_metadata(IpAddr::V4(v4));
            }
            (a.segments()[0] & 0xffc0) == 0xfe80
                || a.segments() == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254]
        }
    }
}

/// The allowed endpoints.
#[derive(Clone, Debug, Default)]
pub(crate) struct Policy {
    rules: Vec<Rule>,
}

impl Policy {
    /// From rules parsed already (config parses `--endpoint-policy` and
    /// names the rule that does not parse).
    #[must_use]
    pub(crate) fn from_rules(rules: Vec<Rule>) -> Self {
        Self { rules }
    }

    /// Whether a connection to `ip`, reached through the name `host`, is
    /// allowed.
    #[must_use]
    pub(crate) fn allows(&self, host: &str, ip: IpAddr) -> bool {
        if self.rules.is_empty() {
            return !is_metadata(ip);
        }
        self.rules.iter().any(|r| r.contains(ip))
            || (!is_metadata(ip) && self.rules.iter().any(|r| r.names(host)))
    }

    /// The check on a URI's host before any lookup: a literal address must
    /// be allowed; a name must match a host pattern, or may resolve into
    /// an allowed range (checked at connect time).
    #[must_use]
    pub(crate) fn allows_host(&self, host: &str) -> bool {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<IpAddr>() {
            Ok(ip) => self.allows(bare, ip),
            Err(_) => {
                self.rules.is_empty()
                    || self.rules.iter().any(|r| r.names(bare))
                    || self.rules.iter().any(|r| matches!(r, Rule::Cidr(..)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn default_refuses_metadata_and_link_local_only() {
        let p = Policy::default();
        for bad in [
            "169.254.169.254",
            "169.254.1.1",
            "fe80::1",
            "fd00:ec2::254",
            "100.100.100.200",
            "::ffff:169.254.169.254",
        ] {
            assert!(!p.allows("x", ip(bad)), "{bad}");
            assert!(!p.allows_host(bad), "{bad}");
        }
        for ok in ["10.1.2.3", "127.0.0.1", "192.168.1.1", "::1", "172.30.0.10"] {
            assert!(p.allows("x", ip(ok)), "{ok}");
        }
        assert!(p.allows_host("consumer.ns.svc"));
    }

    #[test]
    fn rules_allow_ranges_and_names() {
        let p = Policy::from_rules(
            ["10.128.0.0/14", "*.svc.cluster.local", "fd00::/8"]
                .map(|r| Rule::parse(r).unwrap())
                .to_vec(),
        );
        assert!(p.allows("x", ip("10.129.3.4")));
        assert!(!p.allows("x", ip("10.132.0.1")));
        assert!(p.allows("c.ns.svc.cluster.local", ip("172.30.1.1")));
        assert!(!p.allows("evil.example", ip("172.30.1.1")));
        assert!(p.allows("x", ip("fd12::1")));
        // A name never reaches the metadata service, whatever it matches.
        assert!(!p.allows("c.ns.svc.cluster.local", ip("169.254.169.254")));
        assert!(p.allows_host("c.ns.svc.cluster.local"));
        assert!(!p.allows_host("127.0.0.1"));
        for bad in ["10.0.0.0/33", "x/y", "*.", "a b", ""] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
    }
}
