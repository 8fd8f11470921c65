//! The task file as written: yaml tree -> [`TasksFile`] / [`AgentsFile`], checking shapes and
//! keys. Nothing here knows about dependencies; that is [`crate::resolve`]'s job.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::yaml::{Key, Node, Value};

/// The top-level key that declares kickoff inputs instead of a task.
pub(crate) const INPUTS_KEY: &str = "inputs";

/// Task keys CrewAI's `Task` accepts (tasknet keeps or ignores them; it never rejects them).
pub(crate) const CREWAI_TASK_KEYS: &[&str] = &[
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

/// tasknet's task keys: the dataflow (docs/yaml.md), and how the runtime runs the task.
pub(crate) const EXTENSION_TASK_KEYS: &[&str] =
    &["requires", "produces", "input_data", "timeout", "retry"];

/// A string with its span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Text {
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
pub(crate) struct FieldDecl {
    pub name: Text,
    pub ty: Option<Text>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskDecl {
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
    /// `timeout`, in milliseconds.
    pub timeout_ms: Option<u64>,
    pub retry: Option<RetryDecl>,
    /// `guardrail_max_retries` (or CrewAI's older `max_retries`): how often an agent's answer
    /// that does not parse or is rejected goes back to it.
    pub output_retries: Option<u32>,
    /// `guardrail` and `guardrails` given as text: rules an LLM checks the answer against.
    pub guardrails: Vec<Text>,
    /// `human_input`: a person reviews the agent's answer.
    pub human_input: bool,
}

/// `retry: 3` or `retry: {attempts: 3, backoff: 500ms}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryDecl {
    /// Tries in all, the first one included.
    pub attempts: u32,
    /// The wait before the second try; it doubles before each further one.
    pub backoff_ms: u64,
}

/// The backoff when `retry` gives none.
pub(crate) const DEFAULT_BACKOFF_MS: u64 = 200;

impl TaskDecl {
    /// Whether the task uses tasknet's dataflow keys (otherwise CrewAI's rules apply).
    pub(crate) fn declares_dataflow(&self) -> bool {
        self.requires.is_some() || self.produces.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct TasksFile {
    pub inputs: Vec<FieldDecl>,
    pub tasks: Vec<TaskDecl>,
    /// Whether any extension key appears (CrewAI's placeholder rule applies only when not).
    pub uses_extensions: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AgentDecl {
    pub name: Text,
    pub role: Option<Text>,
    pub goal: Option<Text>,
    pub backstory: Option<Text>,
    pub tools: Vec<Text>,
    /// `max_iter`: the tool-calling turns the agent gets.
    pub max_iter: Option<u32>,
    /// `llm`: the agent's model, CrewAI's `provider/model` form.
    pub llm: Option<Text>,
    /// `output_mode` (tasknet): how the agent's typed outputs are asked for.
    pub output_mode: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct AgentsFile {
    pub agents: Vec<AgentDecl>,
}

/// Reads tasks.yaml's tree. Problems go to `diags`; what could be read is returned.
pub(crate) fn tasks_file(root: &Node, diags: &mut Diagnostics) -> TasksFile {
    let mut file = TasksFile::default();
    let entries = match &root.value {
        Value::Map(entries) if !entries.is_empty() => entries,
        // CrewAI loads an empty file as no tasks (`load_yaml` gives `{}`).
        Value::Map(_) | Value::Null => {
            diags.push(
                Diagnostic::warning("tasks.yaml defines no task: the registry is empty")
                    .at(root.span, "no tasks here")
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
    if is_not_a_task(entries) {
        let keys: Vec<String> = entries
            .iter()
            .map(|(k, _)| format!("`{}`", k.name))
            .collect();
        diags.push(
            Diagnostic::warning(format!(
                "entry `{}` is not a task (it has no `description` nor `expected_output`, only {}): ignored",
                key.name,
                keys.join(", ")
            ))
            .at(key.span, "not a task")
            .help("CrewAI builds tasks only for the entries its `@task` methods name; tasknet leaves this one out of the registry"),
        );
        return None;
    }
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
        timeout_ms: None,
        retry: None,
        output_retries: None,
        guardrails: Vec::new(),
        human_input: false,
    };
    let what = |k: &str| format!("`{k}` of task `{}`", key.name);
    let mut legacy_retries = None;
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
            "timeout" => task.timeout_ms = duration(v, &what("timeout"), diags),
            "retry" => task.retry = retry(v, &what("retry"), diags),
            "guardrail_max_retries" => {
                task.output_retries = retry_count(v, &what("guardrail_max_retries"), diags)
            }
            "max_retries" => legacy_retries = retry_count(v, &what("max_retries"), diags),
            "human_input" => task.human_input = flag(v, &what("human_input"), diags),
            "guardrail" => task.guardrails.extend(text(v, &what("guardrail"), diags)),
            "guardrails" => task
                .guardrails
                .extend(text_list(v, &what("guardrails"), diags)),
            other if CREWAI_TASK_KEYS.contains(&other) => {}
            other => unknown_task_key(other, k.span, &key.name, diags),
        }
    }
    // CrewAI's deprecated spelling counts when the current one is absent.
    task.output_retries = task.output_retries.or(legacy_retries);
    Some(task)
}

/// A retry count: an integer from 0 to 100.
fn retry_count(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<u32> {
    match node.value {
        Value::Int(i) if (0..=100).contains(&i) => Some(i as u32),
        _ => {
            diags.push(
                Diagnostic::error(format!("{what} must be an integer from 0 to 100")).at(
                    node.span,
                    "how often a rejected answer goes back to the agent",
                ),
            );
            None
        }
    }
}

/// A boolean key: YAML 1.2's `true`/`false`, and YAML 1.1's `yes`/`no`/`on`/`off`, which
/// PyYAML (so CrewAI) reads as booleans too.
fn flag(node: &Node, what: &str, diags: &mut Diagnostics) -> bool {
    match &node.value {
        Value::Bool(b) => *b,
        Value::Str(s) if ["yes", "on"].contains(&s.to_ascii_lowercase().as_str()) => true,
        Value::Str(s) if ["no", "off"].contains(&s.to_ascii_lowercase().as_str()) => false,
        _ => {
            diags.push(
                Diagnostic::error(format!("{what} must be `true` or `false`"))
                    .at(node.span, "expected a boolean"),
            );
            false
        }
    }
}

/// An agent's `max_iter`: 1 to 1,000 tool-calling turns.
fn max_iter(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<u32> {
    match node.value {
        Value::Int(i) if (1..=1000).contains(&i) => Some(i as u32),
        _ => {
            diags.push(
                Diagnostic::error(format!("{what} must be an integer from 1 to 1000")).at(
                    node.span,
                    "how many tool-calling turns the agent gets before it must answer",
                ),
            );
            None
        }
    }
}

/// The ways a typed output can be asked for (the runtime's `OutputMode`, by name).
const OUTPUT_MODES: &[&str] = &["auto", "json_schema", "json_object", "tool", "prompted"];

/// An agent's `output_mode`: one of [`OUTPUT_MODES`].
fn output_mode(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<Text> {
    let mode = text(node, what, diags)?;
    if OUTPUT_MODES.contains(&mode.value.as_str()) {
        return Some(mode);
    }
    let suggestion = crate::suggest::did_you_mean(&mode.value, OUTPUT_MODES.iter().copied());
    diags.push(
        Diagnostic::error(format!(
            "{what} is `{}`, not one of {}{suggestion}",
            mode.value.escape_debug(),
            OUTPUT_MODES.join(", ")
        ))
        .at(node.span, "how the agent's typed answers are asked for"),
    );
    None
}

/// The task keys tasknet reads: a near-miss of one is a typo that would silently change the
/// crew's dataflow or behaviour, so it stays an error.
const USED_TASK_KEYS: &[&str] = &[
    "description",
    "expected_output",
    "agent",
    "output_file",
    "context",
    "tools",
    "requires",
    "produces",
    "input_data",
    "timeout",
    "retry",
    "guardrail_max_retries",
    "guardrail",
    "guardrails",
    "human_input",
];

/// The key tasknet uses that `other` misspells, if it is one.
fn misspelt_used_key(other: &str) -> Option<&'static str> {
    USED_TASK_KEYS
        .iter()
        .copied()
        .filter(|used| strsim::damerau_levenshtein(other, used) <= 2 && other.len() >= 4)
        .min_by_key(|used| strsim::damerau_levenshtein(other, used))
}

/// The keys that make an entry a task: the two a CrewAI `Task` cannot do without, and
/// tasknet's own.
const TASK_DEFINING_KEYS: &[&str] = &[
    "description",
    "expected_output",
    "requires",
    "produces",
    "input_data",
    "timeout",
    "retry",
];

/// Whether an entry of tasks.yaml is data rather than a task: it has neither `description` nor
/// `expected_output` (nor a tasknet key, nor a misspelling of one of these), e.g. prompt
/// snippets under `system:` and `user:`, or settings that happen to use a task key such as
/// `context`. CrewAI builds a task only for entries a `@task` method uses, so such an entry is
/// valid there.
fn is_not_a_task(entries: &[(Key, Node)]) -> bool {
    let defines_a_task = |name: &str| {
        TASK_DEFINING_KEYS.iter().any(|key| {
            name == *key || (name.len() >= 4 && strsim::damerau_levenshtein(name, key) <= 2)
        })
    };
    !entries.is_empty() && !entries.iter().any(|(k, _)| defines_a_task(&k.name))
}

/// A task key that neither CrewAI nor tasknet knows: CrewAI skips it (`process_config`), so
/// tasknet warns and goes on; unless it is a misspelling of a key tasknet uses (two edits at
/// most, a swap of two letters counting as one: `contxt`, `requries`). Real files' own keys
/// that merely look alike (`output_example` beside `output_file`) are further apart.
fn unknown_task_key(other: &str, span: Span, task: &str, diags: &mut Diagnostics) {
    if let Some(meant) = misspelt_used_key(other) {
        diags.push(
            Diagnostic::error(format!(
                "unknown key `{other}` in task `{task}` (did you mean `{meant}`?)"
            ))
            .at(span, "not a CrewAI task key nor a tasknet one")
            .help(format!(
                "`{meant}` changes what the task does, so a misspelling of it is an error, not a warning"
            )),
        );
        return;
    }
    // Only a likely slip is suggested: a typo, or a known key without its prefix (`retries`
    // for `max_retries`); real files' own keys (`output_example`) are not near-misses.
    let suggestion = CREWAI_TASK_KEYS
        .iter()
        .chain(EXTENSION_TASK_KEYS)
        .copied()
        .filter(|known| {
            strsim::damerau_levenshtein(other, known) <= 2
                || (other.len() >= 4 && known.ends_with(other) && known.len() > other.len())
        })
        .min_by_key(|known| strsim::damerau_levenshtein(other, known))
        .map(|known| format!(" (did you mean `{known}`?)"))
        .unwrap_or_default();
    diags.push(
        Diagnostic::warning(format!(
            "unknown key `{other}` in task `{task}` is ignored{suggestion}"
        ))
        .at(span, "not a CrewAI task key nor a tasknet one")
        .help("CrewAI ignores keys its Task does not have, and so does tasknet"),
    );
}

/// A duration: a number of seconds (`30`, `0.5`) or a string with a unit (`500ms`, `30s`,
/// `2m`, `1h`).
fn duration(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<u64> {
    let ms = match &node.value {
        Value::Int(i) if *i >= 0 => Some(*i as f64 * 1000.0),
        Value::UInt(u) => Some(*u as f64 * 1000.0),
        Value::Float(f) if *f >= 0.0 && f.is_finite() => Some(f * 1000.0),
        Value::Str(s) => parse_duration_ms(s),
        _ => None,
    };
    match ms {
        Some(ms) if (1.0..1e15).contains(&ms) => Some(ms.round() as u64),
        _ => {
            diags.push(
                Diagnostic::error(format!("{what} must be a positive duration")).at(
                    node.span,
                    "expected e.g. `30` (seconds), `500ms`, `30s`, `2m` or `1h`",
                ),
            );
            None
        }
    }
}

fn parse_duration_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = s.split_at(split);
    let number: f64 = number.trim().parse().ok()?;
    let factor = match unit.trim() {
        "ms" => 1.0,
        "s" => 1000.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    (number >= 0.0).then_some(number * factor)
}

fn retry(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<RetryDecl> {
    let attempts_of = |n: &Node| match n.value {
        Value::Int(i) if (1..=1000).contains(&i) => Some(i as u32),
        _ => None,
    };
    let bad_attempts = |n: &Node, diags: &mut Diagnostics| {
        diags.push(
            Diagnostic::error(format!(
                "{what}: attempts must be an integer from 1 to 1000"
            ))
            .at(n.span, "the number of tries in all, the first one included"),
        );
    };
    match &node.value {
        Value::Int(_) => match attempts_of(node) {
            Some(attempts) => Some(RetryDecl {
                attempts,
                backoff_ms: DEFAULT_BACKOFF_MS,
            }),
            None => {
                bad_attempts(node, diags);
                None
            }
        },
        Value::Map(entries) => {
            let mut decl = RetryDecl {
                attempts: 1,
                backoff_ms: DEFAULT_BACKOFF_MS,
            };
            for (k, v) in entries {
                match k.name.as_str() {
                    "attempts" => match attempts_of(v) {
                        Some(a) => decl.attempts = a,
                        None => bad_attempts(v, diags),
                    },
                    "backoff" => {
                        if let Some(ms) = duration(v, &format!("{what}: backoff"), diags) {
                            decl.backoff_ms = ms;
                        }
                    }
                    other => diags.push(
                        Diagnostic::error(format!(
                            "unknown key `{other}` in {what}{}",
                            did_you_mean(other, ["attempts", "backoff"])
                        ))
                        .at(k.span, "expected `attempts` or `backoff`"),
                    ),
                }
            }
            Some(decl)
        }
        other => {
            diags.push(
                Diagnostic::error(format!(
                    "{what} must be a number of attempts or a map, found {}",
                    other.kind()
                ))
                .at(
                    node.span,
                    "expected e.g. `3` or `{attempts: 3, backoff: 500ms}`",
                ),
            );
            None
        }
    }
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
pub(crate) fn agents_file(root: &Node, diags: &mut Diagnostics) -> AgentsFile {
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
            max_iter: None,
            llm: None,
            output_mode: None,
        };
        let what = |k: &str| format!("`{k}` of agent `{}`", key.name);
        for (k, v) in fields {
            match k.name.as_str() {
                "role" => agent.role = text(v, &what("role"), diags),
                "goal" => agent.goal = text(v, &what("goal"), diags),
                "backstory" => agent.backstory = text(v, &what("backstory"), diags),
                "tools" => agent.tools = text_list(v, &what("tools"), diags),
                "max_iter" => agent.max_iter = max_iter(v, &what("max_iter"), diags),
                "llm" => agent.llm = text(v, &what("llm"), diags),
                "output_mode" => {
                    agent.output_mode = output_mode(v, &what("output_mode"), diags);
                }
                _ => {}
            }
        }
        file.agents.push(agent);
    }
    file
}
