//! Shared by the integration tests: a recording backend behind the real
//! router on a loopback port, and a small HTTP/1.1 client.
//!
//! `Recording` is test-only: it stands where the pipeline will, so the tests
//! can see exactly which `Event`s the HTTP layer hands over. It counts
//! nothing.

#![allow(dead_code, unreachable_pub, reason = "each test binary uses a part")]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use glinto::app::{
    Access, Backend, BackendError, ExportRequest, Health, ImportSummary, Ingested, KeyInfo,
    LiveStream, NewKey, SiteInfo, SiteSpec,
};
use glinto::http::{AppState, Config};
use glinto_event_model::Event;
use glinto_event_model::visitor::{Salt, SaltPeriod, Salts};
use tokio::sync::{broadcast, watch};

/// Records what the HTTP layer hands to the engine.
#[derive(Debug)]
pub struct Recording {
    pub events: Mutex<Vec<Event>>,
    /// Sites that exist; events of others are `UnknownSite`.
    pub sites: Vec<String>,
    /// Public sites (readable without a key).
    pub public: Vec<String>,
    /// key -> sites it may read.
    pub keys: HashMap<String, Vec<String>>,
    /// When set, ingest fails as a store that cannot take writes.
    pub failing: AtomicBool,
    pub queries: Mutex<Vec<serde_json::Value>>,
    pub live: broadcast::Sender<serde_json::Value>,
    pub flushed: AtomicBool,
}

impl Recording {
    pub fn new(sites: &[&str]) -> Self {
        Recording {
            events: Mutex::new(Vec::new()),
            sites: sites.iter().map(|s| (*s).to_owned()).collect(),
            public: vec!["public.test".to_owned()],
            keys: HashMap::from([("good-key".to_owned(), vec!["site.test".to_owned()])]),
            failing: AtomicBool::new(false),
            queries: Mutex::new(Vec::new()),
            live: broadcast::channel(16).0,
            flushed: AtomicBool::new(false),
        }
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}

fn not_here<T>() -> Result<T, BackendError> {
    Err(BackendError::NotWired {
        what: "the recording backend",
    })
}

#[async_trait]
impl Backend for Recording {
    async fn salts(&self, now_ms: u64) -> Result<Salts, BackendError> {
        Ok(Salts::new(
            SaltPeriod::Daily.epoch_at(now_ms),
            Salt::from_bytes([7; Salt::LEN]),
            None,
        ))
    }
    async fn ingest(&self, events: Vec<Event>) -> Result<Vec<Ingested>, BackendError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(BackendError::Unavailable {
                retry_after_s: 5,
                source: "injected fault".into(),
            });
        }
        let mut recorded = self.events.lock().unwrap();
        Ok(events
            .into_iter()
            .map(|event| {
                if self.sites.contains(&event.site) {
                    recorded.push(event);
                    Ingested::Accepted
                } else {
                    Ingested::UnknownSite
                }
            })
            .collect())
    }
    async fn authorize(&self, key: Option<&str>, site: &str) -> Result<Access, BackendError> {
        Ok(match key {
            None if self.public.iter().any(|p| p == site) => Access::Granted,
            None => Access::KeyRequired,
            Some(key) => match self.keys.get(key) {
                Some(sites) if sites.iter().any(|s| s == site) => Access::Granted,
                _ => Access::Denied,
            },
        })
    }
    async fn query(&self, request: serde_json::Value) -> Result<serde_json::Value, BackendError> {
        self.queries.lock().unwrap().push(request.clone());
        Ok(serde_json::json!({ "results": [], "query": request }))
    }
    async fn live(&self, _site: &str) -> Result<LiveStream, BackendError> {
        let rx = self.live.subscribe();
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.ok().map(|message| (message, rx))
        })))
    }
    async fn health(&self) -> Health {
        Health {
            store_writable: true,
            engine_ready: true,
            detail: None,
        }
    }
    async fn flush(&self) -> Result<(), BackendError> {
        self.flushed.store(true, Ordering::SeqCst);
        Ok(())
    }
    fn queue_depth(&self) -> Option<u64> {
        Some(0)
    }
    async fn add_site(&self, _site: SiteSpec) -> Result<SiteInfo, BackendError> {
        not_here()
    }
    async fn list_sites(&self) -> Result<Vec<SiteInfo>, BackendError> {
        not_here()
    }
    async fn remove_site(&self, _domain: &str) -> Result<(), BackendError> {
        not_here()
    }
    async fn create_key(&self, _site: &str) -> Result<NewKey, BackendError> {
        not_here()
    }
    async fn list_keys(&self) -> Result<Vec<KeyInfo>, BackendError> {
        not_here()
    }
    async fn revoke_key(&self, _id: &str) -> Result<(), BackendError> {
        not_here()
    }
    async fn import(
        &self,
        _input: Box<dyn std::io::BufRead + Send>,
        _site: Option<&str>,
        _progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<ImportSummary, BackendError> {
        not_here()
    }
    async fn export(
        &self,
        _request: ExportRequest,
        _out: Box<dyn std::io::Write + Send>,
    ) -> Result<u64, BackendError> {
        not_here()
    }
}

/// A router served on a free loopback port by a runtime of its own on a
/// background thread, until dropped (then with a graceful shutdown).
pub struct Served {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Served {
    /// `make` gets a receiver that turns true at shutdown.
    pub fn start(
        make: impl FnOnce(watch::Receiver<bool>) -> axum::Router + Send + 'static,
    ) -> Served {
        let (stop, stopped) = watch::channel(false);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let router = make(stopped.clone());
                let mut stopped = stopped;
                axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
                .unwrap();
            });
        });
        Served {
            addr: addr_rx.recv().unwrap(),
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The real router over a [`Recording`] backend.
pub struct Server {
    pub addr: SocketAddr,
    pub backend: Arc<Recording>,
    _served: Served,
}

impl Server {
    pub fn start(backend: Recording, config: Config) -> Server {
        Self::start_wrapped(backend, config, |router| router)
    }

    /// With `wrap` around the router (a test's own layer).
    pub fn start_wrapped(
        backend: Recording,
        config: Config,
        wrap: impl FnOnce(axum::Router) -> axum::Router + Send + 'static,
    ) -> Server {
        let backend = Arc::new(backend);
        let engine = backend.clone() as Arc<dyn Backend>;
        let served = Served::start(move |stopped| {
            wrap(glinto::http::router(AppState::new(engine, config, stopped)))
        });
        Server {
            addr: served.addr,
            backend,
            _served: served,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) before reading a large body and close.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
}

/// A CORS preflight for a tracker's POST from another origin.
pub fn preflight(addr: SocketAddr, path: &str) -> Response {
    request(
        addr,
        "OPTIONS",
        path,
        &[
            ("Origin", "https://blog.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        b"",
    )
}

/// A desktop Chrome User-Agent (not a bot).
pub const CHROME_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// Polls `check` every 50 ms for up to `secs` seconds.
pub fn wait_for(secs: u64, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}
