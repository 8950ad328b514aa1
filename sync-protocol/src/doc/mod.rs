//! The Automerge document layout, and everything that reads or writes records in it.
//!
//! One document per (grid, collection) for residents, houses and disputes, and one per
//! (grid, month) for visits. The root map holds records keyed by UUID v7; a record is a map of
//! its fields (see [`crate::schema`]). Sets are maps `item → true`, fixed sub-objects are maps,
//! and append-only entries (dispute actions, parties) are maps keyed by UUID v7. Every container
//! is created by the change that creates its record, and each root key is a fresh UUID, so two
//! devices never create the same object concurrently (which would hide one of them).
//!
//! Every change carries a message `{"a": account, "d": device}` and a millisecond timestamp; its
//! actor id is the device id followed by a 4-byte epoch, so the server can check that a device
//! only sends changes it wrote itself.
//!
//! - `key.rs`: naming documents ([`DocKey`]) and authors ([`actor_for`], [`ChangeMeta`])
//! - `read.rs`: records out of a document as JSON
//! - `write.rs`: an edit, or many new records, into a change ([`write_edit`], [`make_change`],
//!   [`bulk_create`]); untrusted bytes into a change ([`parse_change`])
//! - `chunk.rs`: what is read of untrusted bytes before Automerge reads them (chunk type, the
//!   number of operations a change declares)
//! - `check.rs`: [`validate_change`], the judgement of a change against the layout and the schema
//! - `conflicts.rs`: fields with concurrent values, for a person to settle
//! - `history.rs`: who changed what and when; which records new changes touched

mod check;
mod chunk;
mod conflicts;
mod history;
mod key;
mod read;
mod write;

pub use check::{ChangeSummary, validate_change};
pub use chunk::{MAX_CHANGE_OPS, is_change_chunk, is_compressed_chunk};
pub use conflicts::{Conflict, ConflictValue, conflicts, conflicts_of};
pub use history::{HistoryEntry, history, touched_records};
pub use key::{ChangeMeta, DocKey, actor_for, device_of_actor};
pub use read::{read_record, read_record_at, read_records, record_ids};
pub use write::{Edit, bulk_create, make_change, parse_change, write_edit};

/// Up to this many wanted records are looked up one by one; more are read in one pass.
const FEW_RECORDS: usize = 64;
