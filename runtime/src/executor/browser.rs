//! Tasks run one at a time by name, as the WebSocket server does for a browser that plays
//! the Petri net: each is logged under a browser run, and the run is finished once every task
//! has succeeded in it (failed as soon as one fails).
//!
//! Runs are the runner's: [`Runner::start_browser_run`] issues an id, and a task may run only
//! under a run this runner issued that is still running, once per task. A finished run, a run
//! of another process (the CLI, an earlier server) or a made-up id is refused before anything
//! runs: history is never changed. Which tasks of a run have run is kept here, so that a
//! task's completion costs no read of the log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{Runner, TaskFailure, TaskOverrides, kickoff_inputs, lock, new_run_id};
use crate::log::RunStatus;
use crate::time::ClockAnchor;
use crate::{TaskErrorKind, TaskSet, now_rfc3339};

/// Runs remembered at most; past this the least recently used run with no task running is
/// forgotten, and so closed: its later tasks are refused (abandoned runs cannot grow the map).
const REMEMBERED_RUNS: usize = 4096;

/// The browser runs this runner has issued, by id.
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
    /// Issued, not in the log yet: its first task creates it there (with that task's state
    /// as the kickoff inputs).
    Issued {
        used: u64,
    },
    /// One task is creating the run in the log; the run's other tasks wait on the semaphore
    /// (made by the first of them to wait, closed when the opening ends). Per run, so that
    /// opening one run never waits for another.
    Opening(Option<Arc<Semaphore>>),
    Open(RunProgress),
}

/// What a task must do before it runs under a browser run.
enum Claim {
    /// Nothing: the run is in the log and the task is marked as running.
    Known,
    /// Create the run in the log: this task is the one to.
    Open,
    /// Wait until another task has created it.
    Wait(Arc<Semaphore>),
    /// The task may not run; why.
    Refused(String),
}

/// Ends an opening, also when the opening task is dropped half-way: the run goes back to
/// issued, and its other tasks try again instead of waiting for ever.
struct Opening<'a> {
    runs: &'a BrowserRuns,
    run_id: &'a str,
    progress: Option<RunProgress>,
}

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        let mut inner = lock(&self.runs.inner);
        inner.clock += 1;
        let used = inner.clock;
        let next = match self.progress.take() {
            Some(mut progress) => {
                progress.used = used;
                Entry::Open(progress)
            }
            None => Entry::Issued { used },
        };
        let ended = inner
            .runs
            .get_mut(self.run_id)
            .map(|entry| std::mem::replace(entry, next));
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
                Entry::Issued { used } => Some((*used, id)),
                Entry::Open(progress) if progress.running == 0 => Some((progress.used, id)),
                Entry::Open(_) | Entry::Opening(_) => None,
            })
            .min()
            .map(|(_, id)| id.clone());
        if let Some(oldest) = oldest {
            tracing::warn!(run_id = %oldest, "forgot an idle browser run: its later tasks are refused");
            self.runs.remove(&oldest);
        }
    }
}

/// Where a task is in its run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    NotRun,
    Running,
    Succeeded,
}

struct RunProgress {
    marks: Vec<Mark>,
    succeeded: usize,
    running: usize,
    used: u64,
}

impl RunProgress {
    fn new(tasks: usize) -> Self {
        RunProgress {
            marks: vec![Mark::NotRun; tasks],
            succeeded: 0,
            running: 0,
            used: 0,
        }
    }

    /// Marks the task as running, unless it already ran (or runs) in this run.
    fn start(&mut self, run_id: &str, task: usize) -> Claim {
        match self.marks[task] {
            Mark::NotRun => {
                self.marks[task] = Mark::Running;
                self.running += 1;
                Claim::Known
            }
            Mark::Running | Mark::Succeeded => Claim::Refused(already_ran(run_id)),
        }
    }
}

fn already_ran(run_id: &str) -> String {
    format!(
        "this task already ran in run `{run_id}`; its record is kept (start a new run with `start_run`)"
    )
}

fn not_open(run_id: &str) -> String {
    format!(
        "no open run `{run_id}` on this server: a run is started with `start_run`, and a finished run or one made by another process is never changed (a replay makes a new run)"
    )
}

impl BrowserRuns {
    /// A new run, known to this runner only until its first task creates it in the log.
    fn issue(&self) -> String {
        let run_id = new_run_id();
        let mut inner = lock(&self.inner);
        inner.clock += 1;
        let used = inner.clock;
        inner.evict_one_if_full();
        inner.runs.insert(run_id.clone(), Entry::Issued { used });
        run_id
    }

