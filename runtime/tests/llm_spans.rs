//! Each LLM call is a `tracing` span carrying the OpenTelemetry GenAI attribute names and the
//! server's own counts, which an OTel exporter (`tracing-opentelemetry`, which maps a span's
//! fields to attributes by name) turns into GenAI spans as they are. Read here by a subscriber
//! that keeps every span's fields; the key is in none of them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tasknet_runtime::llm::{CallSite, LlmClient, LlmConfig, Message, Role};
use tasknet_testkit::fake_llm::{completion, fake_server};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

type Fields = BTreeMap<String, String>;

/// Every span opened: its name and its fields as they were last recorded.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<(&'static str, Fields)>>>);

struct Values<'a>(&'a mut Fields);

impl Visit for Values<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields::new();
        span.record(&mut Values(&mut fields));
        let mut spans = self.0.lock().unwrap();
        spans.push((span.metadata().name(), fields));
        Id::from_u64(spans.len() as u64)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.0.lock().unwrap();
        let (_, fields) = &mut spans[span.into_u64() as usize - 1];
        values.record(&mut Values(fields));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test]
async fn an_llm_call_is_a_span_with_the_genai_attributes() {
    let server = fake_server(vec![completion("Order.")]).await;
    let client =
        LlmClient::new(LlmConfig::new(&server.url, "fake-model").api_key("sk-secret-key")).unwrap();
    let spans = Spans::default();
    let _default = tracing::subscriber::set_default(spans.clone());
    let site = CallSite::new("classify_message", Some("classifier"));
    let messages = [Message::new(Role::User, "Classify: 20 kg of mangoes.")];
    let reply = client.complete(&site, &messages, &[], None).await.unwrap();
    assert_eq!(
        (reply.usage.prompt_tokens, reply.usage.completion_tokens),
        (10, 4)
    );

    let spans = spans.0.lock().unwrap();
    let chat: Vec<&Fields> = spans
        .iter()
        .filter(|(name, _)| *name == "gen_ai.chat")
        .map(|(_, fields)| fields)
        .collect();
    assert_eq!(chat.len(), 1, "one span per call");
    let expected: Fields = [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.system", "openai"),
        ("gen_ai.request.model", "fake-model"),
        ("gen_ai.usage.input_tokens", "10"),
        ("gen_ai.usage.output_tokens", "4"),
        ("gen_ai.response.finish_reasons", "stop"),
        ("tasknet.task", "classify_message"),
        ("tasknet.agent", "classifier"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(chat[0], &expected);
    for (_, fields) in spans.iter() {
        assert!(
            fields.values().all(|v| !v.contains("sk-secret-key")),
            "{fields:?}"
        );
    }
}
