//! Reading events in: the v1 cloud-native event of `create/event` (the
//! relay and AMQP read theirs with the client library's decoder). Tolerant
//! like sdk-go release-v1.22: both key spellings of a
//! value (`ResourceAddress`/`resource`, `data_type`/`dataType`, ...), and a
//! `value` that is a JSON number as well as a string.

use serde_json::{Map, Value};

use super::{DataType, DataValue, EventKind, NODE_PREFIX, ValueType};

/// Why a body is not an event we can use.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("not a JSON object")]
    NotObject,
    #[error("field {0} is missing")]
    Missing(&'static str),
    #[error("field {field} is invalid: {why}")]
    Invalid { field: &'static str, why: String },
}

/// The value of `name` in `obj`: the exact key first, else one that
/// differs only in ASCII case (Go's `encoding/json` rule, which the anchor's
/// clients rely on). The one such lookup of the agent.
#[must_use]
pub fn lookup<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The first of `names` (spellings of one field) present in `obj`, exact
/// keys before case-insensitive ones.
fn get<'a>(obj: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|n| obj.get(*n))
        .or_else(|| names.iter().find_map(|n| lookup(obj, n)))
}

fn str_of<'a>(obj: &'a Map<String, Value>, names: &[&str]) -> Option<&'a str> {
    get(obj, names).and_then(Value::as_str)
}

/// `data.values` of an event (`data` is the object holding `values`).
///
/// # Errors
/// `values` missing or not an array, or a value without an address.
pub fn parse_values(data: &Value) -> Result<Vec<DataValue>, ParseError> {
    let data = data.as_object().ok_or(ParseError::Missing("data"))?;
    let values = get(data, &["values"])
        .and_then(Value::as_array)
        .ok_or(ParseError::Missing("data.values"))?;
    values.iter().map(parse_value).collect()
}

fn parse_value(v: &Value) -> Result<DataValue, ParseError> {
    let obj = v.as_object().ok_or(ParseError::Invalid {
        field: "data.values",
        why: "an element is not an object".into(),
    })?;
    let resource_address = str_of(obj, &["ResourceAddress", "resource"])
        .ok_or(ParseError::Missing("data.values[].ResourceAddress"))?
        .to_owned();
    let data_type = match str_of(obj, &["data_type", "dataType"]) {
        Some("metric") => DataType::Metric,
        _ => DataType::Notification,
    };
    let value_type = match str_of(obj, &["value_type", "valueType"]) {
        Some("decimal64.3") => ValueType::Decimal,
        Some(_) => ValueType::Enumeration,
        None if data_type == DataType::Metric => ValueType::Decimal,
        None => ValueType::Enumeration,
    };
    let value = match get(obj, &["value"]) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => return Err(ParseError::Missing("data.values[].value")),
    };
    Ok(DataValue {
        resource_address,
        data_type,
        value_type,
        value,
    })
}

