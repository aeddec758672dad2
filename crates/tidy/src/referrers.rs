//! The generator of `crates/event-model/src/referrer/table.rs` from
//! `crates/event-model/data/sources.tsv` (the file's format is described in
//! its header). The tidy test regenerates the table and fails if the
//! committed one differs; it then writes the fresh table, so editing the
//! TSV and running `cargo test -p glinto-tidy` twice updates it.
//!
//! Only `sources.tsv` is read. The Snowplow referer-parser database could
//! add ~1,600 hosts, but it derives from Matomo's lists under GPL-3.0, so a
//! table generated with it must not be committed to this MIT/Apache-2.0
//! workspace.

use std::collections::BTreeMap;

/// `sources.tsv` category names and the `SourceCategory` variants.
const CATEGORIES: [(&str, &str); 6] = [
    ("search", "Search"),
    ("social", "Social"),
    ("video", "Video"),
    ("shopping", "Shopping"),
    ("email", "Email"),
    ("ai", "AiAssistant"),
];

fn variant(category: &str) -> Option<&'static str> {
    CATEGORIES
        .iter()
        .find(|(name, _)| *name == category)
        .map(|(_, v)| *v)
}

/// A referrer host as the classifier looks it up: trimmed, lower case,
/// without a trailing dot or a leading `www.`.
fn normalize_host(host: &str) -> String {
    let host = host.trim().to_lowercase();
    let host = host.trim_end_matches('.');
    host.strip_prefix("www.").unwrap_or(host).to_owned()
}

