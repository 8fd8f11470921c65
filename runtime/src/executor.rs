//! Runs a registry: tasks in dependency order, independent branches concurrently, each task's
//! input function -> the user's method -> output function -> a log record.
//!
//! All tasks of a run are polled by the future `run` returns (no task is spawned), so that a
//! linear chain costs no scheduling and the state needs no copy: a task's input copies only
//! the fields it requires, its output moves only the fields it produces.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::{Map, Value};

use crate::log::{ReplayMode, RunRecord, RunStatus, TaskRecord, TaskStatus};
use crate::progress::Progress;
use crate::render::render_static;
use crate::storage::{MemoryStorage, Storage, StorageError};
use crate::time::ClockAnchor;
use crate::{
    JsonText, Registry, TaskContext, TaskError, TaskErrorKind, TaskOutput, TaskSet, TaskSpec,
    TaskState, now_rfc3339,
};

/// How often to try a task and how long to wait between tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first one included (at least 1).
    pub attempts: u32,
    /// The wait before the second try; it doubles before each further one.
    pub backoff: Duration,
}

impl RetryPolicy {
    /// One try.
    pub const NONE: RetryPolicy = RetryPolicy {
        attempts: 1,
        backoff: Duration::ZERO,
    };

    pub fn new(attempts: u32, backoff: Duration) -> Self {
        RetryPolicy {
            attempts: attempts.max(1),
            backoff,
        }
    }

    fn wait_before(&self, attempt: u32) -> Duration {
        // attempt 2 waits `backoff`, attempt 3 twice that, ...
        self.backoff.saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(2))
                .unwrap_or(u32::MAX),
        )
    }
}

/// A finished run: its id and its final state.
#[derive(Debug)]
pub struct Run<S> {
    pub id: String,
    pub state: S,
    /// How many tasks ran (restored ones excluded).
    pub tasks_run: usize,
    pub duration: Duration,
}

