//! The anchor's file formats: `<clientID>.json` (Go `MarshalIndent`
//! of `subscriber.Subscriber`, one-space indent) and `pub.json` (an array of
//! `SubscriptionInfo`). Reading is case-insensitive on keys, as Go's
//! `encoding/json` is, so fixtures with `Store` / `EndPointURI` load too.
//! Semantic checks happen inside the deserializer so that every error carries
//! serde_json's line and column.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `status` of a client file: 1 = Active (sdk-go `subscriber.Status`).
pub(super) const STATUS_ACTIVE: i64 = 1;
/// `action` of a client file: 0 = NEW (sdk-go `channel.Status`).
pub(super) const ACTION_NEW: i64 = 0;

/// One subscription or publisher as the anchor writes it: this key
/// order, `SubscriptionId` and `UriLocation` omitted when empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct SubscriptionInfo {
    #[serde(rename = "ResourceAddress")]
    pub resource_address: String,
    #[serde(rename = "EndpointUri")]
    pub endpoint_uri: String,
    #[serde(rename = "SubscriptionId", skip_serializing_if = "String::is_empty")]
    pub subscription_id: String,
    #[serde(rename = "UriLocation", skip_serializing_if = "String::is_empty")]
    pub uri_location: String,
}

/// `subStore` of a client file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(super) struct SubStore {
    /// Keyed by subscription id; a `BTreeMap` so keys come out sorted, as
    /// Go sorts map keys.
    pub store: BTreeMap<String, SubscriptionInfo>,
}

/// One `<clientID>.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(super) struct ClientFile {
    #[serde(rename = "clientID")]
    pub client_id: String,
    #[serde(rename = "subStore")]
    pub sub_store: SubStore,
    #[serde(rename = "EndpointUri")]
    pub endpoint_uri: String,
    pub status: i64,
    pub action: i64,
}

/// `json.MarshalIndent(v, "", " ")`: one space per level, no final newline.
pub(crate) fn to_go_indent<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // Our types are strings, maps and integers: serialising cannot fail.
    if v.serialize(&mut ser).is_err() {
        out.clear();
    }
    out
}

/// Which of `fields` (each with its accepted spellings) `key` names: an
/// exact match first, else an ASCII case-insensitive one (Go's rule).
fn field_index(key: &str, fields: &[&[&str]]) -> Option<usize> {
    fields
        .iter()
        .position(|names| names.contains(&key))
        .or_else(|| {
            fields
                .iter()
                .position(|names| names.iter().any(|n| n.eq_ignore_ascii_case(key)))
        })
}

/// A string value; `null` reads as empty (Go leaves the field unset).
fn opt_string<'de, A: MapAccess<'de>>(map: &mut A) -> Result<String, A::Error> {
    Ok(map.next_value::<Option<String>>()?.unwrap_or_default())
}

// The v1 lowercase keys (`resource`, `id`) are accepted too: sdk-go up to
// release-v1.22 read and wrote them.
const INFO_FIELDS: &[&[&str]] = &[
    &["ResourceAddress", "resource"],
    &["EndpointUri"],
    &["SubscriptionId", "id"],
    &["UriLocation"],
];

impl<'de> Deserialize<'de> for SubscriptionInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SubscriptionInfo;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a SubscriptionInfo object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = SubscriptionInfo::default();
                while let Some(key) = map.next_key::<String>()? {
                    match field_index(&key, INFO_FIELDS) {
                        Some(0) => out.resource_address = opt_string(&mut map)?,
                        Some(1) => out.endpoint_uri = opt_string(&mut map)?,
                        Some(2) => out.subscription_id = opt_string(&mut map)?,
                        Some(3) => out.uri_location = opt_string(&mut map)?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                if out.resource_address.is_empty() {
                    return Err(de::Error::custom(
                        "mandatory field ResourceAddress is not set",
                    ));
                }
                if !out.subscription_id.is_empty() && Uuid::try_parse(&out.subscription_id).is_err()
                {
                    return Err(de::Error::custom(format_args!(
                        "SubscriptionId {:?} is not a UUID",
                        out.subscription_id
                    )));
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for SubStore {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SubStore;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a subStore object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = SubStore::default();
                while let Some(key) = map.next_key::<String>()? {
                    if field_index(&key, &[&["store"]]).is_some() {
                        let subs: Option<StoreMap> = map.next_value()?;
                        out.store = subs.map(|s| s.0).unwrap_or_default();
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// The `store` map; a value without `SubscriptionId` takes its key's.
struct StoreMap(BTreeMap<String, SubscriptionInfo>);

impl<'de> Deserialize<'de> for StoreMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StoreMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of subscription id to SubscriptionInfo")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    let mut info: SubscriptionInfo = map.next_value()?;
                    if info.subscription_id.is_empty() {
                        if Uuid::try_parse(&key).is_err() {
                            return Err(de::Error::custom(format_args!(
                                "subscription key {key:?} is not a UUID and the value has no SubscriptionId"
                            )));
                        }
                        info.subscription_id.clone_from(&key);
                    }
                    out.insert(key, info);
                }
                Ok(StoreMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

const CLIENT_FIELDS: &[&[&str]] = &[
    &["clientID"],
    &["subStore"],
    &["EndpointUri"],
    &["status"],
    &["action"],
];

impl<'de> Deserialize<'de> for ClientFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ClientFile;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a subscriber client object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = ClientFile::default();
                while let Some(key) = map.next_key::<String>()? {
                    match field_index(&key, CLIENT_FIELDS) {
                        Some(0) => out.client_id = opt_string(&mut map)?,
                        Some(1) => {
                            out.sub_store =
                                map.next_value::<Option<SubStore>>()?.unwrap_or_default();
                        }
                        Some(2) => out.endpoint_uri = opt_string(&mut map)?,
                        Some(3) => out.status = map.next_value::<Option<i64>>()?.unwrap_or(0),
                        Some(4) => out.action = map.next_value::<Option<i64>>()?.unwrap_or(0),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                if out.endpoint_uri.is_empty() {
                    return Err(de::Error::custom("mandatory field EndpointUri is not set"));
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// `pub.json`: `null` (Go's nil slice) reads as empty.
///
/// # Errors
/// The serde_json error, with line and column.
pub(crate) fn parse_publishers(bytes: &[u8]) -> Result<Vec<SubscriptionInfo>, serde_json::Error> {
    Ok(serde_json::from_slice::<Option<Vec<SubscriptionInfo>>>(bytes)?.unwrap_or_default())
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
