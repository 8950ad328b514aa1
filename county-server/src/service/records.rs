//! Staff queries over the query tables: residents, houses, disputes, conflicts, a record's
//! history and the overview figures, each within the caller's scope. Lists, conflicts and
//! history mask ID numbers and phones, and so does a resident's record; a masked value is shown
//! in full one field at a time, on a deliberate request ([`County::reveal`]). Every read
//! of personal data is written to the audit log before it is answered ([`super::audit`]).

use sync_protocol::api::{
    AreaQuery, DisputeCounts, DisputeList, DisputeQuery, DisputeView, MapGrid, MapQuery, MaskedField, Overview,
    ReadKind, ResidentQuery, Revealed,
};
use sync_protocol::doc::{self, Conflict, DocKey, HistoryEntry};
use sync_protocol::model::{House, Resident, ResidentSummary};
use sync_protocol::schema::Collection;
use sync_protocol::validate::{mask_id_number, mask_phone};
use uuid::Uuid;

use super::audit::Read;
use super::auth::{check_grid, narrow_scope};
use super::{Caller, County};
use crate::error::{Error, Result};
use crate::storage::Viewer;

/// ID numbers and phones are masked in conflicts and history as in lists and records; the full
/// value is revealed one field at a time.
fn mask_value(field: &str, v: &mut serde_json::Value) {
    let masked = match (field.rsplit('.').next(), v.as_str()) {
        (Some("id_number"), Some(s)) => mask_id_number(s),
        (Some("phone"), Some(s)) => mask_phone(s),
        (Some("birth_date"), Some(s)) => birth_year(s),
        _ => return,
    };
    *v = serde_json::Value::String(masked);
}

/// The year of a birth date: with the full date (and the sex) a masked ID number's tail leaves
/// only the region code to guess, and its check digit confirms the guess.
fn birth_year(date: &str) -> String {
    date.chars().take(4).collect()
}

/// Midnight of the day `now` falls in, China Standard Time.
fn start_of_day_cst(now: i64) -> i64 {
    const DAY: i64 = 86_400_000;
    const CST: i64 = 8 * 3_600_000;
    (now + CST).div_euclid(DAY) * DAY - CST
}

/// The most disputes one staff list answers (a township's overdue list is far shorter).
pub const LIST_LIMIT: u32 = 500;

impl County {
    pub async fn residents(&self, caller: &Caller, q: &ResidentQuery) -> Result<Vec<ResidentSummary>> {
        let scope = caller.records_scope()?;
        check_grid(self.storage(), &scope, q.grid).await?;
        let list: Vec<ResidentSummary> =
            self.storage().residents(&scope, q).await?.into_iter().map(Into::into).collect();
        // How it was searched, never the text searched for (a name, an ID number).
        let how = match q.q.as_deref().and_then(sync_protocol::search::SearchTerm::parse) {
            None => "none".to_string(),
            Some(sync_protocol::search::SearchTerm::Name(n)) => format!("name({} chars)", n.chars().count()),
            Some(sync_protocol::search::SearchTerm::Initials(i)) => format!("initials({} chars)", i.len()),
            Some(sync_protocol::search::SearchTerm::IdTail(t)) => format!("id_tail({} chars)", t.len()),
        };
        let category: String = q.category.as_deref().unwrap_or("").chars().take(32).collect();
        let detail = format!("search={how} category={category} rows={}", list.len());
        self.audit_read(caller, Read::new(ReadKind::ResidentList, q.grid).detail(detail)).await?;
        Ok(list)
    }

    /// A resident's record with the ID number and phone masked and the birth date cut to its
    /// year, as in lists; the read is audited. The full values are [`County::reveal`]'s, one deliberate request each.
    pub async fn resident(&self, caller: &Caller, id: Uuid) -> Result<Resident> {
        let (key, mut r) = self.resident_in_scope(caller, id).await?;
        self.audit_read(caller, Read::new(ReadKind::ResidentRecord, Some(key.grid)).subject(id)).await?;
        r.id_number = r.id_number.as_deref().map(mask_id_number);
        r.phone = r.phone.as_deref().map(mask_phone);
        r.birth_date = birth_year(&r.birth_date);
        Ok(r)
    }

    /// One masked value of a resident's record in full: audited as a `reveal` of that field.
    pub async fn reveal(&self, caller: &Caller, id: Uuid, field: MaskedField) -> Result<Revealed> {
        let (key, r) = self.resident_in_scope(caller, id).await?;
        let read = Read::new(ReadKind::Reveal, Some(key.grid)).subject(id).detail(field.as_str());
        self.audit_read(caller, read).await?;
        let value = match field {
            MaskedField::IdNumber => r.id_number,
            MaskedField::Phone => r.phone,
            MaskedField::BirthDate => Some(r.birth_date),
        };
        Ok(Revealed { field, value })
    }

    async fn resident_in_scope(&self, caller: &Caller, id: Uuid) -> Result<(DocKey, Resident)> {
        let scope = caller.records_scope()?;
        let not_found = || Error::NotFound("no such resident".into());
        let (key, r) = self.storage().resident(id).await?.ok_or_else(not_found)?;
        check_grid(self.storage(), &scope, Some(key.grid)).await.map_err(|_| not_found())?;
        Ok((key, r))
    }

    pub async fn houses(&self, caller: &Caller, grid: Option<Uuid>) -> Result<Vec<House>> {
        let scope = caller.records_scope()?;
        check_grid(self.storage(), &scope, grid).await?;
        let list = self.storage().houses(&scope, grid).await?;
        self.audit_read(caller, Read::new(ReadKind::HouseList, grid).detail(format!("rows={}", list.len()))).await?;
        Ok(list)
    }

