//! One chat-completions call, made robust: a timeout per call; 429, 5xx, timeouts and broken
//! connections retried with backoff, honouring `Retry-After`; the structured-output mode
//! negotiated with the server (what it refused is remembered); a tracing span per call with
//! OpenTelemetry's GenAI attribute names.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::config::{LlmConfig, OutputMode};
use super::error::{CallSite, LlmError, LlmErrorKind};
use super::wire::{ChatRequest, ChatResponse, Message, Role, ToolDef, Usage};

/// The JSON Schema a typed answer must match, and the name it is sent under.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSchema {
    /// A name for the schema (`classify_message_output`).
    pub name: String,
    /// The schema: an object with exactly the task's fields.
    pub schema: Value,
}

/// The model's turn, and what it cost.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The assistant message: text, or tool calls.
    pub message: Message,
    /// `stop`, `length`, `tool_calls`, ...
    pub finish_reason: Option<String>,
    /// The server's token counts for this call (retries of failed requests cost nothing).
    pub usage: Usage,
    /// The time the call took, retries included.
    pub elapsed: Duration,
    /// How many requests it took (1 without retries).
    pub requests: u32,
}

/// A client for one server and model; cheap to share (`Arc`) between tasks.
#[derive(Debug)]
pub struct LlmClient {
    http: reqwest::Client,
    config: LlmConfig,
    /// The structured-output modes this server refused, as bits of [`mode_bit`].
    refused: AtomicU8,
}

const MODES: [OutputMode; 3] = [
    OutputMode::JsonSchema,
    OutputMode::JsonObject,
    OutputMode::Prompted,
];

fn mode_bit(mode: OutputMode) -> u8 {
    match mode {
        OutputMode::JsonSchema => 1,
        OutputMode::JsonObject => 2,
        OutputMode::Auto | OutputMode::Prompted | OutputMode::Tool => 4,
    }
}

/// Longest excerpt of a server's error body kept in a message.
const BODY_EXCERPT: usize = 600;

