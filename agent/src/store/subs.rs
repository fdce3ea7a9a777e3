//! The store proper: the in-memory set and its client files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use prometheus::IntGauge;
use tracing::{info, warn};
use uuid::Uuid;

use super::format::{self, SubscriptionInfo, to_go_indent};
use super::{
    ApiVersion, CreateError, StoreError, Subscription, Subscriptions, atomic, client_id, load,
};

const STRIPES: usize = 32;

/// The subscription store.
///
/// Every change is made durable before it becomes visible: the new client
/// file is written (temp, fsync, rename, directory fsync) and only then the
/// in-memory set changes, so a 201 always means "on disk" and a failed write
/// changes nothing. Changes to one client file are serialised by a striped
/// lock; different clients write in parallel. File I/O blocks: call the
/// mutating methods from a blocking thread (`spawn_blocking`).
pub(crate) struct Store {
    /// `None`: in memory only (tests).
    dir: Option<PathBuf>,
    inner: RwLock<Inner>,
    /// Serialises changes per client file (index: first byte of client id).
    stripes: Box<[Mutex<()>]>,
    generation: AtomicU64,
    /// `cne_api_subscriptions{status="active"}`, kept equal to the count.
    active: Option<IntGauge>,
}

#[derive(Default)]
struct Inner {
    /// By creation (or load) order, for stable listings.
    subs: BTreeMap<u64, Subscription>,
    by_id: HashMap<Uuid, u64>,
    next_seq: u64,
}

impl Inner {
    fn get(&self, id: Uuid) -> Option<&Subscription> {
        self.by_id.get(&id).and_then(|s| self.subs.get(s))
    }

    fn of_endpoint<'a>(&'a self, endpoint: &'a str) -> impl Iterator<Item = &'a Subscription> {
        self.subs.values().filter(move |s| s.endpoint == endpoint)
    }

    /// False when the id is already taken.
    fn insert(&mut self, sub: Subscription) -> bool {
        if self.by_id.contains_key(&sub.id) {
            return false;
        }
        self.by_id.insert(sub.id, self.next_seq);
        self.subs.insert(self.next_seq, sub);
        self.next_seq += 1;
        true
    }

    fn remove(&mut self, id: Uuid) -> Option<Subscription> {
        self.by_id.remove(&id).and_then(|s| self.subs.remove(&s))
    }
}

/// The content of a client file: `None` when the client has no
/// subscriptions left (its file is removed).
fn client_bytes<'a>(
    endpoint: &str,
    subs: impl Iterator<Item = &'a Subscription>,
) -> Option<Vec<u8>> {
    let store: BTreeMap<String, SubscriptionInfo> =
        subs.map(|s| (s.id.to_string(), s.to_info())).collect();
    if store.is_empty() {
        return None;
    }
    Some(to_go_indent(&format::ClientFile {
        client_id: client_id(endpoint).to_string(),
        sub_store: format::SubStore { store },
        endpoint_uri: endpoint.to_owned(),
        status: format::STATUS_ACTIVE,
        action: format::ACTION_NEW,
    }))
}

fn file_name(endpoint: &str) -> String {
    format!("{}.json", client_id(endpoint))
}

