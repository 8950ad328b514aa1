//! # sync-protocol
//!
//! What the field app and the county server share: the domain model ([`model`]), the one
//! validator ([`schema`], [`validate`]), the Automerge document layout ([`doc`]) and the
//! versioned wire messages ([`wire`]). No database, HTTP or UI dependency lives here.
//!
//! ```
//! use sync_protocol::{doc, model::{Record, Resident}, org::{Author, Role}, schema::Collection};
//! use automerge::Automerge;
//! use uuid::Uuid;
//!
//! let author = Author { account: Uuid::now_v7(), device: Uuid::now_v7(), role: Role::GridWorker, node: None };
//! let grid = Uuid::now_v7();
//! let mut residents = Automerge::new();
//! let zhang = Resident {
//!     id: Uuid::now_v7(), name: "张三".into(), sex: "male".into(), birth_date: "1985-03-12".into(),
//!     id_number: None, phone: Some("13812345678".into()), ethnicity: Some("汉族".into()),
//!     categories: vec!["registered".into()], relation: Some("head".into()), house_id: None,
//!     notes: None, archived_reason: None, archived_on: None,
//! };
//! let edit = doc::Edit { doc: doc::DocKey::new(grid, Collection::Residents), record: zhang.id, creating: true, fields: zhang.to_fields() };
//! // The device validates and makes the change; the server would run `doc::validate_change` on it.
//! let change = doc::make_change(&residents, doc::actor_for(author.device, 0), &edit, &author, 1_764_000_000_000).unwrap().expect("a new record is a change");
//! residents.apply_changes([change]).unwrap();
//! let back = Resident::from_fields(doc::read_record(&residents, Collection::Residents, zhang.id).unwrap()).unwrap();
//! assert_eq!(back, zhang);
//! ```

pub mod api;
pub mod app;
pub mod doc;
pub mod error;
/// The fuzz targets' harness (`fuzz/`), also replayed by `tests/fuzz_corpus.rs`; only with the
/// `fuzzing` feature, so neither the device nor the server carries it.
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod model;
pub mod org;
pub mod pinyin;
pub mod pipeline;
pub mod schema;
pub mod search;
#[cfg(feature = "ts")]
pub mod ts;
pub mod validate;
pub mod wire;

pub use error::{Code, DocError, ErrorBody, ErrorCode, ValidationCode, ValidationError};

/// Records are keyed by UUID v7 (time-ordered, made offline without coordination).
pub type RecordId = uuid::Uuid;
/// A grid (网格) node id.
pub type GridId = uuid::Uuid;
