//! `gk-device`: a headless device for demos, tests and load runs. Every command prints JSON.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use field_core::{Device, NewDispute, NewParty, NewVisit, ResidentQuery};
use serde_json::{Map, Value, json};
use sync_protocol::api::NewAction;
use sync_protocol::model::{ClearItem, FiveClears, House, Resident};
use sync_protocol::org::Level;
use sync_protocol::schema::Collection;
use uuid::Uuid;

#[derive(Parser)]
#[command(version, about = "Gridkeeper headless device (网格员手持终端，无界面)")]
struct Cli {
    /// The device's local database.
    #[arg(long, env = "GK_DEVICE_DB", default_value = "gk-device.db")]
    db: PathBuf,
    /// Encrypt the device database with a key derived from this PIN (6+ digits), as the app
    /// does. Without it the database is plain, and may only hold an enrolment with a server on
    /// this machine (a demo or a test): records and the token of a real county are never kept
    /// unencrypted.
    #[arg(long, env = "GK_DEVICE_PIN", hide_env_values = true)]
    pin: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Exchange an enrolment code for a device token.
    Enrol {
        /// `https://...`; plain `http://` only to this machine.
        server: String,
        code: String,
        #[arg(long, default_value = "gk-device")]
        name: String,
        /// The county's own certificate authority (PEM file), if its certificate is not public.
        #[arg(long, env = "GK_SERVER_CA")]
        ca: Option<PathBuf>,
    },
    /// Push pending edits and pull what is new.
    Sync,
    /// The workbench: counts, pending changes, conflicts, quarantine.
    Status,
    /// List or search residents (name, pinyin initials like "zs", or last ID digits).
    Residents {
        query: Option<String>,
        #[arg(long)]
        category: Option<String>,
    },
    /// Show one record in full: resident, house or dispute.
    Show { collection: String, id: Uuid },
    /// Add a resident.
    AddResident {
        #[arg(long)]
        name: String,
        #[arg(long)]
        sex: String,
        #[arg(long)]
        birth: String,
        #[arg(long)]
        id_number: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long, value_delimiter = ',', default_value = "registered")]
        categories: Vec<String>,
        #[arg(long)]
        house: Option<Uuid>,
        #[arg(long)]
        relation: Option<String>,
    },
    /// Add a house.
    AddHouse {
        #[arg(long)]
        township: String,
        #[arg(long)]
        village: String,
        #[arg(long)]
        door: String,
        #[arg(long)]
        street: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        rented: Option<bool>,
    },
    /// Set fields of a resident or house: `field=value` (value as JSON, or plain text).
    Edit {
        collection: String,
        id: Uuid,
        #[arg(required = true)]
        set: Vec<String>,
    },
    /// Record a household visit; `--attention hazards:漏电` marks an item needing attention.
    Visit {
        house: Uuid,
        #[arg(long)]
        attention: Vec<String>,
        #[arg(long)]
        needs: Option<String>,
    },
    /// Report a dispute on the spot.
    Report {
        #[arg(long, default_value = "ordinary")]
        class: String,
        #[arg(long)]
        category: String,
        #[arg(long)]
        place: String,
        #[arg(long)]
        description: String,
        #[arg(long = "party", required = true)]
        parties: Vec<String>,
        /// Minutes ago it was found.
        #[arg(long, default_value_t = 0)]
        found_minutes_ago: i64,
    },
    /// Take an action of the closed loop on a dispute (accept, assign, feedback, verify, return,
    /// escalate, supervise, resolve, evaluate, archive; intervene, mediate).
    Act {
        dispute: Uuid,
        kind: String,
        /// The level it goes to (escalate, assign): grid, community, township or county.
        #[arg(long, value_parser = parse_level)]
        to: Option<Level>,
        #[arg(long)]
        note: Option<String>,
        /// For assign and supervise: due in this many hours.
        #[arg(long)]
        due_hours: Option<i64>,
        /// For evaluate: satisfied, basically_satisfied or dissatisfied.
        #[arg(long)]
        satisfaction: Option<String>,
    },
    /// What others did on this person's disputes since they last looked (the inbox).
    Inbox,
    /// List disputes (open ones by default).
    Disputes {
        #[arg(long)]
        all: bool,
    },
    /// Open conflicts.
    Conflicts,
    /// Settle a conflict: record, field, chosen value (JSON or text).
    Settle { record: Uuid, field: String, value: String },
    /// Quarantined edits, refused by the server.
    Quarantine,
    /// Drop a quarantined edit.
    Discard { id: i64 },
    /// A record's history.
    History { collection: String, id: Uuid },
    /// For crash tests and load runs: writes edits in a loop (adds a resident, and every third
    /// write sets the notes of the last one added), printing one JSON line per write only after
    /// its local commit has returned; with `--sync-every N`, syncs after every N writes.
    Churn {
        #[arg(long, default_value_t = u64::MAX)]
        writes: u64,
        #[arg(long, default_value_t = 0)]
        sync_every: u64,
    },
}

