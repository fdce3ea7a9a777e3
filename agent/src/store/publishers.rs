//! Publishers: one per event kind of this node, created at start and
//! kept in `pub.json` (a JSON array, one-space indent) so their ids survive
//! restarts. The anchor's plugin re-POSTs its publishers on every start and
//! gets the existing ids back; we do the same without the HTTP round trip.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use prometheus::IntGauge;
use tracing::info;
use uuid::Uuid;

use super::format::{SubscriptionInfo, parse_publishers, to_go_indent};
use super::{StoreError, atomic, load};
use crate::event::EventKind;

const FILE: &str = "pub.json";

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Publisher {
    pub id: Uuid,
    pub resource: String,
    pub endpoint: String,
    pub uri_location: String,
}

impl Publisher {
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

/// The publisher registry.
pub(crate) struct Publishers {
    dir: Option<PathBuf>,
    /// `<public base>/api/ocloudNotifications/v2`.
    api_base: String,
    list: Mutex<Vec<Publisher>>,
    active: Option<IntGauge>,
}

impl Publishers {
    /// Loads `pub.json` (moved aside if it does not parse) and adds the
    /// publishers of this node's event kinds that are missing. Blocking.
    ///
    /// # Errors
    /// `pub.json` cannot be written.
    pub(crate) fn open(dir: Option<&Path>, node: &str, api_base: &str) -> Result<Self, StoreError> {
        let list = dir.map(load_file).unwrap_or_default();
        let p = Self {
            dir: dir.map(Path::to_path_buf),
            api_base: api_base.to_owned(),
            list: Mutex::new(list),
            active: None,
        };
        let endpoint = format!("{api_base}/dummy");
        {
            // One write for all the missing ones, not one per publisher.
            let mut list = p.list.lock();
            let mut next = list.clone();
            for kind in EventKind::ALL {
                let resource = kind.address(node);
                if !next.iter().any(|x| x.resource == resource) {
                    next.push(p.new_publisher(resource, endpoint.clone()));
                }
            }
            if next.len() != list.len() {
                p.replace(&mut list, next)?;
            }
        }
        info!(publishers = p.list.lock().len(), "publishers ready");
        Ok(p)
    }

    /// Keeps `gauge` equal to the number of publishers from now on.
    #[must_use]
    pub(crate) fn with_active_gauge(mut self, gauge: IntGauge) -> Self {
        set(&gauge, self.list.lock().len());
        self.active = Some(gauge);
        self
    }

    #[must_use]
    pub(crate) fn list(&self) -> Vec<Publisher> {
        self.list.lock().clone()
    }

    #[must_use]
    pub(crate) fn get(&self, id: Uuid) -> Option<Publisher> {
        self.list.lock().iter().find(|p| p.id == id).cloned()
    }

    /// The publisher of `resource`: the existing one (`false`), else a new
    /// one, on disk before it is returned (`true`). Blocking.
    ///
    /// # Errors
    /// `pub.json` cannot be written (then nothing changed).
    pub(crate) fn create(
        &self,
        resource: &str,
        endpoint: &str,
    ) -> Result<(Publisher, bool), StoreError> {
        let mut list = self.list.lock();
        if let Some(p) = list.iter().find(|p| p.resource == resource) {
            return Ok((p.clone(), false));
        }
        let p = self.new_publisher(resource.to_owned(), endpoint.to_owned());
        let mut next = list.clone();
        next.push(p.clone());
        self.replace(&mut list, next)?;
        Ok((p, true))
    }

    fn new_publisher(&self, resource: String, endpoint: String) -> Publisher {
        let id = Uuid::new_v4();
        Publisher {
            id,
            resource,
            endpoint,
            uri_location: format!("{}/publishers/{id}", self.api_base),
        }
    }

    /// Removes one publisher. Blocking.
    ///
    /// # Errors
    /// `pub.json` cannot be written (then nothing changed).
    pub(crate) fn delete(&self, id: Uuid) -> Result<Option<Publisher>, StoreError> {
        let mut list = self.list.lock();
        let Some(p) = list.iter().find(|p| p.id == id).cloned() else {
            return Ok(None);
        };
        let next = list.iter().filter(|p| p.id != id).cloned().collect();
        self.replace(&mut list, next)?;
        Ok(Some(p))
    }

