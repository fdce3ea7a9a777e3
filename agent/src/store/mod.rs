//! Subscriptions, in memory and on disk: one `<clientID>.json` per consumer
//! endpoint in the anchor's format (§4.1), written atomically.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use uuid::Uuid;

/// Which API created a subscription, so its consumer gets that API's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ApiVersion {
    V1,
    #[default]
    V2,
}

/// One subscription (the anchor's `SubscriptionInfo`, §1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub id: Uuid,
    /// `ResourceAddress`: an event address or a prefix of the resource tree.
    pub resource: String,
    /// `EndpointUri`: where events are POSTed.
    pub endpoint: String,
    /// `UriLocation`: where this subscription can be read back.
    pub uri_location: String,
    pub version: ApiVersion,
}

/// The anchor's client id: UUIDv3 of the URL namespace and the endpoint.
#[must_use]
pub fn client_id(endpoint: &str) -> Uuid {
    Uuid::new_v3(&Uuid::NAMESPACE_URL, endpoint.as_bytes())
}

/// What delivery needs from the subscription store. Implemented by
/// [`Store`]; kept as a trait so delivery can be tested on its own.
pub trait Subscriptions: Send + Sync + 'static {
    /// Bumped on every change; delivery rebuilds its routes when it moves.
    fn generation(&self) -> u64;
    /// All subscriptions, in no particular order.
    fn snapshot(&self) -> Vec<Subscription>;
    /// Removes a dead consumer (every subscription to `endpoint`); returns
    /// how many were removed.
    fn remove_endpoint(&self, endpoint: &str) -> usize;
}

/// Interim in-memory store; replaced by the file-backed store.
#[derive(Default)]
pub struct Store {
    subs: RwLock<Vec<Subscription>>,
    generation: AtomicU64,
}

impl Store {
    #[must_use]
    pub fn in_memory() -> Self {
        Self::default()
    }

    pub fn insert(&self, sub: Subscription) {
        self.subs.write().push(sub);
        self.generation.fetch_add(1, Ordering::Release);
    }
}

impl Subscriptions for Store {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn snapshot(&self) -> Vec<Subscription> {
        self.subs.read().clone()
    }

    fn remove_endpoint(&self, endpoint: &str) -> usize {
        let mut subs = self.subs.write();
        let before = subs.len();
        subs.retain(|s| s.endpoint != endpoint);
        self.generation.fetch_add(1, Ordering::Release);
        before - subs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_is_the_anchors() {
        // §4.1 example: clientID of http://event-consumer-external3:27017.
        assert_eq!(
            client_id("http://event-consumer-external3:27017").to_string(),
            "03dc46b6-2493-37fa-82e2-7545714a17d6"
        );
    }
}