    pub async fn disputes(&self, caller: &Caller, q: &DisputeQuery) -> Result<Vec<DisputeView>> {
        let scope = caller.scope()?;
        check_grid(self.storage(), &scope, q.grid).await?;
        let (actor, now) = (caller.account.id, chrono::Utc::now().timestamp_millis());
        let found = match q.list {
            Some(list) => {
                let viewer = Viewer::of(&caller.account, now);
                self.storage().dispute_list(&scope, list, viewer, q, LIST_LIMIT).await?
            }
            None => self.storage().disputes(&scope, q).await?,
        };
        let settings = self.settings();
        let list: Vec<DisputeView> = found
            .into_iter()
            .map(|(grid, d)| {
                DisputeView::for_viewer(
                    grid,
                    d,
                    actor,
                    caller.account.role,
                    Some(caller.account.node),
                    now,
                    &settings.time_limits,
                )
            })
            .collect();
        let which = q.list.map_or("all", |l| l.as_str());
        let read = Read::new(ReadKind::DisputeList, q.grid).detail(format!("list={which} rows={}", list.len()));
        self.audit_read(caller, read).await?;
        Ok(list)
    }

    pub async fn conflicts(&self, caller: &Caller, grid: Option<Uuid>) -> Result<Vec<Conflict>> {
        let scope = caller.records_scope()?;
        check_grid(self.storage(), &scope, grid).await?;
        let mut list = self.storage().conflicts(&scope, grid).await?;
        for c in &mut list {
            for v in &mut c.values {
                mask_value(&c.field, &mut v.value);
            }
        }
        self.audit_read(caller, Read::new(ReadKind::Conflicts, grid).detail(format!("rows={}", list.len()))).await?;
        Ok(list)
    }

    /// Every change of a record, with who made it and when (masked); the read is audited.
    pub async fn history(&self, caller: &Caller, collection: Collection, id: Uuid) -> Result<Vec<HistoryEntry>> {
        let scope = if collection == Collection::Disputes { caller.scope()? } else { caller.records_scope()? };
        let not_found = || Error::NotFound("no such record".into());
        let key = self.storage().record_doc(collection, id).await?.ok_or_else(not_found)?;
        check_grid(self.storage(), &scope, Some(key.grid)).await.map_err(|_| not_found())?;
        let d = self.load_doc(key).await?.ok_or_else(not_found)?;
        let read = Read::new(ReadKind::History, Some(key.grid)).subject(id).detail(collection.as_str());
        self.audit_read(caller, read).await?;
        let mut entries = doc::history(&d, id);
        let people = self.people(entries.iter().filter_map(|e| e.account).collect()).await?;
        for e in &mut entries {
            mask_value(&e.field, &mut e.value);
            e.by = people.iter().find(|p| Some(p.id) == e.account).cloned();
        }
        Ok(entries)
    }

    /// The figures of the caller's scope, or of one place within it.
    pub async fn overview(&self, caller: &Caller, q: &AreaQuery) -> Result<Overview> {
        let (scope, _) = narrow_scope(self.storage(), caller.scope()?, q.node).await?;
        let month_start = DocKey::month_start_ms(chrono::Utc::now().timestamp_millis());
        Ok(self.storage().overview(&scope, month_start).await?)
    }

    /// The caller's grids (or one place's) for the map: boundaries and per-grid figures
    /// (counts only, no person).
    pub async fn map(&self, caller: &Caller, q: &MapQuery) -> Result<Vec<MapGrid>> {
        let (scope, _) = narrow_scope(self.storage(), caller.scope()?, q.node).await?;
        let now = chrono::Utc::now().timestamp_millis();
        let mut grids = self.storage().map_grids(&scope, DocKey::month_start_ms(now), now).await?;
        if q.outlines == Some(false) {
            for g in &mut grids {
                g.boundary = None;
            }
        }
        Ok(grids)
    }

    /// How many disputes each of the workbench's lists holds for the caller.
    pub async fn dispute_counts(&self, caller: &Caller) -> Result<DisputeCounts> {
        let scope = caller.scope()?;
        let now = chrono::Utc::now().timestamp_millis();
        let viewer = Viewer::of(&caller.account, now);
        let today = DisputeQuery { reported_since: Some(start_of_day_cst(now)), ..Default::default() };
        let all = DisputeQuery::default();
        let s = self.storage();
        let (new_today, waiting, overdue, supervised, unaccepted_emergencies, assigned_out) = tokio::try_join!(
            s.dispute_count(&scope, None, viewer, &today),
            s.dispute_count(&scope, Some(DisputeList::Waiting), viewer, &all),
            s.dispute_count(&scope, Some(DisputeList::Overdue), viewer, &all),
            s.dispute_count(&scope, Some(DisputeList::Supervised), viewer, &all),
            s.dispute_count(&scope, Some(DisputeList::UnacceptedEmergencies), viewer, &all),
            s.dispute_count(&scope, Some(DisputeList::AssignedOut), viewer, &all),
        )?;
        Ok(DisputeCounts { new_today, waiting, overdue, supervised, unaccepted_emergencies, assigned_out })
    }

    /// Reads a grid's document for history and similar rare reads.
    pub async fn load_doc(&self, key: DocKey) -> Result<Option<automerge::Automerge>> {
        let stored = self.storage().load_docs(&[key]).await?;
        match stored.into_iter().next() {
            Some(s) => Ok(Some(automerge::Automerge::load(&s.bytes).map_err(Error::internal)?)),
            None => Ok(None),
        }
    }
}
