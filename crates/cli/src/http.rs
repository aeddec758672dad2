//! The HTTP layer of `glinto serve`: routes, their state, and one error type.
//!
//! Each route parses and authorizes, then calls one method of the engine
//! ([`Backend`]); errors become responses in one place
//! ([`ApiError`]'s `IntoResponse`). Layers, outermost first: request
//! metrics, a tracing span (method and route pattern only: no query string,
//! no address, no User-Agent, no key), CORS, gzip.
//!
//! | route | answers |
//! | --- | --- |
//! | `POST /api/event` | Plausible's Events API: `202` accepted; `202` + `X-Glinto-Dropped: <reason>` for bots and unknown sites; `400`/`413` with `{error, field, reason}`; `503` + `Retry-After` when the store cannot take writes |
//! | `GET /api/event?…`, `GET /p.gif?…` | the same from a query string (pages without JavaScript); a 1×1 GIF |
//! | `POST /api/v2/query` | Stats API v2: `Authorization: Bearer KEY`, `401`/`403`, `429` + `Retry-After` per key |
//! | `GET /api/live?site_id=…` | WebSocket of a site's live numbers, authorized like the Stats API |
//! | `GET /api/health` | readiness: `200` when the store is writable and the engine runs, else `503` |
//! | `GET /metrics` | Prometheus text |
//! | `GET /js/script.js` (and `script.hash.js`, `script.outbound-links.js`...) | the tracker |

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use glinto_event_model::payload::{self, Payload};
use glinto_event_model::{Event, IngestConfig, Ingestor, RequestContext};
use serde::Deserialize;
use tokio::sync::watch;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::app::{Access, Backend, BackendError, Ingested};
use crate::client_ip::TrustedProxies;
use crate::metrics::Metrics;
use crate::rate_limit::{RateLimiter, RetryAfter};
use crate::tracker;

/// The header naming why an accepted request was not counted.
pub const DROPPED_HEADER: HeaderName = HeaderName::from_static("x-glinto-dropped");

/// How the server is set up (from `glinto serve`'s flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// Which peers may report the client's address.
    pub proxies: TrustedProxies,
    /// Largest Events API body or pixel query, in bytes.
    pub max_body_bytes: usize,
    /// Largest Stats API request body, in bytes.
    pub max_query_bytes: usize,
    /// Stats API requests per second per key (sustained).
    pub query_rate_per_s: f64,
    /// Stats API requests per key at once.
    pub query_burst: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            proxies: TrustedProxies::default(),
            max_body_bytes: payload::MAX_BODY_BYTES,
            max_query_bytes: 64 * 1024,
            query_rate_per_s: 10.0,
            query_burst: 50,
        }
    }
}

/// Everything a route needs: the engine and the shell's own state.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    backend: Arc<dyn Backend>,
    ingestors: IngestorPool,
    config: Config,
    limiter: RateLimiter,
    metrics: Metrics,
    shutdown: watch::Receiver<bool>,
}

impl AppState {
    /// State over `backend`; live sockets close when `shutdown` turns true.
    pub fn new(backend: Arc<dyn Backend>, config: Config, shutdown: watch::Receiver<bool>) -> Self {
        let ingest = IngestConfig {
            max_body_bytes: config.max_body_bytes,
            ..IngestConfig::default()
        };
        AppState {
            inner: Arc::new(Inner {
                backend,
                ingestors: IngestorPool::new(ingest),
                limiter: RateLimiter::new(config.query_rate_per_s, config.query_burst),
                config,
                metrics: Metrics::default(),
                shutdown,
            }),
        }
    }

    /// The engine.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }
}

/// One [`Ingestor`] per core (each holds a User-Agent cache and is `&mut`),
/// picked round-robin; built on first use with the engine's salts and given
/// new ones when their epoch ends.
#[derive(Debug)]
struct IngestorPool {
    config: IngestConfig,
    slots: Vec<Mutex<Option<Ingestor>>>,
    next: AtomicUsize,
}

