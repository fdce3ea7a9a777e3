use std::path::Path;
use std::sync::Arc;

use super::*;

const ANCHOR: &str = include_str!("../../../tests/data/store/anchor-client.json");
const ANCHOR_CLIENT: &str = "03dc46b6-2493-37fa-82e2-7545714a17d6";

fn sub(resource: &str, endpoint: &str) -> Subscription {
    let id = Uuid::new_v4();
    Subscription {
        id,
        resource: resource.into(),
        endpoint: endpoint.into(),
        uri_location: format!("http://pub:9043/api/ocloudNotifications/v2/subscriptions/{id}"),
        version: ApiVersion::V2,
    }
}

fn json_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn client_id_is_the_anchors() {
    // The anchor's example: clientID of http://event-consumer-external3:27017.
    assert_eq!(
        client_id("http://event-consumer-external3:27017").to_string(),
        ANCHOR_CLIENT
    );
}

#[test]
fn create_writes_the_anchor_format_and_reloads() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path()).unwrap();
    let g0 = s.generation();
    let a = sub("/cluster/node/n/sync/ptp-status/lock-state", "http://c:1/e");
    let b = sub("/cluster/node/n/sync", "http://c:1/e");
    s.create(a.clone()).unwrap();
    s.create(b.clone()).unwrap();
    assert!(s.generation() > g0);
    assert_eq!(s.list(), vec![a.clone(), b.clone()]);
    assert_eq!(s.get(b.id), Some(b.clone()));
    assert_eq!(s.find(&a.resource, &a.endpoint, a.version), Some(a.clone()));

    let name = format!("{}.json", client_id("http://c:1/e"));
    assert_eq!(json_files(d.path()), std::slice::from_ref(&name));
    let text = std::fs::read_to_string(d.path().join(&name)).unwrap();
    let mut sorted = [&a, &b];
    sorted.sort_by_key(|s| s.id.to_string());
    let entry = |s: &Subscription| {
        format!(
            "   \"{id}\": {{\n    \"ResourceAddress\": \"{r}\",\n    \"EndpointUri\": \"http://c:1/e\",\n    \"SubscriptionId\": \"{id}\",\n    \"UriLocation\": \"{u}\"\n   }}",
            id = s.id,
            r = s.resource,
            u = s.uri_location
        )
    };
    let expected = format!(
        "{{\n \"clientID\": \"{}\",\n \"subStore\": {{\n  \"store\": {{\n{},\n{}\n  }}\n }},\n \"EndpointUri\": \"http://c:1/e\",\n \"status\": 1,\n \"action\": 0\n}}",
        client_id("http://c:1/e"),
        entry(sorted[0]),
        entry(sorted[1])
    );
    assert_eq!(text, expected);

    let again = Store::open(d.path()).unwrap();
    let mut got = again.list();
    got.sort_by_key(|s| s.id);
    let mut want = vec![a, b];
    want.sort_by_key(|s| s.id);
    assert_eq!(got, want);
}

#[test]
fn duplicate_is_refused_and_names_the_existing_one() {
    let s = Store::in_memory();
    let a = sub("/r", "http://c/e");
    s.create(a.clone()).unwrap();
    match s.create(sub("/r", "http://c/e")) {
        Err(CreateError::Duplicate(existing)) => assert_eq!(*existing, a),
        other => panic!("{other:?}"),
    }
    // Same resource, other endpoint: fine (two clients).
    s.create(sub("/r", "http://c/other")).unwrap();
    assert_eq!(s.len(), 2);
}

#[test]
fn delete_rewrites_then_removes_the_client_file() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path()).unwrap();
    let a = sub("/a", "http://c/e");
    let b = sub("/b", "http://c/e");
    s.create(a.clone()).unwrap();
    s.create(b.clone()).unwrap();
    assert_eq!(s.delete(a.id).unwrap(), Some(a.clone()));
    assert_eq!(s.delete(a.id).unwrap(), None);
    let text = std::fs::read_to_string(d.path().join(file_name("http://c/e"))).unwrap();
    assert!(!text.contains(&a.id.to_string()) && text.contains(&b.id.to_string()));
    assert_eq!(s.delete(b.id).unwrap(), Some(b));
    assert!(json_files(d.path()).is_empty());
}

#[test]
fn delete_all_and_remove_endpoint() {
    let d = tempfile::tempdir().unwrap();
    let gauge = IntGauge::new("g", "h").unwrap();
    let s = Store::open(d.path())
        .unwrap()
        .with_active_gauge(gauge.clone());
    for e in ["http://c/1", "http://c/2", "http://c/3"] {
        s.create(sub("/a", e)).unwrap();
        s.create(sub("/b", e)).unwrap();
    }
    assert_eq!(gauge.get(), 6);
    let g = s.generation();
    assert_eq!(s.remove_endpoint("http://c/2"), 2);
    assert!(s.generation() > g);
    assert_eq!(gauge.get(), 4);
    assert_eq!(json_files(d.path()).len(), 2);
    assert_eq!(s.remove_endpoint("http://c/unknown"), 0);
    assert_eq!(s.delete_all().unwrap(), 4);
    assert_eq!(gauge.get(), 0);
    assert!(json_files(d.path()).is_empty());
}

