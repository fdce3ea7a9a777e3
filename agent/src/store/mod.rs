//! Subscriptions, in memory and on disk: one `<clientID>.json` per consumer
//! endpoint in the anchor's format, written atomically, plus the
//! publishers' `pub.json`. See [`Store`] for the durability rules.

mod atomic;
mod format;
mod load;
mod publishers;
mod subs;

use std::io;
use std::path::PathBuf;

use uuid::Uuid;

pub(crate) use format::{SubscriptionInfo, to_go_indent};
pub(crate) use publishers::{Publisher, Publishers};
pub(crate) use subs::Store;

/// Which API created a subscription, so its consumer gets that API's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub(crate) enum ApiVersion {
    V1,
    #[default]
    V2,
    /// A consumer sidecar of the anchor's v1 era (OCP 4.12-4.18) registered
    /// through the HTTP transport (`POST /subscription`): the endpoint is
    /// the sidecar's base URL, events go to its `/event`.
    Transport,
}

impl ApiVersion {
    /// The version a stored subscription was made through: the client
    /// files keep the anchor's format, and a v1 `UriLocation` says v1.
    #[must_use]
    pub(crate) fn of_uri_location(uri: &str) -> Self {
        if uri.contains("/ocloudNotifications/v1/") || uri.contains("/cloudNotifications/v1/") {
            Self::V1
        } else if !uri.contains("/ocloudNotifications/") && uri.ends_with("/CurrentState") {
            // A transport subscription's location is where its client pulls
            // the state: `<publisher>/<resource>/<clientID>/CurrentState`.
            Self::Transport
        } else {
            Self::V2
        }
    }
}

/// One subscription (the anchor's `SubscriptionInfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Subscription {
    pub id: Uuid,
    /// `ResourceAddress`: an event address or a prefix of the resource tree.
    pub resource: String,
    /// `EndpointUri`: where events are POSTed.
    pub endpoint: String,
    /// `UriLocation`: where this subscription can be read back.
    pub uri_location: String,
    pub version: ApiVersion,
}

impl Subscription {
    /// The wire object.
    #[must_use]
    pub(crate) fn to_info(&self) -> SubscriptionInfo {
        SubscriptionInfo {
            resource_address: self.resource.clone(),
            endpoint_uri: self.endpoint.clone(),
            subscription_id: self.id.to_string(),
            uri_location: self.uri_location.clone(),
        }
    }
}

/// The anchor's client id: UUIDv3 of the URL namespace and the endpoint.
#[must_use]
pub(crate) fn client_id(endpoint: &str) -> Uuid {
    Uuid::new_v3(&Uuid::NAMESPACE_URL, endpoint.as_bytes())
}

/// What delivery needs from the subscription store. Implemented by
/// [`Store`]; kept as a trait so delivery can be tested on its own.
pub(crate) trait Subscriptions: Send + Sync + 'static {
    /// Bumped on every change; delivery rebuilds its routes when it moves.
    fn generation(&self) -> u64;
    /// All subscriptions, in no particular order.
    fn snapshot(&self) -> Vec<Subscription>;
    /// Removes a dead consumer (every subscription to `endpoint`); returns
    /// how many were removed.
    fn remove_endpoint(&self, endpoint: &str) -> usize;
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("cannot use the store directory {}: {source}", path.display())]
    Dir { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot remove {}: {source}", path.display())]
    Remove { path: PathBuf, source: io::Error },
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CreateError {
    /// Same `ResourceAddress` and `EndpointUri` as an existing subscription.
    #[error("subscription {} already exists for this resource and endpoint", .0.id)]
    Duplicate(Box<Subscription>),
    #[error(transparent)]
    Store(#[from] StoreError),
}
