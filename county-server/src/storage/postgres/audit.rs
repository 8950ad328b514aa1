//! PostgreSQL: the audit of personal-data reads, appended to and read back.

use async_trait::async_trait;
use sqlx_core::row::Row;

use super::*;

#[async_trait]
impl Audit for PostgresStorage {
    async fn record_reads(&self, entries: &[AuditEntry]) -> Result<()> {
        // One statement for the batch, its columns as arrays.
        sqlx_core::query::query(
            "INSERT INTO audit (at, account, device, role, kind, grid, subject, detail, client)
             SELECT * FROM UNNEST($1::int8[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[],
                                  $7::text[], $8::text[], $9::text[])",
        )
        .bind(entries.iter().map(|e| e.at).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.account).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.device).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.role.as_str()).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.grid).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.subject.clone()).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.detail.clone()).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.client.clone()).collect::<Vec<_>>())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let rows = sqlx_core::query::query(
            "SELECT at, account, device, role, kind, grid, subject, detail, client FROM audit
             WHERE ($1::int8 IS NULL OR at >= $1) AND ($2::int8 IS NULL OR at < $2)
               AND ($3::uuid IS NULL OR account = $3) AND ($4::uuid IS NULL OR grid = $4)
               AND ($5::text IS NULL OR kind = $5)
             ORDER BY at DESC, seq DESC LIMIT $6",
        )
        .bind(q.from)
        .bind(q.to)
        .bind(q.account)
        .bind(q.grid)
        .bind(q.kind.map(ReadKind::as_str))
        .bind(i64::from(q.limit()))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: r.try_get(0).map_err(db_err)?,
                    account: r.try_get(1).map_err(db_err)?,
                    device: r.try_get(2).map_err(db_err)?,
                    role: parse_role(r.try_get(3).map_err(db_err)?).map_err(db_err)?,
                    kind: parse_read_kind(r.try_get(4).map_err(db_err)?).map_err(db_err)?,
                    grid: r.try_get(5).map_err(db_err)?,
                    subject: r.try_get(6).map_err(db_err)?,
                    detail: r.try_get(7).map_err(db_err)?,
                    client: r.try_get(8).map_err(db_err)?,
                })
            })
            .collect()
    }
}
