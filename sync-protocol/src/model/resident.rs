use serde::{Deserialize, Serialize};

use crate::RecordId;

/// A resident on record (实有人口).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Resident {
    pub id: RecordId,
    pub name: String,
    /// `male` or `female`
    #[cfg_attr(feature = "ts", ts(type = "Sex"))]
    pub sex: String,
    /// `YYYY-MM-DD`
    pub birth_date: String,
    /// 18-character resident ID number; absent for people without one (overseas residents).
    #[serde(default)]
    pub id_number: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub ethnicity: Option<String>,
    /// Population categories (人口类别), see [`crate::schema::POPULATION_CATEGORIES`].
    #[serde(default)]
    pub categories: Vec<String>,
    /// Relation to the household head (与户主关系).
    #[serde(default)]
    pub relation: Option<String>,
    /// The house they live in (人房关联).
    #[serde(default)]
    pub house_id: Option<RecordId>,
    #[serde(default)]
    pub notes: Option<String>,
    /// Set when the resident moved away or died: the record is archived, never erased.
    #[serde(default)]
    pub archived_reason: Option<String>,
    #[serde(default)]
    pub archived_on: Option<String>,
}

impl Resident {
    pub fn is_archived(&self) -> bool {
        self.archived_reason.is_some()
    }
}

/// A resident as lists show it: ID number and phone masked (personal data stays out of lists).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct ResidentSummary {
    pub id: RecordId,
    pub name: String,
    #[cfg_attr(feature = "ts", ts(type = "Sex"))]
    pub sex: String,
    /// The year only: with the full date a masked ID number could be guessed back.
    pub birth_year: String,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub categories: Vec<String>,
    pub house_id: Option<RecordId>,
    pub archived: bool,
}

impl From<Resident> for ResidentSummary {
    fn from(r: Resident) -> Self {
        use crate::validate::{mask_id_number, mask_phone};
        ResidentSummary {
            id: r.id,
            archived: r.is_archived(),
            id_number: r.id_number.as_deref().map(mask_id_number),
            phone: r.phone.as_deref().map(mask_phone),
            name: r.name,
            sex: r.sex,
            birth_year: r.birth_date.chars().take(4).collect(),
            categories: r.categories,
            house_id: r.house_id,
        }
    }
}