impl LlmClient {
    /// A client for `config`'s server.
    pub fn new(config: LlmConfig) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(LlmClient {
            http,
            config,
            refused: AtomicU8::new(0),
        })
    }

    /// A client for the same server, key and settings asking for another model (an agent's
    /// `llm`: `openai/gpt-4o-mini`, the provider prefix dropped), sharing the connections.
    pub fn with_model(&self, model: &str) -> Self {
        self.with_config(|config| config.model = super::split_provider(model).1.to_owned())
    }

    /// A client for the same server whose settings `change` alters, sharing the connections
    /// (what the server refused is learnt again: another model may take other modes).
    pub(crate) fn with_config(&self, change: impl FnOnce(&mut LlmConfig)) -> Self {
        let mut config = self.config.clone();
        change(&mut config);
        LlmClient {
            http: self.http.clone(),
            config,
            refused: AtomicU8::new(0),
        }
    }

    /// Its settings.
    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// The structured-output mode the next typed request uses.
    pub fn output_mode(&self) -> OutputMode {
        match self.config.output_mode {
            OutputMode::Auto => {
                let refused = self.refused.load(Ordering::Relaxed);
                MODES
                    .into_iter()
                    .find(|m| refused & mode_bit(*m) == 0)
                    .unwrap_or(OutputMode::Prompted)
            }
            fixed => fixed,
        }
    }

    /// One turn of the conversation: `messages`, the `tools` offered, and `schema` when this
    /// is the final answer and it must be the task's typed output (never sent with tools).
    pub async fn complete(
        &self,
        site: &CallSite,
        messages: &[Message],
        tools: &[ToolDef],
        schema: Option<&OutputSchema>,
    ) -> Result<Reply, LlmError> {
        self.complete_with(site, messages, tools, None, schema)
            .await
    }

    /// [`LlmClient::complete`] with the request's `tool_choice` (`"required"`, or a function
    /// by name).
    pub async fn complete_with(
        &self,
        site: &CallSite,
        messages: &[Message],
        tools: &[ToolDef],
        tool_choice: Option<&Value>,
        schema: Option<&OutputSchema>,
    ) -> Result<Reply, LlmError> {
        let span = tracing::info_span!(
            "gen_ai.chat",
            gen_ai.operation.name = "chat",
            gen_ai.system = "openai",
            gen_ai.request.model = %self.config.model,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            gen_ai.response.finish_reasons = tracing::field::Empty,
            tasknet.task = %site.task,
            tasknet.agent = site.agent.as_deref().unwrap_or(""),
        );
        let _entered = span.enter();
        let started = Instant::now();
        let mut requests = 0;
        loop {
            let mode = self.output_mode();
            let mut request = self.request(messages, tools, schema.map(|s| (s, mode)));
            if tool_choice.is_some() {
                request.tool_choice = tool_choice.cloned();
            }
            let outcome = self.send(site, &request, &mut requests).await;
            match outcome {
                Err(e) if schema.is_some() && self.refuses_mode(&e, mode) => {
                    // The server refused this way of asking for JSON: remember, ask the next way.
                    self.refused.fetch_or(mode_bit(mode), Ordering::Relaxed);
                    tracing::info!(?mode, "the server refused this structured-output mode");
                }
                Err(e) => return Err(e),
                Ok(response) => {
                    let usage = response.usage.unwrap_or_default();
                    span.record("gen_ai.usage.input_tokens", usage.prompt_tokens);
                    span.record("gen_ai.usage.output_tokens", usage.completion_tokens);
                    let Some(choice) = response.choices.into_iter().next() else {
                        return Err(self.error(site, LlmErrorKind::BadReply, "no choice"));
                    };
                    if let Some(reason) = &choice.finish_reason {
                        span.record("gen_ai.response.finish_reasons", reason.as_str());
                    }
                    let mut message = choice.message;
                    if let (Some(schema), OutputMode::Tool) = (schema, mode) {
                        answer_from_tool_call(&mut message, &schema.name);
                    }
                    return Ok(Reply {
                        message,
                        finish_reason: choice.finish_reason,
                        usage,
                        elapsed: started.elapsed(),
                        requests,
                    });
                }
            }
        }
    }

    /// A client like this one whose typed outputs are asked for in `mode` (an agent's
    /// `output_mode`), sharing the connections.
    pub fn with_output_mode(&self, mode: OutputMode) -> Self {
        self.with_config(|config| config.output_mode = mode)
    }

    fn error(&self, site: &CallSite, kind: LlmErrorKind, message: impl Into<String>) -> LlmError {
        LlmError::new(site, &self.config.model, kind, message)
    }

    /// Whether `error` is the server refusing `mode` (a 400 or 422 that names it), in which
    /// case `Auto` tries the next mode.
    fn refuses_mode(&self, error: &LlmError, mode: OutputMode) -> bool {
        if self.config.output_mode != OutputMode::Auto || mode == OutputMode::Prompted {
            return false;
        }
        matches!(error.kind, LlmErrorKind::Status(code) if is_format_refusal(code, &error.message))
    }

    fn request(
        &self,
        messages: &[Message],
        tools: &[ToolDef],
        typed: Option<(&OutputSchema, OutputMode)>,
    ) -> ChatRequest {
        let mut messages = messages.to_vec();
        let response_format = typed.and_then(|(schema, mode)| match mode {
            OutputMode::JsonSchema | OutputMode::Auto => Some(json!({
                "type": "json_schema",
                "json_schema": {"name": schema.name, "strict": true, "schema": schema.schema},
            })),
            OutputMode::JsonObject => Some(json!({"type": "json_object", "schema": schema.schema})),
            OutputMode::Prompted | OutputMode::Tool => None,
        });
        let mut tools = tools.to_vec();
        let mut tool_choice = None;
        if let Some((schema, OutputMode::Tool)) = typed {
            tools.push(answer_tool(schema));
            tool_choice = Some(json!({"type": "function", "function": {"name": schema.name}}));
        }
        if let Some((schema, mode)) = typed
            && matches!(mode, OutputMode::JsonObject | OutputMode::Prompted)
        {
            // A server may take JSON mode without enforcing the schema: the model reads it.
            messages.push(Message::new(
                Role::User,
                format!(
                    "Answer with one JSON object matching this JSON Schema, and nothing else: {}",
                    schema.schema
                ),
            ));
        }
        ChatRequest {
            model: self.config.model.clone(),
            messages,
            tools,
            tool_choice,
            response_format,
            temperature: self.config.temperature,
            seed: self.config.seed,
            max_tokens: self.config.max_tokens,
        }
    }

    /// Sends one request, retrying what can pass on a second try.
    async fn send(
        &self,
        site: &CallSite,
        request: &ChatRequest,
        requests: &mut u32,
    ) -> Result<ChatResponse, LlmError> {
        let mut retry = 0;
        loop {
            *requests += 1;
            let (error, wait) = match self.send_once(site, request).await {
                Ok(response) => return Ok(response),
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Retryable(e, retry_after)) => (e, retry_after),
            };
            if retry >= self.config.max_retries {
                return Err(error);
            }
            let wait = match wait {
                Some(asked) if asked > self.config.max_retry_after => {
                    return Err(self.error(
                        site,
                        LlmErrorKind::RetryAfterTooLong,
                        format!(
                            "Retry-After {} s is over the limit of {} s ({error})",
                            asked.as_secs(),
                            self.config.max_retry_after.as_secs()
                        ),
                    ));
                }
                Some(asked) => asked,
                None => self.config.backoff.saturating_mul(1 << retry.min(16)),
            };
            tracing::warn!(%error, wait_ms = wait.as_millis() as u64, "LLM call failed; retrying");
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }

    async fn send_once(
        &self,
        site: &CallSite,
        request: &ChatRequest,
    ) -> Result<ChatResponse, Failure> {
        let mut builder = self.http.post(self.config.completions_url()).json(request);
        if let Some(key) = &self.config.api_key {
            builder = builder.bearer_auth(key.expose());
        }
        let response = builder.send().await.map_err(|e| self.transport(site, &e))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response
            .text()
            .await
            .map_err(|e| self.transport(site, &e))?;
        if !status.is_success() {
            let e = self.error(
                site,
                LlmErrorKind::Status(status.as_u16()),
                server_message(&body),
            );
            // llama-cpp-python refuses `json_schema` with a 500: a refusal is not retried.
            let retryable = (status.as_u16() == 429 || status.is_server_error())
                && !(request.response_format.is_some()
                    && is_format_refusal(status.as_u16(), &e.message));
            return Err(if retryable {
                Failure::Retryable(e, retry_after)
            } else {
                Failure::Final(e)
            });
        }
        serde_json::from_str::<ChatResponse>(&body).map_err(|e| {
            Failure::Final(self.error(
                site,
                LlmErrorKind::BadReply,
                format!("{e}; the body: {}", excerpt(&body)),
            ))
        })
    }

    fn transport(&self, site: &CallSite, e: &reqwest::Error) -> Failure {
        let kind = if e.is_timeout() {
            LlmErrorKind::Timeout
        } else {
            LlmErrorKind::Connection
        };
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        let message = match kind {
            LlmErrorKind::Timeout => format!(
                "{} s passed without a complete reply ({message})",
                self.config.timeout.as_secs_f64()
            ),
            _ => format!("{} ({message})", self.config.completions_url()),
        };
        Failure::Retryable(self.error(site, kind, message), None)
    }
}

