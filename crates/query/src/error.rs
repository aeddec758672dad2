//! The one error type of the crate: what was wrong with a request, named by
//! its field, with Plausible's wording where Plausible has one.

/// Why a query cannot be planned or answered. Every variant names the
/// request field at fault ([`QueryError::field`]); the `Display` text is
/// what an HTTP server returns as `{"error": "..."}` with status 400.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The body is not a query object (bad JSON, a missing or unknown field).
    #[error("Invalid request: {reason}")]
    InvalidRequest {
        /// The parser's message.
        reason: String,
    },
    /// `site_id` is not the site this context answers for.
    #[error("Invalid site_id '{site_id}': this query is answered for '{expected}'.")]
    WrongSite {
        /// The requested site.
        site_id: String,
        /// The site of the context.
        expected: String,
    },
    /// An empty or repeated metric list, or a metric Plausible does not know.
    #[error("{reason}")]
    InvalidMetrics {
        /// What is wrong, e.g. `Unknown metric '"foo"'.`.
        reason: String,
    },
    /// `date_range` is not a known shorthand nor a pair of ISO dates or
    /// datetimes, or is empty or reversed.
    #[error("Invalid date_range '{value}'{}", reason_suffix(.reason))]
    InvalidDateRange {
        /// The date range as given.
        value: String,
        /// Why.
        reason: String,
    },
    /// A dimension Plausible does not know, or a repeated one.
    #[error("Invalid dimensions '{value}'{}", reason_suffix(.reason))]
    InvalidDimension {
        /// The dimension.
        value: String,
        /// Why.
        reason: String,
    },
    /// A filter that is not `[operator, dimension, clauses]` or whose
    /// clauses are invalid.
    #[error("Invalid filter '{filter}'{}", reason_suffix(.reason))]
    InvalidFilter {
        /// The filter, as JSON.
        filter: String,
        /// Why.
        reason: String,
    },
    /// An `order_by` entry that is malformed or not a queried metric or
    /// dimension.
    #[error("Invalid order_by entry '{entry}'{}", reason_suffix(.reason))]
    InvalidOrderBy {
        /// The entry, as JSON.
        entry: String,
        /// Why.
        reason: String,
    },
    /// `include` or `pagination` has an invalid value.
    #[error("Invalid {field}: {reason}")]
    InvalidOption {
        /// `include.time_labels`, `pagination.limit`...
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A metric that cannot be combined with the dimensions or filters, as
    /// Plausible rules (`Metric \`conversion_rate\` can only be queried with
    /// event:goal filters or dimensions.`).
    #[error("{reason}")]
    IncompatibleMetric {
        /// The metric.
        metric: String,
        /// Plausible's message.
        reason: String,
    },
    /// Valid in Plausible, but not answered here yet: the rollups do not
    /// keep what it needs (filtered queries come with the columnar store).
    #[error("Not supported yet: {what} ({why}).")]
    NotSupported {
        /// The request field: `metrics`, `dimensions`, `filters`, `include`.
        field: &'static str,
        /// What was asked.
        what: String,
        /// Why it cannot be answered exactly.
        why: String,
    },
    /// The range needs finer cells than the site keeps there (`time:hour`
    /// over a range whose hours were folded into days).
    #[error(
        "Not available: {what} needs {needs} cells from {from}, but this site keeps them only from {available}."
    )]
    ResolutionUnavailable {
        /// The request field: `date_range`, `dimensions` or `include`.
        field: &'static str,
        /// What needed them (`time:hour`, `date_range`).
        what: String,
        /// `hour` or `day`.
        needs: &'static str,
        /// The local time of the first boundary that cannot be answered.
        from: String,
        /// The local time from which such cells exist.
        available: String,
    },
    /// The site's time zone is not an IANA zone name.
    #[error("Unknown time zone '{name}'.")]
    UnknownTimeZone {
        /// The name.
        name: String,
    },
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        ".".to_owned()
    } else {
        format!(": {reason}.")
    }
}

impl QueryError {
    /// The request field at fault (`metrics`, `date_range`, `dimensions`,
    /// `filters`, `order_by`, `include.*`, `pagination.*`, `site_id`, or
    /// `site` for the site's own configuration).
    pub fn field(&self) -> &'static str {
        match self {
            Self::InvalidRequest { .. } => "body",
            Self::WrongSite { .. } => "site_id",
            Self::InvalidMetrics { .. } | Self::IncompatibleMetric { .. } => "metrics",
            Self::InvalidDateRange { .. } => "date_range",
            Self::InvalidDimension { .. } => "dimensions",
            Self::InvalidFilter { .. } => "filters",
            Self::InvalidOrderBy { .. } => "order_by",
            Self::InvalidOption { field, .. }
            | Self::NotSupported { field, .. }
            | Self::ResolutionUnavailable { field, .. } => field,
            Self::UnknownTimeZone { .. } => "site",
        }
    }

    pub(crate) fn invalid_date_range(value: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidDateRange {
            value: value.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn not_supported(
        field: &'static str,
        what: impl Into<String>,
        why: impl Into<String>,
    ) -> Self {
        Self::NotSupported {
            field,
            what: what.into(),
            why: why.into(),
        }
    }

    pub(crate) fn incompatible(metric: &str, reason: impl Into<String>) -> Self {
        Self::IncompatibleMetric {
            metric: metric.to_owned(),
            reason: reason.into(),
        }
    }
}
