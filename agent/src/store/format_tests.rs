use super::*;

const ANCHOR: &str = include_str!("../../../tests/data/store/anchor-client.json");

#[test]
fn anchor_example_round_trips_byte_for_byte() {
    let f: ClientFile = serde_json::from_str(ANCHOR).unwrap();
    assert_eq!(f.client_id, "03dc46b6-2493-37fa-82e2-7545714a17d6");
    assert_eq!(f.endpoint_uri, "http://event-consumer-external3:27017");
    assert_eq!((f.status, f.action), (STATUS_ACTIVE, ACTION_NEW));
    let s = &f.sub_store.store["32659c8d-5a81-3522-b2e0-256675e341d1"];
    assert!(s.resource_address.ends_with("/sync/ptp-status/lock-state"));
    assert_eq!(String::from_utf8(to_go_indent(&f)).unwrap(), ANCHOR);
}

#[test]
fn keys_are_case_insensitive_like_go() {
    // The ConfigMap test fixture spelling and a few more.
    let j = r#"{"ClientID":"x","SubStore":{"Store":{"32659c8d-5a81-3522-b2e0-256675e341d1":
        {"resourceaddress":"/a","ENDPOINTURI":"http://e","subscriptionID":"32659c8d-5a81-3522-b2e0-256675e341d1"}}},
        "EndPointURI":"http://e","Status":1,"extra":[1,{"x":null}]}"#;
    let f: ClientFile = serde_json::from_str(j).unwrap();
    assert_eq!(f.endpoint_uri, "http://e");
    assert_eq!(f.status, 1);
    let s = &f.sub_store.store["32659c8d-5a81-3522-b2e0-256675e341d1"];
    assert_eq!(s.resource_address, "/a");
    assert_eq!(s.endpoint_uri, "http://e");
}

#[test]
fn v1_keys_and_missing_id_take_the_key() {
    let j = r#"{"EndpointUri":"http://e","subStore":{"store":{
        "32659c8d-5a81-3522-b2e0-256675e341d1":{"resource":"/a"}}}}"#;
    let f: ClientFile = serde_json::from_str(j).unwrap();
    let s = &f.sub_store.store["32659c8d-5a81-3522-b2e0-256675e341d1"];
    assert_eq!(s.subscription_id, "32659c8d-5a81-3522-b2e0-256675e341d1");
    assert_eq!(s.resource_address, "/a");
}

#[test]
fn nulls_read_as_empty() {
    let f: ClientFile =
        serde_json::from_str(r#"{"EndpointUri":"http://e","subStore":null,"status":null}"#)
            .unwrap();
    assert!(f.sub_store.store.is_empty());
    let f: ClientFile =
        serde_json::from_str(r#"{"EndpointUri":"http://e","subStore":{"store":null}}"#).unwrap();
    assert!(f.sub_store.store.is_empty());
}

#[test]
fn errors_carry_line_and_column() {
    let cases = [
        "{\n \"EndpointUri\": \"http://e\",\n \"status\": \"one\"\n}",
        "{\n \"clientID\": \"x\"\n}",
        "{\n \"EndpointUri\": \"http://e\",\n \"subStore\": {\"store\": {\"k\": {\"ResourceAddress\": \"/a\"}}}\n}",
        "{\n \"EndpointUri\": \"http://e\",\n \"subStore\": {\"store\": {\"k\": {\"EndpointUri\": \"x\"}}}\n}",
        "{\n \"EndpointUri\": \"http://e\",\n \"subStore\": {\"store\": {\"k\": {\"ResourceAddress\": \"/a\", \"SubscriptionId\": \"nope\"}}}\n}",
        "{\n \"EndpointUri\": \"http://e\",",
        "",
    ];
    for c in cases {
        let e = serde_json::from_str::<ClientFile>(c).unwrap_err();
        assert!(e.line() >= 1, "{c:?}: {e}");
        assert!(e.to_string().contains("line"), "{c:?}: {e}");
    }
    let e = serde_json::from_str::<ClientFile>(cases[0]).unwrap_err();
    assert_eq!(e.line(), 3, "{e}");
}

#[test]
fn subscription_info_omits_empty_id_and_location() {
    let s = SubscriptionInfo {
        resource_address: "/a".into(),
        endpoint_uri: "http://e".into(),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_string(&s).unwrap(),
        r#"{"ResourceAddress":"/a","EndpointUri":"http://e"}"#
    );
}

#[test]
fn publishers_array_and_null() {
    assert!(parse_publishers(b"null").unwrap().is_empty());
    assert!(parse_publishers(b"[]").unwrap().is_empty());
    let p = parse_publishers(
        br#"[{"ResourceAddress":"/a","EndpointUri":"http://e","SubscriptionId":"4ea72bfa-185c-4703-9694-cdd0434cd570"}]"#,
    )
    .unwrap();
    assert_eq!(p[0].subscription_id, "4ea72bfa-185c-4703-9694-cdd0434cd570");
    assert_eq!(to_go_indent(&Vec::<SubscriptionInfo>::new()), b"[]");
}
