//! Tauri commands: one line each over `field-core`. Writes wake the background sync.

use std::sync::Arc;

use field_core::Device;
use serde_json::{Map, Value};
use sync_protocol::Code;
use sync_protocol::api::{DisputeView, NewAction, Place, ResidentQuery};
use sync_protocol::app::{
    EnrolHint, IdentityView, InboxItem, LockState, NewDispute, NewVisit, Quarantined, SyncReport, SyncStatus, Workbench,
};
use sync_protocol::doc::{Conflict, HistoryEntry};
use sync_protocol::model::{House, Resident, ResidentSummary, Visit};
use sync_protocol::schema::Collection;
use tauri::State;
use uuid::Uuid;

use crate::error::{self, CmdError};
use crate::state::AppState;

type R<T> = Result<T, CmdError>;

fn written<T>(st: &AppState, r: Result<T, field_core::DeviceError>) -> R<T> {
    let v = r?;
    st.kick.notify_one();
    Ok(v)
}

/// Identity without the token: the web view never sees the device's secret.
fn view(i: field_core::Identity) -> IdentityView {
    IdentityView::new(i.device_id, i.server, i.account, i.grids)
}

#[tauri::command]
pub async fn lock_state(st: State<'_, AppState>) -> R<LockState> {
    Ok(LockState {
        enrolled: st.db_path.exists(),
        // Asking is no use of the device (it does not hold off the idle lock).
        locked: st.unlocked().is_none(),
        awaiting_pin: st.pending_identity.lock().map(|p| p.is_some()).unwrap_or(false),
    })
}

/// A server address and enrolment code handed over at launch (`GRIDKEEPER_ENROL_SERVER`,
/// `GRIDKEEPER_ENROL_CODE`), to prefill the enrolment form; the demo script uses it.
#[tauri::command]
pub async fn enrol_hint(_st: State<'_, AppState>) -> R<EnrolHint> {
    Ok(EnrolHint {
        server: std::env::var("GRIDKEEPER_ENROL_SERVER").ok(),
        code: std::env::var("GRIDKEEPER_ENROL_CODE").ok(),
    })
}

#[tauri::command]
pub async fn identity(st: State<'_, AppState>) -> R<Option<IdentityView>> {
    Ok(st.unlocked().and_then(|d| d.identity()).map(view))
}

#[tauri::command]
pub async fn enrol(st: State<'_, AppState>, server: String, code: String, device_name: String) -> R<IdentityView> {
    if st.db_path.exists() {
        return Err(error::already_enrolled());
    }
    let identity = field_core::request_enrolment(&field_core::http_client()?, &server, &code, &device_name).await?;
    *st.pending_identity.lock().map_err(|_| error::internal("state lock"))? = Some(identity.clone());
    Ok(view(identity))
}

#[tauri::command]
pub async fn set_pin(st: State<'_, AppState>, pin: String) -> R<()> {
    let identity = st
        .pending_identity
        .lock()
        .map_err(|_| error::internal("state lock"))?
        .take()
        .ok_or_else(error::not_enrolled)?;
    if let Some(dir) = st.db_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CmdError::new(Code::LocalStorage, e.to_string()))?;
    }
    let device = Device::open_encrypted(&st.db_path, &pin)?;
    device.adopt(identity)?;
    st.set_device(Some(Arc::new(device)));
    st.kick.notify_one();
    Ok(())
}

#[tauri::command]
pub async fn unlock(st: State<'_, AppState>, pin: String) -> R<()> {
    let device = Device::open_encrypted(&st.db_path, &pin)?;
    st.set_device(Some(Arc::new(device)));
    st.kick.notify_one();
    Ok(())
}

#[tauri::command]
pub async fn lock(st: State<'_, AppState>) -> R<()> {
    st.set_device(None);
    Ok(())
}

/// The worker is using the app (typing into a form, scrolling a list): the idle lock waits.
#[tauri::command]
pub async fn touch(st: State<'_, AppState>) -> R<()> {
    st.device().map(drop)
}

#[tauri::command]
pub async fn workbench(st: State<'_, AppState>) -> R<Workbench> {
    Ok(st.device()?.workbench()?)
}

#[tauri::command]
pub async fn list_residents(st: State<'_, AppState>, query: ResidentQuery) -> R<Vec<ResidentSummary>> {
    Ok(st.device()?.residents(&query)?)
}

#[tauri::command]
pub async fn get_resident(st: State<'_, AppState>, id: Uuid) -> R<Resident> {
    Ok(st.device()?.resident(id)?)
}

#[tauri::command]
pub async fn create_resident(st: State<'_, AppState>, resident: Resident) -> R<()> {
    written(&st, st.device()?.create_resident(&resident))
}

#[tauri::command]
pub async fn update_resident(st: State<'_, AppState>, id: Uuid, fields: Map<String, Value>) -> R<()> {
    written(&st, st.device()?.update_resident(id, fields))
}

