//! The tracker served at `/js/script.js` (`assets/script.js`, embedded).
//!
//! It sends Plausible's Events API format, so a page that uses Plausible's
//! snippet only changes the script's address:
//!
//! ```html
//! <script defer data-domain="example.com" src="https://stats.example/js/script.js"></script>
//! <script>window.plausible = window.plausible || function () { (window.plausible.q = window.plausible.q || []).push(arguments) }</script>
//! ```
//!
//! - **Attributes** as Plausible's: `data-domain` (default: the page's host;
//!   several comma-separated), `data-api` (default: `/api/event` on the
//!   script's own origin), `data-hash` or a file name with `.hash.`
//!   (`/js/script.hash.js`) for hash-based routing (`#/page`, sent with
//!   `h: 1`), `data-outbound` or `.outbound-links.` for outbound link clicks
//!   (`Outbound Link: Click` with the `url` prop).
//! - **Page views** on load (after a prerender becomes visible), on
//!   `history.pushState` and `popstate` when the path changes (SPA
//!   navigation), and on `hashchange` in hash mode.
//! - **Custom events**: `plausible('Signup', {props: {plan: 'pro'}, revenue:
//!   {currency: 'EUR', amount: 9}, interactive: false, callback})`; calls made
//!   before the script loaded are queued in `plausible.q` and sent on load.
//! - **Requests** are `fetch` POSTs with `keepalive` (they survive the page
//!   being left) and `Content-Type: text/plain`, a CORS-safelisted type, so a
//!   tracker on another origin needs no preflight.
//! - **Opt-out**: `localStorage.plausible_ignore = "true"`, as Plausible's; `file:` pages send nothing.
//!   Unlike Plausible's default script, `localhost` is tracked (so a local
//!   test of `glinto serve` shows data).
//!
//! It stays under 1 KB gzipped (a test checks what `/js/script.js` serves).
//! It is written by hand rather than minified by a tool: no Node build step
//! in the Rust build.

/// The tracker's source.
pub const SCRIPT: &str = include_str!("../assets/script.js");

/// Whether `file` names a variant of the tracker: `script.js`, or `script.`
/// followed by dot-separated Plausible extension names and `.js`
/// (`script.hash.outbound-links.js`). Every variant is the same script; it
/// reads its own file name.
pub fn is_script_name(file: &str) -> bool {
    let Some(middle) = file
        .strip_prefix("script.")
        .and_then(|rest| rest.strip_suffix("js"))
    else {
        return false;
    };
    middle.is_empty()
        || middle.strip_suffix('.').is_some_and(|exts| {
            exts.split('.').all(|ext| {
                !ext.is_empty() && ext.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names() {
        let cases = [
            ("script.js", true),
            ("script.hash.js", true),
            ("script.outbound-links.js", true),
            ("script.hash.outbound-links.js", true),
            ("script..js", false),
            ("script.HASH.js", false),
            ("script.hash", false),
            ("other.js", false),
            ("script.js.map", false),
            ("script.../x.js", false),
        ];
        for (name, expected) in cases {
            assert_eq!(is_script_name(name), expected, "{name}");
        }
    }
}
