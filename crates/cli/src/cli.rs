//! The command line, as `glinto --help` shows it: one clap struct per
//! subcommand, doc comments as help text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::client_ip::{Cidr, ProxyHeader};

/// Privacy-first web analytics: a tracker endpoint, the Plausible Stats API
/// and live updates, on an embedded store in one directory.
///
/// Exit status: 0 on success, 1 when a command fails (the message says what
/// and what to do), 2 for a usage error or a command this build cannot run yet.
#[derive(Debug, Parser)]
#[command(name = "glinto", version, propagate_version = true)]
pub struct Cli {
    /// The data directory (created if missing). Commands pointed at one
    /// directory see the same sites and data; only one process may hold it.
    #[arg(
        long,
        global = true,
        env = "GLINTO_DATA",
        default_value = "glinto-data",
        value_name = "DIR"
    )]
    pub data: PathBuf,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the analytics server: tracker endpoint, Stats API, live updates.
    Serve(ServeArgs),
    /// Add, list and remove sites.
    #[command(subcommand)]
    Sites(SitesCommand),
    /// Create, list and revoke Stats API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Import events in the enriched NDJSON format (plain or gzip), idempotently.
    Import(ImportArgs),
    /// Export a site's events in the enriched NDJSON format.
    Export(ExportArgs),
    /// Answer a Stats API v2 request from the data directory (no key needed).
    Query(QueryArgs),
}

/// `glinto serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "ADDR")]
    pub addr: SocketAddr,
    /// Keep everything in memory, nothing on disk (a throwaway run; --data is ignored).
    #[arg(long)]
    pub memory: bool,
    /// A reverse proxy whose forwarding header is believed (repeatable), e.g.
    /// 10.0.0.0/8 or 127.0.0.1. Without it the socket's address is the client's.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    pub trusted_proxies: Vec<Cidr>,
    /// The header trusted proxies write the client's address into.
    #[arg(long, value_enum, default_value_t = ProxyHeader::XForwardedFor)]
    pub proxy_header: ProxyHeader,
    /// Stats API requests per second allowed per key (sustained).
    #[arg(long, default_value_t = 10.0, value_name = "N")]
    pub query_rate: f64,
    /// Stats API requests allowed per key at once.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub query_burst: u32,
}

/// `glinto sites ...`.
#[derive(Debug, Subcommand)]
pub enum SitesCommand {
    /// Add a site.
    Add(SiteAddArgs),
    /// List the sites.
    List,
    /// Remove a site and its data.
    Remove {
        /// The site's domain.
        domain: String,
    },
}

/// `glinto sites add`.
#[derive(Debug, Args)]
pub struct SiteAddArgs {
    /// The site's domain, as its tracker sends it (`data-domain`).
    pub domain: String,
    /// The site's IANA time zone: its days, weeks and months.
    #[arg(long, default_value = "UTC", value_name = "ZONE")]
    pub timezone: String,
    /// Let anyone read the site's statistics without a key.
    #[arg(long)]
    pub public: bool,
    /// Delete data older than this many days (default: keep everything).
    #[arg(long, value_name = "N")]
    pub retention_days: Option<u32>,
}

/// `glinto keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key for a site; the key is printed once and stored hashed.
    Create {
        /// The site the key may read.
        site: String,
    },
    /// List keys (ids and sites, never the secrets).
    List,
    /// Revoke a key.
    Revoke {
        /// The key's id, as `keys list` shows it.
        id: String,
    },
}

/// `glinto import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// NDJSON files, plain or gzip (detected by content); `-` reads stdin.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Put every event in this site instead of the one each line names.
    #[arg(long, value_name = "DOMAIN")]
    pub site: Option<String>,
}

/// `glinto export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The site to export.
    pub site: String,
    /// First day (YYYY-MM-DD, the site's time zone), included.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD), included.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Write here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `glinto query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// A Stats API v2 request as JSON, or `-` to read it from standard input.
    #[arg(value_name = "JSON")]
    pub request: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses() {
        let cli = Cli::try_parse_from([
            "glinto",
            "serve",
            "--data",
            "/tmp/d",
            "--trusted-proxy",
            "10.0.0.0/8",
            "--trusted-proxy",
            "::1",
            "--addr",
            "127.0.0.1:0",
        ])
        .unwrap();
        assert_eq!(cli.data, PathBuf::from("/tmp/d"));
        let Command::Serve(serve) = cli.command else {
            panic!("not serve: {:?}", cli.command)
        };
        assert_eq!(serve.trusted_proxies.len(), 2);
        assert_eq!(serve.addr.port(), 0);
    }

    #[test]
    fn rejects_with_the_reason() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["glinto", "serve", "--trusted-proxy", "10.0.0.1/8"],
                "bits set after the prefix",
            ),
            (
                &["glinto", "serve", "--addr", "nowhere"],
                "invalid socket address",
            ),
            (&["glinto", "import"], "required"),
            (&["glinto", "sites", "add"], "required"),
            (&["glinto", "frobnicate"], "unrecognized subcommand"),
        ];
        for (args, needle) in cases {
            let err = Cli::try_parse_from(*args).unwrap_err().to_string();
            assert!(err.contains(needle), "{args:?}: {err}");
        }
    }
}
