//! The WebSocket task server (feature `server`): runs tasks by name for a browser that plays
//! the Petri net, in-process (the seed ran a Python subprocess per task), and serves the runner
//! page, the net and the execution log over HTTP on the same port.
//!
//! Protocol (docs/server.md), one JSON object per text frame:
//! `{type:"execute_task", id?, data:{task_name, input_data, run_id?}}` -> `task_started`, then
//! `task_completed {task_name, result}` or `task_error {task_name, error:{kind, message}}`;
//! `list_tasks` -> `tasks`; `ping` -> `pong`; `auth {token}` when a token is required and not
//! given in the URL. Anything else gets an `error` frame and the connection stays up.

//!
//! Split by job: [`config`] holds the settings and the policy every request goes through
//! (Origin, Host, token), `http` the routes, `connection` the WebSocket connection loop, and
//! `dispatch` what each message does.

mod config;
mod connection;
mod dispatch;
mod http;
mod page;
pub mod state_json;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
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
        let app = http::router(self.shared.clone());
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
