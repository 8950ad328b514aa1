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

use sqlx_core::row::Row;
use sqlx_core::transaction::Transaction;
use sqlx_postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow, Postgres};
use uuid::Uuid;

use super::*;

// One file per concept, each implementing that concept's trait for the PostgreSQL backend; this
// file holds the connection handling, migrations and helpers they share.
mod audit;
mod blobs;
mod documents;
mod enrolment;
mod organisation;
mod queries;
mod sessions;

use organisation::{account_row, device_row, node_row};

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
    // Conflict rows are keyed within their grid: on the old key a record id another grid also
    // uses made one grid's upsert overwrite the other's rows.
    r#"
ALTER TABLE conflicts DROP CONSTRAINT conflicts_pkey;
ALTER TABLE conflicts ADD PRIMARY KEY (grid, record, field);
DROP INDEX IF EXISTS conflicts_grid;
"#,
    // Blobs are keyed within their grid: a chunk for one grid appended to another grid's
    // upload of the same hash, and the answer named that grid.
    r#"
ALTER TABLE blob_chunks ADD COLUMN grid uuid;
UPDATE blob_chunks c SET grid = b.grid FROM blobs b WHERE b.hash = c.hash;
DELETE FROM blob_chunks WHERE grid IS NULL;
ALTER TABLE blob_chunks ALTER COLUMN grid SET NOT NULL;
ALTER TABLE blob_chunks DROP CONSTRAINT blob_chunks_pkey;
ALTER TABLE blob_chunks ADD PRIMARY KEY (grid, hash, "offset");
ALTER TABLE blobs DROP CONSTRAINT blobs_pkey;
ALTER TABLE blobs ADD PRIMARY KEY (grid, hash);
CREATE INDEX blobs_hash ON blobs(hash);
"#,
    // Enrolment attempts are counted in the server's memory: a table written on every attempt
    // let anonymous requests occupy the writer that sync commits share.
    r#"
DROP TABLE IF EXISTS attempts;
"#,
    // Every read of personal data (issue 10). The search tail is as long as a masked ID number
    // shows: six characters read two more than any list.
    r#"
CREATE TABLE audit (
    seq bigserial PRIMARY KEY, at bigint NOT NULL, account uuid NOT NULL, device uuid NOT NULL,
    role text NOT NULL, kind text NOT NULL, grid uuid, subject text, detail text NOT NULL, client text
);
CREATE INDEX audit_at ON audit(at);
CREATE INDEX audit_account_at ON audit(account, at);
UPDATE residents SET id_tail = right(id_tail, 4) WHERE length(id_tail) > 4;
"#,
    // Uploads remember who started them and when a chunk last came: a device's quota, and the
    // cleanup of abandoned uploads (issue 10).
    r#"
ALTER TABLE blobs ADD COLUMN device uuid;
ALTER TABLE blobs ADD COLUMN started_at bigint NOT NULL DEFAULT 0;
ALTER TABLE blobs ADD COLUMN touched_at bigint NOT NULL DEFAULT 0;
UPDATE blobs SET started_at = (extract(epoch FROM now()) * 1000)::bigint, touched_at = (extract(epoch FROM now()) * 1000)::bigint;
CREATE INDEX blobs_device ON blobs(device, started_at);
CREATE INDEX blobs_unfinished ON blobs(complete, touched_at);
"#,
    // The closed loop (issue 11): what staff lists filter on, derived by the rule at commit
    // (`DisputeColumns`); rows of an older rule are derived again at start (`rule`).
    r#"
ALTER TABLE disputes ADD COLUMN accepted boolean NOT NULL DEFAULT false;
ALTER TABLE disputes ADD COLUMN supervised boolean NOT NULL DEFAULT false;
ALTER TABLE disputes ADD COLUMN deadline bigint;
ALTER TABLE disputes ADD COLUMN waiting_level text;
ALTER TABLE disputes ADD COLUMN waiting_account uuid;
ALTER TABLE disputes ADD COLUMN rule bigint NOT NULL DEFAULT 0;
CREATE INDEX disputes_waiting ON disputes(waiting_level, deadline) WHERE waiting_level IS NOT NULL;
CREATE INDEX disputes_deadline ON disputes(deadline) WHERE open;
CREATE INDEX disputes_rule ON disputes(rule);
"#,
    // The three first-times (issue 11): who reported and when the dispute was first dealt with,
    // filled in as rows are derived again by rule 2.
    r#"
