//! Residents (实有人口), houses (实有房屋), visits (入户走访) and disputes (矛盾纠纷/事件) as the
//! app's screens read and write them. Writes go through [`super::Inner::apply_edit`].

use serde_json::{Map, Value, json};
use sync_protocol::api::{DisputeView, NewAction, Place, ResidentQuery};
use sync_protocol::app::{InboxItem, NewDispute, NewVisit};
use sync_protocol::doc::{DocKey, Edit};
use sync_protocol::model::{Action, Dispute, House, Party, Record, Resident, ResidentSummary, Visit};
use sync_protocol::schema::Collection;
use uuid::Uuid;

use super::{Device, now_ms, obj};
use crate::error::{DeviceError, Result};
use crate::store;

impl Device {
    // ---- residents (实有人口) ----

    pub fn create_resident(&self, r: &Resident) -> Result<()> {
        self.edit(self.grid_key(Collection::Residents)?, r.id, true, r.to_fields())
    }

    /// Sets some fields of a resident (`null` clears one).
    pub fn update_resident(&self, id: Uuid, fields: Map<String, Value>) -> Result<()> {
        self.edit(self.grid_key(Collection::Residents)?, id, false, fields)
    }

    /// Archives a resident who moved away or died; the record stays.
    pub fn archive_resident(&self, id: Uuid, reason: &str, on: &str) -> Result<()> {
        self.update_resident(id, obj(json!({"archived_reason": reason, "archived_on": on})))
    }

    /// Who lives where (人房关联): moves a resident into a house, or out of any with `None`.
    pub fn move_resident(&self, id: Uuid, house: Option<Uuid>) -> Result<()> {
        self.update_resident(id, obj(json!({"house_id": house.map(|h| h.to_string())})))
    }

    pub fn residents(&self, q: &ResidentQuery) -> Result<Vec<ResidentSummary>> {
        Ok(store::residents(&self.lock().conn, q)?.into_iter().map(Into::into).collect())
    }

    /// A full resident record (unmasked), for the detail screen.
    pub fn resident(&self, id: Uuid) -> Result<Resident> {
        store::resident(&self.lock().conn, id)?.ok_or_else(|| DeviceError::NotFound(format!("resident {id}")))
    }

    // ---- houses (实有房屋) ----

    pub fn create_house(&self, h: &House) -> Result<()> {
        self.edit(self.grid_key(Collection::Houses)?, h.id, true, h.to_fields())
    }

    pub fn update_house(&self, id: Uuid, fields: Map<String, Value>) -> Result<()> {
        self.edit(self.grid_key(Collection::Houses)?, id, false, fields)
    }

    pub fn houses(&self) -> Result<Vec<House>> {
        store::houses(&self.lock().conn)
    }

    pub fn house(&self, id: Uuid) -> Result<House> {
        store::house(&self.lock().conn, id)?.ok_or_else(|| DeviceError::NotFound(format!("house {id}")))
    }

    // ---- visits (入户走访) ----

    /// Records a household visit by this account; returns its id.
    pub fn record_visit(&self, v: &NewVisit) -> Result<Uuid> {
        let (grid, account) = {
            let inner = self.lock();
            (inner.grid()?, inner.identity()?.account.id)
        };
        let at = v.at.unwrap_or_else(now_ms);
        let visit = Visit {
            id: Uuid::now_v7(),
            house_id: v.house_id,
            resident_id: v.resident_id,
            at,
            by: account,
            clears: v.clears.clone(),
            needs: v.needs.clone().filter(|s| !s.is_empty()),
            hazards_found: v.hazards_found.clone().filter(|s| !s.is_empty()),
            dispute_id: v.dispute_id,
        };
        self.edit(DocKey::visits(grid, DocKey::month_of(at)), visit.id, true, visit.to_fields())?;
        Ok(visit.id)
    }

    pub fn visits(&self, since_ms: i64) -> Result<Vec<Visit>> {
        store::visits(&self.lock().conn, since_ms)
    }

    // ---- disputes (矛盾纠纷/事件) ----

    /// Reports a dispute on the spot: discovery and report times are both recorded.
    pub fn report_dispute(&self, d: &NewDispute) -> Result<Uuid> {
        let (grid, account, role) = {
            let inner = self.lock();
            let id = inner.identity()?;
            (inner.grid()?, id.account.id, id.account.role)
        };
        let now = now_ms();
        let dispute = Dispute {
            id: Uuid::now_v7(),
            class: d.class.clone(),
            category: d.category.clone(),
            parties: d
                .parties
                .iter()
                .map(|p| Party { id: Uuid::now_v7(), resident_id: p.resident_id, name: p.name.clone() })
                .collect(),
            place: d.place.clone(),
            description: d.description.clone(),
            discovered_at: d.discovered_at.unwrap_or(now).min(now),
            reported_at: now,
            reported_by: account,
            actions: vec![Action {
                note: d.note.clone().filter(|s| !s.is_empty()),
                ..Action::new(Uuid::now_v7(), "report", account, role.level(), now)
            }],
            photos: d.photos.clone(),
        };
        self.edit(DocKey::new(grid, Collection::Disputes), dispute.id, true, dispute.to_fields())?;
        Ok(dispute.id)
    }

