//! SQLite: staff log-ins and console sessions.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::*;

#[async_trait]
impl Sessions for SqliteStorage {
    async fn set_login(&self, account: Uuid, login: &str, hash: &str, at: i64) -> Result<bool> {
        let (login, hash) = (login.to_string(), hash.to_string());
        self.run(move |c| {
            let taken: Option<String> = c
                .query_row("SELECT account FROM staff_logins WHERE login = ?1", [&login], |r| r.get(0))
                .optional()
                .map_err(db_err)?;
            if taken.is_some_and(|a| a != account.to_string()) {
                return Ok(false);
            }
            c.execute(
                "INSERT INTO staff_logins (account, login, hash, set_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account) DO UPDATE SET login = excluded.login, hash = excluded.hash, set_at = excluded.set_at",
                params![account.to_string(), login, hash, at],
            )
            .map_err(db_err)?;
            Ok(true)
        })
        .await
    }

    async fn login(&self, login: &str) -> Result<Option<(Uuid, String)>> {
        let login = login.to_string();
        self.read(move |c| {
            c.query_row("SELECT account, hash FROM staff_logins WHERE login = ?1", [login], |r| {
                Ok((uuid_col(r.get(0)?)?, r.get(1)?))
            })
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn start_session(&self, s: &StoredSession, token_hash: &str) -> Result<()> {
        let (s, token_hash) = (s.clone(), token_hash.to_string());
        self.run(move |c| {
            c.execute(
                "INSERT INTO sessions (id, account, token_hash, csrf, created_at, seen_at, ended_at, client)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    s.id.to_string(),
                    s.account.to_string(),
                    token_hash,
                    s.csrf,
                    s.created_at,
                    s.seen_at,
                    s.ended_at,
                    s.client
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn session(&self, token_hash: &str) -> Result<Option<StoredSession>> {
        let token_hash = token_hash.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT id, account, csrf, created_at, seen_at, ended_at, client FROM sessions WHERE token_hash = ?1",
                [token_hash],
                |r| {
                    Ok(StoredSession {
                        id: uuid_col(r.get(0)?)?,
                        account: uuid_col(r.get(1)?)?,
                        csrf: r.get(2)?,
                        created_at: r.get(3)?,
                        seen_at: r.get(4)?,
                        ended_at: r.get(5)?,
                        client: r.get(6)?,
                    })
                },
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn touch_session(&self, id: Uuid, at: i64) -> Result<()> {
        self.run(move |c| {
            c.execute("UPDATE sessions SET seen_at = ?2 WHERE id = ?1 AND seen_at < ?2", params![id.to_string(), at])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn end_session(&self, id: Uuid, at: i64) -> Result<()> {
        self.run(move |c| {
            c.execute(
                "UPDATE sessions SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL",
                params![id.to_string(), at],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn end_sessions_of(&self, account: Uuid, at: i64) -> Result<u64> {
        self.run(move |c| {
            let n = c
                .execute(
                    "UPDATE sessions SET ended_at = ?2 WHERE account = ?1 AND ended_at IS NULL",
                    params![account.to_string(), at],
                )
                .map_err(db_err)?;
            Ok(n as u64)
        })
        .await
    }

    async fn logins(&self, seen_after: i64, begun_after: i64) -> Result<Vec<(Uuid, String, u32)>> {
        self.read(move |c| {
            let mut st = c
                .prepare(
                    "SELECT l.account, l.login, (SELECT COUNT(*) FROM sessions s WHERE s.account = l.account
                       AND s.ended_at IS NULL AND s.seen_at > ?1 AND s.created_at > ?2)
                     FROM staff_logins l",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map(params![seen_after, begun_after], |r| Ok((uuid_col(r.get(0)?)?, r.get(1)?, r.get(2)?)))
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }
}
