//! SQLite: The county's structure: nodes (county, townships, villages, grids) and accounts.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::*;

#[async_trait]
impl Organisation for SqliteStorage {
    async fn put_node(&self, node: &Node) -> Result<()> {
        let n = node.clone();
        self.run(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO nodes (id, kind, name, parent, township, village) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    n.id.to_string(),
                    n.kind.as_str(),
                    n.name,
                    n.parent.map(|p| p.to_string()),
                    n.township.map(|p| p.to_string()),
                    n.village.map(|p| p.to_string())
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn node(&self, id: Uuid) -> Result<Option<Node>> {
        self.read(move |c| {
            c.query_row(
                "SELECT id, kind, name, parent, township, village FROM nodes WHERE id = ?1",
                [id.to_string()],
                |r| node_at(r, 0),
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn grids(&self, scope: &Scope) -> Result<Vec<GridInfo>> {
        let (cond, arg) = scope_sql(scope, "g.id");
        self.read(move |c| {
            let sql = format!(
                "SELECT g.id, g.name, COALESCE(t.name, ''), COALESCE(v.name, '') FROM nodes g
                 LEFT JOIN nodes t ON t.id = g.township LEFT JOIN nodes v ON v.id = g.village
                 WHERE g.kind = 'grid' AND {cond} ORDER BY t.name, v.name, g.name"
            );
            let mut st = c.prepare(&sql).map_err(db_err)?;
            let map = |r: &rusqlite::Row<'_>| {
                Ok(GridInfo { id: uuid_col(r.get(0)?)?, name: r.get(1)?, township: r.get(2)?, village: r.get(3)? })
            };
            let rows = match arg {
                Some(a) => st.query_map([a], map).map_err(db_err)?.collect::<rusqlite::Result<Vec<_>>>(),
                None => st.query_map([], map).map_err(db_err)?.collect::<rusqlite::Result<Vec<_>>>(),
            };
            rows.map_err(db_err)
        })
        .await
    }

    async fn put_account(&self, account: &Account) -> Result<()> {
        let a = account.clone();
        self.run(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO accounts (id, name, role, node) VALUES (?1, ?2, ?3, ?4)",
                params![a.id.to_string(), a.name, a.role.as_str(), a.node.to_string()],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn account(&self, id: Uuid) -> Result<Option<Account>> {
        self.read(move |c| {
            c.query_row("SELECT id, name, role, node FROM accounts WHERE id = ?1", [id.to_string()], account_row)
                .optional()
                .map_err(db_err)
        })
        .await
    }

    async fn accounts_at(&self, node: Uuid) -> Result<Vec<Account>> {
        self.read(move |c| {
            let mut st =
                c.prepare("SELECT id, name, role, node FROM accounts WHERE node = ?1 ORDER BY name").map_err(db_err)?;
            let rows =
                st.query_map([node.to_string()], account_row).map_err(db_err)?.collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }

    async fn bounded_nodes(&self) -> Result<Vec<Uuid>> {
        self.read(|c| {
            let mut st = c.prepare("SELECT id FROM nodes WHERE boundary IS NOT NULL").map_err(db_err)?;
            let rows = st.query_map([], |r| uuid_col(r.get(0)?)).map_err(db_err)?.collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }

    async fn structure(&self, boundaries: bool) -> Result<Structure> {
        self.read(move |c| {
            let sql = if boundaries {
                "SELECT id, kind, name, parent, township, village, code, boundary FROM nodes"
            } else {
                "SELECT id, kind, name, parent, township, village, code, NULL FROM nodes"
            };
            let mut st = c.prepare(sql).map_err(db_err)?;
            let nodes = st
                .query_map([], |r| Ok(NodeSetup { node: node_at(r, 0)?, code: r.get(6)?, boundary: r.get(7)? }))
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db_err)?;
            let mut st = c.prepare("SELECT id, name, role, node FROM accounts").map_err(db_err)?;
            let accounts =
                st.query_map([], account_row).map_err(db_err)?.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)?;
            Ok(Structure { nodes, accounts })
        })
        .await
    }

    async fn apply_structure(&self, nodes: &[NodeSetup], accounts: &[Account], expected: (usize, usize)) -> Result<()> {
        let (nodes, accounts) = (nodes.to_vec(), accounts.to_vec());
        self.run(move |c| {
            // Immediate: the write lock first, so that another process's setup waits rather
            // than reading the same counts.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            let now: (i64, i64) = tx
                .query_row("SELECT (SELECT count(*) FROM nodes), (SELECT count(*) FROM accounts)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(db_err)?;
            if now != (expected.0 as i64, expected.1 as i64) {
                return Err(StorageError::Contention("the county's structure changed meanwhile".into()));
            }
            {
                let mut put_node = tx
                    .prepare(
                        "INSERT INTO nodes (id, kind, name, parent, township, village, code, boundary)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name,
                           parent = excluded.parent, township = excluded.township, village = excluded.village,
                           code = excluded.code, boundary = excluded.boundary",
                    )
                    .map_err(db_err)?;
                // Codes move between nodes in one file (two grids swap codes): clear them first
                // so that the unique index sees only the final state.
                let mut clear_code = tx.prepare("UPDATE nodes SET code = NULL WHERE id = ?1").map_err(db_err)?;
                for n in &nodes {
                    clear_code.execute([n.node.id.to_string()]).map_err(db_err)?;
                }
                for NodeSetup { node: n, code, boundary } in &nodes {
                    put_node
                        .execute(params![
                            n.id.to_string(),
                            n.kind.as_str(),
                            n.name,
                            n.parent.map(|p| p.to_string()),
                            n.township.map(|p| p.to_string()),
                            n.village.map(|p| p.to_string()),
                            code,
                            boundary
                        ])
                        .map_err(db_err)?;
                }
                let mut put_account = tx
                    .prepare(
                        "INSERT INTO accounts (id, name, role, node) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, node = excluded.node",
                    )
                    .map_err(db_err)?;
                for a in &accounts {
                    put_account
                        .execute(params![a.id.to_string(), a.name, a.role.as_str(), a.node.to_string()])
                        .map_err(db_err)?;
                }
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn settings(&self) -> Result<CountySettings> {
        self.read(|c| {
            let row: Option<(i64, String)> = c
                .query_row("SELECT version, data FROM county_settings WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(db_err)?;
            settings_row(row)
        })
        .await
    }

    async fn put_settings(&self, settings: &CountySettings, previous: u64) -> Result<bool> {
        let (version, data) = (settings.version as i64, serde_json::to_string(settings).map_err(db_err)?);
        self.run(move |c| {
            // The row moves from `previous` to this version, or stays as another writer left it.
            let n = if previous == 0 {
                c.execute(
                    "INSERT INTO county_settings (id, version, data) VALUES (1, ?1, ?2) ON CONFLICT (id) DO NOTHING",
                    params![version, data],
                )
            } else {
                c.execute(
                    "UPDATE county_settings SET version = ?1, data = ?2 WHERE id = 1 AND version = ?3",
                    params![version, data, previous as i64],
                )
            }
            .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn places_under(&self, node: &Node) -> Result<Vec<Node>> {
        let Some(column) = places_column(node.kind) else { return Ok(Vec::new()) };
        let id = node.id.to_string();
        self.read(move |c| {
            let sql = format!(
                "SELECT id, kind, name, parent, township, village FROM nodes WHERE {column} = ?1 ORDER BY kind, name"
            );
            let mut st = c.prepare_cached(&sql).map_err(db_err)?;
            let rows = st.query_map([id], |r| node_at(r, 0)).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
        })
        .await
    }
}

/// A node from six columns (id, kind, name, parent, township, village) starting at `at`.
pub(super) fn node_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Node> {
    let opt = |s: Option<String>| s.and_then(|s| Uuid::parse_str(&s).ok());
    Ok(Node {
        id: uuid_col(r.get(at)?)?,
        kind: parse_kind(&r.get::<_, String>(at + 1)?).map_err(|e| unknown_col(at + 1, e))?,
        name: r.get(at + 2)?,
        parent: opt(r.get(at + 3)?),
        township: opt(r.get(at + 4)?),
        village: opt(r.get(at + 5)?),
    })
}

pub(super) fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: uuid_col(r.get(0)?)?,
        name: r.get(1)?,
        role: parse_role(&r.get::<_, String>(2)?).map_err(|e| unknown_col(2, e))?,
        node: uuid_col(r.get(3)?)?,
    })
}
