//! The PostgreSQL backend, for production: several county servers on one database, none
//! holding state of its own. It keeps the same promises as the SQLite backend (the storage
//! suite runs on both):
//!
//! - Every commit to a grid first takes that grid's row in `grid_log` with `FOR UPDATE`, so
//!   commits to one grid are serialised across all servers; sequence numbers have no gaps and
//!   document versions are compared under that lock (a moved-on version is `Contention`).
//! - A change hash is the primary key of `changes`: the same change committed twice by two
//!   servers fails the second commit (`Contention`), and the retry finds it already stored.
//! - A first sync's snapshot reads in one `REPEATABLE READ` transaction, so its documents and
//!   its sequence number agree; later catch-ups read the grid's position and the first page of
//!   the log in one statement (one snapshot, one round trip).
//! - A document is its last full save plus one `doc_tail` row per version since.
//! - Query rows are written with one `UNNEST` statement per table, so a grid's import of a few
//!   thousand records is a handful of round trips.

use std::str::FromStr;

use async_trait::async_trait;
use sha2::Digest;
use sqlx_core::row::Row;
use sqlx_core::transaction::Transaction;
use sqlx_postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow, Postgres};
use sync_protocol::doc::{Conflict, DocKey};
use sync_protocol::model::{Dispute, House, Resident, Visit};
use sync_protocol::schema::Collection;
use uuid::Uuid;

use super::*;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE nodes (
    id uuid PRIMARY KEY, kind text NOT NULL, name text NOT NULL, parent uuid, township uuid, village uuid
);
CREATE INDEX nodes_township ON nodes(township, kind);
CREATE INDEX nodes_village ON nodes(village, kind);
CREATE TABLE accounts (id uuid PRIMARY KEY, name text NOT NULL, role text NOT NULL, node uuid NOT NULL);
CREATE INDEX accounts_node ON accounts(node);
CREATE TABLE enrolment_codes (
    code_hash text PRIMARY KEY, account uuid NOT NULL, expires_at bigint NOT NULL, used_at bigint
);
CREATE TABLE devices (
    id uuid PRIMARY KEY, account uuid NOT NULL, name text NOT NULL, token_hash text NOT NULL UNIQUE,
    created_at bigint NOT NULL, revoked_at bigint
);
CREATE TABLE grid_log (grid uuid PRIMARY KEY, seq bigint NOT NULL);
CREATE TABLE documents (doc_key text PRIMARY KEY, grid uuid NOT NULL, bytes bytea NOT NULL, version bigint NOT NULL);
CREATE INDEX documents_grid ON documents(grid);
CREATE TABLE changes (
    hash bytea PRIMARY KEY, grid uuid NOT NULL, seq bigint NOT NULL, doc_key text NOT NULL, bytes bytea NOT NULL,
    device uuid NOT NULL, account uuid NOT NULL, received_at bigint NOT NULL, UNIQUE (grid, seq)
);
CREATE TABLE residents (
    id uuid PRIMARY KEY, grid uuid NOT NULL, doc_key text NOT NULL, name text NOT NULL, initials text NOT NULL,
    id_tail text NOT NULL, categories text[] NOT NULL, house_id uuid, archived boolean NOT NULL, data jsonb NOT NULL
);
CREATE INDEX residents_grid ON residents(grid, name);
CREATE TABLE houses (
    id uuid PRIMARY KEY, grid uuid NOT NULL, doc_key text NOT NULL, address text NOT NULL, rented boolean NOT NULL,
    archived boolean NOT NULL, data jsonb NOT NULL
);
CREATE INDEX houses_grid ON houses(grid, address);
CREATE TABLE visits (
    id uuid PRIMARY KEY, grid uuid NOT NULL, doc_key text NOT NULL, house_id uuid NOT NULL, at bigint NOT NULL,
    by_account uuid NOT NULL, attention int NOT NULL, data jsonb NOT NULL
);
CREATE INDEX visits_grid_at ON visits(grid, at);
CREATE TABLE disputes (
    id uuid PRIMARY KEY, grid uuid NOT NULL, doc_key text NOT NULL, class text NOT NULL, category text NOT NULL,
    status text NOT NULL, level text NOT NULL, resolved_level text, open boolean NOT NULL,
    discovered_at bigint NOT NULL, reported_at bigint NOT NULL, data jsonb NOT NULL
);
CREATE INDEX disputes_grid ON disputes(grid, open);
CREATE TABLE conflicts (
    record uuid NOT NULL, field text NOT NULL, grid uuid NOT NULL, doc_key text NOT NULL, data jsonb NOT NULL,
    PRIMARY KEY (record, field)
);
CREATE INDEX conflicts_grid ON conflicts(grid);
CREATE TABLE blobs (
    hash text PRIMARY KEY, grid uuid NOT NULL, total bigint NOT NULL, received bigint NOT NULL,
    complete boolean NOT NULL, data bytea
);
CREATE TABLE blob_chunks (hash text NOT NULL, "offset" bigint NOT NULL, data bytea NOT NULL, PRIMARY KEY (hash, "offset"));
CREATE TABLE attempts (key text NOT NULL, at bigint NOT NULL);
CREATE INDEX attempts_key_at ON attempts(key, at);
"#,
    // A document's appended changes, one row per version after its last full save: appending
    // to the saved bytes rewrote their whole TOAST value on every sync.
    r#"
