//! Drop-in for the anchor's sidecar: what ptp-operator's template passes
//! (`--api-version`, `PTP_PLUGIN`, `NAME_SPACE`, `PTP_PROFILE_PATH`), with
//! the anchor's meaning, and its flags that change nothing here (a
//! warning).

use std::path::PathBuf;

use clap::ValueEnum;

use super::Args;

/// The anchor's arguments and environment that mean something here.
#[derive(Clone, Debug, clap::Args)]
pub struct DropIn {
    /// The REST API version the operator asks for: `1.0` (v1 and the v1-era
    /// HTTP transport) or `2.0` (v2). Both versions are served whatever its
    /// value, unless `--api-version-only` (the operator's daemon polls
    /// v2's `/health` in both cases, so that one always answers).
    #[arg(long, env = "API_VERSION", value_parser = parse_api_version)]
    pub api_version: Option<ApiMajor>,

    /// Serve only the version named by `--api-version`.
    #[arg(long, env = "API_VERSION_ONLY", requires = "api_version")]
    pub api_version_only: bool,

    /// Keys of the values pushed to v1 subscribers: `legacy` (`resource`,
    /// `dataType`, `valueType`, `value`: what the anchor's 4.14 consumers
    /// read, and every later v1 reader accepts) or `oran` (`ResourceAddress`,
    /// `data_type`, `value_type`, `value`).
    #[arg(long, env = "V1_VALUE_KEYS", value_enum, default_value_t = V1ValueKeys::Legacy)]
    pub v1_value_keys: V1ValueKeys,

    /// `false` runs no PTP source (the anchor loads its PTP plugin only when
    /// `PTP_PLUGIN` is true; unset here means true, so plain use needs no
    /// variable). Accepts Go's boolean spellings (`1`, `t`, `TRUE`, ...).
    #[arg(long, env = "PTP_PLUGIN", value_parser = parse_go_bool, default_value = "true", action = clap::ArgAction::Set)]
    pub ptp_plugin: bool,

    /// Namespace of the operator (the anchor's `NAME_SPACE`): without
    /// `--transport-host` the agent names itself as the anchor's per-node
    /// Service, `ptp-event-publisher-service-<node>.<ns>.svc.cluster.local`.
    #[arg(long, env = "NAME_SPACE")]
    pub namespace: Option<String>,

    /// Directory of the ptp-configmap files, one per node name (the
    /// anchor's `PTP_PROFILE_PATH`): `--ptp-profiles` defaults to
    /// `<dir>/<node-name>`.
    #[arg(long, env = "PTP_PROFILE_PATH", default_value = "/etc/linuxptp")]
    pub ptp_profile_path: PathBuf,
}

/// `--api-version`'s major version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiMajor {
    V1,
    V2,
}

/// See [`DropIn::v1_value_keys`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum V1ValueKeys {
    Legacy,
    Oran,
}

/// `1.0`, `1`, `v1` (any `1.x`) or the same for 2.
pub(super) fn parse_api_version(s: &str) -> Result<ApiMajor, String> {
    let t = s.trim().trim_start_matches(['v', 'V']);
    match t.split('.').next().map(str::parse::<u32>) {
        Some(Ok(1)) => Ok(ApiMajor::V1),
        Some(Ok(2)) => Ok(ApiMajor::V2),
        _ => Err(format!("{s:?}: the API versions are 1.0 and 2.0")),
    }
}

/// Go's `strconv.ParseBool`, which the anchor reads its switches with.
pub(super) fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!("{other:?} is not a boolean (true or false)")),
    }
}

/// Every flag the anchor's sidecar has had (its Go `flag` set, all
/// releases). Those this agent does not define are accepted with a warning.
const ANCHOR_FLAGS: &[&str] = &[
    "api-port",
    "api-version",
    "auth-config",
    "http-event-publishers",
    "metrics-addr",
    "store-path",
    "transport-host",
];

/// The command line with the anchor's forms made ours: Go's single-dash
/// `-store-path=x` becomes `--store-path=x`, and an anchor flag this agent
/// does not define is removed and returned (`--flag=value`) for a warning.
/// Everything else is left for clap to judge.
#[must_use]
pub fn anchor_compatible_args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> (Vec<std::ffi::OsString>, Vec<String>) {
    use clap::CommandFactory;
    let cmd = Args::command();
    let ours = |name: &str| cmd.get_arguments().any(|a| a.get_long() == Some(name));
    let mut out = Vec::new();
    let mut ignored = Vec::new();
    let mut args = args.into_iter();
    out.extend(args.next());
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            out.push(arg);
            out.extend(args.by_ref());
            break;
        }
        let bare = text.strip_prefix("--").or_else(|| text.strip_prefix('-'));
        let Some(bare) = bare.filter(|_| text.len() > 1) else {
            out.push(arg);
            continue;
        };
        let (name, inline) = match bare.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (bare, None),
        };
        if !ANCHOR_FLAGS.contains(&name) {
            out.push(arg);
            continue;
        }
        if ours(name) {
            out.push(format!("--{bare}").into());
            continue;
        }
        // The anchor's flags all take a value: `--flag value` eats the next.
        let value = match inline {
            Some(v) => v.to_owned(),
            None => args
                .next()
                .map(|v| v.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        ignored.push(format!("--{name}={value}"));
    }
    (out, ignored)
}
