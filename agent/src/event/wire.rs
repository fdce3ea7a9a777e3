//! The wire JSON, written by hand so the key order is exactly the anchor's
//! (cloudevents-sdk-go: specversion, id, source, type, time, data; values:
//! ResourceAddress, data_type, value_type, value).

use super::{Event, rfc3339_nano};
use crate::event::DataValue;

/// Appends the structured CloudEvent 1.0 JSON (O-RAN v2).
pub(crate) fn write_v2(out: &mut Vec<u8>, ev: &Event) {
    out.extend_from_slice(br#"{"specversion":"1.0","id":""#);
    write_uuid(out, ev.id);
    out.extend_from_slice(br#"","source":"#);
    json_str(out, ev.kind.source());
    out.extend_from_slice(br#","type":"#);
    json_str(out, ev.kind.type_str());
    out.extend_from_slice(br#","time":""#);
    rfc3339_nano(out, ev.time);
    out.extend_from_slice(br#"","data":"#);
    write_values(out, &ev.values);
    out.push(b'}');
}

/// The key names of a data value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum ValueKeys {
    /// `ResourceAddress`, `data_type`, `value_type`, `value`: O-RAN's, v2.
    #[default]
    Oran,
    /// `resource`, `dataType`, `valueType`, `value`: the only ones the
    /// anchor's 4.14 v1 readers know; its later v1 readers take both.
    Legacy,
}

/// Appends `{"version":"1.0","values":[...]}` with O-RAN's keys.
pub(crate) fn write_values(out: &mut Vec<u8>, values: &[DataValue]) {
    write_values_with(out, values, ValueKeys::Oran);
}

/// Appends `{"version":"1.0","values":[...]}` with `keys`.
pub(crate) fn write_values_with(out: &mut Vec<u8>, values: &[DataValue], keys: ValueKeys) {
    let [resource, data_type, value_type]: [&[u8]; 3] = match keys {
        ValueKeys::Oran => [
            br#"{"ResourceAddress":"#,
            br#","data_type":""#,
            br#"","value_type":""#,
        ],
        ValueKeys::Legacy => [
            br#"{"resource":"#,
            br#","dataType":""#,
            br#"","valueType":""#,
        ],
    };
    out.extend_from_slice(br#"{"version":"1.0","values":["#);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(resource);
        json_str(out, &v.resource_address);
        out.extend_from_slice(data_type);
        out.extend_from_slice(v.data_type.as_str().as_bytes());
        out.extend_from_slice(value_type);
        out.extend_from_slice(v.value_type.as_str().as_bytes());
        out.extend_from_slice(br#"","value":"#);
        json_str(out, &v.value);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
}

/// Appends the lower-case hyphenated form of `id` (no quotes).
pub(crate) fn write_uuid(out: &mut Vec<u8>, id: uuid::Uuid) {
    let mut buf = uuid::Uuid::encode_buffer();
    out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
}

/// A JSON string literal with the escapes serde_json would write.
pub(crate) fn json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Rare (addresses and values are plain ASCII): let serde_json escape.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{DataValue, EventKind};
    use std::time::{Duration, Instant, UNIX_EPOCH};

    fn event(kind: EventKind, values: Vec<DataValue>) -> Event {
        Event {
            kind,
            id: uuid::Uuid::parse_str("5cbd6f6a-0a5f-4a2e-8f4e-1d8f8b6c8e1a").unwrap(),
            time: UNIX_EPOCH + Duration::new(1_724_856_657, 327_585_316),
            created: Instant::now(),
            values,
        }
    }

    /// The anchor's lock-state example, byte for byte.
    #[test]
    fn lock_state_matches_anchor_bytes() {
        let a = "/cluster/node/compute-1.example.com/ens5fx/master".to_string();
        let ev = event(
            EventKind::LockState,
            vec![
                DataValue::state(a.clone(), "LOCKED"),
                DataValue::metric(a, 29),
            ],
        );
        let got = String::from_utf8(ev.to_v2_json()).unwrap();
        assert_eq!(
            got,
            r#"{"specversion":"1.0","id":"5cbd6f6a-0a5f-4a2e-8f4e-1d8f8b6c8e1a","source":"/sync/ptp-status/lock-state","type":"event.sync.ptp-status.ptp-state-change","time":"2024-08-28T14:50:57.327585316Z","data":{"version":"1.0","values":[{"ResourceAddress":"/cluster/node/compute-1.example.com/ens5fx/master","data_type":"notification","value_type":"enumeration","value":"LOCKED"},{"ResourceAddress":"/cluster/node/compute-1.example.com/ens5fx/master","data_type":"metric","value_type":"decimal64.3","value":"29"}]}}"#
        );
    }

    #[test]
    fn escapes_odd_strings() {
        let ev = event(
            EventKind::SyncState,
            vec![DataValue::state("/a\"b\\c\n".into(), "LOCKED")],
        );
        let v: serde_json::Value = serde_json::from_slice(&ev.to_v2_json()).unwrap();
        assert_eq!(v["data"]["values"][0]["ResourceAddress"], "/a\"b\\c\n");
    }
}
