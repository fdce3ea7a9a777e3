//! The first engine's behaviour, kept.

use std::time::Duration;

use super::*;
use crate::engine::{Ingest, Origin, Snapshot};
use crate::event::{EventKind, SyncState};

#[test]
fn first_line_publishes_with_values() {
    let mut t = T::new();
    let line = "ptp4l[365195.391]: [ptp4l.0.config] master offset         -1 s2 freq   -3972 path delay        89";
    assert_eq!(t.feed(line), Ingest::Used);
    let ev = t.r.take();
    assert_eq!(
        ev[0],
        (
            LOCK,
            "/cluster/node/n1/ptp4l.0.config/master".into(),
            "LOCKED".into(),
            Some("-1".into())
        )
    );
    assert_eq!(
        ev[1],
        (
            SYNC,
            "/cluster/node/n1/sync/sync-status/sync-state".into(),
            "LOCKED".into(),
            None
        )
    );
    assert_eq!(ev.len(), 2);
    assert_eq!(t.gauge("ptp4l", "ptp4l.0.config"), 1);
    let s = t.metrics.servo("master", "ptp4l", NODE, "ptp4l.0.config");
    assert_eq!(
        (s.offset.get(), s.frequency.get(), s.delay.get()),
        (-1, -3972, 89)
    );
}

#[test]
fn no_event_when_unchanged_and_out_of_range_while_s2() {
    let mut t = T::new();
    t.feed(&ptp(5, "s2"));
    t.states();
    t.feed(&ptp(-7, "s2"));
    t.feed(&ptp(99, "s2"));
    t.feed(&ptp(-20, "s2"));
    assert_eq!(t.states(), vec![]);
    let s = t.metrics.servo("master", "ptp4l", NODE, "ptp4l.0.config");
    assert_eq!((s.offset.get(), s.max_offset.get()), (-20, 99));
    // Drift out of the thresholds while the servo says s2: FREERUN.
    t.feed(&ptp(100, "s2"));
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    assert_eq!(t.gauge("ptp4l", "ptp4l.0.config"), 0);
    t.feed(&ptp(3, "s2"));
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED"), st(SYNC, "LOCKED")]);
    t.feed(&ptp(3, "s0"));
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
}

#[test]
fn plain_untagged_ptp4l_is_addressed_by_process() {
    let mut t = T::new();
    t.feed("ptp4l[3664.048]: master offset       -398 s2 freq   -3035 path delay      2157");
    let ev = t.r.take();
    assert_eq!(ev[0].1, "/cluster/node/n1/ptp4l/master");
    assert_eq!(ev[0].2, "FREERUN");
    // The connection's origin places untagged lines.
    let origin = Origin {
        process: Some("ptp4l".into()),
        config: Some("ptp4l.3.config".into()),
        pid: None,
        ..Origin::default()
    };
    t.feed_as(&origin, "master offset 5 s2 freq 1 path delay 2");
    assert_eq!(t.r.take()[0].1, "/cluster/node/n1/ptp4l.3.config/master");
}

#[test]
fn interface_alias_names_the_clock() {
    let mut t = T::new();
    t.feed(&ptp(5, "s2"));
    t.e.set_interface("ptp4l.0.config", "ens5f0");
    t.r.take();
    t.feed(&ptp(500, "s2"));
    let ev = t.r.take();
    assert_eq!(ev[0].1, "/cluster/node/n1/ens5fx/master");
    assert_eq!(ev[0].2, "FREERUN");
    assert_eq!(t.gauge("ptp4l", "ens5fx"), 0);
}

#[test]
fn missing_delay_is_holdover_then_freerun_by_tick() {
    let mut t = T::new();
    t.feed(&ptp(5, "s2"));
    t.states();
    t.feed(&format!("{P0}master offset 5 s2 freq -3972"));
    assert_eq!(t.states(), vec![st(LOCK, "HOLDOVER"), st(SYNC, "HOLDOVER")]);
    assert_eq!(t.gauge("ptp4l", "ptp4l.0.config"), 2);
    let due = t.e.next_deadline().unwrap();
    assert_eq!(due, t.now + Duration::from_secs(5));
    t.e.tick(due - Duration::from_millis(1), &t.r);
    assert_eq!(t.states(), vec![]);
    // The anchor's quirk would stay silent; we publish FREERUN on expiry.
    t.e.tick(due, &t.r);
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    assert_eq!(t.e.next_deadline(), None);
}

