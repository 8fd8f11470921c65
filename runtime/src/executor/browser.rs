//! Tasks run one at a time by name, as the WebSocket server does for a browser that plays the
//! Petri net: each is logged under the browser's run, and the run is finished once every task
//! has succeeded in it (failed as soon as one fails).
//!
//! Which tasks of a run have succeeded is kept here, per run, so that a task's completion
//! costs no read of the log: the run's records are read once, when this process first sees a
//! run it did not create (a browser that goes on after a restart).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{Runner, TaskFailure, kickoff_inputs, lock};
use crate::log::{RunStatus, TaskStatus};
use crate::time::ClockAnchor;
use crate::{TaskErrorKind, TaskSet, now_rfc3339};

/// Runs remembered at most; past this the least recently used is forgotten (and read again
/// from the log if its browser comes back), so that abandoned runs cannot grow the map.
const REMEMBERED_RUNS: usize = 4096;

/// The browser runs this runner has seen, by id.
#[derive(Default)]
pub(super) struct BrowserRuns {
    inner: Mutex<Remembered>,
}

#[derive(Default)]
struct Remembered {
    /// foldhash, as the in-memory log: SipHash of a run id per task is measurable here.
    runs: HashMap<String, Entry, foldhash::fast::RandomState>,
    /// Bumped on every use: the recency that eviction goes by.
    clock: u64,
}

enum Entry {
    /// One task is looking the run up in the log (and creating it there); the run's other
    /// tasks wait on the semaphore (made by the first of them to wait, closed when the opening
    /// ends). Per run, so that opening one run never waits for another.
    Opening(Option<Arc<Semaphore>>),
    Open(RunProgress),
}

/// What a task must do before it runs under a browser run.
enum Claim {
    /// Nothing: the run is known.
    Known,
    /// Open it (look it up in the log, create it there): this task is the one to.
    Open,
    /// Wait until another task has opened it.
    Wait(Arc<Semaphore>),
}

/// Ends an opening, also when the opening task is dropped half-way: the run's other tasks
/// then try again instead of waiting for ever.
struct Opening<'a> {
    runs: &'a BrowserRuns,
    run_id: &'a str,
    progress: Option<RunProgress>,
}

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        let mut inner = lock(&self.runs.inner);
        let ended = match self.progress.take() {
            Some(mut progress) => {
                inner.clock += 1;
                progress.used = inner.clock;
                inner.evict_one_if_full();
                inner
                    .runs
                    .get_mut(self.run_id)
                    .map(|entry| std::mem::replace(entry, Entry::Open(progress)))
            }
            None => inner.runs.remove(self.run_id),
        };
        if let Some(Entry::Opening(Some(waiting))) = ended {
            waiting.close();
        }
    }
}

impl Remembered {
    fn evict_one_if_full(&mut self) {
        if self.runs.len() < REMEMBERED_RUNS {
            return;
        }
        let oldest = self
            .runs
            .iter()
            .filter_map(|(id, entry)| match entry {
                Entry::Open(progress) => Some((progress.used, id)),
                Entry::Opening(_) => None,
            })
            .min()
            .map(|(_, id)| id.clone());
        if let Some(oldest) = oldest {
            self.runs.remove(&oldest);
        }
    }
}

struct RunProgress {
    /// Per task: whether its latest record succeeded.
    succeeded: Vec<bool>,
    count: usize,
    used: u64,
}

impl RunProgress {
    fn new(tasks: usize) -> Self {
        RunProgress {
            succeeded: vec![false; tasks],
            count: 0,
            used: 0,
        }
    }

    fn set(&mut self, task: usize, succeeded: bool) {
        if self.succeeded[task] != succeeded {
            self.succeeded[task] = succeeded;
            if succeeded {
                self.count += 1;
            } else {
                self.count -= 1;
            }
        }
    }
}

impl BrowserRuns {
    /// Opens the run with `open` unless it is known, in one hold of the map's lock: for a log
    /// that answers from memory (no await, so a std lock can be held across it).
    fn open_in_place(
        &self,
        run_id: &str,
        open: impl FnOnce() -> Result<RunProgress, crate::StorageError>,
    ) -> Result<(), crate::StorageError> {
        let mut inner = lock(&self.inner);
        if inner.runs.contains_key(run_id) {
            return Ok(());
        }
        let mut progress = open()?;
        inner.clock += 1;
        progress.used = inner.clock;
        inner.evict_one_if_full();
        inner.runs.insert(run_id.to_owned(), Entry::Open(progress));
        Ok(())
    }

    fn claim(&self, run_id: &str) -> Claim {
        let mut inner = lock(&self.inner);
        match inner.runs.get_mut(run_id) {
            Some(Entry::Open(_)) => Claim::Known,
            Some(Entry::Opening(waiting)) => Claim::Wait(
                waiting
                    .get_or_insert_with(|| Arc::new(Semaphore::new(0)))
                    .clone(),
            ),
            None => {
                inner.runs.insert(run_id.to_owned(), Entry::Opening(None));
                Claim::Open
            }
        }
    }

