//! Per-user limits counted in the console's store, so they hold across console replicas: a
//! per-minute rate (a token bucket per user and kind) and running slots (leases with a
//! heartbeat and an expiry, so a killed console's slots free themselves).
//!
//! The REPL takes one slot per user and replica; log follows and live views are meant to use
//! the same kinds of rows.

use crate::store::{Store, StoreError};
use std::time::Duration;

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The store's limiter. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Limiter {
    store: Store,
    /// How long a slot outlives its last heartbeat.
    lease: Duration,
    /// How often a holder renews its slot and looks for a cancel request.
    heartbeat: Duration,
    /// The cancels of this process's held slots, so a draining console can stop its work.
    held: std::sync::Arc<std::sync::Mutex<Vec<std::sync::Weak<CancelState>>>>,
}

impl Limiter {
    pub fn new(store: Store) -> Limiter {
        Limiter {
            store,
            lease: Duration::from_secs(15),
            heartbeat: Duration::from_secs(1),
            held: Default::default(),
        }
    }

    /// Shorter leases, for tests of expiry.
    pub fn with_lease(mut self, lease: Duration, heartbeat: Duration) -> Limiter {
        self.lease = lease;
        self.heartbeat = heartbeat;
        self
    }

    /// Takes one of `per_minute` tokens of `login`'s bucket for `kind`; false when spent.
    pub async fn take_token(
        &self,
        kind: &str,
        login: &str,
        per_minute: i64,
    ) -> Result<bool, StoreError> {
        let (now, cap) = (now_ms(), per_minute * 1000);
        sqlx::query("INSERT INTO limiter_buckets (kind, login, milli_tokens, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (kind, login) DO NOTHING")
            .bind(kind)
            .bind(login)
            .bind(cap)
            .bind(now)
            .execute(self.store.pool())
            .await?;
        // One statement: the refill, the check and the spend happen under the row's lock.
        let refilled = "CASE WHEN milli_tokens + ($3 - updated_at) * $4 / 60000 > $4 THEN $4 ELSE milli_tokens + ($3 - updated_at) * $4 / 60000 END";
        let spent = sqlx::query(&format!(
            "UPDATE limiter_buckets SET milli_tokens = {refilled} - 1000, updated_at = $3 WHERE kind = $1 AND login = $2 AND {refilled} >= 1000"
        ))
        .bind(kind)
        .bind(login)
        .bind(now)
        .bind(cap)
        .execute(self.store.pool())
        .await?;
        Ok(spent.rows_affected() == 1)
    }

    /// A running slot: `login` holds at most one per `kind` and `resource`. Renewed until the
    /// returned lease is released or dropped; a cancel request from any console trips its `cancel`.
    pub async fn acquire(
        &self,
        kind: &str,
        login: &str,
        resource: &str,
    ) -> Result<Option<Lease>, StoreError> {
        let holder = format!("{:032x}", rand::random::<u128>());
        let now = now_ms();
        let taken = sqlx::query(
            "INSERT INTO limiter_leases (kind, login, resource, holder, expires_at, cancel) VALUES ($1, $2, $3, $4, $5, 0)
             ON CONFLICT (kind, login, resource) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, cancel = 0
             WHERE limiter_leases.expires_at < $6",
        )
        .bind(kind)
        .bind(login)
        .bind(resource)
        .bind(&holder)
        .bind(now + self.lease.as_millis() as i64)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        if taken.rows_affected() != 1 {
            return Ok(None);
        }
        let key =
            LeaseKey { kind: kind.into(), login: login.into(), resource: resource.into(), holder };
        let cancel = Cancel::default();
        {
            let mut held = self.held.lock().expect("held slots");
            held.retain(|c| c.strong_count() > 0);
            held.push(std::sync::Arc::downgrade(&cancel.0));
        }
        let heartbeat = tokio::spawn(heartbeat(self.clone(), key.clone(), cancel.clone()));
        Ok(Some(Lease { limiter: self.clone(), key, cancel, heartbeat: Some(heartbeat) }))
    }

