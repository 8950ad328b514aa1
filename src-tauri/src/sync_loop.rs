//! Background sync: on start, after unlocking, after each local write, on demand and every few
//! minutes; with exponential backoff after failures. It never blocks the UI and reports its
//! state as the `sync-status` event. Beside it, the idle lock ([`start_idle_lock`]). Neither
//! counts as the worker using the app.

use std::time::{Duration, Instant};

use field_core::{DeviceError, SyncReport};
use tauri::{AppHandle, Emitter, Manager};

use crate::state::AppState;

const PERIOD: Duration = Duration::from_secs(300);
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(600);

fn update(st: &AppState, f: impl FnOnce(&mut crate::state::SyncStatus)) {
    if let Ok(mut s) = st.sync_status.lock() {
        f(&mut s);
    }
}

/// One sync now, recording the outcome in the status; a first download's progress reaches the
/// UI as it comes (the `sync-status` event), and stays shown after a cut.
pub async fn sync_once(st: &AppState) -> Result<SyncReport, DeviceError> {
    let device = st.unlocked().ok_or(DeviceError::NotEnrolled)?;
    // A download a cut left half done is shown from the start (after a restart of the app too).
    let held = device.download_progress().unwrap_or(None);
    update(st, |s| {
        s.running = true;
        s.download = held;
    });
    st.publish_status();
    let mut progress = device.watch_progress();
    let r = {
        let sync = device.sync();
        tokio::pin!(sync);
        loop {
            tokio::select! {
                r = &mut sync => break r,
                Ok(()) = progress.changed() => {
                    let p = progress.borrow_and_update().clone();
                    update(st, |s| s.download = p);
                    st.publish_status();
                }
            }
        }
    };
    let pending = device.pending_count().unwrap_or(0);
    let download = device.download_progress().unwrap_or(None);
    update(st, |s| {
        s.running = false;
        s.pending = pending;
        s.download = download;
        match &r {
            Ok(_) => {
                s.last_success_at = Some(field_core::now_ms());
                s.last_error = None;
            }
            Err(e) => s.last_error = Some(e.to_body()),
        }
    });
    if let Err(DeviceError::Revoked) = &r {
        // The device erased what it held: nothing is left to unlock, and the app starts over
        // at enrolment.
        st.set_device(None);
    }
    r
}

/// How often the idle lock looks at the clock.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// Locks an unlocked device nobody has used for [`AppState::idle_lock`] (five minutes unless
/// `GRIDKEEPER_IDLE_LOCK_SECS` says otherwise) and tells the UI with the `locked` event.
pub fn start_idle_lock(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::time::sleep(IDLE_CHECK).await;
            let st = app.state::<AppState>();
            if st.lock_if_idle(Instant::now(), std::time::SystemTime::now()) {
                tracing::info!("locked after being idle");
                let _ = app.emit("locked", ());
            }
        }
    });
}

pub fn start(app: AppHandle) {
    let emitter = app.clone();
    app.state::<AppState>().on_status(Box::new(move |s| {
        let _ = emitter.emit("sync-status", s);
    }));
    tauri::async_runtime::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        let mut wait = Duration::from_millis(0);
        loop {
            let st = app.state::<AppState>();
            let next = field_core::now_ms() + wait.as_millis() as i64;
            update(&st, |s| s.next_attempt_at = Some(next));
            st.publish_status();
            tokio::select! {
                _ = st.kick.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            if st.unlocked().is_none() {
                wait = PERIOD;
                continue;
            }
            update(&st, |s| s.running = true);
            st.publish_status();
            match sync_once(&st).await {
                Err(DeviceError::Revoked) => {
                    let _ = app.emit("locked", ());
                    wait = PERIOD;
                }
                Ok(_) => {
                    backoff = FIRST_BACKOFF;
                    wait = PERIOD;
                }
                Err(e) if e.is_retryable() => {
                    wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(_) => wait = PERIOD,
            }
            st.publish_status();
        }
    });
}
