//! The one path a change takes, wherever it is taken: on the county server for every change a
//! device sends, on the device for every edit the worker makes, and in the fuzz targets.
//!
//! 1. [`Ingest::admit`]: bytes into a change by the sender's own device and account (no
//!    document needed, so the server does it before loading anything);
//! 2. [`Ingest::offer`]: already stored (a retry) → skipped; built on a refused change →
//!    refused too; a dependency missing → refused; [`doc::validate_change`]; applied;
//! 3. [`project`]: the touched records read back as typed query rows, once, for whichever
//!    store keeps them (the server's tables, the device's).
//!
//! The device makes its own changes with [`commit_edit`], which validates the edit, makes the
//! change and takes it through step 2 exactly as the server will.
//!
//! ```
//! use sync_protocol::{doc, pipeline::{self, Ingest, Outcome}, model::{Record, Resident}};
//! use sync_protocol::org::{Author, Role};
//! use sync_protocol::schema::Collection;
//! use automerge::Automerge;
//! use uuid::Uuid;
//!
//! let worker = Author { account: Uuid::now_v7(), device: Uuid::now_v7(), role: Role::GridWorker, node: None };
//! let key = doc::DocKey::new(Uuid::now_v7(), Collection::Residents);
//! let li = Resident {
//!     id: Uuid::now_v7(), name: "李四".into(), sex: "male".into(), birth_date: "1990-01-02".into(),
//!     id_number: None, phone: None, ethnicity: None, categories: vec![], relation: None, house_id: None,
//!     notes: None, archived_reason: None, archived_on: None,
//! };
//! // On the device: the worker's edit becomes a change in the device's copy.
//! let mut on_device = Automerge::new();
//! let edit = doc::Edit { doc: key, record: li.id, creating: true, fields: li.to_fields() };
//! let (change, _) = pipeline::commit_edit(&mut on_device, doc::actor_for(worker.device, 0), &edit, &worker, 1_764_000_000_000)
//!     .unwrap().expect("a new record is a change");
//! // On the server: the same bytes, the same checks.
//! let mut ingest = Ingest::default();
//! let change = ingest.admit(change.raw_bytes(), &worker).unwrap();
//! let mut on_server = Automerge::new();
//! let before = on_server.get_heads();
//! assert!(matches!(ingest.offer(&mut on_server, Collection::Residents, &change, &worker).unwrap(), Outcome::Applied(_)));
//! let mut rows = pipeline::Rows::default();
//! pipeline::project(&on_server, key, &doc::touched_records(&on_server, &before), &mut rows);
//! assert_eq!(rows.residents[0].1, li);
//! ```

use std::collections::{BTreeSet, HashMap, HashSet};

use automerge::{ActorId, Automerge, Change, ChangeHash, ReadDoc};
use uuid::Uuid;

use crate::doc::{self, ChangeMeta, ChangeSummary, Conflict, DocKey, Edit};
use crate::error::{Code, DocError, ErrorCode, ValidationError};
use crate::model::{Dispute, House, Record, Resident, Visit};
use crate::org::Author;
use crate::schema::Collection;
use crate::wire::Refusal;
use crate::{RecordId, ValidationCode};

/// Why one change was refused: a stable code, and the record and field when the validator
/// named them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: ErrorCode,
    pub record: Option<RecordId>,
    pub field: String,
    pub message: String,
}

impl Refused {
    pub fn new(code: impl Into<ErrorCode>, message: &str) -> Self {
        Refused { code: code.into(), record: None, field: String::new(), message: message.into() }
    }

    /// As the sync answer lists it, for the change at `index` of the request.
    pub fn at(self, index: u32) -> Refusal {
        Refusal { index, code: self.code, record: self.record, field: self.field, message: self.message }
    }
}

impl From<ValidationError> for Refused {
    fn from(e: ValidationError) -> Self {
        Refused { code: e.code.into(), record: e.record, field: e.field, message: e.message }
    }
}

