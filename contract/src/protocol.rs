//! The task server's WebSocket protocol (docs/server.md): one JSON object per text frame,
//! `{type, id?, data}` both ways.
//!
//! Requests arrive as an [`Envelope`], whose [`Envelope::request`] names what is asked or says
//! what is wrong with it ([`ProtocolError`], with an [`ErrorKind`]). Replies are [`Reply`]
//! values written by [`Frame`], straight from borrowed parts: nothing is copied to answer.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a request or a task did not succeed, as the `kind` of an error frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The frame is not JSON.
    BadJson,
    /// The JSON is not a message the server knows the shape of.
    BadMessage,
    /// The message's `type` is not one the server knows.
    UnknownType,
    /// No task of that name.
    UnknownTask,
    /// `input_data` does not fit the state (an unknown field, a wrong type).
    BadInput,
    /// Fields the task requires are not set.
    MissingFields,
    /// A required field was missing when the task ran.
    MissingField,
    /// The server's limit on running tasks is reached.
    Busy,
    /// The task took longer than its limit.
    Timeout,
    /// The task returned an error.
    Failed,
    /// The task panicked.
    Panicked,
    /// A token is required and was not given, or is wrong.
    Unauthorized,
    /// The server could not write its answer.
    Internal,
    /// `input_data` sets a field the server's kickoff inputs own (a folder, a database):
    /// the server supplies it, a client may not choose it.
    ServerOwned,
    /// The `run_id` is not a run this server started and that is still running (it finished,
    /// another process made it, or the task already ran in it). History is never changed:
    /// start a new run with `start_run`.
    RunNotOpen,
    /// A value is over the server's limit for what one request may store in the log.
    TooLarge,
    /// `human_feedback` names a request no task of this connection is waiting on (it was
    /// answered already, or its task ended).
    UnknownRequest,
}

impl ErrorKind {
    /// The kind as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadJson => "bad_json",
            ErrorKind::BadMessage => "bad_message",
            ErrorKind::UnknownType => "unknown_type",
            ErrorKind::UnknownTask => "unknown_task",
            ErrorKind::BadInput => "bad_input",
            ErrorKind::MissingFields => "missing_fields",
            ErrorKind::MissingField => "missing_field",
            ErrorKind::Busy => "busy",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Failed => "failed",
            ErrorKind::Panicked => "panicked",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Internal => "internal",
            ErrorKind::ServerOwned => "server_owned",
            ErrorKind::RunNotOpen => "run_not_open",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::UnknownRequest => "unknown_request",
        }
    }
}

/// A request that cannot be served, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    /// What kind of problem.
    pub kind: ErrorKind,
    /// What exactly, for the person reading the frame.
    pub message: String,
}

impl ProtocolError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ProtocolError {
            kind,
            message: message.into(),
        }
    }
}

/// A request frame as it arrives: its parts, not yet checked.
#[derive(Debug, Default, Deserialize)]
pub struct Envelope {
    /// The message's type (a string, if the client got it right).
    #[serde(rename = "type", default)]
    pub kind: Value,
    /// Echoed in every reply to this request (any JSON; null when absent).
    #[serde(default)]
    pub id: Value,
    /// The request's data.
    #[serde(default)]
    pub data: Value,
    /// `auth`'s token, when given beside `data`.
    #[serde(default)]
    pub token: Value,
}

/// The largest browser run id kept; a longer one is replaced by a new id.
pub const MAX_RUN_ID_BYTES: usize = 128;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `execute_task`: run one task on the given state.
    ExecuteTask(ExecuteTask),
    /// `list_tasks`: the registry's tasks.
    ListTasks,
    /// `ping`: is the server there.
    Ping,
    /// `start_run`: a new browser run, whose id the server issues; its tasks name it.
    StartRun,
    /// `auth {token}`: the token, when it was not given on the URL.
    Auth {
        /// The token given (`token`, or `data.token`).
        token: Option<String>,
    },
    /// `human_feedback {request_id, feedback}`: a person's word on an agent's answer, for
    /// the task that sent `human_input_request`; empty feedback accepts the answer.
    HumanFeedback {
        /// The `request_id` of the `human_input_request`.
        request_id: String,
        /// The feedback; `""` accepts.
        feedback: String,
    },
}

/// `execute_task`'s data.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecuteTask {
    /// The task to run.
    pub task_name: String,
    /// The token's state: the accumulated fields, as JSON (`{}` when absent).
    pub input_data: Value,
    /// The browser run this task belongs to, when given (non-empty, at most
    /// [`MAX_RUN_ID_BYTES`]).
    pub run_id: Option<String>,
}

