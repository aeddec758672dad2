//! The request body of Plausible's `POST /api/v2/query`, field for field.
//!
//! Metrics, dimensions and filters stay strings and JSON values here, as they
//! arrive: [`crate::plan`] validates them and names the field at fault, the way
//! Plausible's own parser does.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::QueryError;

/// A Stats API v2 query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// The site's domain.
    pub site_id: String,
    /// What to compute: `visitors`, `visits`, `pageviews`, ...
    pub metrics: Vec<String>,
    /// `"7d"`, `"month"`, `["2024-01-01", "2024-01-31"]`, ...
    pub date_range: DateRangeInput,
    /// What to group by: `visit:country`, `event:page`, `time:day`, ...
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// `[operator, dimension, clauses]` trees.
    #[serde(default)]
    pub filters: Vec<Value>,
    /// `[[metric_or_dimension, "asc" | "desc"], ...]`.
    #[serde(default)]
    pub order_by: Option<Vec<Value>>,
    /// Extra data to include.
    #[serde(default)]
    pub include: Include,
    /// Which rows to return.
    #[serde(default)]
    pub pagination: Pagination,
}

impl QueryRequest {
    /// Parses a JSON body.
    ///
    /// # Errors
    /// [`QueryError::InvalidRequest`] with serde's message (unknown field,
    /// missing `metrics`, wrong type).
    pub fn from_json(body: &str) -> Result<Self, QueryError> {
        serde_json::from_str(body).map_err(|e| QueryError::InvalidRequest {
            reason: e.to_string(),
        })
    }
}

/// `date_range`: a shorthand or a pair of ISO 8601 dates or datetimes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DateRangeInput {
    /// `"day"`, `"24h"`, `"7d"`, `"28d"`, `"30d"`, `"91d"`, `"month"`,
    /// `"6mo"`, `"12mo"`, `"year"`, `"all"`.
    Shorthand(String),
    /// `["2024-01-01", "2024-01-31"]` or
    /// `["2024-01-01T12:00:00+02:00", "2024-01-01T15:59:59+02:00"]`.
    Pair([String; 2]),
}

impl std::fmt::Display for DateRangeInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Shorthand(s) => f.write_str(s),
            Self::Pair([a, b]) => write!(f, "[{a:?}, {b:?}]"),
        }
    }
}

/// `include`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Include {
    /// Include imported data (there is none here: `meta.imports_included`
    /// is always false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub imports: bool,
    /// Return every time bucket's label in `meta.time_labels` (needs a time
    /// dimension).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub time_labels: bool,
    /// Return the number of rows before pagination in `meta.total_rows`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub total_rows: bool,
    /// Compare with another period: each row gets a `comparison`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparisons: Option<Comparisons>,
}

/// `include.comparisons`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparisons {
    /// `previous_period`, `year_over_year` or `custom`.
    pub mode: String,
    /// For `custom`: a pair of ISO dates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_range: Option<[String; 2]>,
    /// Shift the comparison to start on the same weekday.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub match_day_of_week: bool,
}

/// `pagination`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pagination {
    /// Rows to return (default 10 000).
    #[serde(default = "default_limit")]
    pub limit: u64,
    /// Rows to skip.
    #[serde(default)]
    pub offset: u64,
}

fn default_limit() -> u64 {
    10_000
}

impl Default for Pagination {
    fn default() -> Self {
        Self {
            limit: default_limit(),
            offset: 0,
        }
    }
}
