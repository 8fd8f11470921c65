//! The WebSocket task server (feature `server`): runs tasks by name for a browser that plays
//! the Petri net, in-process (the seed ran a Python subprocess per task), and serves the runner
//! page, the net and the execution log over HTTP on the same port.
//!
//! Protocol (docs/server.md), one JSON object per text frame:
//! `{type:"execute_task", id?, data:{task_name, input_data, run_id?}}` -> `task_started`, then
//! `task_completed {task_name, result}` or `task_error {task_name, error:{kind, message}}`;
//! `start_run` -> `run_started {run_id}` (a task may only be logged under a run the server
//! started and that is still running); `list_tasks` -> `tasks`; `ping` -> `pong`; `auth
//! {token}` when a token is required and not given in the URL; a `human_input` task sends
//! `human_input_request {request_id, answer}` and waits for `human_feedback {request_id,
//! feedback}` from the same client. Anything else gets an `error` frame and the connection
//! stays up.

//!
//! Split by job: [`config`] holds the settings and the policy every request goes through
//! (Origin, Host, token), `listen` the accept loop and the limits every connection is held to,
//! `http` the routes, `connection` the WebSocket connection loop, and `dispatch` what each
//! message does (task code runs on the server's task threads, watched from its own).

mod config;
mod connection;
mod dispatch;
mod http;
mod listen;
mod page;
#[cfg(feature = "llm")]
mod review;
pub mod state_json;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, watch};

pub use config::ServerConfig;

use crate::TaskSet;
use crate::executor::Runner;

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
    /// Where task code runs: threads of its own, so that a task blocking its thread blocks
    /// no part of the server (see [`ServerConfig::task_threads`]).
    tasks: tokio::runtime::Handle,
    /// The task runtime itself, shut down (without waiting for blocked threads) when the
    /// server stops.
    tasks_runtime: TaskRuntime,
}

/// Shuts its runtime down without waiting, also when dropped inside another runtime (where a
/// plain drop, which waits for the runtime's threads, panics).
struct TaskRuntime(Mutex<Option<tokio::runtime::Runtime>>);

impl TaskRuntime {
    fn shutdown(&self) {
        let runtime = self.0.lock().ok().and_then(|mut r| r.take());
        if let Some(runtime) = runtime {
            runtime.shutdown_background();
        }
    }
}

impl Drop for TaskRuntime {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl<T: TaskSet> Server<T> {
    /// Binds `config.addr` (port 0 picks a free port; see [`Server::local_addr`]). Settings
    /// that would open the server to anyone are refused ([`ServerConfig::check`]); the
    /// warnings of the others are logged.
    pub async fn bind(runner: Runner<T>, config: ServerConfig) -> std::io::Result<Self> {
        let warnings = config
            .check()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        for warning in warnings {
            tracing::warn!("{warning}");
            eprintln!("tasknet server: warning: {warning}");
        }
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let (stop, stopping) = watch::channel(false);
        let permits = Arc::new(Semaphore::new(config.max_concurrent_tasks));
        let tasks_runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.task_threads)
            .thread_name("tasknet-task")
            .enable_all()
            .build()?;
        Ok(Server {
            listener,
            shared: Arc::new(Shared {
                runner,
                config,
                permits,
                stopping,
                tasks: tasks_runtime.handle().clone(),
                tasks_runtime: TaskRuntime(Mutex::new(Some(tasks_runtime))),
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
    /// task is already in the log (each record is committed as it finishes); a task still
    /// running after the grace period is left behind (its threads are not waited for).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let config = &self.shared.config;
        let grace = config.shutdown_grace;
        let limits = listen::Limits {
            max_connections: config.max_connections,
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            token_required: config.token.is_some(),
        };
        let app = http::router(self.shared.clone());
        let stop = self.stop;
        let mut stopping = self.shared.stopping.clone();
        let serving = listen::accept_loop(self.listener, app, limits, self.shared.stopping.clone());
        tokio::pin!(serving);
        let retention = config.keep_runs.map(|keep| {
            let shared = self.shared.clone();
            tokio::spawn(async move { retention(&shared, keep).await })
        });
        tokio::select! {
            _ = &mut serving => {}
            _ = shutdown => {
                tracing::info!("tasknet server shutting down");
                let _ = stop.send(true);
                tokio::select! {
                    _ = &mut serving => {}
                    _ = async {
                        let _ = stopping.wait_for(|s| *s).await;
                        tokio::time::sleep(grace).await;
                    } => tracing::warn!(?grace, "tasks still running after the grace period; stopping"),
                }
            }
        }
        if let Some(retention) = retention {
            retention.abort();
        }
        self.shared.tasks_runtime.shutdown();
        Ok(())
    }
}

/// Keeps the newest `keep` finished runs, every `retention_every`, until the server stops.
async fn retention<T: TaskSet>(shared: &Shared<T>, keep: usize) {
    let mut stopping = shared.stopping.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(shared.config.retention_every) => {}
            _ = stopping.wait_for(|s| *s) => return,
        }
        let swept = crate::storage::off_worker(shared.runner.log(), move |log| {
            let mut finished: Vec<crate::RunRecord> = log
                .runs()?
                .into_iter()
                .filter(|r| r.status != crate::RunStatus::Running)
                .collect();
            let old = finished.len().saturating_sub(keep);
            let ids: Vec<String> = finished.drain(..old).map(|r| r.id).collect();
            log.delete_runs(&ids)
        })
        .await;
        match swept {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deleted = n,
                keep,
                "retention: deleted the oldest finished runs"
            ),
            Err(e) => tracing::error!(error = %e, "retention failed"),
        }
    }
}
