//! The status ping over AMQP 1.0 (feature `amqp`), both sides of the
//! seed's status listener. By default it answers status requests at
//! `<resource>/status` with the publisher's current state (pulled from its
//! REST API), printing a JSON line per answer; with `--ask` it sends one
//! request, prints the answer and exits.
//!
//! `amqp_status --publisher http://localhost:9043 --node n1 --amqp amqp://127.0.0.1:5672 [--ask]`

mod common;

use std::time::Duration;

use clap::Parser;
use cloud_event_client::amqp::{AddressStyle, AmqpConfig, request_status, serve_status};
use cloud_event_client::{EventType, ResourceAddress};
use serde_json::json;
use tracing::warn;

#[derive(Parser)]
#[command(about = "Answer (or send) status requests at <resource>/status over AMQP")]
struct Args {
    #[command(flatten)]
    common: common::Common,
    /// The broker, amqp://[user:password@]host[:port].
    #[arg(long, env = "AMQP_URL")]
    amqp: String,
    /// RabbitMQ address style (its topic exchange) instead of plain
    /// resource addresses.
    #[arg(long, env = "AMQP_RABBITMQ")]
    rabbitmq: bool,
    #[arg(long, env = "EVENT_TYPE", default_value = "lock-state")]
    event_type: EventType,
    /// Send one request and print the answer instead.
    #[arg(long)]
    ask: bool,
    /// How long `--ask` waits for the answer, seconds.
    #[arg(long, default_value_t = 10)]
    wait: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_logging();
    let args = Args::parse();
    let container = format!("amqp-status-{}", uuid::Uuid::new_v4().simple());
    let mut cfg = AmqpConfig::parse(&args.amqp, &container)?;
    if args.rabbitmq {
        cfg = cfg.with_style(AddressStyle::RabbitMq);
    }
    let resource = ResourceAddress::event(&args.common.node, args.event_type);
    if args.ask {
        let wait = Duration::from_secs(args.wait);
        match request_status(&cfg, &resource, wait).await? {
            Some(ev) => common::line(&json!({"answer": ev.to_json()})),
            None => anyhow::bail!("no answer within {wait:?}"),
        }
        return Ok(());
    }
    let client = args.common.client()?;
    loop {
        let answer = || async {
            match client.current_state(&resource).await {
                Ok(Some(ev)) => {
                    common::line(&json!({"answered": ev.to_json()}));
                    Some(ev)
                }
                Ok(None) => None,
                Err(e) => {
                    warn!(error = %e, "cannot read the current state");
                    None
                }
            }
        };
        if let Err(e) = serve_status(&cfg, &resource, answer).await {
            warn!(error = %e, "status listener stopped; reconnecting");
        }
        tokio::time::sleep(cloud_event_client::backoff(3)).await;
    }
}
