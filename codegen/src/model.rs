//! The checked model: what the emitters read. Built only by [`crate::resolve`].

use crate::source::Span;
use crate::types::FieldType;
use crate::yaml::Node;

/// Index into [`Model::fields`].
pub type FieldId = usize;
/// Index into [`Model::tasks`].
pub type TaskId = usize;

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The registry's name (the yaml file's stem).
    pub name: String,
    /// The tasks file as shown in messages.
    pub tasks_file: String,
    /// FNV-1a of the yaml texts, hex.
    pub source_hash: String,
    /// Every task field of the state: kickoff inputs first, then produced fields in file order.
    pub fields: Vec<Field>,
    pub tasks: Vec<Task>,
    /// Task indices in topological order; ties keep file order.
    pub order: Vec<TaskId>,
    pub agents: Vec<Agent>,
    pub state: StateKind,
}

impl Model {
    pub fn inputs(&self) -> impl Iterator<Item = &Field> {
        self.fields
            .iter()
            .filter(|f| matches!(f.producer, Producer::Input))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
    pub producer: Producer,
    /// Whether the state holds it as an `Option` (always, for the generated state).
    pub optional: bool,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Producer {
    /// A kickoff input: given when the run starts.
    Input,
    Task(TaskId),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub name: String,
    pub description: String,
    pub expected_output: String,
    pub agent: Option<String>,
    pub tools: Vec<String>,
    pub context: Vec<String>,
    /// What the task reads: its `requires` (or CrewAI's implied ones), then placeholder inputs.
    pub requires: Vec<FieldId>,
    pub produces: Vec<FieldId>,
    pub input_data: Vec<(String, Node)>,
    /// Tasks that must finish first, ascending.
    pub depends_on: Vec<TaskId>,
    pub output_file: Option<String>,
    /// `timeout`, in milliseconds.
    pub timeout_ms: Option<u64>,
    pub retry: Option<crate::spec::RetryDecl>,
    /// 1-based line and column of the task's key.
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub name: String,
    pub role: String,
    pub goal: String,
    pub backstory: String,
    pub tools: Vec<String>,
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
    pub fields: Vec<CustomField>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomField {
    pub name: String,
    /// The value type (inside `Option` when `optional`).
    pub ty: String,
    pub optional: bool,
}
