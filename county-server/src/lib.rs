//! # county-server
//!
//! Merges every device's changes with Automerge, enforces who may see and change what, and
//! serves township and county staff. Storage sits behind [`storage::Storage`]; SQLite is the
//! embedded default.
//!
//! - [`sync`]: one sync round (validate, store durably, acknowledge, catch up)
//! - [`auth`]: enrolment codes, device tokens, scopes
//! - [`api`]: the HTTP routes
//! - [`import`]: bulk creation of records (demo county, rosters)
//! - [`demo`]: the demo county shaped like Yishui

pub mod api;
pub mod auth;
pub mod demo;
pub mod error;
pub mod import;
pub mod server;
pub mod storage;
pub mod sync;
