//! The agent's tool loop: the tools offered, the calls the model asks for run (one turn's at
//! once), their results given back, up to the agent's `max_iter` turns.

use futures_util::future::join_all;
use serde_json::Value;

use super::agent::CallStats;
use super::client::LlmClient;
use super::error::{CallSite, LlmError, LlmErrorKind};
use super::wire::{FunctionDef, Message, Role, ToolCall, ToolDef};

/// A tool as the agent offers it: the name the yaml gives it, and the function.
pub type NamedTool = (&'static str, crate::Tool);

/// CrewAI's default `max_iter`: how many tool-calling turns an agent gets before it must answer.
pub const DEFAULT_MAX_ITER: u32 = 25;

/// The tool loop: offers `tools` (never the output schema: servers that see one skip the
/// tools), runs every call the model asks for in one turn concurrently, gives back their
/// results, and returns the model's first answer without calls; at most `max_iter` turns.
pub(super) async fn use_tools(
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