#[test]
fn holdover_cancelled_by_locked_in_range() {
    let mut t = T::new();
    t.feed(&ptp(5, "s2"));
    t.feed(&format!("{P0}master offset 5 s2 freq -3972"));
    t.states();
    t.feed(&ptp(500, "s2"));
    assert_eq!(t.states(), vec![]);
    t.feed(&ptp(5, "s2"));
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED"), st(SYNC, "LOCKED")]);
    assert_eq!(t.e.next_deadline(), None);
}

#[test]
fn holdover_then_s0_publishes_freerun() {
    // The anchor's quirk fixed: FREERUN when last = HOLDOVER is published.
    let mut t = T::new();
    t.feed(&ptp(5, "s2"));
    t.feed(&format!("{P0}master offset 5 s2 freq -3972"));
    t.states();
    t.feed(&ptp(5, "s0"));
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
}

/// The anchor's E3 table (`TestE3DerivationORANTable37`).
#[test]
fn e3_table() {
    type Setup = fn(&mut T);
    let rows: [(Setup, &str, &str); 5] = [
        (
            |t| {
                t.feed(&ptp(5, "s2"));
            },
            "CLOCK_REALTIME phc offset 3 s2 freq -20217 delay 536",
            "LOCKED",
        ),
        (
            |t| {
                t.feed(&ptp(5, "s2"));
                t.feed(&format!("{P0}master offset 5 s2 freq -3972"));
            },
            "CLOCK_REALTIME phc offset 5 s2 freq -20217 delay 536",
            "HOLDOVER",
        ),
        (
            |t| {
                t.feed(&ptp(5, "s0"));
            },
            "CLOCK_REALTIME phc offset 3 s2 freq -20217 delay 536",
            "FREERUN",
        ),
        (
            |t| {
                t.feed(&ptp(5, "s2"));
            },
            "CLOCK_REALTIME phc offset 999999 s2 freq -20217 delay 536",
            "FREERUN",
        ),
        (
            |t| {
                t.feed(&ptp(5, "s2"));
            },
            "CLOCK_REALTIME phc offset 3 s0 freq -20217 delay 536",
            "FREERUN",
        ),
    ];
    for (setup, line, want) in rows {
        let mut t = T::new();
        setup(&mut t);
        t.r.take();
        assert_eq!(t.feed(&format!("{C0}{line}")), Ingest::Used);
        let ev = t.r.take();
        assert_eq!(ev[0].0, OS, "{line}");
        assert_eq!(ev[0].1, "/cluster/node/n1/CLOCK_REALTIME");
        assert_eq!(ev[0].2, want, "{line}");
        assert_eq!(
            t.gauge("phc2sys", "CLOCK_REALTIME"),
            match want {
                "LOCKED" => 1,
                "HOLDOVER" => 2,
                _ => 0,
            }
        );
    }
}

#[test]
fn anchor_phc2sys_lines() {
    let mut t = T::new();
    t.feed("phc2sys[4268818.286]: [ptp4l.0.config] CLOCK_REALTIME phc offset       -62 s0 freq  -78368 delay   1100");
    let ev = t.r.take();
    assert_eq!(
        ev[0],
        (
            OS,
            "/cluster/node/n1/CLOCK_REALTIME".into(),
            "FREERUN".into(),
            Some("-62".into())
        )
    );
    t.feed("phc2sys[10522413.392]: [ptp4l.0.config:6] CLOCK_REALTIME phc offset 8 s2 freq -6990 delay 502");
    assert_eq!(t.states(), vec![st(OS, "LOCKED"), st(SYNC, "LOCKED")]);
    t.feed("phc2sys[10522413.392]: [ptp4l.0.config:6] CLOCK_REALTIME sys offset 8 s2 freq -6990 delay 502");
    assert_eq!(
        t.feed("phc2sys[4268818.287]: [ptp4l.0.config] ens5f0 phc offset       -47 s2 freq   -2047 delay   2438"),
        Ingest::Ignored
    );
    t.feed("phc2sys[5196804.326]: [ptp4l.0.config] CLOCK_REALTIME rms 9452637 max 9452637 freq +1196097 +/-   0 delay  1000");
    assert_eq!(t.states(), vec![]);
    let s = t.metrics.servo("phc", "phc2sys", NODE, "CLOCK_REALTIME");
    assert_eq!((s.offset.get(), s.max_offset.get()), (9_452_637, 9_452_637));
    assert_eq!(
        t.metrics
            .servo("sys", "phc2sys", NODE, "CLOCK_REALTIME")
            .offset
            .get(),
        8
    );
}

