//! Checks on the workspace's own files (in the style of rust-analyzer's
//! `tidy` tests): `tests/tidy.rs` enforces the invariants of
//! `docs/ARCHITECTURE.md` that the compiler does not, and this library holds
//! what those checks need: reading the workspace, stripping comments and
//! test modules from sources, and generating the referrer table.
//!
//! Run them with `cargo test -p glinto-tidy` (`.ci/run` does, before
//! clippy).

pub mod referrers;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|e| panic!("workspace root: {e}"))
}

/// `path` relative to the workspace root, with `/` separators.
pub fn relative(path: &Path) -> String {
    let root = workspace_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every `.rs` file under `dir`, sorted, skipping `target` directories.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && !name.to_string_lossy().starts_with('.') {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The lines of Rust source that are code: numbered from 1, without line
/// comments (doc comments included) and without top-level
/// `#[cfg(test)] mod ... { ... }` blocks (rustfmt puts their closing brace
/// alone in column 0, and nothing inside them there).
pub fn code_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        if line == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|(_, next)| next.starts_with("mod ") && next.ends_with('{'))
        {
            for (_, inner) in lines.by_ref() {
                if inner == "}" {
                    break;
                }
            }
            continue;
        }
        let code = match line.find("//") {
            // A `//` inside a string such as "https://" cuts the rest of
            // the line too: at worst a check misses code after a URL.
            Some(at) => &line[..at],
            None => line,
        };
        if !code.trim().is_empty() {
            out.push((i + 1, code));
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `line` contains `word` as a whole word: if `word` starts (ends)
/// with an identifier character, not preceded (followed) by one (`Instant`
/// matches in `Instant::now` but not in `InstantQuery`; `::now(` matches in
/// `SystemTime::now()`).
pub fn contains_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        let glued_before = word.starts_with(is_ident) && before.is_some_and(is_ident);
        let glued_after = word.ends_with(is_ident) && after.is_some_and(is_ident);
        !glued_before && !glued_after
    })
}

/// The workspace's packages, as `cargo metadata --no-deps` describes them.
pub fn packages() -> Vec<Value> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .unwrap_or_else(|e| panic!("cargo metadata: {e}"));
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("cargo metadata output: {e}"));
    metadata["packages"].as_array().cloned().unwrap_or_default()
}

/// The directory of a package from `cargo metadata`, relative to the root.
pub fn package_dir(package: &Value) -> String {
    let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap_or_default());
    relative(manifest.parent().unwrap_or(Path::new("")))
}

/// Writes `expected` to `path` if it differs, and says so: a generated file
/// that is out of date fails the check once and is fixed for the next run
/// (review and commit the diff).
///
/// # Errors
/// A message naming the file when it was out of date.
pub fn ensure_file_contents(path: &Path, expected: &str) -> Result<(), String> {
    let current = fs::read_to_string(path).unwrap_or_default();
    if current == expected {
        return Ok(());
    }
    fs::write(path, expected).map_err(|e| format!("{}: {e}", path.display()))?;
    Err(format!(
        "{} was not up to date and has been regenerated: review the diff, commit it and rerun",
        relative(path)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_code_lines() {
        assert!(contains_word("let t = Instant::now();", "Instant"));
        assert!(!contains_word("struct InstantQuery;", "Instant"));
        assert!(!contains_word("let my_rand::x", "rand::"));
        assert!(contains_word("use rand::Rng;", "rand::"));
        assert!(contains_word("SystemTime::now()", "::now("));
        let text = "use a;\n// std::fs\nfn f() {} // std::env\n#[cfg(test)]\nmod tests {\n    use std::fs;\n}\nfn g() {}\n";
        assert_eq!(
            code_lines(text),
            [(1, "use a;"), (3, "fn f() {} "), (8, "fn g() {}")]
        );
    }
}
