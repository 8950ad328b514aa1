//! The staff's live stream (`GET /v1/events`, server-sent events): a new escalation, a 突发性
//! report, an assignment, a time limit passing … reach a connected staff client as soon as the
//! commit that made them returns (or, for a time limit, within a second of it).
//!
//! Events are the new actions a commit added to disputes (the sync of a handheld, or staff acting
//! through the server), and the disputes whose time limit passed. Each server tells the clients
//! connected to it about the commits it made and the time limits it sees pass, and announces its
//! commits' events to the other servers sharing the database (PostgreSQL's NOTIFY,
//! [`crate::storage::Relay`]), which tell their own clients; a subscriber hears only what lies
//! within its scope. Nothing is stored: a client that connects or reconnects reads
//! the lists for what it missed, and the stream says `lagged` when a slow client fell behind.
//! A stream lasts [`STREAM_LIFE`] and then asks the client to `reconnect`, so a revoked device or
//! a changed scope is checked again; one device holds at most [`STREAMS_PER_DEVICE`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use automerge::{Automerge, ChangeHash};
use sync_protocol::api::DisputeEvent;
use sync_protocol::doc::{self, DocKey};
use sync_protocol::model::{Dispute, Record, TimeLimits};
use sync_protocol::org::Node;
use sync_protocol::pipeline::Rows;
use sync_protocol::schema::Collection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use uuid::Uuid;

use super::{Caller, County};
use crate::error::{Error, Result};
use crate::storage::{MAX_ANNOUNCEMENT, Scope, Storage};

/// How many events wait for a slow client before it is told it fell behind.
const BACKLOG: usize = 1024;
/// Streams one server keeps open at once (a county's centres need far fewer); more are refused
/// as busy, so no number of connections costs more than this.
pub const MAX_STREAMS: usize = 1024;
/// Streams one device may hold at once (a console in a few tabs).
pub const STREAMS_PER_DEVICE: usize = 4;
/// How long a stream lasts before the client is asked to reconnect (and is authenticated again).
pub const STREAM_LIFE: Duration = Duration::from_secs(15 * 60);
/// Time limits passing in one tick that are told at once (the rest follow at the next ticks).
const DEADLINES_PER_TICK: u32 = 1000;

/// An event with where its grid lies, for the subscribers' scope checks.
#[derive(Debug, Clone)]
pub struct Published {
    pub event: DisputeEvent,
    pub township: Option<Uuid>,
    pub village: Option<Uuid>,
}

pub struct Events {
    /// This server among those sharing a database (its own announcements come back to it).
    origin: Uuid,
    tx: broadcast::Sender<Arc<Published>>,
    streams: Arc<Semaphore>,
    per_device: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            origin: Uuid::new_v4(),
            tx: broadcast::channel(BACKLOG).0,
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
            per_device: Arc::default(),
        }
    }
}

impl Events {
    /// Tells the connected clients about events of a grid at `node` (a commit that returned).
    pub fn send(&self, node: &Node, events: Vec<DisputeEvent>) {
        for event in events {
            let _ = self.tx.send(Arc::new(Published { event, township: node.township, village: node.village }));
        }
    }

    pub fn listening(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Tells `events` of `grid`, reading where the grid lies (a failed read tells no one: the
    /// lists still hold them).
    pub async fn publish(&self, storage: &dyn Storage, grid: Uuid, events: Vec<DisputeEvent>) {
        if events.is_empty() || !self.listening() {
            return;
        }
        if let Ok(Some(node)) = storage.node(grid).await {
            self.send(&node, events);
        }
    }
}

/// One client's stream: what it receives, what it may see, and its places among the streams
/// (given back when the stream is dropped).
pub struct Subscription {
    pub rx: broadcast::Receiver<Arc<Published>>,
    pub scope: Scope,
    pub held: StreamPlace,
}

pub struct StreamPlace {
    _permit: OwnedSemaphorePermit,
    device: Uuid,
    per_device: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        let mut m = self.per_device.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.device) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.device);
            }
        }
    }
}

/// Whether an event lies within a scope.
pub fn sees(scope: &Scope, p: &Published) -> bool {
    match scope {
        Scope::All => true,
        Scope::Township(t) => p.township == Some(*t),
        Scope::Village(v) => p.village == Some(*v),
        Scope::Grid(g) => p.event.grid == *g,
    }
}

impl County {
    /// A live stream for `caller`: staff and the grid's team (the roles that handle disputes);
    /// refused as busy beyond [`STREAMS_PER_DEVICE`] for the device or [`MAX_STREAMS`] in all.
    pub fn subscribe(&self, caller: &Caller) -> Result<Subscription> {
        if !caller.account.role.receives(Collection::Disputes) {
            return Err(Error::Forbidden(format!("{} does not handle disputes", caller.account.role.as_str())));
        }
        let scope = caller.scope()?;
        let e = &self.events;
        let device = caller.device.id;
        let permit = e.streams.clone().try_acquire_owned().map_err(|_| Error::Busy)?;
        {
            let mut m = e.per_device.lock().unwrap_or_else(|p| p.into_inner());
            let n = m.entry(device).or_default();
            if *n >= STREAMS_PER_DEVICE {
                return Err(Error::Busy);
            }
            *n += 1;
        }
        let held = StreamPlace { _permit: permit, device, per_device: e.per_device.clone() };
        Ok(Subscription { rx: e.tx.subscribe(), scope, held })
    }

