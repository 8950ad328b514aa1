//! The county administrator's routes (`/v1/admin/…`): the county's structure from its setup
//! file, accounts, enrolment codes (one by one or in bulk), devices and their revocation, roster
//! import and export, the audit of reads. Who may call each is the
//! service's rule.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sync_protocol::api::{
    AccountQuery, AccountRow, AuditEntry, AuditQuery, BulkCodeRequest, BulkRevokeRequest, BulkRevoked, CodeRequest,
    CodeResponse, ImportSummary, NewAccount, RevokeCodeRequest, SessionsEnded, SettingsChanged, SetupSummary,
    StructureNode,
};
use sync_protocol::model::TimeLimits;
use sync_protocol::org::{Account, Device};
use uuid::Uuid;

use super::{Admin, AppState, Authed, Body, J, Q};
use crate::error::Error;
use crate::roster::Format;
use crate::service::structure::Sheet;

pub async fn create_account(
    State(st): State<AppState>,
    Authed(c): Authed,
    J(new): J<NewAccount>,
) -> Result<Json<Account>, Error> {
    Ok(Json(st.county.create_account(&c, new).await?))
}

/// Accounts at or under a place with their log-ins, handhelds and open sessions.
pub async fn accounts(
    State(st): State<AppState>,
    Authed(c): Authed,
    Q(q): Q<AccountQuery>,
) -> Result<Json<Vec<AccountRow>>, Error> {
    Ok(Json(st.county.account_rows(&c, &q).await?))
}

pub async fn end_sessions(
    State(st): State<AppState>,
    Authed(c): Authed,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionsEnded>, Error> {
    Ok(Json(st.county.end_sessions(&c, id).await?))
}

/// Every place of the county with its code (boundaries are on `/v1/map`).
pub async fn structure(State(st): State<AppState>, Authed(c): Authed) -> Result<Json<Vec<StructureNode>>, Error> {
    Ok(Json(st.county.structure_nodes(&c).await?))
}

pub async fn set_time_limits(
    State(st): State<AppState>,
    Admin(c): Admin,
    J(limits): J<TimeLimits>,
) -> Result<Json<SettingsChanged>, Error> {
    Ok(Json(st.county.set_time_limits(&c, &limits).await?))
}

pub async fn issue_code(
    State(st): State<AppState>,
    Authed(c): Authed,
    J(r): J<CodeRequest>,
) -> Result<Json<CodeResponse>, Error> {
    Ok(Json(st.county.issue_code(&c, r.account).await?))
}

pub async fn revoke_code(
    State(st): State<AppState>,
    Authed(c): Authed,
    J(r): J<RevokeCodeRequest>,
) -> Result<StatusCode, Error> {
    st.county.revoke_code(&c, &r.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct SheetQuery {
    format: Option<String>,
    /// The server's address as the handhelds reach it, printed and put in each QR code.
    server: Option<String>,
}

/// Codes for everyone at or under a place: JSON, with `?format=html` the printable sheet, with
/// `?format=both` JSON carrying the sheet too.
pub async fn issue_codes(
    State(st): State<AppState>,
    Authed(c): Authed,
    Q(q): Q<SheetQuery>,
    J(r): J<BulkCodeRequest>,
) -> Result<Response, Error> {
    let format = q.format.as_deref().unwrap_or("json");
    let sheet = match format {
        "html" | "both" => Some(Sheet::new("网格通 登记码 Enrolment codes", q.server)?),
        "json" => None,
        _ => return Err(Error::bad(sync_protocol::Code::UnknownFormat, "format is json, html or both")),
    };
    match (st.county.issue_codes(&c, &r, sheet).await?, format) {
        ((_, Some(html)), "html") => Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()),
        ((codes, sheet), _) => Ok(Json(sync_protocol::api::BulkCodes { sheet, ..codes }).into_response()),
    }
}

pub async fn revoke_codes(
    State(st): State<AppState>,
    Authed(c): Authed,
    J(r): J<BulkRevokeRequest>,
) -> Result<Json<BulkRevoked>, Error> {
    Ok(Json(st.county.revoke_codes(&c, r.node).await?))
}

#[derive(Deserialize)]
pub struct SetupQuery {
    format: Option<String>,
    /// The county's name, when the database holds none yet.
    county: Option<String>,
}

/// The county's setup file as the body, CSV or .xlsx: 200 with what changed, or 422 with every
/// rejected row and nothing written.
pub async fn setup(
    State(st): State<AppState>,
    Admin(c): Admin,
    Q(q): Q<SetupQuery>,
    headers: HeaderMap,
    Body(bytes): Body,
) -> Result<Json<SetupSummary>, Error> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let format = Format::pick(q.format.as_deref(), content_type)?;
    Ok(Json(st.county.setup_structure(&c, q.county.as_deref(), format, bytes.to_vec()).await?))
}

pub async fn devices(State(st): State<AppState>, Authed(c): Authed) -> Result<Json<Vec<Device>>, Error> {
    Ok(Json(st.county.devices(&c).await?))
}

pub async fn revoke(State(st): State<AppState>, Authed(c): Authed, Path(id): Path<Uuid>) -> Result<StatusCode, Error> {
    st.county.revoke_device(&c, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct RosterQuery {
    format: Option<String>,
}

/// A roster file as the body, CSV or .xlsx by `?format=` or Content-Type: 200 with counts, or
/// 422 with every rejected row and nothing written.
pub async fn import_roster(
    State(st): State<AppState>,
    Authed(c): Authed,
    Path(grid): Path<Uuid>,
    Q(q): Q<RosterQuery>,
    headers: HeaderMap,
    Body(bytes): Body,
) -> Result<Json<ImportSummary>, Error> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let format = Format::pick(q.format.as_deref(), content_type)?;
    Ok(Json(st.county.import_roster(&c, grid, format, bytes.to_vec()).await?))
}

/// A grid's roster as a file (`?format=csv|xlsx`, CSV by default).
pub async fn export_roster(
    State(st): State<AppState>,
    Authed(c): Authed,
    Path(grid): Path<Uuid>,
    Q(q): Q<RosterQuery>,
) -> Result<Response, Error> {
    let format = Format::pick(Some(q.format.as_deref().unwrap_or("csv")), None)?;
    let bytes = st.county.export_roster(&c, grid, format).await?;
    let disposition = format!("attachment; filename=\"roster-{grid}.{}\"", format.extension());
    Ok(([(header::CONTENT_TYPE, format.content_type().to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response())
}

/// The audit of personal-data reads, newest first (`?from=&to=&account=&grid=&kind=&limit=`).
pub async fn audit(
    State(st): State<AppState>,
    Authed(c): Authed,
    Q(q): Q<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, Error> {
    Ok(Json(st.county.audit_log(&c, &q).await?))
}

/// The same as a CSV file.
pub async fn audit_csv(State(st): State<AppState>, Authed(c): Authed, Q(q): Q<AuditQuery>) -> Result<Response, Error> {
    let bytes = st.county.audit_csv(&c, &q).await?;
    let disposition = "attachment; filename=\"audit.csv\"".to_string();
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)],
        bytes,
    )
        .into_response())
}