/// Whether an error answer is the server refusing the request's `response_format` (a 400 or
/// 422, or llama-cpp-python's 500, whose message names it).
fn is_format_refusal(status: u16, message: &str) -> bool {
    matches!(status, 400 | 422 | 500) && message.contains("response_format")
}

enum Failure {
    Final(LlmError),
    Retryable(LlmError, Option<Duration>),
}

/// `Retry-After` (seconds; an HTTP date counts as unknown) or `retry-after-ms` (OpenAI's).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    let seconds = header("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| header("retry-after"))?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(1e6)))
}

/// The server's own message (`{"error": {"message": ...}}`, or `{"detail": ...}`), else an
/// excerpt of the body.
fn server_message(body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        let message = value
            .pointer("/error/message")
            .or_else(|| value.get("error").filter(|e| e.is_string()))
            .or_else(|| value.get("detail"))
            .or_else(|| value.get("message"));
        if let Some(message) = message {
            let text = match message {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            return excerpt(&text);
        }
    }
    excerpt(body)
}

fn excerpt(text: &str) -> String {
    super::excerpt(text.trim(), BODY_EXCERPT)
}

/// The one function of [`OutputMode::Tool`]: its parameters are the output's schema.
fn answer_tool(schema: &OutputSchema) -> super::wire::ToolDef {
    super::wire::ToolDef {
        kind: "function",
        function: super::wire::FunctionDef {
            name: schema.name.clone(),
            description: "Give your final answer, as this function's arguments.".to_owned(),
            parameters: schema.schema.clone(),
        },
    }
}

/// In [`OutputMode::Tool`], the answer is the arguments of the call to the answer function:
/// they become the message's text (a reply without that call is left as it came, and fails to
/// parse as any other wrong answer does).
fn answer_from_tool_call(message: &mut Message, name: &str) {
    let at = message
        .tool_calls
        .iter()
        .position(|call| call.function.name == name);
    if let Some(at) = at {
        let call = message.tool_calls.remove(at);
        message.content = Some(call.function.arguments);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_are_found_in_their_usual_places() {
        assert_eq!(
            server_message(r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#),
            "Rate limit reached"
        );
        assert!(
            server_message(r#"{"detail":[{"msg":"Input should be 'text' or 'json_object'"}]}"#)
                .contains("json_object")
        );
        assert_eq!(server_message("Bad Gateway"), "Bad Gateway");
        assert_eq!(excerpt(&"é".repeat(700)).chars().count(), BODY_EXCERPT + 3);
    }

    #[test]
    fn retry_after_reads_seconds_and_milliseconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        let mut dated = reqwest::header::HeaderMap::new();
        dated.insert(
            "retry-after",
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&dated), None);
    }
}
