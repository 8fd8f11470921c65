//! One task's attempt: its input, the user's method under a time limit and a panic guard, and
//! its retries; then the outcome as a log record, shared by every way a task runs.

use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::{Runner, TaskFailure, lock};
use crate::log::{TaskRecord, TaskStatus};
use crate::time::ClockAnchor;
use crate::{
    JsonText, Registry, TaskContext, TaskError, TaskErrorKind, TaskOutput, TaskSet, TaskSpec,
    TaskState, now_rfc3339,
};
use tasknet_contract::placeholder::render;

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

/// What a caller sets for one task over the runner's own settings (the task server, for the
/// tasks its clients ask for).
#[derive(Default)]
pub(crate) struct TaskOverrides {
    /// A limit on the whole task, tries and waits included.
    pub(crate) overall: Option<Duration>,
    /// Who reviews the answers of a `human_input` task (the client that asked for the task).
    #[cfg(feature = "llm")]
    pub(crate) human: Option<crate::llm::Reviewer>,
}

impl<T: TaskSet> Runner<T> {
    /// One task, with its retries and time limit: input -> method -> output (not yet merged).
    ///
    /// The input, the context and the first call are prepared before the future is built, so
    /// that the future (which the run keeps per task in flight) holds little.
    pub(super) fn attempt<'a>(
        &'a self,
        index: usize,
        state: &'a Mutex<T::State>,
        context: &'a OnceLock<TaskContext>,
        run_id: &'a Arc<str>,
        clock: &ClockAnchor,
        overrides: TaskOverrides,
    ) -> impl Future<Output = Finished<T::State>> + Send + 'a {
        let TaskOverrides {
            overall,
            #[cfg(feature = "llm")]
            human,
        } = overrides;
        let started = Instant::now();
        let started_at = clock.rfc3339(started);
        let registry = self.registry();
        let spec = &registry.tasks[index];
        let (timeout, retry) = self.limits(spec);
        // A limit on the whole task (the server's), tries and waits included: each try gets
        // what is left of it, and no try starts after it.
        let deadline = overall.map(|limit| (started + limit, limit));
        let try_limit = move |attempt: u32| match (timeout, deadline) {
            (_, Some((end, limit))) => {
                // The first try starts now: all of the limit is left (no clock read).
                let left = if attempt == 1 {
                    limit
                } else {
                    end.saturating_duration_since(Instant::now())
                };
                Some(match timeout {
                    Some(own) if own < left => Limit::Own(own),
                    _ => Limit::Overall(left, limit),
                })
            }
            (Some(own), None) => Some(Limit::Own(own)),
            (None, None) => None,
        };
        // Two statements: a guard lives to the end of its statement, and the closure locks again.
        let inputs = self.tasks.input_json(index, &lock(state));
        let prepared = inputs.map(|inputs| {
            let ctx = context.get_or_init(|| {
                let ctx = task_context(registry, spec, run_id, &inputs);
                #[cfg(feature = "llm")]
                let ctx = TaskContext {
                    llm: self.llm_for(spec),
                    human: human.or_else(|| self.human.clone()),
                    ..ctx
                };
                ctx
            });
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
                        llm: None,
                    };
                }
            };
            let mut attempt = 1;
            let result = loop {
                let result = match call {
                    Err(missing) => Err(TaskError::missing(missing)),
                    Ok(call) => guarded(call, try_limit(attempt)).await,
                };
                // Read only when a retry is due: a task that succeeds reads no clock here.
                let time_left = || deadline.is_none_or(|(end, _)| Instant::now() < end);
                match result {
                    Err(error)
                        if attempt < retry.attempts
                            && error.kind() != TaskErrorKind::MissingField
                            && time_left() =>
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
                llm: ctx.take_llm_usage(),
            }
        }
    }
}

pub(super) struct Finished<S> {
    pub(super) index: usize,
    result: Result<Box<dyn TaskOutput<S>>, TaskError>,
    inputs: JsonText,
    attempts: u32,
    started_at: String,
    duration: Duration,
    llm: Option<crate::LlmUsage>,
}

impl<S: TaskState> Finished<S> {
    /// The outcome, recorded: on success the output is merged into `state` and the record
    /// holds it; on failure the record holds the error. Every way a task runs (a run, a
    /// replay, a browser's single task) settles through here.
    pub(super) fn settle(
        self,
        run_id: String,
        spec: &TaskSpec,
        replayed: bool,
        state: &Mutex<S>,
    ) -> (TaskRecord, Result<(), TaskFailure>) {
        let (mut record, result) = self.into_record(run_id, spec, replayed);
        match result {
            Ok(output) => {
                record.output = output.to_json().unwrap_or_else(|e| {
                    JsonText::from(Value::String(format!("<output not serializable: {e}>")))
                });
                let mut state = lock(state);
                output.apply(&mut state);
                // The output function just stamped the state's log: the same instant.
                record.finished_at = state
                    .execution_log()
                    .last()
                    .map_or_else(now_rfc3339, |e| e.timestamp.clone());
                (record, Ok(()))
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
                (record, Err(failure))
            }
        }
    }

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
            llm: self.llm,
        };
        (record, self.result)
    }
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
        description: render(spec.description, &values),
        expected_output: render(spec.expected_output, &values),
        agent: spec.agent,
        role: agent.map(|a| render(a.role, &values)),
        goal: agent.map(|a| render(a.goal, &values)),
        backstory: agent.map(|a| render(a.backstory, &values)),
        produces: spec.produces,
        output_retries: spec.output_retries,
        max_iter: agent.and_then(|a| a.max_iter),
        guardrails: spec.guardrails,
        human_input: spec.human_input,
        ..TaskContext::default()
    }
}

/// A try's time limit: the task's own, or what is left of a limit on the whole task.
#[derive(Debug, Clone, Copy)]
enum Limit {
    Own(Duration),
    /// What is left, and the whole limit (what the message names).
    Overall(Duration, Duration),
}

/// Awaits a task's future with its time limit, turning a panic into the task's error.
async fn guarded<F, O>(future: F, limit: Option<Limit>) -> Result<O, TaskError>
where
    F: Future<Output = Result<O, TaskError>>,
{
    let (wait, named) = match limit {
        None => return CatchUnwind(future).await,
        Some(Limit::Own(own)) => (own, own),
        Some(Limit::Overall(left, whole)) => (left, whole),
    };
    // Boxed, so that a task without a time limit does not carry a timer in its future.
    match Box::pin(tokio::time::timeout(wait, CatchUnwind(future))).await {
        Ok(result) => result,
        Err(_) => Err(TaskError::with_kind(
            TaskErrorKind::Timeout,
            format!("no result within {named:?}"),
        )),
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
