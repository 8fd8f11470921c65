//! What each task reads: its `requires`, or CrewAI's implied context, and the fields its
//! placeholders name; each read is a dependency edge.

use crate::diagnostic::Diagnostic;
use crate::model::{FieldId, Producer, TaskId};
use crate::placeholder;
use crate::source::Span;
use crate::spec::{AgentDecl, INPUTS_KEY, TaskDecl, Text};
use crate::suggest::{closest, did_you_mean};

use super::{Edge, Resolver};

impl<'a> Resolver<'a, '_> {
    pub(super) fn add_read(
        &mut self,
        task: TaskId,
        field: FieldId,
        span: Span,
        reads: &mut Vec<FieldId>,
    ) {
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
    pub(super) fn resolve_reads(
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
    pub(super) fn missing_field(&mut self, task: &TaskDecl, req: &Text) {
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

    pub(super) fn placeholders_of(&self, task: &TaskDecl) -> Vec<(String, Span)> {
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

    pub(super) fn agent_of(&self, task: &TaskDecl) -> Option<&'a AgentDecl> {
        let name = &task.agent.as_ref()?.value;
        self.cx
            .agents?
            .agents
            .iter()
            .find(|a| &a.name.value == name)
    }

    pub(super) fn resolve_placeholders(
        &mut self,
        id: TaskId,
        task: &TaskDecl,
        reads: &mut Vec<FieldId>,
    ) {
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
}
