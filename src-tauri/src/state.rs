//! What the app holds between commands: the device (present only while unlocked), an
//! enrolment waiting for its PIN, and the background sync's status.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

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
}

impl AppState {
    pub fn new(data_dir: PathBuf) -> Self {
        AppState {
            db_path: data_dir.join("gridkeeper-device.db"),
            device: RwLock::new(None),
            pending_identity: Mutex::new(None),
            sync_status: Mutex::new(SyncStatus::default()),
            kick: Notify::new(),
        }
    }

    /// The unlocked device, or `locked`.
    pub fn device(&self) -> Result<Arc<Device>, CmdError> {
        self.device.read().ok().and_then(|d| d.clone()).ok_or_else(crate::error::locked)
    }

    pub fn set_device(&self, d: Option<Arc<Device>>) {
        if let Ok(mut slot) = self.device.write() {
            *slot = d;
        }
    }

    pub fn status(&self) -> SyncStatus {
        self.sync_status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}
