//! Helpers for tests and benchmarks that need a PostgreSQL database of their own.

use std::str::FromStr;

use sqlx_core::connection::Connection;
use sqlx_postgres::{PgConnectOptions, PgConnection};

/// The server tests use: `GRIDKEEPER_TEST_PG`, by default the local one CI starts.
pub fn test_postgres_url() -> String {
    std::env::var("GRIDKEEPER_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Creates an empty database `gk_<label>_<random>` on the test server and returns its URL.
/// Each test gets its own, so tests run in parallel without seeing each other's rows.
pub async fn scratch_postgres(label: &str) -> anyhow::Result<String> {
    let admin = test_postgres_url();
    let mut conn = PgConnection::connect(&admin).await?;
    let name = format!("gk_{}_{}", label, uuid::Uuid::new_v4().simple());
    sqlx_core::raw_sql::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
    conn.close().await?;
    PgConnectOptions::from_str(&admin)?;
    Ok(url_with_database(&admin, &name))
}

/// Drops a database made by [`scratch_postgres`] (best effort: tests call it when done).
pub async fn drop_scratch_postgres(url: &str) -> anyhow::Result<()> {
    let name = url.rsplit('/').next().unwrap_or_default().split('?').next().unwrap_or_default().to_string();
    anyhow::ensure!(name.starts_with("gk_"), "not a scratch database: {name}");
    let mut conn = PgConnection::connect(&test_postgres_url()).await?;
    sqlx_core::raw_sql::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

fn url_with_database(admin: &str, name: &str) -> String {
    // Replace the database part of the admin URL, keeping user, host, port and parameters.
    let (base, params) = admin.split_once('?').map_or((admin, None), |(b, p)| (b, Some(p)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match params {
        Some(p) => format!("{base}/{name}?{p}"),
        None => format!("{base}/{name}"),
    }
}

/// The size of a PostgreSQL database on disk, for benchmarks.
pub async fn postgres_database_size(url: &str) -> anyhow::Result<u64> {
    let mut conn = PgConnection::connect(url).await?;
    let size: i64 = sqlx_core::query_scalar::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(size as u64)
}