    /// Takes an action on a dispute (the closed loop's: accept, assign, feedback, verify,
    /// return, escalate, supervise, resolve, evaluate, archive; intervene, mediate), as this
    /// account at its level, after every action the device holds.
    pub fn add_dispute_action(&self, dispute: Uuid, new: &NewAction) -> Result<()> {
        // Under one lock: the action names the last action the device holds, so no sync may
        // land between reading the dispute and writing the action.
        let mut inner = self.lock();
        let account = inner.identity()?.account.clone();
        let not_found = || DeviceError::NotFound(format!("dispute {dispute}"));
        let d = store::dispute(&inner.conn, dispute)?.ok_or_else(not_found)?;
        let grid = store::dispute_grid(&inner.conn, dispute)?.ok_or_else(not_found)?;
        // A place sent to is one of the places this person may send to, at the level named (as
        // last fetched): a dispute sent to no real place would wait for no one.
        if let Some(place) = new.to_node {
            let kept: Vec<Place> =
                store::get_meta(&inner.conn, "places")?.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default();
            if !kept.iter().any(|p| p.id == place && Some(p.level) == new.to_level) {
                return Err(DeviceError::Invalid(sync_protocol::ValidationError::new(
                    sync_protocol::ValidationCode::UnknownValue,
                    Some(dispute),
                    "to_node",
                    "不是可指派的单位 not a place this person may send a dispute to",
                )));
            }
        }
        let action = new.by(account.id, account.role.level(), Some(account.node), now_ms(), &d);
        let fields = obj(json!({"actions": [action]}));
        inner.apply_edit(&Edit {
            doc: DocKey::new(grid, Collection::Disputes),
            record: dispute,
            creating: false,
            fields,
        })
    }

    pub fn disputes(&self, open_only: bool) -> Result<Vec<Dispute>> {
        store::disputes(&self.lock().conn, open_only)
    }

    /// Disputes as this account sees them: where each stands, whether it waits for them (待办),
    /// overdue or not, and the actions they may take (the closed loop's rule).
    pub fn dispute_views(&self, open_only: bool) -> Result<Vec<DisputeView>> {
        let (actor, role, node) = self.viewer()?;
        let now = now_ms();
        let settings = self.county_settings()?;
        let rows = store::disputes_by_grid(&self.lock().conn, open_only)?;
        Ok(rows
            .into_iter()
            .map(|(grid, d)| DisputeView::for_viewer(grid, d, actor, role, Some(node), now, &settings.time_limits))
            .collect())
    }

    pub fn dispute_view(&self, id: Uuid) -> Result<DisputeView> {
        let (actor, role, node) = self.viewer()?;
        let settings = self.county_settings()?;
        let grid = store::dispute_grid(&self.lock().conn, id)?
            .ok_or_else(|| DeviceError::NotFound(format!("dispute {id}")))?;
        Ok(DisputeView::for_viewer(grid, self.dispute(id)?, actor, role, Some(node), now_ms(), &settings.time_limits))
    }

    /// The places this person may send a dispute to (the assign form's choices): fetched from
    /// the county server when it answers and kept; without a connection, the places kept from
    /// the last time (none before the first).
    pub async fn places(&self) -> Result<Vec<Place>> {
        let (server, token) = {
            let inner = self.lock();
            let id = inner.identity()?;
            (id.server.clone(), id.token.clone())
        };
        let fetched = async {
            let server = crate::client::check_server_url(&server)?;
            let req = self.http().get(format!("{server}/v1/places")).bearer_auth(&token);
            let (resp, _) = crate::client::send(req, 0, self.link.up_rate()).await?;
            crate::client::json::<Vec<Place>>(resp).await
        };
        match fetched.await {
            Ok(places) => {
                store::set_meta(&self.lock().conn, "places", &serde_json::to_string(&places).unwrap_or_default())?;
                Ok(places)
            }
            Err(e) if matches!(e, DeviceError::Network(_) | DeviceError::Stalled { .. }) || e.code().is_retryable() => {
                let kept = store::get_meta(&self.lock().conn, "places")?;
                Ok(kept.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default())
            }
            Err(e) => Err(e),
        }
    }

    /// The county settings this device follows (its time limits), as the last sync brought them.
    pub fn county_settings(&self) -> Result<sync_protocol::model::CountySettings> {
        store::county_settings(&self.lock().conn)
    }

    fn viewer(&self) -> Result<(Uuid, sync_protocol::org::Role, Uuid)> {
        let inner = self.lock();
        let id = inner.identity()?;
        Ok((id.account.id, id.account.role, id.account.node))
    }

    /// Notes the actions of others on this person's disputes that the device had not looked at
    /// (after each sync); how many reached the inbox.
    pub fn update_inbox(&self) -> Result<u32> {
        let mut inner = self.lock();
        let account = inner.identity()?.account.clone();
        // The first download is complete when no document is still being fetched.
        let complete = store::fetches(&inner.conn)?.is_empty();
        store::note_new_actions(&mut inner.conn, &account, complete)
    }

    /// Whether disputes changed since the inbox last looked.
    pub fn inbox_due(&self) -> Result<bool> {
        Ok(store::inbox_pending(&self.lock().conn)? > 0)
    }

    /// The inbox: unread first, newest first.
    pub fn inbox(&self) -> Result<Vec<InboxItem>> {
        store::inbox(&self.lock().conn)
    }

    /// A dispute opened: its inbox entries are read.
    pub fn mark_inbox_read(&self, dispute: Uuid) -> Result<()> {
        store::mark_read(&self.lock().conn, dispute)
    }

    pub fn dispute(&self, id: Uuid) -> Result<Dispute> {
        store::dispute(&self.lock().conn, id)?.ok_or_else(|| DeviceError::NotFound(format!("dispute {id}")))
    }
}
