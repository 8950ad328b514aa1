//! # field-core
//!
//! The device: a local SQLite database holding the grid's records as Automerge documents, the
//! edits not yet acknowledged, and query tables for fast lists; and the sync client. It runs
//! headless (the command-line device, tests) and under the Tauri app alike.
//!
//! ```no_run
//! # async fn demo() -> Result<(), field_core::DeviceError> {
//! let device = field_core::Device::open(std::path::Path::new("device.db"))?;
//! device.enrol("http://127.0.0.1:8080", "K7QM-3WXP-9HTA", "张网格员的手持终端").await?;
//! device.sync().await?; // first sync: a compact snapshot of the grid
//! let hits = device.residents(&field_core::ResidentQuery { q: Some("zs".into()), ..Default::default() })?;
//! println!("{} residents match", hits.len());
//! # Ok(()) }
//! ```

pub mod client;
pub mod crypto;
mod device;
mod error;
mod fetch;
pub mod link;
mod photos;
mod store;
mod sync;

pub use client::{http_client, request_enrolment, request_enrolment_with_ca};
pub use device::{Device, Identity, now_ms};
pub use error::{DeviceError, Result};
pub use photos::{CHUNK_BYTES, MAX_PHOTO_BYTES, hash_of};
// The contract types the device speaks, re-exported for its callers.
pub use sync_protocol::ErrorBody;
pub use sync_protocol::api::ResidentQuery;
pub use sync_protocol::app::{DownloadProgress, NewDispute, NewParty, NewVisit, Quarantined, SyncReport, Workbench};
pub use sync_protocol::org::{Account, GridInfo};
