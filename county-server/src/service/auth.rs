//! Device tokens and scopes: who is calling, and which grids they may see. Tokens and
//! enrolment codes are random, shown once, and stored only as SHA-256 hashes; a token can be
//! revoked (a lost handheld).

use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};
use sync_protocol::org::{Account, Author, Device, Node, NodeKind, Role};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::storage::{Scope, Storage, TokenHolder};

/// Letters and digits that cannot be mistaken for each other when read aloud or typed.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A new enrolment code, e.g. `K7QM-3WXP-9HTA` (60 bits).
pub fn new_enrolment_code() -> String {
    let mut rng = rand::rng();
    let raw: String = (0..12).map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char).collect();
    format!("{}-{}-{}", &raw[..4], &raw[4..8], &raw[8..])
}

/// Codes are compared without dashes, spaces or case.
pub fn normalize_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

pub fn new_device_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!("gk_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The device behind a request, with its account and the node the account is scoped to.
#[derive(Debug, Clone)]
pub struct Caller {
    pub device: Device,
    pub account: Account,
    /// Read with the token (`None` if the account's node is missing: no scope).
    pub node: Option<Node>,
    /// The client's address as the server saw it, for the audit of reads (`None` where there
    /// is no connection: the command line).
    pub from: Option<std::net::IpAddr>,
    /// A console session of a role that must have a second factor, whose account has none:
    /// it has no scope and no administration until one is set up.
    pub needs_second_factor: bool,
}

impl Caller {
    pub fn author(&self) -> Author {
        Author {
            account: self.account.id,
            device: self.device.id,
            role: self.account.role,
            node: Some(self.account.node),
        }
    }

    /// The grids this caller may see, from the node its account is scoped to.
    pub fn scope(&self) -> Result<Scope> {
        if self.needs_second_factor {
            return Err(Error::SecondFactorSetupRequired);
        }
        scope_at(&self.account, self.node.as_ref())
    }

    /// The grids whose residents and houses this caller may read: its scope, unless its role
    /// works disputes only ([`Role::reads_area_records`]).
    pub fn records_scope(&self) -> Result<Scope> {
        if !self.account.role.reads_area_records() {
            return Err(Error::Forbidden("this role works disputes only".into()));
        }
        self.scope()
    }

    pub fn require_admin(&self) -> Result<()> {
        if self.needs_second_factor {
            return Err(Error::SecondFactorSetupRequired);
        }
        if self.account.role == Role::CountyAdmin {
            Ok(())
        } else {
            Err(Error::Forbidden("county administrators only".into()))
        }
    }
}

/// The caller holding a device token (as sent, without `Bearer `).
pub async fn authenticate(storage: &dyn Storage, token: Option<&str>) -> Result<Caller> {
    let token = token.map(str::trim).filter(|t| !t.is_empty()).ok_or(Error::Unauthorized)?;
    let TokenHolder { device, account, node } =
        storage.device_by_token(&hash_secret(token)).await?.ok_or(Error::Unauthorized)?;
    if device.revoked_at.is_some() {
        tracing::warn!(device = %device.id, "revoked device refused");
        return Err(Error::Revoked);
    }
    Ok(Caller { device, account, node, from: None, needs_second_factor: false })
}

/// The grids an account may see, from the node it is scoped to.
pub async fn scope_of(storage: &dyn Storage, account: &Account) -> Result<Scope> {
    scope_at(account, storage.node(account.node).await?.as_ref())
}

fn scope_at(account: &Account, node: Option<&Node>) -> Result<Scope> {
    let node = node.ok_or_else(|| Error::Forbidden("account has no node".into()))?;
    if !account.role.fits(node) {
        return Err(Error::Forbidden("account's role does not match its node".into()));
    }
    Ok(match node.kind {
        NodeKind::County => Scope::All,
        NodeKind::Township => Scope::Township(node.id),
        NodeKind::Village => Scope::Village(node.id),
        NodeKind::Grid => Scope::Grid(node.id),
        // A department works the disputes of the area it serves: its township, or the county.
        NodeKind::Department => node.township.map_or(Scope::All, Scope::Township),
    })
}

/// Whether a grid lies within a scope.
pub async fn grid_in_scope(storage: &dyn Storage, scope: &Scope, grid: Uuid) -> Result<bool> {
    Ok(match scope {
        Scope::All => storage.node(grid).await?.is_some_and(|n| n.kind == NodeKind::Grid),
        Scope::Grid(g) => *g == grid,
        Scope::Township(t) => {
            storage.node(grid).await?.is_some_and(|n| n.kind == NodeKind::Grid && n.township == Some(*t))
        }
        Scope::Village(v) => {
            storage.node(grid).await?.is_some_and(|n| n.kind == NodeKind::Grid && n.village == Some(*v))
        }
    })
}

/// A scope narrowed to one township, village or grid within it (a chart drilled down), with
/// that place; the scope itself when no place is named. A place outside the scope, unknown, or
/// not an area (a department) is refused alike, so a refusal tells nothing of other places.
pub async fn narrow_scope(storage: &dyn Storage, scope: Scope, node: Option<Uuid>) -> Result<(Scope, Option<Node>)> {
    let Some(id) = node else { return Ok((scope, None)) };
    let outside = || Error::Forbidden("place outside your scope".into());
    let n = storage.node(id).await?.ok_or_else(outside)?;
    let inside = match &scope {
        Scope::All => true,
        Scope::Township(t) => n.id == *t || n.township == Some(*t),
        Scope::Village(v) => n.id == *v || n.village == Some(*v),
        Scope::Grid(g) => n.id == *g,
    };
    let narrowed = match n.kind {
        NodeKind::County => Scope::All,
        NodeKind::Township => Scope::Township(n.id),
        NodeKind::Village => Scope::Village(n.id),
        NodeKind::Grid => Scope::Grid(n.id),
        NodeKind::Department => return Err(outside()),
    };
    if !inside || (n.kind == NodeKind::County && scope != Scope::All) {
        return Err(outside());
    }
    Ok((narrowed, Some(n)))
}

/// Refuses a grid outside the scope (when one is named).
pub async fn check_grid(storage: &dyn Storage, scope: &Scope, grid: Option<Uuid>) -> Result<()> {
    if let Some(g) = grid
        && !grid_in_scope(storage, scope, g).await?
    {
        return Err(Error::Forbidden("grid outside your scope".into()));
    }
    Ok(())
}
