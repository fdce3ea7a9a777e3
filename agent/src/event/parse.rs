//! Reading event values back: the v1 cloud-native event a publisher posts
//! to `create/event`. Tolerant like sdk-go release-v1.22: both key spellings
//! of a value (`ResourceAddress`/`resource`, `data_type`/`dataType`, ...),
//! and a `value` that is a JSON number as well as a string.

use serde_json::{Map, Value};

use cloud_event_client::EventType;

use super::{DataType, DataValue, EventKind, ValueType};

/// Why a body is not an event we can use.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ParseError {
    #[error("not JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("not a JSON object")]
    NotObject,
    #[error("field {0} is missing")]
    Missing(&'static str),
    #[error("field {field} is invalid: {why}")]
    Invalid { field: &'static str, why: String },
}

/// The value of `name` in `obj`: the exact key first, else one that
/// differs only in ASCII case (Go's `encoding/json` rule, which the anchor's
/// clients rely on). The one such lookup of the agent.
#[must_use]
pub(crate) fn lookup<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The first of `names` (spellings of one field) present in `obj`, exact
/// keys before case-insensitive ones.
fn get<'a>(obj: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|n| obj.get(*n))
        .or_else(|| names.iter().find_map(|n| lookup(obj, n)))
}

fn str_of<'a>(obj: &'a Map<String, Value>, names: &[&str]) -> Option<&'a str> {
    get(obj, names).and_then(Value::as_str)
}

/// `data.values` of an event (`data` is the object holding `values`).
///
/// # Errors
/// `values` missing or not an array, or a value without an address.
pub(crate) fn parse_values(data: &Value) -> Result<Vec<DataValue>, ParseError> {
    let data = data.as_object().ok_or(ParseError::Missing("data"))?;
    let values = get(data, &["values"])
        .and_then(Value::as_array)
        .ok_or(ParseError::Missing("data.values"))?;
    values.iter().map(parse_value).collect()
}

fn parse_value(v: &Value) -> Result<DataValue, ParseError> {
    let obj = v.as_object().ok_or(ParseError::Invalid {
        field: "data.values",
        why: "an element is not an object".into(),
    })?;
    let resource_address = str_of(obj, &["ResourceAddress", "resource"])
        .ok_or(ParseError::Missing("data.values[].ResourceAddress"))?
        .to_owned();
    let data_type = match str_of(obj, &["data_type", "dataType"]) {
        Some("metric") => DataType::Metric,
        _ => DataType::Notification,
    };
    let value_type = match str_of(obj, &["value_type", "valueType"]) {
        Some("decimal64.3") => ValueType::Decimal,
        Some(_) => ValueType::Enumeration,
        None if data_type == DataType::Metric => ValueType::Decimal,
        None => ValueType::Enumeration,
    };
    let value = match get(obj, &["value"]) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => return Err(ParseError::Missing("data.values[].value")),
    };
    Ok(DataValue {
        resource_address,
        data_type,
        value_type,
        value,
    })
}

/// The kind of an event from its `source` (short O-RAN source or a full
/// address, v1 or v2 spelling), else from its `type` (the client library's
/// rules, which also know the misspelt types older publishers sent).
#[must_use]
pub(crate) fn kind_of(source: Option<&str>, ty: Option<&str>) -> Option<EventKind> {
    source
        .and_then(EventType::from_source)
        .or_else(|| ty.and_then(EventType::from_type_str))
        .and_then(EventKind::of_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_keys_numbers_and_full_sources() {
        let data: Value = serde_json::from_str(
            r#"{"version":"v1","values":[{"resource":"/r","dataType":"metric","valueType":"decimal64.3","value":248}]}"#,
        )
        .unwrap();
        assert_eq!(
            parse_values(&data).unwrap(),
            vec![DataValue::metric("/r".into(), 248)]
        );
        assert_eq!(
            kind_of(
                Some("/cluster/node/n1/sync/ptp-status/ptp-clock-class-change"),
                None
            ),
            Some(EventKind::ClockClass)
        );
        assert_eq!(kind_of(Some("/nope"), None), None);
    }

    #[test]
    fn bad_values_say_why() {
        let data: Value = serde_json::from_str(r#"{"values":[{"value":"x"}]}"#).unwrap();
        assert!(matches!(
            parse_values(&data),
            Err(ParseError::Missing("data.values[].ResourceAddress"))
        ));
        assert!(matches!(
            parse_values(&Value::Null),
            Err(ParseError::Missing("data"))
        ));
        // The parser's own error stays reachable, not flattened to text.
        let e = ParseError::Json(serde_json::from_str::<Value>("{").unwrap_err());
        assert!(std::error::Error::source(&e).is_some_and(|c| c.is::<serde_json::Error>()));
    }
}
