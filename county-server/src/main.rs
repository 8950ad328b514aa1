//! `county-server`: serve a county, or build and serve the demo county.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Parser, Subcommand};
use county_server::server::{open_storage, spawn};
use uuid::Uuid;

#[derive(Parser)]
#[command(version, about = "Gridkeeper county server (网格化服务管理 县级服务端)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve an existing county database.
    Serve {
        /// `sqlite:///path/county.db`, or a file path.
        #[arg(long, env = "GRIDKEEPER_DB", default_value = "gridkeeper.db")]
        db: String,
        #[arg(long, env = "GRIDKEEPER_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
    },
    /// Create (if needed) and serve a demo county shaped like Yishui, printing enrolment codes.
    Demo {
        #[arg(long, env = "GRIDKEEPER_DB", default_value = "gridkeeper-demo.db")]
        db: String,
        #[arg(long, env = "GRIDKEEPER_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// How many grids (Yishui has 1,358).
        #[arg(long, default_value_t = 1358)]
        grids: usize,
        #[arg(long, default_value_t = 2023)]
        seed: u64,
        /// Generate, print the codes and exit instead of serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Issue a one-time enrolment code for an account.
    IssueCode {
        #[arg(long, env = "GRIDKEEPER_DB", default_value = "gridkeeper.db")]
        db: String,
        #[arg(long)]
        account: Uuid,
    },
    /// Revoke a device (a lost handheld).
    Revoke {
        #[arg(long, env = "GRIDKEEPER_DB", default_value = "gridkeeper.db")]
        db: String,
        #[arg(long)]
        device: Uuid,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve { db, addr } => {
            let storage = open_storage(&db)?;
            let running = spawn(storage, addr).await?;
            println!("county server listening on {}", running.url());
            tokio::signal::ctrl_c().await?;
            running.stop().await;
        }
        Command::Demo { db, addr, grids, seed, no_serve } => {
            let storage = open_storage(&db)?;
            let summary = county_server::demo::ensure_demo(storage.as_ref(), grids, seed)
                .await
                .context("building the demo county")?;
            let running = if no_serve { None } else { Some(spawn(storage.clone(), addr).await?) };
            let url = running.as_ref().map(|r| r.url()).unwrap_or_else(|| format!("http://{addr}"));
            summary.print(&url);
            if let Some(running) = running {
                tokio::signal::ctrl_c().await?;
                running.stop().await;
            }
        }
        Command::IssueCode { db, account } => {
            let storage = open_storage(&db)?;
            let code = county_server::api::issue_code_for(storage.as_ref(), account)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", code.code);
        }
        Command::Revoke { db, device } => {
            let storage = open_storage(&db)?;
            if storage.revoke_device(device, chrono::Utc::now().timestamp_millis()).await? {
                println!("revoked {device}");
            } else {
                anyhow::bail!("no active device {device}");
            }
        }
    }
    Ok(())
}
