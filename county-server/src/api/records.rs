//! Staff queries: grids, residents, houses, disputes, conflicts, history, overview; and staff
//! acting on a dispute.

use axum::Json;
use axum::extract::{Path, State};
use sync_protocol::Code;
use sync_protocol::api::{
    AreaQuery, DisputeCounts, DisputeFigures, DisputeQuery, DisputeView, FiguresQuery, GridFilter, MapGrid, MapQuery,
    NewAction, Overview, Place, ResidentQuery, RevealRequest, Revealed,
};
use sync_protocol::doc::{Conflict, HistoryEntry};
use sync_protocol::model::{CountySettings, House, Resident, ResidentSummary};
use sync_protocol::org::GridInfo;
use sync_protocol::schema::Collection;
use uuid::Uuid;

use super::{AppState, Authed, J, Q};
use crate::error::Error;

type R<T> = Result<Json<T>, Error>;

pub async fn grids(State(st): State<AppState>, Authed(c): Authed) -> R<Vec<GridInfo>> {
    Ok(Json(st.county.grids(&c).await?))
}

pub async fn map(State(st): State<AppState>, Authed(c): Authed, Q(q): Q<MapQuery>) -> R<Vec<MapGrid>> {
    Ok(Json(st.county.map(&c, &q).await?))
}

pub async fn places(State(st): State<AppState>, Authed(c): Authed) -> R<Vec<Place>> {
    Ok(Json(st.county.places(&c).await?))
}

pub async fn residents(
    State(st): State<AppState>,
    Authed(c): Authed,
    Q(q): Q<ResidentQuery>,
) -> R<Vec<ResidentSummary>> {
    Ok(Json(st.county.residents(&c, &q).await?))
}

pub async fn resident(State(st): State<AppState>, Authed(c): Authed, Path(id): Path<Uuid>) -> R<Resident> {
    Ok(Json(st.county.resident(&c, id).await?))
}

pub async fn reveal(
    State(st): State<AppState>,
    Authed(c): Authed,
    Path(id): Path<Uuid>,
    J(req): J<RevealRequest>,
) -> R<Revealed> {
    Ok(Json(st.county.reveal(&c, id, req.field).await?))
}

pub async fn houses(State(st): State<AppState>, Authed(c): Authed, Q(f): Q<GridFilter>) -> R<Vec<House>> {
    Ok(Json(st.county.houses(&c, f.grid).await?))
}

pub async fn disputes(State(st): State<AppState>, Authed(c): Authed, Q(q): Q<DisputeQuery>) -> R<Vec<DisputeView>> {
    Ok(Json(st.county.disputes(&c, &q).await?))
}

pub async fn dispute(State(st): State<AppState>, Authed(c): Authed, Path(id): Path<Uuid>) -> R<DisputeView> {
    Ok(Json(st.county.dispute(&c, id).await?))
}

pub async fn act_on_dispute(
    State(st): State<AppState>,
    Authed(c): Authed,
    Path(id): Path<Uuid>,
    J(action): J<NewAction>,
) -> R<DisputeView> {
    Ok(Json(st.county.act_on_dispute(&c, id, &action).await?))
}

pub async fn dispute_figures(
    State(st): State<AppState>,
    Authed(c): Authed,
    Q(q): Q<FiguresQuery>,
) -> R<DisputeFigures> {
    Ok(Json(st.county.dispute_figures(&c, &q).await?))
}

pub async fn conflicts(State(st): State<AppState>, Authed(c): Authed, Q(f): Q<GridFilter>) -> R<Vec<Conflict>> {
    Ok(Json(st.county.conflicts(&c, f.grid).await?))
}

pub async fn history(
    State(st): State<AppState>,
    Authed(c): Authed,
    Path((collection, id)): Path<(String, Uuid)>,
) -> R<Vec<HistoryEntry>> {
    let collection =
        Collection::parse(&collection).ok_or_else(|| Error::bad(Code::UnknownCollection, "unknown collection"))?;
    Ok(Json(st.county.history(&c, collection, id).await?))
}

pub async fn overview(State(st): State<AppState>, Authed(c): Authed, Q(q): Q<AreaQuery>) -> R<Overview> {
    Ok(Json(st.county.overview(&c, &q).await?))
}

pub async fn dispute_counts(State(st): State<AppState>, Authed(c): Authed) -> R<DisputeCounts> {
    Ok(Json(st.county.dispute_counts(&c).await?))
}

/// The county's settings in force (any enrolled caller: they are the rules everyone follows).
pub async fn settings(State(st): State<AppState>, Authed(_): Authed) -> R<CountySettings> {
    Ok(Json((*st.county.settings()).clone()))
}
