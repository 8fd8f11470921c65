//! The checking pass: [`TasksFile`] -> [`Model`]. Resolves each task's reads and writes
//! (docs/yaml.md), builds the dependency graph, and reports every problem it finds
//! before giving up (serde_derive's context style), each pointing at the yaml.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use heck::{ToSnakeCase, ToUpperCamelCase};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::{
    Agent, CustomState, DataValue, Field, FieldId, Model, Producer, Retry, StateKind, Task, TaskId,
};
use crate::placeholder;
use crate::source::{Sources, Span};
use crate::spec::{AgentDecl, AgentsFile, FieldDecl, INPUTS_KEY, TaskDecl, TasksFile, Text};
use crate::suggest::{closest, did_you_mean};
use crate::types::{FieldType, parse_type};

pub use tasknet_contract::metadata::RUN_METADATA_FIELDS;

/// A yaml node as the model holds it.
fn data_value(node: &crate::yaml::Node) -> DataValue {
    use crate::yaml::Value;
    match &node.value {
        Value::Null => DataValue::Null,
        Value::Bool(b) => DataValue::Bool(*b),
        Value::Int(i) => DataValue::Int(*i),
        Value::UInt(u) => DataValue::UInt(*u),
        Value::Float(f) => DataValue::Float(*f),
        Value::Str(s) => DataValue::Str(s.clone()),
        Value::Seq(items) => DataValue::List(items.iter().map(data_value).collect()),
        Value::Map(entries) => DataValue::Map(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), data_value(v)))
                .collect(),
        ),
    }
}

/// Field names the generated code uses for itself.
const RESERVED_FIELDS: [&str; 1] = ["input_data"];

const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// What the resolver needs besides the task file.
pub struct Context<'a> {
    pub sources: &'a Sources,
    pub agents: Option<&'a AgentsFile>,
    pub custom_state: Option<&'a CustomState>,
    pub name: String,
    pub tasks_file: String,
    pub source_hash: String,
}