#[tauri::command]
pub async fn archive_resident(st: State<'_, AppState>, id: Uuid, reason: String, on: String) -> R<()> {
    written(&st, st.device()?.archive_resident(id, &reason, &on))
}

#[tauri::command]
pub async fn move_resident(st: State<'_, AppState>, id: Uuid, house: Option<Uuid>) -> R<()> {
    written(&st, st.device()?.move_resident(id, house))
}

#[tauri::command]
pub async fn list_houses(st: State<'_, AppState>) -> R<Vec<House>> {
    Ok(st.device()?.houses()?)
}

#[tauri::command]
pub async fn get_house(st: State<'_, AppState>, id: Uuid) -> R<House> {
    Ok(st.device()?.house(id)?)
}

#[tauri::command]
pub async fn create_house(st: State<'_, AppState>, house: House) -> R<()> {
    written(&st, st.device()?.create_house(&house))
}

#[tauri::command]
pub async fn update_house(st: State<'_, AppState>, id: Uuid, fields: Map<String, Value>) -> R<()> {
    written(&st, st.device()?.update_house(id, fields))
}

#[tauri::command]
pub async fn record_visit(st: State<'_, AppState>, visit: NewVisit) -> R<Uuid> {
    written(&st, st.device()?.record_visit(&visit))
}

#[tauri::command]
pub async fn list_visits(st: State<'_, AppState>, since_ms: i64) -> R<Vec<Visit>> {
    Ok(st.device()?.visits(since_ms)?)
}

#[tauri::command]
pub async fn report_dispute(st: State<'_, AppState>, dispute: NewDispute) -> R<Uuid> {
    written(&st, st.device()?.report_dispute(&dispute))
}

#[tauri::command]
pub async fn list_disputes(st: State<'_, AppState>, open_only: bool) -> R<Vec<DisputeView>> {
    Ok(st.device()?.dispute_views(open_only)?)
}

#[tauri::command]
pub async fn get_dispute(st: State<'_, AppState>, id: Uuid) -> R<DisputeView> {
    Ok(st.device()?.dispute_view(id)?)
}

#[tauri::command]
pub async fn list_inbox(st: State<'_, AppState>) -> R<Vec<InboxItem>> {
    Ok(st.device()?.inbox()?)
}

#[tauri::command]
pub async fn mark_inbox_read(st: State<'_, AppState>, dispute: Uuid) -> R<()> {
    Ok(st.device()?.mark_inbox_read(dispute)?)
}

#[tauri::command]
pub async fn add_dispute_action(st: State<'_, AppState>, dispute: Uuid, action: NewAction) -> R<()> {
    written(&st, st.device()?.add_dispute_action(dispute, &action))
}

#[tauri::command]
pub async fn list_places(st: State<'_, AppState>) -> R<Vec<Place>> {
    Ok(st.device()?.places().await?)
}

#[tauri::command]
pub async fn sync_now(st: State<'_, AppState>) -> R<SyncReport> {
    crate::sync_loop::sync_once(&st).await.map_err(Into::into)
}

#[tauri::command]
pub async fn sync_status(st: State<'_, AppState>) -> R<SyncStatus> {
    Ok(st.status())
}

#[tauri::command]
pub async fn list_conflicts(st: State<'_, AppState>) -> R<Vec<Conflict>> {
    Ok(st.device()?.conflicts()?)
}

#[tauri::command]
pub async fn settle_conflict(st: State<'_, AppState>, conflict: Conflict, value: Value) -> R<()> {
    written(&st, st.device()?.settle_conflict(&conflict, value))
}

#[tauri::command]
pub async fn list_quarantine(st: State<'_, AppState>) -> R<Vec<Quarantined>> {
    Ok(st.device()?.quarantine()?)
}

#[tauri::command]
pub async fn discard_quarantined(st: State<'_, AppState>, id: i64) -> R<()> {
    Ok(st.device()?.discard_quarantined(id)?)
}

#[tauri::command]
pub async fn reenter_quarantined(st: State<'_, AppState>, id: i64, fields: Map<String, Value>) -> R<()> {
    written(&st, st.device()?.reenter_quarantined(id, fields))
}

#[tauri::command]
pub async fn history(st: State<'_, AppState>, collection: Collection, id: Uuid) -> R<Vec<HistoryEntry>> {
    Ok(st.device()?.history(collection, id)?)
}

/// Keeps a photo in the encrypted device database and returns its content hash; the next sync
/// uploads it to the county server.
#[tauri::command]
pub async fn add_photo(st: State<'_, AppState>, bytes: Vec<u8>, mime: String) -> R<String> {
    Ok(st.device()?.add_photo(&bytes, &mime)?)
}

/// A photo's bytes, from the device or fetched from the county server.
#[tauri::command]
pub async fn get_photo(st: State<'_, AppState>, hash: String) -> R<tauri::ipc::Response> {
    Ok(tauri::ipc::Response::new(st.device()?.photo(&hash).await?))
}
