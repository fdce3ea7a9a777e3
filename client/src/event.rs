//! Events, typed: the v2 CloudEvent (structured JSON, specversion 1.0),
//! the v1 cloud-native event pushed to v1 subscribers, and the v1
//! CurrentState CloudEvent (specversion 0.3). Values are read in both key
//! spellings publishers have used: `ResourceAddress`/`data_type`/
//! `value_type` and `resource`/`dataType`/`valueType`.

use std::fmt;
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::resource::{EventType, SyncState};
use crate::time::{format_rfc3339, parse_rfc3339};

/// Which wire format an event came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// A structured CloudEvent 1.0 (v2 push, v2 CurrentState).
    CloudEvent,
    /// A structured CloudEvent 0.3 (v1 CurrentState).
    CloudEventV03,
    /// A v1 cloud-native event (v1 push; its `id` is the subscription id).
    CloudNative,
}

impl Format {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CloudEvent => "cloudevent-1.0",
            Self::CloudEventV03 => "cloudevent-0.3",
            Self::CloudNative => "cloud-native",
        }
    }
}

/// `data_type` of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    /// A state (e.g. `LOCKED`).
    Notification,
    /// A measurement (e.g. an offset in ns, a clock class).
    Metric,
}

impl DataType {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Notification => "notification",
            Self::Metric => "metric",
        }
    }
}

/// `value_type` of a value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// `enumeration`: a state name.
    Enumeration,
    /// `decimal64.3`: a number (carried as a string).
    Decimal,
    /// Any other type a publisher names (e.g. `redfish-event`).
    Other(String),
}

impl ValueType {
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Enumeration => "enumeration",
            Self::Decimal => "decimal64.3",
            Self::Other(s) => s,
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "enumeration" => Self::Enumeration,
            "decimal64.3" => Self::Decimal,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// Which keys values are written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KeyStyle {
    /// `ResourceAddress`, `data_type`, `value_type`, `value` (O-RAN, v2).
    #[default]
    ORan,
    /// `resource`, `dataType`, `valueType`, `value` (the v1 cloud-native
    /// event of the seed's SDK).
    Legacy,
}

/// One element of `data.values`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DataValue {
    /// The node-qualified sub-resource (e.g. `/cluster/node/n1/ens1fx/master`).
    pub resource: String,
    pub data_type: DataType,
    pub value_type: ValueType,
    /// Always a string on the wire (`"LOCKED"`, `"-62"`).
    pub value: String,
}

impl DataValue {
    /// A notification/enumeration value carrying a sync state.
    #[must_use]
    pub fn state(resource: impl Into<String>, state: SyncState) -> Self {
        Self::enumeration(resource, state.as_str())
    }

    /// A notification/enumeration value with any name.
    #[must_use]
    pub fn enumeration(resource: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            data_type: DataType::Notification,
            value_type: ValueType::Enumeration,
            value: value.into(),
        }
    }

    /// A metric/decimal64.3 value (an offset, a clock class).
    #[must_use]
    pub fn metric(resource: impl Into<String>, value: impl fmt::Display) -> Self {
        Self {
            resource: resource.into(),
            data_type: DataType::Metric,
            value_type: ValueType::Decimal,
            value: value.to_string(),
        }
    }

    /// The sync state named by the value, if it names one.
    #[must_use]
    pub fn sync_state(&self) -> Option<SyncState> {
        SyncState::parse(&self.value)
    }

    /// The value as a number, if it is one.
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        self.value.trim().parse().ok()
    }

    pub(crate) fn to_json(&self, style: KeyStyle) -> Value {
        let (r, d, v) = match style {
            KeyStyle::ORan => ("ResourceAddress", "data_type", "value_type"),
            KeyStyle::Legacy => ("resource", "dataType", "valueType"),
        };
        let mut m = Map::new();
        m.insert(r.into(), self.resource.clone().into());
        m.insert(d.into(), self.data_type.as_str().into());
        m.insert(v.into(), self.value_type.as_str().into());
        m.insert("value".into(), self.value.clone().into());
        Value::Object(m)
    }
}