/// What became of a change offered to a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Validated and applied.
    Applied(ChangeSummary),
    /// The document already holds it: a retry after a lost answer. Nothing to do.
    AlreadyStored,
    Refused(Refused),
}

/// The checks of one batch of changes from one sender. It remembers every change it refused,
/// so a later change built on one is refused as well (`dependency_refused`: the device
/// re-enters that edit on its own).
#[derive(Debug, Clone, Default)]
pub struct Ingest {
    refused: HashSet<ChangeHash>,
}

impl Ingest {
    /// Bytes into a change that `author`'s own device made under `author`'s account. Needs no
    /// document, so it runs before anything is loaded.
    pub fn admit(&mut self, bytes: &[u8], author: &Author) -> Result<Change, Refused> {
        if doc::is_compressed_chunk(bytes) {
            return Err(Refused::new(Code::CompressedChange, "compressed changes are not accepted; send it as it is"));
        }
        // Through the shared parser: Automerge's own panics on some crafted bytes (found by
        // fuzzing), and those bytes are refused like any other non-change.
        let change =
            doc::parse_change(bytes).ok_or_else(|| Refused::new(Code::MalformedChange, "not an Automerge change"))?;
        if doc::device_of_actor(change.actor_id()) != Some(author.device) {
            self.refused.insert(change.hash());
            return Err(Refused::new(Code::ForeignActor, "a device may only send changes it made itself"));
        }
        if ChangeMeta::parse(change.message()) != Some(ChangeMeta { account: author.account, device: author.device }) {
            self.refused.insert(change.hash());
            return Err(Refused::new(ValidationCode::ActorMismatch, "the change's author does not match this device"));
        }
        Ok(change)
    }

    /// Refuses a change for a reason found outside the pipeline (the server's scope check, say),
    /// so what builds on it is refused too.
    pub fn refuse(&mut self, change: &Change) {
        self.refused.insert(change.hash());
    }

    /// Takes an admitted change into the document it belongs to: skipped if stored, refused if
    /// built on a refused change or on one the document lacks, then validated and applied.
    pub fn offer(
        &mut self,
        doc: &mut Automerge,
        collection: Collection,
        change: &Change,
        author: &Author,
    ) -> Result<Outcome, DocError> {
        let hash = change.hash();
        if doc.get_change_by_hash(&hash).is_some() {
            return Ok(Outcome::AlreadyStored);
        }
        let refused = if change.author().is_some() {
            // Devices never name an author; automerge asserts on one past an actor's first change.
            Refused::new(Code::MalformedChange, "a change naming an author")
        } else if change.deps().iter().any(|d| self.refused.contains(d)) {
            Refused::new(Code::DependencyRefused, "built on a refused change")
        } else if !doc.get_missing_deps(change.deps()).is_empty() {
            // Automerge would queue it silently and the server would acknowledge a change it
            // does not hold.
            Refused::new(Code::MissingDependency, "the server lacks a change this one depends on")
        } else {
            match doc::validate_change(doc, collection, change, author) {
                Ok(summary) => {
                    apply_guarded(doc, change)?;
                    return Ok(Outcome::Applied(summary));
                }
                Err(e) => Refused::from(e),
            }
        };
        self.refused.insert(hash);
        Ok(Outcome::Refused(refused))
    }
}

/// Applies a change that passed every check. automerge 0.12 refuses a sequence number its actor
/// already used, and asserts, rather than refuses, on one that skips ahead (found by fuzzing: a
/// forged sequence panicked the server's sync worker; the other answered 500). Both come back as
/// [`DocError::Poisoned`]: the change is refused `malformed_change`, and the document, which a
/// failed assertion may have left half-changed, must be dropped.
fn apply_guarded(doc: &mut Automerge, change: &Change) -> Result<(), DocError> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.apply_changes([change.clone()])));
    match outcome {
        Ok(Ok(_)) => Ok(()),
        // Refused by automerge itself (a sequence number used twice): the change, not the server.
        Ok(Err(e)) => Err(DocError::Poisoned(e.to_string())),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(DocError::Poisoned(what))
        }
    }
}

