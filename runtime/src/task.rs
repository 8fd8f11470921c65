use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{JsonText, MissingField, Registry, TaskError, TaskState};

/// What a task method is told about the task it runs. Texts without placeholders are
/// borrowed from the registry, so building a context costs no copy.
#[derive(Debug, Clone, Default)]
pub struct TaskContext {
    /// The task's name in tasks.yaml.
    pub task: &'static str,
    /// The run this execution belongs to.
    pub run_id: Arc<str>,
    /// `description`, with `{placeholders}` filled from the task's input.
    pub description: Cow<'static, str>,
    /// `expected_output`, rendered the same way.
    pub expected_output: Cow<'static, str>,
    /// The agent's name, when the task names one.
    pub agent: Option<&'static str>,
    /// The agent's role, goal and backstory, rendered, when agents.yaml was given.
    pub role: Option<Cow<'static, str>>,
    /// See `role`.
    pub goal: Option<Cow<'static, str>>,
    /// See `role`.
    pub backstory: Option<Cow<'static, str>>,
    /// The fields the task produces, with their types (what an agent's answer must hold).
    pub produces: &'static [crate::FieldSpec],
    /// How often an agent's answer that does not parse, or is rejected, goes back to it
    /// (`guardrail_max_retries`; CrewAI's default, 3, when unset).
    pub output_retries: Option<u32>,
    /// How many tool-calling turns the agent gets (agents.yaml's `max_iter`; CrewAI's
    /// default, 25, when unset).
    pub max_iter: Option<u32>,
    /// Rules an LLM checks the agent's answer against (the task's `guardrail` text).
    pub guardrails: &'static [&'static str],
    /// The LLM the task's agent answers through, when the runner has one
    /// ([`crate::Runner::llm`]).
    #[cfg(feature = "llm")]
    pub llm: Option<Arc<crate::llm::LlmClient>>,
    /// `human_input`: a person reviews the agent's answer.
    pub human_input: bool,
    /// Who reviews it, when the runner has someone ([`crate::Runner::human_input`]).
    #[cfg(feature = "llm")]
    pub human: Option<crate::llm::Reviewer>,
    /// What the task's LLM calls cost so far, for its record.
    pub(crate) usage: Arc<std::sync::Mutex<Option<crate::LlmUsage>>>,
}

impl TaskContext {
    /// Adds an LLM call's cost to the task's record (the agent does it for each call; a
    /// hand-written task that calls a model itself may too).
    pub fn record_llm_usage(&self, usage: &crate::LlmUsage) {
        let mut total = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        total.get_or_insert_with(Default::default).add(usage);
    }

    /// What the task's LLM calls cost, taken out for the record.
    pub(crate) fn take_llm_usage(&self) -> Option<crate::LlmUsage> {
        self.usage.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// A task's typed output, erased so that an executor can log it and merge it into the state.
pub trait TaskOutput<S>: Send + 'static {
    /// The output as JSON text (for the execution log).
    fn to_json(&self) -> Result<JsonText, serde_json::Error>;
    /// Merges the output into the state through the task's output function.
    fn apply(self: Box<Self>, state: &mut S);
}

/// A running task: resolves to its output, ready to merge.
pub type TaskCall<'a, S> =
    Pin<Box<dyn Future<Output = Result<Box<dyn TaskOutput<S>>, TaskError>> + Send + 'a>>;

/// A registry bound to the user's implementation of its generated trait: what an executor runs.
///
/// The generated code implements it for its `Crew<A>` wrapper, for every `A` implementing the
/// generated `Tasks` trait.
pub trait TaskSet: Send + Sync + 'static {
    /// The state the tasks share.
    type State: TaskState;

    /// The registry the tasks come from.
    fn registry(&self) -> &'static Registry<Self::State>;

    /// Builds task `index`'s input from the state and starts its method.
    ///
    /// Only the fields the task requires are copied out of the state, so the cost does not grow
    /// with the size of the state.
    fn call<'a>(
        &'a self,
        index: usize,
        ctx: &'a TaskContext,
        state: &Self::State,
    ) -> Result<TaskCall<'a, Self::State>, MissingField>;

    /// The input task `index` would get from this state, as JSON (for the execution log).
    fn input_json(&self, index: usize, state: &Self::State) -> Result<JsonText, TaskError>;
}