    /// Slots held now (across every replica), by kind.
    pub async fn in_use(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT kind, COUNT(*) FROM limiter_leases WHERE expires_at >= $1 GROUP BY kind ORDER BY kind",
        )
        .bind(now_ms())
        .fetch_all(self.store.pool())
        .await?)
    }

    /// The console is stopping: every slot this process holds is abandoned (its work stops and
    /// says why). Returns how many were.
    pub fn stop_all(&self) -> usize {
        let held: Vec<_> = self.held.lock().expect("held slots").drain(..).collect();
        let mut stopped = 0;
        for state in held.iter().filter_map(std::sync::Weak::upgrade) {
            let cancel = Cancel(state);
            cancel.0.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
            cancel.abandon();
            stopped += 1;
        }
        stopped
    }

    /// Asks whoever holds `login`'s slot to stop; false if none is held.
    pub async fn request_cancel(
        &self,
        kind: &str,
        login: &str,
        resource: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE limiter_leases SET cancel = 1 WHERE kind = $1 AND login = $2 AND resource = $3 AND expires_at >= $4")
            .bind(kind)
            .bind(login)
            .bind(resource)
            .bind(now_ms())
            .execute(self.store.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release(&self, key: &LeaseKey) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM limiter_leases WHERE kind = $1 AND login = $2 AND resource = $3 AND holder = $4")
            .bind(&key.kind)
            .bind(&key.login)
            .bind(&key.resource)
            .bind(&key.holder)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct LeaseKey {
    kind: String,
    login: String,
    resource: String,
    holder: String,
}

/// Renews the slot until it is released (a cancelled query holds it until the replica confirms
/// the stop); trips `cancel` when a cancel is requested or the slot was lost.
async fn heartbeat(limiter: Limiter, key: LeaseKey, cancel: Cancel) {
    loop {
        tokio::time::sleep(limiter.heartbeat).await;
        // One statement renews the slot and reads whether a cancel was asked for; no row: lost.
        let renewed: Result<Option<i64>, _> = sqlx::query_scalar(
            "UPDATE limiter_leases SET expires_at = $1 WHERE kind = $2 AND login = $3 AND resource = $4 AND holder = $5 RETURNING cancel",
        )
        .bind(now_ms() + limiter.lease.as_millis() as i64)
        .bind(&key.kind)
        .bind(&key.login)
        .bind(&key.resource)
        .bind(&key.holder)
        .fetch_optional(limiter.store.pool())
        .await;
        match renewed {
            Ok(Some(1)) => cancel.cancel(),
            Ok(Some(_)) => {}
            Ok(None) => {
                cancel.cancel();
                return;
            }
            // The store is briefly away: keep the slot until it expires on its own.
            Err(e) => tracing::warn!(error = %e, "limiter heartbeat failed"),
        }
    }
}

/// A held slot. Release it when the work has really ended; dropping it releases it too.
#[derive(Debug)]
pub struct Lease {
    limiter: Limiter,
    key: LeaseKey,
    /// Tripped by a cancel request (from any console replica) or a lost slot.
    pub cancel: Cancel,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
}

impl Lease {
    /// This acquisition's id: work done under the lease is tied to it (`audit::running`).
    pub fn holder(&self) -> &str {
        &self.key.holder
    }

    pub async fn release(mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
        if let Err(e) = self.limiter.release(&self.key).await {
            tracing::warn!(error = %e, "limiter release failed; the slot expires on its own");
        }
    }

    /// Stops renewing without releasing, as a killed console would (tests of expiry).
    pub fn abandon(mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
            let (limiter, key) = (self.limiter.clone(), self.key.clone());
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(e) = limiter.release(&key).await {
                        tracing::warn!(error = %e, "limiter release failed; the slot expires on its own");
                    }
                });
            }
        }
    }
}

/// Lets a user stop their own running query; also tripped when the client goes away.
#[derive(Clone, Default, Debug)]
pub struct Cancel(std::sync::Arc<CancelState>);

#[derive(Default, Debug)]
pub struct CancelState {
    cancelled: std::sync::atomic::AtomicBool,
    abandoned: std::sync::atomic::AtomicBool,
    /// Abandoned because this console is stopping, not because its client went away.
    stopping: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
    /// The replica's id of the session running the statement, once connected.
    backend: std::sync::Mutex<Option<String>>,
    backend_known: tokio::sync::Notify,
}

impl Cancel {
    pub fn cancel(&self) {
        self.0.cancelled.store(true, std::sync::atomic::Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }
    /// Cancels because nobody waits for the answer any more.
    pub fn abandon(&self) {
        self.0.abandoned.store(true, std::sync::atomic::Ordering::SeqCst);
        self.cancel();
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(std::sync::atomic::Ordering::SeqCst)
    }
    pub fn is_abandoned(&self) -> bool {
        self.0.abandoned.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// Abandoned by [`Limiter::stop_all`].
    pub fn is_stopping(&self) -> bool {
        self.0.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// The engine has said which of its sessions runs the statement.
    pub fn report_backend(&self, backend: String) {
        *self.0.backend.lock().expect("backend") = Some(backend);
        self.0.backend_known.notify_waiters();
    }
    /// Waits until the session running the statement is known.
    pub async fn backend(&self) -> String {
        loop {
            let known = self.0.backend_known.notified();
            if let Some(backend) = self.0.backend.lock().expect("backend").clone() {
                return backend;
            }
            known.await;
        }
    }
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}
