//! The invariants of `docs/ARCHITECTURE.md` that the compiler does not
//! check, checked on the workspace's files. Each failure names the file,
//! the line and the rule.

use std::fs;

use glinto_tidy::{
    code_lines, contains_word, ensure_file_contents, package_dir, packages, referrers, relative,
    rust_files, workspace_root,
};
use serde_json::Value;

/// The core crates: the pipeline's building blocks, which run unchanged in a
/// Durable Object and in `glinto serve`. Directories that do not exist yet
/// (crates to come) are skipped.
const CORE: [&str; 5] = [
    "crates/event-model",
    "crates/idempotent-aggregator",
    "crates/storage-traits",
    "crates/pipeline",
    "crates/query",
];

/// What a core crate's code must not name: `(word, what it does)`.
const NO_IO: [(&str, &str); 16] = [
    ("std::fs", "file I/O"),
    ("std::net", "network I/O"),
    ("std::env", "reads the environment"),
    ("std::process", "processes"),
    ("std::io::stdin", "standard input"),
    ("File", "file I/O"),
    ("TcpStream", "network I/O"),
    ("SystemTime", "reads the clock"),
    ("Instant", "reads the clock"),
    ("::now(", "reads the clock"),
    ("thread::sleep", "waits on the clock"),
    ("rand::", "randomness"),
    ("getrandom", "randomness"),
    ("tokio", "a runtime"),
    ("async_std", "a runtime"),
    ("worker::", "Cloudflare's runtime"),
];

/// Crates a core crate must not depend on (normal or build dependencies).
const NO_IO_CRATES: [&str; 8] = [
    "rand",
    "getrandom",
    "tokio",
    "async-std",
    "worker",
    "redb",
    "reqwest",
    "hyper",
];

/// Exceptions, each with its reason: `(file, word, why)`. An entry that no
/// longer matches anything fails too, so the list stays true.
const NO_IO_ALLOWED: [(&str, &str, &str); 2] = [
    (
        "crates/storage-traits/src/clock.rs",
        "SystemTime",
        "SystemClock, the native implementation of the Clock trait the pipeline is given \
         (not compiled for wasm32, where the Workers adapter supplies Date.now())",
    ),
    (
        "crates/storage-traits/src/clock.rs",
        "::now(",
        "SystemClock, as above",
    ),
];

/// The Workers adapter: the only places that may name the `worker` crate
/// (`crates/storage-workers` implements the storage traits on KV, Durable
/// Objects and R2; the Worker itself, its entry point, is to live in
/// `crates/worker` or `examples/worker`).
const WORKERS_ADAPTER: [&str; 3] = ["crates/storage-workers", "crates/worker", "examples/worker"];

fn dependencies(package: &Value) -> Vec<&Value> {
    package["dependencies"]
        .as_array()
        .map(|d| d.iter().collect())
        .unwrap_or_default()
}

/// A dependency's name as the code sees it (`rename` if renamed).
fn dependency_names(dep: &Value) -> [&str; 2] {
    [
        dep["name"].as_str().unwrap_or_default(),
        dep["rename"].as_str().unwrap_or_default(),
    ]
}

fn is_normal(dep: &Value) -> bool {
    // `kind` is null for normal dependencies, "dev" or "build" otherwise.
    dep["kind"].as_str() != Some("dev")
}

fn report(rule: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{rule}:\n  {}", problems.join("\n  "));
}

#[test]
fn core_crates_do_no_io_read_no_clock_and_draw_no_randomness() {
    let root = workspace_root();
    let mut problems = Vec::new();
    let mut used = [false; NO_IO_ALLOWED.len()];
    for krate in CORE {
        for path in rust_files(&root.join(krate).join("src")) {
            let file = relative(&path);
            let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
            for (n, line) in code_lines(&text) {
                for (word, what) in NO_IO {
                    if !contains_word(line, word) {
                        continue;
                    }
                    let allowed = NO_IO_ALLOWED
                        .iter()
                        .position(|&(f, w, _)| f == file && w == word);
                    match allowed {
                        Some(i) => used[i] = true,
                        None => {
                            problems.push(format!("{file}:{n}: `{word}` ({what}): {}", line.trim()))
                        }
                    }
                }
            }
        }
    }
    for (entry, used) in NO_IO_ALLOWED.iter().zip(used) {
        if !used {
            problems.push(format!("stale exception (nothing matches it): {entry:?}"));
        }
    }
    for package in packages() {
        let dir = package_dir(&package);
        if !CORE.contains(&dir.as_str()) {
            continue;
        }
        for dep in dependencies(&package).into_iter().filter(|d| is_normal(d)) {
            let [name, _] = dependency_names(dep);
            if NO_IO_CRATES.contains(&name) {
                problems.push(format!("{dir}/Cargo.toml: depends on `{name}`"));
            }
        }
    }
    report(
        "the core crates do no I/O, read no clock and draw no randomness (docs/ARCHITECTURE.md)",
        &problems,
    );
}

