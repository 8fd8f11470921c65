//! What each input and task produces: declared once, typed, checked against a hand-written
//! state.

use crate::diagnostic::Diagnostic;
use crate::model::{DataEntry, DataValue, Field, FieldId, Producer};
use crate::spec::{FieldDecl, TaskDecl, Text};
use crate::suggest::did_you_mean;
use crate::types::{FieldType, parse_type};

use super::Resolver;
use super::names::{NameTable, check_identifier, crewai_output_name, snake_ident};

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

impl Resolver<'_, '_> {
    pub(super) fn declare_inputs(&mut self) {
        for decl in &self.file.inputs {
            self.declare(decl, Producer::Input, "input");
        }
        if !self.file.uses_extensions {
            self.declare_crewai_inputs();
        }
    }

    /// CrewAI's rule: in a file without tasknet keys, every placeholder that is not a task's
    /// output is a kickoff input of type String (what `crew.kickoff(inputs=...)` fills).
    pub(super) fn declare_crewai_inputs(&mut self) {
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
    pub(super) fn declare_produces(&mut self) -> Vec<Vec<FieldId>> {
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
    pub(super) fn declare(
        &mut self,
        decl: &FieldDecl,
        producer: Producer,
        kind: &str,
    ) -> Option<FieldId> {
        let name = &decl.name;
        let by = match producer {
            Producer::Input => "input".to_owned(),
            Producer::Task(t) => format!("task `{}`", self.file.tasks[t].name.value),
        };
        // tasknet's own names (the run metadata, `input_data`) step aside in the generated
        // code: a user's name is never refused for them.
        if let Err((problem, help)) = check_identifier(&name.value) {
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
        // A hand-written state's fields are named by its struct, so there the yaml name is the
        // Rust name.
        let rust_name = match self.cx.custom_state {
            Some(_) => name.value.clone(),
            None => self.field_rust_names.claim(snake_ident(&name.value)),
        };
        self.fields.push(Field {
            name: name.value.clone(),
            rust_name,
            ty,
            producer,
            optional,
            span: name.span,
        });
        self.field_ids.insert(name.value.clone(), id);
        Some(id)
    }

    pub(super) fn field_type(&mut self, decl: &FieldDecl, by: &str) -> Option<(FieldType, bool)> {
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

    pub(super) fn input_data(&mut self, task: &TaskDecl) -> Vec<DataEntry> {
        let mut out = Vec::with_capacity(task.input_data.len());
        let mut rust_names = NameTable::snake(&[]);
        for (key, node) in &task.input_data {
            if let Err((problem, help)) = check_identifier(&key.value) {
                self.diags.push(
                    Diagnostic::error(format!("input_data key `{}` {problem}", key.value))
                        .at(key.span, "input_data keys become Rust struct fields")
                        .help(help),
                );
                continue;
            }
            out.push(DataEntry {
                key: key.value.clone(),
                rust_name: rust_names.claim(snake_ident(&key.value)),
                value: data_value(node),
            });
        }
        out
    }

    pub(super) fn lookup_field(&self, name: &str) -> Option<FieldId> {
        self.field_ids.get(name).copied()
    }

    pub(super) fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| f.name.as_str())
    }
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
