//! What a real model cannot be made to do on demand, from a scripted fake server: 429 with
//! `Retry-After`, 5xx, a truncated body, invalid JSON, a hang past the timeout, a server that
//! refuses `json_schema`, an answer that never validates. Each gives its clear error, naming
//! the task, the agent, the model and the HTTP status.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;
use tasknet_runtime::llm::{
    CallSite, LlmClient, LlmConfig, LlmErrorKind, Message, OutputMode, OutputSchema, Role,
    typed_answer,
};
use tasknet_testkit::fake_llm::{Step, completion, fake_server};

fn new_client(url: &str, configure: impl FnOnce(&mut LlmConfig)) -> LlmClient {
    let mut config = LlmConfig::new(url, "fake-model").api_key("sk-test-secret");
    config.backoff = Duration::from_millis(20);
    config.max_retries = 2;
    config.timeout = Duration::from_secs(5);
    configure(&mut config);
    LlmClient::new(config).unwrap()
}

fn site() -> CallSite {
    CallSite::new("classify_message", Some("classifier"))
}

fn messages() -> Vec<Message> {
    vec![Message::new(
        Role::User,
        "Classify: I want 20 kg of mangoes.",
    )]
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Classified {
    category: String,
    products: Vec<String>,
}

fn schema() -> OutputSchema {
    OutputSchema {
        name: "classify_message_output".into(),
        schema: json!({
            "type": "object",
            "properties": {"category": {"type": "string"}, "products": {"type": "array", "items": {"type": "string"}}},
            "required": ["category", "products"],
            "additionalProperties": false,
        }),
    }
}

const GOOD: &str = r#"{"category": "order", "products": ["mango"]}"#;

#[tokio::test]
async fn a_429_is_retried_after_the_wait_the_server_asks_for() {
    let server = fake_server(vec![
        Step::Reply(
            429,
            "retry-after: 1\r\n",
            r#"{"error":{"message":"Rate limit reached"}}"#.into(),
        ),
        Step::Reply(
            429,
            "retry-after-ms: 30\r\n",
            r#"{"error":{"message":"Rate limit reached"}}"#.into(),
        ),
        completion(GOOD),
    ])
    .await;
    let client = new_client(&server.url, |_| {});
    let started = Instant::now();
    let reply = client
        .complete(&site(), &messages(), &[], None)
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(reply.requests, 3);
    assert_eq!(reply.usage.prompt_tokens, 10);
    let seen = server.seen.lock().unwrap();
    assert!(seen[0].0.contains("authorization: bearer sk-test-secret"));
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_with_who_what_and_status() {
    let busy = || {
        Step::Reply(
            503,
            "",
            r#"{"error":{"message":"The server is overloaded"}}"#.into(),
        )
    };
    let server = fake_server(vec![busy(), busy(), busy()]).await;
    let e = new_client(&server.url, |_| {})
        .complete(&site(), &messages(), &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, LlmErrorKind::Status(503));
    assert_eq!(
        e.to_string(),
        "task `classify_message` (agent `classifier`), model `fake-model`: HTTP 503: The server is overloaded"
    );
    assert_eq!(server.seen.lock().unwrap().len(), 3, "1 try + 2 retries");
    assert!(!format!("{e:?}").contains("sk-test-secret"));
    // A 4xx other than 429 is not retried.
    let server = fake_server(vec![Step::Reply(
        401,
        "",
        r#"{"error":{"message":"Incorrect API key provided: sk-te***"}}"#.into(),
    )])
    .await;
    let e = new_client(&server.url, |_| {})
        .complete(&site(), &messages(), &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_eq!(server.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_retry_after_past_the_limit_fails_at_once() {
    let server = fake_server(vec![Step::Reply(429, "retry-after: 3600\r\n", "{}".into())]).await;
    let e = new_client(&server.url, |_| {})
        .complete(&site(), &messages(), &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, LlmErrorKind::RetryAfterTooLong);
    assert!(e.message.contains("3600 s"), "{e}");
}

#[tokio::test]
async fn truncated_and_invalid_bodies_are_clear_errors() {
    let server = fake_server(vec![Step::Truncate, completion(GOOD)]).await;
    let reply = new_client(&server.url, |_| {})
        .complete(&site(), &messages(), &[], None)
        .await
        .unwrap();
    assert_eq!(reply.requests, 2, "a truncated body is retried");
    let server = fake_server(vec![Step::Truncate, Step::Truncate, Step::Truncate]).await;
    let e = new_client(&server.url, |_| {})
        .complete(&site(), &messages(), &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, LlmErrorKind::Connection, "{e}");
    let server = fake_server(vec![Step::Reply(200, "", "<html>not json</html>".into())]).await;
    let e = new_client(&server.url, |_| {})
        .complete(&site(), &messages(), &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, LlmErrorKind::BadReply);
    assert!(e.message.contains("<html>not json</html>"), "{e}");
}

#[tokio::test]
async fn a_hang_past_the_timeout_is_a_timeout() {
    let server = fake_server(vec![Step::Hang, Step::Hang]).await;
    let started = Instant::now();
    let e = new_client(&server.url, |c| {
        c.timeout = Duration::from_millis(300);
        c.max_retries = 1;
    })
    .complete(&site(), &messages(), &[], None)
    .await
    .unwrap_err();
    assert_eq!(e.kind, LlmErrorKind::Timeout, "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(e.to_string().contains("no reply within the timeout"), "{e}");
}

/// llama-cpp-python's server refuses `json_schema` ("Input should be 'text' or
/// 'json_object'"): the client asks again with `json_object` and the schema, and remembers.
#[tokio::test]
async fn a_server_that_refuses_json_schema_gets_json_object_and_it_is_remembered() {
    let refusal = Step::Reply(
        422,
        "",
        r#"{"detail":[{"type":"literal_error","loc":["body","response_format","type"],"msg":"Input should be 'text' or 'json_object'"}]}"#.into(),
    );
    // The real server's answer: a 500 whose message names the field.
    let llama_cpp_python = Step::Reply(
        500,
        "",
        r#"{"error":{"message":"1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}","type":"internal_server_error"}}"#.into(),
    );
    let server = fake_server(vec![llama_cpp_python, completion(GOOD)]).await;
    let client = new_client(&server.url, |_| {});
    typed_answer::<Classified>(&client, &site(), messages(), &schema(), 0, |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(
        server.seen.lock().unwrap().len(),
        2,
        "a refusal is not retried as a 500"
    );
    assert_eq!(client.output_mode(), OutputMode::JsonObject);

    let server = fake_server(vec![refusal, completion(GOOD), completion(GOOD)]).await;
    let client = new_client(&server.url, |_| {});
    assert_eq!(client.output_mode(), OutputMode::JsonSchema);
    for _ in 0..2 {
        let (out, _) =
            typed_answer::<Classified>(&client, &site(), messages(), &schema(), 0, |_| Ok(()))
                .await
                .unwrap();
        assert_eq!(
            out,
            Classified {
                category: "order".into(),
                products: vec!["mango".into()]
            }
        );
    }
    assert_eq!(client.output_mode(), OutputMode::JsonObject);
    let seen = server.seen.lock().unwrap();
    let formats: Vec<&str> = seen
        .iter()
        .map(|(_, body)| body["response_format"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(formats, ["json_schema", "json_object", "json_object"]);
    assert_eq!(seen[1].1["response_format"]["schema"], schema().schema);
    assert_eq!(seen[0].1["response_format"]["json_schema"]["strict"], true);
}

/// An answer that does not parse goes back to the model with the error; one that never does
/// fails naming the task, the field and the raw reply.
#[tokio::test]
async fn answers_that_do_not_parse_are_fed_back_and_then_fail_clearly() {
    let server = fake_server(vec![
        completion(r#"{"category": "order"}"#),
        completion(&format!("Here you go: {GOOD}")),
    ])
    .await;
    let client = new_client(&server.url, |_| {});
    let (out, stats) =
        typed_answer::<Classified>(&client, &site(), messages(), &schema(), 3, |_| Ok(()))
            .await
            .unwrap();
    assert_eq!(out.products, ["mango"]);
    assert_eq!(stats.calls, 2);
    assert_eq!(stats.usage.prompt_tokens, 20);
    let retry = server.seen.lock().unwrap()[1].1["messages"].clone();
    assert_eq!(retry[1]["role"], "assistant");
    assert!(
        retry[2]["content"]
            .as_str()
            .unwrap()
            .contains("missing field `products`"),
        "{retry:?}"
    );

    let bad = || completion(r#"{"category": 7, "products": []}"#);
    let server = fake_server(vec![bad(), bad()]).await;
    let client = new_client(&server.url, |_| {});
    let e = typed_answer::<Classified>(&client, &site(), messages(), &schema(), 1, |_| Ok(()))
        .await
        .unwrap_err();
    assert_eq!(e.kind, LlmErrorKind::InvalidOutput);
    let text = e.to_string();
    assert!(text.starts_with("task `classify_message` (agent `classifier`), model `fake-model`: the answer is not the task's output: after 2 answers"), "{text}");
    assert!(
        text.contains("invalid type: integer `7`, expected a string"),
        "{text}"
    );
    assert!(
        text.contains(r#"the reply: {"category": 7, "products": []}"#),
        "{text}"
    );

    // A check (a guardrail) rejects like a parse error does.
    let server = fake_server(vec![
        completion(r#"{"category": "spam", "products": []}"#),
        completion(GOOD),
    ])
    .await;
    let client = new_client(&server.url, |_| {});
    let (out, _) = typed_answer::<Classified>(
        &client,
        &site(),
        messages(),
        &schema(),
        3,
        |c: &Classified| {
            if c.products.is_empty() {
                Err("name at least one product".into())
            } else {
                Ok(())
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(out.category, "order");
    let seen = server.seen.lock().unwrap();
    assert!(
        seen[1].1["messages"][2]["content"]
            .as_str()
            .unwrap()
            .contains("name at least one product")
    );
}
