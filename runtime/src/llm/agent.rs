//! A task run by its agent: the prompt, and an answer that always parses into the task's
//! output, or a clear error. A reply that does not parse goes back to the model with the
//! error, up to `guardrail_max_retries` times (CrewAI's key and default, 3), as rig's
//! extractors and CrewAI's guardrails do.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::TaskContext;

use super::client::{LlmClient, OutputSchema};
use super::error::{CallSite, LlmError, LlmErrorKind};
use super::wire::{FunctionDef, Message, Role, ToolCall, ToolDef, Usage};
use futures_util::future::join_all;

/// CrewAI's default `guardrail_max_retries`.
pub const DEFAULT_OUTPUT_RETRIES: u32 = 3;

/// The agent's system message and the task's user message, as docs/agents.md shows them:
/// the agent's rendered role, goal and backstory; the rendered description, the expected
/// output, and the task's input (the fields it reads) as JSON, less the text fields whose
/// value the description already holds (a `{placeholder}` filled in): the model reads each
/// once, and the prompt is that much shorter.
pub fn task_messages(ctx: &TaskContext, input: &Value) -> Vec<Message> {
    let mut messages = Vec::with_capacity(2);
    if let Some(role) = ctx.role.as_deref() {
        let mut system = format!("You are {}.", role.trim().trim_end_matches('.'));
        if let Some(backstory) = ctx.backstory.as_deref().filter(|b| !b.trim().is_empty()) {
            system.push(' ');
            system.push_str(backstory.trim());
        }
        if let Some(goal) = ctx.goal.as_deref().filter(|g| !g.trim().is_empty()) {
            system.push_str("\nYour goal: ");
            system.push_str(goal.trim());
        }
        messages.push(Message::new(Role::System, system));
    }
    let mut user = ctx.description.trim().to_owned();
    if !ctx.expected_output.trim().is_empty() {
        user.push_str("\n\nExpected output: ");
        user.push_str(ctx.expected_output.trim());
    }
    let unread;
    let input = match input {
        Value::Object(fields) => {
            let shown = |value: &Value| {
                value
                    .as_str()
                    .is_some_and(|text| !text.is_empty() && ctx.description.contains(text))
            };
            unread = Value::Object(
                fields
                    .iter()
                    .filter(|(_, value)| !shown(value))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            );
            &unread
        }
        other => other,
    };
    let has_input = match input {
        Value::Object(fields) => !fields.is_empty(),
        Value::Null => false,
        _ => true,
    };
    if has_input {
        user.push_str("\n\nInput: ");
        user.push_str(&input.to_string());
    }
    messages.push(Message::new(Role::User, user));
    messages
}

/// What answering took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    /// LLM requests made.
    pub calls: u32,
    /// Their token counts, as the server reported them.
    pub usage: Usage,
    /// Time spent waiting for the model.
    pub llm_time: Duration,
}

impl CallStats {
    /// Adds what `reply` cost.
    pub fn add(&mut self, reply: &super::client::Reply) {
        self.calls += reply.requests;
        self.usage += reply.usage;
        self.llm_time += reply.elapsed;
    }
}

