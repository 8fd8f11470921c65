//! Model -> Rust items: the State, per-task Input/Output and their functions, the `Tasks`
//! trait, the `Crew` binding and `TASK_REGISTRY`. Deterministic: everything follows file order.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

use crate::emit::state::{StateField, task_state_impl};
use crate::model::{
    DataEntry, DataValue, Field, FieldId, Model, Producer, StateKind, Task, ToolName,
};
use crate::settings::GenerationSettings;

/// The generated items, as tokens (what the macro returns).
pub fn items(model: &Model, settings: &GenerationSettings) -> TokenStream {
    item_list(model, settings).into_iter().collect()
}

/// The generated items one by one, so that printing can parse them one at a time.
fn item_list(model: &Model, settings: &GenerationSettings) -> Vec<TokenStream> {
    let krate = settings.crate_path_tokens();
    let rt = quote!(__tasknet);
    let e = Emitter {
        model,
        field_types: model.fields.iter().map(|f| f.ty.tokens(&rt)).collect(),
        rt,
        state: match &model.state {
            StateKind::Generated => quote!(State),
            StateKind::Custom(custom) => syn::parse_str::<syn::Path>(&custom.path)
                .map(|p| quote!(#p))
                .unwrap_or_else(|_| quote!(State)),
        },
    };
    // One short alias for the runtime keeps the generated code small and immune to a user's
    // own `Result` or `Option`.
    let mut list = vec![
        quote!(use #krate::__private as __tasknet;),
        e.state_struct(),
    ];
    list.extend(model.tasks.iter().map(|t| e.task_items(t)));
    list.push(e.tasks_trait());
    list.push(e.crew());
    list.push(e.registry());
    list.push(petri_net(model, settings.js()));
    list
}

/// `PETRI_NET_JSON`: the net in the seed's JSON format, checked for soundness here (a net that
/// fails is a generator bug, and the build says so).
fn petri_net(model: &Model, js: &crate::emit::petri::json::JsOptions) -> TokenStream {
    let net = crate::petri::build(model);
    if let Err(unsound) = crate::petri::check(&net) {
        let message = format!(
            "tasknet internal error: the Petri net of `{}` is not sound: {unsound}",
            model.tasks_file
        );
        return quote!(::core::compile_error!(#message););
    }
    let text = crate::emit::petri::json::to_json_string(&net, model, js);
    // A raw string literal: megabytes of JSON need no escaping (quote's `Literal::string`
    // escapes character by character).
    let hashes = "#".repeat(longest_hash_run(&text) + 1);
    let text: proc_macro2::TokenStream = format!("r{hashes}\"{text}\"{hashes}")
        .parse()
        .unwrap_or_else(|_| quote!(""));
    let doc = doc_lines(&format!(
        "The Petri net of `{}` in the seed's JSON format (`nome`, `lugares`, `transicoes`,\n`arcos`, `agentes`): one place per task, whose `logica` runs the task on the tasknet\nserver from a browser. Checked sound (a marked graph) when generated.",
        model.tasks_file
    ));
    quote! {
        #doc
        #[allow(dead_code)]
        pub const PETRI_NET_JSON: &str = #text;
        /// [`PETRI_NET_JSON`] as a typed value, parsed on first use.
        #[allow(dead_code)]
        pub static PETRI_NET: __tasknet::LazyLock<__tasknet::PetriNet> =
            __tasknet::LazyLock::new(|| __tasknet::petri_net(PETRI_NET_JSON));
    }
}

/// The generated items, pretty-printed (no header). Each group of items is parsed and printed
/// on its own, which keeps memory flat for files of thousands of tasks.
pub fn pretty(model: &Model, settings: &GenerationSettings) -> String {
    item_list(model, settings)
        .into_iter()
        .map(pretty_tokens)
        .collect()
}

/// Pretty-prints items with prettyplease. Tokens that do not parse are a generator bug; the
/// output then says so, and rustc points at it.
pub fn pretty_tokens(tokens: TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens) {
        Ok(file) => prettyplease::unparse(&file),
        Err(e) => format!("::core::compile_error!(\"tasknet generated invalid Rust: {e}\");\n"),
    }
}

struct Emitter<'a> {
    model: &'a Model,
    /// Each field's type, parsed once: fields are named in several items.
    field_types: Vec<TokenStream>,
    /// The runtime's `__private` module, as the generated code names it.
    rt: TokenStream,
    state: TokenStream,
}

fn doc_lines(text: &str) -> TokenStream {
    let lines = text.trim_end().lines().map(|line| {
        let line = if line.is_empty() {
            String::new()
        } else {
            format!(" {line}")
        };
        quote!(#[doc = #line])
    });
    quote!(#(#lines)*)
}

fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

fn type_name(task: &Task, suffix: &str) -> Ident {
    format_ident!("{}{}", task.type_name, suffix)
}

/// `#[serde(rename = "...")]` when the Rust name is not the yaml's.
fn rename(rust_name: &str, name: &str) -> TokenStream {
    if rust_name == name {
        TokenStream::new()
    } else {
        quote!(#[serde(rename = #name)])
    }
}

/// A line for the docs of an item named after a yaml name that Rust spells otherwise.
fn yaml_name_doc(rust_name: &str, name: &str) -> TokenStream {
    if rust_name == name {
        TokenStream::new()
    } else {
        let line = format!(" In the yaml: `{name}`.");
        quote!(#[doc = ""] #[doc = #line])
    }
}

impl Emitter<'_> {
    fn field_ty(&self, id: FieldId) -> &TokenStream {
        &self.field_types[id]
    }

    fn state_struct(&self) -> TokenStream {
        if !matches!(self.model.state, StateKind::Generated) {
            return TokenStream::new();
        }
        let rt = &self.rt;
        let fields = self.model.fields.iter().enumerate().map(|(id, f)| {
            let name = ident(&f.rust_name);
            let ty = self.field_ty(id);
            let doc = match f.producer {
                Producer::Input => " Kickoff input.".to_owned(),
                Producer::Task(t) => format!(" Produced by `{}`.", self.model.tasks[t].name),
            };
            let yaml = yaml_name_doc(&f.rust_name, &f.name);
            quote! {
                #[doc = #doc]
                #yaml
                pub #name: #rt::Option<#ty>,
            }
        });
        let state_fields: Vec<StateField> = self
            .model
            .fields
            .iter()
            .enumerate()
            .map(|(id, f)| StateField {
                ident: ident(&f.rust_name),
                name: f.name.clone(),
                ty: self.field_ty(id).clone(),
                ty_display: f.ty.display(),
                optional: true,
            })
            .collect();
        let state_impl = task_state_impl(&quote!(State), &state_fields, &self.model.metadata);
        let meta = &self.model.metadata;
        let (log, current, stamp) = (
            ident(&meta.execution_log),
            ident(&meta.current_task),
            ident(&meta.timestamp),
        );
        let serde_impls = self.state_serde_impls();
        let doc = doc_lines(&format!(
            "The state shared by the tasks of `{}`: every field starts unset (CrewAI's\ninputs and task outputs), plus the run metadata.",
            self.model.tasks_file
        ));
        quote! {
            #doc
            #[derive(Debug, Clone, Default)]
            #[allow(dead_code)]
            pub struct State {
                #(#fields)*
                /// Run metadata: one entry per task whose output was merged, in order.
                pub #log: #rt::Vec<#rt::LogEntry>,
                /// Run metadata: the task that ran last.
                pub #current: #rt::Option<#rt::String>,
                /// Run metadata: when the last task's output was merged (RFC 3339, UTC).
                pub #stamp: #rt::Option<#rt::String>,
            }

            #serde_impls

            #state_impl
        }
    }

    /// `Serialize` and `Deserialize` for `State`, written out rather than derived: serde's
    /// derive counts the set fields in one expression nested as deep as there are fields, and
    /// reads them into one local each, in scopes nested as deep; near 20,000 fields either
    /// overflows rustc's stack (type checking, and LLVM's debug info). Here the count is a flat
    /// list and each field is read straight into a default `State`. Unset fields are skipped
    /// when writing; unknown fields are an error when reading, missing ones stay unset (a field
    /// given twice keeps the last value).
    fn state_serde_impls(&self) -> TokenStream {
        let rt = &self.rt;
        let fields: Vec<Ident> = self
            .model
            .fields
            .iter()
            .map(|f| ident(&f.rust_name))
            .collect();
        let meta = &self.model.metadata;
        let metadata = [ident(&meta.current_task), ident(&meta.timestamp)];
        let optional = || fields.iter().chain(&metadata);
        let names = optional();
        let field_keys: Vec<&str> = self.model.fields.iter().map(|f| &*f.name).collect();
        let metadata_keys = [meta.current_task.as_str(), meta.timestamp.as_str()];
        let (read_names, read_keys) = (optional(), field_keys.iter().chain(&metadata_keys));
        let log_key = meta.execution_log.as_str();
        let log = ident(log_key);
        let all_keys = field_keys
            .iter()
            .chain(std::iter::once(&log_key))
            .chain(&metadata_keys);
        // In the struct's order, as the derive wrote them; execution_log is always written.
        quote! {
            impl #rt::serde::Serialize for State {
                fn serialize<S: #rt::serde::Serializer>(&self, serializer: S) -> #rt::Result<S::Ok, S::Error> {
                    use #rt::serde::ser::SerializeStruct as _;
                    let len = 1 + #rt::count_set(&[#(self.#names.is_some()),*]);
                    let mut state = serializer.serialize_struct("State", len)?;
                    #(#rt::serialize_optional(&mut state, #field_keys, &self.#fields)?;)*
                    state.serialize_field(#log_key, &self.#log)?;
                    #(#rt::serialize_optional(&mut state, #metadata_keys, &self.#metadata)?;)*
                    state.end()
                }
            }

            impl<'de> #rt::serde::Deserialize<'de> for State {
                fn deserialize<D: #rt::serde::Deserializer<'de>>(deserializer: D) -> #rt::Result<Self, D::Error> {
                    const FIELDS: &[&str] = &[#(#all_keys),*];
                    struct StateVisitor;
                    impl<'de> #rt::serde::de::Visitor<'de> for StateVisitor {
                        type Value = State;
                        fn expecting(&self, f: &mut ::core::fmt::Formatter) -> ::core::fmt::Result {
                            f.write_str("the state: a map of its fields")
                        }
                        fn visit_map<M: #rt::serde::de::MapAccess<'de>>(self, mut map: M) -> #rt::Result<State, M::Error> {
                            let mut state = <State as ::core::default::Default>::default();
                            while let #rt::Some(key) = map.next_key::<#rt::FieldKey<'de>>()? {
                                match &*key.0 {
                                    #(#read_keys => state.#read_names = map.next_value()?,)*
                                    #log_key => state.#log = map.next_value()?,
                                    other => {
                                        return #rt::Err(<M::Error as #rt::serde::de::Error>::unknown_field(other, FIELDS));
                                    }
                                }
                            }
                            #rt::Ok(state)
                        }
                    }
                    deserializer.deserialize_struct("State", FIELDS, StateVisitor)
                }
            }
        }
    }

    fn task_items(&self, task: &Task) -> TokenStream {
        let rt = &self.rt;
        let state = &self.state;
        let name = &task.name;
        let input_ty = type_name(task, "Input");
        let output_ty = type_name(task, "Output");
        let data_ty = type_name(task, "InputData");
        let input_fn = format_ident!("{}_input", task.rust_name);
        let output_fn = format_ident!("{}_output", task.rust_name);

        let description = doc_lines(&task.description);
        let input_doc = format!(" Input of task `{name}`: the state fields it requires.");
        let output_doc = format!(" Output of task `{name}`: the state fields it produces.");
        // An agent's answer is asked for with the Output's JSON Schema: a user's type in
        // `produces` must implement `JsonSchema` (a compile error here otherwise).
        let schema_derive = if self.by_agent(task).is_some() {
            quote! {
                #[derive(#rt::schemars::JsonSchema)]
                #[schemars(crate = "__tasknet::schemars")]
            }
        } else {
            TokenStream::new()
        };

        let required: Vec<(FieldId, &Field)> = task
            .requires
            .iter()
            .map(|&f| (f, &self.model.fields[f]))
            .collect();
        let produced: Vec<(FieldId, &Field)> = task
            .produces
            .iter()
            .map(|&f| (f, &self.model.fields[f]))
            .collect();

        let input_fields = required.iter().map(|&(fid, f)| {
            let id = ident(&f.rust_name);
            let ty = self.field_ty(fid);
            let doc = format!(" State field `{}`.", f.name);
            let rename = rename(&f.rust_name, &f.name);
            quote!(#[doc = #doc] #rename pub #id: #ty,)
        });
        let (data_struct, data_field, data_value) = if task.input_data.is_empty() {
            (TokenStream::new(), TokenStream::new(), TokenStream::new())
        } else {
            let (decls, values): (Vec<_>, Vec<_>) = task
                .input_data
                .iter()
                .map(|entry| {
                    let id = ident(&entry.rust_name);
                    let (ty, value) = data_value(&entry.value, rt);
                    let doc = format!(" `input_data.{}`.", entry.key);
                    let rename = rename(&entry.rust_name, &entry.key);
                    (
                        quote!(#[doc = #doc] #rename pub #id: #ty,),
                        quote!(#id: #value,),
                    )
                })
                .unzip();
            let doc = format!(" The static `input_data` of task `{name}`.");
            (
                quote! {
                    #[doc = #doc]
                    #[derive(Debug, Clone, #rt::serde::Serialize)]
                    #[serde(crate = "__tasknet::serde")]
                    #[allow(dead_code)]
                    pub struct #data_ty {
                        #(#decls)*
                    }
                },
                quote! {
                    /// The task's static `input_data`.
                    pub input_data: #data_ty,
                },
                quote!(input_data: #data_ty { #(#values)* },),
            )
        };
        let output_fields = produced.iter().map(|&(fid, f)| {
            let id = ident(&f.rust_name);
            let ty = self.field_ty(fid);
            let doc = format!(" State field `{}`.", f.name);
            let rename = rename(&f.rust_name, &f.name);
            quote!(#[doc = #doc] #rename pub #id: #ty,)
        });

        let selects = required.iter().map(|(_, f)| {
            let id = ident(&f.rust_name);
            let field_name = &f.name;
            if f.optional {
                quote!(#id: #rt::required(&state.#id, #name, #field_name)?,)
            } else {
                quote!(#id: state.#id.clone(),)
            }
        });
        let state_param = if required.is_empty() {
            quote!(_state)
        } else {
            quote!(state)
        };
        let merges = produced.iter().map(|(_, f)| {
            let id = ident(&f.rust_name);
            if f.optional {
                quote!(state.#id = Some(output.#id);)
            } else {
                quote!(state.#id = output.#id;)
            }
        });
        let output_param = if produced.is_empty() {
            quote!(_output)
        } else {
            quote!(output)
        };
        let input_fn_doc = format!(
            " Builds the input of `{name}` from the state: copies the fields it requires, nothing else."
        );
        let output_fn_doc = doc_lines(&format!(
            "Merges the output of `{name}` into the state, keeping every other field, and records\nthe task in the run metadata."
        ));
        quote! {
            #data_struct

            #[doc = #input_doc]
            #[doc = ""]
            #description
            #[derive(Debug, Clone, #rt::serde::Serialize)]
            #[serde(crate = "__tasknet::serde")]
            #[allow(dead_code)]
            pub struct #input_ty {
                #(#input_fields)*
                #data_field
            }

            #[doc = #output_doc]
            #[derive(Debug, Clone, #rt::serde::Serialize, #rt::serde::Deserialize)]
            #[serde(crate = "__tasknet::serde")]
            #schema_derive
            #[allow(dead_code)]
            pub struct #output_ty {
                #(#output_fields)*
            }

            #[doc = #input_fn_doc]
            #[allow(dead_code)]
            pub fn #input_fn(#state_param: &#state) -> #rt::Result<#input_ty, #rt::MissingField> {
                Ok(#input_ty {
                    #(#selects)*
                    #data_value
                })
            }

            #output_fn_doc
            #[allow(dead_code)]
            pub fn #output_fn(state: &mut #state, #output_param: #output_ty) {
                #(#merges)*
                #rt::TaskState::record(state, #name);
            }
        }
    }

    fn tasks_trait(&self) -> TokenStream {
        let rt = &self.rt;
        let methods = self.model.tasks.iter().map(|task| {
            let method = ident(&task.rust_name);
            let input_ty = type_name(task, "Input");
            let output_ty = type_name(task, "Output");
            let mut doc = if task.description.trim().is_empty() {
                format!("Task `{}`.", task.name)
            } else {
                task.description.trim_end().to_owned()
            };
            if !task.expected_output.trim().is_empty() {
                doc.push_str("\n\nExpected output: ");
                doc.push_str(task.expected_output.trim_end());
            }
            if task.rust_name != task.name {
                doc.push_str(&format!("\n\nTask `{}` in the yaml.", task.name));
            }
            let by_agent = self.by_agent(task);
            if let Some(agent) = by_agent {
                doc.push_str(&format!(
                    "\n\nLeft to agent `{agent}` (through the runner's LLM) unless implemented here."
                ));
            }
            let doc = doc_lines(&doc);
            let signature = quote! {
                fn #method(
                    &self,
                    ctx: &#rt::TaskContext,
                    input: #input_ty,
                ) -> impl ::core::future::Future<Output = #rt::Result<#output_ty, #rt::TaskError>> + Send
            };
            match by_agent {
                // A task whose agent agents.yaml defines runs through it by default; any other
                // must be implemented (a compile error otherwise).
                Some(_) => {
                    let tools = self.offered_tools(task).map(|tool| {
                        let api_name = &tool.api_name;
                        let method = ident(&tool.rust_name);
                        quote!((#api_name, <Self as Tools>::#method(self)))
                    });
                    let guardrail = ident(&task.guardrail_method);
                    let guardrail_doc = doc_lines(&format!(
                        "The guardrail of task `{}`: called on each answer of its agent that parses; an\n`Err` goes back to the agent with its message (up to `guardrail_max_retries` times,\nthen the task fails). Accepts every answer unless implemented.",
                        task.name
                    ));
                    quote! {
                        #doc
                        #signature {
                            #rt::agent_task(
                                ctx,
                                input,
                                #rt::Vec::from([#(#tools),*]),
                                |output| <Self as Tasks>::#guardrail(self, output),
                            )
                        }

                        #guardrail_doc
                        fn #guardrail(&self, output: &#output_ty) -> #rt::Result<(), #rt::String> {
                            let _ = output;
                            Ok(())
                        }
                    }
                }
                None => quote! {
                    #doc
                    #signature;
                },
            }
        });
        let doc = doc_lines(&format!(
            "The tasks of `{}`: one method per task.\n\nA task whose agent agents.yaml defines runs through that agent by default (the\nrunner's LLM); implement its method to run it in code instead. Every other task must be\nimplemented: a missing method is a compile error. `Crew(your_impl)` is what the runtime runs.",
            self.model.tasks_file
        ));
        let tools = self.tools_trait();
        let supertraits = if self.model.tools.is_empty() {
            quote!(Send + Sync + 'static)
        } else {
            quote!(Tools + Send + Sync + 'static)
        };
        quote! {
            #doc
            #[allow(dead_code)]
            pub trait Tasks: #supertraits {
                #(#methods)*
            }

            #tools
        }
    }

    /// The agent a task is left to by default: its `agent`, when agents.yaml defines it.
    fn by_agent<'m>(&'m self, task: &'m Task) -> Option<&'m str> {
        task.agent
            .as_deref()
            .filter(|a| self.model.agents.iter().any(|defined| defined.name == *a))
    }

    /// The tools `task`'s agent gets: the task's own `tools`, else its agent's (as CrewAI).
    fn offered_tools<'m>(&'m self, task: &'m Task) -> impl Iterator<Item = &'m ToolName> {
        let agent_tools = task
            .agent
            .as_deref()
            .and_then(|a| self.model.agents.iter().find(|defined| defined.name == a))
            .map_or(&[][..], |a| &a.tools[..]);
        let names = if task.tools.is_empty() {
            agent_tools
        } else {
            &task.tools[..]
        };
        names
            .iter()
            .filter_map(|name| self.model.tools.iter().find(|t| t.name == *name))
    }

    /// `Tools`: one required method per tool the yaml names, so that a tool the code does not
    /// provide fails the build, naming it and where the yaml names it.
    fn tools_trait(&self) -> TokenStream {
        let rt = &self.rt;
        if self.model.tools.is_empty() {
            return TokenStream::new();
        }
        let methods = self.model.tools.iter().map(|tool| {
            let method = ident(&tool.rust_name);
            let doc = doc_lines(&format!(
                "Tool `{}`, named at {}: the function its agents call.",
                tool.name, tool.location
            ));
            quote! {
                #doc
                fn #method(&self) -> #rt::Tool;
            }
        });
        let listed: Vec<String> = self
            .model
            .tools
            .iter()
            .map(|t| format!("`{}` ({})", t.name, t.location))
            .collect();
        let note = format!(
            "the yaml names these tools: {}; implement `Tools` with a method per tool returning a `tasknet::Tool`",
            listed.join(", ")
        );
        let doc = doc_lines(
            "The tools the yaml names: one method per tool, each giving the typed function
(`tasknet::Tool::new`) the agents call. A tool the code does not provide is a compile
error.",
        );
        quote! {
            #doc
            #[diagnostic::on_unimplemented(message = "`{Self}` does not provide the crew's tools", note = #note)]
            #[allow(dead_code)]
            pub trait Tools {
                #(#methods)*
            }
        }
    }

    fn crew(&self) -> TokenStream {
        let rt = &self.rt;
        let state = &self.state;
        let count = self.model.tasks.len();
        let registry_name = &self.model.name;
        let call_arms = self.model.tasks.iter().enumerate().map(|(i, task)| {
            let method = ident(&task.rust_name);
            let input_fn = format_ident!("{}_input", task.rust_name);
            let output_fn = format_ident!("{}_output", task.rust_name);
            quote!(#i => Ok(#rt::call(self.0.#method(ctx, #input_fn(state)?), #output_fn)),)
        });
        let json_arms = self.model.tasks.iter().enumerate().map(|(i, task)| {
            let input_fn = format_ident!("{}_input", task.rust_name);
            quote!(#i => #rt::input_json(#input_fn(state)),)
        });
        let panic = quote! {
            panic!("task index {index} is out of range: registry `{}` has {} tasks", #registry_name, #count)
        };
        // An empty registry has no task to call: a match with only `_` would trip clippy.
        let (call_body, json_body) = if count == 0 {
            (
                quote!(let _ = (ctx, state); #panic),
                quote!(let _ = state; #panic),
            )
        } else {
            (
                quote!(match index { #(#call_arms)* _ => #panic, }),
                quote!(match index { #(#json_arms)* _ => #panic, }),
            )
        };
        quote! {
            /// Binds an implementation of [`Tasks`] to [`TASK_REGISTRY`]: what the runtime executes.
            #[allow(dead_code)]
            pub struct Crew<A>(
                /// The implementation of [`Tasks`].
                pub A,
            );

            impl<A: Tasks> #rt::TaskSet for Crew<A> {
                type State = #state;

                fn registry(&self) -> &'static #rt::Registry<#state> {
                    &TASK_REGISTRY
                }

                fn call<'a>(
                    &'a self,
                    index: usize,
                    ctx: &'a #rt::TaskContext,
                    state: &#state,
                ) -> #rt::Result<#rt::TaskCall<'a, #state>, #rt::MissingField> {
                    #call_body
                }

                fn input_json(&self, index: usize, state: &#state) -> #rt::Result<#rt::JsonText, #rt::TaskError> {
                    #json_body
                }
            }
        }
    }

    fn registry(&self) -> TokenStream {
        let rt = &self.rt;
        let state = &self.state;
        let m = self.model;
        let field_spec = |f: &Field| {
            let name = &f.name;
            let ty = f.ty.display();
            quote!(#rt::FieldSpec { name: #name, ty: #ty })
        };
        let opt_str = |s: &Option<String>| match s {
            Some(s) => quote!(Some(#s)),
            None => quote!(None),
        };
        let file = &m.tasks_file;
        let tasks = m.tasks.iter().map(|t| {
            let name = &t.name;
            let description = &t.description;
            let expected = &t.expected_output;
            let agent = opt_str(&t.agent);
            let tools = &t.tools;
            let requires = t.requires.iter().map(|&f| &m.fields[f].name);
            let produces = t.produces.iter().map(|&f| field_spec(&m.fields[f]));
            let input_data = input_data_json(&t.input_data);
            let context = &t.context;
            let depends_on = &t.depends_on;
            let output_file = opt_str(&t.output_file);
            let timeout_ms = match t.timeout_ms {
                Some(ms) => quote!(Some(#ms)),
                None => quote!(None),
            };
            let retry = match t.retry {
                Some(r) => {
                    let (attempts, backoff_ms) = (r.attempts, r.backoff_ms);
                    quote!(Some(#rt::RetrySpec { attempts: #attempts, backoff_ms: #backoff_ms }))
                }
                None => quote!(None),
            };
            let output_retries = match t.output_retries {
                Some(n) => quote!(Some(#n)),
                None => quote!(None),
            };
            let guardrails = &t.guardrails;
            let human_input = t.human_input;
            let line = t.line as u32;
            let column = t.column as u32;
            quote! {
                #rt::TaskSpec {
                    name: #name,
                    description: #description,
                    expected_output: #expected,
                    agent: #agent,
                    tools: &[#(#tools),*],
                    requires: &[#(#requires),*],
                    produces: &[#(#produces),*],
                    input_data: #input_data,
                    context: &[#(#context),*],
                    depends_on: &[#(#depends_on),*],
                    output_file: #output_file,
                    timeout_ms: #timeout_ms,
                    retry: #retry,
                    output_retries: #output_retries,
                    guardrails: &[#(#guardrails),*],
                    human_input: #human_input,
                    location: #rt::SourceLocation { file: #file, line: #line, column: #column },
                }
            }
        });
        let order = &m.order;
        let inputs = m.inputs().map(field_spec);
        let agents = m.agents.iter().map(|a| {
            let (name, role, goal, backstory, tools) = (&a.name, &a.role, &a.goal, &a.backstory, &a.tools);
            let max_iter = match a.max_iter {
                Some(n) => quote!(Some(#n)),
                None => quote!(None),
            };
            let some_str = |text: &Option<String>| match text {
                Some(text) => quote!(Some(#text)),
                None => quote!(None),
            };
            let (llm, output_mode) = (some_str(&a.llm), some_str(&a.output_mode));
            quote! {
                #rt::AgentSpec { name: #name, role: #role, goal: #goal, backstory: #backstory, tools: &[#(#tools),*], max_iter: #max_iter, llm: #llm, output_mode: #output_mode }
            }
        });
        let name = &m.name;
        let hash = &m.source_hash;
        let doc = doc_lines(&format!(
            "The tasks of `{}`, checked at compile time: dependencies resolved, order fixed.",
            m.tasks_file
        ));
        quote! {
            #doc
            #[allow(dead_code)]
            pub static TASK_REGISTRY: #rt::Registry<#state> = #rt::Registry {
                name: #name,
                source_hash: #hash,
                tasks: &[#(#tasks),*],
                order: &[#(#order),*],
                inputs: &[#(#inputs),*],
                agents: &[#(#agents),*],
                petri_net_json: PETRI_NET_JSON,
                state: #rt::PhantomData,
            };
        }
    }
}

/// The longest run of `#` right after a `"` in `text`: a raw string needs one more.
fn longest_hash_run(text: &str) -> usize {
    text.split('"')
        .skip(1)
        .map(|rest| rest.bytes().take_while(|&b| b == b'#').count())
        .max()
        .unwrap_or(0)
}

/// The JSON text of a task's input_data, for the registry.
fn input_data_json(data: &[DataEntry]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|e| (e.key.clone(), e.value.to_json()))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// The Rust type and value of one input_data entry: scalars keep their YAML type, lists of one
/// scalar type become slices, anything else is JSON.
fn data_value(node: &DataValue, rt: &TokenStream) -> (TokenStream, TokenStream) {
    if let Some(scalar) = scalar(node) {
        return scalar;
    }
    if let DataValue::List(items) = node
        && !items.is_empty()
    {
        let scalars: Option<Vec<(TokenStream, TokenStream)>> = items.iter().map(scalar).collect();
        if let Some(scalars) = scalars {
            let first = scalars[0].0.to_string();
            if scalars.iter().all(|(ty, _)| ty.to_string() == first) {
                let ty = &scalars[0].0;
                let values = scalars.iter().map(|(_, v)| v);
                return (quote!(&'static [#ty]), quote!(&[#(#values),*]));
            }
        }
    }
    (quote!(#rt::Json), json_expr(node, rt))
}

fn scalar(node: &DataValue) -> Option<(TokenStream, TokenStream)> {
    Some(match node {
        DataValue::Bool(b) => (quote!(bool), quote!(#b)),
        DataValue::Int(i) => {
            let lit = Literal::i64_unsuffixed(*i);
            (quote!(i64), quote!(#lit))
        }
        DataValue::UInt(u) => {
            let lit = Literal::u64_unsuffixed(*u);
            (quote!(u64), quote!(#lit))
        }
        DataValue::Float(f) => (quote!(f64), float_expr(*f)),
        DataValue::Str(s) => (quote!(&'static str), quote!(#s)),
        _ => return None,
    })
}

fn float_expr(f: f64) -> TokenStream {
    if f.is_nan() {
        quote!(f64::NAN)
    } else if f == f64::INFINITY {
        quote!(f64::INFINITY)
    } else if f == f64::NEG_INFINITY {
        quote!(f64::NEG_INFINITY)
    } else {
        let lit = Literal::f64_unsuffixed(f);
        quote!(#lit)
    }
}

fn json_expr(node: &DataValue, rt: &TokenStream) -> TokenStream {
    let json = quote!(#rt::serde_json);
    match node {
        DataValue::Null => quote!(#json::Value::Null),
        DataValue::Bool(b) => quote!(#json::Value::Bool(#b)),
        DataValue::Int(i) => quote!(#json::Value::from(#i)),
        DataValue::UInt(u) => quote!(#json::Value::from(#u)),
        DataValue::Float(f) => {
            let f = float_expr(*f);
            quote!(#json::Value::from(#f))
        }
        DataValue::Str(s) => quote!(#json::Value::from(#s)),
        DataValue::List(items) => {
            let items = items.iter().map(|i| json_expr(i, rt));
            quote!(#json::Value::Array(::std::vec![#(#items),*]))
        }
        DataValue::Map(entries) => {
            let inserts = entries.iter().map(|(key, v)| {
                let v = json_expr(v, rt);
                quote!(map.insert(#rt::String::from(#key), #v);)
            });
            if entries.is_empty() {
                quote!(#json::Value::Object(#json::Map::new()))
            } else {
                quote!({
                    let mut map = #json::Map::new();
                    #(#inserts)*
                    #json::Value::Object(map)
                })
            }
        }
    }
}
