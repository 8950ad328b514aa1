//! The audit of personal-data reads: every snapshot sent to a device, every staff list, record,
//! history and conflict read, every roster export and every photo is written to the `audit`
//! table before the data leaves the server: who (account, device, role), what, when and from
//! where, never the data itself. A read whose entry cannot be written is refused (fails closed).
//! The county administrator queries and exports the log.
//!
//! Incremental catch-ups of a device's own grids are not entries: the device holds those
//! records already, and every change it receives is in the change log with its author.

use sync_protocol::api::{AuditEntry, AuditQuery, ReadKind};
use uuid::Uuid;

use super::{Caller, County};
use crate::error::{Error, Result};

/// Audit entries written in groups: reads that arrive while a write is under way are written
/// together in the next transaction (one fsync for a morning's worth of syncs, not one each),
/// and every caller returns only once its own entries are committed.
#[derive(Default)]
pub struct AuditWriter {
    pending: std::sync::Mutex<Vec<Waiting>>,
    writing: tokio::sync::Mutex<()>,
}

type Waiting = (Vec<AuditEntry>, tokio::sync::oneshot::Sender<std::result::Result<(), String>>);

impl AuditWriter {
    async fn write(
        &self,
        storage: std::sync::Arc<dyn crate::storage::Storage>,
        entries: Vec<AuditEntry>,
    ) -> std::result::Result<(), String> {
        let (done, written) = tokio::sync::oneshot::channel();
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).push((entries, done));
        {
            // Whoever holds the writer writes everything waiting, its own entries or others'.
            let _writer = self.writing.lock().await;
            let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
            if !batch.is_empty() {
                // In a task of its own: should this request be dropped (its client gone), the
                // batch is still written and every waiter told.
                let write = tokio::spawn(async move {
                    let all: Vec<AuditEntry> = batch.iter().flat_map(|(e, _)| e.iter().cloned()).collect();
                    let result = storage.record_reads(&all).await.map_err(|e| e.to_string());
                    for (_, done) in batch {
                        let _ = done.send(result.clone());
                    }
                });
                let _ = write.await;
            }
        }
        written.await.map_err(|_| "the audit writer stopped".to_string())?
    }
}

/// What one read was, before who and when are added.
#[derive(Debug, Clone)]
pub struct Read {
    pub kind: ReadKind,
    pub grid: Option<Uuid>,
    pub subject: Option<String>,
    pub detail: String,
}

impl Read {
    pub fn new(kind: ReadKind, grid: Option<Uuid>) -> Self {
        Read { kind, grid, subject: None, detail: String::new() }
    }

    pub fn subject(mut self, subject: impl ToString) -> Self {
        self.subject = Some(subject.to_string());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

impl County {
    /// Writes the caller's reads to the audit log, durably, in one transaction.
    pub async fn audit_reads(&self, caller: &Caller, reads: Vec<Read>) -> Result<()> {
        if reads.is_empty() {
            return Ok(());
        }
        let at = chrono::Utc::now().timestamp_millis();
        let entries: Vec<AuditEntry> = reads
            .into_iter()
            .map(|r| AuditEntry {
                at,
                account: caller.account.id,
                device: caller.device.id,
                role: caller.account.role,
                kind: r.kind,
                grid: r.grid,
                subject: r.subject,
                detail: r.detail,
                client: caller.from.map(|a| a.to_string()),
            })
            .collect();
        self.audit_writer.write(self.storage.clone(), entries).await.map_err(|e| {
            tracing::error!(error = %e, "audit entry not written; the read is refused");
            Error::Internal(e)
        })
    }

    /// One read, written before its data is returned.
    pub async fn audit_read(&self, caller: &Caller, read: Read) -> Result<()> {
        self.audit_reads(caller, vec![read]).await
    }

    /// The audit log, newest first (the county administrator only).
    pub async fn audit_log(&self, caller: &Caller, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        caller.require_admin()?;
        Ok(self.storage().audit(q).await?)
    }

    /// The audit log as a CSV file (UTF-8 with a byte-order mark, so Excel reads the Chinese),
    /// for the county administrator.
    pub async fn audit_csv(&self, caller: &Caller, q: &AuditQuery) -> Result<Vec<u8>> {
        let entries = self.audit_log(caller, q).await?;
        let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
        let header = [
            "时间 at",
            "账号 account",
            "设备 device",
            "角色 role",
            "读取 kind",
            "网格 grid",
            "对象 subject",
            "说明 detail",
            "来源 client",
        ];
        w.write_record(header).map_err(Error::internal)?;
        for e in entries {
            let at = chrono::DateTime::from_timestamp_millis(e.at).map(|t| t.to_rfc3339()).unwrap_or_default();
            w.write_record([
                at,
                e.account.to_string(),
                e.device.to_string(),
                e.role.as_str().to_string(),
                e.kind.as_str().to_string(),
                e.grid.map(|g| g.to_string()).unwrap_or_default(),
                e.subject.unwrap_or_default(),
                crate::roster::neutralise_formula(&e.detail),
                e.client.unwrap_or_default(),
            ])
            .map_err(Error::internal)?;
        }
        w.into_inner().map_err(Error::internal)
    }
}
