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
mod schema;
mod wire;

pub use agent::{
    CallStats, DEFAULT_MAX_ITER, DEFAULT_OUTPUT_RETRIES, answer_as, answer_task, ask_agent,
    task_messages, text_answer, typed_answer,
};
pub use agent::{Guard, NamedTool};
pub use client::{LlmClient, OutputSchema, Reply};
pub use config::{ApiKey, LlmConfig, MODEL_ENV, OutputMode, split_provider};
pub use error::{CallSite, LlmError, LlmErrorKind};
pub use human::{FeedbackFuture, HumanFeedback, Reviewer, TerminalFeedback};
pub use schema::{
    object_schema, output_schema, output_type_schema, schema_name, type_schema, whole_type_schema,
};

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
