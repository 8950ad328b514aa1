//! SQLite: the audit of personal-data reads, appended to and read back.

use async_trait::async_trait;
use rusqlite::params;

use super::*;

#[async_trait]
impl Audit for SqliteStorage {
    async fn record_reads(&self, entries: &[AuditEntry]) -> Result<()> {
        let entries = entries.to_vec();
        self.run(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            {
                let mut st = tx
                    .prepare_cached(
                        "INSERT INTO audit (at, account, device, role, kind, grid, subject, detail, client)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )
                    .map_err(db_err)?;
                for e in &entries {
                    st.execute(params![
                        e.at,
                        e.account.to_string(),
                        e.device.to_string(),
                        e.role.as_str(),
                        e.kind.as_str(),
                        e.grid.map(|g| g.to_string()),
                        e.subject,
                        e.detail,
                        e.client
                    ])
                    .map_err(db_err)?;
                }
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let q = q.clone();
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT at, account, device, role, kind, grid, subject, detail, client FROM audit
                     WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR at < ?2) AND (?3 IS NULL OR account = ?3)
                       AND (?4 IS NULL OR grid = ?4) AND (?5 IS NULL OR kind = ?5)
                     ORDER BY at DESC, seq DESC LIMIT ?6",
                )
                .map_err(db_err)?;
            let mut rows = st
                .query(params![
                    q.from,
                    q.to,
                    q.account.map(|a| a.to_string()),
                    q.grid.map(|g| g.to_string()),
                    q.kind.map(ReadKind::as_str),
                    q.limit()
                ])
                .map_err(db_err)?;
            let mut out = Vec::new();
            while let Some(r) = rows.next().map_err(db_err)? {
                let uuid = |i: usize| -> Result<Uuid> {
                    Uuid::parse_str(&r.get::<_, String>(i).map_err(db_err)?).map_err(db_err)
                };
                let grid: Option<String> = r.get(5).map_err(db_err)?;
                out.push(AuditEntry {
                    at: r.get(0).map_err(db_err)?,
                    account: uuid(1)?,
                    device: uuid(2)?,
                    role: parse_role(&r.get::<_, String>(3).map_err(db_err)?).map_err(db_err)?,
                    kind: parse_read_kind(&r.get::<_, String>(4).map_err(db_err)?).map_err(db_err)?,
                    grid: grid.map(|g| Uuid::parse_str(&g)).transpose().map_err(db_err)?,
                    subject: r.get(6).map_err(db_err)?,
                    detail: r.get(7).map_err(db_err)?,
                    client: r.get(8).map_err(db_err)?,
                });
            }
            Ok(out)
        })
        .await
    }
}