/// A task that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    pub task: String,
    pub kind: TaskErrorKind,
    pub message: String,
    pub attempts: u32,
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task `{}` ", self.task)?;
        match self.kind {
            TaskErrorKind::Timeout => write!(f, "timed out")?,
            TaskErrorKind::Panicked => write!(f, "panicked")?,
            TaskErrorKind::MissingField => write!(f, "could not start")?,
            TaskErrorKind::Failed => write!(f, "failed")?,
        }
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a run or a replay did not complete.
#[derive(Debug)]
pub enum RunError {
    /// Kickoff inputs the registry declares were not given.
    MissingInputs { inputs: Vec<String> },
    /// Tasks failed; their dependants were skipped, the other branches finished. Everything is
    /// in the log under `run_id`.
    TasksFailed {
        run_id: String,
        failures: Vec<TaskFailure>,
        skipped: Vec<String>,
    },
    /// The log could not be written or read.
    Storage(StorageError),
    /// A replay named a run the log does not have.
    UnknownRun { run_id: String, storage: String },
    /// A replay named a task the registry does not have.
    UnknownTask { task: String, known: Vec<String> },
    /// The run to replay was made by another version of the yaml.
    RegistryMismatch {
        run_id: String,
        stored: String,
        current: String,
    },
    /// The state before the replayed task cannot be rebuilt from the log.
    NotRestorable { run_id: String, reason: String },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::MissingInputs { inputs } => write!(
                f,
                "missing kickoff input{}: {} (the registry declares {} under `inputs`)",
                if inputs.len() == 1 { "" } else { "s" },
                inputs
                    .iter()
                    .map(|i| format!("`{i}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if inputs.len() == 1 { "it" } else { "them" }
            ),
            RunError::TasksFailed {
                run_id,
                failures,
                skipped,
            } => {
                write!(f, "run {run_id} failed: ")?;
                let failures: Vec<String> = failures.iter().map(ToString::to_string).collect();
                f.write_str(&failures.join("; "))?;
                if !skipped.is_empty() {
                    write!(f, "; not run because of it: {}", skipped.join(", "))?;
                }
                Ok(())
            }
            RunError::Storage(e) => e.fmt(f),
            RunError::UnknownRun { run_id, storage } => {
                write!(f, "there is no run `{run_id}` in {storage}")
            }
            RunError::UnknownTask { task, known } => write!(
                f,
                "there is no task `{task}` in the registry (its tasks: {})",
                known.join(", ")
            ),
            RunError::RegistryMismatch {
                run_id,
                stored,
                current,
            } => write!(
                f,
                "run {run_id} was made from another version of the tasks file (hash {stored}, now {current}); replaying it could mix incompatible outputs; force the replay to do it anyway"
            ),
            RunError::NotRestorable { run_id, reason } => {
                write!(f, "cannot rebuild the state of run {run_id}: {reason}")
            }
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Storage(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StorageError> for RunError {
    fn from(e: StorageError) -> Self {
        RunError::Storage(e)
    }
}

/// What a replay re-runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// The run to replay (it is never modified: the replay is a new run linked to it).
    pub run_id: String,
    /// The task to start from, or the only task to run.
    pub task: String,
    pub mode: ReplayMode,
    /// Replay even if the run came from another version of the yaml.
    pub force: bool,
}

impl Replay {
    /// Re-run `task` and every task after it.
    pub fn from(run_id: impl Into<String>, task: impl Into<String>) -> Self {
        Replay {
            run_id: run_id.into(),
            task: task.into(),
            mode: ReplayMode::From,
            force: false,
        }
    }

    /// Re-run `task` alone, with the inputs rebuilt from the run.
    pub fn only(run_id: impl Into<String>, task: impl Into<String>) -> Self {
        Replay {
            mode: ReplayMode::Only,
            ..Self::from(run_id, task)
        }
    }

    /// Replay even if the stored run came from another version of the yaml.
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }
}

/// Executes a [`TaskSet`] (the generated `Crew(your_impl)`), logging to a [`Storage`].
pub struct Runner<T: TaskSet> {
    tasks: T,
    storage: Arc<dyn Storage>,
    timeout: Option<Duration>,
    retry: RetryPolicy,
    task_timeouts: HashMap<String, Duration>,
    task_retries: HashMap<String, RetryPolicy>,
    progress: bool,
    /// For each task, the tasks that depend on it.
    dependants: Vec<Vec<usize>>,
    /// Held while `run_task` looks for its run and creates it: two branches of one browser
    /// run may start at once.
    run_creation: Mutex<()>,
}

impl<T: TaskSet> Runner<T> {
    /// A runner logging to memory; see [`Runner::storage`].
    pub fn new(tasks: T) -> Self {
        let registry = tasks.registry();
        let mut dependants = vec![Vec::new(); registry.tasks.len()];
        for (i, task) in registry.tasks.iter().enumerate() {
            for &d in task.depends_on {
                dependants[d].push(i);
            }
        }
        Runner {
            tasks,
            storage: Arc::new(MemoryStorage::new()),
            timeout: None,
            retry: RetryPolicy::NONE,
            task_timeouts: HashMap::new(),
            task_retries: HashMap::new(),
            progress: true,
            dependants,
            run_creation: Mutex::new(()),
        }
    }

    /// Where the execution log goes (e.g. `SqliteStorage::open("runs.db")?`).
    pub fn storage(mut self, storage: impl Storage + 'static) -> Self {
        self.storage = Arc::new(storage);
        self
    }

    /// Shares a storage with other code (the seed's handler, a server).
    pub fn shared_storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.storage = storage;
        self
    }

    /// The log this runner writes to.
    pub fn log(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The task set it runs.
    pub fn task_set(&self) -> &T {
        &self.tasks
    }

    /// A time limit for every try of every task without its own (`timeout` in the yaml or
    /// [`Runner::task_timeout`]). Needs a tokio runtime with the time driver.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// The retry policy of every task without its own.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// A time limit for one task, over the yaml's.
    pub fn task_timeout(mut self, task: &str, limit: Duration) -> Self {
        self.task_timeouts.insert(task.to_owned(), limit);
        self
    }

    /// A retry policy for one task, over the yaml's.
    pub fn task_retry(mut self, task: &str, policy: RetryPolicy) -> Self {
        self.task_retries.insert(task.to_owned(), policy);
        self
    }

    /// Whether to draw progress bars when stderr is a terminal (default: true). `tracing`
    /// events are emitted either way.
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    fn registry(&self) -> &'static Registry<T::State> {
        self.tasks.registry()
    }

    fn limits(&self, spec: &TaskSpec) -> (Option<Duration>, RetryPolicy) {
        if self.task_timeouts.is_empty() && self.task_retries.is_empty() {
            let timeout = spec.timeout_ms.map(Duration::from_millis).or(self.timeout);
            let retry = spec.retry.map_or(self.retry, |r| {
                RetryPolicy::new(r.attempts, Duration::from_millis(r.backoff_ms))
            });
            return (timeout, retry);
        }
        let timeout = self
            .task_timeouts
            .get(spec.name)
            .copied()
            .or(spec.timeout_ms.map(Duration::from_millis))
            .or(self.timeout);
        let retry = self
            .task_retries
            .get(spec.name)
            .copied()
            .or(spec
                .retry
                .map(|r| RetryPolicy::new(r.attempts, Duration::from_millis(r.backoff_ms))))
            .unwrap_or(self.retry);
        (timeout, retry)
    }

    /// Runs every task from `initial` (which holds the kickoff inputs) under a new run id.
    pub async fn run(&self, initial: T::State) -> Result<Run<T::State>, RunError> {
        self.run_with_id(new_run_id(), initial).await
    }

    /// Runs every task under the given run id.
    pub async fn run_with_id(
        &self,
        run_id: String,
        initial: T::State,
    ) -> Result<Run<T::State>, RunError> {
        let registry = self.registry();
        let missing: Vec<String> = registry
            .inputs
            .iter()
            .filter(|f| !initial.is_set(f.name).unwrap_or(false))
            .map(|f| f.name.to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(RunError::MissingInputs { inputs: missing });
        }
        let record = self.run_record(run_id, kickoff_inputs(registry, &initial));
        self.storage.create_run(&record)?;
        let to_run = vec![true; registry.tasks.len()];
        self.execute(record.id, initial, to_run, false).await
    }

    /// Runs one task by index on `state`, under `run_id`, as the WebSocket server does for a
    /// browser that plays the Petri net: the task's time limit and retries apply, the record
    /// goes to the log (the run is created on its first task, with the state's kickoff inputs,
    /// and marked succeeded once every task of the registry has succeeded in it, failed when
    /// one fails). Returns the state with the task's output merged.
    pub async fn run_task(
        &self,
        run_id: &str,
        task: usize,
        state: T::State,
    ) -> Result<T::State, TaskFailure> {
        let registry = self.registry();
        let spec = &registry.tasks[task];
        let log_failure = |message: String| TaskFailure {
            task: spec.name.to_owned(),
            kind: TaskErrorKind::Failed,
            message,
            attempts: 0,
        };
        {
            let _creating = lock(&self.run_creation);
            let existing = self
                .storage
                .run(run_id)
                .map_err(|e| log_failure(e.to_string()))?;
            if existing.is_none() {
                let record = self.run_record(run_id.to_owned(), kickoff_inputs(registry, &state));
                self.storage
                    .create_run(&record)
                    .map_err(|e| log_failure(e.to_string()))?;
            }
        }
        let state = Mutex::new(state);
        let shared_run_id: Arc<str> = Arc::from(run_id);
        let context = OnceLock::new();
        let done = self
            .attempt(task, &state, &context, &shared_run_id, &ClockAnchor::now())
            .await;
        let (mut record, result) = done.into_record(run_id.to_owned(), spec, false);
        let mut state = state.into_inner().unwrap_or_else(|p| p.into_inner());
        let result = match result {
            Ok(output) => {
                record.output = output.to_json().unwrap_or_else(|e| {
                    JsonText::from(Value::String(format!("<output not serializable: {e}>")))
                });
                output.apply(&mut state);
                record.finished_at = state
                    .execution_log()
                    .last()
                    .map_or_else(now_rfc3339, |e| e.timestamp.clone());
                tracing::info!(
                    run_id,
                    task = spec.name,
                    ms = record.duration_ms,
                    "task succeeded"
                );
                Ok(state)
            }
            Err(error) => {
                let failure = TaskFailure {
                    task: spec.name.to_owned(),
                    kind: error.kind(),
                    message: error.to_string(),
                    attempts: record.attempts,
                };
                tracing::error!(run_id, task = spec.name, error = %failure, "task failed");
                record.finished_at = now_rfc3339();
                record.status = TaskStatus::Failed;
                record.error_kind = Some(error.kind().as_str().to_owned());
                record.error = Some(failure.message.clone());
                Err(failure)
            }
        };
        self.storage
            .put_task(record)
            .map_err(|e| log_failure(e.to_string()))?;
        let finished = match &result {
            Err(failure) => Some((RunStatus::Failed, Some(failure.to_string()))),
            Ok(_) => {
                let records = self
                    .storage
                    .tasks(run_id)
                    .map_err(|e| log_failure(e.to_string()))?;
                let succeeded = records
                    .iter()
                    .filter(|r| r.status == TaskStatus::Succeeded)
                    .count();
                (succeeded == registry.tasks.len()).then_some((RunStatus::Succeeded, None))
            }
        };
        if let Some((status, error)) = finished {
            self.storage
                .finish_run(run_id, status, &now_rfc3339(), error.as_deref())
                .map_err(|e| log_failure(e.to_string()))?;
        }
        result
    }

    /// Replays a stored run as a new run linked to it: the state before the task is rebuilt
    /// from the stored outputs, then the task (and, with [`ReplayMode::From`], every task
    /// after it) runs again, marked `was_replayed`. The stored run is never modified.
    pub async fn replay(&self, replay: &Replay) -> Result<Run<T::State>, RunError> {
        let registry = self.registry();
        let parent = self
            .storage
            .run(&replay.run_id)?
            .ok_or_else(|| RunError::UnknownRun {
                run_id: replay.run_id.clone(),
                storage: self.storage.describe(),
            })?;
        if !replay.force
            && (parent.registry != registry.name || parent.source_hash != registry.source_hash)
        {
            return Err(RunError::RegistryMismatch {
                run_id: parent.id,
                stored: format!("{}:{}", parent.registry, parent.source_hash),
                current: format!("{}:{}", registry.name, registry.source_hash),
            });
        }
        let target = registry
            .task_index(&replay.task)
            .ok_or_else(|| RunError::UnknownTask {
                task: replay.task.clone(),
                known: registry.tasks.iter().map(|t| t.name.to_owned()).collect(),
            })?;
        let not_restorable = |reason: String| RunError::NotRestorable {
            run_id: parent.id.clone(),
            reason,
        };
        let mut state = T::State::default();
        if let Value::Object(inputs) = &parent.inputs {
            for (field, value) in inputs {
                state
                    .set_json(field, value.clone())
                    .map_err(|e| not_restorable(format!("kickoff input: {e}")))?;
            }
        }
        let stored: HashMap<String, TaskRecord> = self
            .storage
            .tasks(&parent.id)?
            .into_iter()
            .map(|t| (t.task_name.to_string(), t))
            .collect();
        let position = registry
            .order
            .iter()
            .position(|&i| i == target)
            .unwrap_or(0);
        let run_id = new_run_id();
        let mut restored = Vec::with_capacity(position);
        for &i in &registry.order[..position] {
            let name = registry.tasks[i].name;
            let record = stored
                .get(name)
                .filter(|r| matches!(r.status, TaskStatus::Succeeded | TaskStatus::Restored))
                .ok_or_else(|| {
                    not_restorable(format!(
                        "task `{name}` (before `{}`) has no stored output; replay from `{name}` instead",
                        replay.task
                    ))
                })?;
            if let Value::Object(fields) = record.output.value() {
                for (field, value) in fields {
                    state
                        .set_json(&field, value)
                        .map_err(|e| not_restorable(format!("output of `{name}`: {e}")))?;
                }
            }
            state.record(name);
            restored.push(TaskRecord {
                run_id: run_id.clone(),
                task_index: i,
                status: TaskStatus::Restored,
                was_replayed: false,
                ..record.clone()
            });
        }
        let mut to_run = vec![false; registry.tasks.len()];
        match replay.mode {
            ReplayMode::From => registry.order[position..]
                .iter()
                .for_each(|&i| to_run[i] = true),
            ReplayMode::Only => to_run[target] = true,
        }
        let record = RunRecord {
            parent_run: Some(parent.id.clone()),
            replay_task: Some(replay.task.clone()),
            replay_mode: Some(replay.mode),
            ..self.run_record(run_id, parent.inputs.clone())
        };
        self.storage.create_run(&record)?;
        self.storage.put_tasks(restored)?;
        self.execute(record.id, state, to_run, true).await
    }

    /// A new run of this registry, started now.
    fn run_record(&self, id: String, inputs: Value) -> RunRecord {
        let registry = self.registry();
        RunRecord {
            id,
            registry: registry.name.to_owned(),
            source_hash: registry.source_hash.to_owned(),
            started_at: now_rfc3339(),
            finished_at: None,
            status: RunStatus::Running,
            inputs,
            parent_run: None,
            replay_task: None,
            replay_mode: None,
            error: None,
        }
    }

    /// Runs the tasks marked in `to_run`; the others count as done.
    async fn execute(
        &self,
        run_id: String,
        initial: T::State,
        to_run: Vec<bool>,
        replayed: bool,
    ) -> Result<Run<T::State>, RunError> {
        let registry = self.registry();
        let started = Instant::now();
        let n = registry.tasks.len();
        let mut waiting_for: Vec<usize> = registry
            .tasks
            .iter()
            .map(|t| t.depends_on.iter().filter(|&&d| to_run[d]).count())
            .collect();
        let mut ready: VecDeque<usize> = registry
            .order
            .iter()
            .copied()
            .filter(|&i| to_run[i] && waiting_for[i] == 0)
            .collect();
        let state = Mutex::new(initial);
        let shared_run_id: Arc<str> = Arc::from(run_id.as_str());
        let contexts: Vec<OnceLock<TaskContext>> = (0..n).map(|_| OnceLock::new()).collect();
        let clock = ClockAnchor::now();
        let planned = to_run.iter().filter(|&&r| r).count();
        self.storage.expect_tasks(&run_id, planned);
        let progress = Progress::new(self.progress, registry, planned);
        let mut running = FuturesUnordered::new();
        let mut failures = Vec::new();
        let mut skipped = Vec::new();
        let mut blocked = vec![false; n];
        let mut tasks_run = 0;
        tracing::info!(run_id, registry = registry.name, replayed, "run started");
        loop {
            while let Some(i) = ready.pop_front() {
                progress.started(i);
                running.push(self.attempt(i, &state, &contexts[i], &shared_run_id, &clock));
            }
            let Some(done) = running.next().await else {
                break;
            };
            tasks_run += 1;
            let i = done.index;
            let spec = &registry.tasks[i];
            let (mut record, result) = done.into_record(run_id.clone(), spec, replayed);
            match result {
                Ok(output) => {
                    record.output = output.to_json().unwrap_or_else(|e| {
                        JsonText::from(Value::String(format!("<output not serializable: {e}>")))
                    });
                    {
                        let mut state = lock(&state);
                        output.apply(&mut state);
                        // The output function just stamped the state's log: the same instant.
                        record.finished_at = state
                            .execution_log()
                            .last()
                            .map_or_else(now_rfc3339, |e| e.timestamp.clone());
                    }
                    let ms = record.duration_ms;
                    // Logged before it is reported: a task shown as done is in the log, even
                    // if the process dies right after.
                    self.storage.put_task(record)?;
                    progress.finished(i, None);
                    tracing::info!(run_id, task = spec.name, ms, "task succeeded");
                    for &d in &self.dependants[i] {
                        if to_run[d] {
                            waiting_for[d] -= 1;
                            if waiting_for[d] == 0 && !blocked[d] {
                                ready.push_back(d);
                            }
                        }
                    }
                }
                Err(error) => {
                    let failure = TaskFailure {
                        task: spec.name.to_owned(),
                        kind: error.kind(),
                        message: error.to_string(),
                        attempts: record.attempts,
                    };
                    record.finished_at = now_rfc3339();
                    record.status = TaskStatus::Failed;
                    record.error_kind = Some(error.kind().as_str().to_owned());
                    record.error = Some(failure.message.clone());
                    self.storage.put_task(record)?;
                    progress.finished(i, Some(&failure.to_string()));
                    tracing::error!(run_id, task = spec.name, error = %failure, "task failed");
                    let newly_blocked = self.block_dependants(i, &to_run, &mut blocked);
                    for d in newly_blocked {
                        skipped.push(registry.tasks[d].name.to_owned());
                        progress.skipped(d);
                        self.storage
                            .put_task(self.skipped_record(&run_id, d, spec.name, replayed))?;
                    }
                    failures.push(failure);
                }
            }
        }
        drop(running);
        let finished_at = now_rfc3339();
        let state = state.into_inner().unwrap_or_else(|p| p.into_inner());
        if failures.is_empty() {
            self.storage
                .finish_run(&run_id, RunStatus::Succeeded, &finished_at, None)?;
            tracing::info!(run_id, tasks_run, "run succeeded");
            Ok(Run {
                id: run_id,
                state,
                tasks_run,
                duration: started.elapsed(),
            })
        } else {
            let error = RunError::TasksFailed {
                run_id: run_id.clone(),
                failures,
                skipped,
            };
            self.storage.finish_run(
                &run_id,
                RunStatus::Failed,
                &finished_at,
                Some(&error.to_string()),
            )?;
            Err(error)
        }
    }

    /// Marks every task downstream of `failed` that was due to run; returns the new ones.
    fn block_dependants(&self, failed: usize, to_run: &[bool], blocked: &mut [bool]) -> Vec<usize> {
        let mut newly = Vec::new();
        let mut stack = vec![failed];
        while let Some(t) = stack.pop() {
            for &d in &self.dependants[t] {
                if to_run[d] && !blocked[d] {
                    blocked[d] = true;
                    newly.push(d);
                    stack.push(d);
                }
            }
        }
        newly.sort_unstable();
        newly
    }

    fn skipped_record(
        &self,
        run_id: &str,
        task: usize,
        because: &str,
        replayed: bool,
    ) -> TaskRecord {
        let spec = &self.registry().tasks[task];
        let now = now_rfc3339();
        TaskRecord {
            run_id: run_id.to_owned(),
            task_index: task,
            task_name: Cow::Borrowed(spec.name),
            expected_output: Cow::Borrowed(spec.expected_output),
            inputs: JsonText::null(),
            output: JsonText::null(),
            status: TaskStatus::Skipped,
            error_kind: Some("skipped".to_owned()),
            error: Some(format!("not run: `{because}` failed upstream")),
            was_replayed: replayed,
            started_at: now.clone(),
            finished_at: now,
            duration_ms: 0.0,
            attempts: 0,
        }
    }

    /// One task, with its retries and time limit: input -> method -> output (not yet merged).
    ///
    /// The input, the context and the first call are prepared before the future is built, so
    /// that the future (which the run keeps per task in flight) holds little.
    fn attempt<'a>(
        &'a self,
        index: usize,
        state: &'a Mutex<T::State>,
        context: &'a OnceLock<TaskContext>,
        run_id: &'a Arc<str>,
        clock: &ClockAnchor,
    ) -> impl Future<Output = Finished<T::State>> + Send + 'a {
        let started = Instant::now();
        let started_at = clock.rfc3339(started);
        let registry = self.registry();
        let spec = &registry.tasks[index];
        let (timeout, retry) = self.limits(spec);
        // Two statements: a guard lives to the end of its statement, and the closure locks again.
        let inputs = self.tasks.input_json(index, &lock(state));
        let prepared = inputs.map(|inputs| {
            let ctx = context.get_or_init(|| task_context(registry, spec, run_id, &inputs));
            let first = self.tasks.call(index, ctx, &lock(state));
            (inputs, ctx, first)
        });
        async move {
            let (inputs, ctx, mut call) = match prepared {
                Ok(prepared) => prepared,
                Err(error) => {
                    return Finished {
                        index,
                        result: Err(error),
                        inputs: JsonText::null(),
                        attempts: 1,
                        started_at,
                        duration: started.elapsed(),
                    };
                }
            };
            let mut attempt = 1;
            let result = loop {
                let result = match call {
                    Err(missing) => Err(TaskError::missing(missing)),
                    Ok(call) => guarded(call, timeout).await,
                };
                match result {
                    Err(error)
                        if attempt < retry.attempts
                            && error.kind() != TaskErrorKind::MissingField =>
                    {
                        attempt += 1;
                        let wait = retry.wait_before(attempt);
                        tracing::warn!(run_id = &**run_id, task = spec.name, attempt, error = %error, ?wait, "task failed, retrying");
                        if !wait.is_zero() {
                            // Boxed: timers are rare here, and the task's future stays small.
                            Box::pin(tokio::time::sleep(wait)).await;
                        }
                        // Built from the state on each try; the lock is held only while
                        // copying the fields.
                        call = self.tasks.call(index, ctx, &lock(state));
                    }
                    other => break other,
                }
            };
            Finished {
                index,
                result,
                inputs,
                attempts: attempt,
                started_at,
                duration: started.elapsed(),
            }
        }
    }
}

