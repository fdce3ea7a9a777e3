//! A mutation fuzzer over every verbatim line of the anchor's tests and the
//! recorded run (cargo-fuzz needs nightly and a network install; this runs
//! everywhere). Invariants: no panic, and a line the engine calls Invalid
//! or Ignored publishes nothing. `FUZZ_ITERS` sets the number of inputs.

use super::*;

const SEEDS: &[&str] = &[
    "ptp4l[5196819.100]: [ptp4l.0.config] master offset   -2162130 s2 freq +22451884 path delay    374976",
    "ptp4l[74737.942]: [ptp4l.0.config] rms   53 max   74 freq -16642 +/-  40 delay  1089 +/-  20",
    "phc2sys[4268818.286]: [ptp4l.0.config] CLOCK_REALTIME phc offset       -62 s0 freq  -78368 delay   1100",
    "phc2sys[5196804.326]: [ptp4l.0.config] CLOCK_REALTIME rms 9452637 max 9452637 freq +1196097 +/-   0 delay  1000",
    "ts2phc[82674.465]: [ts2phc.0.config] ens2f1 master offset          0 s2 freq      -0",
    "ts2phc[521734.693]: [ts2phc.0.config:6] ens2f2 offset      -1 s2 freq      -3972 holdover",
    "ts2phc[1699929121]:[ts2phc.0.config] ens2f0 nmea_status 0 offset 999999 s0",
    "ptp4l[72444.514]: [ptp4l.0.config:5] port 1 (ens1f0): SLAVE to FAULTY on FAULT_DETECTED (FT_UNSPECIFIED)",
    "ptp4l[72530.751]: [ptp4l.0.config:5] port 1 (ens1f0): LISTENING to UNCALIBRATED on RS_SLAVE",
    "ptp4l[5199193.712]: [ptp4l.0.config] port 1: SLAVE to UNCALIBRATED on SYNCHRONIZATION_FAULT",
    "phc2sys[152918.606]: [phc2sys.2.config:6] port b49691.fffe.a3f27c-1 changed state",
    "ptp4l[1000000600]:[ptp4l.0.config] CLOCK_CLASS_CHANGE 248.000000",
    "ptp4l[1780430740]:[ptp4l.1.config] PTP_PROCESS_STATUS:0",
    "GM[1689282762]:[ts2phc.0.config] ens2f1 T-GM-STATUS s0",
    "T-BC[1743005894]:[ptp4l.0.config] ens2f0  offset  55 T-BC-STATUS s2",
    "dpll[1700598434]:[ts2phc.0.config] ens2f0 frequency_status 3 offset 0 phase_status 3 pps_status 1 s2",
    "gnss[1689014431]:[ts2phc.0.config] ens2f1 gnss_status 5 offset 0 s2",
    "synce4l[1722456110]:[synce4l.0.config] ens7f0 device synce1 eec_state EEC_HOLDOVER network_option 2 s1",
    "synce4l[1722458091]:[synce4l.0.config] ens7f0 clock_quality PRTC device synce1 ext_ql 0x20 network_option 2 ql 0x1 s2",
    "chronyd[1000000800]: [chronyd.0.config] Selected source 192.168.1.1",
    "chronyd[1000000820]: [chronyd.0.config] no selectable sources",
    "phc2sys[1710435400]:[phc2sys.2.config] ptp_ha_profile profile1 state 1",
];

const TOKENS: &[&[u8]] = &[
    b" ",
    b"s0",
    b"s1",
    b"s2",
    b"s3",
    b"-",
    b"+",
    b"99999999999999999999",
    b"-9223372036854775808",
    b"offset",
    b"master",
    b"freq",
    b"delay",
    b"port",
    b"to",
    b"SLAVE",
    b"FAULTY",
    b"(",
    b")",
    b":",
    b"[",
    b"]",
    b".config",
    b"\xff",
    b"\xc3",
    b"0x",
    b"holdover",
    b"CLOCK_REALTIME",
    b"0",
    b"6.5",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 => v.truncate(at),
            1 if at < v.len() => v[at] = rng.next() as u8,
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            3 if at < v.len() => {
                let end = (at + rng.below(8)).min(v.len());
                v.drain(at..end);
            }
            4 => {
                // Splice the tail of another seed.
                let other = SEEDS[rng.below(SEEDS.len())].as_bytes();
                let from = rng.below(other.len());
                v.truncate(at);
                v.extend_from_slice(&other[from..]);
            }
            _ => v.extend(std::iter::repeat_n(b'9', rng.below(30))),
        }
    }
    v
}

#[test]
fn fuzz_lines() {
    let iters: usize = std::env::var("FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let mut t = T::new();
    t.profiles(
        &[
            ("ptp4l.0.config", "#profile: a\n[ens1f0]\n[ens1f1]\n"),
            ("ptp4l.1.config", "#profile: tbc\n[ens2f0]\n"),
        ],
        r#"[{"name":"a"},{"name":"tbc","ptpSettings":{"controllingProfile":"x"}}]"#,
    );
    let recorded = include_str!("../../../../tests/data/ptp4l-slave-sw-ts.log");
    let seeds: Vec<&[u8]> = SEEDS
        .iter()
        .map(|s| s.as_bytes())
        .chain(recorded.lines().map(str::as_bytes))
        .collect();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut counts = [0usize; 3];
    for n in 0..iters {
        let seed = seeds[rng.below(seeds.len())];
        let line = mutate(&mut rng, seed);
        t.r.0.lock().clear();
        let r = t.e.ingest_line(&Origin::default(), &line, t.now, &t.r);
        let published = !t.r.0.lock().is_empty();
        counts[r as usize] += 1;
        assert!(
            r == Ingest::Used || !published,
            "{r:?} line published: {}",
            String::from_utf8_lossy(&line)
        );
        if n % 1000 == 0 {
            t.advance(Duration::from_secs(1));
        }
    }
    assert!(t.e.instance_count() <= 64);
    eprintln!("fuzz: {iters} inputs, used/ignored/invalid = {counts:?}");
}