/// Asks until the answer parses into `T` (and `check` accepts it), feeding each failure back:
/// at most `1 + retries` answers. The schema is sent with every request (there are no tools
/// here), in the mode the client negotiated with the server.
pub async fn typed_answer<T: DeserializeOwned>(
    client: &LlmClient,
    site: &CallSite,
    messages: Vec<Message>,
    schema: &OutputSchema,
    retries: u32,
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<(T, CallStats), LlmError> {
    let mut stats = CallStats::default();
    let value =
        typed_answer_counted(client, site, messages, schema, retries, check, &mut stats).await?;
    Ok((value, stats))
}

/// [`typed_answer`], adding what each call cost to `stats` whatever the outcome.
async fn typed_answer_counted<T: DeserializeOwned>(
    client: &LlmClient,
    site: &CallSite,
    mut messages: Vec<Message>,
    schema: &OutputSchema,
    retries: u32,
    check: impl Fn(&T) -> Result<(), String>,
    stats: &mut CallStats,
) -> Result<T, LlmError> {
    let mut last_problem = String::new();
    for _ in 0..=retries {
        let reply = client.complete(site, &messages, &[], Some(schema)).await?;
        stats.add(&reply);
        let raw = reply.message.content.clone().unwrap_or_default();
        let problem = match parse_json::<T>(&raw) {
            Ok(value) => match check(&value) {
                Ok(()) => return Ok(value),
                Err(why) => format!("it was rejected: {why}"),
            },
            Err(why) => format!("it is not the JSON object asked for: {why}"),
        };
        tracing::info!(task = %site.task, %problem, "the answer is retried");
        last_problem = format!("{problem}; the reply: {}", excerpt(&raw));
        messages.push(Message::new(Role::Assistant, raw));
        messages.push(Message::new(
            Role::User,
            format!("Your answer cannot be used: {problem}. Answer again with only the corrected JSON object."),
        ));
    }
    Err(LlmError::new(
        site,
        &client.config().model,
        LlmErrorKind::InvalidOutput,
        format!("after {} answers, {last_problem}", retries + 1),
    ))
}

/// A plain-text answer (a CrewAI task's `<task>_output`).
pub async fn text_answer(
    client: &LlmClient,
    site: &CallSite,
    messages: &[Message],
) -> Result<(String, CallStats), LlmError> {
    let reply = client.complete(site, messages, &[], None).await?;
    let mut stats = CallStats::default();
    stats.add(&reply);
    Ok((reply.message.content.unwrap_or_default(), stats))
}

/// A tool as the agent offers it: the name the yaml gives it, and the function.
pub type NamedTool = (&'static str, crate::Tool);

/// CrewAI's default `max_iter`: how many tool-calling turns an agent gets before it must answer.
pub const DEFAULT_MAX_ITER: u32 = 25;

/// A task's own check of its typed output (the generated `<task>_guardrail` method): `Err`
/// holds what the agent is told to change.
pub type Guard<'a, O> = &'a (dyn Fn(&O) -> Result<(), String> + Sync);

/// Runs a task through its agent: the prompt from the context and `input`, an answer parsed
/// into the task's output `O` (asked for as JSON with `O`'s fields, or as text for a CrewAI
/// task whose one output is `<task>_output: String`). With `tools`, the agent first calls them
/// as it likes (up to its `max_iter` turns, without the output schema); its answer after the
/// last call is the output when it is accepted. An answer is accepted when it parses, `guard`
/// takes it and the LLM finds that it follows each of the task's `guardrail` rules; otherwise
/// the reason goes back to the agent, up to `guardrail_max_retries` more answers.
pub async fn answer_task<O: DeserializeOwned + schemars::JsonSchema>(
    ctx: &TaskContext,
    input: &Value,
    tools: &[NamedTool],
    guard: Guard<'_, O>,
) -> Result<(O, CallStats), crate::TaskError> {
    answer(ctx, input, tools, guard, Shape::TaskOutput).await
}

/// The task's output from its agent, as a task left to its agent gets it (no tools, no code
/// guardrail): for a hand-written method that asks the agent only sometimes, when the run has
/// an LLM (`ctx.llm`) and runs code otherwise.
pub async fn ask_agent<I, O>(ctx: &TaskContext, input: &I) -> Result<O, crate::TaskError>
where
    I: serde::Serialize,
    O: DeserializeOwned + schemars::JsonSchema,
{
    let input = serde_json::to_value(input).map_err(|e| {
        crate::TaskError::msg(format!("task `{}`: its input is not JSON: {e}", ctx.task))
    })?;
    answer_task(ctx, &input, &[], &|_| Ok(()))
        .await
        .map(|(output, _)| output)
}

/// Asks the task's agent for one value of the code's own type `T` (its JSON Schema, doc
/// comments included, is what the model must follow), rather than for the task's whole
/// output: for a task whose code asks its agent several questions, one per item of a list (the
/// example pipeline classifies each email this way). The prompt, retries, guardrails, human
/// input and token accounting are [`answer_task`]'s; the calls add to the task's record.
pub async fn answer_as<T: DeserializeOwned + schemars::JsonSchema>(
    ctx: &TaskContext,
    input: &Value,
    guard: Guard<'_, T>,
) -> Result<(T, CallStats), crate::TaskError> {
    answer(ctx, input, &[], guard, Shape::Whole).await
}

/// What an answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// The task's output: an object with exactly the fields it `produces` (or its text, for a
    /// CrewAI task answered as text).
    TaskOutput,
    /// One value of the type asked for, as its own schema describes it.
    Whole,
}

async fn answer<O: DeserializeOwned + schemars::JsonSchema>(
    ctx: &TaskContext,
    input: &Value,
    tools: &[NamedTool],
    guard: Guard<'_, O>,
    shape: Shape,
) -> Result<(O, CallStats), crate::TaskError> {
    let agent = ctx.agent.unwrap_or("-");
    let Some(client) = ctx.llm.as_deref() else {
        return Err(crate::TaskError::msg(format!(
            "task `{}` runs through its agent `{agent}`, but no LLM is configured: run with `--llm URL --model NAME` (or set {}, and OPENAI_BASE_URL, OPENAI_API_KEY), or give the runner one in code (`Runner::llm`)",
            ctx.task,
            super::MODEL_ENV
        )));
    };
    if ctx.role.is_none() {
        return Err(crate::TaskError::msg(format!(
            "task `{}` has no agent in agents.yaml (`{agent}`): implement its method, or define the agent",
            ctx.task
        )));
    }
    let site = CallSite::new(ctx.task, ctx.agent);
    let mut stats = CallStats::default();
    let task = AgentTask {
        client,
        site: &site,
        ctx,
        guard,
        shape,
    };
    let outcome = task.answer(input, tools, &mut stats).await;
    // Spent whatever the outcome: the record shows it either way.
    ctx.record_llm_usage(&crate::LlmUsage {
        model: client.config().model.clone(),
        calls: stats.calls,
        prompt_tokens: stats.usage.prompt_tokens,
        completion_tokens: stats.usage.completion_tokens,
        llm_ms: stats.llm_time.as_secs_f64() * 1000.0,
    });
    let output = outcome.map_err(|e| crate::TaskError::msg(e.to_string()))?;
    Ok((output, stats))
}

/// One agent task being answered.
struct AgentTask<'a, O> {
    client: &'a LlmClient,
    site: &'a CallSite,
    ctx: &'a TaskContext,
    guard: Guard<'a, O>,
    shape: Shape,
}