impl IngestorPool {
    fn new(config: IngestConfig) -> Self {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        IngestorPool {
            config,
            slots: (0..n).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    async fn ingest(
        &self,
        backend: &dyn Backend,
        payload: &Payload<'_>,
        ctx: &RequestContext<'_>,
    ) -> Result<Result<Vec<Event>, glinto_event_model::Error>, BackendError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len().max(1);
        let Some(slot) = self.slots.get(i) else {
            return Err(BackendError::Internal("empty ingestor pool".into()));
        };
        let now = ctx.received_at_ms;
        let stale = {
            let guard = slot.lock().unwrap_or_else(|e| e.into_inner());
            guard
                .as_ref()
                .is_none_or(|ing| ing.salts().needs_rotation(now))
        };
        let salts = if stale {
            Some(backend.salts(now).await?)
        } else {
            None
        };
        let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
        let ingestor = match (guard.as_mut(), salts) {
            (Some(ing), Some(salts)) => {
                ing.set_salts(salts);
                ing
            }
            (Some(ing), None) => ing,
            (None, salts) => {
                let Some(salts) = salts else {
                    return Err(BackendError::Internal("ingestor without salts".into()));
                };
                guard.insert(Ingestor::new(self.config.clone(), salts))
            }
        };
        Ok(ingestor.ingest_payload(payload, ctx))
    }
}

/// The router over `state`.
pub fn router(state: AppState) -> Router {
    let event_limit = state.inner.config.max_body_bytes;
    let query_limit = state.inner.config.max_query_bytes;
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .expose_headers([DROPPED_HEADER, header::RETRY_AFTER])
        .max_age(Duration::from_secs(86_400));
    Router::new()
        .route(
            "/api/event",
            post(post_event)
                .get(get_event)
                .layer(DefaultBodyLimit::max(event_limit)),
        )
        .route("/p.gif", get(get_event))
        .route(
            "/api/v2/query",
            post(post_query).layer(DefaultBodyLimit::max(query_limit)),
        )
        .route("/api/live", get(live))
        .route("/api/health", get(health))
        .route("/metrics", get(metrics))
        .route("/js/{file}", get(script))
        .fallback(not_found)
        .layer(CompressionLayer::new().gzip(true))
        .layer(cors)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", |p| p.as_str());
                    tracing::info_span!("request", method = %req.method(), route)
                })
                // 5xx are logged once, with their cause, by `ApiError`.
                .on_failure(()),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    state
        .inner
        .metrics
        .request(&route, response.status().as_u16());
    response
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The client's address: the socket's, or what trusted proxies reported.
fn client_ip(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    let proxies = &state.inner.config.proxies;
    let forwarded = headers
        .get_all(proxies.header().name())
        .iter()
        .filter_map(|v| v.to_str().ok());
    proxies.client_ip(peer.ip(), forwarded)
}

/// The request context: User-Agent, the resolved client address, the time.
fn context<'h>(
    state: &AppState,
    headers: &'h HeaderMap,
    peer: SocketAddr,
    now: u64,
) -> RequestContext<'h> {
    RequestContext {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
        client_ip: Some(client_ip(state, headers, peer)),
        // A country header is believed only from a trusted proxy (Cloudflare's
        // `CF-IPCountry`); glinto does no geolocation of its own.
        country: if state.inner.config.proxies.trusts(peer.ip()) {
            headers
                .get("cf-ipcountry")
                .and_then(|v| v.to_str().ok())
                .and_then(glinto_event_model::context::country_code)
        } else {
            None
        },
        received_at_ms: now,
    }
}

