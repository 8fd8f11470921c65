//! Runs spread over processes and machines (feature `postgres`): [`Runner::submit`] puts a
//! run's tasks in the PostgreSQL work queue, [`Runner::work`] takes ready tasks from it and
//! runs them, each on a state rebuilt from the run's records, as replay does, so that a task
//! may run on another machine than its predecessors. See docs/postgres.md.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::FutureExt as _;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::Value;

use super::{RunError, Runner, TaskOverrides, kickoff_inputs, new_run_id};
use crate::storage::{Claim, Completed, PostgresStorage, QueuedTask, Storage, StorageError};
use crate::time::ClockAnchor;
use crate::{TaskSet, TaskState, TaskStatus, now_rfc3339};

/// How a worker takes and holds tasks.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Tasks run at once (default 4).
    pub concurrency: usize,
    /// How long a claim lasts unless renewed (default 10 s); renewed every third of it while
    /// the task runs. A worker that dies loses its tasks to the others this long after its
    /// last renewal.
    pub lease: Duration,
    /// After a stop is asked for, how long running tasks may take to finish (default 30 s);
    /// those still running then are handed back, ready for another worker.
    pub drain_for: Duration,
    /// How often an idle worker looks for tasks whose lease ran out (default 1 s; ready
    /// tasks wake it at once, through `LISTEN`).
    pub idle_poll: Duration,
    /// The worker's name in the queue (default: host, process id, a random part).
    pub name: String,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 4,
            lease: Duration::from_secs(10),
            drain_for: Duration::from_secs(30),
            idle_poll: Duration::from_secs(1),
            name: default_worker_name(),
        }
    }
}

fn default_worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let unique = new_run_id();
    let random = unique.rsplit('-').next().unwrap_or(&unique);
    format!("{host}-{}-{random}", std::process::id())
}

/// What a worker did, counted when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Task records stored (succeeded or failed).
    pub stored: u64,
    /// Of those, failed.
    pub failed: u64,
    /// Tasks that ran but whose lease had gone to another worker: not stored.
    pub lease_lost: u64,
    /// Tasks handed back at the stop.
    pub handed_back: u64,
    /// Runs finished by this worker's last task.
    pub runs_finished: u64,
}

impl<T: TaskSet> Runner<T> {
    /// Hands the tasks of browser runs ([`Runner::run_task`], what `tasknet::serve` runs for
    /// a browser) to the workers of `queue`, and logs to it: each task is queued, run by a
    /// worker on the state rebuilt from the log, and its record answers the browser. The
    /// server then runs no task code of its own.
    pub fn hand_to_workers(mut self, queue: Arc<PostgresStorage>) -> Self {
        self.storage = queue.clone();
        self.workers = Some(queue);
        self
    }

    /// A browser run's task, through the queue: its record once a worker has stored it, or a
    /// timeout's record (stored here) when `limit` passes first.
    pub(super) async fn run_on_workers(
        &self,
        queue: &PostgresStorage,
        run_id: &str,
        task: usize,
        limit: Option<Duration>,
    ) -> Result<crate::TaskRecord, StorageError> {
        let registry = self.registry();
        let spec = &registry.tasks[task];
        let started = std::time::Instant::now();
        queue
            .enqueue_task(run_id, registry.name, registry.tasks.len(), task, spec.name)
            .await?;
        let limit = limit.unwrap_or(Duration::from_secs(24 * 3600));
        if queue.wait_for_task(run_id, task, limit).await? {
            let stored = queue
                .load_run(run_id)
                .await?
                .and_then(|(_, records)| records.into_iter().find(|r| r.task_index == task));
            if let Some(record) = stored {
                return Ok(record);
            }
        }
        let mut record = unrestorable(run_id, task, spec, String::new());
        let (kind, why) = if started.elapsed() >= limit {
            (
                crate::TaskErrorKind::Timeout,
                format!("no worker finished the task within {limit:?}"),
            )
        } else {
            (
                crate::TaskErrorKind::Failed,
                "the task was cancelled: its run failed".to_owned(),
            )
        };
        record.error_kind = Some(kind.as_str().to_owned());
        record.error = Some(why);
        record.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let stored = record.clone();
        self.log_call(move |log| log.put_task(stored)).await?;
        Ok(record)
    }

    /// Starts a run in the work queue: the run is created with the kickoff inputs of
    /// `initial`, its first tasks are ready for the workers; returns its id at once.
    pub async fn submit(
        &self,
        queue: &PostgresStorage,
        initial: T::State,
    ) -> Result<String, RunError> {
        let registry = self.registry();
        self.check_kickoff_inputs(&initial)?;
        let record = self.run_record(new_run_id(), kickoff_inputs(registry, &initial));
        let id = record.id.clone();
        let tasks = registry
            .tasks
            .iter()
            .enumerate()
            .map(|(index, spec)| QueuedTask {
                index,
                name: spec.name.to_owned(),
                waiting_for: spec.depends_on.len(),
                dependents: self.dependants[index].clone(),
            })
            .collect();
        queue.submit(record, tasks).await?;
        Ok(id)
    }