#[test]
fn only_the_workers_adapter_names_the_worker_crate() {
    let root = workspace_root();
    let in_adapter = |file: &str| {
        WORKERS_ADAPTER
            .iter()
            .any(|dir| file.starts_with(&format!("{dir}/")))
    };
    let mut problems = Vec::new();
    for package in packages() {
        let dir = package_dir(&package);
        if in_adapter(&format!("{dir}/")) {
            continue;
        }
        for dep in dependencies(&package) {
            if dependency_names(dep).contains(&"worker") {
                problems.push(format!("{dir}/Cargo.toml: depends on `worker`"));
            }
        }
    }
    for top in ["crates", "examples", "benches", "fuzz"] {
        for path in rust_files(&root.join(top)) {
            let file = relative(&path);
            // This crate names the patterns it looks for.
            if in_adapter(&file) || file.starts_with("crates/tidy/") {
                continue;
            }
            let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
            for (n, line) in code_lines(&text) {
                if contains_word(line, "worker::") || contains_word(line, "use worker") {
                    problems.push(format!("{file}:{n}: {}", line.trim()));
                }
            }
        }
    }
    report(
        "only the Workers adapter names the `worker` crate (docs/ARCHITECTURE.md)",
        &problems,
    );
}

#[test]
fn the_conformance_suite_is_never_a_production_dependency() {
    // The test Worker that runs the suite inside workerd exists only to run
    // it (publish = false, never deployed): the one package allowed to.
    const SUITE_HARNESSES: &[&str] = &["glinto-storage-workers-conformance"];
    let mut problems = Vec::new();
    for package in packages() {
        if SUITE_HARNESSES.iter().any(|h| package["name"] == *h) {
            continue;
        }
        let dir = package_dir(&package);
        for dep in dependencies(&package).into_iter().filter(|d| is_normal(d)) {
            let enables = dep["features"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f == "conformance"));
            if dep["name"] == "glinto-storage" && enables {
                problems.push(format!(
                    "{dir}/Cargo.toml: a normal dependency on glinto-storage enables `conformance` \
                     (use it from [dev-dependencies], or behind a feature of its own)"
                ));
            }
        }
        // Nor by default through a feature of the package.
        let features = &package["features"];
        let mut pending: Vec<&str> = vec!["default"];
        let mut seen: Vec<&str> = Vec::new();
        while let Some(feature) = pending.pop() {
            if seen.contains(&feature) {
                continue;
            }
            seen.push(feature);
            for item in features[feature].as_array().into_iter().flatten() {
                let item = item.as_str().unwrap_or_default();
                if item.ends_with("/conformance") {
                    problems.push(format!(
                        "{dir}/Cargo.toml: feature `{feature}` (on by default) enables `{item}`"
                    ));
                } else if !item.contains(':') && !item.contains('/') {
                    pending.push(item);
                }
            }
        }
    }
    report(
        "the conformance feature is never enabled by a normal dependency",
        &problems,
    );
}

#[test]
fn the_referrer_table_is_generated_from_sources_tsv() {
    let root = workspace_root();
    let model = root.join("crates/event-model");
    let sources = fs::read_to_string(model.join("data/sources.tsv"))
        .unwrap_or_else(|e| panic!("sources.tsv: {e}"));
    let table = referrers::generate(&sources).unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = ensure_file_contents(&model.join("src/referrer/table.rs"), &table) {
        panic!("{e}");
    }
}

#[test]
fn error_enums_are_non_exhaustive() {
    // docs/ARCHITECTURE.md: callers must not match errors exhaustively, so
    // that adding a rejection is not a breaking change.
    let root = workspace_root();
    let mut problems = Vec::new();
    for path in rust_files(&root.join("crates")) {
        let file = relative(&path);
        if !file.contains("/src/") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(rest) = line.trim_start().strip_prefix("pub enum ") else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|&c| c.is_alphanumeric() || c == '_')
                .collect();
            if !name.ends_with("Error") {
                continue;
            }
            let attributes = lines[..i].iter().rev().take_while(|l| {
                let l = l.trim();
                l.starts_with("#[") || l.starts_with("//") || l.ends_with(")]")
            });
            if !attributes.clone().any(|l| l.trim() == "#[non_exhaustive]") {
                problems.push(format!(
                    "{file}:{}: `{name}` is not #[non_exhaustive]",
                    i + 1
                ));
            }
        }
    }
    report("error enums are #[non_exhaustive]", &problems);
}

#[test]
fn every_package_inherits_the_workspace_lints() {
    let mut problems = Vec::new();
    for package in packages() {
        let dir = package_dir(&package);
        let manifest = workspace_root().join(&dir).join("Cargo.toml");
        let text = fs::read_to_string(&manifest).unwrap_or_default();
        let inherits = text
            .split("[lints]")
            .nth(1)
            .is_some_and(|rest| rest.trim_start().starts_with("workspace = true"));
        if !inherits {
            problems.push(format!("{dir}/Cargo.toml: no `[lints] workspace = true`"));
        }
    }
    report("every package inherits the workspace lints", &problems);
}