/// What became of a tracker request that parsed.
enum Outcome {
    Accepted,
    Dropped(&'static str),
}

async fn ingest(
    state: &AppState,
    payload: Result<Payload<'_>, glinto_event_model::Error>,
    ctx: &RequestContext<'_>,
) -> Result<Outcome, ApiError> {
    let inner = &state.inner;
    let payload = payload?;
    let events = match inner
        .ingestors
        .ingest(inner.backend.as_ref(), &payload, ctx)
        .await?
    {
        Ok(events) => events,
        Err(e) if e.is_bot() => {
            inner.metrics.dropped(e.reason(), 1);
            return Ok(Outcome::Dropped(e.reason()));
        }
        Err(e) => return Err(e.into()),
    };
    let started = Instant::now();
    let results = inner.backend.ingest(events).await?;
    inner.metrics.storage_latency(started.elapsed());
    let accepted = results.iter().filter(|r| **r == Ingested::Accepted).count() as u64;
    let unknown = results.len() as u64 - accepted;
    inner.metrics.accepted(accepted);
    if unknown > 0 {
        inner.metrics.dropped("unknown_site", unknown);
    }
    Ok(if accepted == 0 {
        Outcome::Dropped("unknown_site")
    } else {
        Outcome::Accepted
    })
}

fn accepted(outcome: &Outcome, body: Response) -> Response {
    let mut response = body;
    *response.status_mut() = StatusCode::ACCEPTED;
    if let Outcome::Dropped(reason) = outcome {
        response
            .headers_mut()
            .insert(DROPPED_HEADER, HeaderValue::from_static(reason));
    }
    response
}

async fn post_event(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body?;
    let ctx = context(&state, &headers, peer, now_ms());
    let parsed = payload::parse_body(&body, state.inner.config.max_body_bytes);
    let outcome = ingest(&state, parsed, &ctx).await?;
    Ok(accepted(&outcome, "ok".into_response()))
}

/// A transparent 1×1 GIF, the answer to a pixel request.
const PIXEL_GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

async fn get_event(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let ctx = context(&state, &headers, peer, now_ms());
    let query = query.unwrap_or_default();
    let parsed = payload::parse_pixel(&query, state.inner.config.max_body_bytes);
    let outcome = ingest(&state, parsed, &ctx).await?;
    let gif = (
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PIXEL_GIF,
    );
    Ok(accepted(&outcome, gif.into_response()))
}

/// The key of `Authorization: Bearer KEY`, if any.
///
/// # Errors
/// [`ApiError::Unauthorized`] for another scheme or an empty key.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::Unauthorized)?;
    let (scheme, key) = value.trim().split_once(' ').ok_or(ApiError::Unauthorized)?;
    let key = key.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() {
        return Err(ApiError::Unauthorized);
    }
    Ok(Some(key))
}

/// Rate-limits, then asks the engine whether the caller may read `site`.
async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    site: &str,
) -> Result<(), ApiError> {
    let key = bearer(headers)?;
    // Callers without a key (public sites) share a bucket per address.
    let bucket = match key {
        Some(key) => format!("key:{key}"),
        None => format!("ip:{}", client_ip(state, headers, peer)),
    };
    state
        .inner
        .limiter
        .check(&bucket, now_ms())
        .map_err(ApiError::RateLimited)?;
    match state.inner.backend.authorize(key, site).await? {
        Access::Granted => Ok(()),
        Access::KeyRequired => Err(ApiError::Unauthorized),
        Access::Denied => Err(ApiError::Forbidden),
    }
}

async fn post_query(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body?;
    let request: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::Invalid {
            field: "body".into(),
            reason: format!("not JSON: {e}"),
        })?;
    let site = request
        .get("site_id")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| ApiError::Invalid {
            field: "site_id".into(),
            reason: "required: the site's domain, as a string".into(),
        })?
        .to_owned();
    authorize(&state, &headers, peer, &site).await?;
    let answer = state.inner.backend.query(request).await?;
    Ok(Json(answer).into_response())
}

#[derive(Debug, Deserialize)]
struct LiveParams {
    site_id: Option<String>,
}

