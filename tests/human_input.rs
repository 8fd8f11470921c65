//! `human_input: true` through the task server: the task asks the client that asked for it
//! (`human_input_request`), and waits for that client's `human_feedback`; a client that leaves
//! fails the task at once. The page's side (its feedback box) is tested in Chromium, in
//! tests/browser.rs.

mod crews;
#[path = "server_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tasknet::TaskStatus;

use crews::serve_drafts;
use support::{Socket, connect, receive, send, start_run};
use tasknet_testkit::fake_llm::{completion, fake_server};

async fn ask_for_a_draft(socket: &mut Socket, run_id: &str) {
    let data = json!({
        "task_name": "draft_reply",
        "input_data": {"email": "Do you sell mangoes?"},
        "run_id": run_id,
    });
    send(
        socket,
        json!({"type": "execute_task", "id": "t1", "data": data}),
    )
    .await;
    assert_eq!(receive(socket).await["type"], "task_started");
}

/// The next frame of `kind`, past the `feedback_received` frames (which may come before or
/// after a task's next frame).
async fn next(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let frame = receive(socket).await;
        if frame["type"] == kind {
            return frame;
        }
        assert_eq!(frame["type"], "feedback_received", "{frame}");
    }
}

#[tokio::test]
async fn a_human_input_task_asks_the_client_that_ran_it() {
    let llm = fake_server(vec![
        completion(r#"{"reply": "Yes."}"#),
        completion(r#"{"reply": "Yes, at 3.50 EUR per kg."}"#),
    ])
    .await;
    let (log, addr) = serve_drafts(&llm.url).await;
    let mut socket = connect(addr, "", None).await.unwrap();
    let run_id = start_run(&mut socket).await;
    ask_for_a_draft(&mut socket, &run_id).await;

    let asked = next(&mut socket, "human_input_request").await;
    assert_eq!(asked["id"], "t1", "the request names the task's request");
    assert_eq!(asked["data"]["task_name"], "draft_reply");
    assert_eq!(asked["data"]["run_id"], run_id.as_str());
    assert_eq!(asked["data"]["answer"], r#"{"reply": "Yes."}"#);
    let request_id = asked["data"]["request_id"].as_str().unwrap().to_owned();

    // Feedback for a request nobody waits on is refused; the task still waits.
    send(
        &mut socket,
        json!({"type": "human_feedback", "id": "f0", "data": {"request_id": "nope", "feedback": ""}}),
    )
    .await;
    let refused = receive(&mut socket).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["data"]["error"]["kind"], "unknown_request");
    send(
        &mut socket,
        json!({"type": "human_feedback", "id": "f1", "data": {"request_id": request_id, "feedback": "Give the price."}}),
    )
    .await;

    let asked_again = next(&mut socket, "human_input_request").await;
    assert_eq!(
        asked_again["data"]["answer"],
        r#"{"reply": "Yes, at 3.50 EUR per kg."}"#
    );
    let second_id = asked_again["data"]["request_id"].as_str().unwrap();
    assert_ne!(second_id, request_id);
    send(
        &mut socket,
        json!({"type": "human_feedback", "id": "f2", "data": {"request_id": second_id, "feedback": ""}}),
    )
    .await;
    let done = next(&mut socket, "task_completed").await;
    assert_eq!(done["data"]["result"]["reply"], "Yes, at 3.50 EUR per kg.");

    let seen = llm.seen.lock().unwrap();
    let last = seen[1].1["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(
        last["content"],
        "Feedback on your answer: Give the price.\nAnswer again, following it."
    );
    let record = &log.tasks(&run_id).unwrap()[0];
    assert_eq!(record.status, TaskStatus::Succeeded);
    assert_eq!(record.llm.as_ref().unwrap().calls, 2);
}

#[tokio::test]
async fn a_client_that_leaves_fails_the_task_waiting_for_its_feedback() {
    let llm = fake_server(vec![completion(r#"{"reply": "Yes."}"#)]).await;
    let (log, addr) = serve_drafts(&llm.url).await;
    let mut socket = connect(addr, "", None).await.unwrap();
    let run_id = start_run(&mut socket).await;
    ask_for_a_draft(&mut socket, &run_id).await;
    next(&mut socket, "human_input_request").await;
    drop(socket);

    // Well before the server's task timeout (60 s): the task fails when the client goes.
    let deadline = Instant::now() + Duration::from_secs(10);
    let record = loop {
        if let Some(record) = log.tasks(&run_id).unwrap().pop() {
            break record;
        }
        assert!(Instant::now() < deadline, "the task still waits");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(record.status, TaskStatus::Failed);
    let error = record.error.unwrap_or_default();
    assert!(
        error.contains("the client left without giving human input"),
        "{error}"
    );
}
