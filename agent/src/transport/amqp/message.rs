//! The anchor's AMQP wire format (LAB.md §5): CloudEvents AMQP binding,
//! binary mode, specversion 0.3 in application properties, the event data
//! JSON as one Data section. Reading it is the `cloud-event-client`
//! crate's (the consumer sidecar receives through it).

use std::time::{SystemTime, UNIX_EPOCH};

use fe2o3_amqp::types::messaging::{ApplicationProperties, Body, Data, Message, Properties};
use fe2o3_amqp::types::primitives::{SimpleValue, Symbol, Timestamp, Value};

use crate::event::{Event, ValueKeys, write_values_with};

pub const P_ID: &str = "cloudEvents:id";
pub const P_TIME: &str = "cloudEvents:time";
pub const P_SPEC: &str = "cloudEvents:specversion";
pub const P_TYPE: &str = "cloudEvents:type";
pub const P_SOURCE: &str = "cloudEvents:source";
pub const P_SUBJECT: &str = "cloudEvents:subject";

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

#[cfg(test)]
mod tests {
    use fe2o3_amqp::types::messaging::Batch;

    use super::*;
    use crate::event::{DataValue, EventKind};

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

    /// What we send is what the client crate (the consumer sidecar's and
    /// CNFs' decoder) reads: kind, id, values and the time in ms.
    #[test]
    fn the_client_decodes_what_we_encode() {
        let ev = Event::new(
            EventKind::OsClockSyncState,
            vec![
                DataValue::state("/cluster/node/n1/CLOCK_REALTIME".into(), "LOCKED"),
                DataValue::metric("/cluster/node/n1/CLOCK_REALTIME".into(), -62),
            ],
        );
        let addr = "/cluster/node/n1/sync/sync-status/os-clock-sync-state";
        let m = as_received(encode(&ev, addr));
        assert_eq!(prop_str(&m, P_SPEC), Some("0.3"));
        assert_eq!(prop_str(&m, P_SOURCE), Some(addr));
        let got = cloud_event_client::amqp::decode(&m).unwrap();
        assert_eq!(
            got.event_type,
            Some(cloud_event_client::EventType::OsClockSyncState)
        );
        assert_eq!(got.id, ev.id.to_string());
        assert_eq!(got.metric(), Some(-62.0));
        assert_eq!(got.values[0].value, "LOCKED");
        assert_eq!(millis(got.time.unwrap()), millis(ev.time));
    }

    #[test]
    fn replies_go_to_reply_to_else_the_source() {
        let r = as_received(cloud_event_client::amqp::status_request("/r", "/r/abcde"));
        assert_eq!(reply_to(&r).as_deref(), Some("/r/abcde"));
        let mut r = r;
        r.properties = None;
        assert_eq!(reply_to(&r).as_deref(), Some("/r/abcde"));
    }
}
