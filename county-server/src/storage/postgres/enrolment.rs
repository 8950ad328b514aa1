//! PostgreSQL: Enrolment codes, devices and their tokens (hashed), revocation, and the attempt
//! counts that limit guessing.

use async_trait::async_trait;
use sqlx_core::row::Row;
use uuid::Uuid;

use super::*;

#[async_trait]
impl Enrolment for PostgresStorage {
    async fn put_enrolment_code(&self, code_hash: &str, account: Uuid, expires_at: i64) -> Result<()> {
        sqlx_core::query::query("INSERT INTO enrolment_codes (code_hash, account, expires_at) VALUES ($1, $2, $3)")
            .bind(code_hash)
            .bind(account)
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn redeem_enrolment_code(
        &self,
        code_hash: &str,
        now: i64,
        device: &Device,
        token_hash: &str,
    ) -> Result<Option<Account>> {
        let mut tx = self.begin().await?;
        // The row lock of the UPDATE makes a second, concurrent redemption wait and then find
        // the code used.
        let account: Option<Uuid> = sqlx_core::query_scalar::query_scalar(
            "UPDATE enrolment_codes SET used_at = $2
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING account",
        )
        .bind(code_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(account) = account else { return Ok(None) };
        sqlx_core::query::query(
            "INSERT INTO devices (id, account, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(device.id)
        .bind(account)
        .bind(&device.name)
        .bind(token_hash)
        .bind(device.created_at)
        .execute(&mut *tx)
        .await
        .map_err(write_err)?;
        let row = sqlx_core::query::query("SELECT id, name, role, node FROM accounts WHERE id = $1")
            .bind(account)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let acc = row.as_ref().map(account_row).transpose()?;
        tx.commit().await.map_err(db_err)?;
        Ok(acc)
    }

    async fn device_by_token(&self, token_hash: &str) -> Result<Option<TokenHolder>> {
        let row = sqlx_core::query::query(
            "SELECT d.id, d.account, d.name, d.created_at, d.revoked_at, a.name AS a_name, a.role, a.node,
                    n.id AS n_id, n.kind AS n_kind, n.name AS n_name, n.parent AS n_parent,
                    n.township AS n_township, n.village AS n_village
             FROM devices d JOIN accounts a ON a.id = d.account LEFT JOIN nodes n ON n.id = a.node
             WHERE d.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            let device = device_row(&r)?;
            let role: String = r.try_get("role").map_err(db_err)?;
            let account = Account {
                id: device.account,
                name: r.try_get("a_name").map_err(db_err)?,
                role: parse_role(&role).map_err(db_err)?,
                node: r.try_get("node").map_err(db_err)?,
            };
            // A missing node leaves its columns NULL (the LEFT JOIN).
            let node = match r.try_get::<Option<Uuid>, _>("n_id").map_err(db_err)? {
                Some(_) => Some(node_row(&r, "n_")?),
                None => None,
            };
            Ok(TokenHolder { device, account, node })
        })
        .transpose()
    }

    async fn revoke_device(&self, id: Uuid, at: i64) -> Result<bool> {
        let done = sqlx_core::query::query("UPDATE devices SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn devices(&self, account: Option<Uuid>) -> Result<Vec<Device>> {
        sqlx_core::query::query(
            "SELECT id, account, name, created_at, revoked_at FROM devices
             WHERE $1::uuid IS NULL OR account = $1 ORDER BY created_at",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(device_row)
        .collect()
    }

    async fn enrolment_code_open(&self, code_hash: &str, now: i64) -> Result<bool> {
        sqlx_core::query_scalar::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM enrolment_codes WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2)",
        )
        .bind(code_hash)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)
    }

    async fn revoke_enrolment_code(&self, code_hash: &str, at: i64) -> Result<bool> {
        let done =
            sqlx_core::query::query("UPDATE enrolment_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL")
                .bind(code_hash)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn replace_enrolment_codes(&self, codes: &[(String, Uuid, i64)], at: i64) -> Result<u64> {
        let mut tx = self.begin().await?;
        let accounts: Vec<Uuid> = codes.iter().map(|(_, a, _)| *a).collect();
        let revoked = sqlx_core::query::query(
            "UPDATE enrolment_codes SET used_at = $2 WHERE account = ANY($1) AND used_at IS NULL",
        )
        .bind(&accounts)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        sqlx_core::query::query(
            "INSERT INTO enrolment_codes (code_hash, account, expires_at)
             SELECT * FROM UNNEST($1::text[], $2::uuid[], $3::int8[])",
        )
        .bind(codes.iter().map(|(h, _, _)| h.clone()).collect::<Vec<_>>())
        .bind(&accounts)
        .bind(codes.iter().map(|(_, _, e)| *e).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(revoked)
    }

    async fn revoke_codes_of(&self, accounts: &[Uuid], at: i64) -> Result<u64> {
        let done = sqlx_core::query::query(
            "UPDATE enrolment_codes SET used_at = $2 WHERE account = ANY($1) AND used_at IS NULL",
        )
        .bind(accounts)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}
