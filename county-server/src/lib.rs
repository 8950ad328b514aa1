//! # county-server
//!
//! Merges every device's changes with Automerge, enforces who may see and change what, and
//! serves township and county staff. Storage sits behind [`storage::Storage`]; SQLite is the
//! embedded default, PostgreSQL the production backend.
//!
//! - [`sync`]: one sync round (validate, store durably, acknowledge, catch up)
//! - [`auth`]: enrolment codes, device tokens, scopes
//! - [`throttle`]: limits on guessing enrolment codes; [`audit`]: logging refusals
//! - [`tls`]: HTTPS served by the server itself
//! - [`api`]: the HTTP routes
//! - [`import`]: bulk creation of records (demo county, rosters)
//! - [`roster`]: rosters (花名册) read from and written to CSV and Excel files
//! - [`demo`]: the demo county shaped like Yishui

pub mod api;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod demo;
pub mod error;
pub mod import;
pub mod roster;
pub mod server;
pub mod storage;
pub mod sync;
pub mod testing;
pub mod throttle;
pub mod tls;