CREATE TABLE doc_tail (
    doc_key text NOT NULL, version bigint NOT NULL, bytes bytea NOT NULL, PRIMARY KEY (doc_key, version)
);
"#,
];

/// Documents as Automerge loads them: the last full save followed by the changes appended since.
macro_rules! whole_docs_where {
    ($condition:literal) => {
        concat!(
            "SELECT d.doc_key, d.bytes || COALESCE((SELECT string_agg(t.bytes, ''::bytea ORDER BY t.version)
             FROM doc_tail t WHERE t.doc_key = d.doc_key), ''::bytea), d.version FROM documents d WHERE ",
            $condition
        )
    };
}
const WHOLE_DOCS_BY_KEY: &str = whole_docs_where!("d.doc_key = ANY($1)");
const WHOLE_DOCS_OF_GRID: &str = whole_docs_where!("d.grid = $1 ORDER BY d.doc_key");

/// Connections per server process; PostgreSQL's default `max_connections` is 100, so a handful
/// of servers fit.
const DEFAULT_POOL: u32 = 16;

#[derive(Clone)]
pub struct PostgresStorage {
    pool: PgPool,
}

fn db_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Database(e.to_string())
}

/// Unique violations, serialisation failures and deadlocks mean another writer got there first.
fn write_err(e: sqlx_core::Error) -> StorageError {
    if let sqlx_core::Error::Database(d) = &e
        && matches!(d.code().as_deref(), Some("23505" | "40001" | "40P01"))
    {
        return StorageError::Contention(d.message().to_string());
    }
    db_err(e)
}

fn json<T: serde::de::DeserializeOwned>(r: &PgRow, i: usize) -> Result<T> {
    let s: String = r.try_get(i).map_err(db_err)?;
    serde_json::from_str(&s).map_err(db_err)
}

fn account_row(r: &PgRow) -> Result<Account> {
    let role: String = r.try_get("role").map_err(db_err)?;
    Ok(Account {
        id: r.try_get("id").map_err(db_err)?,
        name: r.try_get("name").map_err(db_err)?,
        role: parse_role(&role).map_err(db_err)?,
        node: r.try_get("node").map_err(db_err)?,
    })
}

/// A node from its columns, named with `prefix` (`n_kind` …) where a query joins it in.
fn node_row(r: &PgRow, prefix: &str) -> Result<Node> {
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

fn device_row(r: &PgRow) -> Result<Device> {
    Ok(Device {
        id: r.try_get("id").map_err(db_err)?,
        account: r.try_get("account").map_err(db_err)?,
        name: r.try_get("name").map_err(db_err)?,
        created_at: r.try_get("created_at").map_err(db_err)?,
        revoked_at: r.try_get("revoked_at").map_err(db_err)?,
    })
}

/// A query assembled at run time, with its arguments numbered as they are added.
struct Sql {
    text: String,
    args: Vec<Arg>,
}

enum Arg {
    Uuid(Uuid),
    Text(String),
}

impl Sql {
    /// Starts `SELECT ... WHERE <the grids of scope on column>`.
    fn scoped(select: &str, scope: &Scope, column: &str) -> Sql {
        let mut q = Sql { text: format!("{select} WHERE "), args: Vec::new() };
        match scope {
            Scope::All => q.text.push_str("TRUE"),
            Scope::Township(t) => {
                q.text.push_str(&format!("{column} IN (SELECT id FROM nodes WHERE kind = 'grid' AND township = "));
                q.arg(Arg::Uuid(*t));
                q.text.push(')');
            }
            Scope::Village(v) => {
                q.text.push_str(&format!("{column} IN (SELECT id FROM nodes WHERE kind = 'grid' AND village = "));
                q.arg(Arg::Uuid(*v));
                q.text.push(')');
            }
            Scope::Grid(g) => {
                q.text.push_str(&format!("{column} = "));
                q.arg(Arg::Uuid(*g));
            }
        }
        q
    }

    fn arg(&mut self, a: Arg) -> &mut Self {
        self.args.push(a);
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }

    fn and(&mut self, condition: &str, a: Arg) -> &mut Self {
        self.text.push_str(&format!(" AND {condition} "));
        self.arg(a)
    }

    fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    async fn fetch_all(&self, pool: &PgPool) -> Result<Vec<PgRow>> {
        let mut q = sqlx_core::query::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Uuid(u) => q.bind(*u),
                Arg::Text(t) => q.bind(t.as_str()),
            };
        }
        q.fetch_all(pool).await.map_err(db_err)
    }

    async fn count(&self, pool: &PgPool) -> Result<u64> {
        let rows = self.fetch_all(pool).await?;
        let n: i64 = rows.first().map(|r| r.try_get(0)).transpose().map_err(db_err)?.unwrap_or(0);
        Ok(n as u64)
    }
}

