//! `county-server`: serve a county, or build and serve the demo county.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use county_server::server::{ServeOptions, open_storage, spawn_opts};
use county_server::service::enrolment;
use county_server::tls::TlsFiles;
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
        #[command(flatten)]
        net: NetOptions,
    },
    /// Create (if needed) and serve a demo county shaped like Yishui, printing enrolment codes.
    /// (Only in builds with the `demo` feature: a production server does not carry the
    /// generator.)
    #[cfg(feature = "demo")]
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
        #[command(flatten)]
        net: NetOptions,
    },
    /// Issue a one-time enrolment code for an account.
    IssueCode {
        #[arg(long, env = "GRIDKEEPER_DB", default_value = "gridkeeper.db")]
        db: String,
        #[arg(long)]
        account: Uuid,
    },
    /// Revoke an issued enrolment code that is not used yet (a lost sheet, a person who left).
    RevokeCode {
        #[arg(long, env = "GRIDKEEPER_DB", default_value = "gridkeeper.db")]
        db: String,
        #[arg(long)]
        code: String,
    },
    /// Revoke a device (a lost handheld).
    Revoke {
        #[arg(long, env = "GRIDKEEPER_DB", default_value = "gridkeeper.db")]
        db: String,
        #[arg(long)]
        device: Uuid,
    },
    /// Set up or update the county's places and people from its setup file (县网格.xlsx or .csv):
    /// townships, villages, grids (codes, GeoJSON boundaries), departments, and every person
    /// with their role. All rows or none; prints every rejected row and exits non-zero.
    Setup {
        #[arg(long, env = "GRIDKEEPER_DB", default_value = "gridkeeper.db")]
        db: String,
        /// `.csv` (UTF-8 or GB18030) or `.xlsx`.
        #[arg(long)]
        file: PathBuf,
        /// The county's name, when the database holds no county yet.
        #[arg(long)]
        county: Option<String>,
    },
    /// Print the county's time limits per class and level (the closed loop's deadlines), or set
    /// them from a JSON file (`{"limits": [{"class", "level", "accept_minutes",
    /// "settle_minutes"}]}`; entries not named keep the defaults). Every dispute's deadline is
    /// derived again; running servers follow within seconds, handhelds at their next sync.
    TimeLimits {
        #[arg(long, env = "GRIDKEEPER_DB", default_value = "gridkeeper.db")]
        db: String,
        #[arg(long)]
        set: Option<PathBuf>,
    },
    /// Issue enrolment codes for everyone at or under a place, as a printable sheet (HTML, one
    /// card with a QR code per person). A person's earlier unused codes stop working.
    IssueCodes {
        #[arg(long, env = "GRIDKEEPER_DB", default_value = "gridkeeper.db")]
        db: String,
        /// A township's name (or 镇街/村社区), or a place's id; the whole county without it.
        #[arg(long)]
        place: Option<String>,
        /// Where to write the sheet (.html); a .json file gets the codes as JSON.
        #[arg(long)]
        out: PathBuf,
        /// The server's address as the handhelds reach it, printed and put in the QR codes.
        #[arg(long)]
        server_url: Option<String>,
        /// Also people who already have an enrolled device.
        #[arg(long)]
        include_enrolled: bool,
    },
    /// Revoke every unused enrolment code of the people at or under a place (a lost sheet).
    RevokeCodes {
        #[arg(long, env = "GRIDKEEPER_DB", default_value = "gridkeeper.db")]
        db: String,
        /// A township's name (or 镇街/村社区), or a place's id; the whole county without it.
        #[arg(long)]
        place: Option<String>,
    },
    /// Import a grid's roster (花名册) from a .csv or .xlsx file: all rows or none. Prints every
    /// rejected row (row, column, reason) and exits non-zero when any is rejected.
    ImportRoster {
        #[arg(long, env = "GRIDKEEPER_DB", default_value = "gridkeeper.db")]
        db: String,
        #[arg(long)]
        grid: Uuid,
        /// `.csv` (UTF-8 or GB18030) or `.xlsx`.
        #[arg(long)]
        file: PathBuf,
        /// The account the records' history names (default: none, the operator at the console).
        #[arg(long)]
        account: Option<Uuid>,
    },
    /// Export a grid's roster to a .csv or .xlsx file, with full ID numbers and phones unless
    /// `--masked`.
    ExportRoster {
        #[arg(long, env = "GRIDKEEPER_DB", default_value = "gridkeeper.db")]
        db: String,
        #[arg(long)]
        grid: Uuid,
        /// Where to write; the extension picks the format.
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        masked: bool,
    },
}

/// HTTPS and the client address (see docs/security.md).
#[derive(clap::Args)]
struct NetOptions {
    /// Serve HTTPS with this certificate chain (PEM); plain HTTP without it.
    #[arg(long, env = "GRIDKEEPER_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "GRIDKEEPER_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A reverse proxy whose X-Forwarded-For is believed (repeat, or comma-separated).
    #[arg(long, env = "GRIDKEEPER_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxy: Vec<IpAddr>,
}

