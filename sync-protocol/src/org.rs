//! The organisation: county → township (镇/街道) → village or community (村/社区) → grid (网格),
//! and the roles accounts hold, each scoped to one node.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::schema::Collection;

/// A node of the four-level hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum NodeKind {
    County,
    Township,
    Village,
    Grid,
}

/// The level at which a dispute is handled (网格 → 社区 → 镇 → 县).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Level {
    Grid,
    Community,
    Township,
    County,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Grid, Level::Community, Level::Township, Level::County];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Grid => "grid",
            Level::Community => "community",
            Level::Township => "township",
            Level::County => "county",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// What an account may do, always within the node it is scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Role {
    /// 专职网格员
    GridWorker,
    /// 网格协管员
    GridAssistant,
    /// 网格长
    GridLeader,
    /// 村/社区工作人员
    VillageStaff,
    /// 乡镇（街道）综治中心工作人员
    TownshipStaff,
    /// 县社会治理中心工作人员
    CountyStaff,
    /// 县级系统管理员
    CountyAdmin,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::GridWorker,
        Role::GridAssistant,
        Role::GridLeader,
        Role::VillageStaff,
        Role::TownshipStaff,
        Role::CountyStaff,
        Role::CountyAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::GridWorker => "grid_worker",
            Role::GridAssistant => "grid_assistant",
            Role::GridLeader => "grid_leader",
            Role::VillageStaff => "village_staff",
            Role::TownshipStaff => "township_staff",
            Role::CountyStaff => "county_staff",
            Role::CountyAdmin => "county_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The kind of node this role is scoped to.
    pub fn node_kind(self) -> NodeKind {
        match self {
            Role::GridWorker | Role::GridAssistant | Role::GridLeader => NodeKind::Grid,
            Role::VillageStaff => NodeKind::Village,
            Role::TownshipStaff => NodeKind::Township,
            Role::CountyStaff | Role::CountyAdmin => NodeKind::County,
        }
    }

    /// The dispute level this role acts at.
    pub fn level(self) -> Level {
        match self.node_kind() {
            NodeKind::Grid => Level::Grid,
            NodeKind::Village => Level::Community,
            NodeKind::Township => Level::Township,
            NodeKind::County => Level::County,
        }
    }

    /// Whether this role keeps a grid's base records (residents, houses, visits).
    pub fn edits_base_records(self) -> bool {
        self.node_kind() == NodeKind::Grid
    }

    /// Which of its grids' documents a device of this role receives and may write (least
    /// privilege): the grid's own team its grid in full; village, township and county centre
    /// staff the disputes they handle, never every resident record of their area (they read
    /// single records through the audited staff API); the county administrator none (the
    /// administrator works through the admin API).
    pub fn receives(self, collection: Collection) -> bool {
        match self.node_kind() {
            NodeKind::Grid => true,
            _ if self == Role::CountyAdmin => false,
            _ => collection == Collection::Disputes,
        }
    }
}

/// Who wrote a change, as the validator needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub account: Uuid,
    pub device: Uuid,
    pub role: Role,
}

/// A node of the organisation tree, with its township and village for quick scope checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Node {
    pub id: Uuid,
    pub kind: NodeKind,
    pub name: String,
    pub parent: Option<Uuid>,
    pub township: Option<Uuid>,
    pub village: Option<Uuid>,
}

/// A person's account: one role at one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Account {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub node: Uuid,
}

/// An enrolled handheld (its token is never part of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Device {
    pub id: Uuid,
    pub account: Uuid,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A grid with where it sits, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct GridInfo {
    pub id: Uuid,
    pub name: String,
    pub township: String,
    pub village: String,
}

impl NodeKind {
    pub const ALL: [NodeKind; 4] = [NodeKind::County, NodeKind::Township, NodeKind::Village, NodeKind::Grid];

    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::County => "county",
            NodeKind::Township => "township",
            NodeKind::Village => "village",
            NodeKind::Grid => "grid",
        }
    }

    /// `None` for a string that names no kind (never a default).
    pub fn parse(s: &str) -> Option<NodeKind> {
        NodeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}
