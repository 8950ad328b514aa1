//! HTTP routes. Handlers are thin: authenticate, check scope, call the sync engine or storage,
//! shape the answer. Personal data in lists is masked; a full record is read one at a time.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sync_protocol::doc::{self, HistoryEntry};
use sync_protocol::model::{Dispute, DisputeState, House, Resident, ResidentSummary};
use sync_protocol::org::Role;
use sync_protocol::schema::Collection;
use sync_protocol::wire::SyncRequest;
use uuid::Uuid;

use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::storage::{Account, Device, DisputeQuery, GridInfo, Overview, ResidentQuery, Storage};

/// Largest request body accepted (a sync carrying a long offline day stays far below it).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
pub const SYNC_CONTENT_TYPE: &str = "application/x-gridkeeper-sync";

#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub limits: crate::sync::Limits,
    /// Limits on guessing enrolment codes.
    pub enrolment: Arc<crate::throttle::EnrolmentGuard>,
    /// Documents kept loaded between syncs (not state: checked against stored versions).
    pub docs: Arc<crate::cache::DocCache>,
    /// How many syncs run at once (`GRIDKEEPER_SYNC_SLOTS`, default four per core).
    pub sync_slots: Arc<tokio::sync::Semaphore>,
}

/// Syncs a server runs at once: `GRIDKEEPER_SYNC_SLOTS`, or four per core. A sync spends part
/// of its time waiting for the commit's fsync; with four per core the cores stay busy meanwhile
/// (morning storm on 2 cores: 4 slots 2.03-2.09 s, 8 slots 1.86-1.95 s, 12-16 no steadier).
pub fn sync_slots_from_env() -> usize {
    std::env::var("GRIDKEEPER_SYNC_SLOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| 4 * std::thread::available_parallelism().map_or(2, |n| n.get()))
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/sync", post(sync))
        .route("/v1/enrol", post(enrol))
        .route("/v1/me", get(me))
        .route("/v1/grids", get(grids))
        .route("/v1/residents", get(residents))
        .route("/v1/residents/{id}", get(resident))
        .route("/v1/houses", get(houses))
        .route("/v1/disputes", get(disputes))
        .route("/v1/conflicts", get(conflicts))
        .route("/v1/history/{collection}/{id}", get(history))
        .route("/v1/overview", get(overview))
        .route("/v1/blobs/{hash}", axum::routing::put(put_blob).get(get_blob))
        .route("/v1/blobs/{hash}/status", get(blob_status))
        .route("/v1/admin/accounts", post(create_account))
        .route("/v1/admin/enrolment-codes", post(issue_code))
        .route("/v1/admin/devices", get(list_devices))
        .route("/v1/admin/devices/{id}/revoke", post(revoke))
        .route("/v1/admin/grids/{grid}/roster", post(import_roster).get(export_roster))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(crate::audit::log_refusals))
        .with_state(state)
}

fn body(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::bad("malformed_body", e.body_text())
        }
    })
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v).map_err(|e| ApiError::bad("malformed_query", e.body_text()))
}

fn json<T>(j: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    match j {
        Ok(Json(v)) => Ok(v),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::TooLarge),
        Err(e) => Err(ApiError::bad("malformed_body", e.body_text())),
    }
}

async fn sync(
    State(st): State<AppState>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = auth::authenticate(st.storage.as_ref(), &headers).await?;
    let bytes = body(b)?;
    let req = SyncRequest::decode(&bytes).map_err(|e| ApiError::bad(e.code(), e.to_string()))?;
    // Syncs are admitted a few at a time, first come first served: when a whole county syncs
    // at once, early arrivals finish early instead of all of them sharing the machine until the
    // last is done.
    // A sync that sends nothing and holds every grid already is a couple of queries: it is not
    // made to wait behind the heavy ones.
    let light = req.changes.is_empty() && !req.positions.is_empty() && req.positions.iter().all(|p| p.seq > 0);
    let _slot = if light {
        None
    } else {
        Some(st.sync_slots.acquire().await.map_err(|_| ApiError::Internal("server shutting down".into()))?)
    };
    let resp = crate::sync::sync(st.storage.as_ref(), st.limits, &st.docs, &caller, req).await?;
    Ok(([(header::CONTENT_TYPE, SYNC_CONTENT_TYPE)], resp.encode()).into_response())
}

