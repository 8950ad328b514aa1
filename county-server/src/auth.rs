//! Enrolment codes, device tokens and scopes. Codes and tokens are random, shown once, and
//! stored only as SHA-256 hashes; a token can be revoked (a lost handheld).

use axum::http::HeaderMap;
use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};
use sync_protocol::org::{Author, NodeKind, Role};
use uuid::Uuid;

use crate::error::ApiError;
use crate::storage::{Account, Device, Node, Scope, Storage, TokenHolder};

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
}

impl Caller {
    pub fn author(&self) -> Author {
        Author { account: self.account.id, device: self.device.id, role: self.account.role }
    }
}

pub async fn authenticate(storage: &dyn Storage, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    let TokenHolder { device, account, node } =
        storage.device_by_token(&hash_secret(token.trim())).await?.ok_or(ApiError::Unauthorized)?;
    crate::audit::record_caller(device.id, account.id);
    if device.revoked_at.is_some() {
        tracing::warn!(device = %device.id, "revoked device refused");
        return Err(ApiError::Revoked);
    }
    Ok(Caller { device, account, node })
}

/// The grids a caller may see, from the node its account is scoped to (read with its token).
pub fn caller_scope(caller: &Caller) -> Result<Scope, ApiError> {
    scope_at(&caller.account, caller.node.as_ref())
}

/// The grids an account may see, from the node it is scoped to.
pub async fn scope_of(storage: &dyn Storage, account: &Account) -> Result<Scope, ApiError> {
    scope_at(account, storage.node(account.node).await?.as_ref())
}

fn scope_at(account: &Account, node: Option<&Node>) -> Result<Scope, ApiError> {
    let node = node.ok_or_else(|| ApiError::Forbidden("account has no node".into()))?;
    if node.kind != account.role.node_kind() {
        return Err(ApiError::Forbidden("account's role does not match its node".into()));
    }
    Ok(match node.kind {
        NodeKind::County => Scope::All,
        NodeKind::Township => Scope::Township(node.id),
        NodeKind::Village => Scope::Village(node.id),
        NodeKind::Grid => Scope::Grid(node.id),
    })
}

/// Whether a grid lies within a scope.
pub async fn grid_in_scope(storage: &dyn Storage, scope: &Scope, grid: Uuid) -> Result<bool, ApiError> {
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

pub fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.account.role == Role::CountyAdmin {
        Ok(())
    } else {
        Err(ApiError::Forbidden("county administrators only".into()))
    }
}
