//! Why an LLM call failed, naming who made it (agent, task), of which model, and the HTTP
//! status when there was one.

use std::fmt;

/// Who is calling: named in every error and in the call's tracing span.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallSite {
    /// The task.
    pub task: String,
    /// The task's agent, when it has one.
    pub agent: Option<String>,
}

impl CallSite {
    /// The task `task`, run by `agent`.
    pub fn new(task: impl Into<String>, agent: Option<&str>) -> Self {
        CallSite {
            task: task.into(),
            agent: agent.map(str::to_owned),
        }
    }
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmErrorKind {
    /// The server answered with an error status (after the retries, for 429 and 5xx).
    Status(u16),
    /// No complete reply within the timeout (after the retries).
    Timeout,
    /// The connection failed or broke (after the retries).
    Connection,
    /// The reply is not a chat completion (truncated, not JSON, no choice).
    BadReply,
    /// The answer never parsed into the task's output, after every retry.
    InvalidOutput,
    /// The agent kept calling tools past its `max_iter`.
    MaxIterations,
    /// A `Retry-After` longer than the configured limit.
    RetryAfterTooLong,
    /// Human input was asked for and could not be had.
    HumanInput,
}

/// An LLM call that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmError {
    /// Who called.
    pub site: CallSite,
    /// The model asked.
    pub model: String,
    /// What went wrong.
    pub kind: LlmErrorKind,
    /// The details: the server's message, the parse error, the raw reply.
    pub message: String,
}

impl LlmError {
    pub(crate) fn new(
        site: &CallSite,
        model: &str,
        kind: LlmErrorKind,
        message: impl Into<String>,
    ) -> Self {
        LlmError {
            site: site.clone(),
            model: model.to_owned(),
            kind,
            message: message.into(),
        }
    }

    /// The HTTP status, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self.kind {
            LlmErrorKind::Status(code) => Some(code),
            _ => None,
        }
    }
}

impl fmt::Display for LlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task `{}`", self.site.task)?;
        if let Some(agent) = &self.site.agent {
            write!(f, " (agent `{agent}`)")?;
        }
        write!(f, ", model `{}`: ", self.model)?;
        match &self.kind {
            LlmErrorKind::Status(code) => write!(f, "HTTP {code}")?,
            LlmErrorKind::Timeout => f.write_str("no reply within the timeout")?,
            LlmErrorKind::Connection => f.write_str("connection failed")?,
            LlmErrorKind::BadReply => f.write_str("the reply is not a chat completion")?,
            LlmErrorKind::InvalidOutput => f.write_str("the answer is not the task's output")?,
            LlmErrorKind::MaxIterations => f.write_str("too many tool calls")?,
            LlmErrorKind::RetryAfterTooLong => f.write_str("the server asks to wait too long")?,
            LlmErrorKind::HumanInput => f.write_str("no human input")?,
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for LlmError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_task_agent_model_and_status() {
        let site = CallSite::new("classify_message", Some("classifier"));
        let e = LlmError::new(
            &site,
            "gpt-4o-mini",
            LlmErrorKind::Status(503),
            "overloaded",
        );
        assert_eq!(
            e.to_string(),
            "task `classify_message` (agent `classifier`), model `gpt-4o-mini`: HTTP 503: overloaded"
        );
        assert_eq!(e.status(), Some(503));
    }
}
