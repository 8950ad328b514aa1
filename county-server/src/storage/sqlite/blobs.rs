//! SQLite: photos and other attachments: content-addressed blobs, uploaded in chunks, each
//! kept within its grid (the same bytes in two grids are two blobs, and an upload into one
//! grid never touches another's).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use sha2::Digest;
use uuid::Uuid;

use super::*;

#[async_trait]
impl Blobs for SqliteStorage {
    async fn put_blob_chunk(&self, hash: &str, upload: Upload, bytes: &[u8]) -> Result<BlobState> {
        let Upload { grid, device, total, offset, at } = upload;
        let (hash, bytes, g) = (hash.to_string(), bytes.to_vec(), grid.to_string());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            let current: Option<(i64, i64, bool)> = tx
                .query_row(
                    "SELECT total, received, complete FROM blobs WHERE grid = ?1 AND hash = ?2",
                    params![g, hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(db_err)?;
            let state = |t: i64, rcv: i64, done: bool| BlobState {
                grid,
                total: t as u64,
                received: rcv as u64,
                complete: done,
            };
            match current {
                Some((t, rcv, done)) if done || rcv as u64 != offset || t as u64 != total => {
                    // Complete already, or not where this chunk starts: say where we are.
                    return Ok(state(t, rcv, done));
                }
                None if offset != 0 => return Ok(BlobState { grid, total, received: 0, complete: false }),
                None => {
                    tx.execute(
                        "INSERT INTO blobs (grid, hash, total, received, complete, data, device, started_at, touched_at)
                         VALUES (?1, ?2, ?3, 0, 0, NULL, ?4, ?5, ?5)",
                        params![g, hash, total as i64, device.to_string(), at],
                    )
                    .map_err(db_err)?;
                }
                Some(_) => {}
            }
            let received = offset + bytes.len() as u64;
            if received > total {
                return Err(StorageError::Database("chunk goes past the declared size".into()));
            }
            tx.execute(
                "INSERT INTO blob_chunks (grid, hash, offset, data) VALUES (?1, ?2, ?3, ?4)",
                params![g, hash, offset as i64, bytes],
            )
            .map_err(db_err)?;
            tx.execute(
                "UPDATE blobs SET received = ?3, touched_at = ?4 WHERE grid = ?1 AND hash = ?2",
                params![g, hash, received as i64, at],
            )
            .map_err(db_err)?;
            let mut complete = false;
            if received == total {
                let mut data = Vec::with_capacity(total as usize);
                {
                    let mut st = tx
                        .prepare("SELECT data FROM blob_chunks WHERE grid = ?1 AND hash = ?2 ORDER BY offset")
                        .map_err(db_err)?;
                    let mut rows = st.query(params![g, hash]).map_err(db_err)?;
                    while let Some(r) = rows.next().map_err(db_err)? {
                        data.extend_from_slice(&r.get::<_, Vec<u8>>(0).map_err(db_err)?);
                    }
                }
                tx.execute("DELETE FROM blob_chunks WHERE grid = ?1 AND hash = ?2", params![g, hash])
                    .map_err(db_err)?;
                let digest: String = sha2::Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
                if digest == hash {
                    tx.execute(
                        "UPDATE blobs SET complete = 1, data = ?3 WHERE grid = ?1 AND hash = ?2",
                        params![g, hash, data],
                    )
                    .map_err(db_err)?;
                    complete = true;
                } else {
                    // The bytes do not match their name: start over. The row stays (received 0),
                    // so the attempt still counts against the device's quota.
                    tx.execute("UPDATE blobs SET received = 0 WHERE grid = ?1 AND hash = ?2", params![g, hash])
                        .map_err(db_err)?;
                    tx.commit().map_err(db_err)?;
                    return Ok(BlobState { grid, total, received: 0, complete: false });
                }
            }
            tx.commit().map_err(db_err)?;
            Ok(BlobState { grid, total, received, complete })
        })
        .await
    }

    async fn blob_states(&self, hash: &str) -> Result<Vec<BlobState>> {
        let hash = hash.to_string();
        self.read(move |c| {
            let mut st = c
                .prepare_cached("SELECT grid, total, received, complete FROM blobs WHERE hash = ?1 ORDER BY grid")
                .map_err(db_err)?;
            let rows = st
                .query_map([&hash], |r| {
                    Ok(BlobState {
                        grid: uuid_col(r.get(0)?)?,
                        total: r.get::<_, i64>(1)? as u64,
                        received: r.get::<_, i64>(2)? as u64,
                        complete: r.get(3)?,
                    })
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
        })
        .await
    }

    async fn device_uploads(&self, device: Uuid, since: i64) -> Result<DeviceUploads> {
        let d = device.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT COALESCE(SUM(complete = 0), 0), COALESCE(SUM(CASE WHEN started_at >= ?2 THEN total ELSE 0 END), 0)
                 FROM blobs WHERE device = ?1",
                params![d, since],
                |r| Ok(DeviceUploads { unfinished: r.get::<_, i64>(0)? as u64, started_bytes: r.get::<_, i64>(1)? as u64 }),
            )
            .map_err(db_err)
        })
        .await
    }

    async fn prune_unfinished_uploads(&self, before: i64) -> Result<u64> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            tx.execute(
                "DELETE FROM blob_chunks WHERE (grid, hash) IN
                     (SELECT grid, hash FROM blobs WHERE complete = 0 AND touched_at < ?1)",
                [before],
            )
            .map_err(db_err)?;
            let n = tx.execute("DELETE FROM blobs WHERE complete = 0 AND touched_at < ?1", [before]).map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(n as u64)
        })
        .await
    }

    async fn blob(&self, grid: Uuid, hash: &str) -> Result<Option<Vec<u8>>> {
        let (g, hash) = (grid.to_string(), hash.to_string());
        self.read(move |c| {
            c.query_row(
                "SELECT data FROM blobs WHERE grid = ?1 AND hash = ?2 AND complete = 1",
                params![g, hash],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }
}
