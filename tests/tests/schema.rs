//! The committed JSON Schemas against what the agent really emits: every
//! event type pushed to v2 and v1 subscribers (from `create/event` and from
//! log lines), initial notifications and placeholders, status-ping answers,
//! and CurrentState in both versions. Every body the test consumers receive
//! is checked (`Consumer::events` does it for every black-box test); this
//! test makes sure each schema is exercised and that each one refuses what
//! it should.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::time::Duration;

use agent_tests::schema::Schema;
use agent_tests::{Agent, Consumer, request, wait_for};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(20);

const SUFFIXES: [&str; 7] = [
    "/sync/sync-status/sync-state",
    "/sync/ptp-status/lock-state",
    "/sync/gnss-status/gnss-sync-status",
    "/sync/sync-status/os-clock-sync-state",
    "/sync/synce-status/lock-state",
    "/sync/ptp-status/clock-class",
    "/sync/synce-status/clock-quality",
];

/// The v1 spelling of a suffix.
fn v1_suffix(s: &str) -> &str {
    if s == "/sync/ptp-status/clock-class" {
        "/sync/ptp-status/ptp-clock-class-change"
    } else {
        s
    }
}

#[test]
fn every_body_the_agent_emits_matches_its_schema() {
    let a = Agent::start(&[]);
    let cnf = Consumer::start();
    // Subscribed before any data: the initial notifications are placeholders.
    for (i, s) in SUFFIXES.iter().enumerate() {
        a.subscribe(s, &cnf.endpoint(&format!("/v2/{i}")));
        a.subscribe_v1(v1_suffix(s), &cnf.endpoint(&format!("/v1/{i}")));
    }
    a.subscribe("/sync", &cnf.endpoint("/v2/all"));

    // Events of every type through their publishers, and from the engine.
    for s in SUFFIXES {
        a.create_event(s, "LOCKED");
    }
    let mut w = a.connect_socket();
    for l in [
        "ptp4l[1780430740]:[ptp4l.0.config] PTP_PROCESS_STATUS:1",
        "ptp4l[365195.391]: [ptp4l.0.config:6] master offset -1 s2 freq -3972 path delay 89",
        "phc2sys[10522413.392]: [ptp4l.0.config:6] CLOCK_REALTIME phc offset 8 s2 freq -6990 delay 502",
        "ptp4l[1000000600]:[ptp4l.0.config] CLOCK_CLASS_CHANGE 248.000000",
        "gnss[1689014431]:[ts2phc.2.config] ens7f0 gnss_status 5 offset 0 s2",
        "synce4l[1722458091]:[synce4l.0.config] ens7f0 clock_quality PRTC device synce1 ext_ql 0x20 network_option 2 ql 0x1 s2",
    ] {
        w.line(l);
    }
    // Status pings of one v1 and one v2 subscription.
    let subs = request("GET", &a.api("/subscriptions"), None)
        .unwrap()
        .json();
    for s in subs.as_array().unwrap().iter().take(2) {
        let id = s["SubscriptionId"].as_str().unwrap();
        let r = request(
            "PUT",
            &a.api_v1(&format!("/subscriptions/status/{id}")),
            None,
        )
        .unwrap();
        assert_eq!(r.status, 202, "{}", r.text());
    }

    // Every v2 and v1 endpoint got its initial (v2) and created event.
    let all = wait_for(T, || {
        let ev = cnf.events();
        let done = (0..7).all(|i| {
            ["v1", "v2"].iter().all(|v| {
                ev.iter()
                    .any(|e| e["path"] == format!("/{v}/{i}") && has_state(&e["body"], "LOCKED"))
            })
        });
        done.then_some(ev)
    })
    .unwrap_or_else(|| panic!("not every subscriber got LOCKED: {:#?}", cnf.events()));
    // `events()` checked each body; count what each schema saw.
    let bodies: Vec<&Value> = all
        .iter()
        .map(|e| &e["body"])
        .filter(|b| b.is_object())
        .collect();
    let v2 = bodies
        .iter()
        .filter(|b| Schema::of_push(b) == Schema::V2Event)
        .count();
    let v1 = bodies
        .iter()
        .filter(|b| Schema::of_push(b) == Schema::V1Event)
        .count();
    assert!(v2 >= 14 && v1 >= 7, "v2 {v2}, v1 {v1}");
    assert!(
        bodies
            .iter()
            .any(|b| b["data"]["values"][0]["ResourceAddress"]
                .as_str()
                .is_some_and(|r| r.ends_with("/ptp-not-set") || r.ends_with("/event-not-found"))),
        "no placeholder among {bodies:#?}"
    );

    // CurrentState, v2 (checked by the helper) and v1.
    let mut pulled = 0;
    for s in SUFFIXES {
        if a.current_state(s).status == 200 {
            pulled += 1;
        }
        let url = a.api_v1(&format!("{}/CurrentState", a.address(v1_suffix(s))));
        let r = request("GET", &url, None).unwrap();
        if r.status == 200 {
            Schema::V1CurrentState.check(&r.json());
            pulled += 1;
        }
    }
    assert_eq!(pulled, 14, "every type has data in both versions");
}