/// Why a body is not an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("not JSON")]
    Json(#[source] serde_json::Error),
    #[error("not a JSON object")]
    NotObject,
    #[error("field {0} is missing")]
    Missing(&'static str),
    #[error("field {field} is invalid: {why}")]
    Invalid { field: &'static str, why: String },
    #[error("{0:?} is no event type this client knows")]
    UnknownType(String),
}

/// A received or pulled event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The CloudEvent `id`; for a v1 cloud-native event, the subscription id.
    pub id: String,
    /// The type, when it is one of the sync event types.
    pub event_type: Option<EventType>,
    /// The `type` string as sent.
    pub type_name: String,
    /// The `source` as sent (short O-RAN source in v2, full address in v1);
    /// empty when absent.
    pub source: String,
    /// When the publisher made the event.
    pub time: Option<SystemTime>,
    pub format: Format,
    /// `data.version` (`"1.0"`).
    pub data_version: Option<String>,
    pub values: Vec<DataValue>,
}

fn str_at<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

fn first<'a>(o: &'a Map<String, Value>, keys: [&str; 2]) -> Option<&'a Value> {
    o.get(keys[0]).or_else(|| o.get(keys[1]))
}

fn parse_value(v: &Value) -> Result<DataValue, DecodeError> {
    let invalid = |why: &str| DecodeError::Invalid {
        field: "data.values",
        why: why.to_owned(),
    };
    let o = v
        .as_object()
        .ok_or_else(|| invalid("an element is not an object"))?;
    let resource = first(o, ["ResourceAddress", "resource"])
        .ok_or(DecodeError::Missing("data.values[].ResourceAddress"))?
        .as_str()
        .ok_or_else(|| invalid("ResourceAddress is not a string"))?
        .to_owned();
    let data_type = match first(o, ["data_type", "dataType"]).map(Value::as_str) {
        Some(Some("notification")) => DataType::Notification,
        Some(Some("metric")) => DataType::Metric,
        Some(_) => return Err(invalid("data_type is neither notification nor metric")),
        None => return Err(DecodeError::Missing("data.values[].data_type")),
    };
    let value_type = match first(o, ["value_type", "valueType"]) {
        Some(Value::String(s)) => ValueType::parse(s),
        Some(_) => return Err(invalid("value_type is not a string")),
        None => return Err(DecodeError::Missing("data.values[].value_type")),
    };
    // Always a string from our publishers; a number is accepted too.
    let value = match o.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(invalid("value is neither a string nor a number")),
        None => return Err(DecodeError::Missing("data.values[].value")),
    };
    Ok(DataValue {
        resource,
        data_type,
        value_type,
        value,
    })
}

/// `data` of an event: `{"version": ..., "values": [...]}`.
///
/// # Errors
/// `data` is not an object, `values` is missing or a value is malformed.
pub fn parse_data(data: &Value) -> Result<(Option<String>, Vec<DataValue>), DecodeError> {
    let d = data.as_object().ok_or(DecodeError::Invalid {
        field: "data",
        why: "not an object".into(),
    })?;
    let values = d
        .get("values")
        .ok_or(DecodeError::Missing("data.values"))?
        .as_array()
        .ok_or(DecodeError::Invalid {
            field: "data.values",
            why: "not an array".into(),
        })?
        .iter()
        .map(parse_value)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((str_at(d, "version").map(str::to_owned), values))
}

