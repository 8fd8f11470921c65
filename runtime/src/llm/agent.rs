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
use super::parse::{check_fields, parse_json};
use super::prompt::task_messages;
use super::tool_loop::{DEFAULT_MAX_ITER, NamedTool, use_tools};
use super::wire::{Message, Role, Usage};

/// CrewAI's default `guardrail_max_retries`.
pub const DEFAULT_OUTPUT_RETRIES: u32 = 3;

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

fn excerpt(text: &str) -> String {
    super::excerpt(text, 800)
}
