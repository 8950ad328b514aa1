//! Roster files (花名册) in and out of a grid, for people at a desk: imports by the county
//! administrator, exports in full for the administrator and masked for centre staff. The
//! reading, checking and writing of the files is [`crate::roster`].

use sync_protocol::api::{ImportSummary, ReadKind};
use uuid::Uuid;

use super::audit::Read;
use super::auth::check_grid;
use super::{Caller, County};
use crate::error::{Error, Result};
use crate::roster::{self, Format, Reveal};

impl County {
    /// Imports a roster file into a grid: all rows or none (`RosterRejected` with the report).
    pub async fn import_roster(
        &self,
        caller: &Caller,
        grid: Uuid,
        format: Format,
        bytes: Vec<u8>,
    ) -> Result<ImportSummary> {
        caller.require_admin()?;
        check_grid(self.storage(), &caller.scope()?, Some(grid)).await?;
        let author = roster::importer(caller.account.id, caller.device.id);
        roster::import_file(self.storage(), grid, &author, format, bytes, chrono::Utc::now().timestamp_millis()).await
    }

    /// A grid's roster: in full for the county administrator, masked for township and county
    /// centre staff.
    pub async fn export_roster(&self, caller: &Caller, grid: Uuid, format: Format) -> Result<Vec<u8>> {
        let reveal = Reveal::for_role(caller.account.role)
            .ok_or_else(|| Error::Forbidden("roster export is for township and county staff".into()))?;
        check_grid(self.storage(), &caller.scope()?, Some(grid)).await?;
        let file = roster::export(self.storage(), grid, format, reveal, caller.account.id).await?;
        let detail = format!("{format:?} {reveal:?}").to_lowercase();
        self.audit_read(caller, Read::new(ReadKind::RosterExport, Some(grid)).detail(detail)).await?;
        Ok(file)
    }
}
