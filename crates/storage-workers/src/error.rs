//! Runtime errors into the one error type of the storage contracts.

use std::fmt;

use glinto_storage::Error;
use worker::wasm_bindgen::JsValue;

/// Words in a runtime error message that mean "retrying can help": rate
/// limits (KV and R2 answer 429 on more than one write per second to a key),
/// overload and resets of a Durable Object, lost connections, timeouts.
const TRANSIENT_MARKERS: &[&str] = &[
    "429",
    "too many requests",
    "rate limit",
    "overloaded",
    "network connection lost",
    "timed out",
    "timeout",
    "reset",
    "temporarily",
    "try again",
    "internal error",
    "503",
    // R2 puts its error code at the end of the message; 10058 is "reduce
    // your concurrent request rate for the same object"
    // (https://developers.cloudflare.com/r2/api/error-codes/).
    "(10058)",
];

/// A runtime failure of `operation`: transient when its message says a retry
/// can help, permanent otherwise.
pub(crate) fn runtime(operation: &str, error: impl fmt::Display) -> Error {
    let message = format!("{operation}: {error}");
    let lower = message.to_ascii_lowercase();
    if TRANSIENT_MARKERS.iter().any(|m| lower.contains(m)) {
        Error::transient(message)
    } else {
        Error::permanent(message)
    }
}

/// [`runtime`] for a raw JavaScript exception.
pub(crate) fn js(operation: &str, error: JsValue) -> Error {
    runtime(operation, worker::Error::from(error))
}
