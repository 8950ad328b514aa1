use serde::{Deserialize, Serialize};

use crate::RecordId;

/// One of the five clears: fine, or needs attention with a note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct ClearItem {
    /// `fine` or `attention`
    #[cfg_attr(feature = "ts", ts(type = "ClearStatus"))]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ClearItem {
    pub fn fine() -> Self {
        Self { status: "fine".into(), note: None }
    }
    pub fn attention(note: impl Into<String>) -> Self {
        Self { status: "attention".into(), note: Some(note.into()) }
    }
}

/// 五个清: 家庭情况清、人口类别清、隐患矛盾清、需求诉求清、思想状况清.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct FiveClears {
    pub household: ClearItem,
    pub population: ClearItem,
    pub hazards: ClearItem,
    pub needs: ClearItem,
    pub attitude: ClearItem,
}

impl FiveClears {
    pub fn all_fine() -> Self {
        Self {
            household: ClearItem::fine(),
            population: ClearItem::fine(),
            hazards: ClearItem::fine(),
            needs: ClearItem::fine(),
            attitude: ClearItem::fine(),
        }
    }
}

/// A household visit (入户走访).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Visit {
    pub id: RecordId,
    pub house_id: RecordId,
    #[serde(default)]
    pub resident_id: Option<RecordId>,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// The account that made the visit.
    pub by: RecordId,
    pub clears: FiveClears,
    #[serde(default)]
    pub needs: Option<String>,
    #[serde(default)]
    pub hazards_found: Option<String>,
    /// A dispute reported from this visit.
    #[serde(default)]
    pub dispute_id: Option<RecordId>,
}
