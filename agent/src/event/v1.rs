//! The v1 wire formats: the cloud-native event posted to v1
//! applications, and the specversion 0.3 CloudEvent of v1 CurrentState.
//! Values carry the keys chosen by `--v1-value-keys`: by default the legacy
//! ones (`resource`, `dataType`, ...), the only ones the anchor's 4.14
//! consumers read and accepted by every later v1 reader.

use super::wire::{json_str, write_uuid};
use super::{Event, NODE_PREFIX, ValueKeys, rfc3339_nano, write_values_with};

/// The full v1 address of the event: `/cluster/node/<node><v1 source>`.
#[must_use]
pub(crate) fn v1_address(ev: &Event, node: &str) -> String {
    format!("{NODE_PREFIX}{node}{}", ev.kind.v1_source())
}

/// The v1 application event after its `id` value: everything from the
/// closing quote of the id on. Prefix it with `{"id":"<subscription id>`
/// ([`v1_id_prefix`]) to get the body of one subscriber.
pub(crate) fn write_v1_tail(out: &mut Vec<u8>, ev: &Event, node: &str, keys: ValueKeys) {
    out.extend_from_slice(br#"","type":"#);
    json_str(out, ev.kind.type_str());
    out.extend_from_slice(br#","source":"#);
    json_str(out, &v1_address(ev, node));
    out.extend_from_slice(br#","dataContentType":"application/json","time":""#);
    rfc3339_nano(out, ev.time);
    out.extend_from_slice(br#"","data":"#);
    write_values_with(out, &ev.values, keys);
    out.push(b'}');
}

/// Length of [`v1_id_prefix`]: `{"id":"` and a hyphenated UUID.
pub(crate) const V1_ID_PREFIX_LEN: usize = 7 + uuid::fmt::Hyphenated::LENGTH;

/// `{"id":"<id>`, written into `buf`: what goes before the shared tail in
/// one subscriber's v1 body (the id is the subscription id).
pub(crate) fn v1_id_prefix(id: uuid::Uuid, buf: &mut [u8; V1_ID_PREFIX_LEN]) -> &[u8] {
    buf[..7].copy_from_slice(br#"{"id":""#);
    id.hyphenated().encode_lower(&mut buf[7..]);
    buf
}

/// One subscriber's v1 body in one buffer, for a single send (a status
/// ping) where no tail is shared.
#[must_use]
pub(crate) fn v1_event(id: uuid::Uuid, ev: &Event, node: &str, keys: ValueKeys) -> Vec<u8> {
    let mut prefix = [0; V1_ID_PREFIX_LEN];
    let mut out = Vec::with_capacity(320 + 160 * ev.values.len());
    out.extend_from_slice(v1_id_prefix(id, &mut prefix));
    write_v1_tail(&mut out, ev, node, keys);
    out
}

/// The v1 CloudEvent: specversion 0.3, `source` and `subject` the
/// full resource address, `datacontenttype`. The v1 CurrentState body, and
/// what the v1-era HTTP transport pushes to a consumer sidecar's `/event`
/// (structured mode, `application/cloudevents+json`).
#[must_use]
pub(crate) fn v1_current_state(ev: &Event, node: &str, keys: ValueKeys) -> Vec<u8> {
    let addr = v1_address(ev, node);
    let mut out = Vec::with_capacity(320 + 160 * ev.values.len());
    out.extend_from_slice(br#"{"specversion":"0.3","id":""#);
    write_uuid(&mut out, ev.id);
    out.extend_from_slice(br#"","source":"#);
    json_str(&mut out, &addr);
    out.extend_from_slice(br#","type":"#);
    json_str(&mut out, ev.kind.type_str());
    out.extend_from_slice(br#","subject":"#);
    json_str(&mut out, &addr);
    out.extend_from_slice(br#","datacontenttype":"application/json","time":""#);
    rfc3339_nano(&mut out, ev.time);
    out.extend_from_slice(br#"","data":"#);
    write_values_with(&mut out, &ev.values, keys);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, UNIX_EPOCH};

    use super::*;
    use crate::event::{DataValue, EventKind};

    fn event() -> Event {
        Event {
            kind: EventKind::ClockClass,
            id: uuid::Uuid::nil(),
            time: UNIX_EPOCH + Duration::new(1_724_856_657, 327_585_316),
            created: Instant::now(),
            values: vec![DataValue::metric(
                "/cluster/node/n1/ens5fx/master".into(),
                6,
            )],
        }
    }

    #[test]
    fn application_event_carries_the_subscription_id() {
        let mut tail = Vec::new();
        write_v1_tail(&mut tail, &event(), "n1", ValueKeys::Oran);
        let id = uuid::Uuid::parse_str("75b1ad8f-c807-4c23-acf5-56f4b7ee3826").unwrap();
        // What delivery sends: the subscriber's prefix, then the shared tail.
        let mut prefix = [0; V1_ID_PREFIX_LEN];
        let got = String::from_utf8([v1_id_prefix(id, &mut prefix), &tail].concat()).unwrap();
        assert_eq!(
            got.as_bytes(),
            v1_event(id, &event(), "n1", ValueKeys::Oran)
        );
        assert_eq!(
            got,
            r#"{"id":"75b1ad8f-c807-4c23-acf5-56f4b7ee3826","type":"event.sync.ptp-status.ptp-clock-class-change","source":"/cluster/node/n1/sync/ptp-status/ptp-clock-class-change","dataContentType":"application/json","time":"2024-08-28T14:50:57.327585316Z","data":{"version":"1.0","values":[{"ResourceAddress":"/cluster/node/n1/ens5fx/master","data_type":"metric","value_type":"decimal64.3","value":"6"}]}}"#
        );
    }

    #[test]
    fn current_state_is_specversion_0_3() {
        let v: serde_json::Value =
            serde_json::from_slice(&v1_current_state(&event(), "n1", ValueKeys::Legacy)).unwrap();
        assert_eq!(v["specversion"], "0.3");
        assert_eq!(
            v["source"],
            "/cluster/node/n1/sync/ptp-status/ptp-clock-class-change"
        );
        assert_eq!(v["subject"], v["source"]);
        assert_eq!(v["datacontenttype"], "application/json");
        // The keys the anchor's 4.14 reader knows, and only those.
        let value = &v["data"]["values"][0];
        assert_eq!(value["resource"], "/cluster/node/n1/ens5fx/master");
        assert_eq!(value["dataType"], "metric");
        assert_eq!(value["valueType"], "decimal64.3");
        assert_eq!(value["value"], "6");
        assert_eq!(value.as_object().unwrap().len(), 4);
    }
}
