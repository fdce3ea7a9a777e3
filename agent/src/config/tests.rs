//! Flags in, each stage's settings out.

use std::path::PathBuf;

use clap::Parser;

use super::anchor::{ApiMajor, parse_api_version, parse_go_bool};
use super::*;
use crate::source::SourceKind;

fn parse(args: &[&str]) -> Result<Config, ConfigError> {
    let mut v = vec!["cloud-event-agent", "--node-name", "n1.example.com"];
    v.extend_from_slice(args);
    Args::try_parse_from(v).unwrap().validate()
}

#[test]
fn defaults() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.api.addr.port(), 9043);
    assert_eq!(c.api.public_base, "http://localhost:9043");
    assert_eq!(c.api.metrics_addr.to_string(), "127.0.0.1:9091");
    assert_eq!(
        c.engine.ptp_profiles,
        PathBuf::from("/etc/linuxptp/n1.example.com")
    );
    assert_eq!(c.source.kind, SourceKind::Auto);
    assert_eq!(c.source.ebpf.watch, ["ptp4l", "phc2sys", "ts2phc"]);
    assert_eq!(c.source.ebpf.ring_bytes, 256 * 1024);
    assert_eq!(
        (c.source.ebpf.line_budget, c.source.ebpf.line_burst),
        (1000, 200)
    );
}

#[test]
fn watch_and_ring() {
    let c = parse(&["--watch", "ptp4l, ts2phc"]).unwrap();
    assert_eq!(c.source.ebpf.watch, ["ptp4l", "ts2phc"]);
    assert!(matches!(
        parse(&["--watch", "a-name-longer-than-15"]),
        Err(ConfigError::BadWatch(_))
    ));
    assert!(matches!(
        parse(&["--watch", ","]),
        Err(ConfigError::BadWatch(_))
    ));
    assert!(matches!(
        parse(&["--ebpf-ring-bytes", "5000"]),
        Err(ConfigError::BadRing(5000))
    ));
}

#[test]
fn transport_host_like_the_anchor() {
    let c = parse(&[
        "--transport-host",
        "http://ptp-event-publisher-service-NODE_NAME.openshift-ptp.svc.cluster.local:9043",
    ])
    .unwrap();
    assert_eq!(
        c.api.public_base,
        "http://ptp-event-publisher-service-n1.openshift-ptp.svc.cluster.local:9043"
    );
    assert!(matches!(
        parse(&["--transport-host", "http://"]),
        Err(ConfigError::BadTransportHost { .. })
    ));
}