ALTER TABLE disputes ADD COLUMN reported_by uuid;
ALTER TABLE disputes ADD COLUMN first_intervention_at bigint;
CREATE INDEX disputes_reported_at ON disputes(reported_at);
"#,
    // The county's setup file (issue 11): a grid's code (网格编码) names it across re-runs, and
    // its boundary (GeoJSON) draws it on the console's map; codes are issued and revoked in bulk
    // per person.
    r#"
ALTER TABLE nodes ADD COLUMN code text;
ALTER TABLE nodes ADD COLUMN boundary text;
CREATE UNIQUE INDEX nodes_code ON nodes(code) WHERE code IS NOT NULL;
CREATE INDEX enrolment_codes_account ON enrolment_codes(account) WHERE used_at IS NULL;
"#,
    // Departments (issue 11): a dispute sent to a department waits for that department (rule 3
    // derives the stored rows again at start).
    r#"
ALTER TABLE disputes ADD COLUMN waiting_node uuid;
"#,
    // County settings (issue 11): the time limits every replica derives deadlines by. A
    // dispute's row names the version of them it was derived under (`settings`); rows of an
    // older version are derived again when the settings change.
    r#"
CREATE TABLE county_settings (id integer PRIMARY KEY CHECK (id = 1), version bigint NOT NULL, data text NOT NULL);
ALTER TABLE disputes ADD COLUMN settings bigint NOT NULL DEFAULT 0;
CREATE INDEX disputes_settings ON disputes(settings);
"#,
    // The staff console (issue 12): log-in names with Argon2id password hashes, and sessions
    // held by browsers (the token only as its SHA-256 hash).
    r#"
CREATE TABLE staff_logins (account uuid PRIMARY KEY, login text NOT NULL UNIQUE, hash text NOT NULL, set_at bigint NOT NULL);
CREATE TABLE sessions (id uuid PRIMARY KEY, account uuid NOT NULL, token_hash text NOT NULL UNIQUE, csrf text NOT NULL,
                       created_at bigint NOT NULL, seen_at bigint NOT NULL, ended_at bigint, client text);
CREATE INDEX sessions_account ON sessions(account) WHERE ended_at IS NULL;
"#,
    // Per-grid counters (issue 12), kept by the database at every write as on SQLite: `what` is
    // `residents`, `houses`, `cat:<category>` or `visits:<yyyymm>` (China Standard Time).
    r#"
CREATE TABLE grid_counts (grid uuid NOT NULL, what text NOT NULL, n bigint NOT NULL, PRIMARY KEY (grid, what));
CREATE FUNCTION gk_count(g uuid, w text, d bigint) RETURNS void LANGUAGE sql AS $$
  INSERT INTO grid_counts (grid, what, n) VALUES (g, w, d) ON CONFLICT (grid, what) DO UPDATE SET n = grid_counts.n + d
$$;
CREATE FUNCTION gk_visit_month(at bigint) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT 'visits:' || to_char(to_timestamp(at / 1000 + 28800) AT TIME ZONE 'UTC', 'YYYYMM')
$$;
CREATE FUNCTION gk_residents_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NOT OLD.archived THEN
    PERFORM gk_count(OLD.grid, 'residents', -1);
    PERFORM gk_count(OLD.grid, 'cat:' || c, -1) FROM unnest(OLD.categories) AS c WHERE c <> '';
  END IF;
  IF NOT NEW.archived THEN
    PERFORM gk_count(NEW.grid, 'residents', 1);
    PERFORM gk_count(NEW.grid, 'cat:' || c, 1) FROM unnest(NEW.categories) AS c WHERE c <> '';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER residents_counted AFTER INSERT OR UPDATE OF archived, categories ON residents
  FOR EACH ROW EXECUTE FUNCTION gk_residents_counted();
CREATE FUNCTION gk_houses_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NOT OLD.archived THEN PERFORM gk_count(OLD.grid, 'houses', -1); END IF;
  IF NOT NEW.archived THEN PERFORM gk_count(NEW.grid, 'houses', 1); END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER houses_counted AFTER INSERT OR UPDATE OF archived ON houses
  FOR EACH ROW EXECUTE FUNCTION gk_houses_counted();
