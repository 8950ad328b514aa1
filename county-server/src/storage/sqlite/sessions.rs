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

    async fn end_sessions_of_except(&self, account: Uuid, keep: Uuid, at: i64) -> Result<u64> {
        self.run(move |c| {
            let n = c
                .execute(
                    "UPDATE sessions SET ended_at = ?3 WHERE account = ?1 AND id <> ?2 AND ended_at IS NULL",
                    params![account.to_string(), keep.to_string(), at],
                )
                .map_err(db_err)?;
            Ok(n as u64)
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

    async fn logins(&self, seen_after: i64, begun_after: i64) -> Result<Vec<LoginRow>> {
        self.read(move |c| {
            let mut st = c
                .prepare(
                    "SELECT l.account, l.login, (SELECT COUNT(*) FROM sessions s WHERE s.account = l.account
                       AND s.ended_at IS NULL AND s.seen_at > ?1 AND s.created_at > ?2), l.totp_confirmed
                     FROM staff_logins l",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map(params![seen_after, begun_after], |r| {
                    Ok(LoginRow {
                        account: uuid_col(r.get(0)?)?,
                        login: r.get(1)?,
                        open_sessions: r.get(2)?,
                        second_factor: r.get(3)?,
                    })
                })
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }

    async fn login_of(&self, account: Uuid) -> Result<Option<String>> {
        self.read(move |c| {
            c.query_row("SELECT login FROM staff_logins WHERE account = ?1", [account.to_string()], |r| r.get(0))
                .optional()
                .map_err(db_err)
        })
        .await
    }

    async fn second_factor(&self, account: Uuid) -> Result<Option<SecondFactor>> {
        self.read(move |c| {
            c.query_row(
                "SELECT totp_secret, totp_confirmed, totp_step FROM staff_logins
                 WHERE account = ?1 AND totp_secret IS NOT NULL",
                [account.to_string()],
                |r| Ok(SecondFactor { secret: r.get(0)?, confirmed: r.get(1)?, last_step: r.get(2)? }),
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn begin_second_factor(&self, account: Uuid, secret: &str) -> Result<bool> {
        let secret = secret.to_string();
        self.run(move |c| {
            let n = c
                .execute(
                    "UPDATE staff_logins SET totp_secret = ?2, totp_confirmed = 0, totp_step = 0
                     WHERE account = ?1 AND totp_confirmed = 0",
                    params![account.to_string(), secret],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn remove_second_factor(&self, account: Uuid) -> Result<()> {
        self.run(move |c| {
            c.execute(
                "UPDATE staff_logins SET totp_secret = NULL, totp_confirmed = 0, totp_step = 0 WHERE account = ?1",
                [account.to_string()],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn confirm_second_factor(&self, account: Uuid, secret: &str, step: i64) -> Result<bool> {
        let secret = secret.to_string();
        self.run(move |c| {
            let n = c
                .execute(
                    "UPDATE staff_logins SET totp_confirmed = 1, totp_step = ?3
                     WHERE account = ?1 AND totp_secret = ?2 AND totp_confirmed = 0",
                    params![account.to_string(), secret, step],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn take_second_factor_step(&self, account: Uuid, step: i64) -> Result<bool> {
        self.run(move |c| {
            let n = c
                .execute(
                    "UPDATE staff_logins SET totp_step = ?2 WHERE account = ?1 AND totp_confirmed = 1 AND totp_step < ?2",
                    params![account.to_string(), step],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn second_factor_roles(&self) -> Result<Vec<Role>> {
        self.read(move |c| {
            let text: Option<String> = c
                .query_row("SELECT second_factor_roles FROM console_policy WHERE id = 1", [], |r| r.get(0))
                .optional()
                .map_err(db_err)?;
            Ok(text.map(|t| roles_of_text(&t)).unwrap_or_default())
        })
        .await
    }

    async fn set_second_factor_roles(&self, roles: &[Role]) -> Result<()> {
        let text = roles_text(roles);
        self.run(move |c| {
            c.execute(
                "INSERT INTO console_policy (id, second_factor_roles) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET second_factor_roles = excluded.second_factor_roles",
                [text],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }
}
