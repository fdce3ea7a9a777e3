//! The anchor's AMQP wire format: CloudEvents AMQP binding,
//! binary mode, specversion 0.3 in application properties, the event data
//! JSON as one Data section. Reading it is the `cloud-event-client`
//! crate's (the consumer sidecar receives through it).

use cloud_event_client::amqp::event_message;
use fe2o3_amqp::types::messaging::{Data, Message};

use crate::event::{Event, ValueKeys, write_values_with};

/// The message of `ev`, sent to `address` (the resource address).
#[must_use]
pub(crate) fn encode(ev: &Event, address: &str) -> Message<Data> {
    let mut data = Vec::with_capacity(64 + 160 * ev.values.len());
    // The AMQP era (OCP 4.9-4.15) ended before the O-RAN keys: its readers
    // know only the legacy ones.
    write_values_with(&mut data, &ev.values, ValueKeys::Legacy);
    event_message(
        &ev.id.to_string(),
        ev.time,
        ev.kind.type_str(),
        address,
        data,
    )
}

#[cfg(test)]
mod tests {
    use cloud_event_client::amqp::{P_SOURCE, P_SPEC, prop, reply_to};
    use fe2o3_amqp::types::messaging::{Batch, Body};
    use fe2o3_amqp::types::primitives::Value;
    use std::time::{SystemTime, UNIX_EPOCH};

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
        assert_eq!(prop(&m, P_SPEC), Some("0.3"));
        assert_eq!(prop(&m, P_SOURCE), Some(addr));
        let got = cloud_event_client::amqp::decode(&m).unwrap();
        assert_eq!(
            got.event_type,
            Some(cloud_event_client::EventType::OsClockSyncState)
        );
        assert_eq!(got.id, ev.id.to_string());
        assert_eq!(got.metric(), Some(-62.0));
        assert_eq!(got.values[0].value, "LOCKED");
        let ms = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_millis();
        assert_eq!(ms(got.time.unwrap()), ms(ev.time));
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