/// A Rust string literal (JSON's escaping is a subset of Rust's).
fn literal(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The Rust source of the table for the TSV `sources`.
///
/// # Errors
/// `sources.tsv:LINE: ...` for a line it cannot read or an unknown category.
pub fn generate(sources: &str) -> Result<String, String> {
    let mut hosts: BTreeMap<String, String> = BTreeMap::new();
    let mut brands: BTreeMap<String, String> = BTreeMap::new();
    // Name -> category from the first `host`/`brand` line giving one.
    let mut host_category: BTreeMap<String, String> = BTreeMap::new();
    // Lower-case name -> category from a `category` line.
    let mut name_category: BTreeMap<String, String> = BTreeMap::new();
    // Lower-case alias -> (name, paid).
    let mut aliases: BTreeMap<String, (String, bool)> = BTreeMap::new();

    for (n, line) in sources.lines().enumerate() {
        let n = n + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let known = |category: &str| {
            variant(category)
                .map(|_| ())
                .ok_or_else(|| format!("sources.tsv:{n}: unknown category {category:?}"))
        };
        match (fields[0], fields.len()) {
            (kind @ ("host" | "brand"), 3 | 4) => {
                let (key, name) = (fields[1], fields[2].to_owned());
                if kind == "host" {
                    hosts.insert(normalize_host(key), name.clone());
                } else {
                    brands.insert(key.to_lowercase(), name.clone());
                }
                if let Some(&category) = fields.get(3) {
                    known(category)?;
                    host_category
                        .entry(name)
                        .or_insert_with(|| category.to_owned());
                }
            }
            (kind @ ("alias" | "paid"), 3) => {
                aliases.insert(
                    fields[1].to_lowercase(),
                    (fields[2].to_owned(), kind == "paid"),
                );
            }
            ("category", 3) => {
                known(fields[2])?;
                name_category.insert(fields[1].to_lowercase(), fields[2].to_owned());
            }
            _ => return Err(format!("sources.tsv:{n}: cannot read {line:?}")),
        }
    }

    let mut names: Vec<&str> = hosts
        .values()
        .chain(brands.values())
        .chain(aliases.values().map(|(name, _)| name))
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names.dedup();
    let index = |name: &str| names.binary_search(&name).unwrap_or_default();
    let category = |name: &str| {
        name_category
            .get(&name.to_lowercase())
            .or_else(|| host_category.get(name))
            .and_then(|c| variant(c))
            .unwrap_or("Unknown")
    };

    // Lower-cased names and aliases -> the name (for `utm_source` values).
    let mut lookup: BTreeMap<String, (&str, bool)> = BTreeMap::new();
    for &name in &names {
        lookup.entry(name.to_lowercase()).or_insert((name, false));
    }
    for (alias, (name, paid)) in &aliases {
        lookup.insert(alias.clone(), (name.as_str(), *paid));
    }
    // Lower-cased sources -> category: every name, then the `category` lines.
    let mut categories: BTreeMap<String, &str> = BTreeMap::new();
    for &name in &names {
        categories.insert(name.to_lowercase(), category(name));
    }
    for (key, c) in &name_category {
        categories.insert(key.clone(), variant(c).unwrap_or("Unknown"));
    }
    categories.retain(|_, c| *c != "Unknown");

    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line("//! Known referrer sources: @generated by `glinto-tidy` (crates/tidy/src/referrers.rs) from".into());
    line(
        "//! `data/sources.tsv`; do not edit: edit the TSV and run `cargo test -p glinto-tidy`."
            .into(),
    );
    line(String::new());
    line(
        "use super::SourceCategory::{self, AiAssistant, Email, Search, Shopping, Social, Video};"
            .into(),
    );
    line(String::new());
    line("/// Source names (sorted) and their categories; indexed by the tables below.".into());
    line(format!(
        "pub(super) static SOURCES: [(&str, SourceCategory); {}] = [",
        names.len()
    ));
    for &name in &names {
        line(format!(
            "    ({}, SourceCategory::{}),",
            literal(name),
            category(name)
        ));
    }
    line("];".into());
    line(String::new());
    line("/// Referrer hosts (lower case, without `www.`), sorted, with their source.".into());
    line(format!(
        "pub(super) static HOSTS: [(&str, u16); {}] = [",
        hosts.len()
    ));
    for (host, name) in &hosts {
        line(format!("    ({}, {}),", literal(host), index(name)));
    }
    line("];".into());
    line(String::new());
    line("/// Second-level labels whose country-domain family is one source, sorted".into());
    line("/// (`google` for google.de, google.co.uk, google.com.au...).".into());
    line(format!(
        "pub(super) static BRANDS: [(&str, u16); {}] = [",
        brands.len()
    ));
    for (label, name) in &brands {
        line(format!("    ({}, {}),", literal(label), index(name)));
    }
    line("];".into());
    line(String::new());
    line("/// Lower-cased source names and `utm_source` shorthands, sorted: the".into());
    line("/// source they mean, and whether the shorthand marks paid traffic.".into());
    line(format!(
        "pub(super) static NAMES: [(&str, u16, bool); {}] = [",
        lookup.len()
    ));
    for (key, (name, paid)) in &lookup {
        line(format!("    ({}, {}, {paid}),", literal(key), index(name)));
    }
    line("];".into());
    line(String::new());
    line("/// Lower-cased sources (names and hosts) with a category, sorted.".into());
    line(format!(
        "pub(super) static CATEGORIES: [(&str, SourceCategory); {}] = [",
        categories.len()
    ));
    for (key, c) in &categories {
        line(format!("    ({}, {c}),", literal(key)));
    }
    line("];".into());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_table() {
        let tsv = "# comment\n\nbrand\tgoogle\tGoogle\tsearch\nhost\tWWW.Bing.com.\tBing\nalias\tfb\tFacebook\npaid\tgads\tGoogle\ncategory\tbing\tsearch\nhost\tfacebook.com\tFacebook\tsocial\n";
        let out = generate(tsv).unwrap();
        assert!(
            out.contains("SOURCES: [(&str, SourceCategory); 3]"),
            "{out}"
        );
        assert!(out.contains("(\"Bing\", SourceCategory::Search),"));
        assert!(out.contains("(\"bing.com\", 0),"));
        assert!(out.contains("(\"gads\", 2, true),"));
        assert!(out.contains("(\"fb\", 1, false),"));
        assert!(out.contains("(\"facebook\", Social),"));
        assert_eq!(
            generate("host\tx.com\n"),
            Err("sources.tsv:1: cannot read \"host\\tx.com\"".into())
        );
        assert_eq!(
            generate("category\tx\tnews\n"),
            Err("sources.tsv:1: unknown category \"news\"".into())
        );
    }
}