    /// Takes this registry's ready tasks from the queue and runs them, up to
    /// `options.concurrency` at once, until `stop` completes; then lets the running tasks
    /// finish for up to `options.drain_for` and hands back the others. A database that cannot
    /// be reached is waited for (each call retries with backoff, and says so); a task whose
    /// record cannot be stored is left to its lease, and runs again elsewhere.
    pub async fn work(
        &self,
        queue: &PostgresStorage,
        options: &WorkerOptions,
        stop: impl Future<Output = ()>,
    ) -> WorkerReport {
        let registry = self.registry();
        let worker = options.name.as_str();
        let signals = queue.signals();
        let mut report = WorkerReport::default();
        let mut running = FuturesUnordered::new();
        let mut in_flight: HashMap<(String, usize), Claim> = HashMap::new();
        let mut stop = std::pin::pin!(stop);
        let mut renew = tokio::time::interval(options.lease / 3);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut drain_until: Option<tokio::time::Instant> = None;
        let mut last_expiry_check: Option<tokio::time::Instant> = None;
        tracing::info!(worker, registry = registry.name, "worker started");
        loop {
            // Armed before the claim: a task readied while it runs still wakes this worker.
            let ready = signals.ready.notified();
            let mut ready = std::pin::pin!(ready);
            ready.as_mut().enable();
            let room = options.concurrency.saturating_sub(running.len());
            if drain_until.is_none() && room > 0 {
                // Leases that ran out are looked for once per idle poll, ready tasks always.
                let expired = last_expiry_check.is_none_or(|at| at.elapsed() >= options.idle_poll);
                if expired {
                    last_expiry_check = Some(tokio::time::Instant::now());
                }
                match queue
                    .claim(registry.name, worker, room, options.lease, expired)
                    .await
                {
                    Ok(claims) => {
                        let full = claims.len() == room;
                        for claim in claims {
                            in_flight
                                .insert((claim.run_id.clone(), claim.task_index), claim.clone());
                            running.push(self.run_claimed(queue, claim, worker));
                        }
                        if full && running.len() < options.concurrency {
                            continue;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(worker, error = %e, "cannot claim tasks; trying again");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            if drain_until.is_some() && running.is_empty() {
                break;
            }
            let idle = room > 0 && drain_until.is_none();
            tokio::select! {
                () = &mut stop, if drain_until.is_none() => {
                    tracing::info!(worker, running = running.len(), "stopping: finishing the running tasks");
                    drain_until = Some(tokio::time::Instant::now() + options.drain_for);
                }
                Some((claim, outcome)) = running.next(), if !running.is_empty() => {
                    in_flight.remove(&(claim.run_id.clone(), claim.task_index));
                    tally(&mut report, worker, &claim, outcome);
                    // The others that have ended too: the next claim fills all their room.
                    while let Some(Some((claim, outcome))) = running.next().now_or_never() {
                        in_flight.remove(&(claim.run_id.clone(), claim.task_index));
                        tally(&mut report, worker, &claim, outcome);
                    }
                }
                _ = renew.tick(), if !running.is_empty() => {
                    if let Err(e) = queue.renew(worker, options.lease).await {
                        tracing::warn!(worker, error = %e, "cannot renew the leases");
                    }
                }
                () = &mut ready, if idle => {}
                () = tokio::time::sleep(options.idle_poll), if idle => {}
                () = tokio::time::sleep_until(drain_until.unwrap_or_else(tokio::time::Instant::now)), if drain_until.is_some() => {
                    let claims: Vec<Claim> = in_flight.drain().map(|(_, c)| c).collect();
                    drop(running);
                    match queue.release(&claims, worker).await {
                        Ok(n) => report.handed_back = n,
                        Err(e) => tracing::warn!(worker, error = %e, "cannot hand the tasks back: their leases will run out"),
                    }
                    tracing::info!(worker, handed_back = claims.len(), "stopped");
                    return report;
                }
            }
        }
        tracing::info!(worker, stored = report.stored, "stopped");
        report
    }

    /// Runs one claimed task on the state rebuilt from its run's records, and completes it.
    async fn run_claimed(
        &self,
        queue: &PostgresStorage,
        claim: Claim,
        worker: &str,
    ) -> (Claim, Result<(Completed, bool), StorageError>) {
        let record = self.record_of_claim(queue, &claim).await;
        let outcome = match record {
            Ok(record) => {
                let failed = record.status == TaskStatus::Failed;
                queue
                    .complete(&claim, worker, record, now_rfc3339())
                    .await
                    .map(|done| (done, failed))
            }
            Err(e) => Err(e),
        };
        (claim, outcome)
    }

    async fn record_of_claim(
        &self,
        queue: &PostgresStorage,
        claim: &Claim,
    ) -> Result<crate::TaskRecord, StorageError> {
        let registry = self.registry();
        let index = claim.task_index;
        let refused =
            |why: String| StorageError::new("run the claimed task", queue.describe(), why);
        let spec = registry
            .tasks
            .get(index)
            .filter(|spec| spec.name == claim.task_name)
            .ok_or_else(|| {
                refused(format!(
                    "task {index} `{}` of run `{}` is not this registry's: another version of the yaml submitted it",
                    claim.task_name, claim.run_id
                ))
            })?;
        let (run, records) = queue
            .load_run(&claim.run_id)
            .await?
            .ok_or_else(|| refused(format!("no run `{}`", claim.run_id)))?;
        let mut state = T::State::default();
        let restored = rebuild(registry, &mut state, &run.inputs, &records);
        let state = Mutex::new(state);
        let (mut record, _) = match restored {
            Ok(()) => {
                let run_id: Arc<str> = Arc::from(claim.run_id.as_str());
                let context = OnceLock::new();
                let done = self
                    .attempt(
                        index,
                        &state,
                        &context,
                        &run_id,
                        &ClockAnchor::now(),
                        TaskOverrides::default(),
                    )
                    .await;
                done.settle(claim.run_id.clone(), spec, false, &state)
            }
            Err(why) => (unrestorable(&claim.run_id, index, spec, why), Ok(())),
        };
        // Runs cut short by a lost lease count too.
        record.attempts += claim.attempt.saturating_sub(1);
        Ok(record)
    }
}

/// The record of a task whose state could not be rebuilt from the log.
fn unrestorable(
    run_id: &str,
    index: usize,
    spec: &'static crate::TaskSpec,
    why: String,
) -> crate::TaskRecord {
    let now = now_rfc3339();
    crate::TaskRecord {
        run_id: run_id.to_owned(),
        task_index: index,
        task_name: spec.name.into(),
        expected_output: spec.expected_output.into(),
        inputs: crate::JsonText::null(),
        output: crate::JsonText::null(),
        status: TaskStatus::Failed,
        error_kind: Some(crate::TaskErrorKind::Failed.as_str().to_owned()),
        error: Some(format!(
            "cannot rebuild the task's state from the log: {why}"
        )),
        was_replayed: false,
        started_at: now.clone(),
        finished_at: now,
        duration_ms: 0.0,
        attempts: 1,
        llm: None,
    }
}

/// The state before a task: the run's kickoff inputs, then every stored output (each task
/// that has one marked as run, as replay does).
fn rebuild<S: TaskState>(
    registry: &crate::Registry<S>,
    state: &mut S,
    inputs: &Value,
    records: &[crate::TaskRecord],
) -> Result<(), String> {
    if let Value::Object(inputs) = inputs {
        for (field, value) in inputs {
            state
                .set_json(field, value.clone())
                .map_err(|e| format!("kickoff input: {e}"))?;
        }
    }
    for record in records {
        if !matches!(record.status, TaskStatus::Succeeded | TaskStatus::Restored) {
            continue;
        }
        if let Value::Object(fields) = record.output.value() {
            for (field, value) in fields {
                state
                    .set_json(&field, value)
                    .map_err(|e| format!("output of `{}`: {e}", record.task_name))?;
            }
        }
        if let Some(spec) = registry.tasks.get(record.task_index) {
            state.record(spec.name);
        }
    }
    Ok(())
}

fn tally(
    report: &mut WorkerReport,
    worker: &str,
    claim: &Claim,
    outcome: Result<(Completed, bool), StorageError>,
) {
    match outcome {
        Ok((Completed::Stored { run_finished }, failed)) => {
            report.stored += 1;
            report.failed += u64::from(failed);
            report.runs_finished += u64::from(run_finished);
        }
        Ok((Completed::LeaseLost, _)) => {
            report.lease_lost += 1;
            tracing::warn!(worker, run_id = %claim.run_id, task = %claim.task_name, "the task's lease ran out before it ended: another worker runs it, this result is dropped");
        }
        Err(e) => {
            tracing::error!(worker, run_id = %claim.run_id, task = %claim.task_name, error = %e, "the task's record could not be stored: it runs again when its lease runs out");
        }
    }
}
