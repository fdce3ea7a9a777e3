//! Resource addresses as AMQP addresses (anchor §6.3: address = resource
//! address). RabbitMQ refuses `/` inside a name (LAB.md §5), so the
//! `rabbitmq` style sends through its topic exchange instead.

use crate::config::AmqpAddressStyle;

const RABBIT_TOPIC: &str = "/exchange/amq.topic/";

/// The AMQP address of an O-RAN path (`/cluster/node/n1/sync/...`). An
/// address that is already an exchange address is kept.
#[must_use]
pub fn map(style: AmqpAddressStyle, path: &str) -> String {
    match style {
        AmqpAddressStyle::Oran => path.to_owned(),
        AmqpAddressStyle::Rabbitmq if path.starts_with("/exchange/") => path.to_owned(),
        AmqpAddressStyle::Rabbitmq => {
            format!("{RABBIT_TOPIC}{}", path.trim_matches('/').replace('/', "."))
        }
    }
}

/// Where status requests for `resource` go (`<resource>/status`).
#[must_use]
pub fn status(style: AmqpAddressStyle, resource: &str) -> String {
    map(style, &format!("{resource}/status"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles() {
        let a = "/cluster/node/n1/sync/ptp-status/lock-state";
        assert_eq!(map(AmqpAddressStyle::Oran, a), a);
        assert_eq!(
            map(AmqpAddressStyle::Rabbitmq, a),
            "/exchange/amq.topic/cluster.node.n1.sync.ptp-status.lock-state"
        );
        assert_eq!(
            status(AmqpAddressStyle::Rabbitmq, a),
            "/exchange/amq.topic/cluster.node.n1.sync.ptp-status.lock-state.status"
        );
        let m = map(AmqpAddressStyle::Rabbitmq, "/exchange/amq.topic/x.y");
        assert_eq!(m, "/exchange/amq.topic/x.y");
    }
}
