//! Keeping subscriptions alive: checks the publisher's health and its list,
//! makes again what it lost (a restart with an empty store, a `DELETE
//! subscriptions`), deletes ours it should no longer have. A publisher that
//! is down is retried with a growing, jittered delay, never in a busy loop.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::resource::ResourceAddress;
use crate::rest::{Client, Error, Subscription};

/// What one check did.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Made now.
    pub created: Vec<Subscription>,
    /// Already there (listed, or named by a 409).
    pub existing: Vec<Subscription>,
    /// Of those, the ones a 409 named (someone else made them meanwhile).
    pub conflicts: usize,
    /// Ours but no longer wanted, deleted.
    pub deleted: Vec<Subscription>,
    /// Resources that could not be subscribed, with why.
    pub failed: Vec<(ResourceAddress, Error)>,
}

/// Keeps the subscriptions of one endpoint at one publisher in line with a
/// wanted set of resources.
///
/// ```no_run
/// # async fn f() -> Result<(), cloud_event_client::Error> {
/// use std::collections::BTreeSet;
/// use std::time::Duration;
/// use cloud_event_client::{Client, Keeper, ResourceAddress};
/// let keeper = Keeper::new(Client::new("http://publisher:9043")?, "http://my-cnf:9089/event");
/// let wanted = BTreeSet::from([ResourceAddress::sync("n1")]);
/// let (_tx, rx) = tokio::sync::watch::channel(wanted);
/// tokio::spawn(keeper.run(rx, Duration::from_secs(30), |_| {}));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Keeper {
    client: Client,
    endpoint: String,
    prune: bool,
}

impl Keeper {
    /// Keeps `endpoint`'s subscriptions at `client`'s publisher.
    #[must_use]
    pub fn new(client: Client, endpoint: impl Into<String>) -> Self {
        Self {
            client,
            endpoint: endpoint.into(),
            prune: true,
        }
    }

    /// Whether subscriptions of our endpoint that are not wanted are
    /// deleted (default: yes).
    #[must_use]
    pub fn prune(mut self, prune: bool) -> Self {
        self.prune = prune;
        self
    }

    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// One check: health, list, subscribe what is missing, delete what is
    /// not wanted.
    ///
    /// # Errors
    /// The publisher is unhealthy or its list cannot be read (nothing was
    /// changed then).
    pub async fn sync(&self, wanted: &BTreeSet<ResourceAddress>) -> Result<SyncReport, Error> {
        self.client.health().await?;
        let ours: BTreeMap<ResourceAddress, Subscription> = self
            .client
            .subscriptions()
            .await?
            .into_iter()
            .filter(|s| s.endpoint == self.endpoint)
            .map(|s| (s.resource.clone(), s))
            .collect();
        let mut report = SyncReport::default();
        for r in wanted {
            if let Some(s) = ours.get(r) {
                report.existing.push(s.clone());
                continue;
            }
            match self.client.create_subscription(r, &self.endpoint).await {
                Ok(c) if c.existing => {
                    report.conflicts += 1;
                    report.existing.push(c.subscription);
                }
                Ok(c) => {
                    info!(publisher = %self.client.base(), resource = %r, id = %c.subscription.id, "subscribed");
                    report.created.push(c.subscription);
                }
                Err(e) => {
                    warn!(publisher = %self.client.base(), resource = %r, error = %e, "subscription failed");
                    report.failed.push((r.clone(), e));
                }
            }
        }
        if self.prune {
            for (r, s) in ours.iter().filter(|(r, _)| !wanted.contains(*r)) {
                match self.client.delete_subscription(&s.id).await {
                    Ok(_) => {
                        info!(publisher = %self.client.base(), resource = %r, "subscription no longer wanted; deleted");
                        report.deleted.push(s.clone());
                    }
                    Err(e) => {
                        warn!(publisher = %self.client.base(), resource = %r, error = %e, "cannot delete a subscription");
                    }
                }
            }
        }
        Ok(report)
    }

    /// Checks every `every`, at once when `wanted` changes, and after a
    /// failure again after [`backoff`] (capped at `every`); `on_check` sees
    /// each outcome. Ends when the `wanted` sender is dropped.
    pub async fn run<F>(
        self,
        mut wanted: watch::Receiver<BTreeSet<ResourceAddress>>,
        every: Duration,
        mut on_check: F,
    ) where
        F: FnMut(&Result<SyncReport, Error>) + Send,
    {
        let mut failures = 0u32;
        loop {
            let set = wanted.borrow_and_update().clone();
            let res = self.sync(&set).await;
            let pause = match &res {
                Ok(r) if r.failed.is_empty() => {
                    failures = 0;
                    every
                }
                Ok(_) => {
                    failures = failures.saturating_add(1);
                    backoff(failures).min(every)
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    if failures == 1 {
                        warn!(publisher = %self.client.base(), error = %e, "publisher not reachable; retrying");
                    }
                    backoff(failures).min(every)
                }
            };
            on_check(&res);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                changed = wanted.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// Retry delay after `failures` consecutive failures: 100 ms doubling to
/// 5 s, with ±25% jitter so many clients do not return at once.
#[must_use]
pub fn backoff(failures: u32) -> Duration {
    let base = Duration::from_millis(100).saturating_mul(1 << failures.saturating_sub(1).min(6));
    base.min(Duration::from_secs(5))
        .mul_f64(0.75 + fastrand::f64() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(
            backoff(1) >= Duration::from_millis(75) && backoff(1) <= Duration::from_millis(125)
        );
        assert!(backoff(4) >= Duration::from_millis(600));
        assert!(backoff(100) <= Duration::from_millis(6250));
        assert!(backoff(100) >= Duration::from_millis(3750));
    }
}