    /// Removes every publisher. Blocking.
    ///
    /// # Errors
    /// `pub.json` cannot be written (then nothing changed).
    pub(crate) fn delete_all(&self) -> Result<usize, StoreError> {
        let mut list = self.list.lock();
        let n = list.len();
        self.replace(&mut list, Vec::new())?;
        Ok(n)
    }

    fn replace(&self, list: &mut Vec<Publisher>, next: Vec<Publisher>) -> Result<(), StoreError> {
        if let Some(dir) = &self.dir {
            let infos: Vec<SubscriptionInfo> = next.iter().map(Publisher::to_info).collect();
            atomic::write(dir, FILE, &to_go_indent(&infos)).map_err(|source| {
                StoreError::Write {
                    path: dir.join(FILE),
                    source,
                }
            })?;
        }
        *list = next;
        if let Some(g) = &self.active {
            set(g, list.len());
        }
        Ok(())
    }
}

fn set(g: &IntGauge, n: usize) {
    g.set(i64::try_from(n).unwrap_or(i64::MAX));
}

fn load_file(dir: &Path) -> Vec<Publisher> {
    let path = dir.join(FILE);
    let Ok(bytes) = std::fs::read(&path) else {
        return Vec::new();
    };
    // The anchor may leave an empty file.
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Vec::new();
    }
    match parse_publishers(&bytes) {
        Ok(infos) => infos
            .into_iter()
            .filter_map(|i| {
                Some(Publisher {
                    id: Uuid::try_parse(&i.subscription_id).ok()?,
                    resource: i.resource_address,
                    endpoint: i.endpoint_uri,
                    uri_location: i.uri_location,
                })
            })
            .collect(),
        Err(e) => {
            load::set_aside(&path, &e);
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://localhost:9043/api/ocloudNotifications/v2";

    #[test]
    fn seven_publishers_with_ids_that_survive_a_restart() {
        let d = tempfile::tempdir().unwrap();
        let p = Publishers::open(Some(d.path()), "n1", BASE).unwrap();
        let first = p.list();
        assert_eq!(first.len(), 7);
        assert_eq!(
            first[0].resource,
            "/cluster/node/n1/sync/sync-status/sync-state"
        );
        assert_eq!(first[0].endpoint, format!("{BASE}/dummy"));
        assert_eq!(
            first[0].uri_location,
            format!("{BASE}/publishers/{}", first[0].id)
        );
        let again = Publishers::open(Some(d.path()), "n1", BASE).unwrap();
        assert_eq!(again.list(), first);
    }

    #[test]
    fn create_returns_existing_delete_persists() {
        let d = tempfile::tempdir().unwrap();
        let p = Publishers::open(Some(d.path()), "n1", BASE).unwrap();
        let (lock, created) = p
            .create("/cluster/node/n1/sync/ptp-status/lock-state", "http://x")
            .unwrap();
        assert!(!created);
        let (other, created) = p.create("/cluster/node/n1/mock", "").unwrap();
        assert!(created);
        assert_eq!(p.delete(lock.id).unwrap(), Some(lock.clone()));
        assert_eq!(p.delete(lock.id).unwrap(), None);
        let file = std::fs::read_to_string(d.path().join(FILE)).unwrap();
        assert!(file.starts_with("[\n {\n  \"ResourceAddress\": "), "{file}");
        assert!(!file.contains(&lock.id.to_string()));
        assert!(file.contains(&other.id.to_string()));
        assert_eq!(p.delete_all().unwrap(), 7);
        assert_eq!(std::fs::read_to_string(d.path().join(FILE)).unwrap(), "[]");
    }

    #[test]
    fn corrupt_pub_json_is_moved_aside() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(FILE), "[{").unwrap();
        let p = Publishers::open(Some(d.path()), "n1", BASE).unwrap();
        assert_eq!(p.list().len(), 7);
        assert!(d.path().join("pub.json.corrupt").exists());
    }
}