impl PostgresStorage {
    /// Connects (a pool of `GRIDKEEPER_DB_POOL` connections, default 16) and brings the schema
    /// up to date. Several servers may start at once: migrations run under an advisory lock.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool_size = std::env::var("GRIDKEEPER_DB_POOL").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_POOL);
        let options = PgConnectOptions::from_str(url).map_err(db_err)?;
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            .acquire_timeout(std::time::Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(db_err)?;
        let s = Self { pool };
        s.migrate().await?;
        Ok(s)
    }

    async fn migrate(&self) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx_core::query::query("SELECT pg_advisory_xact_lock(7316028)").execute(&mut *tx).await.map_err(db_err)?;
        sqlx_core::query::query("CREATE TABLE IF NOT EXISTS gridkeeper_schema (version int NOT NULL)")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let version: Option<i32> = sqlx_core::query_scalar::query_scalar("SELECT max(version) FROM gridkeeper_schema")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version.unwrap_or(0) as usize) {
            sqlx_core::raw_sql::raw_sql(m).execute(&mut *tx).await.map_err(db_err)?;
            sqlx_core::query::query("INSERT INTO gridkeeper_schema (version) VALUES ($1)")
                .bind(i as i32 + 1)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db_err)
    }
}

/// Locks a grid's log row for the rest of the transaction and reads its sequence number.
async fn lock_grid(tx: &mut Transaction<'static, Postgres>, grid: Uuid) -> Result<Option<i64>> {
    sqlx_core::query_scalar::query_scalar("SELECT seq FROM grid_log WHERE grid = $1 FOR UPDATE")
        .bind(grid)
        .fetch_optional(&mut **tx)
        .await
        .map_err(write_err)
}