/// The kind of an event from its `source` (short O-RAN source or a full
/// address, v1 or v2 spelling), else from its `type`.
#[must_use]
pub fn kind_of(source: Option<&str>, ty: Option<&str>) -> Option<EventKind> {
    if let Some(src) = source {
        let short = src
            .strip_prefix(NODE_PREFIX)
            .and_then(|r| r.find('/').map(|i| &r[i..]))
            .unwrap_or(src);
        let found = EventKind::ALL
            .into_iter()
            .find(|k| short == k.source() || short == k.v1_source());
        if found.is_some() {
            return found;
        }
    }
    let ty = ty?;
    EventKind::ALL.into_iter().find(|k| k.type_str() == ty)
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::event::{Event, rfc3339_nano};

    /// What a received event carries.
    #[derive(Debug)]
    struct Received {
        kind: EventKind,
        id: Option<uuid::Uuid>,
        time: Option<SystemTime>,
        values: Vec<DataValue>,
    }

    /// A structured CloudEvent (1.0 or 0.3) or a v1 cloud-native event,
    /// read with the agent's parsers: what its own encoders wrote comes
    /// back.
    fn parse_event(bytes: &[u8]) -> Result<Received, ParseError> {
        let v: Value = serde_json::from_slice(bytes).map_err(ParseError::Json)?;
        let obj = v.as_object().ok_or(ParseError::NotObject)?;
        let source = str_of(obj, &["source"]);
        let ty = str_of(obj, &["type"]);
        let kind = kind_of(source, ty).ok_or_else(|| ParseError::Invalid {
            field: "source",
            why: format!(
                "{:?} names no event type",
                source.or(ty).unwrap_or_default()
            ),
        })?;
        let data = get(obj, &["data"]).ok_or(ParseError::Missing("data"))?;
        Ok(Received {
            kind,
            id: str_of(obj, &["id"]).and_then(|s| uuid::Uuid::try_parse(s).ok()),
            time: str_of(obj, &["time"]).and_then(parse_time),
            values: parse_values(data)?,
        })
    }

    fn parse_time(t: &str) -> Option<SystemTime> {
        cloud_event_client::parse_rfc3339(t)
    }

    #[test]
    fn v2_event_round_trips() {
        let ev = Event::new(
            EventKind::LockState,
            vec![
                DataValue::state("/cluster/node/n1/ens1fx/master".into(), "LOCKED"),
                DataValue::metric("/cluster/node/n1/ens1fx/master".into(), -12),
            ],
        );
        let got = parse_event(&ev.to_v2_json()).unwrap();
        assert_eq!(got.kind, EventKind::LockState);
        assert_eq!(got.id, Some(ev.id));
        assert_eq!(got.time, Some(ev.time));
        assert_eq!(got.values, ev.values);
    }

    #[test]
    fn old_keys_numbers_and_full_sources() {
        let body = br#"{"id":"x","source":"/cluster/node/n1/sync/ptp-status/ptp-clock-class-change","time":"2024-08-28T14:50:57Z","data":{"version":"v1","values":[{"resource":"/r","dataType":"metric","valueType":"decimal64.3","value":248}]}}"#;
        let got = parse_event(body).unwrap();
        assert_eq!(got.kind, EventKind::ClockClass);
        assert_eq!(got.id, None);
        assert_eq!(got.values, vec![DataValue::metric("/r".into(), 248)]);
        let mut t = Vec::new();
        rfc3339_nano(&mut t, got.time.unwrap());
        assert_eq!(t, b"2024-08-28T14:50:57Z");
    }

    #[test]
    fn bad_bodies_say_why() {
        let e = parse_event(b"{").unwrap_err();
        assert!(matches!(e, ParseError::Json(_)));
        // The parser's own error stays reachable, not flattened to text.
        assert!(std::error::Error::source(&e).is_some_and(|c| c.is::<serde_json::Error>()));
        assert!(matches!(parse_event(b"[]"), Err(ParseError::NotObject)));
        assert!(matches!(
            parse_event(br#"{"source":"/nope","data":{}}"#),
            Err(ParseError::Invalid {
                field: "source",
                ..
            })
        ));
        assert!(matches!(
            parse_event(br#"{"source":"/sync/ptp-status/lock-state"}"#),
            Err(ParseError::Missing("data"))
        ));
        assert!(matches!(
            parse_event(
                br#"{"source":"/sync/ptp-status/lock-state","data":{"values":[{"value":"x"}]}}"#
            ),
            Err(ParseError::Missing("data.values[].ResourceAddress"))
        ));
        assert_eq!(parse_time("2024-08-28T14:50:57.1234567890Z"), None);
        assert_eq!(parse_time("2024-13-28T14:50:57Z"), None, "month 13");
        assert_eq!(
            parse_time("2024-08-28T16:50:57+02:00"),
            parse_time("2024-08-28T14:50:57Z")
        );
    }
}
