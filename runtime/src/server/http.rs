//! The HTTP side: the runner page (or the WebSocket upgrade) at `/`, the net, the kickoff
//! inputs, the log; and the policy layer in front of every route: a `Host` that is not this
//! server's gets 403 (DNS rebinding), a missing or wrong token 401.

use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::connection::{READ_BUFFER_BYTES, connection};
use super::listen::Transport;
use super::{Shared, page};
use crate::TaskSet;
use crate::storage::{RunCursor, off_worker};

pub(super) fn router<T: TaskSet>(shared: Arc<Shared<T>>) -> Router {
    Router::new()
        .route("/", get(root::<T>))
        .route("/net.json", get(net_json::<T>))
        .route("/inputs.json", get(inputs_json::<T>))
        .route("/healthz", get(|| async { "ok" }))
        .route("/runs", get(runs::<T>))
        .route("/runs/{id}", get(run::<T>))
        .fallback(|| async { error_response(StatusCode::NOT_FOUND, "no such route") })
        // A layer, not a route layer: unknown paths go through the policy too.
        .layer(middleware::from_fn_with_state(shared.clone(), policy::<T>))
        .with_state(shared)
}

/// In front of every route: the `Host` must name this server, and when a token is set every
/// route but `/healthz` needs it (`Authorization: Bearer`, or `?token=` for the page's own
/// links). A WebSocket upgrade may also authenticate with its first message, so it is let
/// through to the connection, which checks.
async fn policy<T: TaskSet>(
    State(shared): State<Arc<Shared<T>>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = checked(&shared, request, next).await;
    // No site may frame the page (clickjacking the Run button).
    let headers = response.headers_mut();
    headers.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static("frame-ancestors 'none'"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    response
}

async fn checked<T: TaskSet>(shared: &Shared<T>, request: Request, next: Next) -> Response {
    let config = &shared.config;
    let host = request.headers().get(header::HOST).map(|h| h.to_str());
    if let Some(host) = host
        && !host.is_ok_and(|h| config.host_allowed(h))
    {
        tracing::warn!(host = ?request.headers().get(header::HOST), "refused a request for a foreign Host");
        return error_response(StatusCode::FORBIDDEN, "host not allowed");
    }
    let open = request.uri().path() == "/healthz" || is_upgrade(request.headers());
    let authenticated =
        config.token_matches(request_token(request.headers(), request.uri()).as_deref());
    if authenticated && let Some(transport) = request.extensions().get::<Transport>() {
        transport.authenticated();
    }
    if !open && !authenticated {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "error": "a token is required: `Authorization: Bearer <token>` or `?token=`" })
                .to_string(),
        )
            .into_response();
    }
    next.run(request).await
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The token a request gives: its `Authorization: Bearer` header, else its `?token=`.
pub(super) fn request_token(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    bearer.or_else(|| query_param(uri, "token"))
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    json_response(status, json!({ "error": message.into() }).to_string())
}

async fn net_json<T: TaskSet>(State(shared): State<Arc<Shared<T>>>) -> Response {
    json_response(
        StatusCode::OK,
        shared
            .runner
            .task_set()
            .registry()
            .petri_net_json
            .to_owned(),
    )
}

async fn inputs_json<T: TaskSet>(State(shared): State<Arc<Shared<T>>>) -> Response {
    json_response(StatusCode::OK, shared.config.initial_state.to_string())
}

/// Runs per page of `GET /runs` when the request does not say, and at most.
const RUNS_PER_PAGE: usize = 50;
const MAX_RUNS_PER_PAGE: usize = 500;

/// `GET /runs?limit=N&before=ID`: a page of runs, newest first, and the id to ask the next
/// page `before` (`null` on the last page). Never the whole log: a log of any size answers in
/// one bounded read.
async fn runs<T: TaskSet>(State(shared): State<Arc<Shared<T>>>, uri: Uri) -> Response {
    let limit = match query_param(&uri, "limit").map(|l| l.parse::<usize>()) {
        None => RUNS_PER_PAGE,
        Some(Ok(n)) if n > 0 => n.min(MAX_RUNS_PER_PAGE),
        Some(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!("`limit` must be a number from 1 to {MAX_RUNS_PER_PAGE}"),
            );
        }
    };
    let before = query_param(&uri, "before");
    // Read and serialized off the worker threads.
    let listed = off_worker(shared.runner.log(), move |log| {
        let cursor = match &before {
            None => None,
            Some(id) => match log.run(id)? {
                Some(run) => Some(RunCursor::after(&run)),
                None => return Ok(None),
            },
        };
        // One more than the page: whether there is a next page.
        let mut runs = log.runs_page(cursor.as_ref(), limit + 1)?;
        let next = (runs.len() > limit).then(|| {
            runs.truncate(limit);
            runs.last().map(|r| r.id.clone())
        });
        Ok(Some(
            json!({ "runs": runs, "next": next.flatten() }).to_string(),
        ))
    })
    .await;
    match listed {
        Ok(Some(body)) => json_response(StatusCode::OK, body),
        Ok(None) => error_response(StatusCode::BAD_REQUEST, "`before` names no run of this log"),
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn run<T: TaskSet>(State(shared): State<Arc<Shared<T>>>, Path(id): Path<String>) -> Response {
    let wanted = id.clone();
    let found = off_worker(shared.runner.log(), move |log| {
        let Some(run) = log.run(&wanted)? else {
            return Ok(None);
        };
        let tasks = log.tasks(&wanted)?;
        Ok(Some(json!({ "run": run, "tasks": tasks }).to_string()))
    })
    .await;
    match found {
        Ok(Some(body)) => json_response(StatusCode::OK, body),
        Ok(None) => error_response(StatusCode::NOT_FOUND, format!("no run `{id}`")),
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /`: a WebSocket upgrade (what `logica` opens, at `ws://host:port`) or the runner page.
async fn root<T: TaskSet>(
    State(shared): State<Arc<Shared<T>>>,
    headers: HeaderMap,
    uri: Uri,
    transport: Option<axum::Extension<Transport>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let token = request_token(&headers, &uri);
    let authenticated = shared.config.token_matches(token.as_deref());
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        // The policy let a request that asked for an upgrade through without a token.
        Err(_) if !authenticated => {
            return error_response(StatusCode::UNAUTHORIZED, "a token is required");
        }
        Err(_) => {
            return (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                page::HTML,
            )
                .into_response();
        }
    };
    // Any page the user visits can open ws://localhost: refuse foreign origins before the
    // upgrade. Browsers always send Origin; other clients may not.
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| shared.config.origin_allowed(o));
        if !allowed {
            tracing::warn!(origin = ?origin, "refused a WebSocket from a foreign origin");
            return error_response(StatusCode::FORBIDDEN, "origin not allowed");
        }
    }
    let limit = shared.config.max_message_bytes;
    upgrade
        // tungstenite zeroes this much of its buffer before every read (128 KiB by default:
        // a sixth of the server's time); frames larger than it still arrive whole.
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| connection(shared, socket, authenticated, transport.map(|t| t.0)))
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