#[test]
fn loads_the_anchor_example_and_migrates_odd_names() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(format!("{ANCHOR_CLIENT}.json")), ANCHOR).unwrap();
    // Same content for another endpoint under a non-canonical name.
    let other = ANCHOR
        .replace("event-consumer-external3:27017", "other:1")
        .replace(
            "32659c8d-5a81-3522-b2e0-256675e341d1",
            "42659c8d-5a81-3522-b2e0-256675e341d1",
        );
    let odd = "11111111-2222-3333-4444-555555555555.backup.json";
    std::fs::write(d.path().join(odd), other).unwrap();

    let s = Store::open(d.path()).unwrap();
    assert_eq!(s.len(), 2);
    let id = Uuid::parse_str("32659c8d-5a81-3522-b2e0-256675e341d1").unwrap();
    let a = s.get(id).unwrap();
    assert_eq!(a.endpoint, "http://event-consumer-external3:27017");
    assert!(
        a.uri_location
            .starts_with("http://ptp-event-publisher-service-cnfocto2")
    );
    let mut want = vec![format!("{ANCHOR_CLIENT}.json"), file_name("http://other:1")];
    want.sort();
    assert_eq!(json_files(d.path()), want);
    // The anchor's file is untouched, byte for byte.
    assert_eq!(
        std::fs::read_to_string(d.path().join(format!("{ANCHOR_CLIENT}.json"))).unwrap(),
        ANCHOR
    );
}

#[test]
fn concurrent_creates_are_all_durable() {
    let d = tempfile::tempdir().unwrap();
    let s = Arc::new(Store::open(d.path()).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..10 {
                    // Threads share endpoints: same client file, other resources.
                    let x = sub(&format!("/r{t}/{i}"), &format!("http://c/{}", i % 3));
                    s.create(x.clone()).unwrap();
                    mine.push(x);
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<Subscription> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_by_key(|s| s.id);
    let again = Store::open(d.path()).unwrap();
    let mut got = again.list();
    got.sort_by_key(|s| s.id);
    assert_eq!(got.len(), 80);
    assert_eq!(got, all);
}

#[test]
fn a_failed_write_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("store");
    let s = Store::open(&dir).unwrap();
    let (a, b) = (sub("/a", "http://c/e"), sub("/b", "http://c/e"));
    s.create(a.clone()).unwrap();
    s.create(b.clone()).unwrap();
    let g = s.generation();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(
        s.create(sub("/c", "http://c/e")),
        Err(CreateError::Store(StoreError::Write { .. }))
    ));
    // Deleting one of two rewrites the file: fails too.
    assert!(s.delete(a.id).is_err());
    assert_eq!((s.list(), s.generation()), (vec![a, b], g));
}

#[test]
fn remove_endpoint_from_either_runtime_flavour() {
    // Delivery calls it from async tasks: on a worker thread it must not
    // panic (multi-thread: block_in_place; current-thread: inline).
    let d = tempfile::tempdir().unwrap();
    let s = Arc::new(Store::open(d.path()).unwrap());
    for (i, multi) in [(0, true), (1, false)] {
        let ep = format!("http://c/{i}");
        s.create(sub("/a", &ep)).unwrap();
        let rt = if multi {
            tokio::runtime::Builder::new_multi_thread().build().unwrap()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
        };
        let s2 = s.clone();
        let n =
            rt.block_on(async move { tokio::spawn(async move { s2.remove_endpoint(&ep) }).await });
        assert_eq!(n.unwrap(), 1);
    }
    assert!(s.is_empty());
    assert!(json_files(d.path()).is_empty());
}

#[test]
fn v1_subscriptions_reload_as_v1_and_delete_by_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut v1 = sub("/cluster/node/n1/sync/ptp-status/lock-state", "http://c/1");
    v1.version = ApiVersion::V1;
    v1.uri_location = format!(
        "http://localhost:9043/api/ocloudNotifications/v1/subscriptions/{}",
        v1.id
    );
    let v2 = sub("/cluster/node/n1/sync/ptp-status/lock-state", "http://c/2");
    store.create(v1.clone()).unwrap();
    store.create(v2.clone()).unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.get(v1.id).unwrap().version, ApiVersion::V1);
    assert_eq!(store.get(v2.id).unwrap().version, ApiVersion::V2);
    assert_eq!(store.delete_version(ApiVersion::V1).unwrap(), 1);
    assert!(store.get(v1.id).is_none());
    assert!(store.get(v2.id).is_some());
}
