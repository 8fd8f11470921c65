//! The checking pass: [`TasksFile`] -> [`Model`]. Resolves each task's reads and writes
//! (docs/yaml.md), builds the dependency graph, and reports every problem it finds
//! before giving up (serde_derive's context style), each pointing at the yaml.
//!
//! One [`Resolver`] walks the file; its work is split by concern: `fields` declares what
//! each task and input produces and types it, `reads` resolves what each task reads
//! (`requires`, CrewAI's implied context, placeholders), `graph` checks the agents and orders
//! the tasks (cycles reported with their path), `names` says which names Rust can take.

mod fields;
mod graph;
mod names;
mod reads;
mod tools;

use std::collections::HashMap;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::{
    CustomState, Field, FieldId, Model, Retry, RunMetadataNames, StateKind, Task, TaskId,
};
use crate::source::{Sources, Span};
use crate::spec::{AgentsFile, TasksFile, Text};

pub(crate) use names::{check_identifier, is_python_identifier};
pub(crate) use tasknet_contract::metadata::RUN_METADATA_FIELDS;

use names::{NameTable, RESERVED_FIELDS, camel_name, snake_ident};

/// What the resolver needs besides the task file.
pub(crate) struct Context<'a> {
    pub sources: &'a Sources,
    pub agents: Option<&'a AgentsFile>,
    pub custom_state: Option<&'a CustomState>,
    pub name: String,
    pub tasks_file: String,
    pub source_hash: String,
}

/// Resolves and checks the file. Returns the model when no error was reported.
pub(crate) fn resolve(
    file: &TasksFile,
    cx: &Context<'_>,
    diags: &mut Diagnostics,
) -> Option<Model> {
    let mut r = Resolver {
        file,
        cx,
        diags,
        fields: Vec::new(),
        field_ids: HashMap::new(),
        field_rust_names: NameTable::snake(&RESERVED_FIELDS),
        task_ids: HashMap::new(),
        task_names: Vec::new(),
        edges: Vec::new(),
    };
    r.index_tasks();
    r.declare_inputs();
    let produces = r.declare_produces();
    let mut tasks: Vec<Task> = Vec::with_capacity(file.tasks.len());
    for (id, decl) in file.tasks.iter().enumerate() {
        let requires = r.resolve_reads(id, decl, &produces);
        let TaskNames {
            rust_name,
            type_name,
            guardrail_method,
        } = r.task_names[id].clone();
        tasks.push(Task {
            name: decl.name.value.clone(),
            rust_name,
            type_name,
            guardrail_method,
            description: value_or_empty(&decl.description),
            expected_output: value_or_empty(&decl.expected_output),
            agent: decl.agent.as_ref().map(|a| a.value.clone()),
            tools: decl.tools.iter().map(|t| t.value.clone()).collect(),
            context: decl
                .context
                .iter()
                .flatten()
                .map(|c| c.value.clone())
                .collect(),
            requires,
            produces: produces[id].clone(),
            input_data: r.input_data(decl),
            depends_on: Vec::new(),
            output_file: decl.output_file.as_ref().map(|o| o.value.clone()),
            timeout_ms: decl.timeout_ms,
            retry: decl.retry.map(|r| Retry {
                attempts: r.attempts,
                backoff_ms: r.backoff_ms,
            }),
            output_retries: decl.output_retries,
            guardrails: decl.guardrails.iter().map(|g| g.value.clone()).collect(),
            human_input: decl.human_input,
            line: 0,
            column: 0,
        });
    }
    let mut depends_on: Vec<Vec<TaskId>> = vec![Vec::new(); tasks.len()];
    for e in &r.edges {
        depends_on[e.to].push(e.from);
    }
    for ((id, task), mut deps) in tasks.iter_mut().enumerate().zip(depends_on) {
        let (line, column) = cx
            .sources
            .get(file.tasks[id].name.span.file)
            .line_col(file.tasks[id].name.span.start);
        task.line = line;
        task.column = column;
        deps.sort_unstable();
        deps.dedup();
        task.depends_on = deps;
    }
    let agents = r.agents();
    let tools = r.tools();
    let order = r.order(&tasks);
    if r.diags.has_errors() {
        return None;
    }
    let metadata = match cx.custom_state {
        Some(_) => RunMetadataNames::seed(),
        None => RunMetadataNames::avoiding(|name| {
            r.fields
                .iter()
                .any(|f| f.name == name || f.rust_name == name)
        }),
    };
    Some(Model {
        name: cx.name.clone(),
        tasks_file: cx.tasks_file.clone(),
        source_hash: cx.source_hash.clone(),
        fields: r.fields,
        tasks,
        order: order?,
        agents,
        tools,
        state: match cx.custom_state {
            Some(custom) => StateKind::Custom(custom.clone()),
            None => StateKind::Generated,
        },
        metadata,
    })
}

fn value_or_empty(text: &Option<Text>) -> String {
    text.as_ref().map(|t| t.value.clone()).unwrap_or_default()
}

/// A dependency `from -> to`, and the yaml that created it.
struct Edge {
    from: TaskId,
    to: TaskId,
    span: Span,
    /// The field read, or `None` for a `context` entry.
    field: Option<FieldId>,
}

struct Resolver<'a, 'd> {
    file: &'a TasksFile,
    cx: &'a Context<'a>,
    diags: &'d mut Diagnostics,
    fields: Vec<Field>,
    field_ids: HashMap<String, FieldId>,
    /// The Rust names of the fields so far.
    field_rust_names: NameTable,
    task_ids: HashMap<&'a str, TaskId>,
    /// Each task's Rust names, by id.
    task_names: Vec<TaskNames>,
    edges: Vec<Edge>,
}

/// A task's Rust names (names.rs).
#[derive(Debug, Clone)]
struct TaskNames {
    rust_name: String,
    type_name: String,
    guardrail_method: String,
}

impl<'a> Resolver<'a, '_> {
    /// Checks each task's name and gives it its Rust names: distinct for distinct yaml names,
    /// in file order (names.rs).
    fn index_tasks(&mut self) {
        let mut methods = NameTable::snake(&[]);
        let mut types = NameTable::camel();
        for (id, task) in self.file.tasks.iter().enumerate() {
            let name = &task.name;
            if let Err((problem, help)) = check_identifier(&name.value) {
                self.diags.push(
                    Diagnostic::error(format!("task name `{}` {problem}", name.value))
                        .at(name.span, "task names become Rust method and type names")
                        .help(help),
                );
            }
            let rust_name = methods.claim(snake_ident(&name.value));
            let type_name = types.claim(camel_name(&rust_name));
            self.task_names.push(TaskNames {
                rust_name,
                type_name,
                guardrail_method: String::new(),
            });
            self.task_ids.insert(name.value.as_str(), id);
        }
        // The guardrail methods share the trait with the task methods: named once those are.
        for names in &mut self.task_names {
            names.guardrail_method = methods.claim(format!("{}_guardrail", names.rust_name));
        }
    }
}
