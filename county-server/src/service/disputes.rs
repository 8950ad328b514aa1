//! The closed loop from the server's side: staff act on a dispute without a handheld
//! (`POST /v1/disputes/{id}/actions`, and the console after it).
//!
//! An action taken here is exactly what a handheld would have written: the closed loop's rule
//! ([`sync_protocol::model::closed_loop`]) judges it through the same change pipeline
//! ([`pipeline::commit_edit`]), it becomes an Automerge change under an actor of the staff
//! account's own (never a device's, so it cannot collide with what the account's handheld
//! writes), and it is committed like a synced change: into the grid's change log, where every
//! handheld holding the grid's disputes receives it at its next sync, and into the query tables.

use std::sync::Arc;

use automerge::Automerge;
use serde_json::json;
use sync_protocol::DocError;
use sync_protocol::api::{DisputeEvent, DisputeView, NewAction, ReadKind};
use sync_protocol::doc::{self, DocKey, Edit};
use sync_protocol::model::{Action, CountySettings, Dispute, Record};
use sync_protocol::org::{Author, Level};
use sync_protocol::pipeline::{self, Rows};
use sync_protocol::schema::Collection;
use uuid::Uuid;

use super::audit::Read;
use super::auth::check_grid;
use super::sync::{COMMIT_RETRIES, doc_write, log_unreadable};
use super::{Caller, County};
use crate::error::{Error, Result};
use crate::storage::{DISPUTE_RULE, DocWrite, GridCommit, NewChange, StorageError};

impl County {
    /// A place a dispute is sent to: one that exists, within the caller's scope, at the level
    /// it is sent to (a grid, a village, a township or its department, the county or its
    /// department). Anything else would wait for no one.
    async fn check_place(&self, scope: &crate::storage::Scope, place: Uuid, level: Option<Level>) -> Result<()> {
        use crate::storage::Scope;
        let bad = |m: &str| Error::bad(sync_protocol::Code::UnknownNode, m.to_string());
        let node = self.storage().node(place).await?.ok_or_else(|| bad("no such place"))?;
        if level != Some(node.level()) {
            return Err(bad("the place is not at the level the dispute is sent to"));
        }
        let within = match scope {
            Scope::All => true,
            Scope::Township(t) => node.id == *t || node.township == Some(*t),
            Scope::Village(v) => node.id == *v || node.village == Some(*v),
            Scope::Grid(g) => node.id == *g,
        };
        if within { Ok(()) } else { Err(bad("the place is outside your area")) }
    }
}

/// The epoch of the actor a staff account writes with on the server: the account's id and
/// this, where a device's actor is the device's id and a small epoch.
pub const STAFF_EPOCH: u32 = u32::MAX;

impl County {
    /// Takes an action on a dispute as the caller's account, at its role's level; returns the
    /// dispute as it now stands. Refused with the rule's code ([`Error::Invalid`]) when the
    /// rule does not allow it; a dispute outside the caller's scope is not found.
    pub async fn act_on_dispute(&self, caller: &Caller, id: Uuid, new: &NewAction) -> Result<DisputeView> {
        let role = caller.account.role;
        if !role.receives(Collection::Disputes) {
            return Err(Error::Forbidden(format!("{} does not handle disputes", role.as_str())));
        }
        let scope = caller.scope()?;
        let not_found = || Error::NotFound("no such dispute".into());
        let key = self.storage().record_doc(Collection::Disputes, id).await?.ok_or_else(not_found)?;
        check_grid(self.storage(), &scope, Some(key.grid)).await.map_err(|_| not_found())?;
        if let Some(place) = new.to_node {
            self.check_place(&scope, place, new.to_level).await?;
        }
        let author = caller.author();
        let mut attempt = 0;
        loop {
            match self.write_action(key, id, new, &author).await {
                Err(Error::Busy) if attempt < COMMIT_RETRIES => attempt += 1,
                Err(e) => return Err(e),
                Ok(d) => {
                    // The answer names the parties: a read of personal data, audited like a list.
                    let read = Read::new(ReadKind::DisputeList, Some(key.grid)).subject(id).detail(new.kind.clone());
                    self.audit_read(caller, read).await?;
                    let now = chrono::Utc::now().timestamp_millis();
                    let people = self.people_of(&d).await?;
                    let limits = &self.settings().time_limits;
                    let mut view = DisputeView::for_viewer(key.grid, d, author.account, role, author.node, now, limits);
                    view.people = people;
                    return Ok(view);
                }
            }
        }
    }