async fn write_rows(tx: &mut Transaction<'static, Postgres>, grid: Uuid, rows: &Rows) -> Result<()> {
    // The touched records' conflicts are cleared (and the current ones written below); with
    // residents, in the same statement, one round trip less for most syncs.
    let records: Vec<Uuid> = rows.conflicts.iter().map(|(_, r, _)| *r).collect();
    let cleared_with_residents = !rows.residents.is_empty();
    if !rows.residents.is_empty() {
        let r = &rows.residents;
        sqlx_core::query::query(
            "WITH cleared AS (DELETE FROM conflicts WHERE grid = $1 AND record = ANY($11))
             INSERT INTO residents (id, grid, doc_key, name, initials, id_tail, categories, house_id, archived, data)
             SELECT id, $1, doc_key, name, initials, id_tail, string_to_array(categories, ','), house_id, archived, data::jsonb
             FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[], $9::bool[], $10::text[])
               AS t(id, doc_key, name, initials, id_tail, categories, house_id, archived, data)
             ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key, name = excluded.name,
               initials = excluded.initials, id_tail = excluded.id_tail, categories = excluded.categories,
               house_id = excluded.house_id, archived = excluded.archived, data = excluded.data
             WHERE residents.grid = excluded.grid",
        )
        .bind(grid)
        .bind(r.iter().map(|(_, x)| x.id).collect::<Vec<_>>())
        .bind(r.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>())
        .bind(r.iter().map(|(_, x)| x.name.clone()).collect::<Vec<_>>())
        .bind(r.iter().map(|(_, x)| sync_protocol::pinyin::initials(&x.name)).collect::<Vec<_>>())
        .bind(r.iter().map(|(_, x)| sync_protocol::search::id_tail(x.id_number.as_deref())).collect::<Vec<_>>())
        .bind(r.iter().map(|(_, x)| x.categories.join(",")).collect::<Vec<_>>())
        .bind(r.iter().map(|(_, x)| x.house_id).collect::<Vec<_>>())
        .bind(r.iter().map(|(_, x)| x.is_archived()).collect::<Vec<_>>())
        .bind(r.iter().map(|(_, x)| serde_json::to_string(x).unwrap_or_default()).collect::<Vec<_>>())
        .bind(&records)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    if !rows.houses.is_empty() {
        let h = &rows.houses;
        sqlx_core::query::query(
            "INSERT INTO houses (id, grid, doc_key, address, rented, archived, data)
             SELECT id, $1, doc_key, address, rented, archived, data::jsonb
             FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::bool[], $6::bool[], $7::text[])
               AS t(id, doc_key, address, rented, archived, data)
             ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key,
               address = excluded.address, rented = excluded.rented, archived = excluded.archived, data = excluded.data
             WHERE houses.grid = excluded.grid",
        )
        .bind(grid)
        .bind(h.iter().map(|(_, x)| x.id).collect::<Vec<_>>())
        .bind(h.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>())
        .bind(h.iter().map(|(_, x)| x.address()).collect::<Vec<_>>())
        .bind(h.iter().map(|(_, x)| x.rented.unwrap_or(false)).collect::<Vec<_>>())
        .bind(h.iter().map(|(_, x)| x.archived_reason.is_some()).collect::<Vec<_>>())
        .bind(h.iter().map(|(_, x)| serde_json::to_string(x).unwrap_or_default()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    if !rows.visits.is_empty() {
        let v = &rows.visits;
        let attention = |x: &Visit| {
            let c = &x.clears;
            [&c.household, &c.population, &c.hazards, &c.needs, &c.attitude]
                .iter()
                .filter(|i| i.status == "attention")
                .count() as i32
        };
        sqlx_core::query::query(
            "INSERT INTO visits (id, grid, doc_key, house_id, at, by_account, attention, data)
             SELECT id, $1, doc_key, house_id, at, by_account, attention, data::jsonb
             FROM UNNEST($2::uuid[], $3::text[], $4::uuid[], $5::int8[], $6::uuid[], $7::int4[], $8::text[])
               AS t(id, doc_key, house_id, at, by_account, attention, data)
             ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key,
               house_id = excluded.house_id, at = excluded.at, by_account = excluded.by_account,
               attention = excluded.attention, data = excluded.data
             WHERE visits.grid = excluded.grid",
        )
        .bind(grid)
        .bind(v.iter().map(|(_, x)| x.id).collect::<Vec<_>>())
        .bind(v.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>())
        .bind(v.iter().map(|(_, x)| x.house_id).collect::<Vec<_>>())
        .bind(v.iter().map(|(_, x)| x.at).collect::<Vec<_>>())
        .bind(v.iter().map(|(_, x)| x.by).collect::<Vec<_>>())
        .bind(v.iter().map(|(_, x)| attention(x)).collect::<Vec<_>>())
        .bind(v.iter().map(|(_, x)| serde_json::to_string(x).unwrap_or_default()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    if !rows.disputes.is_empty() {
        let d = &rows.disputes;
        let states: Vec<_> = d.iter().map(|(_, x)| x.state()).collect();
        sqlx_core::query::query(
            "INSERT INTO disputes (id, grid, doc_key, class, category, status, level, resolved_level, open,
                                   discovered_at, reported_at, data)
             SELECT id, $1, doc_key, class, category, status, level, resolved_level, open, discovered_at, reported_at,
                    data::jsonb
             FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                         $9::bool[], $10::int8[], $11::int8[], $12::text[])
               AS t(id, doc_key, class, category, status, level, resolved_level, open, discovered_at, reported_at, data)
             ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key, class = excluded.class,
               category = excluded.category, status = excluded.status, level = excluded.level,
               resolved_level = excluded.resolved_level, open = excluded.open,
               discovered_at = excluded.discovered_at, reported_at = excluded.reported_at, data = excluded.data
             WHERE disputes.grid = excluded.grid",
        )
        .bind(grid)
        .bind(d.iter().map(|(_, x)| x.id).collect::<Vec<_>>())
        .bind(d.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, x)| x.class.clone()).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, x)| x.category.clone()).collect::<Vec<_>>())
        .bind(states.iter().map(|s| s.status.as_str().to_string()).collect::<Vec<_>>())
        .bind(states.iter().map(|s| s.level.as_str().to_string()).collect::<Vec<_>>())
        .bind(states.iter().map(|s| s.resolved_level.map(|l| l.as_str().to_string())).collect::<Vec<_>>())
        .bind(states.iter().map(|s| s.status.is_open()).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, x)| x.discovered_at).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, x)| x.reported_at).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, x)| serde_json::to_string(x).unwrap_or_default()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    if !rows.conflicts.is_empty() {
        if !cleared_with_residents {
            sqlx_core::query::query("DELETE FROM conflicts WHERE record = ANY($1) AND grid = $2")
                .bind(&records)
                .bind(grid)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
        }
        let all: Vec<(&DocKey, Uuid, &Conflict)> =
            rows.conflicts.iter().flat_map(|(k, r, list)| list.iter().map(move |c| (k, *r, c))).collect();
        if !all.is_empty() {
            sqlx_core::query::query(
                "INSERT INTO conflicts (record, field, grid, doc_key, data)
                 SELECT record, field, $1, doc_key, data::jsonb
                 FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[]) AS t(record, field, doc_key, data)
                 ON CONFLICT (record, field) DO UPDATE SET doc_key = excluded.doc_key, data = excluded.data",
            )
            .bind(grid)
            .bind(all.iter().map(|(_, r, _)| *r).collect::<Vec<_>>())
            .bind(all.iter().map(|(_, _, c)| c.field.clone()).collect::<Vec<_>>())
            .bind(all.iter().map(|(k, _, _)| k.to_string()).collect::<Vec<_>>())
            .bind(all.iter().map(|(_, _, c)| serde_json::to_string(c).unwrap_or_default()).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        }
    }
    Ok(())
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn put_node(&self, node: &Node) -> Result<()> {
        sqlx_core::query::query(
            "INSERT INTO nodes (id, kind, name, parent, township, village) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, parent = excluded.parent,
               township = excluded.township, village = excluded.village",
        )
        .bind(node.id)
        .bind(kind_str(node.kind))
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

    async fn load_docs(&self, keys: &[DocKey]) -> Result<Vec<StoredDoc>> {
        let names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let rows =
            sqlx_core::query::query(WHOLE_DOCS_BY_KEY).bind(&names).fetch_all(&self.pool).await.map_err(db_err)?;
        let mut found: std::collections::HashMap<String, (Vec<u8>, i64)> = rows
            .into_iter()
            .map(|r| {
                Ok((r.try_get(0).map_err(db_err)?, (r.try_get(1).map_err(db_err)?, r.try_get(2).map_err(db_err)?)))
            })
            .collect::<Result<_>>()?;
        // In the order asked for, like the SQLite backend.
        Ok(keys
            .iter()
            .zip(names)
            .filter_map(|(key, name)| {
                found.remove(&name).map(|(bytes, version)| StoredDoc { key: *key, bytes, version: version as u64 })
            })
            .collect())
    }

    async fn doc_versions(&self, keys: &[DocKey]) -> Result<Vec<(DocKey, u64)>> {
        let names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let rows = sqlx_core::query::query("SELECT doc_key, version FROM documents WHERE doc_key = ANY($1)")
            .bind(&names)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let found: std::collections::HashMap<String, i64> = rows
            .iter()
            .map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?)))
            .collect::<Result<_>>()?;
        Ok(keys.iter().zip(&names).filter_map(|(k, n)| found.get(n).map(|v| (*k, *v as u64))).collect())
    }

    async fn has_changes(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>> {
        let list: Vec<Vec<u8>> = hashes.iter().map(|h| h.to_vec()).collect();
        let rows: Vec<Vec<u8>> = sqlx_core::query_scalar::query_scalar("SELECT hash FROM changes WHERE hash = ANY($1)")
            .bind(&list)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let known: std::collections::HashSet<Vec<u8>> = rows.into_iter().collect();
        Ok(list.iter().map(|h| known.contains(h)).collect())
    }

    async fn commit(&self, commit: GridCommit) -> Result<u64> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut tx = self.begin().await?;
        // The grid's row is the lock every writer to this grid takes, on every server. It exists
        // after the grid's first commit, so one round trip usually takes it.
        let mut seq = match lock_grid(&mut tx, commit.grid).await? {
            Some(seq) => seq,
            None => {
                sqlx_core::query::query(
                    "INSERT INTO grid_log (grid, seq) VALUES ($1, 0) ON CONFLICT (grid) DO NOTHING",
                )
                .bind(commit.grid)
                .execute(&mut *tx)
                .await
                .map_err(write_err)?;
                lock_grid(&mut tx, commit.grid).await?.ok_or_else(|| db_err("grid log row missing"))?
            }
        };
        if !commit.docs.is_empty() {
            let names: Vec<String> = commit.docs.iter().map(|d| d.key.to_string()).collect();
            if let Some(d) = commit.docs.iter().find(|d| d.key.grid != commit.grid) {
                return Err(StorageError::Contention(d.key.to_string()));
            }
            // Appends compare their version in the statement that writes them (below). Whole
            // documents (imports, every 32nd version) are compared first, read after the lock in a
            // statement of its own: under READ COMMITTED it sees every commit that held the lock
            // before this one (a join in the locking statement would not re-read the documents
            // after waiting).
            if commit.docs.iter().any(|d| !d.append) {
                let current: std::collections::HashMap<String, i64> =
                    sqlx_core::query::query("SELECT doc_key, version FROM documents WHERE doc_key = ANY($1)")
                        .bind(&names)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?)))
                        .collect::<Result<_>>()?;
                for (doc, name) in commit.docs.iter().zip(&names) {
                    if current.get(name).map(|v| *v as u64) != doc.expected {
                        return Err(StorageError::Contention(name.clone()));
                    }
                }
            }
            let (appends, full): (Vec<_>, Vec<_>) = commit.docs.iter().zip(&names).partition(|(d, _)| d.append);
            if !full.is_empty() {
                sqlx_core::query::query(
                    "INSERT INTO documents (doc_key, grid, bytes, version)
                     SELECT doc_key, $1, bytes, version FROM UNNEST($2::text[], $3::bytea[], $4::int8[]) AS t(doc_key, bytes, version)
                     ON CONFLICT (doc_key) DO UPDATE SET bytes = excluded.bytes, version = excluded.version",
                )
                .bind(commit.grid)
                .bind(full.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>())
                .bind(full.iter().map(|(d, _)| d.bytes.as_slice()).collect::<Vec<_>>())
                .bind(full.iter().map(|(d, _)| d.version as i64).collect::<Vec<_>>())
                .execute(&mut *tx)
                .await
                .map_err(write_err)?;
                sqlx_core::query::query("DELETE FROM doc_tail WHERE doc_key = ANY($1)")
                    .bind(full.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>())
                    .execute(&mut *tx)
                    .await
                    .map_err(write_err)?;
            }
            for (d, name) in appends {
                // The saved bytes stay (an update that leaves them alone keeps their TOAST value)
                // and the new changes go into a row of their own, only if the version is still the
                // one the writer read; otherwise nothing is written and the sync retries.
                let written = sqlx_core::query::query(
                    "WITH v AS (UPDATE documents SET version = $3 WHERE doc_key = $1 AND version = $4 RETURNING 1)
                     INSERT INTO doc_tail (doc_key, version, bytes) SELECT $1, $3, $2 FROM v",
                )
                .bind(name)
                .bind(d.bytes.as_slice())
                .bind(d.version as i64)
                .bind(d.expected.map(|v| v as i64))
                .execute(&mut *tx)
                .await
                .map_err(write_err)?;
                if written.rows_affected() != 1 {
                    return Err(StorageError::Contention(name.clone()));
                }
            }
        }
        if !commit.changes.is_empty() {
            let first = seq + 1;
            seq += commit.changes.len() as i64;
            let c = &commit.changes;
            sqlx_core::query::query(
                "WITH advanced AS (UPDATE grid_log SET seq = $9 WHERE grid = $1)
                 INSERT INTO changes (hash, grid, seq, doc_key, bytes, device, account, received_at)
                 SELECT hash, $1, seq, doc_key, bytes, device, account, $2
                 FROM UNNEST($3::bytea[], $4::int8[], $5::text[], $6::bytea[], $7::uuid[], $8::uuid[])
                   AS t(hash, seq, doc_key, bytes, device, account)",
            )
            .bind(commit.grid)
            .bind(now)
            .bind(c.iter().map(|x| &x.hash[..]).collect::<Vec<_>>())
            .bind((first..=seq).collect::<Vec<i64>>())
            .bind(c.iter().map(|x| x.doc.to_string()).collect::<Vec<_>>())
            .bind(c.iter().map(|x| x.bytes.as_slice()).collect::<Vec<_>>())
            .bind(c.iter().map(|x| x.device).collect::<Vec<_>>())
            .bind(c.iter().map(|x| x.account).collect::<Vec<_>>())
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
        }
        write_rows(&mut tx, commit.grid, &commit.rows).await?;
        tx.commit().await.map_err(write_err)?;
        Ok(seq as u64)
    }

    async fn grid_seq(&self, grid: Uuid) -> Result<u64> {
        let seq: Option<i64> = sqlx_core::query_scalar::query_scalar("SELECT seq FROM grid_log WHERE grid = $1")
            .bind(grid)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(seq.unwrap_or(0) as u64)
    }

    async fn catch_up(&self, grid: Uuid, after: u64, device: Uuid, max_bytes: usize) -> Result<CatchUp> {
        if after == 0 {
            // A snapshot: the documents and the position they stand at, from one snapshot.
            let mut tx =
                self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await.map_err(db_err)?;
            let seq: Option<i64> = sqlx_core::query_scalar::query_scalar("SELECT seq FROM grid_log WHERE grid = $1")
                .bind(grid)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            let rows =
                sqlx_core::query::query(WHOLE_DOCS_OF_GRID).bind(grid).fetch_all(&mut *tx).await.map_err(db_err)?;
            let mut docs = Vec::with_capacity(rows.len());
            for r in rows {
                let key: String = r.try_get(0).map_err(db_err)?;
                let version: i64 = r.try_get(2).map_err(db_err)?;
                docs.push(StoredDoc {
                    key: key.parse().map_err(db_err)?,
                    bytes: r.try_get(1).map_err(db_err)?,
                    version: version as u64,
                });
            }
            return Ok(CatchUp::Snapshot { seq: seq.unwrap_or(0) as u64, docs });
        }
        // One statement reads the grid's position and the first page of the log after the
        // device's, from one snapshot: a sync with nothing new, or with the night's few changes,
        // is one round trip. Changes at or below that position are committed and never change,
        // so further pages (bounded by it) need no transaction. A device's own changes are
        // skipped without reading their bytes.
        const PAGE: i64 = 500;
        let mut rows = sqlx_core::query::query(
            "SELECT g.seq, c.seq, c.doc_key, CASE WHEN c.device = $3 THEN NULL ELSE c.bytes END
             FROM grid_log g LEFT JOIN LATERAL (
                 SELECT seq, doc_key, device, bytes FROM changes
                 WHERE grid = g.grid AND seq > $2 AND seq <= g.seq ORDER BY seq LIMIT $4
             ) c ON true
             WHERE g.grid = $1 ORDER BY c.seq",
        )
        .bind(grid)
        .bind(after as i64)
        .bind(device)
        .bind(PAGE)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(top) = rows.first().map(|r| r.try_get::<i64, _>(0)).transpose().map_err(db_err)? else {
            return Ok(CatchUp::Changes { seq: 0, changes: vec![], more: false });
        };
        if after >= top as u64 {
            return Ok(CatchUp::Changes { seq: top as u64, changes: vec![], more: false });
        }
        let (mut out, mut size, mut last) = (Vec::new(), 0usize, after);
        loop {
            let n = rows.len();
            for r in rows {
                let Some(s) = r.try_get::<Option<i64>, _>(1).map_err(db_err)? else { continue };
                let bytes: Option<Vec<u8>> = r.try_get(3).map_err(db_err)?;
                if let Some(bytes) = bytes {
                    if size >= max_bytes && !out.is_empty() {
                        return Ok(CatchUp::Changes { seq: last, changes: out, more: true });
                    }
                    let key: String = r.try_get(2).map_err(db_err)?;
                    size += bytes.len();
                    out.push(LogChange { seq: s as u64, doc: key.parse().map_err(db_err)?, bytes });
                }
                last = s as u64;
            }
            if (n as i64) < PAGE || last >= top as u64 {
                break;
            }
            rows = sqlx_core::query::query(
                "SELECT $5::int8, seq, doc_key, CASE WHEN device = $3 THEN NULL ELSE bytes END FROM changes
                 WHERE grid = $1 AND seq > $2 AND seq <= $5 ORDER BY seq LIMIT $4",
            )
            .bind(grid)
            .bind(last as i64)
            .bind(device)
            .bind(PAGE)
            .bind(top)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        }
        Ok(CatchUp::Changes { seq: last.max(after), changes: out, more: false })
    }

    async fn residents(&self, scope: &Scope, q: &ResidentQuery) -> Result<Vec<Resident>> {
        let mut sql = Sql::scoped("SELECT data::text FROM residents", scope, "grid");
        if let Some(g) = q.grid {
            sql.and("grid =", Arg::Uuid(g));
        }
        if !q.include_archived {
            sql.push(" AND NOT archived");
        }
        if let Some(cat) = q.category.as_deref().filter(|s| !s.is_empty()) {
            sql.push(" AND ").arg(Arg::Text(cat.to_string())).push(" = ANY(categories)");
        }
        if let Some(term) = q.q.as_deref().and_then(sync_protocol::search::SearchTerm::parse) {
            let (column, pattern) = term.column_and_pattern();
            sql.and(&format!("{column} LIKE"), Arg::Text(pattern));
        }
        sql.push(&format!(" ORDER BY name LIMIT {}", q.limit.unwrap_or(1000).min(10_000)));
        sql.fetch_all(&self.pool).await?.iter().map(|r| json(r, 0)).collect()
    }

    async fn resident(&self, id: Uuid) -> Result<Option<(DocKey, Resident)>> {
        let row = sqlx_core::query::query("SELECT doc_key, data::text FROM residents WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| {
            let key: String = r.try_get(0).map_err(db_err)?;
            Ok((key.parse().map_err(db_err)?, json(&r, 1)?))
        })
        .transpose()
    }

    async fn houses(&self, scope: &Scope, grid: Option<Uuid>) -> Result<Vec<House>> {
        let mut sql = Sql::scoped("SELECT data::text FROM houses", scope, "grid");
        if let Some(g) = grid {
            sql.and("grid =", Arg::Uuid(g));
        }
        sql.push(" ORDER BY address LIMIT 5000");
        sql.fetch_all(&self.pool).await?.iter().map(|r| json(r, 0)).collect()
    }

    async fn disputes(&self, scope: &Scope, q: &DisputeQuery) -> Result<Vec<Dispute>> {
        let mut sql = Sql::scoped("SELECT data::text FROM disputes", scope, "grid");
        if let Some(g) = q.grid {
            sql.and("grid =", Arg::Uuid(g));
        }
        if let Some(s) = &q.status {
            sql.and("status =", Arg::Text(s.clone()));
        }
        if let Some(l) = &q.level {
            sql.and("level =", Arg::Text(l.clone()));
        }
        if q.open_only {
            sql.push(" AND open");
        }
        sql.push(" ORDER BY reported_at DESC LIMIT 2000");
        sql.fetch_all(&self.pool).await?.iter().map(|r| json(r, 0)).collect()
    }

    async fn record_doc(&self, collection: Collection, id: Uuid) -> Result<Option<DocKey>> {
        // The table name comes from a closed enum, never from input.
        let key: Option<String> = sqlx_core::query_scalar::query_scalar(&format!(
            "SELECT doc_key FROM {} WHERE id = $1",
            collection.as_str()
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(key.and_then(|k| k.parse().ok()))
    }

    async fn conflicts(&self, scope: &Scope, grid: Option<Uuid>) -> Result<Vec<Conflict>> {
        let mut sql = Sql::scoped("SELECT data::text FROM conflicts", scope, "grid");
        if let Some(g) = grid {
            sql.and("grid =", Arg::Uuid(g));
        }
        sql.fetch_all(&self.pool).await?.iter().map(|r| json(r, 0)).collect()
    }

    async fn overview(&self, scope: &Scope, month_start_ms: i64) -> Result<Overview> {
        let p = &self.pool;
        let count = |select: &str, extra: &str| {
            let mut q = Sql::scoped(select, scope, "grid");
            q.push(extra);
            q
        };
        let mut grids = Sql::scoped("SELECT COUNT(*) FROM nodes", scope, "id");
        grids.push(" AND kind = 'grid'");
        let mut o = Overview {
            grids: grids.count(p).await?,
            residents: count("SELECT COUNT(*) FROM residents", " AND NOT archived").count(p).await?,
            houses: count("SELECT COUNT(*) FROM houses", " AND NOT archived").count(p).await?,
            visits_this_month: count("SELECT COUNT(*) FROM visits", &format!(" AND at >= {month_start_ms}"))
                .count(p)
                .await?,
            open_conflicts: count("SELECT COUNT(*) FROM conflicts", "").count(p).await?,
            ..Default::default()
        };
        // One pass over the residents for every category.
        let mut by_cat: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
        for r in count("SELECT c, COUNT(*) FROM residents, unnest(categories) AS c", " AND NOT archived GROUP BY c")
            .fetch_all(p)
            .await?
        {
            by_cat.insert(r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?);
        }
        for cat in sync_protocol::schema::POPULATION_CATEGORIES {
            o.by_category.push((cat.to_string(), by_cat.get(*cat).copied().unwrap_or(0) as u64));
        }
        let (mut open, mut resolved) = (std::collections::HashMap::new(), std::collections::HashMap::new());
        for r in count("SELECT level, COUNT(*) FROM disputes", " AND open GROUP BY level").fetch_all(p).await? {
            open.insert(r.try_get::<String, _>(0).map_err(db_err)?, r.try_get::<i64, _>(1).map_err(db_err)?);
        }
        for r in count("SELECT resolved_level, COUNT(*) FROM disputes", " AND resolved_level IS NOT NULL GROUP BY 1")
            .fetch_all(p)
            .await?
        {
            resolved.insert(r.try_get::<String, _>(0).map_err(db_err)?, r.try_get::<i64, _>(1).map_err(db_err)?);
        }
        for level in sync_protocol::schema::LEVELS {
            o.open_disputes_by_level.push((level.to_string(), open.get(*level).copied().unwrap_or(0) as u64));
            o.resolved_by_level.push((level.to_string(), resolved.get(*level).copied().unwrap_or(0) as u64));
        }
        Ok(o)
    }

    async fn put_blob_chunk(&self, hash: &str, grid: Uuid, total: u64, offset: u64, bytes: &[u8]) -> Result<BlobState> {
        let mut tx = self.begin().await?;
        if offset == 0 {
            sqlx_core::query::query(
                "INSERT INTO blobs (hash, grid, total, received, complete) VALUES ($1, $2, $3, 0, FALSE)
                 ON CONFLICT (hash) DO NOTHING",
            )
            .bind(hash)
            .bind(grid)
            .bind(total as i64)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let current =
            sqlx_core::query::query("SELECT grid, total, received, complete FROM blobs WHERE hash = $1 FOR UPDATE")
                .bind(hash)
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
        sqlx_core::query::query("INSERT INTO blob_chunks (hash, \"offset\", data) VALUES ($1, $2, $3)")
            .bind(hash)
            .bind(offset as i64)
            .bind(bytes)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
        sqlx_core::query::query("UPDATE blobs SET received = $2 WHERE hash = $1")
            .bind(hash)
            .bind(received as i64)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let mut complete = false;
        if received == total {
            let chunks: Vec<Vec<u8>> = sqlx_core::query_scalar::query_scalar(
                "SELECT data FROM blob_chunks WHERE hash = $1 ORDER BY \"offset\"",
            )
            .bind(hash)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
            let data = chunks.concat();
            sqlx_core::query::query("DELETE FROM blob_chunks WHERE hash = $1")
                .bind(hash)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            let digest: String = sha2::Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
            if digest == hash {
                sqlx_core::query::query("UPDATE blobs SET complete = TRUE, data = $2 WHERE hash = $1")
                    .bind(hash)
                    .bind(&data)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                complete = true;
            } else {
                // The bytes do not match their name: start over.
                sqlx_core::query::query("DELETE FROM blobs WHERE hash = $1")
                    .bind(hash)
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

    async fn blob_state(&self, hash: &str) -> Result<Option<BlobState>> {
        let row = sqlx_core::query::query("SELECT grid, total, received, complete FROM blobs WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| {
            Ok(BlobState {
                grid: r.try_get(0).map_err(db_err)?,
                total: r.try_get::<i64, _>(1).map_err(db_err)? as u64,
                received: r.try_get::<i64, _>(2).map_err(db_err)? as u64,
                complete: r.try_get(3).map_err(db_err)?,
            })
        })
        .transpose()
    }

    async fn blob(&self, hash: &str) -> Result<Option<(Uuid, Vec<u8>)>> {
        let row = sqlx_core::query::query("SELECT grid, data FROM blobs WHERE hash = $1 AND complete")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?))).transpose()
    }

    async fn count_attempt(&self, key: &str, now: i64, since: i64) -> Result<u64> {
        let mut tx = self.begin().await?;
        sqlx_core::query::query("DELETE FROM attempts WHERE key = $1 AND at < $2")
            .bind(key)
            .bind(since)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx_core::query::query("INSERT INTO attempts (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let n: i64 = sqlx_core::query_scalar::query_scalar("SELECT COUNT(*) FROM attempts WHERE key = $1 AND at >= $2")
            .bind(key)
            .bind(since)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(n as u64)
    }

    async fn stats(&self) -> Result<StorageStats> {
        let row = sqlx_core::query::query(
            "SELECT (SELECT COUNT(*) FROM changes), (SELECT COUNT(*) FROM documents), (SELECT COUNT(*) FROM residents),
                    (SELECT COUNT(*) FROM houses), (SELECT COUNT(*) FROM visits), (SELECT COUNT(*) FROM disputes),
                    (SELECT COUNT(*) FROM devices)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let n = |i: usize| -> Result<u64> { Ok(row.try_get::<i64, _>(i).map_err(db_err)? as u64) };
        Ok(StorageStats {
            changes: n(0)?,
            documents: n(1)?,
            residents: n(2)?,
            houses: n(3)?,
            visits: n(4)?,
            disputes: n(5)?,
            devices: n(6)?,
        })
    }
}
