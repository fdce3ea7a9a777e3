//! Consumer-sidecar chain bench: publisher agent -> (HTTP | AMQP broker) ->
//! sidecar agent -> CNF endpoint (a `test-consumer`). Events are made with
//! v1 `create/event` at the publisher, paced, each with its own metric value;
//! latency is the wall clock before the `create/event` request to the CNF's
//! receipt (same machine, same clock). Prints a Markdown table.

use std::collections::HashMap;
use std::time::Duration;

use agent_tests::broker::{Broker, Kind};
use agent_tests::chain::{LOCK, amqp_pair, http_sidecar};
use agent_tests::receipts::{now_ns, pct_us as pct};
use agent_tests::{Agent, Consumer, request, wait_for};
use serde_json::json;

/// Sends `n` events through `p`, `gap` apart; returns latencies (ns) of the
/// ones the CNF received. A few events first warm the chain up (connections,
/// links), and are not counted.
fn run(p: &Agent, cnf: &Consumer, n: usize, gap: Duration) -> Lat {
    for k in 0..20 {
        p.create_event(LOCK, if k % 2 == 0 { "LOCKED" } else { "FREERUN" });
        std::thread::sleep(gap);
    }
    let warm = wait_for(Duration::from_secs(20), || {
        let e = cnf.events();
        e.iter()
            .any(|e| e["body"]["data"]["values"][0]["value"] == "FREERUN" && e["path"] == "/event")
            .then_some(())
    });
    assert!(warm.is_some(), "the chain did not warm up");
    std::thread::sleep(Duration::from_millis(200));
    let id = p.publisher_id(LOCK);
    let iface = format!("/cluster/node/{}/ens1fx/master", p.node);
    let url = p.api_v1("/create/event");
    let mut sent: HashMap<String, u128> = HashMap::with_capacity(n);
    cnf.clear();
    for k in 0..n {
        let state = if k % 2 == 0 { "LOCKED" } else { "HOLDOVER" };
        let mark = format!("{}", 1_000_000 + k);
        let body = json!({"id": id, "data": {"version": "1.0", "values": [
            {"ResourceAddress": iface, "data_type": "notification", "value_type": "enumeration", "value": state},
            {"ResourceAddress": iface, "data_type": "metric", "value_type": "decimal64.3", "value": mark},
        ]}})
        .to_string();
        let t = now_ns();
        let r = request("POST", &url, Some(body.as_bytes())).expect("create/event");
        assert_eq!(r.status, 202, "{}", r.text());
        sent.insert(mark, t);
        std::thread::sleep(gap);
    }
    let got = wait_for(Duration::from_secs(30), || {
        let e = cnf.events();
        (e.len() >= n).then_some(e)
    })
    .unwrap_or_else(|| cnf.events());
    let mut lat: Vec<u128> = got
        .iter()
        .filter_map(|e| {
            let mark = e["body"]["data"]["values"][1]["value"].as_str()?;
            let t0 = sent.get(mark)?;
            let recv: u128 = e["recv_ns"].as_str()?.parse().ok()?;
            Some(recv.saturating_sub(*t0))
        })
        .collect();
    if std::env::var_os("BENCH_TRACE").is_some() {
        for (i, l) in lat.iter().enumerate().filter(|(_, l)| **l > 3_000_000) {
            eprintln!("slow #{i}: {} µs", l / 1000);
        }
    }
    // From the event's own time, set by the publisher when it made the event
    // (kept to the ns over HTTP; AMQP carries milliseconds only).
    let mut own: Vec<u128> = got
        .iter()
        .filter_map(|e| {
            let t = agent_tests::rfc3339_ns(e["body"]["time"].as_str()?)?;
            let recv: u128 = e["recv_ns"].as_str()?.parse().ok()?;
            Some(recv.saturating_sub(t))
        })
        .collect();
    lat.sort_unstable();
    own.sort_unstable();
    Lat { req: lat, own }
}

/// Latencies in ns: from before the request, and from the event's time.
struct Lat {
    req: Vec<u128>,
    own: Vec<u128>,
}

fn subscribe_cnf(c: &Agent, cnf: &Consumer) {
    c.subscribe(LOCK, &cnf.endpoint("/event"));
}

fn row(name: &str, n: usize, l: &Lat, target_ms: f64, own_time: bool) {
    let lat = &l.req;
    let p99 = pct(lat, 0.99);
    let own = if own_time {
        format!("{:.0} / {:.0}", pct(&l.own, 0.5), pct(&l.own, 0.99))
    } else {
        "(ms clock)".to_owned()
    };
    println!(
        "| {name} | {n} | {} | {:.0} | {:.0} | {p99:.0} | {:.0} | {own} | {} |",
        lat.len(),
        pct(lat, 0.5),
        pct(lat, 0.9),
        pct(lat, 1.0),
        if p99 <= target_ms * 1000.0 {
            format!("≤ {target_ms} ms: met")
        } else {
            format!("≤ {target_ms} ms: MISSED")
        }
    );
}

fn http_chain(n: usize, gap: Duration) {
    let p = Agent::start(&[]);
    let c = http_sidecar(&p, 1000);
    let cnf = Consumer::start();
    subscribe_cnf(&c, &cnf);
    // Wait for the sidecar's subscription at the publisher.
    let ok = wait_for(Duration::from_secs(10), || {
        let l = request("GET", &p.api("/subscriptions"), None).ok()?.json();
        (!l.as_array()?.is_empty()).then_some(())
    });
    assert!(ok.is_some(), "the sidecar did not subscribe");
    row("HTTP", n, &run(&p, &cnf, n, gap), 2.0, true);
}

fn amqp_chain(kind: Kind, n: usize, gap: Duration) {
    if !Broker::available(kind) {
        println!("| AMQP ({kind:?}) | - | - | broker not installed | | | | | |");
        return;
    }
    let b = Broker::start(kind);
    let (p, c) = amqp_pair(&b, false);
    let cnf = Consumer::start();
    subscribe_cnf(&c, &cnf);
    // Wait for the sidecar's receivers: the status reply arrives.
    let ok = wait_for(Duration::from_secs(20), || {
        (!cnf.events().is_empty()).then_some(())
    });
    assert!(ok.is_some(), "the sidecar did not attach");
    let name = match kind {
        Kind::Proton => "AMQP (Qpid Proton example broker)",
        Kind::Rabbit => "AMQP (RabbitMQ 3.10)",
    };
    row(name, n, &run(&p, &cnf, n, gap), 5.0, false);
}

fn main() {
    println!(
        "Consumer-sidecar chain: create/event at the publisher to receipt at the CNF endpoint (µs)\n"
    );
    println!(
        "| transport | events | received | p50 | p90 | p99 | max | p50 / p99 from the event's time | target (p99) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    // `bench-chain [http] [proton] [rabbit]`: a subset; none means all.
    let only: Vec<String> = std::env::args().skip(1).collect();
    let want = |name: &str| only.is_empty() || only.iter().any(|a| a == name);
    let gap = Duration::from_millis(5);
    if want("http") {
        http_chain(1000, gap);
    }
    if want("proton") {
        amqp_chain(Kind::Proton, 1000, gap);
    }
    if want("rabbit") {
        amqp_chain(Kind::Rabbit, 1000, gap);
    }
}