struct Finished<S> {
    index: usize,
    result: Result<Box<dyn TaskOutput<S>>, TaskError>,
    inputs: JsonText,
    attempts: u32,
    started_at: String,
    duration: Duration,
}

impl<S> Finished<S> {
    /// The task's log record (succeeded until the caller learns otherwise) and its result.
    #[allow(clippy::type_complexity)]
    fn into_record(
        self,
        run_id: String,
        spec: &TaskSpec,
        replayed: bool,
    ) -> (TaskRecord, Result<Box<dyn TaskOutput<S>>, TaskError>) {
        let record = TaskRecord {
            run_id,
            task_index: self.index,
            task_name: Cow::Borrowed(spec.name),
            expected_output: Cow::Borrowed(spec.expected_output),
            inputs: self.inputs,
            output: JsonText::null(),
            status: TaskStatus::Succeeded,
            error_kind: None,
            error: None,
            was_replayed: replayed,
            started_at: self.started_at,
            finished_at: String::new(),
            duration_ms: self.duration.as_secs_f64() * 1000.0,
            attempts: self.attempts,
        };
        (record, self.result)
    }
}

fn lock<S>(state: &Mutex<S>) -> MutexGuard<'_, S> {
    // A panicking task never holds the lock (it is taken only to copy fields in and out).
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// The kickoff inputs of a state, as a JSON object.
fn kickoff_inputs<S: TaskState>(registry: &Registry<S>, state: &S) -> Value {
    let mut inputs = Map::new();
    for field in registry.inputs {
        if let Ok(Some(value)) = state.get_json(field.name) {
            inputs.insert(field.name.to_owned(), value);
        }
    }
    Value::Object(inputs)
}

