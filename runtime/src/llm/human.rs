//! `human_input: true` (CrewAI's key): after the agent's answer is accepted, a person reads it
//! and either accepts it (empty feedback) or sends it back with feedback, which the agent
//! answers again with, as often as the person likes.

use std::future::Future;
use std::io::{BufRead, IsTerminal, Write};
use std::pin::Pin;

/// The person's feedback: empty accepts the answer.
pub type FeedbackFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// Whoever reviews the answers of `human_input` tasks: the terminal ([`TerminalFeedback`]),
/// or the crew's own code (a chat, a review queue).
pub trait HumanFeedback: Send + Sync {
    /// The feedback on `answer`, the agent's answer to `task`; `Ok("")` accepts it, `Err`
    /// fails the task with that reason.
    fn feedback<'a>(&'a self, task: &'a str, answer: &'a str) -> FeedbackFuture<'a>;
}

/// Asks on the terminal: the answer on stderr, one line of feedback from stdin (read on the
/// blocking pool, never on an async worker).
#[derive(Debug, Default, Clone, Copy)]
pub struct TerminalFeedback;

impl TerminalFeedback {
    /// `Some` when stdin and stderr are a terminal, so that a person can answer.
    pub fn if_interactive() -> Option<Self> {
        (std::io::stdin().is_terminal() && std::io::stderr().is_terminal()).then_some(Self)
    }
}

impl HumanFeedback for TerminalFeedback {
    fn feedback<'a>(&'a self, task: &'a str, answer: &'a str) -> FeedbackFuture<'a> {
        let prompt = format!(
            "\n--- {task}: the agent's answer ---\n{}\n--- feedback for the agent (Enter accepts the answer): ",
            answer.trim_end()
        );
        Box::pin(async move {
            let read = tokio::task::spawn_blocking(move || {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(prompt.as_bytes());
                let _ = err.flush();
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map(|n| (n, line))
            });
            match read.await {
                Ok(Ok((0, _))) => Err("stdin closed while waiting for human input".to_owned()),
                Ok(Ok((_, line))) => Ok(line.trim().to_owned()),
                Ok(Err(e)) => Err(format!("cannot read human input from stdin: {e}")),
                Err(e) => Err(format!("human input was not read: {e}")),
            }
        })
    }
}

/// A shared [`HumanFeedback`], as the runner and each task context hold it.
#[derive(Clone)]
pub struct Reviewer(pub std::sync::Arc<dyn HumanFeedback>);

impl std::fmt::Debug for Reviewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reviewer")
    }
}