    /// Whether the events of a commit are to be worked out: some client of this server listens,
    /// or another server sharing the database may have one.
    pub fn wants_events(&self) -> bool {
        self.events.listening() || self.storage().relays()
    }

    /// Tells the connected clients about events of `grid` that a commit just stored, here and
    /// through every server sharing the database.
    pub(crate) async fn publish(&self, grid: Uuid, events: Vec<DisputeEvent>) {
        if events.is_empty() {
            return;
        }
        if self.storage().relays() {
            for message in announcements(self.events.origin, grid, &events) {
                if let Err(e) = self.storage().announce(&message).await {
                    tracing::warn!(error = %e, "live events not relayed to the other servers");
                }
            }
        }
        self.events.publish(self.storage(), grid, events).await;
    }

    /// Tells this server's clients what the other servers sharing the database announce, as
    /// long as the server runs (or the listener ends).
    pub async fn relay_events(&self, mut announced: tokio::sync::mpsc::Receiver<String>) {
        while let Some(message) = announced.recv().await {
            match serde_json::from_str::<Announcement>(&message) {
                Ok(a) if a.origin != self.events.origin => {
                    self.events.publish(self.storage(), a.grid, a.events).await;
                }
                Ok(_) => {} // this server's own, told already
                Err(e) => tracing::warn!(error = %e, "an announcement that does not read"),
            }
        }
    }

    /// Tells the connected clients about the time limits that passed in `[after, until)` (as
    /// `DisputeState::overdue` counts them); returns where the next tick starts: `until`, or
    /// the last deadline told when there were more than one tick tells.
    pub async fn publish_deadlines(&self, after: i64, until: i64) -> Result<i64> {
        if !self.events.listening() {
            return Ok(until);
        }
        let passed = self.storage().deadlines_passed(after, until, DEADLINES_PER_TICK).await?;
        let settings = self.settings();
        let limits = &settings.time_limits;
        let next = match passed.last() {
            Some((_, d)) if passed.len() == DEADLINES_PER_TICK as usize => d.state(limits).deadline.unwrap_or(until),
            _ => until,
        };
        let mut nodes: HashMap<Uuid, Option<Node>> = HashMap::new();
        for (grid, d) in passed {
            // Recomputed under the limits in force: a row derived under others (a change of the
            // time limits being applied) is not told until its deadline really passed.
            let Some(at) = d.state(limits).deadline.filter(|at| *at < until && (*at < next || next == until)) else {
                continue;
            };
            if let std::collections::hash_map::Entry::Vacant(e) = nodes.entry(grid) {
                e.insert(self.storage().node(grid).await.ok().flatten());
            }
            if let Some(Some(node)) = nodes.get(&grid) {
                self.events.send(node, vec![DisputeEvent::new("overdue", grid, &d, at, limits)]);
            }
        }
        Ok(next)
    }
}

/// Events of one grid as announced to the other servers sharing the database.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Announcement {
    origin: Uuid,
    grid: Uuid,
    events: Vec<DisputeEvent>,
}

/// The announcements of `events`, each within [`MAX_ANNOUNCEMENT`] bytes, as few as fit (an
/// event too large on its own, which a dispute's few fields never make, is left to the lists).
fn announcements(origin: Uuid, grid: Uuid, events: &[DisputeEvent]) -> Vec<String> {
    let encode =
        |events: Vec<DisputeEvent>| serde_json::to_string(&Announcement { origin, grid, events }).unwrap_or_default();
    let mut out = Vec::new();
    let mut batch: Vec<DisputeEvent> = Vec::new();
    for event in events {
        batch.push(event.clone());
        if encode(batch.clone()).len() > MAX_ANNOUNCEMENT {
            let last = batch.pop().expect("just pushed");
            if !batch.is_empty() {
                out.push(encode(std::mem::take(&mut batch)));
            }
            batch.push(last);
            if encode(batch.clone()).len() > MAX_ANNOUNCEMENT {
                batch.clear();
            }
        }
    }
    if !batch.is_empty() {
        out.push(encode(batch));
    }
    out
}

/// The actions a commit added to the disputes it projected: each action the dispute holds now
/// and did not hold at `before`, as an event of its kind. A dispute whose earlier state does
/// not read is left out (rather than told again whole).
pub fn new_actions(
    doc: &Automerge,
    key: DocKey,
    before: &[ChangeHash],
    rows: &Rows,
    limits: &TimeLimits,
) -> Vec<DisputeEvent> {
    let mut out = Vec::new();
    for (k, d) in rows.disputes.iter().filter(|(k, _)| *k == key) {
        let held: HashSet<Uuid> = match doc::read_record_at(doc, Collection::Disputes, d.id, before) {
            None => HashSet::new(),
            Some(fields) => match Dispute::from_fields(fields) {
                Ok(old) => old.actions.iter().map(|a| a.id).collect(),
                Err(_) => continue,
            },
        };
        for a in d.actions.iter().filter(|a| !held.contains(&a.id)) {
            out.push(DisputeEvent::new(&a.kind, k.grid, d, a.at, limits));
        }
    }
    out
}
