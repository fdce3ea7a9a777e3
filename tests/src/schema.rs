//! The committed JSON Schemas (`schemas/`) of every event body the agent
//! emits, compiled once; every body a test consumer receives is checked
//! against the one of its format ([`Consumer::events`](crate::Consumer)).

use std::sync::OnceLock;

use serde_json::Value;

/// Which body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    V2Event,
    V2CurrentState,
    V1Event,
    V1CurrentState,
}

impl Schema {
    pub const ALL: [Self; 4] = [
        Self::V2Event,
        Self::V2CurrentState,
        Self::V1Event,
        Self::V1CurrentState,
    ];

    #[must_use]
    pub fn text(self) -> &'static str {
        match self {
            Self::V2Event => include_str!("../../schemas/v2-event.json"),
            Self::V2CurrentState => include_str!("../../schemas/v2-current-state.json"),
            Self::V1Event => include_str!("../../schemas/v1-event.json"),
            Self::V1CurrentState => include_str!("../../schemas/v1-current-state.json"),
        }
    }

    /// The schema a pushed body must match: a CloudEvent 1.0 is a v2 push,
    /// 0.3 a v1 CurrentState (v1 status answers), anything else a v1
    /// cloud-native event.
    #[must_use]
    pub fn of_push(body: &Value) -> Self {
        match body["specversion"].as_str() {
            Some("1.0") => Self::V2Event,
            Some("0.3") => Self::V1CurrentState,
            _ => Self::V1Event,
        }
    }

    /// The errors of `body` against this schema (empty: valid).
    #[must_use]
    pub fn errors(self, body: &Value) -> Vec<String> {
        static V: OnceLock<Vec<jsonschema::Validator>> = OnceLock::new();
        let all = V.get_or_init(|| {
            Self::ALL
                .iter()
                .map(|s| {
                    let doc: Value = serde_json::from_str(s.text()).expect("schema is JSON");
                    jsonschema::draft202012::new(&doc)
                        .unwrap_or_else(|e| panic!("{s:?} is not a valid schema: {e}"))
                })
                .collect()
        });
        let i = Self::ALL.iter().position(|s| *s == self).unwrap_or(0);
        all[i]
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    /// Panics with the errors if `body` does not match.
    pub fn check(self, body: &Value) {
        let errs = self.errors(body);
        assert!(
            errs.is_empty(),
            "body does not match schemas/{self:?}: {errs:#?}\n{body:#}"
        );
    }
}

/// Checks a body a consumer received: an empty body (the v1 endpoint
/// check) passes; anything else must match the schema of its format.
pub fn check_received(body: &Value) {
    if body.as_str() == Some("") {
        return;
    }
    Schema::of_push(body).check(body);
}
