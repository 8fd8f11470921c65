//! `worker` and `submit`: an `App` on a shared PostgreSQL log (feature `postgres`).

use std::sync::Arc;
use std::time::Duration;

use super::{App, BoxError, LlmChoice};
use crate::executor::{Runner, WorkerOptions};
use crate::storage::{LogLocation, PostgresStorage};
use crate::{RunStatus, TaskSet};

/// The log as the work queue, or why it cannot be one.
pub(super) fn queue_of(db: &LogLocation, command: &str) -> Result<Arc<PostgresStorage>, BoxError> {
    match db {
        LogLocation::Postgres(url) => Ok(Arc::new(PostgresStorage::connect(url.expose())?)),
        other => Err(format!(
            "`{command}` needs a PostgreSQL log, which workers share (`--log postgres://user@host/db`, or TASKNET_LOG); {other} is not one"
        )
        .into()),
    }
}

/// Stops on Ctrl-C, and on SIGTERM (what service managers and container runtimes send).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// How `worker` was asked to work.
pub(super) struct WorkerArgs {
    pub(super) concurrency: usize,
    pub(super) lease: f64,
    pub(super) drain: f64,
    pub(super) name: Option<String>,
}

impl<T: TaskSet> App<T> {
    fn queue_runner(
        self,
        queue: &Arc<PostgresStorage>,
        llm: &LlmChoice,
    ) -> Result<(Runner<T>, String), BoxError> {
        let mut runner = llm.apply(
            Runner::new(self.tasks)
                .shared_storage(queue.clone())
                .progress(false),
            false,
        )?;
        if let Some(configure) = &self.configure {
            runner = configure(runner);
        }
        Ok((runner, self.name))
    }

    /// `worker`: runs this registry's ready tasks from the shared log until Ctrl-C or
    /// SIGTERM, then finishes or hands back its tasks; prints what it did.
    pub(super) fn work(
        self,
        db: &LogLocation,
        llm: &LlmChoice,
        args: WorkerArgs,
    ) -> Result<(), BoxError> {
        let seconds = |s: f64, what: &str| {
            Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| format!("`--{what} {s}`: expected a positive number of seconds"))
        };
        let defaults = WorkerOptions::default();
        let options = WorkerOptions {
            concurrency: args.concurrency.max(1),
            lease: seconds(args.lease, "lease")?,
            drain_for: seconds(args.drain, "drain")?,
            name: args.name.unwrap_or(defaults.name),
            ..defaults
        };
        let queue = queue_of(db, "worker")?;
        let (runner, name) = self.queue_runner(&queue, llm)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        eprintln!(
            "{name}: worker {} taking tasks from {db} ({} at once, lease {:?}); Ctrl-C stops",
            options.name, options.concurrency, options.lease
        );
        let report = rt.block_on(runner.work(&queue, &options, stop_signal()));
        eprintln!(
            "{name}: worker {} stopped: {} task records stored ({} failed), {} results dropped (lease lost), {} handed back, {} runs finished",
            options.name,
            report.stored,
            report.failed,
            report.lease_lost,
            report.handed_back,
            report.runs_finished
        );
        Ok(())
    }

    /// `submit`: starts a run for the workers and prints its id; with `wait`, waits for it
    /// and fails when it failed.
    pub(super) fn submit(
        self,
        db: &LogLocation,
        llm: &LlmChoice,
        state: T::State,
        wait: bool,
    ) -> Result<(), BoxError> {
        let queue = queue_of(db, "submit")?;
        let (runner, name) = self.queue_runner(&queue, llm)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let id = runner.submit(&queue, state).await?;
            println!("{id}");
            if !wait {
                return Ok(());
            }
            let run = loop {
                match queue.wait_for_run(&id, Duration::from_secs(3600)).await? {
                    Some(run) if run.status != RunStatus::Running => break run,
                    Some(_) => continue,
                    None => return Err(format!("run `{id}` is no longer in {db}").into()),
                }
            };
            match run.status {
                RunStatus::Succeeded => {
                    eprintln!("{name}: run {id} succeeded; log: {db}");
                    Ok(())
                }
                _ => Err(format!(
                    "run {id} failed: {}; `{name} log --run {id}` shows its records",
                    run.error.as_deref().unwrap_or("no error recorded")
                )
                .into()),
            }
        })
    }
}