fn value(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

fn print(v: impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(s).ok_or_else(|| format!("{s}: not a level (grid, community, township, county)"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let plain = cli.pin.is_none();
    // Checked before anything is opened or sent: a plain database keeps no real county's data.
    if let (true, Command::Enrol { server, .. }) = (plain, &cli.command)
        && !field_core::client::is_loopback_server(server)
    {
        anyhow::bail!(
            "refusing to keep an enrolment with {server} in an unencrypted database: give --pin (or GK_DEVICE_PIN)"
        );
    }
    let device = match &cli.pin {
        Some(pin) => Device::open_encrypted(&cli.db, pin),
        None => Device::open(&cli.db),
    };
    let device = match device {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{}", serde_json::to_string(&e.to_body())?);
            std::process::exit(1);
        }
    };
    if plain
        && let Some(id) = device.identity()
        && !field_core::client::is_loopback_server(&id.server)
    {
        anyhow::bail!("{} holds an enrolment with {} unencrypted: open it with --pin", cli.db.display(), id.server);
    }
    let result = run(&device, cli.command).await;
    if let Err(e) = &result
        && let Some(d) = e.downcast_ref::<field_core::DeviceError>()
    {
        eprintln!("{}", serde_json::to_string(&d.to_body())?);
        std::process::exit(1);
    }
    result
}

async fn run(device: &Device, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Enrol { server, code, name, ca } => {
            let ca = match ca {
                Some(path) => {
                    Some(std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?)
                }
                None => None,
            };
            let id = device.enrol_with_ca(&server, &code, &name, ca.as_deref()).await?;
            print(json!({"device": id.device_id, "account": id.account, "grids": id.grids}))
        }
        Command::Sync => print(device.sync().await?),
        Command::Inbox => print(device.inbox()?),
        Command::Status => print(device.workbench()?),
        Command::Residents { query, category } => {
            print(device.residents(&ResidentQuery { q: query, category, ..Default::default() })?)
        }
        Command::Show { collection, id } => match collection.as_str() {
            "resident" | "residents" => print(device.resident(id)?),
            "house" | "houses" => print(
                json!({"house": device.house(id)?, "residents": device.residents(&ResidentQuery { house: Some(id), ..Default::default() })?}),
            ),
            "dispute" | "disputes" => {
                let d = device.dispute(id)?;
                print(
                    json!({"dispute": d, "state": d.state(&device.county_settings()?.time_limits), "report_delay_minutes": d.report_delay_minutes()}),
                )
            }
            other => anyhow::bail!("unknown collection {other}"),
        },
        Command::AddResident { name, sex, birth, id_number, phone, categories, house, relation } => {
            let r = Resident {
                id: Uuid::now_v7(),
                name,
                sex,
                birth_date: birth,
                id_number,
                phone,
                ethnicity: Some("汉族".into()),
                categories,
                relation,
                house_id: house,
                notes: None,
                archived_reason: None,
                archived_on: None,
            };
            device.create_resident(&r)?;
            print(json!({"id": r.id}))
        }
        Command::AddHouse { township, village, door, street, owner, rented } => {
            let h = House {
                id: Uuid::now_v7(),
                township,
                village,
                street,
                building: None,
                unit: None,
                floor: None,
                door,
                structure: None,
                area: None,
                usage: Some("residential".into()),
                owner,
                rented,
                hazards: None,
                lat: None,
                lng: None,
                archived_reason: None,
                archived_on: None,
            };
            device.create_house(&h)?;
            print(json!({"id": h.id}))
        }
        Command::Edit { collection, id, set } => {
            let mut fields = Map::new();
            for kv in set {
                let (k, v) = kv.split_once('=').context("expected field=value")?;
                fields.insert(k.to_string(), if v.is_empty() { Value::Null } else { value(v) });
            }
            match collection.as_str() {
                "resident" | "residents" => device.update_resident(id, fields)?,
                "house" | "houses" => device.update_house(id, fields)?,
                other => anyhow::bail!("unknown collection {other}"),
            }
            print(json!({"ok": true, "pending": device.pending_count()?}))
        }
        Command::Visit { house, attention, needs } => {
            let mut clears = FiveClears::all_fine();
            for a in attention {
                let (item, note) = a.split_once(':').unwrap_or((a.as_str(), ""));
                let slot = match item {
                    "household" => &mut clears.household,
                    "population" => &mut clears.population,
                    "hazards" => &mut clears.hazards,
                    "needs" => &mut clears.needs,
                    "attitude" => &mut clears.attitude,
                    other => anyhow::bail!("unknown clear {other}"),
                };
                *slot = ClearItem::attention(note);
            }
            let id = device.record_visit(&NewVisit {
                house_id: house,
                resident_id: None,
                at: None,
                clears,
                needs,
                hazards_found: None,
                dispute_id: None,
            })?;
            print(json!({"id": id}))
        }
        Command::Report { class, category, place, description, parties, found_minutes_ago } => {
            let id = device.report_dispute(&NewDispute {
                class,
                category,
                place,
                description,
                parties: parties
                    .into_iter()
                    .map(|p| NewParty { resident_id: Uuid::parse_str(&p).ok(), name: p })
                    .collect(),
                discovered_at: Some(field_core::now_ms() - found_minutes_ago * 60_000),
                photos: vec![],
                note: None,
            })?;
            print(json!({"id": id}))
        }
        Command::Act { dispute, kind, to, note, due_hours, satisfaction } => {
            let action = NewAction {
                kind,
                to_level: to,
                note,
                satisfaction,
                due_at: due_hours.map(|h| field_core::now_ms() + h * 3_600_000),
                ..NewAction::default()
            };
            device.add_dispute_action(dispute, &action)?;
            let d = device.dispute(dispute)?;
            print(d.state(&device.county_settings()?.time_limits))
        }
        Command::Disputes { all } => {
            let limits = device.county_settings()?.time_limits;
            print(device.disputes(!all)?.into_iter().map(|d| json!({"id": d.id, "class": d.class, "category": d.category, "place": d.place, "state": d.state(&limits)})).collect::<Vec<_>>())
        }
        Command::Conflicts => print(device.conflicts()?),
        Command::Settle { record, field, value: v } => {
            let c = device
                .conflicts()?
                .into_iter()
                .find(|c| c.record == record && c.field == field)
                .context("no such open conflict")?;
            device.settle_conflict(&c, value(&v))?;
            print(json!({"ok": true}))
        }
        Command::Quarantine => print(device.quarantine()?),
        Command::Discard { id } => {
            device.discard_quarantined(id)?;
            print(json!({"ok": true}))
        }
        Command::History { collection, id } => {
            let c = Collection::parse(&collection).context("collection: residents, houses, visits or disputes")?;
            print(device.history(c, id)?)
        }
        Command::Churn { writes, sync_every } => churn(device, writes, sync_every).await,
    }
}

/// One compact JSON line, flushed at once (stdout is line-buffered), so a reader that sees it
/// knows the write before it had returned.
fn line(v: Value) {
    println!("{v}");
}

async fn churn(device: &Device, writes: u64, sync_every: u64) -> anyhow::Result<()> {
    let mut last: Option<Uuid> = None;
    for i in 0..writes {
        match last {
            Some(id) if i % 3 == 2 => {
                let note = format!("压测备注{}", Uuid::now_v7().simple());
                let mut fields = Map::new();
                fields.insert("notes".into(), Value::String(note.clone()));
                device.update_resident(id, fields)?;
                line(json!({"event": "saved", "record": id, "field": "notes", "value": note}));
            }
            _ => {
                let r = Resident {
                    id: Uuid::now_v7(),
                    name: format!("压测{i}"),
                    sex: "female".into(),
                    birth_date: "1980-01-01".into(),
                    id_number: None,
                    phone: None,
                    ethnicity: None,
                    categories: vec!["registered".into()],
                    relation: None,
                    house_id: None,
                    notes: None,
                    archived_reason: None,
                    archived_on: None,
                };
                device.create_resident(&r)?;
                last = Some(r.id);
                line(json!({"event": "saved", "record": r.id, "field": "created"}));
            }
        }
        if sync_every > 0 && (i + 1) % sync_every == 0 {
            line(json!({"event": "syncing"}));
            match device.sync().await {
                Ok(r) => line(json!({"event": "synced", "acknowledged": r.acknowledged})),
                Err(e) if e.is_retryable() => line(json!({"event": "sync_failed", "code": e.code()})),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}
