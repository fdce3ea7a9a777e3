//! The anchor's AMQP wire format (LAB.md §5): CloudEvents AMQP binding,
//! binary mode, specversion 0.3 in application properties, the event data
//! JSON as one Data section.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fe2o3_amqp::types::messaging::{ApplicationProperties, Body, Data, Message, Properties};
use fe2o3_amqp::types::primitives::{SimpleValue, Symbol, Timestamp, Value};

use crate::event::parse::{ParseError, kind_of, parse_values};
use crate::event::{Event, EventKind, ValueKeys, parse::Received, write_values_with};

pub const P_ID: &str = "cloudEvents:id";
pub const P_TIME: &str = "cloudEvents:time";
pub const P_SPEC: &str = "cloudEvents:specversion";
pub const P_TYPE: &str = "cloudEvents:type";
pub const P_SOURCE: &str = "cloudEvents:source";
pub const P_SUBJECT: &str = "cloudEvents:subject";

/// The `type` of a status request (the anchor's status ping).
pub const STATUS_CHECK: &str = "status_check";

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The message of `ev`, sent to `address` (the resource address).
#[must_use]
pub fn encode(ev: &Event, address: &str) -> Message<Data> {
    let mut data = Vec::with_capacity(64 + 160 * ev.values.len());
    // The AMQP era (OCP 4.9-4.15) ended before the O-RAN keys: its readers
    // know only the legacy ones.
    write_values_with(&mut data, &ev.values, ValueKeys::Legacy);
    let props = ApplicationProperties::builder()
        .insert(P_ID, SimpleValue::String(ev.id.to_string()))
        .insert(
            P_TIME,
            SimpleValue::Timestamp(Timestamp::from_milliseconds(millis(ev.time))),
        )
        .insert(P_SPEC, SimpleValue::String("0.3".into()))
        .insert(P_TYPE, SimpleValue::String(ev.kind.type_str().into()))
        .insert(P_SOURCE, SimpleValue::String(address.into()))
        .insert(P_SUBJECT, SimpleValue::String(address.into()))
        .build();
    Message::builder()
        .properties(
            Properties::builder()
                .content_type(Symbol::from("application/json"))
                .build(),
        )
        .application_properties(props)
        .data(data)
        .build()
}

/// A status request for `resource`; the reply goes to `reply_to` (also in
/// `cloudEvents:source`, where the anchor put it).
#[must_use]
pub fn status_request(resource: &str, reply_to: &str) -> Message<Data> {
    let props = ApplicationProperties::builder()
        .insert(P_ID, SimpleValue::String(uuid::Uuid::new_v4().to_string()))
        .insert(
            P_TIME,
            SimpleValue::Timestamp(Timestamp::from_milliseconds(millis(SystemTime::now()))),
        )
        .insert(P_SPEC, SimpleValue::String("0.3".into()))
        .insert(P_TYPE, SimpleValue::String(STATUS_CHECK.into()))
        .insert(P_SOURCE, SimpleValue::String(reply_to.into()))
        .insert(P_SUBJECT, SimpleValue::String(resource.into()))
        .build();
    Message::builder()
        .properties(
            Properties::builder()
                .reply_to(reply_to.to_owned())
                .content_type(Symbol::from("application/json"))
                .build(),
        )
        .application_properties(props)
        .data(b"{}".to_vec())
        .build()
}

fn prop<'a>(m: &'a Message<Body<Value>>, key: &str) -> Option<&'a SimpleValue> {
    m.application_properties.as_ref()?.get(key)
}

/// A string application property.
#[must_use]
pub fn prop_str<'a>(m: &'a Message<Body<Value>>, key: &str) -> Option<&'a str> {
    match prop(m, key)? {
        SimpleValue::String(s) => Some(s),
        SimpleValue::Symbol(s) => Some(s.as_str()),
        _ => None,
    }
}

/// Where a status reply should go: `reply-to`, else the request's source.
#[must_use]
pub fn reply_to(m: &Message<Body<Value>>) -> Option<String> {
    m.properties
        .as_ref()
        .and_then(|p| p.reply_to.clone())
        .or_else(|| prop_str(m, P_SOURCE).map(str::to_owned))
}