    /// Admits the task under the run with `open` creating the run in the log if it is not
    /// there yet, in one hold of the map's lock: for a log that answers from memory (no
    /// await, so a std lock can be held across it).
    fn claim_in_place(
        &self,
        run_id: &str,
        task: usize,
        tasks: usize,
        open: impl FnOnce() -> Result<(), crate::StorageError>,
    ) -> Result<Result<(), String>, crate::StorageError> {
        let mut inner = lock(&self.inner);
        inner.clock += 1;
        let used = inner.clock;
        let entry = match inner.runs.get_mut(run_id) {
            None | Some(Entry::Opening(_)) => return Ok(Err(not_open(run_id))),
            Some(entry) => entry,
        };
        if let Entry::Issued { .. } = entry {
            open()?;
            *entry = Entry::Open(RunProgress::new(tasks));
        }
        let Entry::Open(progress) = entry else {
            return Ok(Err(not_open(run_id)));
        };
        progress.used = used;
        Ok(match progress.start(run_id, task) {
            Claim::Refused(why) => Err(why),
            _ => Ok(()),
        })
    }

    fn claim(&self, run_id: &str, task: usize) -> Claim {
        let mut inner = lock(&self.inner);
        inner.clock += 1;
        let used = inner.clock;
        match inner.runs.get_mut(run_id) {
            None => Claim::Refused(not_open(run_id)),
            Some(Entry::Open(progress)) => {
                progress.used = used;
                progress.start(run_id, task)
            }
            Some(Entry::Opening(waiting)) => Claim::Wait(
                waiting
                    .get_or_insert_with(|| Arc::new(Semaphore::new(0)))
                    .clone(),
            ),
            Some(entry @ Entry::Issued { .. }) => {
                *entry = Entry::Opening(None);
                Claim::Open
            }
        }
    }

    /// Whether the task may run under the run now (what [`BrowserRuns::claim`] would say,
    /// without claiming): to refuse a request before it is started.
    fn admissible(&self, run_id: &str, task: usize) -> Result<(), String> {
        let inner = lock(&self.inner);
        match inner.runs.get(run_id) {
            None => Err(not_open(run_id)),
            Some(Entry::Open(progress)) if progress.marks[task] != Mark::NotRun => {
                Err(already_ran(run_id))
            }
            Some(_) => Ok(()),
        }
    }

    /// Whether the run is issued but not yet in the log.
    #[cfg(feature = "server")]
    fn unopened(&self, run_id: &str) -> bool {
        matches!(
            lock(&self.inner).runs.get(run_id),
            Some(Entry::Issued { .. })
        )
    }

    /// Records the task's outcome; true when every task of the run has now succeeded. A run
    /// is closed (forgotten) when it is complete or one of its tasks failed: its later tasks
    /// are refused.
    fn record(&self, run_id: &str, task: usize, succeeded: bool, tasks: usize) -> bool {
        let mut inner = lock(&self.inner);
        inner.clock += 1;
        let now = inner.clock;
        let progress = match inner.runs.get_mut(run_id) {
            Some(Entry::Open(progress)) => progress,
            // A task that never started (the watchdog's): the run is closed.
            Some(Entry::Issued { .. }) if !succeeded => {
                inner.runs.remove(run_id);
                return false;
            }
            // Closed meanwhile (a task of the run failed): its record is in the log.
            _ => return false,
        };
        progress.used = now;
        if progress.marks[task] == Mark::Running {
            progress.running -= 1;
        }
        let complete = if succeeded {
            progress.marks[task] = Mark::Succeeded;
            progress.succeeded += 1;
            progress.succeeded == tasks
        } else {
            progress.marks[task] = Mark::NotRun;
            false
        };
        if complete || !succeeded {
            inner.runs.remove(run_id);
        }
        complete
    }
}

impl<T: TaskSet> Runner<T> {
    /// Starts a browser run: its id, for [`Runner::run_task`]. The run is created in the log
    /// by its first task (with that task's state as the kickoff inputs).
    pub fn start_browser_run(&self) -> String {
        self.browser_runs.issue()
    }

    /// Runs one task by index on `state`, under `run_id`, as the WebSocket server does for a
    /// browser that plays the Petri net: the task's time limit and retries apply, and
    /// `limit`, when given, bounds the whole task (its tries and waits). The record goes to
    /// the log whatever the outcome, a timeout included; the run is created on its first task,
    /// with the state's kickoff inputs, and marked succeeded once every task of the registry
    /// has succeeded in it, failed when one fails. Returns the state with the task's output
    /// merged.
    ///
    /// `run_id` must come from [`Runner::start_browser_run`] on this runner and the run must
    /// still be running, and a task runs once per run: otherwise nothing runs and the failure
    /// is [`TaskErrorKind::RunNotOpen`].
    pub async fn run_task(
        &self,
        run_id: &str,
        task: usize,
        state: T::State,
        limit: Option<Duration>,
    ) -> Result<T::State, TaskFailure> {
        let overrides = TaskOverrides {
            overall: limit,
            ..TaskOverrides::default()
        };
        self.run_task_settled(run_id, task, state, overrides, &AtomicBool::new(false))
            .await
    }

