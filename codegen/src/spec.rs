//! The task file as written: yaml tree -> [`TasksFile`] / [`AgentsFile`], checking shapes and
//! keys. Nothing here knows about dependencies; that is [`crate::resolve`]'s job.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::yaml::{Key, Node, Value};

/// The top-level key that declares kickoff inputs instead of a task.
pub const INPUTS_KEY: &str = "inputs";

/// Task keys CrewAI's `Task` accepts (tasknet keeps or ignores them; it never rejects them).
pub const CREWAI_TASK_KEYS: &[&str] = &[
    "description",
    "expected_output",
    "agent",
    "context",
    "tools",
    "output_file",
    "output_json",
    "output_pydantic",
    "response_model",
    "async_execution",
    "human_input",
    "markdown",
    "guardrail",
    "guardrails",
    "guardrail_max_retries",
    "max_retries",
    "retry_count",
    "callback",
    "name",
    "config",
    "create_directory",
    "converter_cls",
    "security_config",
    "id",
    "output",
    "allow_crewai_trigger_context",
    "input_files",
    "prompt_context",
    "used_tools",
    "tools_errors",
    "delegations",
    "processed_by_agents",
    "start_time",
    "end_time",
    "i18n",
];

/// tasknet's dataflow keys (DESIGN.md section 3).
pub const EXTENSION_TASK_KEYS: &[&str] = &["requires", "produces", "input_data"];

/// A string with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub value: String,
    pub span: Span,
}

impl Text {
    fn from_key(key: &Key) -> Text {
        Text {
            value: key.name.clone(),
            span: key.span,
        }
    }
}

/// A state field declared with an optional type: `name: Type` (or a bare `name` in a list).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDecl {
    pub name: Text,
    pub ty: Option<Text>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskDecl {
    pub name: Text,
    pub description: Option<Text>,
    pub expected_output: Option<Text>,
    pub agent: Option<Text>,
    pub context: Option<Vec<Text>>,
    pub tools: Vec<Text>,
    pub output_file: Option<Text>,
    pub requires: Option<Vec<Text>>,
    pub produces: Option<Vec<FieldDecl>>,
    pub input_data: Vec<(Text, Node)>,
}

