//! The county's settings that every replica follows alike: today the closed loop's time limits
//! per class and level. The server keeps them in memory for every commit (a dispute's row
//! stores its deadline under them, and the version it was derived under) and every sync (a
//! device holding another version gets the stored ones with its answer). The county
//! administrator changes them; the dispute rows derived under another version are then derived
//! again, at once here and, within [`REFRESH_EVERY`], by every server sharing the database,
//! which also sweeps up rows a commit racing the change derived under the version before.
//!
//! A version is the time of the change in milliseconds (or one more than the last, if the clock
//! is behind): a database restored from a backup never hands out again a version some device
//! holds with other limits.

use std::sync::{Arc, RwLock};

use sync_protocol::Code;
use sync_protocol::api::SettingsChanged;
use sync_protocol::model::{CountySettings, TimeLimits};

use super::{Caller, County};
use crate::error::{Error, Result};

/// How often a running server reads the stored settings again (and derives again the rows left
/// under another version), to follow a change made through another server sharing the database.
pub const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The settings in force on this server, and the lock a change or a refresh holds (so a refresh
/// that read the version before cannot put it back over a change made meanwhile).
#[derive(Default)]
pub struct Current {
    settings: RwLock<Arc<CountySettings>>,
    changing: tokio::sync::Mutex<()>,
    /// Documents whose dispute rows could not be derived again: left to the next start rather
    /// than tried (and logged) at every sweep.
    unreadable: std::sync::Mutex<std::collections::HashSet<sync_protocol::doc::DocKey>>,
}

impl Current {
    pub fn get(&self) -> Arc<CountySettings> {
        self.settings.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, settings: CountySettings) {
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(settings);
    }

    pub(crate) fn is_unreadable(&self, key: &sync_protocol::doc::DocKey) -> bool {
        self.unreadable.lock().unwrap_or_else(|p| p.into_inner()).contains(key)
    }

    pub(crate) fn note_unreadable(&self, key: sync_protocol::doc::DocKey) {
        self.unreadable.lock().unwrap_or_else(|p| p.into_inner()).insert(key);
    }
}

impl County {
    /// The settings in force.
    pub fn settings(&self) -> Arc<CountySettings> {
        self.settings.get()
    }

    /// Reads the stored settings, takes them if they moved on, and derives again every dispute
    /// row left under another version (or an older rule). Called at start and every
    /// [`REFRESH_EVERY`]; returns how many disputes were derived again.
    pub async fn refresh_settings(&self) -> Result<usize> {
        let _one_at_a_time = self.settings.changing.lock().await;
        let stored = self.storage().settings().await?;
        if stored != *self.settings() {
            tracing::info!(version = stored.version, "county settings changed");
            self.settings.set(stored);
        }
        self.upgrade_rows().await
    }

    /// The settings a device holding version `held` is to be given: none when it holds the
    /// current ones; else the stored ones, read again (this server may not have followed a
    /// change made through another yet, and must not hand out the version before).
    pub(crate) async fn settings_for_device(&self, held: u64) -> Result<Option<CountySettings>> {
        if held == self.settings().version {
            return Ok(None);
        }
        let stored = self.storage().settings().await?;
        Ok((stored.version != held).then_some(stored))
    }

    /// Sets the county's time limits (the county administrator): the table given is the whole
    /// of the county's, every class and level it leaves out following the defaults. Every
    /// dispute is derived again under it before this returns, so the lists answer by it at
    /// once; devices get it at their next sync.
    pub async fn set_time_limits(&self, caller: &Caller, limits: &TimeLimits) -> Result<SettingsChanged> {
        caller.require_admin()?;
        tracing::info!(account = %caller.account.id, "time limits set by the county administrator");
        self.put_time_limits(limits).await
    }

    /// [`County::set_time_limits`] for the server's operator (the command line), who holds the
    /// database and needs no account.
    pub async fn put_time_limits(&self, limits: &TimeLimits) -> Result<SettingsChanged> {
        if let Some(problem) = limits.problem() {
            return Err(Error::bad(Code::BadSetting, problem));
        }
        let time_limits = limits.over_defaults();
        let changed = {
            let _one_at_a_time = self.settings.changing.lock().await;
            let mut changed = None;
            for _ in 0..super::sync::COMMIT_RETRIES {
                let stored = self.storage().settings().await?;
                let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
                let next = CountySettings { version: now.max(stored.version + 1), time_limits: time_limits.clone() };
                if self.storage().put_settings(&next, stored.version).await? {
                    tracing::info!(version = next.version, "time limits set");
                    self.settings.set(next.clone());
                    changed = Some(next);
                    break;
                }
            }
            changed.ok_or(Error::Busy)?
        };
        let disputes = self.upgrade_rows().await?;
        Ok(SettingsChanged { settings: changed, disputes: disputes as u32 })
    }
}
