//! Runs a registry: tasks in dependency order, independent branches concurrently, each task's
//! input function -> the user's method -> output function -> a log record.
//!
//! All tasks of a run are polled by the future `run` returns (no task is spawned), so that a
//! linear chain costs no scheduling and the state needs no copy: a task's input copies only
//! the fields it requires, its output moves only the fields it produces.

//!
//! The module is split by job: [`attempt`] runs one task (input, time limit, panic guard,
//! retries) and turns its outcome into a log record, for every way a task runs; `browser`
//! runs single tasks for the WebSocket server; `replay` re-runs stored runs; `error` says
//! why a run failed.

mod attempt;
mod browser;
mod error;
mod replay;
#[cfg(feature = "postgres")]
mod worker;

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::{Map, Value};

pub use attempt::RetryPolicy;
pub(crate) use attempt::TaskOverrides;
pub use error::{RunError, TaskFailure};
pub use replay::Replay;
#[cfg(feature = "postgres")]
pub use worker::{WorkerOptions, WorkerReport};

use crate::log::{RunRecord, RunStatus, TaskRecord, TaskStatus};
use crate::progress::Progress;
use crate::storage::{MemoryStorage, Storage};
use crate::time::ClockAnchor;
use crate::{JsonText, Registry, TaskContext, TaskSet, TaskSpec, TaskState, now_rfc3339};

/// A finished run: its id and its final state.
#[derive(Debug)]
pub struct Run<S> {
    pub id: String,
    pub state: S,
    /// How many tasks ran (restored ones excluded).
    pub tasks_run: usize,
    pub duration: Duration,
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
    /// The browser runs under way (see `browser.rs`).
    browser_runs: browser::BrowserRuns,
    /// The LLM agents answer through.
    #[cfg(feature = "llm")]
    llm: Option<Arc<crate::llm::LlmClient>>,
    /// The clients of the agents whose agents.yaml entry names a model (`llm`), by agent.
    #[cfg(feature = "llm")]
    agent_llms: HashMap<&'static str, Arc<crate::llm::LlmClient>>,
    /// Who reviews the answers of `human_input` tasks.
    #[cfg(feature = "llm")]
    human: Option<crate::llm::Reviewer>,
    /// Where browser runs' tasks go to be run by workers, instead of running here.
    #[cfg(feature = "postgres")]
    workers: Option<Arc<crate::storage::PostgresStorage>>,
}