impl Event {
    /// A new v2 event of `event_type` (fresh id, now, the short source),
    /// e.g. to answer a status request.
    #[must_use]
    pub fn new(event_type: EventType, values: Vec<DataValue>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            event_type: Some(event_type),
            type_name: event_type.as_str().to_owned(),
            source: event_type.source().to_owned(),
            time: Some(SystemTime::now()),
            format: Format::CloudEvent,
            data_version: Some("1.0".to_owned()),
            values,
        }
    }

    /// Decodes a pushed or pulled body: a structured CloudEvent (1.0 or
    /// 0.3) or a v1 cloud-native event.
    ///
    /// ```
    /// use cloud_event_client::{Event, EventType, Format, SyncState};
    /// let v1 = br#"{"id":"75b1ad8f-c807-4c23-acf5-56f4b7ee3826","type":"event.sync.ptp-status.ptp-state-change",
    ///   "source":"/cluster/node/n1/sync/ptp-status/lock-state","dataContentType":"application/json",
    ///   "time":"2024-08-28T14:50:57.327585316Z","data":{"version":"1.0","values":[
    ///   {"resource":"/cluster/node/n1/ens1fx/master","dataType":"notification","valueType":"enumeration","value":"LOCKED"}]}}"#;
    /// let ev = Event::decode(v1).unwrap();
    /// assert_eq!(ev.format, Format::CloudNative);
    /// assert_eq!(ev.event_type, Some(EventType::LockState));
    /// assert_eq!(ev.sync_state(), Some(SyncState::Locked));
    /// ```
    ///
    /// # Errors
    /// Not JSON, not an object, a mandatory field missing or malformed.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let v: Value = serde_json::from_slice(bytes).map_err(DecodeError::Json)?;
        Self::from_json(&v)
    }

    /// Like [`Event::decode`], from parsed JSON.
    ///
    /// # Errors
    /// As [`Event::decode`].
    pub fn from_json(v: &Value) -> Result<Self, DecodeError> {
        let o = v.as_object().ok_or(DecodeError::NotObject)?;
        let format = match o.get("specversion") {
            None => Format::CloudNative,
            Some(Value::String(s)) if s == "1.0" => Format::CloudEvent,
            Some(Value::String(s)) if s == "0.3" => Format::CloudEventV03,
            Some(_) => {
                return Err(DecodeError::Invalid {
                    field: "specversion",
                    why: "neither \"1.0\" nor \"0.3\"".into(),
                });
            }
        };
        let id = str_at(o, "id")
            .filter(|s| !s.is_empty())
            .ok_or(DecodeError::Missing("id"))?
            .to_owned();
        let type_name = str_at(o, "type")
            .filter(|s| !s.is_empty())
            .ok_or(DecodeError::Missing("type"))?
            .to_owned();
        let source = str_at(o, "source").unwrap_or_default().to_owned();
        if format != Format::CloudNative && source.is_empty() {
            return Err(DecodeError::Missing("source"));
        }
        let time =
            match o.get("time") {
                None => None,
                Some(t) => Some(t.as_str().and_then(parse_rfc3339).ok_or(
                    DecodeError::Invalid {
                        field: "time",
                        why: "not an RFC 3339 UTC time".into(),
                    },
                )?),
            };
        let (data_version, values) =
            parse_data(o.get("data").ok_or(DecodeError::Missing("data"))?)?;
        let event_type =
            EventType::from_type_str(&type_name).or_else(|| EventType::from_source(&source));
        Ok(Self {
            id,
            event_type,
            type_name,
            source,
            time,
            format,
            data_version,
            values,
        })
    }

    /// The sync state of the first notification value that names one.
    #[must_use]
    pub fn sync_state(&self) -> Option<SyncState> {
        self.values
            .iter()
            .filter(|v| v.data_type == DataType::Notification)
            .find_map(DataValue::sync_state)
    }

    /// The first metric value as a number (offset, clock class).
    #[must_use]
    pub fn metric(&self) -> Option<f64> {
        self.values
            .iter()
            .filter(|v| v.data_type == DataType::Metric)
            .find_map(DataValue::as_f64)
    }

    /// Whether this is a placeholder the publisher sends before it has
    /// data (`.../ptp-not-set`, `.../event-not-found`).
    #[must_use]
    pub fn is_placeholder(&self) -> bool {
        self.values.iter().any(|v| {
            v.resource.ends_with("/ptp-not-set") || v.resource.ends_with("/event-not-found")
        })
    }

    /// What identifies this event for duplicate dropping: its id and time
    /// (a v1 cloud-native event's id is the subscription's, the same for
    /// all its events).
    #[must_use]
    pub fn dedupe_key(&self) -> (String, Option<SystemTime>) {
        (self.id.clone(), self.time)
    }

    /// One normalised JSON object (v2 keys), e.g. for a log line.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.type_name,
            "source": self.source,
            "time": self.time.map(format_rfc3339),
            "format": self.format.as_str(),
            "data": {
                "version": self.data_version,
                "values": self.values.iter().map(|v| v.to_json(KeyStyle::ORan)).collect::<Vec<_>>(),
            },
        })
    }
}

/// A cloud-native event, as a publisher builds it to publish through
/// `create/event` (the seed SDK's `CloudNativeEvent()`): its `id` is the
/// publisher's id, which selects the resource it is published on.
///
/// ```
/// use cloud_event_client::{CloudNativeEvent, DataValue, EventType, SyncState};
/// let ev = CloudNativeEvent::new("4ea72bfa-185c-4703-9694-cdd0434cd570", EventType::LockState)
///     .value(DataValue::state("/cluster/node/n1/ens1fx/master", SyncState::Locked))
///     .value(DataValue::metric("/cluster/node/n1/ens1fx/master", -12));
/// let json: serde_json::Value = serde_json::from_slice(&ev.to_json()).unwrap();
/// assert_eq!(json["data"]["values"][1]["value"], "-12");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CloudNativeEvent {
    /// The publisher id.
    pub id: String,
    pub event_type: EventType,
    pub time: SystemTime,
    pub values: Vec<DataValue>,
    /// Keys of the values (O-RAN by default).
    pub keys: KeyStyle,
}