impl TaskDecl {
    /// Whether the task uses tasknet's dataflow keys (otherwise CrewAI's rules apply).
    pub fn declares_dataflow(&self) -> bool {
        self.requires.is_some() || self.produces.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TasksFile {
    pub inputs: Vec<FieldDecl>,
    pub tasks: Vec<TaskDecl>,
    /// Whether any extension key appears (CrewAI's placeholder rule applies only when not).
    pub uses_extensions: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentDecl {
    pub name: Text,
    pub role: Option<Text>,
    pub goal: Option<Text>,
    pub backstory: Option<Text>,
    pub tools: Vec<Text>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentsFile {
    pub agents: Vec<AgentDecl>,
}

/// Reads tasks.yaml's tree. Problems go to `diags`; what could be read is returned.
pub fn tasks_file(root: &Node, diags: &mut Diagnostics) -> TasksFile {
    let mut file = TasksFile::default();
    let entries = match &root.value {
        Value::Map(entries) if !entries.is_empty() => entries,
        Value::Map(_) | Value::Null => {
            diags.push(
                Diagnostic::error("tasks.yaml defines no task")
                    .at(root.span, "expected a map of tasks here")
                    .help("write one top-level key per task, e.g. `research_task:` with a `description`"),
            );
            return file;
        }
        other => {
            diags.push(
                Diagnostic::error(format!(
                    "tasks.yaml must be a map of tasks, found {}",
                    other.kind()
                ))
                .at(
                    root.span,
                    "expected `task_name: {description: ..., ...}` entries",
                )
                .help("each top-level key names a task, as in CrewAI's config/tasks.yaml"),
            );
            return file;
        }
    };
    let mut inputs_key = None;
    for (key, node) in entries {
        if key.name == INPUTS_KEY {
            file.uses_extensions = true;
            file.inputs = fields(node, "`inputs`", diags);
            inputs_key = Some(key.span);
            continue;
        }
        if let Some(task) = task_decl(key, node, diags) {
            file.uses_extensions |= task.declares_dataflow() || !task.input_data.is_empty();
            file.tasks.push(task);
        }
    }
    if let (Some(span), true) = (inputs_key, entries.len() == 1) {
        diags.push(
            Diagnostic::error("tasks.yaml declares inputs but no task")
                .at(span, "inputs declared here")
                .help("add at least one task next to `inputs:`"),
        );
    }
    file
}

fn task_decl(key: &Key, node: &Node, diags: &mut Diagnostics) -> Option<TaskDecl> {
    let Value::Map(entries) = &node.value else {
        diags.push(
            Diagnostic::error(format!(
                "task `{}` must be a map of keys, found {}",
                key.name,
                node.value.kind()
            ))
            .at(
                node.span,
                "expected `description:`, `expected_output:`, ...",
            )
            .also(key.span, "task declared here"),
        );
        return None;
    };
    let mut task = TaskDecl {
        name: Text::from_key(key),
        description: None,
        expected_output: None,
        agent: None,
        context: None,
        tools: Vec::new(),
        output_file: None,
        requires: None,
        produces: None,
        input_data: Vec::new(),
    };
    let what = |k: &str| format!("`{k}` of task `{}`", key.name);
    for (k, v) in entries {
        match k.name.as_str() {
            "description" => task.description = text(v, &what("description"), diags),
            "expected_output" => task.expected_output = text(v, &what("expected_output"), diags),
            "agent" => task.agent = text(v, &what("agent"), diags),
            "output_file" => task.output_file = text(v, &what("output_file"), diags),
            "context" => task.context = Some(text_list(v, &what("context"), diags)),
            "tools" => task.tools = text_list(v, &what("tools"), diags),
            "requires" => task.requires = Some(text_list(v, &what("requires"), diags)),
            "produces" => task.produces = Some(fields(v, &what("produces"), diags)),
            "input_data" => task.input_data = input_data(v, &what("input_data"), diags),
            other if CREWAI_TASK_KEYS.contains(&other) => {}
            other => {
                let known = CREWAI_TASK_KEYS.iter().chain(EXTENSION_TASK_KEYS).copied();
                diags.push(
                    Diagnostic::error(format!(
                        "unknown key `{other}` in task `{}`{}",
                        key.name,
                        did_you_mean(other, known)
                    ))
                    .at(k.span, "not a CrewAI task key nor a tasknet one")
                    .help("tasknet adds `requires`, `produces` and `input_data` to CrewAI's task keys"),
                );
            }
        }
    }
    Some(task)
}

fn text(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<Text> {
    match &node.value {
        Value::Str(s) => Some(Text {
            value: s.clone(),
            span: node.span,
        }),
        other => {
            diags.push(
                Diagnostic::error(format!("{what} must be a string, found {}", other.kind()))
                    .at(node.span, "expected a string"),
            );
            None
        }
    }
}

fn text_list(node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<Text> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .filter_map(|item| text(item, &format!("each entry of {what}"), diags))
            .collect(),
        Value::Null => Vec::new(),
        other => {
            diags.push(
                Diagnostic::error(format!("{what} must be a list, found {}", other.kind()))
                    .at(node.span, "expected a list such as `[a, b]`"),
            );
            Vec::new()
        }
    }
}

/// `produces`: a map `field: Type`, or (for a hand-written state) a list of field names.
fn fields(node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<FieldDecl> {
    match &node.value {
        Value::Seq(_) => text_list(node, what, diags)
            .into_iter()
            .map(|name| FieldDecl { name, ty: None })
            .collect(),
        _ => typed_fields(node, what, diags),
    }
}

fn typed_fields(node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<FieldDecl> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .filter_map(|(k, v)| {
                let ty = text(v, &format!("the type of `{}` in {what}", k.name), diags)?;
                Some(FieldDecl {
                    name: Text::from_key(k),
                    ty: Some(ty),
                })
            })
            .collect(),
        Value::Null => Vec::new(),
        other => {
            diags.push(
                Diagnostic::error(format!(
                    "{what} must map each field to its type, found {}",
                    other.kind()
                ))
                .at(node.span, "expected e.g. `summary: String`"),
            );
            Vec::new()
        }
    }
}

fn input_data(node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<(Text, Node)> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| (Text::from_key(k), v.clone()))
            .collect(),
        Value::Null => Vec::new(),
        other => {
            diags.push(
                Diagnostic::error(format!("{what} must be a map, found {}", other.kind()))
                    .at(node.span, "expected `key: value` entries"),
            );
            Vec::new()
        }
    }
}

/// Reads agents.yaml's tree. Unknown agent keys are CrewAI's business and are accepted.
pub fn agents_file(root: &Node, diags: &mut Diagnostics) -> AgentsFile {
    let mut file = AgentsFile::default();
    let entries = match &root.value {
        Value::Map(entries) => entries,
        Value::Null => return file,
        other => {
            diags.push(
                Diagnostic::error(format!(
                    "agents.yaml must be a map of agents, found {}",
                    other.kind()
                ))
                .at(
                    root.span,
                    "expected `agent_name: {role: ..., goal: ..., backstory: ...}`",
                ),
            );
            return file;
        }
    };
    for (key, node) in entries {
        let Value::Map(fields) = &node.value else {
            diags.push(
                Diagnostic::error(format!(
                    "agent `{}` must be a map of keys, found {}",
                    key.name,
                    node.value.kind()
                ))
                .at(node.span, "expected `role:`, `goal:`, `backstory:`"),
            );
            continue;
        };
        let mut agent = AgentDecl {
            name: Text::from_key(key),
            role: None,
            goal: None,
            backstory: None,
            tools: Vec::new(),
        };
        let what = |k: &str| format!("`{k}` of agent `{}`", key.name);
        for (k, v) in fields {
            match k.name.as_str() {
                "role" => agent.role = text(v, &what("role"), diags),
                "goal" => agent.goal = text(v, &what("goal"), diags),
                "backstory" => agent.backstory = text(v, &what("backstory"), diags),
                "tools" => agent.tools = text_list(v, &what("tools"), diags),
                _ => {}
            }
        }
        file.agents.push(agent);
    }
    file
}
