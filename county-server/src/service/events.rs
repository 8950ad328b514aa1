//! The staff's live stream (`GET /v1/events`, server-sent events): a new escalation, a 突发性
//! report, an assignment, a time limit passing … reach a connected staff client as soon as the
//! commit that made them returns (or, for a time limit, within a second of it).
//!
//! Events are the new actions a commit added to disputes (the sync of a handheld, or staff acting
//! through the server), and the disputes whose time limit passed. Each server tells the clients
//! connected to it about the commits it made and the time limits it sees pass; a subscriber hears
//! only what lies within its scope. Nothing is stored: a client that connects or reconnects reads
//! the lists for what it missed, and the stream says `lagged` when a slow client fell behind.

use std::collections::HashSet;
use std::sync::Arc;

use automerge::{Automerge, ChangeHash};
use sync_protocol::api::DisputeEvent;
use sync_protocol::doc::{self, DocKey};
use sync_protocol::model::{Dispute, Record};
use sync_protocol::pipeline::Rows;
use sync_protocol::schema::Collection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use uuid::Uuid;

use super::{Caller, County};
use crate::error::{Error, Result};
use crate::storage::Scope;

/// How many events wait for a slow client before it is told it fell behind.
const BACKLOG: usize = 1024;
/// Streams one server keeps open at once (a county's centres need far fewer); more are refused
/// as busy, so no number of connections costs more than this.
pub const MAX_STREAMS: usize = 1024;
/// Time limits passing in one tick that are told (the rest are in the overdue list).
const DEADLINES_PER_TICK: u32 = 1000;

/// An event with where its grid lies, for the subscribers' scope checks.
#[derive(Debug, Clone)]
pub struct Published {
    pub event: DisputeEvent,
    pub township: Option<Uuid>,
    pub village: Option<Uuid>,
}

pub struct Events {
    tx: broadcast::Sender<Arc<Published>>,
    streams: Arc<Semaphore>,
}

impl Default for Events {
    fn default() -> Self {
        Events { tx: broadcast::channel(BACKLOG).0, streams: Arc::new(Semaphore::new(MAX_STREAMS)) }
    }
}

/// One client's stream: what it receives, what it may see, and its place among the streams.
pub struct Subscription {
    pub rx: broadcast::Receiver<Arc<Published>>,
    pub scope: Scope,
    pub permit: OwnedSemaphorePermit,
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
    /// refused as busy beyond [`MAX_STREAMS`].
    pub fn subscribe(&self, caller: &Caller) -> Result<Subscription> {
        if !caller.account.role.receives(Collection::Disputes) {
            return Err(Error::Forbidden(format!("{} does not handle disputes", caller.account.role.as_str())));
        }
        let scope = caller.scope()?;
        let permit = self.events.streams.clone().try_acquire_owned().map_err(|_| Error::Busy)?;
        Ok(Subscription { rx: self.events.tx.subscribe(), scope, permit })
    }

    /// Tells the connected clients about events of `grid` that a commit just stored.
    pub(crate) async fn publish(&self, grid: Uuid, events: Vec<DisputeEvent>) {
        if events.is_empty() || self.events.tx.receiver_count() == 0 {
            return;
        }
        // Where the grid lies, for the subscribers' scopes (a failed read tells no one: the
        // lists still hold it).
        let Ok(Some(node)) = self.storage().node(grid).await else { return };
        for event in events {
            let _ = self.events.tx.send(Arc::new(Published { event, township: node.township, village: node.village }));
        }
    }

    /// Tells the connected clients about the time limits that passed in `(after, until]`.
    pub async fn publish_deadlines(&self, after: i64, until: i64) -> Result<()> {
        if self.events.tx.receiver_count() == 0 {
            return Ok(());
        }
        for (grid, d) in self.storage().deadlines_passed(after, until, DEADLINES_PER_TICK).await? {
            let at = d.state().deadline.unwrap_or(until);
            self.publish(grid, vec![DisputeEvent::new("overdue", grid, &d, at)]).await;
        }
        Ok(())
    }
}

/// The actions a commit added to the disputes it projected: each action the dispute holds now
/// and did not hold at `before`, as an event of its kind.
pub fn new_actions(doc: &Automerge, key: DocKey, before: &[ChangeHash], rows: &Rows) -> Vec<DisputeEvent> {
    let mut out = Vec::new();
    for (k, d) in rows.disputes.iter().filter(|(k, _)| *k == key) {
        let held: HashSet<Uuid> = doc::read_record_at(doc, Collection::Disputes, d.id, before)
            .and_then(|f| Dispute::from_fields(f).ok())
            .map(|old| old.actions.iter().map(|a| a.id).collect())
            .unwrap_or_default();
        for a in d.actions.iter().filter(|a| !held.contains(&a.id)) {
            out.push(DisputeEvent::new(&a.kind, k.grid, d, a.at));
        }
    }
    out
}