impl<O: DeserializeOwned + schemars::JsonSchema> AgentTask<'_, O> {
    /// The `<task>_output` field of a CrewAI task answered as text, if this is one.
    fn text_field(&self) -> Option<&'static str> {
        match self.shape {
            Shape::TaskOutput => super::schema::text_output(self.ctx.task, self.ctx.produces),
            Shape::Whole => None,
        }
    }

    async fn answer(
        &self,
        input: &Value,
        tools: &[NamedTool],
        stats: &mut CallStats,
    ) -> Result<O, LlmError> {
        let (client, site, ctx) = (self.client, self.site, self.ctx);
        let mut messages = task_messages(ctx, input);
        let text_field = self.text_field();
        let schema = text_field.is_none().then(|| OutputSchema {
            name: super::schema::schema_name(ctx.task),
            schema: match self.shape {
                Shape::TaskOutput => super::schema::output_type_schema::<O>(ctx.produces),
                Shape::Whole => super::schema::whole_type_schema::<O>(),
            },
        });
        // The answer after the tools is a try of its own, made without the schema.
        let mut in_hand = if tools.is_empty() {
            None
        } else {
            let max_iter = ctx.max_iter.unwrap_or(DEFAULT_MAX_ITER);
            Some(use_tools(client, site, &mut messages, tools, max_iter, stats).await?)
        };
        let retries = ctx.output_retries.unwrap_or(DEFAULT_OUTPUT_RETRIES);
        let mut answers = 0;
        let mut last_problem = String::new();
        loop {
            let raw = match in_hand.take() {
                Some(raw) => raw,
                None if answers > retries => break,
                None => {
                    let reply = client
                        .complete(site, &messages, &[], schema.as_ref())
                        .await?;
                    stats.add(&reply);
                    answers += 1;
                    let raw = reply.message.content.unwrap_or_default();
                    messages.push(Message::new(Role::Assistant, raw.clone()));
                    raw
                }
            };
            let problem = match self.accept(&raw, text_field, stats).await? {
                Ok(output) => {
                    match self.human_feedback(&raw).await? {
                        None => return Ok(output),
                        Some(feedback) => {
                            // The person's word is not a failed try: the retries start again.
                            answers = 0;
                            messages.push(Message::new(
                            Role::User,
                            format!("Feedback on your answer: {feedback}\nAnswer again, following it."),
                        ));
                            continue;
                        }
                    }
                }
                Err(problem) => problem,
            };
            tracing::info!(task = %site.task, %problem, "the answer is retried");
            last_problem = format!("{problem}; the reply: {}", excerpt(&raw));
            let again = if text_field.is_some() {
                "Answer again."
            } else {
                "Answer again with only the corrected JSON object."
            };
            messages.push(Message::new(
                Role::User,
                format!("Your answer cannot be used: {problem}. {again}"),
            ));
        }
        Err(LlmError::new(
            site,
            &client.config().model,
            LlmErrorKind::InvalidOutput,
            format!("after {answers} answers, {last_problem}"),
        ))
    }

    /// For a `human_input` task, the person's feedback on an accepted answer (`None`: accepted).
    async fn human_feedback(&self, raw: &str) -> Result<Option<String>, LlmError> {
        if !self.ctx.human_input {
            return Ok(None);
        }
        let fail = |why: String| {
            LlmError::new(
                self.site,
                &self.client.config().model,
                LlmErrorKind::HumanInput,
                why,
            )
        };
        let Some(reviewer) = &self.ctx.human else {
            return Err(fail(
                "the task asks for human input, and no one can give it (`Runner::human_input`)"
                    .to_owned(),
            ));
        };
        let feedback = reviewer
            .0
            .feedback(self.ctx.task, raw)
            .await
            .map_err(fail)?;
        Ok(Some(feedback).filter(|f| !f.trim().is_empty()))
    }

    /// The output in `raw`, or why it cannot be used.
    async fn accept(
        &self,
        raw: &str,
        text_field: Option<&'static str>,
        stats: &mut CallStats,
    ) -> Result<Result<O, String>, LlmError> {
        let value = match text_field {
            Some(field) => serde_json::json!({ field: raw }),
            None => {
                let checked = parse_json::<Value>(raw).and_then(|v| match self.shape {
                    Shape::TaskOutput => check_fields(&v, self.ctx.produces).map(|()| v),
                    Shape::Whole => Ok(v),
                });
                match checked {
                    Ok(value) => value,
                    Err(why) => {
                        return Ok(Err(format!("it is not the JSON object asked for: {why}")));
                    }
                }
            }
        };
        let output = match serde_json::from_value::<O>(value) {
            Ok(output) => output,
            Err(why) => return Ok(Err(format!("it is not the task's output: {why}"))),
        };
        if let Err(why) = (self.guard)(&output) {
            return Ok(Err(format!("it was rejected: {why}")));
        }
        for rule in self.ctx.guardrails {
            if let Some(why) = self.rule_broken(rule, raw, stats).await? {
                return Ok(Err(format!("it was rejected: {why}")));
            }
        }
        Ok(Ok(output))
    }

    /// CrewAI's text guardrail: the LLM judges whether `answer` follows `rule`; what to change
    /// when it does not.
    async fn rule_broken(
        &self,
        rule: &str,
        answer: &str,
        stats: &mut CallStats,
    ) -> Result<Option<String>, LlmError> {
        #[derive(serde::Deserialize)]
        struct Verdict {
            valid: bool,
            feedback: String,
        }
        let messages = vec![
            Message::new(
                Role::System,
                "You check whether an answer follows a rule. Reply with a JSON object: {\"valid\": true or false, \"feedback\": what must change, or \"\"}.",
            ),
            Message::new(Role::User, format!("Rule: {rule}\n\nAnswer: {answer}")),
        ];
        let schema = OutputSchema {
            name: "guardrail_verdict".to_owned(),
            schema: serde_json::json!({
                "type": "object",
                "properties": {"valid": {"type": "boolean"}, "feedback": {"type": "string"}},
                "required": ["valid", "feedback"],
                "additionalProperties": false,
            }),
        };
        let verdict: Verdict = typed_answer_counted(
            self.client,
            self.site,
            messages,
            &schema,
            1,
            |_| Ok(()),
            stats,
        )
        .await?;
        Ok((!verdict.valid).then(|| {
            if verdict.feedback.trim().is_empty() {
                format!("it does not follow the rule `{rule}`")
            } else {
                verdict.feedback
            }
        }))
    }
}

