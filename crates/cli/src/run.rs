//! What each command does, and the errors a user sees.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use glinto_storage_local::OpenError;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{self, Backend, BackendError, ExportRequest, SiteSpec, Store};
use crate::cli::{Cli, Command, ExportArgs, ImportArgs, KeysCommand, ServeArgs, SitesCommand};
use crate::client_ip::TrustedProxies;
use crate::http::{self, AppState, Config};

/// A command's failure: one line with its causes, and an exit status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The data directory could not be opened.
    #[error("cannot open the data directory")]
    Open(#[source] OpenError),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("the server failed")]
    Serve(#[source] io::Error),
    /// An input file could not be read.
    #[error("cannot read {path:?}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// An output could not be written.
    #[error("cannot write {path:?}")]
    Write {
        /// The file (`-` for standard output).
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `glinto query`'s argument is not JSON.
    #[error("the query is not JSON")]
    QueryJson(#[source] serde_json::Error),
    /// The engine refused or failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The async runtime could not start.
    #[error("cannot start the runtime")]
    Runtime(#[source] io::Error),
}

impl CliError {
    /// The process exit status: 2 for what this build cannot do yet, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Backend(BackendError::NotWired { .. }) => 2,
            _ => 1,
        }
    }

    /// What the user can do about it, when there is something to say.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            CliError::Open(OpenError::AlreadyOpen { .. }) => Some(
                "stop the `glinto serve` (or other glinto command) using it, or pass another --data DIR",
            ),
            CliError::Bind { .. } => Some("choose another --addr, or stop what listens there"),
            CliError::Backend(BackendError::Unavailable { .. }) => Some("retry later"),
            _ => None,
        }
    }
}

/// Runs the parsed command line to completion.
///
/// # Errors
/// [`CliError`], to print and exit with.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(run_async(cli))
}

async fn run_async(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve(&cli.data, args).await,
        Command::Sites(command) => sites(&cli.data, command).await,
        Command::Keys(command) => keys(&cli.data, command).await,
        Command::Import(args) => import(&cli.data, args).await,
        Command::Export(args) => export(&cli.data, args).await,
        Command::Query(args) => {
            let text = if args.request == "-" {
                let mut text = String::new();
                io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|source| CliError::Read {
                        path: "-".into(),
                        source,
                    })?;
                text
            } else {
                args.request
            };
            let request: serde_json::Value =
                serde_json::from_str(&text).map_err(CliError::QueryJson)?;
            let backend = open(&cli.data)?;
            let answer = backend.query(request).await?;
            print_line(&answer.to_string())
        }
    }
}

fn open(dir: &Path) -> Result<Arc<dyn Backend>, CliError> {
    let store = Store::open_local(dir).map_err(CliError::Open)?;
    Ok(app::open_backend(store)?)
}

fn print_line(line: &str) -> Result<(), CliError> {
    writeln!(io::stdout().lock(), "{line}").map_err(|source| CliError::Write {
        path: "-".into(),
        source,
    })
}

async fn serve(dir: &Path, args: ServeArgs) -> Result<(), CliError> {
    let store = if args.memory {
        Store::Memory
    } else {
        Store::open_local(dir).map_err(CliError::Open)?
    };
    let described = store.describe();
    let backend = app::open_backend(store)?;
    let config = Config {
        proxies: TrustedProxies::new(args.trusted_proxies, args.proxy_header),
        query_rate_per_s: args.query_rate,
        query_burst: args.query_burst,
        ..Config::default()
    };
    let (stop, stopped) = watch::channel(false);
    let state = AppState::new(Arc::clone(&backend), config, stopped);
    let listener = TcpListener::bind(args.addr)
        .await
        .map_err(|source| CliError::Bind {
            addr: args.addr,
            source,
        })?;
    let local = listener.local_addr().map_err(CliError::Serve)?;
    tracing::info!(addr = %local, data = %described, "listening");
    // The one line on standard output: scripts (and the tests) read the port from it.
    print_line(&format!("listening on http://{local}"))?;
    axum::serve(
        listener,
        http::router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop.send(true);
    })
    .await
    .map_err(CliError::Serve)?;
    backend.flush().await?;
    tracing::info!("stopped");
    Ok(())
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

async fn sites(dir: &Path, command: SitesCommand) -> Result<(), CliError> {
    let backend = open(dir)?;
    match command {
        SitesCommand::Add(args) => {
            let site = backend
                .add_site(SiteSpec {
                    domain: args.domain,
                    timezone: args.timezone,
                    public: args.public,
                    retention_days: args.retention_days,
                })
                .await?;
            print_line(&format!("added {} ({})", site.domain, site.timezone))
        }
        SitesCommand::List => {
            for site in backend.list_sites().await? {
                let retention = site
                    .retention_days
                    .map_or_else(|| "forever".to_owned(), |d| format!("{d} days"));
                let public = if site.public { "public" } else { "private" };
                print_line(&format!(
                    "{}\t{}\t{public}\t{retention}",
                    site.domain, site.timezone
                ))?;
            }
            Ok(())
        }
        SitesCommand::Remove { domain } => {
            backend.remove_site(&domain).await?;
            print_line(&format!("removed {domain}"))
        }
    }
}

async fn keys(dir: &Path, command: KeysCommand) -> Result<(), CliError> {
    let backend = open(dir)?;
    match command {
        KeysCommand::Create { site } => {
            let key = backend.create_key(&site).await?;
            print_line(&format!("key {} for {site} (shown once):", key.id))?;
            print_line(&key.secret)
        }
        KeysCommand::List => {
            for key in backend.list_keys().await? {
                let state = if key.revoked { "revoked" } else { "active" };
                print_line(&format!("{}\t{state}\t{}", key.id, key.sites.join(",")))?;
            }
            Ok(())
        }
        KeysCommand::Revoke { id } => {
            backend.revoke_key(&id).await?;
            print_line(&format!("revoked {id}"))
        }
    }
}

