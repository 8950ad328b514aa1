//! PostgreSQL: photos and other attachments: content-addressed blobs, uploaded in chunks, each
//! kept within its grid (the same bytes in two grids are two blobs, and an upload into one
//! grid never touches another's).

use async_trait::async_trait;
use sha2::Digest;
use sqlx_core::row::Row;
use uuid::Uuid;

use super::*;

#[async_trait]
impl Blobs for PostgresStorage {
    async fn put_blob_chunk(&self, hash: &str, upload: Upload, bytes: &[u8]) -> Result<BlobState> {
        let Upload { grid, device, total, offset, at } = upload;
        let mut tx = self.begin().await?;
        if offset == 0 {
            sqlx_core::query::query(
                "INSERT INTO blobs (hash, grid, total, received, complete, device, started_at, touched_at)
                 VALUES ($1, $2, $3, 0, FALSE, $4, $5, $5)
                 ON CONFLICT (grid, hash) DO NOTHING",
            )
            .bind(hash)
            .bind(grid)
            .bind(total as i64)
            .bind(device)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let current = sqlx_core::query::query(
            "SELECT grid, total, received, complete FROM blobs WHERE hash = $1 AND grid = $2 FOR UPDATE",
        )
        .bind(hash)
        .bind(grid)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(row) = current else {
            return Ok(BlobState { grid, total, received: 0, complete: false });
        };
        let (g, t, rcv, done): (Uuid, i64, i64, bool) = (
            row.try_get(0).map_err(db_err)?,
            row.try_get(1).map_err(db_err)?,
            row.try_get(2).map_err(db_err)?,
            row.try_get(3).map_err(db_err)?,
        );
        if done || rcv as u64 != offset || t as u64 != total {
            // Complete already, or not where this chunk starts: say where we are.
            tx.commit().await.map_err(db_err)?;
            return Ok(BlobState { grid: g, total: t as u64, received: rcv as u64, complete: done });
        }
        let received = offset + bytes.len() as u64;
        if received > total {
            return Err(StorageError::Database("chunk goes past the declared size".into()));
        }
        sqlx_core::query::query("INSERT INTO blob_chunks (hash, grid, \"offset\", data) VALUES ($1, $2, $3, $4)")
            .bind(hash)
            .bind(grid)
            .bind(offset as i64)
            .bind(bytes)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
        sqlx_core::query::query("UPDATE blobs SET received = $2, touched_at = $4 WHERE hash = $1 AND grid = $3")
            .bind(hash)
            .bind(received as i64)
            .bind(grid)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let mut complete = false;
        if received == total {
            let chunks: Vec<Vec<u8>> = sqlx_core::query_scalar::query_scalar(
                "SELECT data FROM blob_chunks WHERE hash = $1 AND grid = $2 ORDER BY \"offset\"",
            )
            .bind(hash)
            .bind(grid)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
            let data = chunks.concat();
            sqlx_core::query::query("DELETE FROM blob_chunks WHERE hash = $1 AND grid = $2")
                .bind(hash)
                .bind(grid)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            let digest: String = sha2::Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
            if digest == hash {
                sqlx_core::query::query("UPDATE blobs SET complete = TRUE, data = $2 WHERE hash = $1 AND grid = $3")
                    .bind(hash)
                    .bind(&data)
                    .bind(grid)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                complete = true;
            } else {
                // The bytes do not match their name: start over. The row stays (received 0), so
                // the attempt still counts against the device's quota.
                sqlx_core::query::query("UPDATE blobs SET received = 0 WHERE hash = $1 AND grid = $2")
                    .bind(hash)
                    .bind(grid)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                return Ok(BlobState { grid, total, received: 0, complete: false });
            }
        }
        tx.commit().await.map_err(write_err)?;
        Ok(BlobState { grid: g, total, received, complete })
    }

    async fn blob_states(&self, hash: &str) -> Result<Vec<BlobState>> {
        let rows =
            sqlx_core::query::query("SELECT grid, total, received, complete FROM blobs WHERE hash = $1 ORDER BY grid")
                .bind(hash)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(BlobState {
                    grid: r.try_get(0).map_err(db_err)?,
                    total: r.try_get::<i64, _>(1).map_err(db_err)? as u64,
                    received: r.try_get::<i64, _>(2).map_err(db_err)? as u64,
                    complete: r.try_get(3).map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn device_uploads(&self, device: Uuid, since: i64) -> Result<DeviceUploads> {
        let row = sqlx_core::query::query(
            "SELECT COUNT(*) FILTER (WHERE NOT complete), COALESCE(SUM(total) FILTER (WHERE started_at >= $2), 0)::int8
             FROM blobs WHERE device = $1",
        )
        .bind(device)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(DeviceUploads {
            unfinished: row.try_get::<i64, _>(0).map_err(db_err)? as u64,
            started_bytes: row.try_get::<i64, _>(1).map_err(db_err)? as u64,
        })
    }

    async fn prune_unfinished_uploads(&self, before: i64) -> Result<u64> {
        // One statement: the uploads deleted are exactly those whose chunks go (a chunk that
        // came meanwhile keeps its upload, which the delete then no longer matches).
        let n: i64 = sqlx_core::query_scalar::query_scalar(
            "WITH gone AS (DELETE FROM blobs WHERE NOT complete AND touched_at < $1 RETURNING grid, hash),
                  chunks AS (DELETE FROM blob_chunks c USING gone WHERE c.grid = gone.grid AND c.hash = gone.hash)
             SELECT COUNT(*) FROM gone",
        )
        .bind(before)
        .fetch_one(&self.pool)
        .await
        .map_err(write_err)?;
        Ok(n as u64)
    }

    async fn blob(&self, grid: Uuid, hash: &str) -> Result<Option<Vec<u8>>> {
        sqlx_core::query_scalar::query_scalar("SELECT data FROM blobs WHERE hash = $1 AND grid = $2 AND complete")
            .bind(hash)
            .bind(grid)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)
    }
}