    /// One dispute as the caller sees it (its timeline, parties and the actions they may take
    /// now), read as the lists read it (`records::disputes`): within the caller's scope, where
    /// one outside is not found. Audited: it names the parties.
    pub async fn dispute(&self, caller: &Caller, id: Uuid) -> Result<DisputeView> {
        let role = caller.account.role;
        let scope = caller.scope()?;
        let not_found = || Error::NotFound("no such dispute".into());
        let (key, d) = self.storage().dispute(id).await?.ok_or_else(not_found)?;
        check_grid(self.storage(), &scope, Some(key.grid)).await.map_err(|_| not_found())?;
        self.audit_read(caller, Read::new(ReadKind::DisputeList, Some(key.grid)).subject(id).detail("view")).await?;
        let now = chrono::Utc::now().timestamp_millis();
        let (account, node) = (caller.account.id, Some(caller.account.node));
        let people = self.people_of(&d).await?;
        let mut view = DisputeView::for_viewer(key.grid, d, account, role, node, now, &self.settings().time_limits);
        view.people = people;
        Ok(view)
    }

    /// The people a dispute's actions name: who acted, to whom it was assigned.
    async fn people_of(&self, d: &sync_protocol::model::Dispute) -> Result<Vec<sync_protocol::org::Account>> {
        self.people(d.actions.iter().flat_map(|a| [Some(a.actor), a.to_account]).flatten().collect()).await
    }

