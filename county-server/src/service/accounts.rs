//! Accounts: who is calling, new accounts made by the county administrator, and the
//! administrator's list of accounts with their log-ins, handhelds and open console sessions.

use crate::storage::LoginRow;
use std::collections::HashMap;

use sync_protocol::Code;
use sync_protocol::api::{
    AccountQuery, AccountRow, Me, NewAccount, Place, SESSION_IDLE_MS, SESSION_LIFE_MS, SessionsEnded, StructureNode,
};
use sync_protocol::org::{Account, GridInfo};
use uuid::Uuid;

use super::{Caller, County};
use crate::error::{Error, Result};

impl County {
    pub fn me(&self, caller: &Caller) -> Me {
        Me { account: caller.account.clone(), device: caller.device.clone() }
    }

    /// The grids the caller may see.
    pub async fn grids(&self, caller: &Caller) -> Result<Vec<GridInfo>> {
        Ok(self.storage().grids(&caller.scope()?).await?)
    }

    /// The places the caller may send a dispute to ([`Place`]): the places under their node,
    /// for a role that assigns; none for a grid's team, a department or the administrator.
    pub async fn places(&self, caller: &Caller) -> Result<Vec<Place>> {
        let role = caller.account.role;
        if !role.receives(sync_protocol::schema::Collection::Disputes) || !role.takes_action("assign") {
            return Ok(Vec::new());
        }
        // The caller's area, checked as every other route checks it (a role that does not fit
        // its node is refused).
        caller.scope()?;
        let Some(node) = caller.node.as_ref() else { return Ok(Vec::new()) };
        Ok(self.storage().places_under(node).await?.iter().map(Place::from).collect())
    }

    /// A new account at a node of the kind its role belongs to.
    pub async fn create_account(&self, caller: &Caller, new: NewAccount) -> Result<Account> {
        caller.require_admin()?;
        let node = self.storage().node(new.node).await?.ok_or_else(|| Error::bad(Code::UnknownNode, "no such node"))?;
        if !new.role.fits(&node) {
            return Err(Error::bad(Code::RoleNodeMismatch, "this role must be scoped to another kind of node"));
        }
        let account = Account { id: Uuid::now_v7(), name: new.name, role: new.role, node: new.node };
        self.storage().put_account(&account).await?;
        tracing::info!(account = %account.id, role = account.role.as_str(), by = %caller.account.id, "account created");
        Ok(account)
    }

    /// Accounts at or under a place ([`AccountQuery`]), for the administrator.
    pub async fn account_rows(&self, caller: &Caller, q: &AccountQuery) -> Result<Vec<AccountRow>> {
        caller.require_admin()?;
        let text = q.q.as_deref().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty());
        if text.as_ref().is_some_and(|t| t.chars().count() > AccountQuery::MAX_Q) {
            return Err(Error::bad(Code::MalformedQuery, "the search is longer than 64 characters"));
        }
        let storage = self.storage();
        let structure = storage.structure(false).await?;
        let people = super::structure::people_under(&structure, q.node, true)?;
        let now = chrono::Utc::now().timestamp_millis();
        let logins: HashMap<Uuid, LoginRow> = storage
            .logins(now - SESSION_IDLE_MS - 1, now - SESSION_LIFE_MS - 1)
            .await?
            .into_iter()
            .map(|l| (l.account, l))
            .collect();
        let mut devices: HashMap<Uuid, u32> = HashMap::new();
        for d in storage.devices(None).await?.into_iter().filter(|d| d.revoked_at.is_none()) {
            *devices.entry(d.account).or_default() += 1;
        }
        let rows = people
            .into_iter()
            .filter_map(|(account, place)| {
                let l = logins.get(&account.id);
                let login = l.map(|l| l.login.clone());
                let (open_sessions, second_factor) = l.map_or((0, false), |l| (l.open_sessions, l.second_factor));
                let found = text.as_ref().is_none_or(|t| {
                    account.name.to_lowercase().contains(t) || login.as_ref().is_some_and(|l| l.contains(t))
                });
                found.then(|| AccountRow {
                    devices: devices.get(&account.id).copied().unwrap_or(0),
                    account,
                    place,
                    login,
                    open_sessions,
                    second_factor,
                })
            })
            .take(q.limit() as usize)
            .collect();
        Ok(rows)
    }

    /// Ends a person's open console sessions (a lost laptop, someone who left).
    pub async fn end_sessions(&self, caller: &Caller, account: Uuid) -> Result<SessionsEnded> {
        caller.require_admin()?;
        let storage = self.storage();
        storage.account(account).await?.ok_or_else(|| Error::bad(Code::UnknownAccount, "no such account"))?;
        let now = chrono::Utc::now().timestamp_millis();
        // The sessions that were open (those past their idle time or life are ended too, but
        // were not open: the list showed the first figure).
        let open = storage.logins(now - SESSION_IDLE_MS - 1, now - SESSION_LIFE_MS - 1).await?;
        let ended = open.iter().find(|l| l.account == account).map_or(0, |l| u64::from(l.open_sessions));
        storage.end_sessions_of(account, now).await?;
        tracing::info!(%account, ended, by = %caller.account.id, "console sessions ended by the administrator");
        Ok(SessionsEnded { ended })
    }

    /// Every place of the county, for the administrator's view of its structure.
    pub async fn structure_nodes(&self, caller: &Caller) -> Result<Vec<StructureNode>> {
        caller.require_admin()?;
        let storage = self.storage();
        let bounded: std::collections::HashSet<Uuid> = storage.bounded_nodes().await?.into_iter().collect();
        let structure = storage.structure(false).await?;
        Ok(structure
            .nodes
            .into_iter()
            .map(|n| StructureNode {
                id: n.node.id,
                kind: n.node.kind,
                name: n.node.name,
                parent: n.node.parent,
                code: n.code,
                has_boundary: bounded.contains(&n.node.id),
            })
            .collect())
    }
}
