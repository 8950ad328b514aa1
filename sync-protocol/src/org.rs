//! The organisation: county → township (镇/街道) → village or community (村/社区) → grid (网格),
//! with departments (派出所, 司法所, 信访 … "公安+司法行政+N") at township and county level, and
//! the roles accounts hold, each scoped to one node. What each role may do is written here once
//! and read by the device, the validator and the server alike.

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
    /// A department or station (派出所, 司法所, 退役军人服务站 …) under a township, or a county
    /// department (县公安局, 县信访局 …) under the county.
    Department,
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
    /// 专职网格员: the grid's full-time worker.
    GridWorker,
    /// 网格协管员
    GridAssistant,
    /// 网格长: the village secretary leading the grid.
    GridLeader,
    /// 网格指导员: a township cadre guiding the grid.
    GridInstructor,
    /// 党员协助员: a party member helping with visits.
    PartyHelper,
    /// 村/社区工作人员
    VillageStaff,
    /// 乡镇（街道）综治中心工作人员
    TownshipStaff,
    /// 乡镇站所工作人员 (派出所, 司法所 …), at a township's department.
    TownshipDepartmentStaff,
    /// 县社会治理中心工作人员
    CountyStaff,
    /// 县直部门工作人员, at a county department.
    CountyDepartmentStaff,
    /// 县级系统管理员
    CountyAdmin,
}