impl NetOptions {
    fn serve_options(self, addr: SocketAddr) -> ServeOptions {
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            _ => None,
        };
        if tls.is_none() && !addr.ip().is_loopback() && self.trusted_proxy.is_empty() {
            tracing::warn!(%addr, "serving plain HTTP on a network address: devices refuse http:// except to loopback; give --tls-cert and --tls-key");
        }
        ServeOptions { tls, trusted_proxies: self.trusted_proxy, ..Default::default() }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve { db, addr, net } => {
            let storage = open_storage(&db).await?;
            let running = spawn_opts(storage, addr, net.serve_options(addr)).await?;
            println!("county server listening on {}", running.url());
            tokio::signal::ctrl_c().await?;
            running.stop().await;
        }
        #[cfg(feature = "demo")]
        Command::Demo { db, addr, grids, seed, no_serve, net } => {
            let storage = open_storage(&db).await?;
            let summary = county_server::demo::ensure_demo(storage.clone(), grids, seed)
                .await
                .context("building the demo county")?;
            let running =
                if no_serve { None } else { Some(spawn_opts(storage.clone(), addr, net.serve_options(addr)).await?) };
            let url = running.as_ref().map(|r| r.url()).unwrap_or_else(|| format!("http://{addr}"));
            summary.print(&url);
            if let Some(running) = running {
                tokio::signal::ctrl_c().await?;
                running.stop().await;
            }
        }
        Command::IssueCode { db, account } => {
            let storage = open_storage(&db).await?;
            let code = enrolment::issue_code(storage.as_ref(), account).await.map_err(cli_error)?;
            println!("{}", code.code);
        }
        Command::RevokeCode { db, code } => {
            let storage = open_storage(&db).await?;
            enrolment::revoke_code(storage.as_ref(), &code).await.map_err(cli_error)?;
            println!("revoked the code");
        }
        Command::Revoke { db, device } => {
            let storage = open_storage(&db).await?;
            enrolment::revoke_device(storage.as_ref(), device).await.map_err(cli_error)?;
            println!("revoked {device}");
        }
        Command::Setup { db, file, county } => {
            use county_server::roster::Format;
            let format = Format::from_path(&file).context("the file must end in .csv or .xlsx")?;
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let storage = open_storage(&db).await?;
            match county_server::setup::apply_file(storage.as_ref(), county.as_deref(), format, bytes).await {
                Ok(s) => {
                    println!(
                        "已更新县网格结构 set up: {} rows; new: {} townships, {} villages, {} grids, {} departments, {} accounts; updated: {} places, {} accounts; unchanged rows: {}",
                        s.rows,
                        s.townships_created,
                        s.villages_created,
                        s.grids_created,
                        s.departments_created,
                        s.accounts_created,
                        s.places_updated,
                        s.accounts_updated,
                        s.unchanged_rows
                    );
                    if !s.ignored_columns.is_empty() {
                        println!("未读取的列 ignored columns: {}", s.ignored_columns.join(", "));
                    }
                }
                Err(county_server::Error::SetupRejected(report)) => {
                    println!(
                        "县网格文件未导入：{} 行中有 {} 行未通过检查 / setup file rejected: {} of {} rows",
                        report.rows, report.rejected_rows, report.rejected_rows, report.rows
                    );
                    for p in &report.problems {
                        println!("  {p}");
                    }
                    anyhow::bail!("setup file rejected; nothing was changed");
                }
                Err(e) => return Err(cli_error(e)),
            }
        }
        Command::IssueCodes { db, place, out, server_url, include_enrolled } => {
            use county_server::service::structure::{self, Sheet};
            let storage = open_storage(&db).await?;
            let node = find_place(storage.as_ref(), place.as_deref()).await?;
            let req = sync_protocol::api::BulkCodeRequest { node, include_enrolled };
            let prepared = structure::prepare_codes(storage.as_ref(), &req).await.map_err(cli_error)?;
            // The file first: the codes are stored (and the earlier ones revoked) only once the
            // sheet is written.
            let body = if out.extension().is_some_and(|e| e == "json") {
                serde_json::to_string_pretty(&prepared.codes)?
            } else {
                let sheet = Sheet::new(format!("{} 网格通登记码", place.as_deref().unwrap_or("全县")), server_url)
                    .map_err(cli_error)?;
                structure::codes_sheet(&prepared.codes, &sheet).map_err(cli_error)?
            };
            std::fs::write(&out, body).with_context(|| format!("writing {}", out.display()))?;
            let codes = match structure::commit_codes(storage.as_ref(), prepared).await {
                Ok(codes) => codes,
                Err(e) => {
                    let _ = std::fs::remove_file(&out);
                    return Err(cli_error(e));
                }
            };
            println!(
                "已发放 issued {} codes to {} ({} earlier unused codes revoked, {} people with a device left out)",
                codes.codes.len(),
                out.display(),
                codes.replaced,
                codes.skipped_enrolled
            );
        }
        Command::TimeLimits { db, set } => {
            let county = county_server::service::County::new(open_storage(&db).await?);
            if let Some(file) = set {
                let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
                let limits: sync_protocol::model::TimeLimits = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not a table of time limits", file.display()))?;
                let changed = county.put_time_limits(&limits).await.map_err(cli_error)?;
                println!(
                    "已更新 time limits are now version {}; {} disputes derived again",
                    changed.settings.version, changed.disputes
                );
            }
            let stored = county.storage().settings().await.map_err(|e| cli_error(e.into()))?;
            println!("{}", serde_json::to_string_pretty(&stored)?);
        }
        Command::RevokeCodes { db, place } => {
            let storage = open_storage(&db).await?;
            let node = find_place(storage.as_ref(), place.as_deref()).await?;
            let done =
                county_server::service::structure::revoke_codes(storage.as_ref(), node).await.map_err(cli_error)?;
            println!("已作废 revoked {} unused codes", done.revoked);
        }
        Command::ImportRoster { db, grid, file, account } => {
            use county_server::roster::{self, Format};
            let format = Format::from_path(&file).context("the file must end in .csv or .xlsx")?;
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let storage = open_storage(&db).await?;
            let author = roster::importer(account.unwrap_or(Uuid::nil()), Uuid::now_v7());
            let now = chrono::Utc::now().timestamp_millis();
            match roster::import_file(storage.as_ref(), grid, &author, format, bytes, now).await {
                Ok(done) => {
                    println!(
                        "已导入 imported {} rows: {} residents, {} new houses (grid log at {})",
                        done.rows, done.residents, done.houses, done.seq
                    );
                    if !done.ignored_columns.is_empty() {
                        println!("未读取的列 ignored columns: {}", done.ignored_columns.join(", "));
                    }
                }
                Err(county_server::Error::RosterRejected(report)) => {
                    print!("{report}");
                    anyhow::bail!("roster rejected; nothing was imported");
                }
                Err(e) => return Err(cli_error(e)),
            }
        }
        Command::ExportRoster { db, grid, file, masked } => {
            use county_server::roster::{self, Format, Reveal};
            let format = Format::from_path(&file).context("the file must end in .csv or .xlsx")?;
            let storage = open_storage(&db).await?;
            let reveal = if masked { Reveal::Masked } else { Reveal::Full };
            let bytes = roster::export(storage.as_ref(), grid, format, reveal, Uuid::nil()).await.map_err(cli_error)?;
            // Audited like an export through the API, before the file is written; the operator
            // is whoever holds the database, so no account or device is named.
            let entry = county_server::storage::AuditEntry {
                at: chrono::Utc::now().timestamp_millis(),
                account: Uuid::nil(),
                device: Uuid::nil(),
                role: sync_protocol::org::Role::CountyAdmin,
                kind: county_server::storage::ReadKind::RosterExport,
                grid: Some(grid),
                subject: None,
                detail: format!("{format:?} {reveal:?}").to_lowercase(),
                client: Some("command line".into()),
            };
            storage.record_reads(&[entry]).await.context("writing the audit entry; nothing was exported")?;
            std::fs::write(&file, &bytes).with_context(|| format!("writing {}", file.display()))?;
            println!("已导出 exported {} ({} bytes)", file.display(), bytes.len());
        }
    }
    Ok(())
}

