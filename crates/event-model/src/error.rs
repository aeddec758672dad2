//! Why a tracker request was not turned into events.

use crate::ua::BotReason;

/// A rejected tracker request.
///
/// Variants are chosen by what the HTTP layer does with them: everything but
/// [`Error::Bot`] is the client's mistake and answers `400 Bad Request` with
/// the [`Display`](std::fmt::Display) text as the body (it names the field and
/// the limit); [`Error::Bot`] is not an error of the client's making, is
/// usually answered `202 Accepted` (as Plausible does, so crawlers learn
/// nothing) and is counted by [`Error::reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The body (or pixel query string) is longer than the ceiling.
    #[error("{field} is {len} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// `body` or `query`.
        field: &'static str,
        /// The configured ceiling in bytes.
        limit: usize,
        /// The actual size in bytes.
        len: usize,
    },
    /// The body is not a JSON object (or the query string is not form-encoded UTF-8).
    #[error("{field} is not valid: {reason}")]
    Malformed {
        /// `body` or `query`.
        field: &'static str,
        /// What the parser reported.
        reason: String,
    },
    /// A required field is missing, `null` or empty.
    #[error("missing required field `{field}`")]
    Missing {
        /// The field's long name (`name`, `url`, `domain`).
        field: &'static str,
    },
    /// A field is given twice (for example as `name` and as `n`).
    #[error("field `{field}` is given more than once")]
    Duplicate {
        /// The field's long name.
        field: &'static str,
    },
    /// A field has the wrong JSON type.
    #[error("field `{field}` must be {expected}")]
    WrongType {
        /// The field's long name.
        field: &'static str,
        /// What the field must be (`a string`, `a boolean`...).
        expected: &'static str,
    },
    /// A field is longer than its limit.
    #[error("field `{field}` is {len} {unit}, more than the limit of {limit}")]
    TooLong {
        /// The field's long name (`props` for a property key or value).
        field: &'static str,
        /// The limit.
        limit: usize,
        /// The actual length.
        len: usize,
        /// `characters` or `bytes`.
        unit: &'static str,
    },
    /// A field has more items than allowed (for example, domains).
    #[error("field `{field}` has {count} items, more than the limit of {limit}")]
    TooMany {
        /// The field's long name.
        field: &'static str,
        /// The limit.
        limit: usize,
        /// The actual count.
        count: usize,
    },
    /// A field has an invalid value (a URL that is not http(s), an unknown
    /// currency, a malformed domain...).
    #[error("field `{field}` is invalid: {reason}")]
    Invalid {
        /// The field's long name, or `client_ip` / `user_agent` for the context.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The User-Agent belongs to a bot, crawler, headless browser or tool.
    #[error("rejected as a bot: {0}")]
    Bot(#[from] BotReason),
}

impl Error {
    /// The field at fault, for a machine-readable error body.
    pub fn field(&self) -> &'static str {
        match self {
            Error::TooLarge { field, .. }
            | Error::Malformed { field, .. }
            | Error::Missing { field }
            | Error::Duplicate { field }
            | Error::WrongType { field, .. }
            | Error::TooLong { field, .. }
            | Error::TooMany { field, .. }
            | Error::Invalid { field, .. } => field,
            Error::Bot(_) => "user_agent",
        }
    }

    /// Whether this rejects a bot rather than a malformed request.
    pub fn is_bot(&self) -> bool {
        matches!(self, Error::Bot(_))
    }

    /// A short stable label for counting rejections (`bot_crawler`,
    /// `missing_field`...): what users see in "filtered requests".
    pub fn reason(&self) -> &'static str {
        match self {
            Error::TooLarge { .. } => "too_large",
            Error::Malformed { .. } => "malformed",
            Error::Missing { .. } => "missing_field",
            Error::Duplicate { .. } => "duplicate_field",
            Error::WrongType { .. } => "wrong_type",
            Error::TooLong { .. } => "too_long",
            Error::TooMany { .. } => "too_many",
            Error::Invalid { .. } => "invalid_value",
            Error::Bot(reason) => match reason {
                BotReason::Empty => "bot_empty_user_agent",
                BotReason::TooShort => "bot_short_user_agent",
                BotReason::TooLong => "bot_long_user_agent",
                BotReason::Implausible => "bot_implausible_user_agent",
                BotReason::Crawler => "bot_crawler",
                BotReason::Headless => "bot_headless",
                BotReason::HttpLibrary => "bot_http_library",
                #[allow(unreachable_patterns, reason = "BotReason may grow new reasons")]
                _ => "bot_other",
            },
        }
    }

    /// The HTTP status a collector answers with: `202` for bots (accepted and
    /// dropped, as Plausible does), `413` when over the size ceiling, `400` otherwise.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Bot(_) => 202,
            Error::TooLarge { .. } => 413,
            _ => 400,
        }
    }
}

/// Results of this crate's request parsing.
pub type Result<T, E = Error> = std::result::Result<T, E>;
