//! Starting the conformance Worker in workerd (Miniflare) and talking HTTP
//! to it: shared by the workerd test and the latency example.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// What to run when the Worker or its harness is missing or stale.
const HOW_TO_BUILD: &str = "run .ci/run (it installs worker-build 0.8.7, wasm-bindgen-cli at the \
     lockfile's version and the npm packages, then builds), or, with those tools installed, \
     `npm ci` and ./build.sh in crates/storage-workers/conformance-worker";

/// The conformance Worker's directory.
pub(crate) fn worker_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance-worker")
}

/// The newest modification time of the files under `path` (recursively).
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| newest(&entry.path()))
        .max()
}

/// Checks that the Worker is built from the current sources and that node
/// and Miniflare are there; the error says what to run otherwise.
pub(crate) fn check_prerequisites() -> Result<(), String> {
    let dir = worker_dir();
    let wasm = dir.join("build/index_bg.wasm");
    let shim = dir.join("build/index.js");
    if !wasm.is_file() || !shim.is_file() {
        return Err(format!(
            "the conformance Worker is not built ({} missing): {HOW_TO_BUILD}",
            wasm.display()
        ));
    }
    if !dir.join("node_modules/miniflare/package.json").is_file() {
        return Err(format!(
            "Miniflare is not installed in {}: {HOW_TO_BUILD}",
            dir.display()
        ));
    }
    let built = std::fs::metadata(&wasm)
        .and_then(|m| m.modified())
        .map_err(|e| format!("{}: {e}", wasm.display()))?;
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let sources = [
        crates.join("storage-traits/src"),
        crates.join("storage-traits/Cargo.toml"),
        crates.join("storage-workers/src"),
        crates.join("storage-workers/Cargo.toml"),
        dir.join("src"),
        dir.join("Cargo.toml"),
    ];
    if let Some(changed) = sources.iter().find(|s| newest(s) > Some(built)) {
        return Err(format!(
            "the conformance Worker is older than {}: rebuild it ({HOW_TO_BUILD})",
            changed.display()
        ));
    }
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err(format!("node is not on PATH: {HOW_TO_BUILD}")),
    }
}

/// A running Miniflare with the conformance Worker; stopped on drop.
pub(crate) struct Workerd {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// Everything it printed (stdout and stderr), for failure messages.
    pub(crate) log: Arc<Mutex<String>>,
}

impl Workerd {
    /// Starts Miniflare and waits for its `READY <url>` line.
    pub(crate) fn start() -> Result<Self, String> {
        let dir = worker_dir();
        let mut child = Command::new("node")
            .arg("run-miniflare.mjs")
            .current_dir(&dir)
            .env("XDG_CONFIG_HOME", dir.join(".cache/config"))
            .env("XDG_CACHE_HOME", dir.join(".cache"))
            .env("WRANGLER_SEND_METRICS", "false")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start node: {e}"))?;
        let log = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        // Drain both pipes for the child's whole life: a full pipe would
        // block it, a closed one would kill it on its next console.log.
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let out_log = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("READY ") {
                    let _ = ready_tx.send(url.to_owned());
                }
                push(&out_log, &line);
            }
        });
        let err_log = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                push(&err_log, &line);
            }
        });
        let stdin = child.stdin.take();
        let mut workerd = Workerd {
            child,
            stdin,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let url = ready_rx
            .recv_timeout(Duration::from_secs(120))
            .map_err(|_| format!("Miniflare did not start:\n{}", workerd.log_text()))?;
        let authority = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        workerd.addr = authority
            .parse()
            .map_err(|e| format!("Miniflare printed {url:?}: {e}"))?;
        Ok(workerd)
    }

    /// What the child printed so far.
    pub(crate) fn log_text(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

fn push(log: &Mutex<String>, line: &str) {
    if let Ok(mut log) = log.lock() {
        log.push_str(line);
        log.push('\n');
    }
}

impl Drop for Workerd {
    fn drop(&mut self) {
        // Closing stdin asks the script to dispose of workerd; kill it if
        // it has not gone within a few seconds.
        drop(self.stdin.take());
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` on `addr`: the status and the body (read by Content-Length:
/// the local runtime is slow to close connections).
pub(crate) fn get(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .map_err(|e| format!("GET {path}: {e}"))?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("GET {path}: bad status line {status_line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            if name == "content-length" {
                length = value.trim().parse::<usize>().ok();
            } else if name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
        }
    }
    let body = if let Some(length) = length {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        body
    } else if chunked {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).map_err(|e| e.to_string())?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|e| format!("GET {path}: bad chunk size: {e}"))?;
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
            chunk.truncate(size);
            body.extend(chunk);
        }
        body
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body).map_err(|e| e.to_string())?;
        body
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
