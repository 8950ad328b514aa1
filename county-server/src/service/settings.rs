//! The county's settings that every replica follows alike: today the closed loop's time limits
//! per class and level. The server keeps them in memory for every commit (a dispute's row
//! stores its deadline under them) and every sync (a device holding an older version gets
//! them with its answer). The county administrator changes them; every dispute row derived
//! under the version before is then derived again, here and, within [`REFRESH_EVERY`], by any
//! other server sharing the database.

use std::sync::{Arc, RwLock};

use sync_protocol::Code;
use sync_protocol::api::SettingsChanged;
use sync_protocol::model::{CountySettings, TimeLimits};

use super::{Caller, County};
use crate::error::{Error, Result};

/// How often a running server reads the stored settings again, to follow a change made through
/// another server sharing the database.
pub const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The settings in force on this server.
#[derive(Default)]
pub struct Current(RwLock<Arc<CountySettings>>);

impl Current {
    pub fn get(&self) -> Arc<CountySettings> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, settings: CountySettings) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(settings);
    }
}

impl County {
    /// The settings in force.
    pub fn settings(&self) -> Arc<CountySettings> {
        self.settings.get()
    }

    /// Reads the stored settings and, when they moved on (or the rows lag behind them),
    /// derives the dispute rows again. Called at start and every [`REFRESH_EVERY`].
    pub async fn refresh_settings(&self) -> Result<usize> {
        let stored = self.storage().settings().await?;
        if stored != *self.settings() {
            tracing::info!(version = stored.version, "county settings changed");
            self.settings.set(stored);
            return self.upgrade_rows().await;
        }
        Ok(0)
    }

    /// Sets the county's time limits (the county administrator): the entries given replace the
    /// defaults' of their class and level. Every dispute is derived again under them before
    /// this returns, so the lists answer by them at once; devices get them at their next sync.
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
        for _ in 0..super::sync::COMMIT_RETRIES {
            let stored = self.storage().settings().await?;
            let next = CountySettings { version: stored.version + 1, time_limits: time_limits.clone() };
            if self.storage().put_settings(&next).await? {
                tracing::info!(version = next.version, "time limits set");
                self.settings.set(next.clone());
                let disputes = self.upgrade_rows().await?;
                return Ok(SettingsChanged { settings: next, disputes: disputes as u32 });
            }
        }
        Err(Error::Busy)
    }
}
