//! Background sync: on start, after unlocking, after each local write, on demand and every few
//! minutes; with exponential backoff after failures. It never blocks the UI and reports its
//! state as the `sync-status` event.

use std::time::Duration;

use field_core::{DeviceError, SyncReport};
use tauri::{AppHandle, Emitter, Manager};

use crate::state::AppState;

const PERIOD: Duration = Duration::from_secs(300);
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(600);

fn emit(app: &AppHandle, st: &AppState) {
    let _ = app.emit("sync-status", st.status());
}

fn update(st: &AppState, f: impl FnOnce(&mut crate::state::SyncStatus)) {
    if let Ok(mut s) = st.sync_status.lock() {
        f(&mut s);
    }
}

/// One sync now, recording the outcome in the status.
pub async fn sync_once(st: &AppState) -> Result<SyncReport, DeviceError> {
    let device = st.device().map_err(|_| DeviceError::NotEnrolled)?;
    update(st, |s| s.running = true);
    let r = device.sync().await;
    let pending = device.pending_count().unwrap_or(0);
    update(st, |s| {
        s.running = false;
        s.pending = pending;
        match &r {
            Ok(_) => {
                s.last_success_at = Some(field_core::now_ms());
                s.last_error = None;
            }
            Err(e) => s.last_error = Some(e.to_body()),
        }
    });
    r
}

pub fn start(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        let mut wait = Duration::from_millis(0);
        loop {
            let st = app.state::<AppState>();
            let next = field_core::now_ms() + wait.as_millis() as i64;
            update(&st, |s| s.next_attempt_at = Some(next));
            emit(&app, &st);
            tokio::select! {
                _ = st.kick.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            if st.device().is_err() {
                wait = PERIOD;
                continue;
            }
            update(&st, |s| s.running = true);
            emit(&app, &st);
            match sync_once(&st).await {
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
            emit(&app, &st);
        }
    });
}