    /// [`Runner::run_task`], whose outcome is recorded only if `settled` is still false when
    /// the task ends (it is then set): the server's watchdog sets it first when it records a
    /// task whose code never returned (see [`Runner::record_abandoned`]).
    pub(crate) async fn run_task_settled(
        &self,
        run_id: &str,
        task: usize,
        state: T::State,
        overrides: TaskOverrides,
        settled: &AtomicBool,
    ) -> Result<T::State, TaskFailure> {
        let registry = self.registry();
        let spec = &registry.tasks[task];
        let failure = |kind: TaskErrorKind, message: String| TaskFailure {
            task: spec.name.to_owned(),
            kind,
            message,
            attempts: 0,
        };
        let log_failure = |e: crate::StorageError| failure(TaskErrorKind::Failed, e.to_string());
        let tasks = registry.tasks.len();
        // A log in memory is called in place: the run is opened under the map's lock in one
        // step (no waiting, no opening state). A log that blocks is opened off the worker
        // threads, by one task of the run at a time.
        let admitted = if self.storage.blocks() {
            self.join_browser_run(run_id, task, &state).await
        } else {
            self.browser_runs.claim_in_place(run_id, task, tasks, || {
                let record = self.run_record(run_id.to_owned(), kickoff_inputs(registry, &state));
                self.storage.create_run(&record)
            })
        };
        admitted
            .map_err(log_failure)?
            .map_err(|why| failure(TaskErrorKind::RunNotOpen, why))?;
        #[cfg(feature = "postgres")]
        if let Some(queue) = &self.workers {
            let record = self
                .run_on_workers(queue, run_id, task, overrides.overall)
                .await
                .map_err(log_failure)?;
            if settled.swap(true, Ordering::AcqRel) {
                return Err(failure(
                    TaskErrorKind::Timeout,
                    "the task returned after it was recorded as timed out".to_owned(),
                ));
            }
            return self
                .finish_worker_task(run_id, spec, task, record, state)
                .await
                .map_err(log_failure)?;
        }
        let state = Mutex::new(state);
        let shared_run_id: Arc<str> = Arc::from(run_id);
        let context = OnceLock::new();
        let clock = ClockAnchor::now();
        let done = self
            .attempt(task, &state, &context, &shared_run_id, &clock, overrides)
            .await;
        let (record, outcome) = done.settle(run_id.to_owned(), spec, false, &state);
        if settled.swap(true, Ordering::AcqRel) {
            // The watchdog answered and recorded this task as timed out: that stays.
            return Err(failure(
                TaskErrorKind::Timeout,
                "the task returned after it was recorded as timed out".to_owned(),
            ));
        }
        let ms = record.duration_ms;
        self.log_call(move |log| log.put_task(record))
            .await
            .map_err(log_failure)?;
        self.finish_browser_task(run_id, spec, task, outcome.as_ref().err(), ms)
            .await
            .map_err(log_failure)?;
        outcome.map(|()| state.into_inner().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether `task` may run under `run_id` now: what [`Runner::run_task`] checks first,
    /// without claiming anything (a request can be refused before it is started).
    pub fn browser_task_admissible(&self, run_id: &str, task: usize) -> Result<(), String> {
        self.browser_runs.admissible(run_id, task)
    }

    /// Records a task whose code did not return within `limit` (it blocks the thread it runs
    /// on, or waited for one, so its own time limit could not fire) as timed out, unless it
    /// has ended meanwhile (`settled`); `inputs` is the state it was given, `kickoff` the run's
    /// inputs should the run not be in the log yet. Finishes the run, failed.
    #[cfg(feature = "server")]
    pub(crate) async fn record_abandoned(
        &self,
        run_id: &str,
        task: usize,
        inputs: crate::JsonText,
        kickoff: serde_json::Value,
        limit: Duration,
        settled: &AtomicBool,
    ) -> Result<Option<TaskFailure>, crate::StorageError> {
        if settled.swap(true, Ordering::AcqRel) {
            return Ok(None);
        }
        let spec = &self.registry().tasks[task];
        let message = format!(
            "task `{}` did not return within {limit:?}: task code blocks the task threads (blocking work belongs in `tokio::task::spawn_blocking`)",
            spec.name
        );
        if self.browser_runs.unopened(run_id) {
            let record = self.run_record(run_id.to_owned(), kickoff);
            self.log_call(move |log| log.create_run(&record)).await?;
        }
        let now = now_rfc3339();
        let record = crate::TaskRecord {
            run_id: run_id.to_owned(),
            task_index: task,
            task_name: std::borrow::Cow::Borrowed(spec.name),
            expected_output: std::borrow::Cow::Borrowed(spec.expected_output),
            inputs,
            output: crate::JsonText::null(),
            status: crate::TaskStatus::Failed,
            error_kind: Some(TaskErrorKind::Timeout.as_str().to_owned()),
            error: Some(message.clone()),
            was_replayed: false,
            started_at: now.clone(),
            finished_at: now,
            duration_ms: limit.as_secs_f64() * 1000.0,
            attempts: 1,
            llm: None,
        };
        let failure = TaskFailure {
            task: spec.name.to_owned(),
            kind: TaskErrorKind::Timeout,
            message,
            attempts: 1,
        };
        self.log_call(move |log| log.put_task(record)).await?;
        let ms = limit.as_secs_f64() * 1000.0;
        self.finish_browser_task(run_id, spec, task, Some(&failure), ms)
            .await?;
        Ok(Some(failure))
    }

    /// A task a worker ran for a browser run: its outcome from its record, the output merged
    /// into `state`, the run finished as [`Runner::finish_browser_task`] does.
    #[cfg(feature = "postgres")]
    async fn finish_worker_task(
        &self,
        run_id: &str,
        spec: &crate::TaskSpec,
        task: usize,
        record: crate::TaskRecord,
        mut state: T::State,
    ) -> Result<Result<T::State, TaskFailure>, crate::StorageError> {
        let outcome = if record.status == crate::TaskStatus::Succeeded {
            match record.output.value() {
                serde_json::Value::Object(fields) => fields
                    .into_iter()
                    .try_for_each(|(field, value)| {
                        crate::TaskState::set_json(&mut state, &field, value)
                    })
                    .map_err(|e| e.to_string()),
                _ => Ok(()),
            }
            .map_err(|why| TaskFailure {
                task: spec.name.to_owned(),
                kind: TaskErrorKind::Failed,
                message: format!("the worker's output does not fit the state: {why}"),
                attempts: record.attempts,
            })
        } else {
            Err(TaskFailure {
                task: spec.name.to_owned(),
                kind: record
                    .error_kind
                    .as_deref()
                    .and_then(TaskErrorKind::from_name)
                    .unwrap_or(TaskErrorKind::Failed),
                message: record.error.clone().unwrap_or_default(),
                attempts: record.attempts,
            })
        };
        self.finish_browser_task(
            run_id,
            spec,
            task,
            outcome.as_ref().err(),
            record.duration_ms,
        )
        .await?;
        Ok(outcome.map(|()| state))
    }

    /// After a task's record is in the log: the run is finished failed when it failed,
    /// succeeded when it was the run's last task to succeed.
    async fn finish_browser_task(
        &self,
        run_id: &str,
        spec: &crate::TaskSpec,
        task: usize,
        failed: Option<&TaskFailure>,
        ms: f64,
    ) -> Result<(), crate::StorageError> {
        let tasks = self.registry().tasks.len();
        let complete = self
            .browser_runs
            .record(run_id, task, failed.is_none(), tasks);
        let finished = match failed {
            Some(failure) => {
                tracing::error!(run_id, task = spec.name, error = %failure, "task failed");
                Some((RunStatus::Failed, Some(failure.to_string())))
            }
            None => {
                tracing::info!(run_id, task = spec.name, ms, "task succeeded");
                complete.then_some((RunStatus::Succeeded, None))
            }
        };
        if let Some((status, error)) = finished {
            let id = run_id.to_owned();
            self.log_call(move |log| log.finish_run(&id, status, &now_rfc3339(), error.as_deref()))
                .await?;
        }
        Ok(())
    }

    /// Admits a task under its run with a log that blocks: the run's first task creates it in
    /// the log off the worker threads, the others wait for it.
    async fn join_browser_run(
        &self,
        run_id: &str,
        task: usize,
        state: &T::State,
    ) -> Result<Result<(), String>, crate::StorageError> {
        let registry = self.registry();
        loop {
            match self.browser_runs.claim(run_id, task) {
                Claim::Known => return Ok(Ok(())),
                Claim::Refused(why) => return Ok(Err(why)),
                // Closed when the other task is done; then look again.
                Claim::Wait(waiting) => drop(waiting.acquire().await),
                Claim::Open => {
                    let mut opening = Opening {
                        runs: &self.browser_runs,
                        run_id,
                        progress: None,
                    };
                    let record =
                        self.run_record(run_id.to_owned(), kickoff_inputs(registry, state));
                    // Boxed: once per run, and the task's future stays small.
                    Box::pin(self.log_call(move |log| log.create_run(&record))).await?;
                    let mut progress = RunProgress::new(registry.tasks.len());
                    let claimed = progress.start(run_id, task);
                    opening.progress = Some(progress);
                    drop(opening);
                    debug_assert!(matches!(claimed, Claim::Known));
                    return Ok(Ok(()));
                }
            }
        }
    }
}
