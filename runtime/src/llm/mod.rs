//! Agents through an LLM: an OpenAI-compatible chat-completions client (OpenAI, Ollama, vLLM,
//! llama.cpp's server, LM Studio) and the pieces of an agent task on top of it: the prompt made
//! from agents.yaml and tasks.yaml ([`task_messages`]), typed answers that always parse or fail
//! clearly ([`typed_answer`]), and the output schema made from a task's `produces`
//! ([`output_schema`]). docs/agents.md says how they fit.

mod agent;
mod client;
mod config;
mod error;
mod human;
mod parse;
mod prompt;
mod schema;
mod tool_loop;
mod wire;

pub use agent::{
    CallStats, DEFAULT_OUTPUT_RETRIES, Guard, answer_as, answer_task, ask_agent, text_answer,
    typed_answer,
};
pub use client::{LlmClient, OutputSchema, Reply};
pub use config::{ApiKey, LlmConfig, MODEL_ENV, OutputMode, split_provider};
pub use error::{CallSite, LlmError, LlmErrorKind};
pub use human::{FeedbackFuture, HumanFeedback, Reviewer, TerminalFeedback};
pub use prompt::task_messages;
pub use schema::{
    object_schema, output_schema, output_type_schema, schema_name, type_schema, whole_type_schema,
};
pub use tool_loop::{DEFAULT_MAX_ITER, NamedTool};

/// The first `limit` characters of `text`, `...` marking a cut.
pub(crate) fn excerpt(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

pub use wire::{
    ChatRequest, ChatResponse, Choice, FunctionCall, FunctionDef, Message, Role, ToolCall, ToolDef,
    Usage,
};