#[test]
fn rms_line_sets_metrics_only() {
    let mut t = T::new();
    assert_eq!(
        t.feed("ptp4l[74737.942]: [ptp4l.0.config] rms   53 max   74 freq -16642 +/-  40 delay  1089 +/-  20"),
        Ingest::Used
    );
    assert_eq!(t.states(), vec![]);
    let s = t.metrics.servo("master", "ptp4l", NODE, "ptp4l.0.config");
    assert_eq!(
        (
            s.offset.get(),
            s.max_offset.get(),
            s.frequency.get(),
            s.delay.get()
        ),
        (53, 74, -16642, 1089)
    );
    assert_eq!(t.e.snapshot(LOCK), Snapshot::NotSet);
}

#[test]
fn process_down_frees_its_clock() {
    let mut t = T::new();
    t.feed(&ptp(5, "s2"));
    t.feed(&phc(5, "s2"));
    t.states();
    t.feed("phc2sys[1780430741]:[ptp4l.0.config] PTP_PROCESS_STATUS:1");
    assert_eq!(t.states(), vec![]);
    t.feed("phc2sys[1780430741]:[ptp4l.0.config] PTP_PROCESS_STATUS:0");
    assert_eq!(t.states(), vec![st(OS, "FREERUN"), st(SYNC, "FREERUN")]);
    t.feed("ptp4l[1780430740]:[ptp4l.0.config] PTP_PROCESS_STATUS:0");
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN")]);
    let labels = ["ptp4l", NODE, "ptp4l.0.config"];
    assert_eq!(t.metrics.process_status.with_label_values(&labels).get(), 0);
    let labels = ["phc2sys", NODE, "ptp4l.0.config"];
    assert_eq!(
        t.metrics
            .process_restart_count
            .with_label_values(&labels)
            .get(),
        1
    );
    // A process of another config changes nothing here.
    t.feed("ptp4l[1780430740]:[ptp4l.1.config] PTP_PROCESS_STATUS:0");
    assert_eq!(t.states(), vec![]);
}

