//! deploy/ renders and validates offline: every overlay and example goes
//! through `kubectl kustomize`, then `kubernetes-validate --strict` against
//! the Kubernetes 1.31 schemas, and its custom resources (ServiceMonitor,
//! PrometheusRule, SecurityContextConstraints), which no Kubernetes schema
//! covers, against the JSON Schemas in `tests/data/crd-schemas`. No API
//! server runs here: this is the published contract, checked offline. The
//! alerts' metrics are checked against a running agent's scrape.
//!
//! `cargo xtask test` installs the validator (`CEA_KUBERNETES_VALIDATE_BIN`);
//! without it, or without kubectl, the test prints SKIP.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use agent_tests::{Agent, wait_for};

const K8S: &str = "1.31.0";
/// Kinds without a Kubernetes schema, each checked by `validate_crs.py`.
const CUSTOM: &[&str] = &[
    "ServiceMonitor",
    "PrometheusRule",
    "SecurityContextConstraints",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The validator's venv `bin`, or `None` (SKIP).
fn validator() -> Option<PathBuf> {
    let bin = std::env::var_os("CEA_KUBERNETES_VALIDATE_BIN").map(PathBuf::from)?;
    bin.join("kubernetes-validate").exists().then_some(bin)
}

fn tools() -> Option<PathBuf> {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!("SKIP: no kubectl on PATH");
        return None;
    }
    let bin = validator();
    if bin.is_none() {
        eprintln!("SKIP: kubernetes-validate not installed (cargo xtask test installs it)");
    }
    bin
}

/// Every directory under deploy/ with a kustomization that is not a
/// component (components are rendered through the overlays).
fn kustomizations() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for group in ["overlays", "examples"] {
        for e in std::fs::read_dir(repo().join("deploy").join(group)).unwrap() {
            let dir = e.unwrap().path();
            if dir.join("kustomization.yaml").exists() {
                out.push(dir);
            }
        }
    }
    out.sort();
    out
}

fn render(dir: &Path) -> String {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Validates one rendered stream; the errors, empty when it is valid.
fn validate(bin: &Path, rendered: &str) -> Vec<String> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), rendered).unwrap();
    let mut errors = Vec::new();
    let out = Command::new(bin.join("kubernetes-validate"))
        .args(["--strict", "-k", K8S])
        .arg(file.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    for line in text.lines() {
        let custom = CUSTOM
            .iter()
            .any(|k| line.contains(&format!("Couldn't find schema for kind {k} ")));
        if line.starts_with("ERROR") || (line.starts_with("WARN") && !custom) {
            errors.push(line.to_owned());
        }
    }
    if !out.status.success() && errors.is_empty() {
        errors.push(format!("kubernetes-validate failed: {text}"));
    }
    let out = Command::new(bin.join("python"))
        .arg(repo().join("tests/data/crd-schemas/validate_crs.py"))
        .arg(file.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    errors.extend(
        text.lines()
            .filter(|l| l.starts_with("ERROR"))
            .map(str::to_owned),
    );
    if !out.status.success() && errors.is_empty() {
        errors.push(format!(
            "validate_crs.py failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    errors
}

#[test]
fn every_overlay_renders_and_validates() {
    let Some(bin) = tools() else { return };
    let dirs = kustomizations();
    let names: Vec<String> = dirs
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "standalone",
        "standalone-least-privilege",
        "openshift",
        "ptp-operator-sidecar",
        "cnf-consumer-sidecar",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    for dir in &dirs {
        let rendered = render(dir);
        let errors = validate(&bin, &rendered);
        assert!(
            errors.is_empty(),
            "{}:\n{}",
            dir.display(),
            errors.join("\n")
        );
    }
}

#[test]
fn the_validation_rejects_broken_manifests() {
    let Some(bin) = tools() else { return };
    let good = render(&repo().join("deploy/overlays/openshift"));
    assert!(validate(&bin, &good).is_empty());
    // A typo in a core kind, in each custom kind, and an unknown kind.
    for (from, to) in [
        ("readinessProbe:", "readinesProbe:"),
        ("bearerTokenFile:", "bearerTokenFil:"),
        (
            "expr: openshift_ptp_clock_state",
            "exp: openshift_ptp_clock_state",
        ),
        ("allowHostPID: true", "allowHostPid: true"),
        ("kind: Namespace", "kind: Namespaces"),
    ] {
        assert!(good.contains(from), "{from}");
        let bad = good.replacen(from, to, 1);
        assert!(!validate(&bin, &bad).is_empty(), "{to} accepted");
    }
}

/// The metrics the shipped alerts query exist in the agent's scrape.
#[test]
fn alerts_query_metrics_the_agent_exports() {
    let rules =
        std::fs::read_to_string(repo().join("deploy/components/monitoring/prometheusrule.yaml"))
            .unwrap()
            + &std::fs::read_to_string(
                repo().join("deploy/overlays/ptp-operator-sidecar/monitoring.yaml"),
            )
            .unwrap();
    let mut metrics: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .flat_map(|e| {
            e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("openshift_ptp_") || w.starts_with("cloud_event_agent_"))
        })
        .collect();
    metrics.sort_unstable();
    metrics.dedup();
    assert!(
        metrics.contains(&"openshift_ptp_clock_state"),
        "{metrics:?}"
    );
    assert!(
        metrics.contains(&"cloud_event_agent_deliveries_total"),
        "{metrics:?}"
    );
    let a = Agent::start(&[]);
    // A clock for openshift_ptp_clock_state to have a series.
    a.connect_socket()
        .line("ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq 1 path delay 2");
    let scrape = wait_for(Duration::from_secs(10), || {
        let s = a.metrics();
        s.contains("openshift_ptp_clock_state{").then_some(s)
    })
    .expect("a clock state series");
    for m in metrics {
        assert!(
            scrape
                .lines()
                .any(|l| l.starts_with(&format!("{m}{{")) || l.starts_with(&format!("{m} "))),
            "{m} is not in the scrape"
        );
    }
}