/// A place named on the command line: an id, a township's name, or 镇街/村社区[/网格]; the
/// county without one.
async fn find_place(storage: &dyn county_server::storage::Storage, place: Option<&str>) -> anyhow::Result<Uuid> {
    use sync_protocol::org::NodeKind;
    let structure = storage.structure(false).await?;
    let nodes: Vec<_> = structure.nodes.iter().map(|n| &n.node).collect();
    let Some(place) = place.map(str::trim).filter(|p| !p.is_empty()) else {
        return nodes
            .iter()
            .find(|n| n.kind == NodeKind::County)
            .map(|n| n.id)
            .context("the database holds no county yet (run setup first)");
    };
    if let Ok(id) = place.parse::<Uuid>() {
        return nodes.iter().find(|n| n.id == id).map(|n| n.id).context("no place with this id");
    }
    let mut at: Option<Uuid> = nodes.iter().find(|n| n.kind == NodeKind::County).map(|n| n.id);
    for name in place.split('/').map(str::trim) {
        at = Some(
            nodes
                .iter()
                .find(|n| n.parent == at && n.name == name)
                .map(|n| n.id)
                .with_context(|| format!("no place named {name} there"))?,
        );
    }
    at.context("no such place")
}

/// A service's refusal as the command line says it: the message and its stable code.
fn cli_error(e: county_server::Error) -> anyhow::Error {
    anyhow::anyhow!("{e} ({})", e.code())
}