impl Envelope {
    /// Reads a text frame. A frame that is JSON but not an object is a
    /// [`ErrorKind::BadMessage`]; one that is not JSON, [`ErrorKind::BadJson`].
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        serde_json::from_str(text).map_err(|e| {
            if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
                ProtocolError::new(
                    ErrorKind::BadMessage,
                    "a message is a JSON object with a string `type`",
                )
            } else {
                ProtocolError::new(ErrorKind::BadJson, format!("not JSON: {e}"))
            }
        })
    }

    /// What the request asks for; its data is moved out, not copied.
    pub fn request(&mut self) -> Result<Request, ProtocolError> {
        let kind = match &self.kind {
            Value::String(kind) => kind.as_str(),
            _ => {
                return Err(ProtocolError::new(
                    ErrorKind::BadMessage,
                    "a message needs a string `type`",
                ));
            }
        };
        match kind {
            "execute_task" => ExecuteTask::from_data(&mut self.data).map(Request::ExecuteTask),
            "list_tasks" => Ok(Request::ListTasks),
            "ping" => Ok(Request::Ping),
            "start_run" => Ok(Request::StartRun),
            "auth" => {
                let token = match self.token.take() {
                    Value::String(token) => Some(token),
                    _ => match self.data.get_mut("token").map(Value::take) {
                        Some(Value::String(token)) => Some(token),
                        _ => None,
                    },
                };
                Ok(Request::Auth { token })
            }
            "human_feedback" => {
                let mut take = |key: &str| self.data.get_mut(key).map(Value::take);
                match (take("request_id"), take("feedback")) {
                    (Some(Value::String(request_id)), Some(Value::String(feedback))) => {
                        Ok(Request::HumanFeedback {
                            request_id,
                            feedback,
                        })
                    }
                    _ => Err(ProtocolError::new(
                        ErrorKind::BadMessage,
                        "human_feedback needs `data.request_id` and `data.feedback` (strings; \"\" accepts the answer)",
                    )),
                }
            }
            other => Err(ProtocolError::new(
                ErrorKind::UnknownType,
                format!(
                    "unknown message type `{other}`: expected execute_task, list_tasks, start_run, human_feedback or ping"
                ),
            )),
        }
    }
}

impl ExecuteTask {
    fn from_data(data: &mut Value) -> Result<Self, ProtocolError> {
        let mut take = |key: &str| data.get_mut(key).map(Value::take);
        let Some(Value::String(task_name)) = take("task_name") else {
            return Err(ProtocolError::new(
                ErrorKind::BadMessage,
                "execute_task needs `data.task_name` (a string)",
            ));
        };
        let input_data = take("input_data").unwrap_or_else(|| Value::Object(Default::default()));
        let run_id = match take("run_id") {
            Some(Value::String(id)) if !id.is_empty() && id.len() <= MAX_RUN_ID_BYTES => Some(id),
            _ => None,
        };
        Ok(ExecuteTask {
            task_name,
            input_data,
            run_id,
        })
    }
}

/// A reply's data, by type.
#[derive(Debug)]
pub enum Reply<'a> {
    /// `task_started {task_name}`: the task is running.
    TaskStarted {
        /// The task.
        task_name: &'a str,
    },
    /// `task_completed {task_name, run_id, result}`: the task's output merged into the state.
    TaskCompleted {
        /// The task.
        task_name: &'a str,
        /// The browser run it was logged under.
        run_id: &'a str,
        /// The state, with the task's output and the run metadata.
        result: Value,
    },
    /// `task_error {task_name, error}`: the task did not succeed.
    TaskError {
        /// The task.
        task_name: &'a str,
        /// Why.
        error: ErrorBody<'a>,
    },
    /// `error {error}`: the request could not be served.
    Error {
        /// Why.
        error: ErrorBody<'a>,
    },
    /// `tasks {registry, tasks}`: the answer to `list_tasks`.
    Tasks(Value),
    /// `pong {}`.
    Pong,
    /// `run_started {run_id}`: the answer to `start_run`.
    RunStarted {
        /// The new run's id.
        run_id: &'a str,
    },
    /// `authenticated {}`.
    Authenticated,
    /// `human_input_request {task_name, run_id, request_id, answer}`, with the `execute_task`
    /// request's id: the task asks for human input (`human_input: true`) on its agent's
    /// answer; a `human_feedback` with this `request_id` gives it.
    HumanInputRequest {
        /// The task.
        task_name: &'a str,
        /// The browser run it belongs to.
        run_id: &'a str,
        /// What `human_feedback` names.
        request_id: &'a str,
        /// The agent's answer, as it gave it.
        answer: &'a str,
    },
    /// `feedback_received {request_id}`: the feedback reached the waiting task.
    FeedbackReceived {
        /// The request answered.
        request_id: &'a str,
    },
}

/// An error's kind and message.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ErrorBody<'a> {
    /// What kind of problem.
    pub kind: ErrorKind,
    /// What exactly.
    pub message: &'a str,
}

impl Reply<'_> {
    /// The reply's `type` on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::TaskStarted { .. } => "task_started",
            Reply::TaskCompleted { .. } => "task_completed",
            Reply::TaskError { .. } => "task_error",
            Reply::Error { .. } => "error",
            Reply::Tasks(_) => "tasks",
            Reply::Pong => "pong",
            Reply::RunStarted { .. } => "run_started",
            Reply::Authenticated => "authenticated",
            Reply::HumanInputRequest { .. } => "human_input_request",
            Reply::FeedbackReceived { .. } => "feedback_received",
        }
    }
}