/// Whether `body` has a notification value `want`, in either key spelling
/// (v1 bodies may carry the legacy keys).
fn has_state(body: &Value, want: &str) -> bool {
    body["data"]["values"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|v| {
            (v["data_type"] == "notification" || v["dataType"] == "notification")
                && v["value"] == want
        })
}

fn lock_v2() -> Value {
    json!({"specversion":"1.0","id":"5cbd6f6a-0a5f-4a2e-8f4e-1d8f8b6c8e1a","source":"/sync/ptp-status/lock-state","type":"event.sync.ptp-status.ptp-state-change","time":"2024-08-28T14:50:57.327585316Z","data":{"version":"1.0","values":[{"ResourceAddress":"/cluster/node/n1/ens5fx/master","data_type":"notification","value_type":"enumeration","value":"LOCKED"},{"ResourceAddress":"/cluster/node/n1/ens5fx/master","data_type":"metric","value_type":"decimal64.3","value":"29"}]}})
}

fn lock_v1(legacy: bool) -> Value {
    let (r, d, v) = if legacy {
        ("resource", "dataType", "valueType")
    } else {
        ("ResourceAddress", "data_type", "value_type")
    };
    json!({"id":"75b1ad8f-c807-4c23-acf5-56f4b7ee3826","type":"event.sync.ptp-status.ptp-state-change","source":"/cluster/node/n1/sync/ptp-status/lock-state","dataContentType":"application/json","time":"2024-08-28T14:50:57Z","data":{"version":"1.0","values":[{r:"/cluster/node/n1/ens5fx/master",d:"notification",v:"enumeration","value":"LOCKED"}]}})
}

#[test]
fn the_schemas_accept_the_anchor_examples_and_refuse_the_rest() {
    assert!(Schema::V2Event.errors(&lock_v2()).is_empty());
    assert!(Schema::V2CurrentState.errors(&lock_v2()).is_empty());
    // v1 push: both value-key spellings.
    assert!(Schema::V1Event.errors(&lock_v1(false)).is_empty());
    assert!(Schema::V1Event.errors(&lock_v1(true)).is_empty());

    let mut mixed = lock_v1(true);
    mixed["data"]["values"][0]["data_type"] = json!("notification");
    assert!(!Schema::V1Event.errors(&mixed).is_empty(), "mixed keys");
    let mut e = lock_v2();
    e["source"] = json!("/sync/ptp-status/clock-class");
    assert!(
        !Schema::V2Event.errors(&e).is_empty(),
        "type and source disagree"
    );
    let mut e = lock_v2();
    e["data"]["values"][1]["value"] = json!(29);
    assert!(
        !Schema::V2Event.errors(&e).is_empty(),
        "value must be a string"
    );
    let mut e = lock_v2();
    e.as_object_mut().unwrap().remove("time");
    assert!(!Schema::V2Event.errors(&e).is_empty(), "time is mandatory");
    let mut e = lock_v2();
    e["time"] = json!("2024-08-28T14:50:57+02:00");
    assert!(!Schema::V2Event.errors(&e).is_empty(), "UTC only");
    assert!(!Schema::V1Event.errors(&lock_v2()).is_empty());
    assert!(!Schema::V1CurrentState.errors(&lock_v1(false)).is_empty());
}

/// The agent serves the committed files beside its OpenAPI document.
#[test]
fn the_agent_serves_the_schemas() {
    let a = Agent::start(&[]);
    for (name, s) in [
        ("v2-event.json", Schema::V2Event),
        ("v2-current-state.json", Schema::V2CurrentState),
        ("v1-event.json", Schema::V1Event),
        ("v1-current-state.json", Schema::V1CurrentState),
    ] {
        let r = request("GET", &a.api(&format!("/schemas/{name}")), None).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), s.text());
    }
    let r = request("GET", &a.api("/schemas/nope.json"), None).unwrap();
    assert_eq!(r.status, 404);
}