/// Whether automerge would assert applying `change` to `doc` (its sequence number does not
/// follow its actor's last there). Reads every change's metadata: for tests and fuzzing, where
/// a caught panic still aborts (libFuzzer's panic hook), not for the server's path.
pub fn breaks_actor_sequence(doc: &Automerge, change: &Change) -> bool {
    let actor = change.actor_id();
    let held = doc.get_changes_meta(&[]).iter().filter(|m| m.actor.as_ref() == actor).count() as u64;
    change.seq() != held + 1
}

/// The device's path for one edit: validated, made into a change on `doc` and taken through
/// [`Ingest::offer`] as the server will take it. `None` when the edit changes nothing. On an
/// error `doc` is unchanged.
pub fn commit_edit(
    doc: &mut Automerge,
    actor: ActorId,
    edit: &Edit,
    author: &Author,
    time_ms: i64,
) -> Result<Option<(Change, ChangeSummary)>, DocError> {
    let Some(change) = doc::write_edit(doc, actor, edit, author, time_ms)? else { return Ok(None) };
    match Ingest::default().offer(doc, edit.doc.collection, &change, author)? {
        Outcome::Applied(summary) => Ok(Some((change, summary))),
        Outcome::AlreadyStored => Ok(None),
        Outcome::Refused(r) => Err(match r.code {
            ErrorCode::Invalid(code) => ValidationError::new(code, r.record, r.field, r.message).into(),
            _ => DocError::Corrupt(r.message),
        }),
    }
}

/// The query rows of some records of some documents: what a store keeps so that lists and
/// searches never parse documents. Built by [`project`], once, for the server and the device.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    pub residents: Vec<(DocKey, Resident)>,
    pub houses: Vec<(DocKey, House)>,
    pub visits: Vec<(DocKey, Visit)>,
    pub disputes: Vec<(DocKey, Dispute)>,
    /// Open conflicts of every projected record (an empty list clears a record's conflicts).
    pub conflicts: Vec<(DocKey, RecordId, Vec<Conflict>)>,
    /// Records asked for that the document does not hold (a refused creation, on a device).
    pub gone: Vec<(DocKey, RecordId)>,
    /// Records whose fields do not read as their type, with why. A validated change never
    /// makes one; a store says so rather than keep a wrong row.
    pub unreadable: Vec<(DocKey, RecordId, String)>,
}

/// Reads `records` of a document back into typed rows (one pass over the document for the
/// records, one for their conflicts).
pub fn project(doc: &Automerge, key: DocKey, records: &[Uuid], rows: &mut Rows) {
    let only: BTreeSet<Uuid> = records.iter().copied().collect();
    let found = doc::read_records(doc, key.collection, Some(&only));
    for id in records {
        if !found.iter().any(|(f, _)| f == id) {
            rows.gone.push((key, *id));
        }
    }
    for (id, fields) in found {
        let parsed = match key.collection {
            Collection::Residents => Resident::from_fields(fields).map(|r| rows.residents.push((key, r))),
            Collection::Houses => House::from_fields(fields).map(|r| rows.houses.push((key, r))),
            Collection::Visits => Visit::from_fields(fields).map(|r| rows.visits.push((key, r))),
            Collection::Disputes => Dispute::from_fields(fields).map(|r| rows.disputes.push((key, r))),
        };
        if let Err(e) = parsed {
            rows.unreadable.push((key, id, e.to_string()));
        }
    }
    let mut by_record: HashMap<Uuid, Vec<Conflict>> = HashMap::new();
    for c in doc::conflicts_of(doc, key.collection, Some(&only)) {
        by_record.entry(c.record).or_default().push(c);
    }
    for id in records {
        rows.conflicts.push((key, *id, by_record.remove(id).unwrap_or_default()));
    }
}
