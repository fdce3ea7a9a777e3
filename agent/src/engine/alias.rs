//! Interface aliases (§3.9): events and metrics name a PHC, not a port, so
//! `ens1f0` and `ens1f1` both become `ens1fx`. The anchor asks the
//! linuxptp-daemon for these; we compute them with the daemon's rule,
//! `^(.+?)(\d+)(?:np\d+)?(\..+)?$` -> prefix + `x` + VLAN suffix.

/// The alias of `iface`; names the rule does not match are kept.
#[must_use]
pub fn alias(iface: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::alias;

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