#[derive(Debug, Serialize, Deserialize)]
pub struct EnrolRequest {
    pub code: String,
    pub device_name: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct EnrolResponse {
    pub device_id: Uuid,
    pub token: String,
    pub account: Account,
    pub grids: Vec<GridInfo>,
}

async fn enrol(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<crate::throttle::PeerAddr>,
    headers: HeaderMap,
    j: Result<Json<EnrolRequest>, JsonRejection>,
) -> Result<Json<EnrolResponse>, ApiError> {
    let req = json(j)?;
    let code_hash = auth::hash_secret(&auth::normalize_code(&req.code));
    let now = chrono::Utc::now().timestamp_millis();
    // Counted and limited before the code is looked up: a right guess during a lock-out fails.
    let client = st.enrolment.client_ip(peer.0, &headers);
    st.enrolment.check(st.storage.as_ref(), client, &code_hash, now).await?;
    let token = auth::new_device_token();
    // The account is known only once the code is redeemed; look it up through the code first.
    let device_id = Uuid::now_v7();
    let account = st
        .storage
        .redeem_enrolment_code(
            &code_hash,
            now,
            &Device {
                id: device_id,
                account: Uuid::nil(),
                name: req.device_name.chars().take(60).collect(),
                created_at: now,
                revoked_at: None,
            },
            &auth::hash_secret(&token),
        )
        .await?;
    let account = account.ok_or_else(|| ApiError::Forbidden("enrolment code unknown, used or expired".into()))?;
    let scope = auth::scope_of(st.storage.as_ref(), &account).await?;
    let grids = match scope {
        // Handhelds hold the grids of their scope; county staff work from the web instead.
        crate::storage::Scope::All => Vec::new(),
        _ => st.storage.grids(&scope).await?,
    };
    tracing::info!(device = %device_id, account = %account.id, "device enrolled");
    Ok(Json(EnrolResponse { device_id, token, account, grids }))
}

async fn caller(st: &AppState, headers: &HeaderMap) -> Result<(Caller, crate::storage::Scope), ApiError> {
    let c = auth::authenticate(st.storage.as_ref(), headers).await?;
    let scope = auth::caller_scope(&c)?;
    Ok((c, scope))
}

async fn check_grid(st: &AppState, scope: &crate::storage::Scope, grid: Option<Uuid>) -> Result<(), ApiError> {
    if let Some(g) = grid
        && !auth::grid_in_scope(st.storage.as_ref(), scope, g).await?
    {
        return Err(ApiError::Forbidden("grid outside your scope".into()));
    }
    Ok(())
}

#[derive(Serialize)]
struct Me {
    account: Account,
    device: Device,
}

async fn me(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Me>, ApiError> {
    let (c, _) = caller(&st, &headers).await?;
    Ok(Json(Me { account: c.account, device: c.device }))
}

async fn grids(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Vec<GridInfo>>, ApiError> {
    let (_, scope) = caller(&st, &headers).await?;
    Ok(Json(st.storage.grids(&scope).await?))
}

async fn residents(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ResidentQuery>, QueryRejection>,
) -> Result<Json<Vec<ResidentSummary>>, ApiError> {
    let q = query(q)?;
    let (_, scope) = caller(&st, &headers).await?;
    check_grid(&st, &scope, q.grid).await?;
    Ok(Json(st.storage.residents(&scope, &q).await?.into_iter().map(Into::into).collect()))
}

async fn resident(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<Resident>, ApiError> {
    let (c, scope) = caller(&st, &headers).await?;
    let (key, r) = st.storage.resident(id).await?.ok_or_else(|| ApiError::NotFound("no such resident".into()))?;
    check_grid(&st, &scope, Some(key.grid)).await.map_err(|_| ApiError::NotFound("no such resident".into()))?;
    // Audit: who read which full record (ids only, no personal data).
    tracing::info!(account = %c.account.id, resident = %id, "full resident record read");
    Ok(Json(r))
}

#[derive(Deserialize)]
struct GridFilter {
    grid: Option<Uuid>,
}

async fn houses(
    State(st): State<AppState>,
    headers: HeaderMap,
    f: Result<Query<GridFilter>, QueryRejection>,
) -> Result<Json<Vec<House>>, ApiError> {
    let f = query(f)?;
    let (_, scope) = caller(&st, &headers).await?;
    check_grid(&st, &scope, f.grid).await?;
    Ok(Json(st.storage.houses(&scope, f.grid).await?))
}

#[derive(Serialize)]
struct DisputeView {
    #[serde(flatten)]
    dispute: Dispute,
    state: DisputeState,
    report_delay_minutes: i64,
}

async fn disputes(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<DisputeQuery>, QueryRejection>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    let q = query(q)?;
    let (_, scope) = caller(&st, &headers).await?;
    check_grid(&st, &scope, q.grid).await?;
    let list = st.storage.disputes(&scope, &q).await?;
    Ok(Json(
        list.into_iter()
            .map(|d| {
                let v = DisputeView { state: d.state(), report_delay_minutes: d.report_delay_minutes(), dispute: d };
                serde_json::to_value(v).unwrap_or_default()
            })
            .collect(),
    ))
}

/// ID numbers and phones are masked in conflicts and history as in lists; the full value is
/// read one record at a time.
fn mask_value(field: &str, v: &mut serde_json::Value) {
    let masked = match (field.rsplit('.').next(), v.as_str()) {
        (Some("id_number"), Some(s)) => sync_protocol::validate::mask_id_number(s),
        (Some("phone"), Some(s)) => sync_protocol::validate::mask_phone(s),
        _ => return,
    };
    *v = serde_json::Value::String(masked);
}

async fn conflicts(
    State(st): State<AppState>,
    headers: HeaderMap,
    f: Result<Query<GridFilter>, QueryRejection>,
) -> Result<Json<Vec<doc::Conflict>>, ApiError> {
    let f = query(f)?;
    let (_, scope) = caller(&st, &headers).await?;
    check_grid(&st, &scope, f.grid).await?;
    let mut list = st.storage.conflicts(&scope, f.grid).await?;
    for c in &mut list {
        for v in &mut c.values {
            mask_value(&c.field, &mut v.value);
        }
    }
    Ok(Json(list))
}

async fn history(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, Uuid)>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let (c, scope) = caller(&st, &headers).await?;
    let collection =
        Collection::parse(&collection).ok_or_else(|| ApiError::bad("unknown_collection", "unknown collection"))?;
    let key =
        st.storage.record_doc(collection, id).await?.ok_or_else(|| ApiError::NotFound("no such record".into()))?;
    check_grid(&st, &scope, Some(key.grid)).await.map_err(|_| ApiError::NotFound("no such record".into()))?;
    let d = crate::sync::load_doc(st.storage.as_ref(), key)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such record".into()))?;
    tracing::info!(account = %c.account.id, record = %id, "record history read");
    let mut entries = doc::history(&d, id);
    for e in &mut entries {
        mask_value(&e.field, &mut e.value);
    }
    Ok(Json(entries))
}

async fn overview(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Overview>, ApiError> {
    let (_, scope) = caller(&st, &headers).await?;
    Ok(Json(
        st.storage
            .overview(&scope, sync_protocol::doc::DocKey::month_start_ms(chrono::Utc::now().timestamp_millis()))
            .await?,
    ))
}

#[derive(Debug, Serialize, Deserialize)]
pub struct NewAccount {
    pub name: String,
    pub role: Role,
    pub node: Uuid,
}

async fn create_account(
    State(st): State<AppState>,
    headers: HeaderMap,
    j: Result<Json<NewAccount>, JsonRejection>,
) -> Result<Json<Account>, ApiError> {
    let (c, _) = caller(&st, &headers).await?;
    auth::require_admin(&c)?;
    let n = json(j)?;
    let node = st.storage.node(n.node).await?.ok_or_else(|| ApiError::bad("unknown_node", "no such node"))?;
    if node.kind != n.role.node_kind() {
        return Err(ApiError::bad("role_node_mismatch", "this role must be scoped to another kind of node"));
    }
    let account = Account { id: Uuid::now_v7(), name: n.name, role: n.role, node: n.node };
    st.storage.put_account(&account).await?;
    Ok(Json(account))
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CodeRequest {
    pub account: Uuid,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CodeResponse {
    pub code: String,
    pub expires_at: i64,
}

/// How long an enrolment code stays valid.
pub const CODE_LIFETIME_MS: i64 = 7 * 24 * 3600 * 1000;

pub async fn issue_code_for(storage: &dyn Storage, account: Uuid) -> Result<CodeResponse, ApiError> {
    storage.account(account).await?.ok_or_else(|| ApiError::bad("unknown_account", "no such account"))?;
    let code = auth::new_enrolment_code();
    let expires_at = chrono::Utc::now().timestamp_millis() + CODE_LIFETIME_MS;
    storage.put_enrolment_code(&auth::hash_secret(&auth::normalize_code(&code)), account, expires_at).await?;
    Ok(CodeResponse { code, expires_at })
}

async fn issue_code(
    State(st): State<AppState>,
    headers: HeaderMap,
    j: Result<Json<CodeRequest>, JsonRejection>,
) -> Result<Json<CodeResponse>, ApiError> {
    let (c, _) = caller(&st, &headers).await?;
    auth::require_admin(&c)?;
    let r = json(j)?;
    Ok(Json(issue_code_for(st.storage.as_ref(), r.account).await?))
}

async fn list_devices(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Vec<Device>>, ApiError> {
    let (c, _) = caller(&st, &headers).await?;
    auth::require_admin(&c)?;
    Ok(Json(st.storage.devices(None).await?))
}

async fn revoke(State(st): State<AppState>, headers: HeaderMap, Path(id): Path<Uuid>) -> Result<StatusCode, ApiError> {
    let (c, _) = caller(&st, &headers).await?;
    auth::require_admin(&c)?;
    if st.storage.revoke_device(id, chrono::Utc::now().timestamp_millis()).await? {
        tracing::info!(device = %id, by = %c.account.id, "device revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such active device".into()))
    }
}

#[derive(Deserialize)]
struct RosterQuery {
    format: Option<String>,
}

/// Imports a roster file (the body; CSV or .xlsx by `?format=` or Content-Type) into a grid:
/// 200 with counts, or 422 with every rejected row and nothing written. County administrators
/// only; the body limit is [`MAX_BODY_BYTES`].
async fn import_roster(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(grid): Path<Uuid>,
    q: Result<Query<RosterQuery>, QueryRejection>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<crate::roster::ImportSummary>, crate::roster::RosterError> {
    let (c, scope) = caller(&st, &headers).await?;
    auth::require_admin(&c)?;
    check_grid(&st, &scope, Some(grid)).await?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let format = crate::roster::Format::pick(query(q)?.format.as_deref(), content_type)?;
    let bytes = body(b)?.to_vec();
    let author = crate::roster::importer(c.account.id, c.device.id);
    let now = chrono::Utc::now().timestamp_millis();
    Ok(Json(crate::roster::import_file(st.storage.as_ref(), grid, &author, format, bytes, now).await?))
}

/// Exports a grid's roster (`?format=csv|xlsx`, CSV by default): in full for the county
/// administrator, masked for township and county centre staff.
async fn export_roster(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(grid): Path<Uuid>,
    q: Result<Query<RosterQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (c, scope) = caller(&st, &headers).await?;
    let reveal = crate::roster::Reveal::for_role(c.account.role)
        .ok_or_else(|| ApiError::Forbidden("roster export is for township and county staff".into()))?;
    check_grid(&st, &scope, Some(grid)).await?;
    let format = crate::roster::Format::pick(Some(query(q)?.format.as_deref().unwrap_or("csv")), None)?;
    let bytes = crate::roster::export(st.storage.as_ref(), grid, format, reveal, c.account.id).await?;
    let disposition = format!("attachment; filename=\"roster-{grid}.{}\"", format.extension());
    Ok(([(header::CONTENT_TYPE, format.content_type().to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response())
}

/// Largest photo accepted.
pub const MAX_BLOB_BYTES: u64 = 20 * 1024 * 1024;

fn check_hash(hash: &str) -> Result<(), ApiError> {
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(ApiError::bad("bad_blob_hash", "a blob is named by the lower-case hex SHA-256 of its bytes"))
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Result<u64, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ApiError::bad("missing_header", format!("header {name} is required")))
}

/// Uploads a chunk of a photo: `Gridkeeper-Grid`, `Gridkeeper-Total` and `Gridkeeper-Offset`
/// headers, the bytes in the body. An upload cut off anywhere resumes from the `received`
/// count that this answer and `GET /v1/blobs/{hash}/status` report.
async fn put_blob(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(hash): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<crate::storage::BlobState>, ApiError> {
    let (_, scope) = caller(&st, &headers).await?;
    check_hash(&hash)?;
    let bytes = body(b)?;
    let grid = headers
        .get("Gridkeeper-Grid")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v).ok())
        .ok_or_else(|| ApiError::bad("missing_header", "header Gridkeeper-Grid is required"))?;
    check_grid(&st, &scope, Some(grid)).await?;
    let total = header_u64(&headers, "Gridkeeper-Total")?;
    let offset = header_u64(&headers, "Gridkeeper-Offset")?;
    if total == 0 || total > MAX_BLOB_BYTES {
        return Err(ApiError::bad("blob_too_large", "a photo must be between 1 byte and 20 MB"));
    }
    if offset + bytes.len() as u64 > total {
        return Err(ApiError::bad("bad_chunk", "the chunk goes past the declared size"));
    }
    Ok(Json(st.storage.put_blob_chunk(&hash, grid, total, offset, &bytes).await?))
}

async fn blob_status(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(hash): Path<String>,
) -> Result<Json<crate::storage::BlobState>, ApiError> {
    let (_, scope) = caller(&st, &headers).await?;
    check_hash(&hash)?;
    let state = st.storage.blob_state(&hash).await?.ok_or_else(|| ApiError::NotFound("no such blob".into()))?;
    check_grid(&st, &scope, Some(state.grid)).await.map_err(|_| ApiError::NotFound("no such blob".into()))?;
    Ok(Json(state))
}

async fn get_blob(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let (_, scope) = caller(&st, &headers).await?;
    check_hash(&hash)?;
    let (grid, bytes) = st.storage.blob(&hash).await?.ok_or_else(|| ApiError::NotFound("no such blob".into()))?;
    check_grid(&st, &scope, Some(grid)).await.map_err(|_| ApiError::NotFound("no such blob".into()))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
