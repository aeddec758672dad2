//! The response body of `POST /api/v2/query`: `{results, meta, query}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::request::{Include, Pagination};

/// A Stats API v2 answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryResponse {
    /// One row per dimension group (one row without dimensions).
    pub results: Vec<ResultRow>,
    /// Auxiliary data: time labels, total rows, estimates.
    pub meta: Meta,
    /// The query as executed (shorthands resolved).
    pub query: QueryEcho,
}

/// One result row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// The values of the query's dimensions, in its order.
    pub dimensions: Vec<String>,
    /// The values of the query's metrics, in its order.
    pub metrics: Vec<MetricValue>,
    /// The same group in the comparison period (`include.comparisons`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<ComparisonRow>,
}

/// A row's comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    /// The group's dimensions in the comparison period (time labels of that
    /// period).
    pub dimensions: Vec<String>,
    /// The metrics over the comparison period.
    pub metrics: Vec<MetricValue>,
    /// Change per metric: percent change rounded to an integer (100 from
    /// zero, 0 from zero to zero); for `bounce_rate` the difference in
    /// points, null when the old rate is 0.
    pub change: Vec<MetricValue>,
}

/// A metric's value: an integer, a decimal (`views_per_visit`,
/// `percentage`, `conversion_rate`) or null.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MetricValue {
    /// Counts, `bounce_rate` (percent), `visit_duration` (seconds).
    Int(i64),
    /// Ratios.
    Float(f64),
    /// Not defined (`percentage` of nothing).
    Null,
}

/// `meta`. Keys in alphabetical order, as Plausible sorts them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Glinto's addition: the metrics that come from a sketch and its error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimates: Option<Estimates>,
    /// With `include.imports`: always false (nothing is imported here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imports_included: Option<bool>,
    /// With `include.imports`: why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imports_skip_reason: Option<String>,
    /// With `include.time_labels`: every bucket of the date range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_labels: Option<Vec<String>>,
    /// Glinto's addition: set when a range boundary fell inside an hour
    /// bucket (zones whose offset changes by a non-whole hour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone_warning: Option<String>,
    /// With `include.total_rows`: rows before pagination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_rows: Option<u64>,
}

/// Which metrics are estimates, and how good.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimates {
    /// The estimated metrics (`visitors`, and `percentage`,
    /// `conversion_rate` which divide visitors).
    pub metrics: Vec<String>,
    /// `"HyperLogLog++"`.
    pub sketch: String,
    /// Relative standard error of a dense sketch (0.0081 at precision 14).
    pub relative_standard_error: f64,
    /// Counts up to this come from the sparse representation and are exact
    /// but for hash collisions (about one per 30 000 pairs of visitors).
    pub exact_up_to: u64,
    /// Whether every visitors figure of this answer is at most `exact_up_to`.
    pub exact: bool,
}

/// `query`: what was executed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryEcho {
    /// The site.
    pub site_id: String,
    /// The metrics.
    pub metrics: Vec<String>,
    /// First and last instant, ISO 8601 in the site's zone.
    pub date_range: [String; 2],
    /// The filters as given.
    pub filters: Vec<Value>,
    /// The dimensions (`time` resolved to `time:hour`...).
    pub dimensions: Vec<String>,
    /// The ordering applied (defaults filled in).
    pub order_by: Vec<[String; 2]>,
    /// The include options.
    pub include: Include,
    /// The pagination.
    pub pagination: Pagination,
}
