//! The WebSocket task server (feature `server`): runs tasks by name for a browser that plays
//! the Petri net, in-process (the seed ran a Python subprocess per task), and serves the runner
//! page, the net and the execution log over HTTP on the same port.
//!
//! Protocol (DESIGN.md section 7), one JSON object per text frame:
//! `{type:"execute_task", id?, data:{task_name, input_data, run_id?}}` -> `task_started`, then
//! `task_completed {task_name, result}` or `task_error {task_name, error:{kind, message}}`;
//! `list_tasks` -> `tasks`; `ping` -> `pong`; `auth {token}` when a token is required and not
//! given in the URL. Anything else gets an `error` frame and the connection stays up.

mod page;
pub mod state_json;

use std::future::Future;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::executor::{Runner, new_run_id};
use crate::{TaskSet, TaskState};

/// How the server listens and what it accepts.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Default `127.0.0.1:6308`.
    pub addr: SocketAddr,
    /// Origins allowed besides the local ones (`http(s)://localhost`, `127.0.0.1`, `[::1]`,
    /// any port), exactly as browsers send them, e.g. `https://app.example`.
    pub extra_origins: Vec<String>,
    /// When set, a client must give it (`?token=` on the URL, or a first `auth` message).
    pub token: Option<String>,
    /// The largest message accepted, in bytes (default 1 MiB).
    pub max_message_bytes: usize,
    /// A task running longer gets a `timeout` error (default 60 s; the registry's and the
    /// runner's own limits apply too).
    pub task_timeout: Duration,
    /// Tasks running at once over all connections; more get a `busy` error (default 64).
    pub max_concurrent_tasks: usize,
    /// On shutdown, how long running tasks may take to finish (default 10 s).
    pub shutdown_grace: Duration,
    /// The state the runner page starts from (its kickoff inputs), as JSON.
    pub initial_state: Value,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 6308)),
            extra_origins: Vec::new(),
            token: None,
            max_message_bytes: 1 << 20,
            task_timeout: Duration::from_secs(60),
            max_concurrent_tasks: 64,
            shutdown_grace: Duration::from_secs(10),
            initial_state: json!({}),
        }
    }
}

impl ServerConfig {
    /// The kickoff state the runner page offers, from a typed state.
    pub fn initial_state_from<S: TaskState>(mut self, state: &S) -> Self {
        self.initial_state = state_json::encode(&json!({}), state);
        if let Value::Object(fields) = &mut self.initial_state {
            for key in crate::RUN_METADATA_FIELDS {
                fields.remove(key);
            }
        }
        self
    }

    /// Whether a browser page from `origin` may connect.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        if self.extra_origins.iter().any(|o| o == origin) {
            return true;
        }
        let Some(rest) = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
        else {
            return false;
        };
        let host = if let Some(v6) = rest.strip_prefix('[') {
            match v6.split_once(']') {
                Some((host, port)) if port.is_empty() || is_port(port) => host,
                _ => return false,
            }
        } else {
            match rest.split_once(':') {
                Some((host, port)) if is_port(port) => host,
                Some(_) => return false,
                None => rest,
            }
        };
        matches!(host, "localhost" | "127.0.0.1" | "::1")
    }
}

fn is_port(s: &str) -> bool {
    s.strip_prefix(':').unwrap_or(s).parse::<u16>().is_ok()
}

/// Serves `runner`'s registry on `config.addr` until Ctrl-C, then lets running tasks finish
/// (up to `shutdown_grace`).
pub async fn serve<T: TaskSet>(runner: Runner<T>, config: ServerConfig) -> std::io::Result<()> {
    let server = Server::bind(runner, config).await?;
    tracing::info!(addr = %server.local_addr(), "tasknet server listening");
    server
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

/// A server bound to its address, not yet serving.
pub struct Server<T: TaskSet> {
    listener: tokio::net::TcpListener,
    shared: Arc<Shared<T>>,
    stop: watch::Sender<bool>,
}

struct Shared<T: TaskSet> {
    runner: Runner<T>,
    config: ServerConfig,
    permits: Arc<Semaphore>,
    stopping: watch::Receiver<bool>,
}

impl<T: TaskSet> Server<T> {
    /// Binds `config.addr` (port 0 picks a free port; see [`Server::local_addr`]).
    pub async fn bind(runner: Runner<T>, config: ServerConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let (stop, stopping) = watch::channel(false);
        let permits = Arc::new(Semaphore::new(config.max_concurrent_tasks));
        Ok(Server {
            listener,
            shared: Arc::new(Shared {
                runner,
                config,
                permits,
                stopping,
            }),
            stop,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.shared.config.addr)
    }

    /// Serves until `shutdown` completes; then stops accepting, tells every connection to stop
    /// reading, lets running tasks finish up to the grace period, and returns. Every finished
    /// task is already in the log (each record is committed as it finishes).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let grace = self.shared.config.shutdown_grace;
        let app = router(self.shared.clone());
        let stop = self.stop;
        let mut stopping = self.shared.stopping.clone();
        // Small frames both ways: without TCP_NODELAY, Nagle's algorithm and delayed ACKs add
        // ~40 ms to every task's round trip.
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("tasknet server shutting down");
            let _ = stop.send(true);
        });
        let serving = serving.into_future();
        tokio::pin!(serving);
        tokio::select! {
            result = &mut serving => result,
            _ = async {
                let _ = stopping.wait_for(|s| *s).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(?grace, "tasks still running after the grace period; stopping");
                Ok(())
            }
        }
    }
}