/// The task's context: description, expected output and agent rendered from its input.
fn task_context<S>(
    registry: &'static Registry<S>,
    spec: &'static TaskSpec,
    run_id: &Arc<str>,
    inputs: &JsonText,
) -> TaskContext {
    let agent = spec.agent.and_then(|a| registry.agent(a));
    let texts = [spec.description, spec.expected_output];
    let agent_texts = agent.map(|a| [a.role, a.goal, a.backstory]);
    let has_placeholders = texts
        .iter()
        .chain(agent_texts.iter().flatten())
        .any(|t| t.contains('{'));
    // The values are the task's input: its required fields and its input_data keys.
    let mut values = Map::new();
    if has_placeholders && let Value::Object(fields) = inputs.value() {
        values = fields;
        if let Some(Value::Object(data)) = values.remove("input_data") {
            values.extend(data);
        }
    }
    TaskContext {
        task: spec.name,
        run_id: run_id.clone(),
        description: render_static(spec.description, &values),
        expected_output: render_static(spec.expected_output, &values),
        agent: spec.agent,
        role: agent.map(|a| render_static(a.role, &values)),
        goal: agent.map(|a| render_static(a.goal, &values)),
        backstory: agent.map(|a| render_static(a.backstory, &values)),
    }
}

/// Awaits a task's future with its time limit, turning a panic into the task's error.
async fn guarded<F, O>(future: F, timeout: Option<Duration>) -> Result<O, TaskError>
where
    F: Future<Output = Result<O, TaskError>>,
{
    match timeout {
        None => CatchUnwind(future).await,
        // Boxed, so that a task without a time limit does not carry a timer in its future.
        Some(limit) => match Box::pin(tokio::time::timeout(limit, CatchUnwind(future))).await {
            Ok(result) => result,
            Err(_) => Err(TaskError::with_kind(
                TaskErrorKind::Timeout,
                format!("no result within {limit:?}"),
            )),
        },
    }
}

/// Polls a future inside `catch_unwind`: a panicking task becomes that task's error.
struct CatchUnwind<F>(F);

impl<F, O> Future for CatchUnwind<F>
where
    F: Future<Output = Result<O, TaskError>>,
{
    type Output = Result<O, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field; it is never moved out.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic with a non-string payload".to_owned());
                Poll::Ready(Err(TaskError::with_kind(
                    TaskErrorKind::Panicked,
                    format!("panicked: {message}"),
                )))
            }
        }
    }
}

/// A run id: time-ordered (hex milliseconds) then random, e.g. `19a8f3c2e1b-5f3e9a1c`.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(now.as_nanos());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    format!("{:x}-{:08x}", now.as_millis(), hasher.finish() as u32)
}