#[test]
fn amqp_transport_host_and_consumer_role() {
    let c = parse(&["--transport-host", "amqp://broker"]).unwrap();
    assert_eq!(
        c.amqp.as_ref().map(|a| a.link.addr.as_str()),
        Some("broker:5672")
    );
    assert_eq!(c.api.public_base, "http://localhost:9043");
    assert_eq!(c.role, Role::Publisher);
    let c = parse(&[
        "--http-event-publishers",
        "p1:9043,http://p2:80,pub-NODE_NAME:9043",
    ])
    .unwrap();
    assert_eq!(c.role, Role::Consumer);
    assert_eq!(
        c.relay.publishers,
        ["http://p1:9043", "http://p2:80", "http://pub-n1:9043"]
    );
    assert!(matches!(
        parse(&["--role", "consumer"]),
        Err(ConfigError::ConsumerWithoutPublishers)
    ));
    assert!(matches!(
        parse(&["--http-event-publishers", "ftp://x"]),
        Err(ConfigError::BadPublisher { .. })
    ));
    let c = parse(&["--role", "consumer", "--transport-host", "amqp://b:5674"]).unwrap();
    assert_eq!(
        c.amqp.as_ref().map(|a| a.link.addr.as_str()),
        Some("b:5674")
    );
    assert!(c.amqp.as_ref().unwrap().link.credentials.is_none());
    let c = parse(&["--transport-host", "amqp://guest:s3cret@b:5674"]).unwrap();
    assert_eq!(
        c.amqp.as_ref().map(|a| a.link.addr.as_str()),
        Some("b:5674")
    );
    let amqp = c.amqp.unwrap();
    assert_eq!(
        amqp.link.credentials,
        Some(("guest".to_owned(), "s3cret".to_owned()))
    );
    // The password stays out of logs.
    assert!(!format!("{amqp:?}").contains("s3cret"));
    // One parser for every URL: IPv6 literals, any-case schemes, and
    // a path on the broker's URL refused (it would name nothing).
    let c = parse(&["--http-event-publishers", "HTTP://[fd00::1]:9043/"]).unwrap();
    assert_eq!(c.relay.publishers, ["http://[fd00::1]:9043"]);
    let c = parse(&["--transport-host", "AMQP://[::1]"]).unwrap();
    assert_eq!(
        c.amqp.as_ref().map(|a| a.link.addr.as_str()),
        Some("[::1]:5672")
    );
    for bad in ["amqp://b/vhost", "amqp://b:x", "amqp://"] {
        assert!(
            matches!(
                parse(&["--transport-host", bad]),
                Err(ConfigError::BadTransportHost { .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        parse(&["--http-event-publishers", "u:p@x:1"]),
        Err(ConfigError::BadPublisher { .. })
    ));
}

#[test]
fn rejects_bad_values() {
    assert!(matches!(
        parse(&["--api-port", "0"]),
        Err(ConfigError::ZeroPort)
    ));
    assert!(matches!(
        Args::try_parse_from(["x", "--node-name", "a/b"])
            .unwrap()
            .validate(),
        Err(ConfigError::BadNodeName(_))
    ));
    assert!(Args::try_parse_from(["x", "--source", "nope"]).is_err());
    let e = parse(&["--endpoint-policy", "10.0.0.0/40"]).unwrap_err();
    assert!(matches!(e, ConfigError::EndpointPolicy { .. }), "{e}");
    assert!(e.to_string().contains("prefix length 40"), "{e}");
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn the_operators_arguments_and_environment() {
    let argv = [
        "cloud-event-agent",
        "--metrics-addr=127.0.0.1:9091",
        "--store-path=/store",
        "--transport-host=http://ptp-event-publisher-service-NODE_NAME.openshift-ptp.svc.cluster.local:9043",
        "--api-version=2.0",
        "--api-port=9043",
        "--node-name=n1.example.com",
    ];
    let (args, warnings) = anchor_compatible_args(argv.iter().map(Into::into));
    assert!(warnings.is_empty(), "{warnings:?}");
    let c = Args::try_parse_from(args).unwrap().validate().unwrap();
    assert!(c.api.serve.v1 && c.api.serve.v2, "2.0 alone keeps v1");
    assert_eq!(c.store_path, PathBuf::from("/store"));
    assert_eq!(
        c.api.public_base,
        "http://ptp-event-publisher-service-n1.openshift-ptp.svc.cluster.local:9043"
    );
    let only = parse(&["--api-version", "1.0", "--api-version-only"]).unwrap();
    assert!(only.api.serve.v1 && !only.api.serve.v2);
    assert!(Args::try_parse_from(["x", "--api-version", "3.0"]).is_err());
    assert_eq!(parse_api_version("v2"), Ok(ApiMajor::V2));
    assert_eq!(parse_go_bool("T"), Ok(true));
    assert!(!parse(&["--ptp-plugin", "false"]).unwrap().source.enabled);
    assert!(parse_go_bool("yes").is_err());
    let c = parse(&["--namespace", "ptp", "--ptp-profile-path", "/p"]).unwrap();
    assert_eq!(
        c.api.public_base,
        "http://ptp-event-publisher-service-n1.ptp.svc.cluster.local:9043"
    );
    assert_eq!(c.engine.ptp_profiles, PathBuf::from("/p/n1.example.com"));
}

#[test]
fn anchor_only_flags_are_dropped_with_a_warning() {
    let argv = ["x", "-store-path=/s", "--auth-config", "/a.json", "--bogus"];
    let (args, warnings) = anchor_compatible_args(argv.iter().map(Into::into));
    let defines_auth = {
        use clap::CommandFactory;
        Args::command()
            .get_arguments()
            .any(|a| a.get_long() == Some("auth-config"))
    };
    let args: Vec<String> = args.into_iter().map(|a| a.into_string().unwrap()).collect();
    assert_eq!(args[..2], ["x", "--store-path=/s"]);
    // Unknown to the anchor too: left for clap to refuse.
    assert_eq!(args.last().map(String::as_str), Some("--bogus"));
    if !defines_auth {
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("--auth-config=/a.json"),
            "{warnings:?}"
        );
    }
}
