//! PostgreSQL: The county's structure: nodes (county, townships, villages, grids) and accounts.

use async_trait::async_trait;
use sqlx_core::row::Row;
use sqlx_postgres::PgRow;
use uuid::Uuid;

use super::*;

#[async_trait]
impl Organisation for PostgresStorage {
    async fn put_node(&self, node: &Node) -> Result<()> {
        sqlx_core::query::query(
            "INSERT INTO nodes (id, kind, name, parent, township, village) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, parent = excluded.parent,
               township = excluded.township, village = excluded.village",
        )
        .bind(node.id)
        .bind(node.kind.as_str())
        .bind(&node.name)
        .bind(node.parent)
        .bind(node.township)
        .bind(node.village)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn node(&self, id: Uuid) -> Result<Option<Node>> {
        let row = sqlx_core::query::query("SELECT id, kind, name, parent, township, village FROM nodes WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| node_row(&r, "")).transpose()
    }

    async fn grids(&self, scope: &Scope) -> Result<Vec<GridInfo>> {
        let mut q = Sql::scoped(
            "SELECT g.id, g.name, COALESCE(t.name, ''), COALESCE(v.name, '') FROM nodes g
             LEFT JOIN nodes t ON t.id = g.township LEFT JOIN nodes v ON v.id = g.village",
            scope,
            "g.id",
        );
        q.push(" AND g.kind = 'grid' ORDER BY 3, 4, 2");
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(GridInfo {
                    id: r.try_get(0).map_err(db_err)?,
                    name: r.try_get(1).map_err(db_err)?,
                    township: r.try_get(2).map_err(db_err)?,
                    village: r.try_get(3).map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn put_account(&self, account: &Account) -> Result<()> {
        sqlx_core::query::query(
            "INSERT INTO accounts (id, name, role, node) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, node = excluded.node",
        )
        .bind(account.id)
        .bind(&account.name)
        .bind(account.role.as_str())
        .bind(account.node)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn account(&self, id: Uuid) -> Result<Option<Account>> {
        let row = sqlx_core::query::query("SELECT id, name, role, node FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(account_row).transpose()
    }

    async fn accounts_at(&self, node: Uuid) -> Result<Vec<Account>> {
        sqlx_core::query::query("SELECT id, name, role, node FROM accounts WHERE node = $1 ORDER BY name")
            .bind(node)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(account_row)
            .collect()
    }
}

pub(super) fn account_row(r: &PgRow) -> Result<Account> {
    let role: String = r.try_get("role").map_err(db_err)?;
    Ok(Account {
        id: r.try_get("id").map_err(db_err)?,
        name: r.try_get("name").map_err(db_err)?,
        role: parse_role(&role).map_err(db_err)?,
        node: r.try_get("node").map_err(db_err)?,
    })
}

/// A node from its columns, named with `prefix` (`n_kind` …) where a query joins it in.
pub(super) fn node_row(r: &PgRow, prefix: &str) -> Result<Node> {
    let col = |name: &str| format!("{prefix}{name}");
    let kind: String = r.try_get(col("kind").as_str()).map_err(db_err)?;
    Ok(Node {
        id: r.try_get(col("id").as_str()).map_err(db_err)?,
        kind: parse_kind(&kind).map_err(db_err)?,
        name: r.try_get(col("name").as_str()).map_err(db_err)?,
        parent: r.try_get(col("parent").as_str()).map_err(db_err)?,
        township: r.try_get(col("township").as_str()).map_err(db_err)?,
        village: r.try_get(col("village").as_str()).map_err(db_err)?,
    })
}

pub(super) fn device_row(r: &PgRow) -> Result<Device> {
    Ok(Device {
        id: r.try_get("id").map_err(db_err)?,
        account: r.try_get("account").map_err(db_err)?,
        name: r.try_get("name").map_err(db_err)?,
        created_at: r.try_get("created_at").map_err(db_err)?,
        revoked_at: r.try_get("revoked_at").map_err(db_err)?,
    })
}
