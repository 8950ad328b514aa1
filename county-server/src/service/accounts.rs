//! Accounts: who is calling, and new accounts made by the county administrator.

use sync_protocol::Code;
use sync_protocol::api::{Me, NewAccount, Place};
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
}
