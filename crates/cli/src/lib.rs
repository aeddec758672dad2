//! `glinto`: the command and the server.
//!
//! - [`cli`]: the command line (`glinto --help`).
//! - [`run`]: what each command does; [`run::CliError`] is what a user sees.
//! - [`app`]: **the seam to the engine**: the [`app::Backend`] trait the
//!   pipeline, control plane and Stats API implement, and [`app::open_backend`],
//!   the one place they are wired in.
//! - [`http`]: routes, [`http::AppState`], and [`http::ApiError`], the one
//!   mapping from errors to responses.
//! - [`client_ip`]: the client's address, from the socket or trusted proxies.
//! - [`rate_limit`], [`metrics`], [`tracker`]: the Stats API's per-key token
//!   bucket, `/metrics`, and `/js/script.js`.
//!
//! Native only: on `wasm32` this library is empty (a Worker runs the same
//! engine through the Workers adapter instead).

#![cfg(not(target_arch = "wasm32"))]

pub mod app;
pub mod cli;
pub mod client_ip;
pub mod http;
pub mod metrics;
pub mod rate_limit;
pub mod run;
pub mod tracker;

/// An error and its causes on one line: `a: b: c`.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // `#[error(transparent)]` wrappers repeat their source's text.
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}
