//! The server's services: everything it does, in domain terms, behind one handle ([`County`]).
//! The HTTP layer (`api/`) only turns requests into calls here and [`crate::Error`]s into
//! statuses; the command line and the demo call the same functions. No axum type appears here.
//!
//! - [`auth`]: device tokens, callers and scopes
//! - [`enrolment`]: enrolment codes, their limits, devices and revocation
//! - [`accounts`]: accounts and who is calling
//! - [`sync`]: one sync round (the change pipeline, storage, catch-up), admitted a few at a time
//! - [`figures`]: the loop's figures of a month (the three first-times, where settled)
//! - [`events`]: the staff's live stream of what happens to disputes
//! - [`disputes`]: the closed loop from the server: staff act on a dispute without a handheld
//! - [`records`]: staff queries over the query tables, masked, every read audited
//! - [`audit`]: the durable log of personal-data reads, for the county administrator
//! - [`blobs`]: photos, uploaded in chunks that resume
//! - [`ranges`]: byte ranges of a grid's documents, for a snapshot fetched over a weak link
//! - [`import`]: bulk creation of records (the demo county, rosters)
//! - [`rosters`]: roster files in and out, for the county administrator and centre staff
//! - [`sessions`]: staff log-ins to the console (passwords, sessions, CSRF)
//! - [`settings`]: the county's settings every replica follows (the loop's time limits)
//! - [`structure`]: the county's places and people from a setup file; enrolment codes in bulk
//!
//! A new staff feature (the dispute loop, the console's screens) is a module here with its
//! storage in `storage/` and its routes in `api/`.
//!
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! use county_server::service::County;
//! let county = County::new(county_server::server::open_storage("county.db").await?);
//! let caller = county.authenticate(Some("gk_…")).await?;
//! let residents = county.residents(&caller, &Default::default()).await?;
//! # Ok(()) }
//! ```

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod blobs;
pub mod cache;
pub mod disputes;
pub mod enrolment;
pub mod events;
pub mod figures;
pub mod import;
pub mod ranges;
pub mod records;
pub mod rosters;
pub mod second_factor;
pub mod sessions;
pub mod settings;
pub mod structure;
pub mod sync;

use std::sync::Arc;

pub use auth::Caller;

use crate::error::Result;
use crate::storage::Storage;

/// A county's server state: its storage and what a server keeps in memory (the document
/// cache, which is not state, and the admission of syncs). Cheap to share behind an `Arc`.
pub struct County {
    pub storage: Arc<dyn Storage>,
    pub limits: sync::Limits,
    pub enrolment_limits: enrolment::EnrolmentLimits,
    /// Enrolment attempts counted in this process (no database write per attempt).
    pub attempts: enrolment::Attempts,
    /// Documents kept loaded between syncs (checked against stored versions).
    pub docs: cache::DocCache,
    /// How many syncs run at once (`GRIDKEEPER_SYNC_SLOTS`, default four per core).
    pub sync_slots: tokio::sync::Semaphore,
    /// What one device may upload.
    pub uploads: blobs::UploadLimits,
    /// How far each device has been served each grid (to audit rewound positions).
    pub served: sync::Served,
    /// Writes the audit of reads in groups.
    pub audit_writer: audit::AuditWriter,
    /// Upload starts, checked against the device's quota and stored one at a time.
    pub upload_starts: tokio::sync::Mutex<()>,
    /// The staff's live streams.
    pub events: events::Events,
    /// The county settings in force (read from storage at start and every few seconds).
    pub settings: settings::Current,
    /// Console log-in attempts, and the password hashing they may run at once.
    pub log_ins: sessions::LogInLimits,
}

impl County {
    /// A county with the default limits.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self::with_limits(storage, sync::Limits::default(), enrolment::EnrolmentLimits::default())
    }

    pub fn with_limits(
        storage: Arc<dyn Storage>,
        limits: sync::Limits,
        enrolment_limits: enrolment::EnrolmentLimits,
    ) -> Self {
        County {
            storage,
            limits,
            enrolment_limits,
            attempts: enrolment::Attempts::default(),
            docs: cache::DocCache::from_env(),
            sync_slots: tokio::sync::Semaphore::new(sync::slots_from_env()),
            uploads: blobs::UploadLimits::default(),
            served: sync::Served::default(),
            audit_writer: audit::AuditWriter::default(),
            upload_starts: tokio::sync::Mutex::new(()),
            events: events::Events::default(),
            settings: settings::Current::default(),
            log_ins: sessions::LogInLimits::default(),
        }
    }

    pub fn storage(&self) -> &dyn Storage {
        self.storage.as_ref()
    }

    /// The caller holding a device token.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Caller> {
        auth::authenticate(self.storage(), token).await
    }
}