CREATE FUNCTION gk_visits_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN PERFORM gk_count(OLD.grid, gk_visit_month(OLD.at), -1); END IF;
  PERFORM gk_count(NEW.grid, gk_visit_month(NEW.at), 1);
  RETURN NULL;
END $$;
CREATE TRIGGER visits_counted AFTER INSERT OR UPDATE OF at ON visits
  FOR EACH ROW EXECUTE FUNCTION gk_visits_counted();
INSERT INTO grid_counts (grid, what, n) SELECT grid, 'residents', COUNT(*) FROM residents WHERE NOT archived GROUP BY grid;
INSERT INTO grid_counts (grid, what, n)
  SELECT grid, 'cat:' || c, COUNT(*) FROM residents, unnest(categories) AS c WHERE NOT archived AND c <> '' GROUP BY 1, 2;
INSERT INTO grid_counts (grid, what, n) SELECT grid, 'houses', COUNT(*) FROM houses WHERE NOT archived GROUP BY grid;
INSERT INTO grid_counts (grid, what, n) SELECT grid, gk_visit_month(at), COUNT(*) FROM visits GROUP BY 1, 2;
"#,
    // Disputes in the counters too: `open:<level>` and `settled:<level>`.
    r#"
CREATE FUNCTION gk_disputes_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF OLD.open THEN PERFORM gk_count(OLD.grid, 'open:' || OLD.level, -1); END IF;
    IF OLD.resolved_level IS NOT NULL THEN PERFORM gk_count(OLD.grid, 'settled:' || OLD.resolved_level, -1); END IF;
  END IF;
  IF NEW.open THEN PERFORM gk_count(NEW.grid, 'open:' || NEW.level, 1); END IF;
  IF NEW.resolved_level IS NOT NULL THEN PERFORM gk_count(NEW.grid, 'settled:' || NEW.resolved_level, 1); END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER disputes_counted AFTER INSERT OR UPDATE OF open, level, resolved_level ON disputes
  FOR EACH ROW EXECUTE FUNCTION gk_disputes_counted();
INSERT INTO grid_counts (grid, what, n) SELECT grid, 'open:' || level, COUNT(*) FROM disputes WHERE open GROUP BY 1, 2;
INSERT INTO grid_counts (grid, what, n)
  SELECT grid, 'settled:' || resolved_level, COUNT(*) FROM disputes WHERE resolved_level IS NOT NULL GROUP BY 1, 2;
"#,
    // The counters' update triggers fire only when a counted column changes (every upsert sets
    // every column).
    r#"
DROP TRIGGER IF EXISTS residents_counted ON residents;
CREATE TRIGGER residents_counted AFTER INSERT ON residents FOR EACH ROW EXECUTE FUNCTION gk_residents_counted();
CREATE TRIGGER residents_recounted AFTER UPDATE OF archived, categories ON residents FOR EACH ROW
  WHEN (OLD.archived IS DISTINCT FROM NEW.archived OR OLD.categories IS DISTINCT FROM NEW.categories)
  EXECUTE FUNCTION gk_residents_counted();
DROP TRIGGER IF EXISTS houses_counted ON houses;
CREATE TRIGGER houses_counted AFTER INSERT ON houses FOR EACH ROW EXECUTE FUNCTION gk_houses_counted();
CREATE TRIGGER houses_recounted AFTER UPDATE OF archived ON houses FOR EACH ROW
  WHEN (OLD.archived IS DISTINCT FROM NEW.archived) EXECUTE FUNCTION gk_houses_counted();
DROP TRIGGER IF EXISTS visits_counted ON visits;
CREATE TRIGGER visits_counted AFTER INSERT ON visits FOR EACH ROW EXECUTE FUNCTION gk_visits_counted();
CREATE TRIGGER visits_recounted AFTER UPDATE OF at ON visits FOR EACH ROW
  WHEN (gk_visit_month(OLD.at) IS DISTINCT FROM gk_visit_month(NEW.at)) EXECUTE FUNCTION gk_visits_counted();
