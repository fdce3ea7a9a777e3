//! Interface aliases: events and metrics name a PHC, not a port, so
//! `ens1f0` and `ens1f1` both become `ens1fx`. The anchor asks the
//! linuxptp-daemon for these; we compute them with the daemon's rule,
//! `^(.+?)(\d+)(?:np\d+)?(\..+)?$` -> prefix + `x` + VLAN suffix.

/// The alias of `iface`; names the rule does not match are kept.
#[must_use]
pub(crate) fn alias(iface: &str) -> String {
    let b = iface.as_bytes();
    // The lazy prefix: the first split whose rest matches the tail.
    for split in 1..b.len() {
        if let Some(vlan) = tail(&b[split..]) {
            let vlan = &iface[b.len() - vlan..];
            return format!("{}x{vlan}", &iface[..split]);
        }
    }
    iface.to_owned()
}

/// Whether `s` matches `\d+(?:np\d+)?(\..+)?$`: the VLAN suffix's length.
fn tail(s: &[u8]) -> Option<usize> {
    let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
    let n = digits(s);
    if n == 0 {
        return None;
    }
    let mut rest = &s[n..];
    if let Some(np) = rest.strip_prefix(b"np") {
        let m = digits(np);
        if m > 0 {
            rest = &np[m..];
        }
    }
    match rest {
        [] => Some(0),
        [b'.', _, ..] => Some(rest.len()),
        _ => None,
    }
}

/// Aliases of every known interface, with the anchor's collision fallback:
/// if the ports of one PHC get different aliases, or two PHCs the same
/// alias, those ports keep their raw names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AliasMap(Vec<(String, String)>);

impl AliasMap {
    /// `ports`: (PHC identity, interface). Ports of one ptp4l config share
    /// a PHC (ptp4l requires it), so the config name is a fine identity
    /// where sysfs does not name the PHC (see [`phc_of`]).
    #[must_use]
    pub(crate) fn new(ports: &[(String, String)]) -> Self {
        let mut phcs: Vec<(&str, Vec<&str>)> = Vec::new();
        for (phc, iface) in ports {
            match phcs.iter_mut().find(|(p, _)| p == phc) {
                Some((_, v)) if !v.contains(&iface.as_str()) => v.push(iface),
                Some(_) => {}
                None => phcs.push((phc, vec![iface])),
            }
        }
        // One alias per PHC, or None when its ports disagree.
        let per_phc: Vec<Option<String>> = phcs
            .iter()
            .map(|(_, ifs)| {
                let a = alias(ifs[0]);
                ifs.iter().all(|i| alias(i) == a).then_some(a)
            })
            .collect();
        let mut map = Vec::new();
        for (i, (_, ifs)) in phcs.iter().enumerate() {
            let shared = per_phc[i].as_ref().filter(|a| {
                per_phc
                    .iter()
                    .enumerate()
                    .all(|(j, b)| j == i || b.as_ref() != Some(*a))
            });
            for iface in ifs {
                let v = shared.cloned().unwrap_or_else(|| (*iface).to_owned());
                if !map.iter().any(|(k, _): &(String, String)| k == iface) {
                    map.push(((*iface).to_owned(), v));
                }
            }
        }
        Self(map)
    }

    /// The alias of `iface`: from the map, else the plain rule.
    #[must_use]
    pub(crate) fn get(&self, iface: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == iface)
            .map_or_else(|| alias(iface), |(_, v)| v.clone())
    }
}

/// The PHC of `iface` as sysfs names it (`ptp0`), if it does.
#[must_use]
pub(crate) fn phc_of(iface: &str) -> Option<String> {
    let dir = std::path::Path::new("/sys/class/net")
        .join(iface)
        .join("device/ptp");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .find_map(|e| e.file_name().into_string().ok())
}

#[cfg(test)]
mod tests {
    use super::{AliasMap, alias};

    fn ports(p: &[(&str, &str)]) -> AliasMap {
        let v: Vec<(String, String)> = p
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        AliasMap::new(&v)
    }

    #[test]
    fn collision_fallback() {
        let m = ports(&[("c0", "ens1f0"), ("c0", "ens1f1"), ("c1", "ens2f0")]);
        assert_eq!(m.get("ens1f1"), "ens1fx");
        assert_eq!(m.get("ens2f0"), "ens2fx");
        // Ports of one PHC with different aliases: raw names.
        let m = ports(&[("c0", "ens1f0"), ("c0", "eth1")]);
        assert_eq!(
            (m.get("ens1f0"), m.get("eth1")),
            ("ens1f0".into(), "eth1".into())
        );
        // Two PHCs with the same alias: raw names for both.
        let m = ports(&[("c0", "eth0"), ("c1", "eth1"), ("c2", "ens5f0")]);
        assert_eq!(
            (m.get("eth0"), m.get("eth1")),
            ("eth0".into(), "eth1".into())
        );
        assert_eq!(m.get("ens5f0"), "ens5fx");
        // Unknown interfaces follow the rule.
        assert_eq!(m.get("ens7f0"), "ens7fx");
    }

    #[test]
    fn anchor_examples() {
        assert_eq!(alias("ens1f0"), "ens1fx");
        assert_eq!(alias("ens5f1"), "ens5fx");
        assert_eq!(alias("eth0"), "ethx");
        assert_eq!(alias("eth10"), "ethx");
        assert_eq!(alias("enP2s2f0np0"), "enP2s2fx");
        assert_eq!(alias("ens1f0.100"), "ens1fx.100");
        assert_eq!(alias("ens1f0np1.7"), "ens1fx.7");
    }

    #[test]
    fn kept_when_not_matching() {
        assert_eq!(alias("ens1fx"), "ens1fx");
        assert_eq!(alias("lo"), "lo");
        assert_eq!(alias(""), "");
        assert_eq!(alias("0"), "0");
        assert_eq!(alias("ens1f0."), "ens1f0.");
        assert_eq!(alias("ens1f0np"), "ens1f0np");
    }
}
