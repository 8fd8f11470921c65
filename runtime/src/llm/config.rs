//! Where the LLM is and how to talk to it: one [`LlmConfig`] per server, from code or from the
//! environment (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `TASKNET_LLM_MODEL`), with the model
//! written as CrewAI writes agents.yaml's `llm` (`openai/gpt-4o-mini`, `ollama/llama3.2`).

use std::fmt;
use std::time::Duration;

/// An API key: never printed, logged or stored (its `Debug` and `Display` say `***`).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How a typed output is asked for. The schema goes with the final answer's request only,
/// never with the turns where tools are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// `response_format: {type: "json_schema", json_schema: {strict: true, schema}}` first; a
    /// server that refuses it gets [`OutputMode::JsonObject`], then [`OutputMode::Prompted`],
    /// and the client remembers what the server refused.
    Auto,
    /// OpenAI's strict structured outputs (`json_schema`).
    JsonSchema,
    /// `response_format: {type: "json_object", schema}`: JSON mode, with the schema for servers
    /// that enforce it (llama.cpp's servers) and in the prompt for those that do not.
    JsonObject,
    /// The schema in the prompt only, the reply parsed and validated as any other.
    Prompted,
    /// The schema as the parameters of one function the model must call (`tool_choice` names
    /// it), its arguments taken as the answer: for servers with function calling and no
    /// structured outputs. Chosen explicitly, never by [`OutputMode::Auto`].
    Tool,
}

impl OutputMode {
    /// The mode named as agents.yaml's `output_mode` spells it (`auto`, `json_schema`,
    /// `json_object`, `tool`, `prompted`).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "auto" => OutputMode::Auto,
            "json_schema" => OutputMode::JsonSchema,
            "json_object" => OutputMode::JsonObject,
            "tool" => OutputMode::Tool,
            "prompted" => OutputMode::Prompted,
            _ => return None,
        })
    }
}

/// One OpenAI-compatible chat-completions server and model: OpenAI, Ollama, vLLM, llama.cpp's
/// server, LM Studio.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// The API's base, up to and including `/v1` (`https://api.openai.com/v1`,
    /// `http://localhost:11434/v1` for Ollama).
    pub base_url: String,
    /// The key, sent as `Authorization: Bearer ...` when set.
    pub api_key: Option<ApiKey>,
    /// The model name the server knows (`gpt-4o-mini`).
    pub model: String,
    /// How long one call may take, the whole reply read.
    pub timeout: Duration,
    /// Retries of a call that failed with 429, a 5xx, a timeout or a broken connection.
    pub max_retries: u32,
    /// The wait before the first retry; it doubles before each further one (a `Retry-After`
    /// from the server wins).
    pub backoff: Duration,
    /// The longest `Retry-After` honoured: a server that asks for more fails the call.
    pub max_retry_after: Duration,
    /// How typed outputs are asked for.
    pub output_mode: OutputMode,
    /// `temperature`, when set.
    pub temperature: Option<f64>,
    /// `seed`, when set (servers that support it repeat their replies).
    pub seed: Option<u64>,
    /// `max_tokens` per call, when set.
    pub max_tokens: Option<u32>,
    /// Whether an agent's first turn with tools must call one (`tool_choice: "required"`, or
    /// the tool by name when only one is offered, which servers without `required` such as
    /// llama-cpp-python's take); later turns leave the choice to the model. Small local
    /// models seldom call a tool on their own. Off by default, as in CrewAI.
    pub require_first_tool_call: bool,
}

/// The variable naming the default model (`OPENAI_BASE_URL` and `OPENAI_API_KEY` are the
/// OpenAI SDK's own).
pub const MODEL_ENV: &str = "TASKNET_LLM_MODEL";

const OPENAI_BASE: &str = "https://api.openai.com/v1";

impl LlmConfig {
    /// A server and model, with the defaults: 120 s per call, 3 retries from 500 ms, at most
    /// 60 s of `Retry-After`, [`OutputMode::Auto`].
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        LlmConfig {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            api_key: None,
            model: model.into(),
            timeout: Duration::from_secs(120),
            max_retries: 3,
            backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(60),
            output_mode: OutputMode::Auto,
            temperature: None,
            seed: None,
            max_tokens: None,
            require_first_tool_call: false,
        }
    }

    /// From the environment: `OPENAI_BASE_URL` (OpenAI's API when unset), `OPENAI_API_KEY`,
    /// and the model from `TASKNET_LLM_MODEL` (CrewAI's `provider/model` form accepted).
    /// `None` when no model is named.
    pub fn from_env() -> Option<Self> {
        let model = std::env::var(MODEL_ENV)
            .ok()
            .filter(|m| !m.trim().is_empty())?;
        Some(Self::for_model(
            &model,
            std::env::var("OPENAI_BASE_URL").ok(),
        ))
    }

    /// For a model written as agents.yaml's `llm` is (`openai/gpt-4o-mini`, `ollama/llama3.2`,
    /// or a bare name): the provider picks the default base URL when `base_url` is `None`
    /// (`ollama` -> `http://localhost:11434/v1`, anything else -> OpenAI's), and the key comes
    /// from `OPENAI_API_KEY`.
    pub fn for_model(model: &str, base_url: Option<String>) -> Self {
        let (provider, name) = split_provider(model);
        let base = base_url.unwrap_or_else(|| match provider {
            Some("ollama") => "http://localhost:11434/v1".to_owned(),
            _ => OPENAI_BASE.to_owned(),
        });
        let mut config = LlmConfig::new(base, name);
        config.api_key = std::env::var("OPENAI_API_KEY")
            .ok()
            .filter(|k| !k.is_empty())
            .map(ApiKey::new);
        config
    }

    /// Sets the key.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey::new(key));
        self
    }

    /// `{base_url}/chat/completions`.
    pub(crate) fn completions_url(&self) -> String {
        format!("{}/chat/completions", self.base_url)
    }
}

/// `openai/gpt-4o-mini` -> (`openai`, `gpt-4o-mini`); a bare name has no provider. Only the
/// first `/` splits (`openrouter/meta-llama/llama-3` keeps `meta-llama/llama-3`).
pub fn split_provider(model: &str) -> (Option<&str>, &str) {
    const PROVIDERS: &[&str] = &[
        "openai",
        "ollama",
        "ollama_chat",
        "hosted_vllm",
        "vllm",
        "lm_studio",
        "openrouter",
        "groq",
        "together_ai",
        "deepseek",
        "mistral",
    ];
    match model.split_once('/') {
        Some((provider, name)) if PROVIDERS.contains(&provider) => (Some(provider), name),
        _ => (None, model),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_never_printed() {
        let config = LlmConfig::new("http://x/v1/", "m").api_key("sk-secret");
        let shown = format!("{config:?} {}", config.api_key.as_ref().unwrap());
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert_eq!(config.completions_url(), "http://x/v1/chat/completions");
    }

    #[test]
    fn crewai_model_names_split_their_provider() {
        assert_eq!(
            split_provider("openai/gpt-4o-mini"),
            (Some("openai"), "gpt-4o-mini")
        );
        assert_eq!(split_provider("gpt-4o"), (None, "gpt-4o"));
        assert_eq!(
            split_provider("openrouter/meta-llama/llama-3"),
            (Some("openrouter"), "meta-llama/llama-3")
        );
        assert_eq!(
            split_provider("meta-llama/llama-3"),
            (None, "meta-llama/llama-3")
        );
        let ollama = LlmConfig::for_model("ollama/llama3.2", None);
        assert_eq!(ollama.base_url, "http://localhost:11434/v1");
        assert_eq!(ollama.model, "llama3.2");
    }
}