DROP TRIGGER IF EXISTS disputes_counted ON disputes;
CREATE TRIGGER disputes_counted AFTER INSERT ON disputes FOR EACH ROW EXECUTE FUNCTION gk_disputes_counted();
CREATE TRIGGER disputes_recounted AFTER UPDATE OF open, level, resolved_level ON disputes FOR EACH ROW
  WHEN (OLD.open IS DISTINCT FROM NEW.open OR OLD.level IS DISTINCT FROM NEW.level
        OR OLD.resolved_level IS DISTINCT FROM NEW.resolved_level)
  EXECUTE FUNCTION gk_disputes_counted();
"#,
    // The county-wide resident search (issue 12): a GIN index over each name's characters and
    // pairs of characters ("张伟明" → 张 伟 明 张伟 伟明). A term of one or two characters is one
    // key, a longer one all its pairs; `LIKE` then decides. pg_trgm needs three characters, and
    // most searched names are two.
    r#"
CREATE FUNCTION gk_name_grams(name text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT g), '{}') FROM (
    SELECT substr(name, i, 1) AS g FROM generate_series(1, length(name)) AS i
    UNION ALL SELECT substr(name, i, 2) FROM generate_series(1, length(name) - 1) AS i
  ) AS grams
$$;
CREATE INDEX residents_name_grams ON residents USING gin (gk_name_grams(name));
CREATE INDEX residents_initials ON residents (initials text_pattern_ops);
CREATE INDEX residents_id_tail ON residents (id_tail);
"#,
    // A second factor for console log-ins (issue 12): each log-in's TOTP secret, whether it is
    // in force, and the last step taken (a code is taken once); the roles that must have one.
    r#"
ALTER TABLE staff_logins ADD COLUMN totp_secret text;
ALTER TABLE staff_logins ADD COLUMN totp_confirmed boolean NOT NULL DEFAULT false;
ALTER TABLE staff_logins ADD COLUMN totp_step bigint NOT NULL DEFAULT 0;
CREATE TABLE console_policy (id int PRIMARY KEY CHECK (id = 1), second_factor_roles text NOT NULL);
"#,
    // The figures of a window of months read the disputes' times from an index holding them.
    r#"
CREATE INDEX disputes_times ON disputes (reported_at)
  INCLUDE (grid, reported_by, discovered_at, first_intervention_at, resolved_level, rule);
DROP INDEX IF EXISTS disputes_reported_at;
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
const WHOLE_DOCS_OF_GRID: &str =
    whole_docs_where!("d.grid = $1 AND split_part(d.doc_key, '/', 2) = ANY($2) ORDER BY d.doc_key");

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

/// A query assembled at run time, with its arguments numbered as they are added.
struct Sql {
    text: String,
    args: Vec<Arg>,
}

enum Arg {
    Uuid(Uuid),
    Text(String),
    Texts(Vec<String>),
    Int(i64),
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
                Arg::Texts(t) => q.bind(t.as_slice()),
                Arg::Int(i) => q.bind(*i),
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

/// The channel the servers sharing a database announce the staff's live events on.
const EVENTS_CHANNEL: &str = "gridkeeper_events";

#[async_trait]
impl Relay for PostgresStorage {
    fn relays(&self) -> bool {
        true
    }

    async fn announce(&self, message: &str) -> Result<()> {
        sqlx_core::query::query("SELECT pg_notify($1, $2)")
            .bind(EVENTS_CHANNEL)
            .bind(message)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn announcements(&self) -> Result<Option<tokio::sync::mpsc::Receiver<String>>> {
        let mut listener = sqlx_postgres::PgListener::connect_with(&self.pool).await.map_err(db_err)?;
        listener.listen(EVENTS_CHANNEL).await.map_err(db_err)?;
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                // Ends with the server (its receiver dropped) or the pool; `try_recv` says when
                // the connection was lost and reconnects at the next call (what was announced
                // meanwhile is missed: the clients' lists still hold it).
                let next = tokio::select! {
                    _ = tx.closed() => return,
                    next = listener.try_recv() => next,
                };
                match next {
                    Ok(Some(n)) => {
                        if tx.send(n.payload().to_string()).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => tracing::warn!("relay of live events lost its connection; listening again"),
                    Err(sqlx_core::Error::PoolClosed) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "relay of live events interrupted; listening again");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Some(rx))
    }
}