/// Runs blocking file work from wherever the caller is: on a tokio worker
/// it tells the runtime first (`block_in_place`), so other tasks move away.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl Store {
    fn empty(dir: Option<PathBuf>) -> Self {
        Self {
            dir,
            inner: RwLock::new(Inner::default()),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            generation: AtomicU64::new(0),
            active: None,
        }
    }

    #[cfg(test)]
    /// A store that writes no files.
    #[must_use]
    pub(crate) fn in_memory() -> Self {
        Self::empty(None)
    }

    /// Opens (creates) the store directory and loads every client file;
    /// files that do not parse are moved aside. Blocking.
    ///
    /// # Errors
    /// The directory cannot be created or listed, or a migrated file cannot
    /// be written.
    pub(crate) fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        let dir_err = |source| StoreError::Dir {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(dir_err)?;
        let loaded = load::client_files(&dir).map_err(dir_err)?;
        let store = Self::empty(Some(dir.clone()));
        let (mut rewrite, mut stale, mut canonical) =
            (BTreeSet::new(), Vec::new(), BTreeSet::new());
        {
            let mut inner = store.inner.write();
            for l in loaded {
                let ep = l.file.endpoint_uri;
                let name = file_name(&ep);
                if l.path.file_name().and_then(|n| n.to_str()) != Some(name.as_str()) {
                    // Written under another name: rewrite as <clientID>.json.
                    rewrite.insert(ep.clone());
                    stale.push(l.path.clone());
                }
                canonical.insert(dir.join(name));
                for info in l.file.sub_store.store.into_values() {
                    // The parser checked the id; a bad one cannot get here.
                    let Ok(id) = Uuid::try_parse(&info.subscription_id) else {
                        continue;
                    };
                    let sub = Subscription {
                        id,
                        resource: info.resource_address,
                        endpoint: ep.clone(),
                        version: ApiVersion::of_uri_location(&info.uri_location),
                        uri_location: info.uri_location,
                    };
                    if !inner.insert(sub) {
                        warn!(file = %l.path.display(), %id, "subscription id already loaded from another file; skipped");
                        rewrite.insert(ep.clone());
                    }
                }
            }
            store.changed(&inner);
        }
        for ep in &rewrite {
            store.rewrite_client(ep)?;
        }
        for p in stale.iter().filter(|p| !canonical.contains(*p)) {
            if let Err(source) = std::fs::remove_file(p).and_then(|()| atomic::sync_dir(&dir)) {
                return Err(StoreError::Remove {
                    path: p.clone(),
                    source,
                });
            }
        }
        info!(dir = %dir.display(), subscriptions = store.len(), "subscription store loaded");
        Ok(store)
    }

    /// Keeps `gauge` equal to the number of subscriptions from now on.
    #[must_use]
    pub(crate) fn with_active_gauge(mut self, gauge: IntGauge) -> Self {
        gauge.set(i64::try_from(self.len()).unwrap_or(i64::MAX));
        self.active = Some(gauge);
        self
    }

    #[must_use]
    pub(crate) fn len(&self) -> usize {
        self.inner.read().subs.len()
    }

    #[cfg(test)]
    #[must_use]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All subscriptions, oldest first.
    #[must_use]
    pub(crate) fn list(&self) -> Vec<Subscription> {
        self.inner.read().subs.values().cloned().collect()
    }

    #[must_use]
    pub(crate) fn get(&self, id: Uuid) -> Option<Subscription> {
        self.inner.read().get(id).cloned()
    }

    /// The subscription of `endpoint` to exactly `resource` made through
    /// API `version`, if any (v1 and v2 are separate views: one endpoint may
    /// hold one of each).
    #[must_use]
    pub(crate) fn find(
        &self,
        resource: &str,
        endpoint: &str,
        version: ApiVersion,
    ) -> Option<Subscription> {
        let inner = self.inner.read();
        inner
            .of_endpoint(endpoint)
            .find(|s| s.resource == resource && s.version == version)
            .cloned()
    }

    /// Adds `sub` once its client file is on disk. Blocking.
    ///
    /// # Errors
    /// [`CreateError::Duplicate`] (same resource, endpoint and API version,
    /// or id taken),
    /// or the file could not be written (then nothing changed).
    pub(crate) fn create(&self, sub: Subscription) -> Result<(), CreateError> {
        let _client = self.stripe(&sub.endpoint).lock();
        let bytes = {
            let inner = self.inner.read();
            let dup = inner
                .of_endpoint(&sub.endpoint)
                .find(|s| s.resource == sub.resource && s.version == sub.version)
                .or_else(|| inner.get(sub.id));
            if let Some(existing) = dup {
                return Err(CreateError::Duplicate(Box::new(existing.clone())));
            }
            client_bytes(
                &sub.endpoint,
                inner.of_endpoint(&sub.endpoint).chain([&sub]),
            )
        };
        self.persist(&sub.endpoint, bytes.as_deref())?;
        let mut inner = self.inner.write();
        inner.insert(sub);
        self.changed(&inner);
        Ok(())
    }

    /// Removes one subscription; `Ok(None)` when there is none with `id`.
    /// Blocking.
    ///
    /// # Errors
    /// The client file could not be rewritten (then nothing changed).
    pub(crate) fn delete(&self, id: Uuid) -> Result<Option<Subscription>, StoreError> {
        let Some(endpoint) = self.inner.read().get(id).map(|s| s.endpoint.clone()) else {
            return Ok(None);
        };
        let _client = self.stripe(&endpoint).lock();
        let bytes = {
            let inner = self.inner.read();
            if inner.get(id).is_none() {
                return Ok(None); // deleted meanwhile
            }
            client_bytes(
                &endpoint,
                inner.of_endpoint(&endpoint).filter(|s| s.id != id),
            )
        };
        self.persist(&endpoint, bytes.as_deref())?;
        let mut inner = self.inner.write();
        let removed = inner.remove(id);
        self.changed(&inner);
        Ok(removed)
    }

    /// Removes every subscription of `endpoint` and its file. Blocking.
    ///
    /// # Errors
    /// The file could not be removed (then nothing changed).
    pub(crate) fn delete_endpoint(&self, endpoint: &str) -> Result<usize, StoreError> {
        let _client = self.stripe(endpoint).lock();
        if self.inner.read().of_endpoint(endpoint).next().is_none() {
            return Ok(0);
        }
        self.persist(endpoint, None)?;
        let mut inner = self.inner.write();
        let ids: Vec<Uuid> = inner.of_endpoint(endpoint).map(|s| s.id).collect();
        for id in &ids {
            inner.remove(*id);
        }
        self.changed(&inner);
        Ok(ids.len())
    }

    /// Removes every subscription made through API `version`. Blocking.
    ///
    /// # Errors
    /// A client file could not be written; subscriptions handled before it
    /// are gone.
    pub(crate) fn delete_version(&self, version: ApiVersion) -> Result<usize, StoreError> {
        let ids: Vec<Uuid> = self
            .inner
            .read()
            .subs
            .values()
            .filter(|s| s.version == version)
            .map(|s| s.id)
            .collect();
        let mut n = 0;
        for id in ids {
            n += usize::from(self.delete(id)?.is_some());
        }
        Ok(n)
    }

    #[cfg(test)]
    /// Removes every subscription, client by client. Blocking.
    ///
    /// # Errors
    /// A file could not be removed; clients handled before it are gone.
    pub(crate) fn delete_all(&self) -> Result<usize, StoreError> {
        let endpoints: BTreeSet<String> = self
            .inner
            .read()
            .subs
            .values()
            .map(|s| s.endpoint.clone())
            .collect();
        let mut n = 0;
        for ep in endpoints {
            n += self.delete_endpoint(&ep)?;
        }
        Ok(n)
    }

    fn stripe(&self, endpoint: &str) -> &Mutex<()> {
        let i = usize::from(client_id(endpoint).as_bytes()[0]) % self.stripes.len();
        &self.stripes[i]
    }

    /// Writes (or removes, for `None`) the client file of `endpoint`.
    fn persist(&self, endpoint: &str, bytes: Option<&[u8]>) -> Result<(), StoreError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let name = file_name(endpoint);
        let res = match bytes {
            Some(b) => atomic::write(dir, &name, b).map_err(|source| StoreError::Write {
                path: dir.join(&name),
                source,
            }),
            None => atomic::remove(dir, &name)
                .map(drop)
                .map_err(|source| StoreError::Remove {
                    path: dir.join(&name),
                    source,
                }),
        };
        if let Err(e) = &res {
            warn!(error = %e, "subscription store write failed");
        }
        res
    }

    /// Rewrites the client file of `endpoint` from memory (load-time
    /// migration).
    fn rewrite_client(&self, endpoint: &str) -> Result<(), StoreError> {
        let _client = self.stripe(endpoint).lock();
        let bytes = client_bytes(endpoint, self.inner.read().of_endpoint(endpoint));
        self.persist(endpoint, bytes.as_deref())
    }

    fn changed(&self, inner: &Inner) {
        self.generation.fetch_add(1, Ordering::Release);
        if let Some(g) = &self.active {
            g.set(i64::try_from(inner.subs.len()).unwrap_or(i64::MAX));
        }
    }
}

impl Subscriptions for Store {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn snapshot(&self) -> Vec<Subscription> {
        self.list()
    }

    fn remove_endpoint(&self, endpoint: &str) -> usize {
        match blocking(|| self.delete_endpoint(endpoint)) {
            Ok(n) => {
                info!(
                    endpoint,
                    subscriptions = n,
                    "removed a consumer that stopped answering"
                );
                n
            }
            Err(e) => {
                warn!(endpoint, error = %e, "cannot remove a dead consumer's subscriptions");
                0
            }
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
