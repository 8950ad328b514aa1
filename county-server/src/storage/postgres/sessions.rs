//! PostgreSQL: staff log-ins and console sessions.

use async_trait::async_trait;
use sqlx_core::row::Row;
use uuid::Uuid;

use super::*;

#[async_trait]
impl Sessions for PostgresStorage {
    async fn set_login(&self, account: Uuid, login: &str, hash: &str, at: i64) -> Result<bool> {
        // One statement: a name another account holds conflicts on the unique login and changes
        // nothing (the row count says so).
        let done = sqlx_core::query::query(
            "INSERT INTO staff_logins (account, login, hash, set_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account) DO UPDATE SET login = excluded.login, hash = excluded.hash, set_at = excluded.set_at",
        )
        .bind(account)
        .bind(login)
        .bind(hash)
        .bind(at)
        .execute(&self.pool)
        .await;
        match done {
            Ok(_) => Ok(true),
            Err(sqlx_core::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(db_err(e)),
        }
    }

    async fn login(&self, login: &str) -> Result<Option<(Uuid, String)>> {
        let row = sqlx_core::query::query("SELECT account, hash FROM staff_logins WHERE login = $1")
            .bind(login)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| Ok((r.try_get("account").map_err(db_err)?, r.try_get("hash").map_err(db_err)?))).transpose()
    }

    async fn start_session(&self, s: &StoredSession, token_hash: &str) -> Result<()> {
        sqlx_core::query::query(
            "INSERT INTO sessions (id, account, token_hash, csrf, created_at, seen_at, ended_at, client)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(s.id)
        .bind(s.account)
        .bind(token_hash)
        .bind(&s.csrf)
        .bind(s.created_at)
        .bind(s.seen_at)
        .bind(s.ended_at)
        .bind(&s.client)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> Result<Option<StoredSession>> {
        let row = sqlx_core::query::query(
            "SELECT id, account, csrf, created_at, seen_at, ended_at, client FROM sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(StoredSession {
                id: r.try_get("id").map_err(db_err)?,
                account: r.try_get("account").map_err(db_err)?,
                csrf: r.try_get("csrf").map_err(db_err)?,
                created_at: r.try_get("created_at").map_err(db_err)?,
                seen_at: r.try_get("seen_at").map_err(db_err)?,
                ended_at: r.try_get("ended_at").map_err(db_err)?,
                client: r.try_get("client").map_err(db_err)?,
            })
        })
        .transpose()
    }

    async fn touch_session(&self, id: Uuid, at: i64) -> Result<()> {
        sqlx_core::query::query("UPDATE sessions SET seen_at = $2 WHERE id = $1 AND seen_at < $2")
            .bind(id)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn end_session(&self, id: Uuid, at: i64) -> Result<()> {
        sqlx_core::query::query("UPDATE sessions SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL")
            .bind(id)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn end_sessions_of_except(&self, account: Uuid, keep: Uuid, at: i64) -> Result<u64> {
        let done = sqlx_core::query::query(
            "UPDATE sessions SET ended_at = $3 WHERE account = $1 AND id <> $2 AND ended_at IS NULL",
        )
        .bind(account)
        .bind(keep)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn end_sessions_of(&self, account: Uuid, at: i64) -> Result<u64> {
        let done = sqlx_core::query::query("UPDATE sessions SET ended_at = $2 WHERE account = $1 AND ended_at IS NULL")
            .bind(account)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn logins(&self, seen_after: i64, begun_after: i64) -> Result<Vec<LoginRow>> {
        let rows = sqlx_core::query::query(
            "SELECT l.account, l.login, (SELECT COUNT(*) FROM sessions s WHERE s.account = l.account
               AND s.ended_at IS NULL AND s.seen_at > $1 AND s.created_at > $2) AS open, l.totp_confirmed
             FROM staff_logins l",
        )
        .bind(seen_after)
        .bind(begun_after)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let open: i64 = r.try_get("open").map_err(db_err)?;
                Ok(LoginRow {
                    account: r.try_get("account").map_err(db_err)?,
                    login: r.try_get("login").map_err(db_err)?,
                    open_sessions: open as u32,
                    second_factor: r.try_get("totp_confirmed").map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn login_of(&self, account: Uuid) -> Result<Option<String>> {
        let row = sqlx_core::query::query("SELECT login FROM staff_logins WHERE account = $1")
            .bind(account)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| r.try_get(0).map_err(db_err)).transpose()
    }

    async fn second_factor(&self, account: Uuid) -> Result<Option<SecondFactor>> {
        let row = sqlx_core::query::query(
            "SELECT totp_secret, totp_confirmed, totp_step FROM staff_logins WHERE account = $1 AND totp_secret IS NOT NULL",
        )
        .bind(account)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(SecondFactor {
                secret: r.try_get(0).map_err(db_err)?,
                confirmed: r.try_get(1).map_err(db_err)?,
                last_step: r.try_get(2).map_err(db_err)?,
            })
        })
        .transpose()
    }

    async fn begin_second_factor(&self, account: Uuid, secret: &str) -> Result<bool> {
        let done = sqlx_core::query::query(
            "UPDATE staff_logins SET totp_secret = $2, totp_confirmed = false, totp_step = 0
             WHERE account = $1 AND NOT totp_confirmed",
        )
        .bind(account)
        .bind(secret)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_second_factor(&self, account: Uuid) -> Result<()> {
        sqlx_core::query::query(
            "UPDATE staff_logins SET totp_secret = NULL, totp_confirmed = false, totp_step = 0 WHERE account = $1",
        )
        .bind(account)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn confirm_second_factor(&self, account: Uuid, secret: &str, step: i64) -> Result<bool> {
        let done = sqlx_core::query::query(
            "UPDATE staff_logins SET totp_confirmed = true, totp_step = $3
             WHERE account = $1 AND totp_secret = $2 AND NOT totp_confirmed",
        )
        .bind(account)
        .bind(secret)
        .bind(step)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn take_second_factor_step(&self, account: Uuid, step: i64) -> Result<bool> {
        let done = sqlx_core::query::query(
            "UPDATE staff_logins SET totp_step = $2 WHERE account = $1 AND totp_confirmed AND totp_step < $2",
        )
        .bind(account)
        .bind(step)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn second_factor_roles(&self) -> Result<Vec<Role>> {
        let row = sqlx_core::query::query("SELECT second_factor_roles FROM console_policy WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        let text: Option<String> = row.map(|r| r.try_get(0).map_err(db_err)).transpose()?;
        Ok(text.map(|t| roles_of_text(&t)).unwrap_or_default())
    }

    async fn set_second_factor_roles(&self, roles: &[Role]) -> Result<()> {
        sqlx_core::query::query(
            "INSERT INTO console_policy (id, second_factor_roles) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET second_factor_roles = excluded.second_factor_roles",
        )
        .bind(roles_text(roles))
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}
