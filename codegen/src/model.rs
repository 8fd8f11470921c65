//! The checked model: what the emitters read. Built only by [`crate::resolve`].

use crate::source::Span;
use crate::types::FieldType;

/// Index into [`Model::fields`].
pub type FieldId = usize;
/// Index into [`Model::tasks`].
pub type TaskId = usize;

#[derive(Debug, Clone, PartialEq)]
/// The checked file: what every emitter reads.
pub struct Model {
    /// The registry's name (the yaml file's stem).
    pub name: String,
    /// The tasks file as shown in messages.
    pub tasks_file: String,
    /// FNV-1a of the yaml texts, hex.
    pub source_hash: String,
    /// Every task field of the state: kickoff inputs first, then produced fields in file order.
    pub fields: Vec<Field>,
    /// The tasks, in file order.
    pub tasks: Vec<Task>,
    /// Task indices in topological order; ties keep file order.
    pub order: Vec<TaskId>,
    /// The agents of agents.yaml, in file order.
    pub agents: Vec<Agent>,
    /// The tools the yaml names, in the order first named (agents.yaml, then tasks.yaml).
    pub tools: Vec<ToolName>,
    /// Generated or hand-written.
    pub state: StateKind,
    /// The run metadata's names in a generated `State`.
    pub metadata: RunMetadataNames,
}

/// The names of the run metadata in a generated `State`, each both its Rust field and its key
/// on the wire: the seed's `execution_log`, `current_task` and `timestamp`, except one that a
/// task field already has (a kickoff input `{timestamp}`, say), which steps aside to
/// `run_timestamp` (or `run_run_timestamp`, ...): the user's name is never refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMetadataNames {
    /// Where `execution_log` is kept.
    pub execution_log: String,
    /// Where `current_task` is kept.
    pub current_task: String,
    /// Where `timestamp` is kept.
    pub timestamp: String,
}

impl RunMetadataNames {
    /// The seed's names, for a state none of whose fields has taken one.
    pub fn seed() -> Self {
        RunMetadataNames {
            execution_log: "execution_log".to_owned(),
            current_task: "current_task".to_owned(),
            timestamp: "timestamp".to_owned(),
        }
    }

    /// Each name, moved aside (`run_` prefixed) while `taken` says it is a task field's.
    pub fn avoiding(taken: impl Fn(&str) -> bool) -> Self {
        let free = |seed: &str| {
            let mut name = seed.to_owned();
            while taken(&name) {
                name.insert_str(0, "run_");
            }
            name
        };
        RunMetadataNames {
            execution_log: free("execution_log"),
            current_task: free("current_task"),
            timestamp: free("timestamp"),
        }
    }

    /// Whether these are the seed's names.
    pub fn is_seed(&self) -> bool {
        *self == Self::seed()
    }
}

impl Model {
    /// The kickoff inputs.
    pub fn inputs(&self) -> impl Iterator<Item = &Field> {
        self.fields
            .iter()
            .filter(|f| matches!(f.producer, Producer::Input))
    }
}