async fn live(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<LiveParams>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let site = params.site_id.ok_or_else(|| ApiError::Invalid {
        field: "site_id".into(),
        reason: "required as a query parameter: /api/live?site_id=example.com".into(),
    })?;
    authorize(&state, &headers, peer, &site).await?;
    let stream = state.inner.backend.live(&site).await?;
    let shutdown = state.inner.shutdown.clone();
    Ok(upgrade.on_upgrade(move |socket| push_live(socket, stream, shutdown)))
}

/// Sends each live message until the engine's stream ends, the client goes
/// away, or the server shuts down (then with a close frame).
async fn push_live(
    mut socket: WebSocket,
    mut stream: crate::app::LiveStream,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else { break };
                if socket.send(Message::Text(message.to_string().into())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => {
                match incoming {
                    None | Some(Err(_) | Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => {}
                }
            }
            () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

async fn health(State(state): State<AppState>) -> Response {
    let health = state.inner.backend.health().await;
    let status = if health.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health)).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state
        .inner
        .metrics
        .render(state.inner.backend.queue_depth());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn script(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    if !tracker::is_script_name(&file) {
        return ApiError::NotFound.into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        tracker::SCRIPT,
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// Everything a route can fail with; one `IntoResponse` maps them all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The tracker request was rejected by the event model (`400`/`413`).
    #[error(transparent)]
    Event(#[from] glinto_event_model::Error),
    /// The body could not be read (`413` over the limit).
    #[error(transparent)]
    Body(#[from] BytesRejection),
    /// A request field is wrong.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// No key, or not a bearer key, for a site that needs one.
    #[error("an API key is required: send `Authorization: Bearer KEY`")]
    Unauthorized,
    /// The key may not read this site.
    #[error("this API key may not read this site")]
    Forbidden,
    /// Too many requests with this key.
    #[error("rate limit exceeded; retry in {} s", .0.0)]
    RateLimited(RetryAfter),
    /// No such route.
    #[error("not found")]
    NotFound,
    /// The engine failed or is not there.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, field, reason): (StatusCode, Option<String>, &str) = match &self {
            ApiError::Event(e) => (
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
                Some(e.field().to_owned()),
                e.reason(),
            ),
            ApiError::Body(rejection) => {
                let status = rejection.status();
                let reason = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "too_large"
                } else {
                    "unreadable"
                };
                (status, Some("body".to_owned()), reason)
            }
            ApiError::Invalid { field, .. } => (
                StatusCode::BAD_REQUEST,
                Some(field.clone()),
                "invalid_value",
            ),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, None, "unauthorized"),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, None, "forbidden"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, None, "rate_limited"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, None, "not_found"),
            ApiError::Backend(e) => match e {
                BackendError::NotWired { .. } => (StatusCode::NOT_IMPLEMENTED, None, "not_wired"),
                BackendError::Unavailable { .. } => {
                    (StatusCode::SERVICE_UNAVAILABLE, None, "unavailable")
                }
                BackendError::NotFound { .. } => (StatusCode::NOT_FOUND, None, "not_found"),
                BackendError::Invalid { field, .. } => (
                    StatusCode::BAD_REQUEST,
                    Some(field.clone()),
                    "invalid_value",
                ),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, None, "internal"),
            },
        };
        let message = match &self {
            ApiError::Body(_) if status == StatusCode::PAYLOAD_TOO_LARGE => {
                "body is larger than the limit".to_owned()
            }
            _ => self.to_string(),
        };
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %crate::error_chain(&self), "request failed");
        }
        let mut body = serde_json::json!({ "error": message, "reason": reason });
        if let (Some(field), Some(map)) = (field, body.as_object_mut()) {
            map.insert("field".into(), field.into());
        }
        let mut response = (status, Json(body)).into_response();
        let retry_after = match &self {
            ApiError::RateLimited(RetryAfter(s)) => Some(*s),
            ApiError::Backend(BackendError::Unavailable { retry_after_s, .. }) => {
                Some(*retry_after_s)
            }
            _ => None,
        };
        if let Some(s) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if matches!(self, ApiError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