fn router<T: TaskSet>(shared: Arc<Shared<T>>) -> Router {
    Router::new()
        .route("/", get(root::<T>))
        .route("/net.json", get(net_json::<T>))
        .route("/inputs.json", get(inputs_json::<T>))
        .route("/healthz", get(|| async { "ok" }))
        .route("/runs", get(runs::<T>))
        .route("/runs/{id}", get(run::<T>))
        .with_state(shared)
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

async fn runs<T: TaskSet>(State(shared): State<Arc<Shared<T>>>) -> Response {
    match shared.runner.log().runs() {
        Ok(runs) => json_response(
            StatusCode::OK,
            serde_json::to_string(&runs).unwrap_or_else(|_| "[]".to_owned()),
        ),
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn run<T: TaskSet>(State(shared): State<Arc<Shared<T>>>, Path(id): Path<String>) -> Response {
    let log = shared.runner.log();
    match log.run(&id) {
        Ok(Some(run)) => match log.tasks(&id) {
            Ok(tasks) => json_response(
                StatusCode::OK,
                json!({ "run": run, "tasks": tasks }).to_string(),
            ),
            Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        Ok(None) => error_response(StatusCode::NOT_FOUND, format!("no run `{id}`")),
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /`: a WebSocket upgrade (what `logica` opens, at `ws://host:port`) or the runner page.
async fn root<T: TaskSet>(
    State(shared): State<Arc<Shared<T>>>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(_) => {
            return (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
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
    let authenticated = match &shared.config.token {
        None => true,
        Some(token) => query_param(&uri, "token").is_some_and(|t| t == *token),
    };
    let limit = shared.config.max_message_bytes;
    upgrade
        // tungstenite zeroes this much of its buffer before every read (128 KiB by default:
        // a sixth of the server's time); frames larger than it still arrive whole.
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| connection(shared, socket, authenticated))
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

/// One frame to send: `{type, id?, data}`, serialized straight from borrowed parts.
fn frame(kind: &str, id: &Value, data: impl Serialize) -> Message {
    #[derive(Serialize)]
    struct Frame<'a, D> {
        #[serde(rename = "type")]
        kind: &'a str,
        #[serde(skip_serializing_if = "Value::is_null")]
        id: &'a Value,
        data: D,
    }
    let text = serde_json::to_string(&Frame { kind, id, data }).unwrap_or_else(|e| {
        format!(
            r#"{{"type":"error","data":{{"error":{{"kind":"internal","message":{}}}}}}}"#,
            Value::from(e.to_string())
        )
    });
    Message::Text(text.into())
}

#[derive(Serialize)]
struct ErrorData<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    task_name: Option<&'a str>,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    kind: &'a str,
    message: &'a str,
}

fn error_frame(id: &Value, kind: &str, message: impl AsRef<str>) -> Message {
    let error = ErrorBody {
        kind,
        message: message.as_ref(),
    };
    frame(
        "error",
        id,
        ErrorData {
            task_name: None,
            error,
        },
    )
}

fn task_error(id: &Value, task: &str, kind: &str, message: impl AsRef<str>) -> Message {
    let error = ErrorBody {
        kind,
        message: message.as_ref(),
    };
    frame(
        "task_error",
        id,
        ErrorData {
            task_name: Some(task),
            error,
        },
    )
}

/// How much a connection reads at once.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// Replies of tasks that had to wait, queued for the connection; past this, such tasks wait
/// for a slow reader.
const LATE_REPLIES: usize = 256;

/// Replies written in one flush at most: a client that sends faster than it reads gets its
/// replies in bounded batches, and its further requests wait in the socket.
const BATCH: usize = 64;

/// One connection, on one tokio task: it reads requests, runs each task once in place (most
/// finish without waiting), and writes the replies itself, every reply that is ready in one
/// flush. A writer task of its own would cost a wake-up and a hop between threads per batch.
/// Tasks that wait go on in tasks of their own and send their replies back through a channel.
async fn connection<T: TaskSet>(
    shared: Arc<Shared<T>>,
    mut socket: WebSocket,
    authenticated: bool,
) {
    let (late_replies, mut late) = mpsc::channel::<Message>(LATE_REPLIES);
    let mut session = Session {
        shared,
        authenticated,
        running: tokio::task::JoinSet::new(),
        late_replies,
    };
    let mut stopping = session.shared.stopping.clone();
    let mut outbox: Vec<Message> = Vec::with_capacity(BATCH);
    let mut closing = false;
    while !closing {
        if !outbox.is_empty() && write_all(&mut socket, &mut outbox).await.is_err() {
            break;
        }
        enum Event {
            Message(Option<Result<Message, axum::Error>>),
            Late(Message),
            Stop,
            Joined,
        }
        let event = tokio::select! {
            message = socket.next() => Event::Message(message),
            Some(reply) = late.recv() => Event::Late(reply),
            _ = stopping.wait_for(|s| *s) => Event::Stop,
            Some(_) = session.running.join_next(), if !session.running.is_empty() => Event::Joined,
        };
        match event {
            Event::Message(mut message) => loop {
                if session.handle(message, &mut outbox).await.is_break() {
                    closing = true;
                    break;
                }
                // Requests already read go together, with one flush for all their replies.
                if outbox.len() >= BATCH {
                    break;
                }
                match socket.next().now_or_never() {
                    Some(next) => message = next,
                    None => break,
                }
            },
            Event::Late(reply) => {
                outbox.push(reply);
                while outbox.len() < BATCH {
                    match late.try_recv() {
                        Ok(reply) => outbox.push(reply),
                        Err(_) => break,
                    }
                }
            }
            Event::Stop => closing = true,
            Event::Joined => {}
        }
    }
    // Let this connection's running tasks finish (the grace period bounds a shutdown) and send
    // what they answer; the channel ends when the last of them is done.
    // Dropping the JoinSet would abort them: it is kept until they are all done, even when the
    // client has gone (their records still go to the log).
    let Session {
        late_replies,
        mut running,
        ..
    } = session;
    drop(late_replies);
    let mut sending = write_all(&mut socket, &mut outbox).await.is_ok();
    while let Some(reply) = late.recv().await {
        outbox.push(reply);
        if sending {
            sending = write_all(&mut socket, &mut outbox).await.is_ok();
        }
        outbox.clear();
    }
    while running.join_next().await.is_some() {}
    let _ = socket.close().await;
}

async fn write_all(socket: &mut WebSocket, outbox: &mut Vec<Message>) -> Result<(), axum::Error> {
    for message in outbox.drain(..) {
        socket.feed(message).await?;
    }
    socket.flush().await
}

/// What a connection knows between requests.
struct Session<T: TaskSet> {
    shared: Arc<Shared<T>>,
    authenticated: bool,
    running: tokio::task::JoinSet<()>,
    late_replies: mpsc::Sender<Message>,
}

impl<T: TaskSet> Session<T> {
    /// Answers one incoming message into `outbox`; `Break` when the connection is to close.
    async fn handle(
        &mut self,
        message: Option<Result<Message, axum::Error>>,
        outbox: &mut Vec<Message>,
    ) -> ControlFlow<()> {
        let text = match message {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return ControlFlow::Break(()),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                outbox.push(error_frame(
                    &Value::Null,
                    "bad_message",
                    "send JSON text frames",
                ));
                return ControlFlow::Continue(());
            }
            Some(Ok(_)) => return ControlFlow::Continue(()),
        };
        let mut request: Value = match serde_json::from_str(text.as_str()) {
            Ok(value) => value,
            Err(e) => {
                outbox.push(error_frame(
                    &Value::Null,
                    "bad_json",
                    format!("not JSON: {e}"),
                ));
                return ControlFlow::Continue(());
            }
        };
        let id = request
            .get_mut("id")
            .map(Value::take)
            .unwrap_or(Value::Null);
        let data = request
            .get_mut("data")
            .map(Value::take)
            .unwrap_or(Value::Null);
        let kind = request.get("type").and_then(Value::as_str).unwrap_or("");
        let shared = &self.shared;
        if !self.authenticated {
            let token = request
                .get("token")
                .or_else(|| data.get("token"))
                .and_then(Value::as_str);
            if kind == "auth" && token.is_some() && token == shared.config.token.as_deref() {
                self.authenticated = true;
                outbox.push(frame("authenticated", &id, json!({})));
                return ControlFlow::Continue(());
            }
            outbox.push(error_frame(
                &id,
                "unauthorized",
                "a token is required: `?token=` on the URL or a first `auth` message",
            ));
            return ControlFlow::Break(());
        }
        let reply = match kind {
            "ping" => frame("pong", &id, json!({})),
            "list_tasks" => frame("tasks", &id, list_tasks(shared)),
            "execute_task" => match start_task(shared, &id, &data) {
                Ok((task, started)) => {
                    outbox.push(started);
                    let shared = shared.clone();
                    let mut run = Box::pin(async move { execute(&shared, &id, task, data).await });
                    // Polled once here first: a task that finishes without waiting (most do
                    // their work in one go) answers without a spawn and a hop to another
                    // worker thread; one that waits goes on in its own task.
                    let first = std::future::poll_fn(|cx| Poll::Ready(run.as_mut().poll(cx))).await;
                    match first {
                        Poll::Ready(reply) => reply,
                        Poll::Pending => {
                            let late_replies = self.late_replies.clone();
                            self.running.spawn(async move {
                                let reply = run.await;
                                let _ = late_replies.send(reply).await;
                            });
                            return ControlFlow::Continue(());
                        }
                    }
                }
                Err(reply) => reply,
            },
            "" => error_frame(&id, "bad_message", "a message needs a string `type`"),
            other => error_frame(
                &id,
                "unknown_type",
                format!(
                    "unknown message type `{other}`: expected execute_task, list_tasks or ping"
                ),
            ),
        };
        outbox.push(reply);
        ControlFlow::Continue(())
    }
}

/// A started task: its index and the permit that counts it against the limit.
struct Started {
    index: usize,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

fn start_task<T: TaskSet>(
    shared: &Shared<T>,
    id: &Value,
    data: &Value,
) -> Result<(Started, Message), Message> {
    let registry = shared.runner.task_set().registry();
    let Some(name) = data.get("task_name").and_then(Value::as_str) else {
        return Err(error_frame(
            id,
            "bad_message",
            "execute_task needs `data.task_name` (a string)",
        ));
    };
    let Some(index) = registry.task_index(name) else {
        let names: Vec<&str> = registry.tasks.iter().map(|t| t.name).collect();
        return Err(task_error(
            id,
            name,
            "unknown_task",
            format!(
                "no task `{name}` in `{}` (tasks: {})",
                registry.name,
                names.join(", ")
            ),
        ));
    };
    let Ok(permit) = shared.permits.clone().try_acquire_owned() else {
        return Err(task_error(
            id,
            name,
            "busy",
            format!(
                "{} tasks are already running; try again later",
                shared.config.max_concurrent_tasks
            ),
        ));
    };
    Ok((
        Started {
            index,
            _permit: permit,
        },
        frame("task_started", id, TaskName { task_name: name }),
    ))
}

#[derive(Serialize)]
struct TaskName<'a> {
    task_name: &'a str,
}

#[derive(Serialize)]
struct Completed<'a> {
    task_name: &'a str,
    run_id: &'a str,
    result: Value,
}

async fn execute<T: TaskSet>(
    shared: &Shared<T>,
    id: &Value,
    task: Started,
    mut data: Value,
) -> Message {
    let registry = shared.runner.task_set().registry();
    let spec = &registry.tasks[task.index];
    let input = match data.get_mut("input_data") {
        Some(input) => input.take(),
        None => json!({}),
    };
    let state: T::State = match state_json::decode(spec, &input) {
        Ok(state) => state,
        Err(e) => return task_error(id, spec.name, e.kind, e.message),
    };
    let run_id = data
        .get("run_id")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty() && r.len() <= 128)
        .map_or_else(new_run_id, str::to_owned);
    // The limit goes to the runner, which records the timeout and finishes the run; cutting
    // the runner's future off here would lose both.
    let limit = shared.config.task_timeout;
    let result = shared
        .runner
        .run_task(&run_id, task.index, state, Some(limit))
        .await;
    match result {
        Ok(state) => frame(
            "task_completed",
            id,
            Completed {
                task_name: spec.name,
                run_id: &run_id,
                result: state_json::encode(&input, &state),
            },
        ),
        Err(failure) => task_error(id, spec.name, failure.kind.as_str(), failure.message),
    }
}

fn list_tasks<T: TaskSet>(shared: &Shared<T>) -> Value {
    let registry = shared.runner.task_set().registry();
    let tasks: Vec<Value> = registry
        .ordered_tasks()
        .map(|t| {
            json!({
                "name": t.name,
                "description": t.description,
                "expected_output": t.expected_output,
                "agent": t.agent,
                "requires": t.requires,
                "produces": t.produces.iter().map(|f| json!({ "name": f.name, "type": f.ty })).collect::<Vec<_>>(),
                "depends_on": t.depends_on.iter().map(|&d| registry.tasks[d].name).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "registry": registry.name, "tasks": tasks })
}
