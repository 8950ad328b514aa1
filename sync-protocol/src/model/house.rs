use serde::{Deserialize, Serialize};

use crate::RecordId;

/// A house on record (实有房屋).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct House {
    pub id: RecordId,
    pub township: String,
    pub village: String,
    #[serde(default)]
    pub street: Option<String>,
    #[serde(default)]
    pub building: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub floor: Option<String>,
    pub door: String,
    #[serde(default)]
    pub structure: Option<String>,
    /// Floor area in m².
    #[serde(default)]
    pub area: Option<f64>,
    #[serde(default, rename = "use")]
    pub usage: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    /// 出租房
    #[serde(default)]
    pub rented: Option<bool>,
    #[serde(default)]
    pub hazards: Option<String>,
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lng: Option<f64>,
    #[serde(default)]
    pub archived_reason: Option<String>,
    #[serde(default)]
    pub archived_on: Option<String>,
}

impl House {
    /// The address as people write it: 村 街 号楼 单元 层 门.
    pub fn address(&self) -> String {
        let mut s = format!("{}{}", self.township, self.village);
        if let Some(x) = &self.street {
            s.push_str(x);
        }
        if let Some(b) = &self.building {
            s.push_str(&format!("{b}号楼"));
        }
        if let Some(u) = &self.unit {
            s.push_str(&format!("{u}单元"));
        }
        s.push_str(&format!("{}号", self.door));
        s
    }
}