    /// Records the task's outcome; true when every task of the run has now succeeded (the
    /// run is then forgotten: it is finished).
    fn record(&self, run_id: &str, task: usize, succeeded: bool, tasks: usize) -> bool {
        let mut inner = lock(&self.inner);
        inner.clock += 1;
        let now = inner.clock;
        let progress = match inner.runs.get_mut(run_id) {
            Some(Entry::Open(progress)) => progress,
            // Forgotten meanwhile (evicted): counted from here on.
            _ => {
                inner
                    .runs
                    .insert(run_id.to_owned(), Entry::Open(RunProgress::new(tasks)));
                match inner.runs.get_mut(run_id) {
                    Some(Entry::Open(progress)) => progress,
                    _ => return false,
                }
            }
        };
        progress.used = now;
        progress.set(task, succeeded);
        let complete = progress.count == tasks;
        if complete {
            inner.runs.remove(run_id);
        }
        complete
    }
}

impl<T: TaskSet> Runner<T> {
    /// Runs one task by index on `state`, under `run_id`, as the WebSocket server does for a
    /// browser that plays the Petri net: the task's time limit and retries apply, and
    /// `limit`, when given, bounds the whole task (its tries and waits). The record goes to
    /// the log whatever the outcome, a timeout included; the run is created on its first task,
    /// with the state's kickoff inputs, and marked succeeded once every task of the registry
    /// has succeeded in it, failed when one fails. Returns the state with the task's output
    /// merged.
    pub async fn run_task(
        &self,
        run_id: &str,
        task: usize,
        state: T::State,
        limit: Option<Duration>,
    ) -> Result<T::State, TaskFailure> {
        let registry = self.registry();
        let spec = &registry.tasks[task];
        let log_failure = |message: String| TaskFailure {
            task: spec.name.to_owned(),
            kind: TaskErrorKind::Failed,
            message,
            attempts: 0,
        };
        // A log in memory is called in place: the run is opened under the map's lock in one
        // step (no waiting, no opening state). A log that blocks is opened off the worker
        // threads, by one task of the run at a time.
        let opened = if self.storage.blocks() {
            self.join_browser_run(run_id, &state).await
        } else {
            self.browser_runs.open_in_place(run_id, || {
                let record = self.run_record(run_id.to_owned(), kickoff_inputs(registry, &state));
                open_in_log(self.storage.as_ref(), &record, registry.tasks.len())
            })
        };
        opened.map_err(|e| log_failure(e.to_string()))?;
        let state = Mutex::new(state);
        let shared_run_id: Arc<str> = Arc::from(run_id);
        let context = OnceLock::new();
        let clock = ClockAnchor::now();
        let done = self
            .attempt(task, &state, &context, &shared_run_id, &clock, limit)
            .await;
        let (record, outcome) = done.settle(run_id.to_owned(), spec, false, &state);
        let ms = record.duration_ms;
        self.log_call(move |log| log.put_task(record))
            .await
            .map_err(|e| log_failure(e.to_string()))?;
        let complete =
            self.browser_runs
                .record(run_id, task, outcome.is_ok(), registry.tasks.len());
        let finished = match &outcome {
            Err(failure) => {
                tracing::error!(run_id, task = spec.name, error = %failure, "task failed");
                Some((RunStatus::Failed, Some(failure.to_string())))
            }
            Ok(()) => {
                tracing::info!(run_id, task = spec.name, ms, "task succeeded");
                complete.then_some((RunStatus::Succeeded, None))
            }
        };
        if let Some((status, error)) = finished {
            let id = run_id.to_owned();
            self.log_call(move |log| log.finish_run(&id, status, &now_rfc3339(), error.as_deref()))
                .await
                .map_err(|e| log_failure(e.to_string()))?;
        }
        outcome.map(|()| state.into_inner().unwrap_or_else(|p| p.into_inner()))
    }

    /// Makes sure the run is open before one of its tasks runs, with a log that blocks: the
    /// first task of the run opens it off the worker threads, the others wait for it.
    async fn join_browser_run(
        &self,
        run_id: &str,
        state: &T::State,
    ) -> Result<(), crate::StorageError> {
        loop {
            match self.browser_runs.claim(run_id) {
                Claim::Known => return Ok(()),
                // Closed when the other task is done; then look again.
                Claim::Wait(waiting) => drop(waiting.acquire().await),
                Claim::Open => {
                    let mut opening = Opening {
                        runs: &self.browser_runs,
                        run_id,
                        progress: None,
                    };
                    // Boxed: once per run, and the task's future stays small.
                    opening.progress = Some(Box::pin(self.open_browser_run(run_id, state)).await?);
                    return Ok(());
                }
            }
        }
    }

    /// Creates the run in the log, or, for a run the log has and this process has not seen,
    /// reads which of its tasks have succeeded. Only one task of a run does this at a time
    /// (see [`Claim`]).
    async fn open_browser_run(
        &self,
        run_id: &str,
        state: &T::State,
    ) -> Result<RunProgress, crate::StorageError> {
        let registry = self.registry();
        let tasks = registry.tasks.len();
        let record = self.run_record(run_id.to_owned(), kickoff_inputs(registry, state));
        self.log_call(move |log| open_in_log(log, &record, tasks))
            .await
    }
}

/// Creates the run in the log, or reads which of its tasks have succeeded.
fn open_in_log(
    log: &dyn crate::Storage,
    record: &crate::RunRecord,
    tasks: usize,
) -> Result<RunProgress, crate::StorageError> {
    let mut progress = RunProgress::new(tasks);
    if log.run(&record.id)?.is_none() {
        log.create_run(record)?;
        return Ok(progress);
    }
    for stored in log.tasks(&record.id)? {
        if stored.task_index < tasks {
            progress.set(stored.task_index, stored.status == TaskStatus::Succeeded);
        }
    }
    Ok(progress)
}