impl CloudNativeEvent {
    /// An event of `event_type` for publisher `publisher_id`, timed now.
    #[must_use]
    pub fn new(publisher_id: impl Into<String>, event_type: EventType) -> Self {
        Self {
            id: publisher_id.into(),
            event_type,
            time: SystemTime::now(),
            values: Vec::new(),
            keys: KeyStyle::ORan,
        }
    }

    /// Adds a value.
    #[must_use]
    pub fn value(mut self, v: DataValue) -> Self {
        self.values.push(v);
        self
    }

    /// Writes the values with `keys`.
    #[must_use]
    pub fn keys(mut self, keys: KeyStyle) -> Self {
        self.keys = keys;
        self
    }

    /// The JSON body of `create/event`.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let v = json!({
            "id": self.id,
            "type": self.event_type.as_str(),
            "dataContentType": "application/json",
            "time": format_rfc3339(self.time),
            "data": {
                "version": "1.0",
                "values": self.values.iter().map(|v| v.to_json(self.keys)).collect::<Vec<_>>(),
            },
        });
        serde_json::to_vec(&v).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    pub(super) const V2: &str = r#"{"specversion":"1.0","id":"5cbd6f6a-0a5f-4a2e-8f4e-1d8f8b6c8e1a","source":"/sync/ptp-status/lock-state","type":"event.sync.ptp-status.ptp-state-change","time":"2024-08-28T14:50:57.327585316Z","data":{"version":"1.0","values":[{"ResourceAddress":"/cluster/node/compute-1.example.com/ens5fx/master","data_type":"notification","value_type":"enumeration","value":"LOCKED"},{"ResourceAddress":"/cluster/node/compute-1.example.com/ens5fx/master","data_type":"metric","value_type":"decimal64.3","value":"29"}]}}"#;

    #[test]
    fn v2_push_decodes() {
        let ev = Event::decode(V2.as_bytes()).unwrap();
        assert_eq!(ev.format, Format::CloudEvent);
        assert_eq!(ev.event_type, Some(EventType::LockState));
        assert_eq!(ev.sync_state(), Some(SyncState::Locked));
        assert_eq!(ev.metric(), Some(29.0));
        assert_eq!(ev.values.len(), 2);
        assert_eq!(ev.to_json()["time"], "2024-08-28T14:50:57.327585316Z");
        assert!(!ev.is_placeholder());
    }

    #[test]
    fn v1_both_spellings_decode_alike() {
        let old = r#"{"id":"75b1ad8f-c807-4c23-acf5-56f4b7ee3826","type":"event.sync.ptp-status.ptp-clock-class-change","source":"/cluster/node/n1/sync/ptp-status/ptp-clock-class-change","dataContentType":"application/json","time":"2024-08-28T14:50:57Z","data":{"version":"1.0","values":[{"resource":"/cluster/node/n1/ens5fx/master","dataType":"metric","valueType":"decimal64.3","value":"6"}]}}"#;
        let new = old
            .replace("\"resource\"", "\"ResourceAddress\"")
            .replace("dataType", "data_type")
            .replace("valueType", "value_type");
        let (a, b) = (
            Event::decode(old.as_bytes()).unwrap(),
            Event::decode(new.as_bytes()).unwrap(),
        );
        assert_eq!(a, b);
        assert_eq!(a.format, Format::CloudNative);
        assert_eq!(a.event_type, Some(EventType::ClockClass));
        assert_eq!(a.metric(), Some(6.0));
    }

    #[test]
    fn v1_current_state_and_numbers() {
        let cs = r#"{"specversion":"0.3","id":"4f51fe99-feaa-4e66-9112-66c5c9b9afcb","source":"/cluster/node/n1/sync/sync-status/os-clock-sync-state","type":"event.sync.sync-status.os-clock-sync-state-change","subject":"/cluster/node/n1/sync/sync-status/os-clock-sync-state","datacontenttype":"application/json","time":"2022-11-29T17:44:22.202Z","data":{"version":"v1","values":[{"resource":"/cluster/node/n1/CLOCK_REALTIME","dataType":"metric","valueType":"decimal64.3","value":27}]}}"#;
        let ev = Event::decode(cs.as_bytes()).unwrap();
        assert_eq!(ev.format, Format::CloudEventV03);
        assert_eq!(ev.values[0].value, "27");
        assert_eq!(ev.event_type, Some(EventType::OsClockSyncState));
    }

    #[test]
    fn non_events_are_errors_not_panics() {
        for bad in [
            "",
            "null",
            "[]",
            "1",
            "\"x\"",
            "{",
            "{}",
            r#"{"not":"an event"}"#,
            r#"{"specversion":"1.0","id":"a","type":"t","source":"s"}"#,
            r#"{"specversion":2,"id":"a","type":"t","source":"s","data":{"values":[]}}"#,
            r#"{"id":"a","type":"t","data":{"values":{}}}"#,
            r#"{"id":"a","type":"t","data":{"values":[1]}}"#,
            r#"{"id":"a","type":"t","data":{"values":[{"resource":1}]}}"#,
            r#"{"id":"a","type":"t","data":{"values":[{"resource":"/r","data_type":"x","value_type":"enumeration","value":"v"}]}}"#,
            r#"{"id":"a","type":"t","data":{"values":[{"resource":"/r","data_type":"metric","value_type":"enumeration","value":true}]}}"#,
            r#"{"id":"a","type":"t","time":"yesterday","data":{"values":[]}}"#,
        ] {
            assert!(Event::decode(bad.as_bytes()).is_err(), "{bad}");
        }
        // Unknown types are events still; the caller decides.
        let ev = Event::decode(br#"{"id":"a","type":"mock","data":{"values":[]}}"#).unwrap();
        assert_eq!(ev.event_type, None);
    }

    #[test]
    fn built_event_decodes_as_cloud_native() {
        let ev = CloudNativeEvent::new("p1", EventType::GnssSyncStatus)
            .value(DataValue::state(
                "/cluster/node/n1/ens2fx/master",
                SyncState::AcquiringSync,
            ))
            .keys(KeyStyle::Legacy);
        let body = ev.to_json();
        assert!(String::from_utf8_lossy(&body).contains("\"dataType\""));
        let back = Event::decode(&body).unwrap();
        assert_eq!(back.event_type, Some(EventType::GnssSyncStatus));
        assert_eq!(back.sync_state(), Some(SyncState::AcquiringSync));
        assert_eq!(
            back.time,
            Some(ev.time).map(|t| parse_rfc3339(&format_rfc3339(t)).unwrap())
        );
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;

    /// A random JSON value, biased towards event-like objects.
    fn any(depth: u32) -> Value {
        let keys = [
            "id",
            "type",
            "source",
            "time",
            "data",
            "values",
            "version",
            "specversion",
            "value",
            "ResourceAddress",
            "resource",
            "data_type",
            "dataType",
            "value_type",
            "valueType",
        ];
        let strs = [
            "1.0",
            "0.3",
            "",
            "LOCKED",
            "metric",
            "notification",
            "enumeration",
            "decimal64.3",
            "2024-08-28T14:50:57Z",
            "/sync/ptp-status/lock-state",
            "event.sync.ptp-status.ptp-state-change",
            "\u{0}\u{ffff}",
        ];
        match fastrand::u8(..if depth > 3 { 5 } else { 8 }) {
            0 => Value::Null,
            1 => Value::Bool(fastrand::bool()),
            2 => json!(fastrand::i64(..)),
            3 => json!(fastrand::f64() * 1e300),
            4 => Value::String(strs[fastrand::usize(..strs.len())].to_owned()),
            5 => Value::Array((0..fastrand::usize(..4)).map(|_| any(depth + 1)).collect()),
            _ => Value::Object(
                (0..fastrand::usize(..8))
                    .map(|_| {
                        (
                            keys[fastrand::usize(..keys.len())].to_owned(),
                            any(depth + 1),
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// `v` with one random node replaced by a random value.
    fn mutate(mut v: Value) -> Value {
        replace_one(&mut v);
        v
    }

    fn replace_one(at: &mut Value) {
        let go_down = fastrand::u8(..4) != 0;
        match at {
            Value::Object(m) if go_down && !m.is_empty() => {
                let k = fastrand::usize(..m.len());
                if let Some(n) = m.values_mut().nth(k) {
                    replace_one(n);
                }
            }
            Value::Array(a) if go_down && !a.is_empty() => {
                let k = fastrand::usize(..a.len());
                replace_one(&mut a[k]);
            }
            _ => *at = any(2),
        }
    }

    #[test]
    fn never_panics_on_any_json() {
        fastrand::seed(13);
        let mut ok = 0;
        let template: Value = serde_json::from_str(tests::V2).unwrap_or_default();
        for i in 0..50_000 {
            let v = if i % 2 == 0 {
                any(0)
            } else {
                mutate(template.clone())
            };
            if Event::from_json(&v).is_ok() {
                ok += 1;
            }
            let bytes = serde_json::to_vec(&v).unwrap_or_default();
            let cut = fastrand::usize(..=bytes.len());
            let _ = Event::decode(&bytes[..cut]);
        }
        // Some random objects are events: the generator reaches the decoder's
        // depths.
        assert!(ok > 0);
    }
}