/// The tool loop: offers `tools` (never the output schema: servers that see one skip the
/// tools), runs every call the model asks for in one turn concurrently, gives back their
/// results, and returns the model's first answer without calls; at most `max_iter` turns.
async fn use_tools(
    client: &LlmClient,
    site: &CallSite,
    messages: &mut Vec<Message>,
    tools: &[NamedTool],
    max_iter: u32,
    stats: &mut CallStats,
) -> Result<String, LlmError> {
    let offered: Vec<ToolDef> = tools
        .iter()
        .map(|(name, tool)| ToolDef {
            kind: "function",
            function: FunctionDef {
                name: (*name).to_owned(),
                description: tool.description().to_owned(),
                parameters: tool.parameters().clone(),
            },
        })
        .collect();
    // A tool call the first turn must make, when the client asks for one.
    let mut first_choice = client
        .config()
        .require_first_tool_call
        .then(|| match &offered[..] {
            [only] => {
                serde_json::json!({"type": "function", "function": {"name": only.function.name}})
            }
            _ => Value::from("required"),
        });
    for _ in 0..max_iter {
        let choice = first_choice.take();
        let reply = client
            .complete_with(site, messages, &offered, choice.as_ref(), None)
            .await?;
        stats.add(&reply);
        let message = reply.message;
        if message.tool_calls.is_empty() {
            let text = message.content.unwrap_or_default();
            messages.push(Message::new(Role::Assistant, text.clone()));
            return Ok(text);
        }
        let calls = message.tool_calls.clone();
        // llama-cpp-python refuses an assistant message whose content is null (OpenAI's own
        // form for a turn of only tool calls); an empty text means the same to both.
        messages.push(Message {
            content: Some(message.content.unwrap_or_default()),
            ..message
        });
        let results = join_all(calls.iter().map(|call| run_tool_call(site, tools, call))).await;
        for (call, result) in calls.iter().zip(results) {
            messages.push(Message::tool_result(call.id.clone(), result));
        }
    }
    Err(LlmError::new(
        site,
        &client.config().model,
        LlmErrorKind::MaxIterations,
        format!(
            "the agent was still calling tools after {max_iter} turns (its `max_iter`); raise `max_iter` in agents.yaml, or give the task fewer tools"
        ),
    ))
}

