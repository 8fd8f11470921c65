use std::fmt;
use std::marker::PhantomData;

/// Where something was written in the yaml, for messages at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLocation {
    /// The file as it was given to the generator (e.g. `tasks.yaml`).
    pub file: &'static str,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A state field a task reads or writes, or a kickoff input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field's name.
    pub name: &'static str,
    /// Its Rust type, as the generated code spells it.
    pub ty: &'static str,
}

/// An agent of `agents.yaml` (CrewAI's role, goal and backstory), when one was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentSpec {
    /// The agent's key in agents.yaml.
    pub name: &'static str,
    /// `role`, with its `{placeholders}` unrendered.
    pub role: &'static str,
    /// `goal`.
    pub goal: &'static str,
    /// `backstory`.
    pub backstory: &'static str,
    /// `tools`.
    pub tools: &'static [&'static str],
    /// `max_iter`, when given.
    pub max_iter: Option<u32>,
    /// `llm`: the agent's model, as CrewAI writes it (`openai/gpt-4o-mini`, `ollama/llama3.2`),
    /// when given.
    pub llm: Option<&'static str>,
    /// `output_mode` (tasknet): how the agent's typed answers are asked for (`json_schema`,
    /// `json_object`, `tool`, `prompted`, `auto`; checked at compile time), when given.
    pub output_mode: Option<&'static str>,
}

/// A task's `retry` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySpec {
    /// Tries in all, the first one included.
    pub attempts: u32,
    /// The wait before the second try, in milliseconds; it doubles before each further one.
    pub backoff_ms: u64,
}

/// One task of the registry: what the yaml says about it, resolved and checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskSpec {
    /// The task's key in tasks.yaml (a snake_case identifier).
    pub name: &'static str,
    /// `description`, with its `{placeholders}` unrendered.
    pub description: &'static str,
    /// `expected_output`, unrendered.
    pub expected_output: &'static str,
    /// `agent`, when given.
    pub agent: Option<&'static str>,
    /// `tools`.
    pub tools: &'static [&'static str],
    /// The state fields the task reads, in the order written.
    pub requires: &'static [&'static str],
    /// The state fields the task writes.
    pub produces: &'static [FieldSpec],
    /// The static `input_data`, as JSON text (`{}` when none).
    pub input_data: &'static str,
    /// `context`: the tasks named there.
    pub context: &'static [&'static str],
    /// Indices (into [`Registry::tasks`]) of the tasks this one waits for.
    pub depends_on: &'static [usize],
    /// `output_file`, when given.
    pub output_file: Option<&'static str>,
    /// `timeout`: how long one try may take, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// `retry`: how often to try, and how long to wait between tries.
    pub retry: Option<RetrySpec>,
    /// `guardrail_max_retries` (CrewAI's key, or its older `max_retries`): how often an
    /// agent's answer that does not parse, or is rejected, goes back to it (default 3).
    pub output_retries: Option<u32>,
    /// `guardrail` / `guardrails`: rules an LLM checks an agent's answer against.
    pub guardrails: &'static [&'static str],
    /// `human_input`: a person reviews the agent's answer, and may send it back with feedback.
    pub human_input: bool,
    /// Where the task was written.
    pub location: SourceLocation,
}

/// The tasks of a `tasks.yaml`, checked at compile time, for state type `S`.
pub struct Registry<S> {
    /// A name for the registry: the yaml file's stem.
    pub name: &'static str,
    /// A stable hash (FNV-1a, 64-bit, hex) of the yaml files the registry was generated from.
    pub source_hash: &'static str,
    /// The tasks, in the order of the yaml file.
    pub tasks: &'static [TaskSpec],
    /// Indices into `tasks` in a topological order (ties keep file order).
    pub order: &'static [usize],
    /// The kickoff inputs (fields no task produces).
    pub inputs: &'static [FieldSpec],
    /// The agents of agents.yaml, when one was given.
    pub agents: &'static [AgentSpec],
    /// The matching Petri net in the seed's JSON format (what `PETRI_NET_JSON` holds): the
    /// server serves it to the browser.
    pub petri_net_json: &'static str,
    /// Ties the registry to its state type.
    pub state: PhantomData<fn() -> S>,
}

impl<S> Registry<S> {
    /// The task with this name.
    pub fn task(&self, name: &str) -> Option<&'static TaskSpec> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// The index of the task with this name.
    pub fn task_index(&self, name: &str) -> Option<usize> {
        self.tasks.iter().position(|t| t.name == name)
    }

    /// The agent with this name.
    pub fn agent(&self, name: &str) -> Option<&'static AgentSpec> {
        self.agents.iter().find(|a| a.name == name)
    }

    /// The tasks in topological order.
    pub fn ordered_tasks(&self) -> impl Iterator<Item = &'static TaskSpec> + '_ {
        self.order.iter().map(|&i| &self.tasks[i])
    }
}

impl<S> fmt::Debug for Registry<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("name", &self.name)
            .field("source_hash", &self.source_hash)
            .field("tasks", &self.tasks)
            .field("order", &self.order)
            .field("inputs", &self.inputs)
            .field("agents", &self.agents)
            .finish()
    }
}