#[derive(Debug, Clone, PartialEq)]
/// A field of the state: who produces it and its type.
pub struct Field {
    /// Its name as the yaml writes it: the state's key on the wire and in the log.
    pub name: String,
    /// Its Rust identifier (docs/yaml.md, "Names").
    pub rust_name: String,
    /// Its type.
    pub ty: FieldType,
    /// The input or task that sets it.
    pub producer: Producer,
    /// Whether the state holds it as an `Option` (always, for the generated state).
    pub optional: bool,
    /// Where it is declared.
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// Who sets a field.
pub enum Producer {
    /// A kickoff input: given when the run starts.
    Input,
    /// The task's output.
    Task(TaskId),
}

#[derive(Debug, Clone, PartialEq)]
/// A checked task.
pub struct Task {
    /// Its name as the yaml writes it: the registry's and the log's name.
    pub name: String,
    /// Its Rust identifier: the `Tasks` method, `<rust_name>_input` and `_output`.
    pub rust_name: String,
    /// The stem of its Rust type names: `<type_name>Input`, `Output`, `InputData`.
    pub type_name: String,
    /// Its code guardrail's method, `<rust_name>_guardrail` (suffixed `_2`, ... when a task
    /// method has that name).
    pub guardrail_method: String,
    /// `description`, as written (placeholders are filled at run time).
    pub description: String,
    /// `expected_output`, as written.
    pub expected_output: String,
    /// `agent`, when given.
    pub agent: Option<String>,
    /// `tools`.
    pub tools: Vec<String>,
    /// `context`: the tasks it names.
    pub context: Vec<String>,
    /// What the task reads: its `requires` (or CrewAI's implied ones), then placeholder inputs.
    pub requires: Vec<FieldId>,
    /// What the task writes.
    pub produces: Vec<FieldId>,
    /// `input_data`, in file order.
    pub input_data: Vec<DataEntry>,
    /// Tasks that must finish first, ascending.
    pub depends_on: Vec<TaskId>,
    /// `output_file`, when given.
    pub output_file: Option<String>,
    /// `timeout`, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// `retry`, when given.
    pub retry: Option<Retry>,
    /// `guardrail_max_retries` (or `max_retries`), when given.
    pub output_retries: Option<u32>,
    /// `guardrail` / `guardrails` rules, checked by an LLM after the code's own guardrail.
    pub guardrails: Vec<String>,
    /// `human_input`: a person reviews the agent's answer.
    pub human_input: bool,
    /// 1-based line and column of the task's key.
    pub line: usize,
    /// 1-based column of the task's key.
    pub column: usize,
}

/// One `input_data` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct DataEntry {
    /// Its key, as the yaml writes it.
    pub key: String,
    /// Its Rust identifier, a field of the task's `InputData`.
    pub rust_name: String,
    /// Its value.
    pub value: DataValue,
}

/// A static value of the yaml (an `input_data` entry), owned by the model: the emitters read
/// this, never the yaml's nodes.
#[derive(Debug, Clone, PartialEq)]
pub enum DataValue {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// An integer past `i64::MAX`.
    UInt(u64),
    /// A number.
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<DataValue>),
    /// Entries in file order.
    Map(Vec<(String, DataValue)>),
}

impl DataValue {
    /// The value as JSON (a float that JSON cannot hold, NaN or infinite, becomes null).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            DataValue::Null => J::Null,
            DataValue::Bool(b) => J::Bool(*b),
            DataValue::Int(i) => J::from(*i),
            DataValue::UInt(u) => J::from(*u),
            DataValue::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            DataValue::Str(s) => J::String(s.clone()),
            DataValue::List(items) => J::Array(items.iter().map(DataValue::to_json).collect()),
            DataValue::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// How the runtime retries a task (`retry` in the yaml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all, the first one included.
    pub attempts: u32,
    /// The wait before the second try; it doubles before each further one.
    pub backoff_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
/// An agent of agents.yaml.
pub struct Agent {
    /// Its key.
    pub name: String,
    /// `role`.
    pub role: String,
    /// `goal`.
    pub goal: String,
    /// `backstory`.
    pub backstory: String,
    /// `tools`.
    pub tools: Vec<String>,
    /// `max_iter`, when given.
    pub max_iter: Option<u32>,
    /// `llm`, the agent's model (`openai/gpt-4o-mini`), when given.
    pub llm: Option<String>,
    /// `output_mode` (`json_schema`, `json_object`, `tool`, `prompted`, `auto`), when given.
    pub output_mode: Option<String>,
}

/// A tool the yaml names (an agent's or a task's `tools`): the crew's code provides it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolName {
    /// Its name in the yaml.
    pub name: String,
    /// Its Rust identifier: the `Tools` method that provides it.
    pub rust_name: String,
    /// The name the model calls it by (the yaml name when the chat APIs accept it:
    /// `^[a-zA-Z0-9_-]{1,64}$`).
    pub api_name: String,
    /// Where the yaml first names it, `file:line:col`.
    pub location: String,
}

/// Where the state struct comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum StateKind {
    /// Generated as `State` from the yaml.
    Generated,
    /// A hand-written struct with `#[derive(TaskState)]`.
    Custom(CustomState),
}

/// A hand-written state as its derive described it.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomState {
    /// The path the user gave, e.g. `crate::state::SalesState`.
    pub path: String,
    /// Its task fields, as declared.
    pub fields: Vec<CustomField>,
}

#[derive(Debug, Clone, PartialEq)]
/// A task field of a hand-written state.
pub struct CustomField {
    /// Its name.
    pub name: String,
    /// The value type (inside `Option` when `optional`).
    pub ty: String,
    /// Whether the struct holds it as an `Option`.
    pub optional: bool,
}