/// A reply frame: `{type, id?, data}`, `id` left out when the request had none.
#[derive(Debug)]
pub struct Frame<'a> {
    /// The request's id.
    pub id: &'a Value,
    /// The reply.
    pub reply: Reply<'a>,
}

impl Frame<'_> {
    /// The frame as JSON text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            let message = e.to_string();
            let fallback = Frame {
                id: &Value::Null,
                reply: Reply::Error {
                    error: ErrorBody {
                        kind: ErrorKind::Internal,
                        message: &message,
                    },
                },
            };
            serde_json::to_string(&fallback).unwrap_or_default()
        })
    }
}

impl Serialize for Frame<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", self.reply.kind())?;
        if !self.id.is_null() {
            map.serialize_entry("id", self.id)?;
        }
        map.serialize_entry("data", &Data(&self.reply))?;
        map.end()
    }
}

/// A reply's `data` object.
struct Data<'r, 'a>(&'r Reply<'a>);

impl Serialize for Data<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self.0 {
            Reply::TaskStarted { task_name } => map.serialize_entry("task_name", task_name)?,
            Reply::TaskCompleted {
                task_name,
                run_id,
                result,
            } => {
                map.serialize_entry("task_name", task_name)?;
                map.serialize_entry("run_id", run_id)?;
                map.serialize_entry("result", result)?;
            }
            Reply::TaskError { task_name, error } => {
                map.serialize_entry("task_name", task_name)?;
                map.serialize_entry("error", error)?;
            }
            Reply::Error { error } => map.serialize_entry("error", error)?,
            Reply::Tasks(tasks) => {
                if let Value::Object(fields) = tasks {
                    for (key, value) in fields {
                        map.serialize_entry(key, value)?;
                    }
                }
            }
            Reply::RunStarted { run_id } => map.serialize_entry("run_id", run_id)?,
            Reply::HumanInputRequest {
                task_name,
                run_id,
                request_id,
                answer,
            } => {
                map.serialize_entry("task_name", task_name)?;
                map.serialize_entry("run_id", run_id)?;
                map.serialize_entry("request_id", request_id)?;
                map.serialize_entry("answer", answer)?;
            }
            Reply::FeedbackReceived { request_id } => {
                map.serialize_entry("request_id", request_id)?
            }
            Reply::Pong | Reply::Authenticated => {}
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(text: &str) -> Result<Request, ProtocolError> {
        Envelope::parse(text)?.request()
    }

    #[test]
    fn requests_are_read_or_refused_with_their_kind() {
        assert_eq!(
            request(
                r#"{"type":"execute_task","id":1,"data":{"task_name":"a","input_data":{"x":1},"run_id":"r"}}"#
            ),
            Ok(Request::ExecuteTask(ExecuteTask {
                task_name: "a".into(),
                input_data: json!({"x": 1}),
                run_id: Some("r".into()),
            }))
        );
        let long = "r".repeat(MAX_RUN_ID_BYTES + 1);
        let Ok(Request::ExecuteTask(task)) = request(&format!(
            r#"{{"type":"execute_task","data":{{"task_name":"a","run_id":"{long}"}}}}"#
        )) else {
            panic!()
        };
        assert_eq!((task.run_id, task.input_data), (None, json!({})));
        assert_eq!(request(r#"{"type":"ping"}"#), Ok(Request::Ping));
        assert_eq!(
            request(r#"{"type":"human_feedback","data":{"request_id":"h0","feedback":""}}"#),
            Ok(Request::HumanFeedback {
                request_id: "h0".into(),
                feedback: String::new(),
            })
        );
        assert_eq!(
            request(r#"{"type":"auth","data":{"token":"t"}}"#),
            Ok(Request::Auth {
                token: Some("t".into())
            })
        );
        for (text, kind) in [
            ("{not json", ErrorKind::BadJson),
            ("[1, 2]", ErrorKind::BadMessage),
            (r#"{"type": 3}"#, ErrorKind::BadMessage),
            (r#"{"data": {}}"#, ErrorKind::BadMessage),
            (
                r#"{"type":"execute_task","data":{"task_name":7}}"#,
                ErrorKind::BadMessage,
            ),
            (r#"{"type":"dance"}"#, ErrorKind::UnknownType),
            (
                r#"{"type":"human_feedback","data":{"request_id":"h0"}}"#,
                ErrorKind::BadMessage,
            ),
        ] {
            assert_eq!(request(text).unwrap_err().kind, kind, "{text}");
        }
    }

    #[test]
    fn frames_are_written_as_the_seed_reads_them() {
        let id = json!("a");
        let text = Frame {
            id: &id,
            reply: Reply::TaskError {
                task_name: "t",
                error: ErrorBody {
                    kind: ErrorKind::Timeout,
                    message: "late",
                },
            },
        }
        .to_text();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"type": "task_error", "id": "a", "data": {"task_name": "t", "error": {"kind": "timeout", "message": "late"}}})
        );
        let pong = Frame {
            id: &Value::Null,
            reply: Reply::Pong,
        }
        .to_text();
        assert_eq!(pong, r#"{"type":"pong","data":{}}"#);
        for kind in [
            ErrorKind::BadJson,
            ErrorKind::MissingFields,
            ErrorKind::Unauthorized,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