/// A client per agent that names its model in agents.yaml (`llm: ollama/llama3.2`): on the
/// runner's server when it has one (`default`), as CrewAI asks each agent's model of the
/// configured endpoint; otherwise on the provider's own (Ollama on localhost, OpenAI's API, or
/// `OPENAI_BASE_URL`), with `OPENAI_API_KEY`.
#[cfg(feature = "llm")]
fn agent_llms<S>(
    registry: &'static Registry<S>,
    default: Option<&Arc<crate::llm::LlmClient>>,
) -> HashMap<&'static str, Arc<crate::llm::LlmClient>> {
    use crate::llm::{LlmClient, LlmConfig, OutputMode, split_provider};
    let mut clients = HashMap::new();
    for agent in registry.agents {
        let mode = agent.output_mode.and_then(OutputMode::from_name);
        let own = |config: &mut LlmConfig| {
            if let Some(model) = agent.llm {
                config.model = split_provider(model).1.to_owned();
            }
            if let Some(mode) = mode {
                config.output_mode = mode;
            }
        };
        let client = match (agent.llm, default) {
            (None, _) if mode.is_none() => continue,
            (_, Some(default)) => default.with_config(own),
            (None, None) => continue,
            (Some(model), None) => {
                let mut config = LlmConfig::for_model(model, std::env::var("OPENAI_BASE_URL").ok());
                own(&mut config);
                match LlmClient::new(config) {
                    Ok(client) => client,
                    Err(why) => {
                        tracing::warn!(agent = agent.name, %why, "no client for the agent's model");
                        continue;
                    }
                }
            }
        };
        clients.insert(agent.name, Arc::new(client));
    }
    clients
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
            browser_runs: browser::BrowserRuns::default(),
            #[cfg(feature = "llm")]
            llm: None,
            #[cfg(feature = "llm")]
            agent_llms: agent_llms(registry, None),
            #[cfg(feature = "llm")]
            human: None,
            #[cfg(feature = "postgres")]
            workers: None,
        }
    }

    /// Who reviews the answers of the tasks with `human_input: true` (the `App` binary uses
    /// the terminal when it has one). Without one, a run of a crew with such a task fails at
    /// its start.
    #[cfg(feature = "llm")]
    pub fn human_input(mut self, reviewer: Arc<dyn crate::llm::HumanFeedback>) -> Self {
        self.human = Some(crate::llm::Reviewer(reviewer));
        self
    }

    /// The tasks that ask for human input when no one can give it.
    fn unanswerable_human_input(&self) -> Result<(), RunError> {
        #[cfg(feature = "llm")]
        if self.human.is_some() {
            return Ok(());
        }
        let tasks: Vec<String> = self
            .registry()
            .tasks
            .iter()
            .filter(|t| t.human_input)
            .map(|t| t.name.to_owned())
            .collect();
        if tasks.is_empty() {
            Ok(())
        } else {
            Err(RunError::NoHumanInput { tasks })
        }
    }

    /// The LLM the tasks' agents answer through: every task method left to its agent (the
    /// generated default) calls it, and a hand-written one finds it in `ctx.llm`.
    #[cfg(feature = "llm")]
    pub fn llm(mut self, client: Arc<crate::llm::LlmClient>) -> Self {
        self.agent_llms = agent_llms(self.registry(), Some(&client));
        self.llm = Some(client);
        self
    }

    /// The LLM `task`'s agent answers through: its own model (agents.yaml's `llm`), or the
    /// runner's.
    #[cfg(feature = "llm")]
    pub(crate) fn llm_for(&self, task: &TaskSpec) -> Option<Arc<crate::llm::LlmClient>> {
        task.agent
            .and_then(|agent| self.agent_llms.get(agent))
            .or(self.llm.as_ref())
            .cloned()
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
        self.check_kickoff_inputs(&initial)?;
        self.unanswerable_human_input()?;
        let record = self.run_record(run_id, kickoff_inputs(registry, &initial));
        let record = self
            .log_call(move |log| log.create_run(&record).map(|()| record))
            .await?;
        let to_run = vec![true; registry.tasks.len()];
        self.execute(record.id, initial, to_run, false).await
    }

    /// Refuses a run whose kickoff inputs are not all set, naming them.
    fn check_kickoff_inputs(&self, initial: &T::State) -> Result<(), RunError> {
        let missing: Vec<String> = self
            .registry()
            .inputs
            .iter()
            .filter(|f| !initial.is_set(f.name).unwrap_or(false))
            .map(|f| f.name.to_owned())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(RunError::MissingInputs { inputs: missing })
        }
    }

    /// A call to the log, made where it cannot block a worker thread (see
    /// [`crate::storage::off_worker`]).
    fn log_call<R, F>(&self, call: F) -> crate::storage::OffWorker<'_, R>
    where
        F: FnOnce(&dyn Storage) -> Result<R, crate::StorageError> + Send + 'static,
        R: Send + 'static,
    {
        crate::storage::off_worker(&self.storage, call)
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
                running.push(self.attempt(
                    i,
                    &state,
                    &contexts[i],
                    &shared_run_id,
                    &clock,
                    TaskOverrides::default(),
                ));
            }
            let Some(done) = running.next().await else {
                break;
            };
            tasks_run += 1;
            let i = done.index;
            let spec = &registry.tasks[i];
            let (record, outcome) = done.settle(run_id.clone(), spec, replayed, &state);
            // Logged before it is reported: a task shown as done is in the log, even if the
            // process dies right after.
            let ms = record.duration_ms;
            self.log_call(move |log| log.put_task(record)).await?;
            match outcome {
                Ok(()) => {
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
                Err(failure) => {
                    progress.finished(i, Some(&failure.to_string()));
                    tracing::error!(run_id, task = spec.name, error = %failure, "task failed");
                    let newly_blocked = self.block_dependants(i, &to_run, &mut blocked);
                    let mut records = Vec::with_capacity(newly_blocked.len());
                    for d in newly_blocked {
                        skipped.push(registry.tasks[d].name.to_owned());
                        progress.skipped(d);
                        records.push(self.skipped_record(&run_id, d, spec.name, replayed));
                    }
                    if !records.is_empty() {
                        self.log_call(move |log| log.put_tasks(records)).await?;
                    }
                    failures.push(failure);
                }
            }
        }
        drop(running);
        let finished_at = now_rfc3339();
        let state = state.into_inner().unwrap_or_else(|p| p.into_inner());
        if failures.is_empty() {
            let id = run_id.clone();
            self.log_call(move |log| log.finish_run(&id, RunStatus::Succeeded, &finished_at, None))
                .await?;
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
            let (id, message) = (run_id.clone(), error.to_string());
            self.log_call(move |log| {
                log.finish_run(&id, RunStatus::Failed, &finished_at, Some(&message))
            })
            .await?;
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
            llm: None,
        }
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
