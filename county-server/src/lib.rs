//! # county-server
//!
//! Merges every device's changes with Automerge, enforces who may see and change what, and
//! serves township and county staff. Layers, from the bottom:
//!
//! - [`storage`]: one trait in domain types; SQLite is the embedded default, PostgreSQL the
//!   production backend
//! - [`service`]: everything the server does, behind [`service::County`], returning [`Error`]
//!   (a stable code, and whether a retry can help); [`roster`] reads and writes roster files
//! - [`api`]: HTTP routes that call services and map errors to statuses, nothing else
//! - [`server`]: opening storage from a URL, binding, serving (HTTPS through [`tls`])
//!
//! The command line (`main.rs`) and the demo county ([`demo`], feature `demo`) call services,
//! never routes. The contracts every side shares live in `sync-protocol`.

pub mod api;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod idle;
pub mod roster;
pub mod server;
pub mod service;
pub mod setup;
pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;

pub use error::{Error, Result};