/// An import file, opened.
pub struct Input {
    /// Its lines, decompressed.
    pub reader: Box<dyn BufRead + Send>,
    /// Its size on disk, when known (not for standard input).
    pub size: Option<u64>,
    /// Bytes read from disk so far (compressed bytes for gzip), for the ETA.
    pub read: Arc<AtomicU64>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Counts what is read through it.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens an import file: gzip when it starts with gzip's magic bytes, plain
/// otherwise; `-` is standard input.
///
/// # Errors
/// [`CliError::Read`] when the file cannot be opened or read.
pub fn open_input(path: &Path) -> Result<Input, CliError> {
    let read_err = |source| CliError::Read {
        path: path.to_path_buf(),
        source,
    };
    let (raw, size): (Box<dyn Read + Send>, _) = if path == Path::new("-") {
        (Box::new(io::stdin()), None)
    } else {
        let file = File::open(path).map_err(read_err)?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(file), size)
    };
    let read = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: raw,
        read: Arc::clone(&read),
    };
    let mut reader = BufReader::with_capacity(1 << 16, counting);
    let is_gzip = reader
        .fill_buf()
        .map_err(read_err)?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn BufRead + Send> = if is_gzip {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    };
    Ok(Input { reader, size, read })
}

/// A progress bar on standard error for one import file: position in bytes
/// of the file (so the ETA holds for gzip too), events and events/s in the
/// message. indicatif draws nothing when standard error is not a terminal;
/// the one-line summary on standard output is printed either way.
fn progress_bar(path: &Path, input: &Input) -> indicatif::ProgressBar {
    let bar = match input.size {
        Some(size) => indicatif::ProgressBar::new(size),
        None => indicatif::ProgressBar::new_spinner(),
    };
    let template = if input.size.is_some() {
        "{prefix} [{bar:30}] {percent:>3}% {msg}, ETA {eta}"
    } else {
        "{prefix} {spinner} {msg}"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(path.display().to_string());
    bar
}

async fn import(dir: &Path, args: ImportArgs) -> Result<(), CliError> {
    // Every file is checked before the data directory is touched: a typo in
    // the last name must not leave a half-done import.
    let inputs = args
        .files
        .iter()
        .map(|path| open_input(path).map(|input| (path, input)))
        .collect::<Result<Vec<_>, _>>()?;
    let backend = open(dir)?;
    for (path, input) in inputs {
        let bar = progress_bar(path, &input);
        let (read, ticker, started) = (Arc::clone(&input.read), bar.clone(), Instant::now());
        let progress = move |lines: u64| {
            ticker.set_position(read.load(Ordering::Relaxed));
            #[allow(clippy::cast_precision_loss, reason = "a rate to show")]
            let rate = lines as f64 / started.elapsed().as_secs_f64().max(1e-3);
            ticker.set_message(format!("{lines} events, {rate:.0} events/s"));
        };
        let result = backend
            .import(input.reader, args.site.as_deref(), &progress)
            .await;
        bar.finish_and_clear();
        let summary = result?;
        print_line(&format!(
            "{}: {} lines, {} imported, {} already present, {} sites created in {:.1} s",
            path.display(),
            summary.lines,
            summary.imported,
            summary.duplicates,
            summary.sites_created,
            started.elapsed().as_secs_f64()
        ))?;
    }
    Ok(())
}

async fn export(dir: &Path, args: ExportArgs) -> Result<(), CliError> {
    let backend = open(dir)?;
    let (out, path): (Box<dyn Write + Send>, PathBuf) = match &args.out {
        Some(path) => (
            Box::new(io::BufWriter::new(File::create(path).map_err(
                |source| CliError::Write {
                    path: path.clone(),
                    source,
                },
            )?)),
            path.clone(),
        ),
        None => (Box::new(io::BufWriter::new(io::stdout())), "-".into()),
    };
    let request = ExportRequest {
        site: args.site,
        from: args.from,
        to: args.to,
    };
    let written = backend.export(request, out).await?;
    tracing::info!(events = written, out = %path.display(), "exported");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_files_are_read_plain_or_gzipped() {
        let dir = tempfile::tempdir().unwrap();
        let text = "{\"a\":1}\n{\"b\":2}\n";
        let plain = dir.path().join("events.ndjson");
        std::fs::write(&plain, text).unwrap();
        let gz = dir.path().join("events.ndjson.gz");
        let mut encoder =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap();
        for path in [&plain, &gz] {
            let mut read = String::new();
            let mut input = open_input(path).unwrap();
            input.reader.read_to_string(&mut read).unwrap();
            let size = std::fs::metadata(path).unwrap().len();
            assert_eq!(input.size, Some(size));
            assert_eq!(
                input.read.load(Ordering::Relaxed),
                size,
                "{}",
                path.display()
            );
            assert_eq!(read, text, "{}", path.display());
        }
        let missing = open_input(&dir.path().join("nope")).err().unwrap();
        assert!(matches!(missing, CliError::Read { .. }));
        assert!(crate::error_chain(&missing).contains("No such file"));
    }

    #[test]
    fn exit_codes() {
        let not_wired = CliError::Backend(BackendError::NotWired { what: "x" });
        assert_eq!(not_wired.exit_code(), 2);
        let io = CliError::Serve(io::Error::other("boom"));
        assert_eq!(io.exit_code(), 1);
    }
}