#[test]
fn sync_state_is_worst_of_all() {
    let mut t = T::new();
    let p1 = |o: i64| {
        format!("ptp4l[11.000]: [ptp4l.1.config] master offset {o} s2 freq -998 path delay 99")
    };
    t.feed(&ptp(5, "s2"));
    t.feed(&p1(3));
    t.feed(&phc(3, "s2"));
    assert_eq!(
        t.states(),
        vec![
            st(LOCK, "LOCKED"),
            st(SYNC, "LOCKED"),
            st(LOCK, "LOCKED"),
            st(OS, "LOCKED")
        ]
    );
    t.feed(&format!("{P0}master offset 5 s2 freq -3972"));
    assert_eq!(t.states(), vec![st(LOCK, "HOLDOVER"), st(SYNC, "HOLDOVER")]);
    t.feed(&p1(1000));
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    t.feed(&ptp(5, "s2"));
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED")]);
    t.feed(&p1(1));
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED"), st(SYNC, "LOCKED")]);

    match t.e.snapshot(LOCK) {
        Snapshot::Values(v) => {
            let addrs: Vec<_> = v.iter().map(|v| v.resource_address.as_str()).collect();
            assert_eq!(
                addrs,
                [
                    "/cluster/node/n1/ptp4l.0.config/master",
                    "/cluster/node/n1/ptp4l.0.config/master",
                    "/cluster/node/n1/ptp4l.1.config/master",
                    "/cluster/node/n1/ptp4l.1.config/master",
                ]
            );
            assert_eq!(v[3].value, "1");
        }
        other => panic!("{other:?}"),
    }
    t.feed(&phc(3, "s0"));
    match t.e.snapshot(SYNC) {
        Snapshot::Values(v) => {
            assert_eq!(v.len(), 1);
            assert_eq!(v[0].value, SyncState::Freerun.as_str());
            assert_eq!(
                v[0].resource_address,
                "/cluster/node/n1/sync/sync-status/sync-state"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn snapshots_before_and_after_data_and_reset() {
    let mut t = T::new();
    for k in EventKind::ALL {
        assert_eq!(t.e.snapshot(k), Snapshot::NotSet);
    }
    t.feed(&ptp(5, "s2"));
    assert!(matches!(t.e.snapshot(LOCK), Snapshot::Values(v) if v.len() == 2));
    assert_eq!(t.e.snapshot(OS), Snapshot::NotFound);
    assert_eq!(t.e.snapshot(EventKind::GnssSyncStatus), Snapshot::NotFound);
    assert_eq!(t.e.snapshot(EventKind::ClockClass), Snapshot::NotFound);
    t.feed(&format!("{P0}master offset 5 s2 freq -3972"));
    t.e.reset();
    assert_eq!(t.e.snapshot(LOCK), Snapshot::NotSet);
    assert_eq!(t.e.next_deadline(), None);
    t.states();
    // After a reset the first line publishes again, sync-state too.
    t.feed(&ptp(5, "s2"));
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED"), st(SYNC, "LOCKED")]);
}

#[test]
fn recorded_run_events() {
    let mut t = T::new();
    let text = include_str!("../../../../tests/data/ptp4l-slave-sw-ts.log");
    for l in text.lines() {
        assert_ne!(t.feed(l), Ingest::Invalid, "{l}");
    }
    let states = t.states();
    // Starts FREERUN (s0), locks, and every event is a change.
    assert_eq!(states[0], st(LOCK, "FREERUN"));
    assert!(states.contains(&st(LOCK, "LOCKED")));
    let locks: Vec<_> = states.iter().filter(|(k, _)| *k == LOCK).collect();
    assert!(locks.windows(2).all(|w| w[0].1 != w[1].1));
}

#[test]
fn bad_input_never_panics() {
    let mut t = T::new();
    for l in [
        "ptp4l[1.0]: [ptp4l.0.config] master offset 99999999999999999999 s2 freq 1 path delay 2",
        "ptp4l[1.0]: [ptp4l.0.config] master offset -9223372036854775808 s2 freq 1 path delay 2",
        "ptp4l[1.0]: [ptp4l.0.config] master offset 9223372036854775807 s2 freq 1 path delay 2",
        "ptp4l[1.0]: [ptp4l.0.config] master offset",
        "ptp4l[1.0]: [ptp4l.0.config] master offset x s2",
        "ptp4l[1.0]: [ptp4l.0.config] rms",
        "phc2sys[1.0]: [ptp4l.0.config] CLOCK_REALTIME phc offset -- s2",
        "phc2sys[1.0]: [ptp4l.0.config] CLOCK_REALTIME",
        "ptp4l[1.0]: [ptp4l.0.config] PTP_PROCESS_STATUS:",
        "ptp4l[1.0]: [ptp4l.0.config",
        "[[[]]]:::",
        "",
    ] {
        t.feed(l);
    }
    // Pseudo-random bytes, with and without a valid head.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let heads: [&[u8]; 4] = [
        b"",
        P0.as_bytes(),
        C0.as_bytes(),
        b"ptp4l[1.0]: master offset ",
    ];
    for round in 0..20_000 {
        let mut line = heads[round % heads.len()].to_vec();
        let len = (x % 48) as usize;
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let alphabet = b" -+0123456789sfreqdelaypathmasteroffset[]:.\xff";
            line.push(alphabet[(x % alphabet.len() as u64) as usize]);
        }
        t.e.ingest_line(&Origin::default(), &line, t.now, &t.r);
    }
    t.e.tick(t.now + Duration::from_secs(3600), &t.r);
}

#[test]
fn plain_phc2sys_follows_plain_ptp4l() {
    let mut t = T::new();
    t.feed("ptp4l[1.0]: master offset 5 s0 freq 1 path delay 2");
    t.r.take();
    // E1 of the untagged ptp4l is FREERUN, so E3 is too, though phc2sys is s2.
    t.feed("phc2sys[1.0]: CLOCK_REALTIME phc offset 3 s2 freq -20217 delay 536");
    assert_eq!(t.states(), vec![st(OS, "FREERUN")]);
    t.feed("ptp4l[1.0]: master offset 5 s2 freq 1 path delay 2");
    t.feed("phc2sys[1.0]: CLOCK_REALTIME phc offset 3 s2 freq -20217 delay 536");
    assert_eq!(
        t.states(),
        vec![st(LOCK, "LOCKED"), st(OS, "LOCKED"), st(SYNC, "LOCKED")]
    );
}

#[test]
fn ingest_results() {
    let mut t = T::new();
    assert_eq!(
        t.feed("ptp4l[4078.085]: port 1: UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED"),
        Ingest::Used
    );
    assert_eq!(
        t.feed("ptp4l[4075.708]: port 1: new foreign master 72aaf9.fffe.3c0974-1"),
        Ingest::Ignored
    );
    assert_eq!(
        t.feed("ts2phc[82674.465]: [ts2phc.0.config] nmea delay: 88403525 ns"),
        Ingest::Ignored
    );
    assert_eq!(t.feed("hello"), Ingest::Ignored);
    assert_eq!(
        t.feed("foo[1.0]: [foo.0.config] master offset 5 s2"),
        Ingest::Ignored
    );
    assert_eq!(
        t.feed("ptp4l[1.0]: master offset 5 s9 freq 1 path delay 2"),
        Ingest::Ignored
    );
    assert_eq!(
        t.feed("ptp4l[1.0]: master offset five s2 freq 1 path delay 2"),
        Ingest::Invalid
    );
    assert_eq!(
        t.feed("ptp4l[1.0]: [ptp4l.0.config] PTP_PROCESS_STATUS:1"),
        Ingest::Used
    );
    assert_eq!(t.states(), vec![]);
}

#[test]
fn interface_known_before_the_first_line() {
    let mut t = T::new();
    t.e.set_interface("ptp4l.1.config", "enP2s2f0np0");
    t.feed("ptp4l[11.000]: [ptp4l.1.config] master offset 3 s2 freq -998 path delay 99");
    assert_eq!(t.r.take()[0].1, "/cluster/node/n1/enP2s2fx/master");
}

/// After lost input (a full eBPF ring) each clock's next reading is
/// published again, even unchanged; after that, events only on change.
#[test]
fn lost_records_make_the_next_readings_publish() {
    let mut t = T::new();
    t.feed(&ptp(5, "s2"));
    t.feed(&phc(3, "s2"));
    t.r.take();
    t.feed(&ptp(6, "s2"));
    t.feed(&phc(4, "s2"));
    assert!(t.states().is_empty(), "unchanged: nothing");
    t.e.records_lost();
    t.feed(&ptp(7, "s2"));
    t.feed(&phc(2, "s2"));
    assert_eq!(t.states(), [st(LOCK, "LOCKED"), st(OS, "LOCKED")]);
    t.feed(&ptp(8, "s2"));
    t.feed(&phc(1, "s2"));
    assert!(t.states().is_empty(), "once only");
}

/// Lines of one daemon dropped before the engine (over its eBPF line
/// budget): that daemon's clocks publish their next reading again, the
/// other daemon's do not.
#[test]
fn lost_evidence_of_one_daemon_republishes_only_its_clocks() {
    let mut t = T::new();
    t.feed(&ptp(5, "s2"));
    t.feed(&phc(3, "s2"));
    t.r.take();
    let of = |process: &str| Origin {
        process: Some(process.into()),
        config: Some("ptp4l.0.config".into()),
        ..Origin::default()
    };
    t.e.evidence_lost(&of("phc2sys"));
    t.feed(&ptp(6, "s2"));
    t.feed(&phc(2, "s2"));
    assert_eq!(t.states(), [st(OS, "LOCKED")]);
    t.e.evidence_lost(&of("ptp4l"));
    t.feed(&ptp(7, "s2"));
    t.feed(&phc(1, "s2"));
    assert_eq!(t.states(), [st(LOCK, "LOCKED")]);
    t.feed(&ptp(8, "s2"));
    assert!(t.states().is_empty(), "once only");
}