/// The body bytes: a Data section, or an AMQP string / binary value (some
/// senders put JSON there).
#[must_use]
pub fn body_bytes(m: &Message<Body<Value>>) -> Option<Vec<u8>> {
    match &m.body {
        Body::Data(batch) => Some(batch.iter().flat_map(|d| d.0.iter().copied()).collect()),
        Body::Value(v) => match &v.0 {
            Value::String(s) => Some(s.as_bytes().to_vec()),
            Value::Binary(b) => Some(b.to_vec()),
            _ => None,
        },
        _ => None,
    }
}

/// The event carried by a message.
///
/// # Errors
/// Not a CloudEvent of a known type, or its data has no values.
pub fn decode(m: &Message<Body<Value>>) -> Result<Received, ParseError> {
    let source = prop_str(m, P_SOURCE).or_else(|| prop_str(m, P_SUBJECT));
    let ty = prop_str(m, P_TYPE);
    if prop_str(m, P_SPEC).is_none() && ty.is_none() {
        return Err(ParseError::Missing(P_SPEC));
    }
    let kind: EventKind = kind_of(source, ty)
        .ok_or_else(|| ParseError::UnknownSource(source.or(ty).unwrap_or_default().to_owned()))?;
    let bytes = body_bytes(m).ok_or(ParseError::Missing("body"))?;
    let data: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| ParseError::Json(e.to_string()))?;
    let time = match prop(m, P_TIME) {
        Some(SimpleValue::Timestamp(t)) => u64::try_from(t.milliseconds())
            .ok()
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms)),
        Some(SimpleValue::String(s)) => crate::event::parse::parse_time(s),
        _ => None,
    };
    Ok(Received {
        kind,
        id: prop_str(m, P_ID).and_then(|s| uuid::Uuid::try_parse(s).ok()),
        time,
        values: parse_values(&data)?,
    })
}

#[cfg(test)]
mod tests {
    use fe2o3_amqp::types::messaging::{AmqpValue, Batch};

    use super::*;
    use crate::event::DataValue;

    fn as_received(m: Message<Data>) -> Message<Body<Value>> {
        Message {
            header: m.header,
            delivery_annotations: m.delivery_annotations,
            message_annotations: m.message_annotations,
            properties: m.properties,
            application_properties: m.application_properties,
            body: Body::Data(Batch::new(vec![m.body])),
            footer: m.footer,
        }
    }

    #[test]
    fn round_trip_keeps_kind_id_values_and_millis() {
        let ev = Event::new(
            EventKind::OsClockSyncState,
            vec![DataValue::state(
                "/cluster/node/n1/CLOCK_REALTIME".into(),
                "LOCKED",
            )],
        );
        let addr = "/cluster/node/n1/sync/sync-status/os-clock-sync-state";
        let m = as_received(encode(&ev, addr));
        assert_eq!(prop_str(&m, P_SPEC), Some("0.3"));
        assert_eq!(prop_str(&m, P_SOURCE), Some(addr));
        let got = decode(&m).unwrap();
        assert_eq!(got.kind, EventKind::OsClockSyncState);
        assert_eq!(got.id, Some(ev.id));
        assert_eq!(got.values, ev.values);
        assert_eq!(millis(got.time.unwrap()), millis(ev.time));
    }

    #[test]
    fn string_bodies_and_garbage() {
        let ev = Event::new(
            EventKind::SyncState,
            vec![DataValue::state("/a".into(), "FREERUN")],
        );
        let mut m = as_received(encode(&ev, "/cluster/node/n1/sync/sync-status/sync-state"));
        m.body = Body::Value(AmqpValue(Value::String(
            r#"{"version":"1.0","values":[{"ResourceAddress":"/a","data_type":"notification","value_type":"enumeration","value":"FREERUN"}]}"#.into(),
        )));
        assert_eq!(decode(&m).unwrap().values, ev.values);
        m.body = Body::Value(AmqpValue(Value::String("not json".into())));
        assert!(matches!(decode(&m), Err(ParseError::Json(_))));
        m.application_properties = None;
        assert!(decode(&m).is_err());
        let r = as_received(status_request("/r", "/r/abcde"));
        assert_eq!(reply_to(&r).as_deref(), Some("/r/abcde"));
    }
}