/// One call's result as the model sees it: the tool's text, or what went wrong (so that the
/// model can correct itself), with the same words as the trace.
async fn run_tool_call(site: &CallSite, tools: &[NamedTool], call: &ToolCall) -> String {
    let name = call.function.name.as_str();
    let span = tracing::info_span!(
        "gen_ai.execute_tool",
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = name,
        gen_ai.tool.call.id = call.id.as_str(),
        task = site.task,
    );
    let Some((_, tool)) = tools.iter().find(|(offered, _)| *offered == name) else {
        let names: Vec<&str> = tools.iter().map(|(n, _)| *n).collect();
        tracing::info!(parent: &span, "the model called a tool it was not offered");
        return format!(
            "Error: there is no tool `{name}`; the tools are: {}",
            names.join(", ")
        );
    };
    match tracing::Instrument::instrument(tool.call(&call.function.arguments), span.clone()).await {
        Ok(text) => text,
        Err(why) => {
            tracing::info!(parent: &span, %why, "the tool call failed");
            format!("Error: {why}")
        }
    }
}

/// The answer holds every field the task produces, of its type as far as the schema tells.
fn check_fields(value: &Value, fields: &[crate::FieldSpec]) -> Result<(), String> {
    let Value::Object(object) = value else {
        return Err("the answer must be a JSON object".to_owned());
    };
    let mut problems = Vec::new();
    for field in fields {
        match object.get(field.name) {
            None => problems.push(format!("missing field `{}`", field.name)),
            Some(found) => {
                if let Some(why) = type_mismatch(found, &super::schema::type_schema(field.ty)) {
                    problems.push(format!("field `{}` {why}", field.name));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Why `value` does not have the JSON type `schema` names (only `type`, `items` and `anyOf`
/// are read: what `type_schema` writes).
fn type_mismatch(value: &Value, schema: &Value) -> Option<String> {
    if let Some(options) = schema.get("anyOf").and_then(Value::as_array) {
        return options
            .iter()
            .all(|o| type_mismatch(value, o).is_some())
            .then(|| format!("is {value}, which matches none of its types"));
    }
    let expected = schema.get("type")?.as_str()?;
    let ok = match expected {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "null" => value.is_null(),
        "object" => value.is_object(),
        "array" => {
            let Some(items) = value.as_array() else {
                return Some(format!("must be an array, not {value}"));
            };
            let item_schema = schema.get("items")?;
            return items
                .iter()
                .find_map(|item| type_mismatch(item, item_schema))
                .map(|why| format!("has an item that {why}"));
        }
        _ => true,
    };
    (!ok).then(|| format!("must be of type {expected}, not {value}"))
}

/// The JSON in a reply: the whole text, or inside a Markdown fence, or from its first `{` to
/// its last `}` (small models wrap their JSON in prose).
fn parse_json<T: DeserializeOwned>(raw: &str) -> Result<T, String> {
    let text = raw.trim();
    let direct = serde_json::from_str::<T>(text);
    let Err(first) = direct else {
        return direct.map_err(|e| e.to_string());
    };
    let fenced = text
        .split("```")
        .nth(1)
        .map(|inside| inside.trim_start_matches("json").trim());
    let braces = match (text.find('{'), text.rfind('}')) {
        (Some(start), Some(end)) if start < end => Some(&text[start..=end]),
        _ => None,
    };
    for candidate in [fenced, braces].into_iter().flatten() {
        if let Ok(value) = serde_json::from_str::<T>(candidate) {
            return Ok(value);
        }
    }
    // The error of the most JSON-looking candidate names the field at fault.
    let best = braces.or(fenced).unwrap_or(text);
    Err(serde_json::from_str::<T>(best)
        .err()
        .map_or_else(|| first.to_string(), |e| e.to_string()))
}

fn excerpt(text: &str) -> String {
    super::excerpt(text, 800)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Out {
        category: String,
    }

    #[test]
    fn json_is_found_in_fences_and_prose() {
        let want = Out {
            category: "order".into(),
        };
        assert_eq!(parse_json::<Out>(r#"{"category":"order"}"#).unwrap(), want);
        assert_eq!(
            parse_json::<Out>("```json\n{\"category\": \"order\"}\n```").unwrap(),
            want
        );
        assert_eq!(
            parse_json::<Out>("Sure! {\"category\": \"order\"} Hope it helps.").unwrap(),
            want
        );
        let e = parse_json::<Out>(r#"{"kind": "order"}"#).unwrap_err();
        assert!(e.contains("unknown field `kind`"), "{e}");
        let e = parse_json::<Out>("{}").unwrap_err();
        assert!(e.contains("missing field `category`"), "{e}");
    }

    #[test]
    fn the_prompt_holds_the_agent_the_task_and_its_input() {
        let ctx = TaskContext {
            task: "classify",
            run_id: "r".into(),
            description: "Classify the email.".into(),
            expected_output: "A category.".into(),
            agent: Some("clerk"),
            role: Some("Sales clerk".into()),
            goal: Some("Sort the mail".into()),
            backstory: Some("Ten years at the counter.".into()),
            ..TaskContext::default()
        };
        let messages = task_messages(&ctx, &serde_json::json!({"email": "hi"}));
        assert_eq!(
            messages[0].content.as_deref(),
            Some("You are Sales clerk. Ten years at the counter.\nYour goal: Sort the mail")
        );
        assert_eq!(
            messages[1].content.as_deref(),
            Some(
                "Classify the email.\n\nExpected output: A category.\n\nInput: {\"email\":\"hi\"}"
            )
        );
        assert_eq!(task_messages(&ctx, &serde_json::json!({})).len(), 2);
    }
}