/// Resolves and checks the file. Returns the model when no error was reported.
pub fn resolve(file: &TasksFile, cx: &Context<'_>, diags: &mut Diagnostics) -> Option<Model> {
    let mut r = Resolver {
        file,
        cx,
        diags,
        fields: Vec::new(),
        field_ids: HashMap::new(),
        task_ids: HashMap::new(),
        edges: Vec::new(),
    };
    if file.tasks.is_empty() {
        // spec::tasks_file() reported why: an empty file, only inputs, or broken tasks.
        return None;
    }
    r.index_tasks();
    r.declare_inputs();
    let produces = r.declare_produces();
    let mut tasks: Vec<Task> = Vec::with_capacity(file.tasks.len());
    for (id, decl) in file.tasks.iter().enumerate() {
        let requires = r.resolve_reads(id, decl, &produces);
        tasks.push(Task {
            name: decl.name.value.clone(),
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
    let order = r.order(&tasks);
    if !r.diags.is_empty() {
        return None;
    }
    Some(Model {
        name: cx.name.clone(),
        tasks_file: cx.tasks_file.clone(),
        source_hash: cx.source_hash.clone(),
        fields: r.fields,
        tasks,
        order: order?,
        agents,
        state: match cx.custom_state {
            Some(custom) => StateKind::Custom(custom.clone()),
            None => StateKind::Generated,
        },
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
    task_ids: HashMap<&'a str, TaskId>,
    edges: Vec<Edge>,
}

impl<'a> Resolver<'a, '_> {
    fn index_tasks(&mut self) {
        let mut camel: HashMap<String, &Text> = HashMap::new();
        for (id, task) in self.file.tasks.iter().enumerate() {
            let name = &task.name;
            if let Err((problem, help)) = check_identifier(&name.value) {
                self.diags.push(
                    Diagnostic::error(format!("task name `{}` {problem}", name.value))
                        .at(name.span, "task names become Rust method and type names")
                        .help(help),
                );
            }
            let type_name = name.value.to_upper_camel_case();
            if let Some(other) = camel.get(&type_name) {
                self.diags.push(
                    Diagnostic::error(format!(
                        "tasks `{}` and `{}` both become `{type_name}Input` in Rust",
                        other.value, name.value
                    ))
                    .at(name.span, "renaming one of them")
                    .also(other.span, "clashes with this task"),
                );
            }
            camel.insert(type_name, name);
            self.task_ids.insert(name.value.as_str(), id);
        }
    }

    fn declare_inputs(&mut self) {
        for decl in &self.file.inputs {
            self.declare(decl, Producer::Input, "input");
        }
        if !self.file.uses_extensions {
            self.declare_crewai_inputs();
        }
    }

    /// CrewAI's rule: in a file without tasknet keys, every placeholder that is not a task's
    /// output is a kickoff input of type String (what `crew.kickoff(inputs=...)` fills).
    fn declare_crewai_inputs(&mut self) {
        let outputs: Vec<String> = self
            .file
            .tasks
            .iter()
            .map(|t| crewai_output_name(&t.name.value))
            .collect();
        for task in &self.file.tasks {
            for (name, span) in self.placeholders_of(task) {
                if outputs.contains(&name) || self.field_ids.contains_key(&name) {
                    continue;
                }
                let decl = FieldDecl {
                    name: Text { value: name, span },
                    ty: Some(Text {
                        value: "String".to_owned(),
                        span,
                    }),
                };
                self.declare(&decl, Producer::Input, "input");
            }
        }
    }

    /// Each task's produced fields, in file order.
    fn declare_produces(&mut self) -> Vec<Vec<FieldId>> {
        let mut all = Vec::with_capacity(self.file.tasks.len());
        for (id, task) in self.file.tasks.iter().enumerate() {
            let decls = if task.declares_dataflow() {
                task.produces.clone().unwrap_or_default()
            } else if check_identifier(&task.name.value).is_err() {
                // Already reported; `<name>_output` would only repeat it.
                Vec::new()
            } else {
                vec![FieldDecl {
                    name: Text {
                        value: crewai_output_name(&task.name.value),
                        span: task.name.span,
                    },
                    ty: Some(Text {
                        value: "String".to_owned(),
                        span: task.name.span,
                    }),
                }]
            };
            let ids = decls
                .iter()
                .filter_map(|d| self.declare(d, Producer::Task(id), "task"))
                .collect();
            all.push(ids);
        }
        all
    }

    /// Adds a state field, checking its name, type, uniqueness and the hand-written state.
    fn declare(&mut self, decl: &FieldDecl, producer: Producer, kind: &str) -> Option<FieldId> {
        let name = &decl.name;
        let by = match producer {
            Producer::Input => "input".to_owned(),
            Producer::Task(t) => format!("task `{}`", self.file.tasks[t].name.value),
        };
        if RUN_METADATA_FIELDS.contains(&name.value.as_str()) {
            self.diags.push(
                Diagnostic::error(format!(
                    "{by} declares field `{}`, which collides with the run metadata",
                    name.value
                ))
                .at(name.span, "reserved for the state's run metadata")
                .help("the state already has `execution_log`, `current_task` and `timestamp`; rename this field"),
            );
        } else if RESERVED_FIELDS.contains(&name.value.as_str()) {
            self.diags.push(
                Diagnostic::error(format!(
                    "{by} declares field `{}`, a name tasknet reserves",
                    name.value
                ))
                .at(
                    name.span,
                    "reserved: each task's static configuration goes here",
                )
                .help("rename this field"),
            );
        } else if let Err((problem, help)) = check_identifier(&name.value) {
            self.diags.push(
                Diagnostic::error(format!("field name `{}` {problem}", name.value))
                    .at(name.span, "field names become Rust struct fields")
                    .help(help),
            );
        }
        if let Some(&existing) = self.field_ids.get(&name.value) {
            let other = &self.fields[existing];
            let first = match other.producer {
                Producer::Input => "declared as an input".to_owned(),
                Producer::Task(t) => {
                    format!("produced by task `{}`", self.file.tasks[t].name.value)
                }
            };
            let message = match (other.producer, producer) {
                (Producer::Task(a), Producer::Task(b)) => format!(
                    "field `{}` is produced by two tasks, `{}` and `{}`",
                    name.value, self.file.tasks[a].name.value, self.file.tasks[b].name.value
                ),
                _ => format!("field `{}` is {first} and also by {by}", name.value),
            };
            self.diags.push(
                Diagnostic::error(message)
                    .at(name.span, format!("{kind} declares it again here"))
                    .also(other.span, first)
                    .help("every state field has one producer: rename one of them"),
            );
            return None;
        }
        // A field whose type was refused is still declared, so that its readers are not also
        // reported as reading a field nobody produces; nothing is emitted once an error exists.
        let (ty, optional) = self
            .field_type(decl, &by)
            .unwrap_or((FieldType::Json, true));
        let id = self.fields.len();
        self.fields.push(Field {
            name: name.value.clone(),
            ty,
            producer,
            optional,
            span: name.span,
        });
        self.field_ids.insert(name.value.clone(), id);
        Some(id)
    }

    fn field_type(&mut self, decl: &FieldDecl, by: &str) -> Option<(FieldType, bool)> {
        let name = &decl.name;
        let written = match &decl.ty {
            Some(ty) => match parse_type(&ty.value) {
                Ok(parsed) => Some(parsed),
                Err(e) => {
                    let mut d = Diagnostic::error(format!(
                        "invalid type for field `{}`: {}",
                        name.value, e.message
                    ))
                    .at(ty.span, "in this type");
                    if let Some(help) = e.help {
                        d = d.help(help);
                    }
                    self.diags.push(d);
                    return None;
                }
            },
            None => None,
        };
        let Some(custom) = self.cx.custom_state else {
            return match written {
                Some(ty) => Some((ty, true)),
                None => {
                    self.diags.push(
                        Diagnostic::error(format!("field `{}` has no type", name.value))
                            .at(name.span, "write `name: Type` here")
                            .help("`produces` maps each field to its type, e.g. `summary: String`; a bare list of names works only with a hand-written state (`state = MyState`)"),
                    );
                    None
                }
            };
        };
        let Some(field) = custom.fields.iter().find(|f| f.name == name.value) else {
            let names = custom.fields.iter().map(|f| f.name.as_str());
            self.diags.push(
                Diagnostic::error(format!(
                    "{by} uses field `{}`, which state `{}` does not have{}",
                    name.value,
                    custom.path,
                    did_you_mean(&name.value, names)
                ))
                .at(name.span, format!("not a field of `{}`", custom.path))
                .help(format!(
                    "add `pub {}: Option<...>` to `{}`, or fix the name",
                    name.value, custom.path
                )),
            );
            return None;
        };
        let struct_ty = parse_type(&field.ty).unwrap_or(FieldType::Rust(field.ty.clone()));
        if let (Some(written), Some(ty_text)) = (&written, &decl.ty)
            && !same_type(written, &struct_ty)
        {
            self.diags.push(
                Diagnostic::error(format!(
                    "field `{}` is `{}` here but `{}` in state `{}`",
                    name.value,
                    written.display(),
                    field.ty,
                    custom.path
                ))
                .at(ty_text.span, "type written here")
                .help("write the type as the struct spells it, or list the field without a type"),
            );
            return None;
        }
        Some((struct_ty, field.optional))
    }

    fn input_data(&mut self, task: &TaskDecl) -> Vec<(String, DataValue)> {
        let mut out = Vec::with_capacity(task.input_data.len());
        for (key, node) in &task.input_data {
            if let Err((problem, help)) = check_identifier(&key.value) {
                self.diags.push(
                    Diagnostic::error(format!("input_data key `{}` {problem}", key.value))
                        .at(key.span, "input_data keys become Rust struct fields")
                        .help(help),
                );
                continue;
            }
            out.push((key.value.clone(), data_value(node)));
        }
        out
    }

    fn lookup_field(&self, name: &str) -> Option<FieldId> {
        self.field_ids.get(name).copied()
    }

    fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| f.name.as_str())
    }

    fn add_read(&mut self, task: TaskId, field: FieldId, span: Span, reads: &mut Vec<FieldId>) {
        if reads.contains(&field) {
            return;
        }
        reads.push(field);
        if let Producer::Task(from) = self.fields[field].producer {
            self.edges.push(Edge {
                from,
                to: task,
                span,
                field: Some(field),
            });
        }
    }

    /// The fields a task reads: `requires`, or CrewAI's implied context, plus placeholders.
    fn resolve_reads(
        &mut self,
        id: TaskId,
        task: &'a TaskDecl,
        produces: &[Vec<FieldId>],
    ) -> Vec<FieldId> {
        let mut reads = Vec::new();
        if let Some(requires) = &task.requires {
            for req in requires {
                match self.lookup_field(&req.value) {
                    Some(field) => self.add_read(id, field, req.span, &mut reads),
                    None => self.missing_field(task, req),
                }
            }
        }
        let context = task.context.as_deref().unwrap_or_default();
        for ctx in context {
            let Some(&from) = self.task_ids.get(ctx.value.as_str()) else {
                let names = self.file.tasks.iter().map(|t| t.name.value.as_str());
                self.diags.push(
                    Diagnostic::error(format!(
                        "task `{}` has `{}` in its context, but there is no such task{}",
                        task.name.value,
                        ctx.value,
                        did_you_mean(&ctx.value, names)
                    ))
                    .at(ctx.span, "unknown task"),
                );
                continue;
            };
            if task.declares_dataflow() {
                // With explicit dataflow, context only orders the tasks.
                self.edges.push(Edge {
                    from,
                    to: id,
                    span: ctx.span,
                    field: None,
                });
            } else {
                for &field in &produces[from] {
                    self.add_read(id, field, ctx.span, &mut reads);
                }
            }
        }
        if !task.declares_dataflow() && task.context.is_none() {
            // CrewAI's sequential process: a task sees the output of every earlier task.
            for (earlier, fields) in produces.iter().enumerate().take(id) {
                let span = self.file.tasks[earlier].name.span;
                for &field in fields {
                    self.add_read(id, field, span, &mut reads);
                }
            }
        }
        self.resolve_placeholders(id, task, &mut reads);
        reads
    }

    /// The headline error: a required field nobody produces.
    fn missing_field(&mut self, task: &TaskDecl, req: &Text) {
        let suggestion = closest(&req.value, self.field_names()).map(str::to_owned);
        let mut message = format!(
            "task `{}` requires `{}`, which no task produces",
            task.name.value, req.value
        );
        if let Some(s) = &suggestion {
            message.push_str(&format!(" (did you mean `{s}`?)"));
        }
        let mut d = Diagnostic::error(message).at(req.span, "no task or input produces this field");
        if let Some(s) = &suggestion
            && let Some(&f) = self.field_ids.get(s)
        {
            let by = match self.fields[f].producer {
                Producer::Input => "declared as an input here".to_owned(),
                Producer::Task(t) => format!(
                    "`{s}` is produced by `{}` here",
                    self.file.tasks[t].name.value
                ),
            };
            d = d.also(self.fields[f].span, by);
        }
        d = d.help(format!(
            "add `{}` to the `produces` of the task that makes it, or declare it under `{INPUTS_KEY}:`",
            req.value
        ));
        self.diags.push(d);
    }

    fn placeholders_of(&self, task: &TaskDecl) -> Vec<(String, Span)> {
        let mut texts: Vec<&Text> = [&task.description, &task.expected_output, &task.output_file]
            .into_iter()
            .flatten()
            .collect();
        if let Some(agent) = self.agent_of(task) {
            texts.extend(
                [&agent.role, &agent.goal, &agent.backstory]
                    .into_iter()
                    .flatten(),
            );
        }
        texts
            .into_iter()
            .flat_map(|t| placeholder::located(t, self.cx.sources))
            .collect()
    }

    fn agent_of(&self, task: &TaskDecl) -> Option<&'a AgentDecl> {
        let name = &task.agent.as_ref()?.value;
        self.cx
            .agents?
            .agents
            .iter()
            .find(|a| &a.name.value == name)
    }

    fn resolve_placeholders(&mut self, id: TaskId, task: &TaskDecl, reads: &mut Vec<FieldId>) {
        let mut reported: Vec<String> = Vec::new();
        for (name, span) in self.placeholders_of(task) {
            if task.input_data.iter().any(|(k, _)| k.value == name) {
                continue;
            }
            match self.lookup_field(&name) {
                Some(field) if reads.contains(&field) => {}
                Some(field)
                    if self.fields[field].producer == Producer::Input
                        || !self.file.uses_extensions =>
                {
                    self.add_read(id, field, span, reads);
                }
                Some(_) => {
                    if reported.contains(&name) {
                        continue;
                    }
                    self.diags.push(
                        Diagnostic::error(format!(
                            "placeholder `{{{name}}}` in task `{}` reads `{name}`, which the task does not require",
                            task.name.value
                        ))
                        .at(span, "used here")
                        .help(format!("add `{name}` to the `requires` of `{}`", task.name.value)),
                    );
                    reported.push(name);
                }
                None => {
                    if reported.contains(&name) {
                        continue;
                    }
                    let readable: Vec<&str> = reads
                        .iter()
                        .map(|&f| self.fields[f].name.as_str())
                        .chain(
                            self.fields
                                .iter()
                                .filter(|f| f.producer == Producer::Input)
                                .map(|f| f.name.as_str()),
                        )
                        .chain(task.input_data.iter().map(|(k, _)| k.value.as_str()))
                        .collect();
                    self.diags.push(
                        Diagnostic::error(format!(
                            "unresolved placeholder `{{{name}}}` in task `{}`{}",
                            task.name.value,
                            did_you_mean(&name, readable.iter().copied())
                        ))
                        .at(span, "no input, required field or input_data key has this name")
                        .help(format!(
                            "declare `{name}` under `{INPUTS_KEY}:`, require it, or add it to the task's `input_data`; write `{{{{{name}}}}}` for literal braces"
                        )),
                    );
                    reported.push(name);
                }
            }
        }
    }

    fn agents(&mut self) -> Vec<Agent> {
        let Some(agents) = self.cx.agents else {
            return Vec::new();
        };
        for task in &self.file.tasks {
            let Some(agent) = &task.agent else { continue };
            if !agents.agents.iter().any(|a| a.name.value == agent.value) {
                let names = agents.agents.iter().map(|a| a.name.value.as_str());
                self.diags.push(
                    Diagnostic::error(format!(
                        "task `{}` names agent `{}`, which agents.yaml does not define{}",
                        task.name.value,
                        agent.value,
                        did_you_mean(&agent.value, names)
                    ))
                    .at(agent.span, "unknown agent")
                    .help("define it in agents.yaml with `role`, `goal` and `backstory`"),
                );
            }
        }
        agents
            .agents
            .iter()
            .map(|a| Agent {
                name: a.name.value.clone(),
                role: value_or_empty(&a.role),
                goal: value_or_empty(&a.goal),
                backstory: value_or_empty(&a.backstory),
                tools: a.tools.iter().map(|t| t.value.clone()).collect(),
            })
            .collect()
    }

    /// A topological order (ties keep file order), or the cycles reported.
    fn order(&mut self, tasks: &[Task]) -> Option<Vec<TaskId>> {
        let n = tasks.len();
        let mut graph: DiGraph<TaskId, usize> = DiGraph::with_capacity(n, self.edges.len());
        for id in 0..n {
            graph.add_node(id);
        }
        for (i, e) in self.edges.iter().enumerate() {
            graph.add_edge(NodeIndex::new(e.from), NodeIndex::new(e.to), i);
        }
        let mut cyclic = false;
        for scc in petgraph::algo::tarjan_scc(&graph) {
            let looped = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
            if looped {
                cyclic = true;
                self.report_cycle(&graph, &scc);
            }
        }
        if cyclic {
            return None;
        }
        let mut indegree: Vec<usize> = tasks.iter().map(|t| t.depends_on.len()).collect();
        let mut dependants: Vec<Vec<TaskId>> = vec![Vec::new(); n];
        for (id, t) in tasks.iter().enumerate() {
            for &d in &t.depends_on {
                dependants[d].push(id);
            }
        }
        let mut ready: BinaryHeap<Reverse<TaskId>> =
            (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(Reverse(id)) = ready.pop() {
            order.push(id);
            for &next in &dependants[id] {
                indegree[next] -= 1;
                if indegree[next] == 0 {
                    ready.push(Reverse(next));
                }
            }
        }
        Some(order)
    }

    /// Why an edge exists, in words (only needed for cycle reports).
    fn why(&self, edge: &Edge) -> String {
        let (to, from) = (
            &self.file.tasks[edge.to].name.value,
            &self.file.tasks[edge.from].name.value,
        );
        match edge.field {
            Some(f) => format!(
                "`{to}` reads `{}`, produced by `{from}`",
                self.fields[f].name
            ),
            None => format!("`{to}` has `{from}` in its context"),
        }
    }

    /// Reports one cycle through a strongly connected component, as a path.
    fn report_cycle(&mut self, graph: &DiGraph<TaskId, usize>, scc: &[NodeIndex]) {
        let start = *scc.iter().min().expect("an SCC is never empty");
        // Walk edges inside the component until a node repeats: that closes a cycle.
        let mut path = vec![start];
        let mut via: Vec<usize> = Vec::new();
        loop {
            let here = *path.last().expect("path starts non-empty");
            let Some(edge) = graph
                .edges(here)
                .filter(|e| scc.contains(&petgraph::visit::EdgeRef::target(e)))
                .min_by_key(petgraph::visit::EdgeRef::target)
            else {
                return;
            };
            let target = petgraph::visit::EdgeRef::target(&edge);
            via.push(*edge.weight());
            if let Some(pos) = path.iter().position(|&p| p == target) {
                path.drain(..pos);
                via.drain(..pos);
                path.push(target);
                break;
            }
            path.push(target);
        }
        let names: Vec<&str> = path
            .iter()
            .map(|&n| self.file.tasks[graph[n]].name.value.as_str())
            .collect();
        let first = &self.edges[via[0]];
        let message = if names.len() == 2 {
            format!("task `{}` depends on itself: {}", names[0], self.why(first))
        } else {
            format!("dependency cycle: {}", names.join(" -> "))
        };
        let mut d = Diagnostic::error(message).at(first.span, self.why(first));
        for &e in &via[1..] {
            d = d.also(self.edges[e].span, self.why(&self.edges[e]));
        }
        d = d.help("a task can only read what earlier tasks produce; break the cycle by removing one of these reads");
        self.diags.push(d);
    }
}

fn crewai_output_name(task: &str) -> String {
    format!("{task}_output")
}

/// Whether two field types are the same as written (`json` and `serde_json::Value` agree).
fn same_type(a: &FieldType, b: &FieldType) -> bool {
    let norm = |t: &FieldType| match t {
        FieldType::Json => "serde_json::Value".to_owned(),
        FieldType::Rust(s) => s
            .trim_start_matches("::")
            .trim_start_matches("tasknet::__private::")
            .to_owned(),
    };
    norm(a) == norm(b)
}

/// Task, field and input_data names become Rust identifiers: snake_case, no keywords.
pub fn check_identifier(name: &str) -> Result<(), (String, String)> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name != "_";
    if !valid {
        let suggestion: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
            .to_snake_case();
        let suggestion =
            if suggestion.starts_with(|c: char| c.is_ascii_digit()) || suggestion.is_empty() {
                format!("_{suggestion}")
            } else {
                suggestion
            };
        return Err((
            "is not a snake_case Rust identifier".to_owned(),
            format!("use lowercase letters, digits and `_`, e.g. `{suggestion}`"),
        ));
    }
    if RUST_KEYWORDS.contains(&name) {
        return Err((
            "is a reserved word in Rust".to_owned(),
            format!("rename it, e.g. `{name}_task`"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_identifier;

    #[test]
    fn identifiers() {
        assert!(check_identifier("read_email").is_ok());
        assert!(check_identifier("_private2").is_ok());
        assert!(check_identifier("ReadEmail").is_err());
        assert!(
            check_identifier("read-email")
                .unwrap_err()
                .1
                .contains("read_email")
        );
        assert!(
            check_identifier("match")
                .unwrap_err()
                .0
                .contains("reserved")
        );
        assert!(check_identifier("2fast").unwrap_err().1.contains("_2fast"));
        assert!(check_identifier("").is_err());
    }
}