impl Role {
    pub const ALL: [Role; 11] = [
        Role::GridWorker,
        Role::GridAssistant,
        Role::GridLeader,
        Role::GridInstructor,
        Role::PartyHelper,
        Role::VillageStaff,
        Role::TownshipStaff,
        Role::TownshipDepartmentStaff,
        Role::CountyStaff,
        Role::CountyDepartmentStaff,
        Role::CountyAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::GridWorker => "grid_worker",
            Role::GridAssistant => "grid_assistant",
            Role::GridLeader => "grid_leader",
            Role::GridInstructor => "grid_instructor",
            Role::PartyHelper => "party_helper",
            Role::VillageStaff => "village_staff",
            Role::TownshipStaff => "township_staff",
            Role::TownshipDepartmentStaff => "township_department_staff",
            Role::CountyStaff => "county_staff",
            Role::CountyDepartmentStaff => "county_department_staff",
            Role::CountyAdmin => "county_admin",
        }
    }

    /// The role's title as a county writes it (网格员, 网格长 …).
    pub fn title(self) -> &'static str {
        match self {
            Role::GridWorker => "专职网格员",
            Role::GridAssistant => "网格协管员",
            Role::GridLeader => "网格长",
            Role::GridInstructor => "网格指导员",
            Role::PartyHelper => "党员协助员",
            Role::VillageStaff => "村（社区）工作人员",
            Role::TownshipStaff => "镇街综治中心工作人员",
            Role::TownshipDepartmentStaff => "镇街站所工作人员",
            Role::CountyStaff => "县社会治理中心工作人员",
            Role::CountyDepartmentStaff => "县直部门工作人员",
            Role::CountyAdmin => "县级系统管理员",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// A role from a title as counties write it in their tables (专职网格员, 网格员, 网格长,
    /// 村（社区）工作人员 …), or from its code. A department's staff are one title (部门工作人员);
    /// `department_under_county` says which of the two department roles that is.
    pub fn from_title(title: &str, department_under_county: bool) -> Option<Role> {
        let t: String = title
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '（' => '(',
                '）' => ')',
                c => c,
            })
            .collect();
        if let Some(r) = Role::parse(&t) {
            return Some(r);
        }
        Some(match t.as_str() {
            "专职网格员" | "网格员" => Role::GridWorker,
            "网格协管员" | "协管员" | "兼职网格员" => Role::GridAssistant,
            "网格长" => Role::GridLeader,
            "网格指导员" | "指导员" => Role::GridInstructor,
            "党员协助员" | "党员" | "协助员" => Role::PartyHelper,
            "村(社区)工作人员" | "村社区工作人员" | "村工作人员" | "社区工作人员" | "村干部" => {
                Role::VillageStaff
            }
            "镇街综治中心工作人员" | "综治中心工作人员" | "镇街工作人员" | "乡镇工作人员" | "街道工作人员" => {
                Role::TownshipStaff
            }
            "部门工作人员" | "站所工作人员" | "镇街站所工作人员" | "县直部门工作人员" => {
                if department_under_county {
                    Role::CountyDepartmentStaff
                } else {
                    Role::TownshipDepartmentStaff
                }
            }
            "县社会治理中心工作人员" | "县中心工作人员" | "县级工作人员" => Role::CountyStaff,
            "县级系统管理员" | "系统管理员" | "管理员" => Role::CountyAdmin,
            _ => return None,
        })
    }

    /// The kind of node this role is scoped to.
    pub fn node_kind(self) -> NodeKind {
        match self {
            Role::GridWorker | Role::GridAssistant | Role::GridLeader | Role::GridInstructor | Role::PartyHelper => {
                NodeKind::Grid
            }
            Role::VillageStaff => NodeKind::Village,
            Role::TownshipStaff => NodeKind::Township,
            Role::TownshipDepartmentStaff | Role::CountyDepartmentStaff => NodeKind::Department,
            Role::CountyStaff | Role::CountyAdmin => NodeKind::County,
        }
    }

    /// Whether an account of this role may be scoped to `node`: a node of its kind, and for
    /// department staff a department at their level (a township's or the county's).
    pub fn fits(self, node: &Node) -> bool {
        node.kind == self.node_kind()
            && match self {
                Role::TownshipDepartmentStaff => node.township.is_some(),
                Role::CountyDepartmentStaff => node.township.is_none(),
                _ => true,
            }
    }

    /// The dispute level this role acts at.
    pub fn level(self) -> Level {
        match self {
            Role::GridWorker | Role::GridAssistant | Role::GridLeader | Role::GridInstructor | Role::PartyHelper => {
                Level::Grid
            }
            Role::VillageStaff => Level::Community,
            Role::TownshipStaff | Role::TownshipDepartmentStaff => Level::Township,
            Role::CountyStaff | Role::CountyDepartmentStaff | Role::CountyAdmin => Level::County,
        }
    }

    /// Whether this role registers new disputes (上报): the grid's team and the centres; a
    /// department works what it is assigned, and the administrator keeps the system.
    pub fn reports_disputes(self) -> bool {
        !matches!(self, Role::TownshipDepartmentStaff | Role::CountyDepartmentStaff | Role::CountyAdmin)
    }

    /// A department's staff (派出所, 司法所, a county department): they work what is sent to their
    /// department.
    pub fn is_department(self) -> bool {
        matches!(self, Role::TownshipDepartmentStaff | Role::CountyDepartmentStaff)
    }

    /// Whether this role may take dispute actions of this kind at all (the closed loop's rule
    /// then says whether now): a department reports back (处置反馈) on what it is sent, and
    /// leaves accepting, assigning, verifying, resolving, supervising, escalating, evaluating and
    /// recording work on the spot to the centres (its mediation is told in its report-back: the
    /// rule's holder is a level, and a department shares its centre's).
    pub fn takes_action(self, kind: &str) -> bool {
        !self.is_department() || kind == "feedback"
    }

    /// Whether this role reads the residents and houses of its area through the staff API
    /// (masked, audited): everyone but a department's staff, who work the disputes assigned to
    /// them and need no one else's records.
    pub fn reads_area_records(self) -> bool {
        !self.is_department()
    }

    /// Whether this role keeps a grid's base records (residents, houses, visits): the grid's
    /// 1+1+1+N team (worker, leader, instructor, assistants, party-member helpers), who all make
    /// household visits.
    pub fn edits_base_records(self) -> bool {
        self.node_kind() == NodeKind::Grid
    }

    /// Which of its grids' documents a device of this role receives and may write (least
    /// privilege): the grid's own team its grid in full; village, township and county centre
    /// staff and departments the disputes they handle, never every resident record of their area
    /// (they read single records through the audited staff API); the county administrator none
    /// (the administrator works through the admin API).
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
    /// The place the account is scoped to, where it is known (the server's callers, the
    /// device's own edits): an action naming the place it acts for must name this one.
    #[serde(default)]
    pub node: Option<Uuid>,
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

impl Node {
    /// The level a dispute sent here is handled at: a department works at its township's level,
    /// or the county's.
    pub fn level(&self) -> Level {
        match self.kind {
            NodeKind::Grid => Level::Grid,
            NodeKind::Village => Level::Community,
            NodeKind::Township => Level::Township,
            NodeKind::County => Level::County,
            NodeKind::Department if self.township.is_some() => Level::Township,
            NodeKind::Department => Level::County,
        }
    }
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
    pub const ALL: [NodeKind; 5] =
        [NodeKind::County, NodeKind::Township, NodeKind::Village, NodeKind::Grid, NodeKind::Department];

    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::County => "county",
            NodeKind::Township => "township",
            NodeKind::Village => "village",
            NodeKind::Grid => "grid",
            NodeKind::Department => "department",
        }
    }

    /// `None` for a string that names no kind (never a default).
    pub fn parse(s: &str) -> Option<NodeKind> {
        NodeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}
