//! SQLite: Enrolment codes, devices and their tokens (hashed), revocation, and the attempt
//! counts that limit guessing.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::*;

#[async_trait]
impl Enrolment for SqliteStorage {
    async fn put_enrolment_code(&self, code_hash: &str, account: Uuid, expires_at: i64) -> Result<()> {
        let h = code_hash.to_string();
        self.run(move |c| {
            c.execute(
                "INSERT INTO enrolment_codes (code_hash, account, expires_at) VALUES (?1, ?2, ?3)",
                params![h, account.to_string(), expires_at],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn redeem_enrolment_code(
        &self,
        code_hash: &str,
        now: i64,
        device: &Device,
        token_hash: &str,
    ) -> Result<Option<Account>> {
        let (h, d, t) = (code_hash.to_string(), device.clone(), token_hash.to_string());
        self.run(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            let account: Option<String> = tx
                .query_row(
                    "UPDATE enrolment_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2 RETURNING account",
                    params![h, now],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            let Some(account) = account else { return Ok(None) };
            tx.execute(
                "INSERT INTO devices (id, account, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![d.id.to_string(), account, d.name, t, d.created_at],
            )
            .map_err(db_err)?;
            let acc = tx.query_row("SELECT id, name, role, node FROM accounts WHERE id = ?1", [&account], account_row).optional().map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(acc)
        })
        .await
    }

    async fn device_by_token(&self, token_hash: &str) -> Result<Option<TokenHolder>> {
        let t = token_hash.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT d.id, d.account, d.name, d.created_at, d.revoked_at, a.id, a.name, a.role, a.node,
                        n.id, n.kind, n.name, n.parent, n.township, n.village
                 FROM devices d JOIN accounts a ON a.id = d.account LEFT JOIN nodes n ON n.id = a.node
                 WHERE d.token_hash = ?1",
                [t],
                |r| {
                    let account = Account {
                        id: uuid_col(r.get(5)?)?,
                        name: r.get(6)?,
                        role: parse_role(&r.get::<_, String>(7)?).map_err(|e| unknown_col(7, e))?,
                        node: uuid_col(r.get(8)?)?,
                    };
                    // A missing node leaves its columns NULL (the LEFT JOIN).
                    let node = match r.get::<_, Option<String>>(9)? {
                        Some(_) => Some(node_at(r, 9)?),
                        None => None,
                    };
                    Ok(TokenHolder {
                        device: Device {
                            id: uuid_col(r.get(0)?)?,
                            account: uuid_col(r.get(1)?)?,
                            name: r.get(2)?,
                            created_at: r.get(3)?,
                            revoked_at: r.get(4)?,
                        },
                        account,
                        node,
                    })
                },
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn revoke_device(&self, id: Uuid, at: i64) -> Result<bool> {
        self.run(move |c| {
            let n = c
                .execute(
                    "UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id.to_string(), at],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn devices(&self, account: Option<Uuid>) -> Result<Vec<Device>> {
        self.read(move |c| {
            let mut st = c
                .prepare("SELECT id, account, name, created_at, revoked_at FROM devices WHERE ?1 IS NULL OR account = ?1 ORDER BY created_at")
                .map_err(db_err)?;
            let rows = st
                .query_map([account.map(|a| a.to_string())], |r| {
                    Ok(Device { id: uuid_col(r.get(0)?)?, account: uuid_col(r.get(1)?)?, name: r.get(2)?, created_at: r.get(3)?, revoked_at: r.get(4)? })
                })
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }

    async fn enrolment_code_open(&self, code_hash: &str, now: i64) -> Result<bool> {
        let h = code_hash.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM enrolment_codes WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2)",
                params![h, now],
                |r| r.get(0),
            )
            .map_err(db_err)
        })
        .await
    }

    async fn revoke_enrolment_code(&self, code_hash: &str, at: i64) -> Result<bool> {
        let h = code_hash.to_string();
        self.run(move |c| {
            c.execute(
                "UPDATE enrolment_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL",
                params![h, at],
            )
            .map(|n| n > 0)
            .map_err(db_err)
        })
        .await
    }

    async fn replace_enrolment_codes(&self, codes: &[(String, Uuid, i64)], at: i64) -> Result<u64> {
        let codes = codes.to_vec();
        self.run(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            let accounts: Vec<Uuid> = codes.iter().map(|(_, a, _)| *a).collect();
            let revoked = revoke_unused(&tx, &accounts, at)?;
            {
                let mut insert = tx
                    .prepare("INSERT INTO enrolment_codes (code_hash, account, expires_at) VALUES (?1, ?2, ?3)")
                    .map_err(db_err)?;
                for (hash, account, expires_at) in &codes {
                    insert.execute(params![hash, account.to_string(), expires_at]).map_err(db_err)?;
                }
            }
            tx.commit().map_err(db_err)?;
            Ok(revoked)
        })
        .await
    }

    async fn revoke_codes_of(&self, accounts: &[Uuid], at: i64) -> Result<u64> {
        let accounts = accounts.to_vec();
        self.run(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            let revoked = revoke_unused(&tx, &accounts, at)?;
            tx.commit().map_err(db_err)?;
            Ok(revoked)
        })
        .await
    }
}

/// Revokes the unused codes of these accounts; how many.
fn revoke_unused(tx: &rusqlite::Transaction<'_>, accounts: &[Uuid], at: i64) -> Result<u64> {
    let mut revoke =
        tx.prepare("UPDATE enrolment_codes SET used_at = ?2 WHERE account = ?1 AND used_at IS NULL").map_err(db_err)?;
    let mut revoked = 0;
    for account in accounts {
        revoked += revoke.execute(params![account.to_string(), at]).map_err(db_err)? as u64;
    }
    Ok(revoked)
}
