//! What the app holds between commands: the device (present only while unlocked), an
//! enrolment waiting for its PIN, the background sync's status, and when the worker last used
//! the app (an unlocked device left idle locks itself: [`AppState::lock_if_idle`]).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use field_core::{Device, Identity};
pub use sync_protocol::app::SyncStatus;
use tokio::sync::Notify;

use crate::error::CmdError;

pub struct AppState {
    pub db_path: PathBuf,
    pub device: RwLock<Option<Arc<Device>>>,
    pub pending_identity: Mutex<Option<Identity>>,
    pub sync_status: Mutex<SyncStatus>,
    /// Wakes the background sync (after a local write, on "sync now", after unlocking).
    pub kick: Notify,
    /// When a command last used the unlocked device (the background sync does not count), on
    /// both clocks: the monotonic one stands still while a handheld sleeps, the wall clock
    /// does not (but can be set back).
    last_use: Mutex<(Instant, SystemTime)>,
    /// How long an unlocked device may sit unused before it locks itself.
    pub idle_lock: Duration,
    /// Tells the UI the sync status (the `sync-status` event), once the app has started.
    status_listener: std::sync::OnceLock<StatusListener>,
}

type StatusListener = Box<dyn Fn(&SyncStatus) + Send + Sync>;

/// The idle time after which an unlocked device locks itself, unless
/// `GRIDKEEPER_IDLE_LOCK_SECS` says otherwise: five minutes, as a phone's screen lock.
pub const IDLE_LOCK: Duration = Duration::from_secs(300);

fn idle_lock_from_env() -> Duration {
    std::env::var("GRIDKEEPER_IDLE_LOCK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s| *s > 0)
        .map_or(IDLE_LOCK, Duration::from_secs)
}

impl AppState {
    pub fn new(data_dir: PathBuf) -> Self {
        AppState {
            db_path: data_dir.join("gridkeeper-device.db"),
            device: RwLock::new(None),
            pending_identity: Mutex::new(None),
            sync_status: Mutex::new(SyncStatus::default()),
            kick: Notify::new(),
            last_use: Mutex::new((Instant::now(), SystemTime::now())),
            idle_lock: idle_lock_from_env(),
            status_listener: std::sync::OnceLock::new(),
        }
    }

    /// The unlocked device, or `locked`; a use by the worker, which keeps it unlocked. A device
    /// idle past the limit is locked here first, so the first tap after a night asleep (before
    /// the idle check's next round) finds it locked instead of keeping it open.
    pub fn device(&self) -> Result<Arc<Device>, CmdError> {
        self.lock_if_idle(Instant::now(), SystemTime::now());
        let d = self.unlocked().ok_or_else(crate::error::locked)?;
        self.touch();
        Ok(d)
    }

    /// The unlocked device, if it is, without counting as a use (for the background sync).
    pub fn unlocked(&self) -> Option<Arc<Device>> {
        self.device.read().ok().and_then(|d| d.clone())
    }

    pub fn set_device(&self, d: Option<Arc<Device>>) {
        if let Ok(mut slot) = self.device.write() {
            // A sync still running on the device given up (locked, revoked) stops at its next
            // step rather than keep the decrypted database open for a long download.
            if let Some(old) = slot.take() {
                old.interrupt();
            }
            *slot = d;
        }
        self.touch();
    }

    fn touch(&self) {
        if let Ok(mut t) = self.last_use.lock() {
            *t = (Instant::now(), SystemTime::now());
        }
    }

    /// Locks the device if nobody used it for [`AppState::idle_lock`] by `now` on either clock
    /// (asleep overnight, a handheld's monotonic clock hardly moves): the key and the open
    /// database are dropped, and the PIN is needed again. Whether it locked.
    pub fn lock_if_idle(&self, now: Instant, wall: SystemTime) -> bool {
        let idle = self
            .last_use
            .lock()
            .map(|t| {
                let (mono, then) = *t;
                now.saturating_duration_since(mono).max(wall.duration_since(then).unwrap_or_default())
            })
            .unwrap_or_default();
        if idle < self.idle_lock || self.unlocked().is_none() {
            return false;
        }
        self.set_device(None);
        true
    }

    pub fn status(&self) -> SyncStatus {
        self.sync_status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Who hears of the sync status from now on (set once, when the app starts).
    pub fn on_status(&self, listener: StatusListener) {
        let _ = self.status_listener.set(listener);
    }

    /// Tells the UI the sync status as it stands.
    pub fn publish_status(&self) {
        if let Some(l) = self.status_listener.get() {
            l(&self.status());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unlocked_device_left_idle_locks_itself_and_use_keeps_it_open() {
        let dir = tempfile::tempdir().unwrap();
        let st = AppState::new(dir.path().to_path_buf());
        let device = Device::open_encrypted(&st.db_path, "246810").unwrap();
        st.set_device(Some(Arc::new(device)));
        let (start, wall) = (Instant::now(), SystemTime::now());
        assert!(!st.lock_if_idle(start + st.idle_lock / 2, wall), "not idle long enough");
        // A command halfway through starts the idle time again.
        std::thread::sleep(Duration::from_millis(20));
        st.device().unwrap();
        assert!(!st.lock_if_idle(start + st.idle_lock, SystemTime::now()), "used since");
        // The background sync is no use.
        assert!(st.unlocked().is_some());
        assert!(st.lock_if_idle(Instant::now() + st.idle_lock, SystemTime::now()));
        assert_eq!(st.device().err().map(|e| e.code), Some(sync_protocol::Code::Locked.into()));
        assert!(!st.lock_if_idle(Instant::now() + st.idle_lock * 2, SystemTime::now()), "locked once");
    }

    /// Asleep overnight: the monotonic clock hardly moved, the wall clock did.
    #[test]
    fn a_handheld_that_slept_past_the_idle_time_wakes_locked() {
        let dir = tempfile::tempdir().unwrap();
        let st = AppState::new(dir.path().to_path_buf());
        st.set_device(Some(Arc::new(Device::open_encrypted(&st.db_path, "246810").unwrap())));
        assert!(st.lock_if_idle(Instant::now(), SystemTime::now() + Duration::from_secs(8 * 3600)));
        assert!(st.unlocked().is_none());
    }

    /// Woken after the idle time, the first command finds the device locked: it does not
    /// count as use before the idle time is checked.
    #[test]
    fn the_first_command_after_the_idle_time_finds_it_locked() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = AppState::new(dir.path().to_path_buf());
        st.idle_lock = Duration::from_millis(50);
        st.set_device(Some(Arc::new(Device::open_encrypted(&st.db_path, "246810").unwrap())));
        st.device().unwrap();
        std::thread::sleep(Duration::from_millis(80));
        assert!(st.device().is_err(), "locked, not kept open by the command");
        assert!(st.unlocked().is_none());
    }
}
