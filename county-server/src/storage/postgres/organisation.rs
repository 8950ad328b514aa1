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

    async fn bounded_nodes(&self) -> Result<Vec<Uuid>> {
        let rows = sqlx_core::query::query("SELECT id FROM nodes WHERE boundary IS NOT NULL")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| r.try_get(0).map_err(db_err)).collect()
    }

    async fn structure(&self, boundaries: bool) -> Result<Structure> {
        let sql = if boundaries {
            "SELECT id, kind, name, parent, township, village, code, boundary FROM nodes"
        } else {
            "SELECT id, kind, name, parent, township, village, code, NULL::text AS boundary FROM nodes"
        };
        let nodes = sqlx_core::query::query(sql)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| {
                Ok(NodeSetup {
                    node: node_row(r, "")?,
                    code: r.try_get("code").map_err(db_err)?,
                    boundary: r.try_get("boundary").map_err(db_err)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let accounts = sqlx_core::query::query("SELECT id, name, role, node FROM accounts")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(account_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Structure { nodes, accounts })
    }

    async fn apply_structure(&self, nodes: &[NodeSetup], accounts: &[Account], expected: (usize, usize)) -> Result<()> {
        let mut tx = self.begin().await?;
        // One structure write at a time on every server (syncs write no nodes or accounts).
        sqlx_core::query::query("LOCK TABLE nodes, accounts IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let row = sqlx_core::query::query("SELECT (SELECT count(*) FROM nodes), (SELECT count(*) FROM accounts)")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let now: (i64, i64) = (row.try_get(0).map_err(db_err)?, row.try_get(1).map_err(db_err)?);
        if now != (expected.0 as i64, expected.1 as i64) {
            return Err(StorageError::Contention("the county's structure changed meanwhile".into()));
        }
        // Codes may move between nodes in one file (two grids swap codes): clear them first so
        // that the unique index sees only the final state. One statement per table, columns as
        // arrays.
        let ids: Vec<Uuid> = nodes.iter().map(|n| n.node.id).collect();
        sqlx_core::query::query("UPDATE nodes SET code = NULL WHERE id = ANY($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx_core::query::query(
            "INSERT INTO nodes (id, kind, name, parent, township, village, code, boundary)
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::uuid[], $6::uuid[],
                                  $7::text[], $8::text[])
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, parent = excluded.parent,
               township = excluded.township, village = excluded.village, code = excluded.code,
               boundary = excluded.boundary",
        )
        .bind(&ids)
        .bind(nodes.iter().map(|n| n.node.kind.as_str()).collect::<Vec<_>>())
        .bind(nodes.iter().map(|n| n.node.name.clone()).collect::<Vec<_>>())
        .bind(nodes.iter().map(|n| n.node.parent).collect::<Vec<_>>())
        .bind(nodes.iter().map(|n| n.node.township).collect::<Vec<_>>())
        .bind(nodes.iter().map(|n| n.node.village).collect::<Vec<_>>())
        .bind(nodes.iter().map(|n| n.code.clone()).collect::<Vec<_>>())
        .bind(nodes.iter().map(|n| n.boundary.clone()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx_core::query::query(
            "INSERT INTO accounts (id, name, role, node)
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::uuid[])
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, node = excluded.node",
        )
        .bind(accounts.iter().map(|a| a.id).collect::<Vec<_>>())
        .bind(accounts.iter().map(|a| a.name.clone()).collect::<Vec<_>>())
        .bind(accounts.iter().map(|a| a.role.as_str()).collect::<Vec<_>>())
        .bind(accounts.iter().map(|a| a.node).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn settings(&self) -> Result<CountySettings> {
        let row: Option<(i64, String)> =
            sqlx_core::query_as::query_as("SELECT version, data FROM county_settings WHERE id = 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        settings_row(row)
    }

    async fn put_settings(&self, settings: &CountySettings, previous: u64) -> Result<bool> {
        let data = serde_json::to_string(settings).map_err(db_err)?;
        // The row moves from `previous` to this version, or stays as another writer left it.
        let query = if previous == 0 {
            sqlx_core::query::query(
                "INSERT INTO county_settings (id, version, data) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
            )
        } else {
            sqlx_core::query::query("UPDATE county_settings SET version = $1, data = $2 WHERE id = 1 AND version = $3")
        };
        let done = query
            .bind(settings.version as i64)
            .bind(data)
            .bind(previous as i64)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn places_under(&self, node: &Node) -> Result<Vec<Node>> {
        let Some(column) = places_column(node.kind) else { return Ok(Vec::new()) };
        let sql = format!(
            "SELECT id, kind, name, parent, township, village FROM nodes WHERE {column} = $1 ORDER BY kind, name"
        );
        let rows = sqlx_core::query::query(&sql).bind(node.id).fetch_all(&self.pool).await.map_err(db_err)?;
        rows.iter().map(|r| node_row(r, "")).collect()
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