    /// The accounts of these ids that exist, each once (a dispute's or a record's people: a few).
    pub(super) async fn people(&self, ids: Vec<Uuid>) -> Result<Vec<sync_protocol::org::Account>> {
        let ids: std::collections::BTreeSet<Uuid> = ids.into_iter().collect();
        let mut people = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(a) = self.storage().account(id).await? {
                people.push(a);
            }
        }
        Ok(people)
    }

    /// Derives again, from their documents, every dispute row an older version of the closed
    /// loop's rule derived ([`DISPUTE_RULE`]): a server starting on a county stored by an
    /// older one has its lists right before it answers. Returns how many disputes.
    pub async fn upgrade_rows(&self) -> Result<usize> {
        let settings = self.settings();
        let mut stale = self.storage().stale_dispute_docs(DISPUTE_RULE, settings.version).await?;
        stale.retain(|k| !self.settings.is_unreadable(k));
        if stale.is_empty() {
            return Ok(0);
        }
        let started = std::time::Instant::now();
        tracing::info!(documents = stale.len(), rule = DISPUTE_RULE, "deriving dispute rows again by the current rule");
        let (mut n, mut failed) = (0, 0);
        for (i, key) in stale.iter().enumerate() {
            match self.upgrade_doc(*key).await {
                Ok(count) => n += count,
                // Written by others all along: tried again at the next sweep.
                Err(Error::Busy) => failed += 1,
                Err(e) => {
                    // One unreadable document must not keep the county offline: its rows stay as
                    // they were, and it is tried again at the next start (not at every sweep).
                    failed += 1;
                    self.settings.note_unreadable(*key);
                    tracing::error!(doc = %key, error = %e, "dispute rows not derived again");
                }
            }
            if (i + 1) % 500 == 0 {
                tracing::info!(done = i + 1, of = stale.len(), "deriving dispute rows again");
            }
        }
        tracing::info!(disputes = n, failed, ms = started.elapsed().as_millis() as u64, "dispute rows derived again");
        Ok(n)
    }

    /// One document's rows derived again, committed only if the document is still at the version
    /// they were derived from (another server may be serving the same database).
    async fn upgrade_doc(&self, key: DocKey) -> Result<usize> {
        for _ in 0..COMMIT_RETRIES {
            let Some(stored) = self.storage().load_docs(&[key]).await?.into_iter().next() else { return Ok(0) };
            let version = stored.version;
            let rows = tokio::task::spawn_blocking(move || -> Result<Rows> {
                let doc = Automerge::load(&stored.bytes).map_err(Error::internal)?;
                let mut rows = Rows::default();
                pipeline::project(&doc, key, &doc::record_ids(&doc), &mut rows);
                Ok(rows)
            })
            .await
            .map_err(Error::internal)??;
            log_unreadable(&rows);
            let n = rows.disputes.len();
            // An empty append checks the version in the commit's own transaction.
            let check = DocWrite::append(key, version, Vec::new());
            let commit =
                GridCommit { grid: key.grid, docs: vec![check], changes: vec![], rows, settings: self.settings() };
            match self.storage().commit(commit).await {
                Ok(_) => return Ok(n),
                Err(StorageError::Contention(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Busy)
    }

    /// One attempt: the document as stored, the action judged and applied, one commit.
    async fn write_action(&self, key: DocKey, id: Uuid, new: &NewAction, author: &Author) -> Result<Dispute> {
        let version = self
            .storage()
            .doc_versions(&[key])
            .await?
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .ok_or_else(|| Error::NotFound("no such dispute".into()))?;
        let (doc, version) = match self.docs.take(&key, version) {
            Some(doc) => (doc, version),
            None => {
                let stored = self.storage().load_docs(&[key]).await?;
                let s = stored.into_iter().next().ok_or_else(|| Error::NotFound("no such dispute".into()))?;
                (Automerge::load(&s.bytes).map_err(Error::internal)?, s.version)
            }
        };
        let (new, author_c, settings) = (new.clone(), author.clone(), self.settings());
        let (doc, written) = tokio::task::spawn_blocking(move || act(doc, key, version, id, &new, &author_c, settings))
            .await
            .map_err(Error::internal)?;
        let (commit, dispute, action) = match written {
            Ok(w) => w,
            Err(Refusal { error, unchanged }) => {
                if unchanged {
                    // The rule refused it before anything was applied: the document is as stored.
                    self.docs.put(key, version, doc);
                }
                return Err(error);
            }
        };
        let commit_settings = commit.settings.clone();
        match self.storage().commit(commit).await {
            Ok(_) => {
                self.docs.put(key, version + 1, doc);
                let event =
                    DisputeEvent::new(&action.kind, key.grid, &dispute, action.at, &commit_settings.time_limits);
                self.publish(key.grid, vec![event]).await;
                Ok(dispute)
            }
            Err(StorageError::Contention(_)) => Err(Error::Busy),
            Err(e) => Err(e.into()),
        }
    }
}

/// Why [`act`] wrote nothing, and whether the document it was given is still as stored.
struct Refusal {
    error: Error,
    unchanged: bool,
}

/// The CPU-bound part: the action made, judged and applied to `doc` (stored at `version`), and
/// the commit that stores it. The document comes back either way.
fn act(
    mut doc: Automerge,
    key: DocKey,
    version: u64,
    id: Uuid,
    new: &NewAction,
    author: &Author,
    settings: Arc<CountySettings>,
) -> (Automerge, std::result::Result<(GridCommit, Dispute, Action), Refusal>) {
    let before = doc.get_heads();
    let unchanged = |error: Error| Refusal { error, unchanged: true };
    let current = match doc::read_record(&doc, Collection::Disputes, id)
        .ok_or_else(|| Error::NotFound("no such dispute".into()))
        .and_then(|f| Dispute::from_fields(f).map_err(Error::internal))
    {
        Ok(d) => d,
        Err(e) => return (doc, Err(unchanged(e))),
    };
    let now = chrono::Utc::now().timestamp_millis();
    let action = new.by(author.account, author.role.level(), author.node, now, &current);
    let mut fields = serde_json::Map::new();
    fields.insert("actions".into(), json!([&action]));
    let edit = Edit { doc: key, record: id, creating: false, fields };
    let actor = doc::actor_for(author.account, STAFF_EPOCH);
    let change = match pipeline::commit_edit(&mut doc, actor, &edit, author, now) {
        Ok(Some((change, _))) => change,
        // `commit_edit` leaves the document unchanged on every error.
        Ok(None) => return (doc, Err(unchanged(Error::internal("an action changed nothing")))),
        Err(DocError::Invalid(e)) => return (doc, Err(unchanged(Error::Invalid(e)))),
        Err(e) => return (doc, Err(unchanged(Error::internal(e)))),
    };
    // Applied from here on: a failure leaves a document that must not be cached.
    let changed = |error: Error| Refusal { error, unchanged: false };
    let mut rows = Rows::default();
    pipeline::project(&doc, key, &[id], &mut rows);
    log_unreadable(&rows);
    let Some(dispute) = rows.disputes.first().map(|(_, d)| d.clone()) else {
        return (doc, Err(changed(Error::internal(format!("dispute {id} does not read back after an action")))));
    };
    let commit = GridCommit {
        grid: key.grid,
        docs: vec![doc_write(key, Some(version), &doc, &before)],
        changes: vec![NewChange {
            doc: key,
            hash: change.hash().0,
            bytes: change.raw_bytes().to_vec(),
            // Logged as the staff actor's, never as the calling device's: a device is not sent
            // the changes it sent itself, and this one it did not send.
            device: author.account,
            account: author.account,
        }],
        rows,
        settings,
    };
    (doc, Ok((commit, dispute, action)))
}
