//! The main job end to end: the seed's pipeline over the shipped inbox, into a temporary
//! folder and database; then its command line (run, log, replay) through `tasknet::App`.

#[path = "../examples/tropical_sales/pipeline.rs"]
mod pipeline;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pipeline::{Crew, SalesTeam};
use serde_json::json;
use tasknet::{Replay, Runner, SqliteStorage, Storage, TaskStatus};
use tasknet_testkit::fake_llm::{Step, answer_each, completion, fake_server};

/// The files of the emails a run answered.
fn answered(state: &pipeline::State) -> Vec<&str> {
    state
        .emails
        .iter()
        .flatten()
        .map(|e| e.file.as_str())
        .collect()
}

#[tokio::test]
async fn seed_pipeline_end_to_end() {
    let out = tempfile::tempdir().unwrap();
    let db = out.path().join("log.db");
    let runner = Runner::new(Crew(SalesTeam))
        .storage(SqliteStorage::open(&db).unwrap())
        .progress(false);

    let run = runner
        .run(pipeline::prepare(out.path()).unwrap())
        .await
        .unwrap();
    let rows = runner.log().tasks(&run.id).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| &*r.task_name).collect();
    assert_eq!(
        names,
        [
            "read_email",
            "classify_message",
            "check_stock_availability",
            "generate_response"
        ]
    );
    assert!(rows.iter().all(|r| r.status == TaskStatus::Succeeded));
    // `max_emails: 5` of the six shipped, oldest first, carried as lists through every task.
    assert_eq!(
        answered(&run.state),
        [
            "001-order.eml",
            "002-stock-question.eml",
            "003-complaint.eml",
            "004-order.eml",
            "005-invoice-address.eml"
        ]
    );
    let classified = &rows[1].output.value()["classifications"];
    assert_eq!(classified["001-order.eml"]["category"], "order");
    assert_eq!(
        classified["001-order.eml"]["products"],
        serde_json::json!(["mango", "passion fruit"])
    );
    assert_eq!(
        classified["002-stock-question.eml"]["category"],
        "stock_question"
    );
    assert_eq!(classified["003-complaint.eml"]["category"], "complaint");
    assert_eq!(classified["005-invoice-address.eml"]["category"], "other");
    let stock = &run.state.stock.as_ref().unwrap();
    assert_eq!(stock["passion fruit"].kg_in_stock, 8);
    assert!(!stock["passion fruit"].low);
    assert_eq!(stock["pineapple"].kg_in_stock, 0);
    let replies = run.state.replies.as_ref().unwrap();
    assert_eq!(replies.len(), 5);
    assert!(
        replies["002-stock-question.eml"]
            .text
            .contains("- pineapple: out of stock this week")
    );
    assert!(!replies["005-invoice-address.eml"].text.contains("- "));

    let reply = std::fs::read_to_string(out.path().join("outbox/reply-to-001-order.eml")).unwrap();
    assert!(reply.contains("Subject: Re: Order for Friday: mangoes and passion fruit\r\n"));
    assert!(reply.contains("In-Reply-To: <001.order@mercado-verde.example>"));
    assert!(reply.contains("- mango: 120 kg available at EUR 2.40/kg"));
    assert!(!reply.contains("papaya"), "only the email's own products");
    let parsed = mail_parser::MessageParser::default()
        .parse(reply.as_bytes())
        .unwrap();
    assert_eq!(
        parsed
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("ana@mercado-verde.example")
    );

    let report = pipeline::write_report(out.path(), &run, runner.log().as_ref()).unwrap();
    let report = std::fs::read_to_string(report).unwrap();
    assert!(
        report.contains("| Order for Friday: mangoes and passion fruit | ana@mercado-verde.example | order | mango, passion fruit |"),
        "{report}"
    );
    assert!(report.contains("| mango | 120 | 2.40 |"), "{report}");
    assert_eq!(report.matches("| succeeded |").count(), 4, "{report}");

    // The next run answers the one email left; the stock table is not seeded twice.
    let second = runner
        .run(pipeline::prepare(out.path()).unwrap())
        .await
        .unwrap();
    assert_eq!(answered(&second.state), ["006-stock-question.eml"]);
    let stock = second.state.stock.as_ref().unwrap();
    assert_eq!(
        stock.keys().collect::<Vec<_>>(),
        ["passion fruit"],
        "the stock of this run's products only"
    );

    // A run that finds no new email succeeds, and says so.
    let third = runner
        .run(pipeline::prepare(out.path()).unwrap())
        .await
        .unwrap();
    assert!(answered(&third.state).is_empty());
    assert_eq!(third.state.replies.as_ref().map(|r| r.len()), Some(0));
    let summary = pipeline::summary(&third.state);
    assert!(summary.starts_with("no new email in "), "{summary}");
    assert!(
        pipeline::summary(&second.state).starts_with(
            "006-stock-question.eml: Passion fruit next week? (stock_question: passion fruit) -> "
        ),
        "{}",
        pipeline::summary(&second.state)
    );

    // Replaying the first run from the classification re-runs the last three tasks, over the
    // emails the first run read.
    let replay = runner
        .replay(&Replay::from(&run.id, "classify_message"))
        .await
        .unwrap();
    let replayed: Vec<bool> = runner
        .log()
        .tasks(&replay.id)
        .unwrap()
        .iter()
        .map(|r| r.was_replayed)
        .collect();
    assert_eq!(replayed, [false, true, true, true]);
    assert_eq!(replay.state.replies, run.state.replies);
}

#[test]
fn the_binary_helper_runs_logs_and_replays() {
    let out = tempfile::tempdir().unwrap();
    let db = out.path().join("app.db");
    let app = || {
        let dir = out.path().to_path_buf();
        tasknet::App::new("tropical_sales", Crew(SalesTeam))
            .db(&db)
            .inputs(move || pipeline::prepare(&dir))
    };
    assert_eq!(
        app().main_from(["tropical_sales", "--quiet"]),
        ExitCode::SUCCESS
    );
    assert_eq!(
        app().main_from(["tropical_sales", "log"]),
        ExitCode::SUCCESS
    );
    let storage = SqliteStorage::open(&db).unwrap();
    let runs = storage.runs().unwrap();
    assert_eq!(runs.len(), 1);
    let first_run = runs[0].id.clone();
    assert_eq!(
        runs[0].registry, "tropical_sales",
        "the name given to the macro"
    );
    let id = runs[0].id.clone();
    assert_eq!(
        app().main_from([
            "tropical_sales",
            "replay",
            "--run",
            &id,
            "--only",
            "generate_response",
            "--quiet"
        ]),
        ExitCode::SUCCESS
    );
    assert_eq!(
        app().main_from(["tropical_sales", "log", "--run", &id]),
        ExitCode::SUCCESS
    );
    // Bad input: an unknown run or task fails, and the log is left as it was.
    assert_eq!(
        app().main_from([
            "tropical_sales",
            "replay",
            "--run",
            "nope",
            "--from",
            "read_email"
        ]),
        ExitCode::FAILURE
    );
    assert_eq!(
        app().main_from(["tropical_sales", "replay", "--run", &id, "--from", "reply"]),
        ExitCode::FAILURE
    );
    assert_eq!(
        app().main_from(["tropical_sales", "--set", "stock_db=[1,2]"]),
        ExitCode::FAILURE
    );
    assert_eq!(
        app().main_from(["tropical_sales", "replay", "--run", &id]),
        ExitCode::from(2),
        "--from or --only is required"
    );
    let runs = storage.runs().unwrap();
    assert_eq!(runs.len(), 2, "the replay is the only new run");
    assert_eq!(runs[1].parent_run.as_deref(), Some(id.as_str()));
    assert_eq!(storage.tasks(&id).unwrap().len(), 4);

    // Runs go on succeeding when the inbox has nothing new (the README's command run again).
    for _ in 0..3 {
        assert_eq!(
            app().main_from(["tropical_sales", "--quiet"]),
            ExitCode::SUCCESS
        );
    }
    let runs = storage.runs().unwrap();
    assert_eq!(runs.len(), 5);
    assert!(
        runs.iter()
            .all(|r| r.status == tasknet::RunStatus::Succeeded)
    );
    let emails_read = |run: &str| {
        storage.tasks(run).unwrap()[0].output.value()["emails"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(emails_read(&first_run), 5);
    assert_eq!(emails_read(&runs[2].id), 1);
    assert_eq!(emails_read(&runs[3].id), 0);
    assert_eq!(emails_read(&runs[4].id), 0);
}

/// Eight runs started at once over the six shipped emails: each email is answered by one run
/// exactly (the runs claim an email by creating its reply), and every run succeeds, those that
/// find nothing left with empty lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_at_once_answer_each_email_once() {
    let out = tempfile::tempdir().unwrap();
    let runner = Runner::new(Crew(SalesTeam))
        .storage(SqliteStorage::open(out.path().join("log.db")).unwrap())
        .progress(false);
    let inputs = pipeline::prepare(out.path()).unwrap();
    let runs = futures_util::future::join_all((0..8).map(|_| runner.run(inputs.clone()))).await;
    let runs: Vec<_> = runs.into_iter().map(Result::unwrap).collect();
    let mut all: Vec<&str> = runs.iter().flat_map(|run| answered(&run.state)).collect();
    all.sort();
    assert_eq!(
        all,
        [
            "001-order.eml",
            "002-stock-question.eml",
            "003-complaint.eml",
            "004-order.eml",
            "005-invoice-address.eml",
            "006-stock-question.eml"
        ]
    );
    for run in &runs {
        let replies = run.state.replies.as_ref().unwrap();
        assert_eq!(replies.len(), answered(&run.state).len());
    }
}

/// The example's tasks stay inside their folders: an email whose `file` names a path (as a
/// client of the task server could send) is refused and nothing is written outside the
/// outbox; a FIFO named like an email in the inbox is skipped, not read (it would block).
#[tokio::test]
async fn the_tasks_refuse_paths_outside_their_folders() {
    let out = tempfile::tempdir().unwrap();
    let runner = Runner::new(Crew(SalesTeam)).progress(false);
    let inputs = pipeline::prepare(out.path()).unwrap();
    let index = |name: &str| pipeline::TASK_REGISTRY.task_index(name).unwrap();
    for file in ["../escape.eml", "/tmp/escape.eml", ".hidden.eml", "x.sh"] {
        let email = pipeline::Email {
            file: file.to_owned(),
            message_id: "m@x".into(),
            from: "x@example.com".into(),
            name: Some("x".into()),
            subject: "s".into(),
            body: String::new(),
        };
        let classification = pipeline::Classification {
            category: pipeline::Category::Other,
            products: vec![],
        };
        let state = pipeline::State {
            classifications: Some([(email.file.clone(), classification)].into()),
            emails: Some(vec![email]),
            stock: Some(Default::default()),
            ..inputs.clone()
        };
        let run = runner.start_browser_run();
        let failure = runner
            .run_task(&run, index("generate_response"), state, None)
            .await
            .expect_err(file);
        assert!(
            failure.message.contains("not an email file name"),
            "{failure}"
        );
    }
    assert!(!out.path().join("escape.eml").exists());
    assert!(!out.path().join("reply-to-escape.eml").exists());

    let inbox = out.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(inbox.join("000-a.eml"))
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::copy(
        pipeline::data_dir().join("inbox/001-order.eml"),
        inbox.join("001-order.eml"),
    )
    .unwrap();
    let state = pipeline::State {
        inbox_dir: Some(inbox.display().to_string()),
        ..inputs
    };
    let run = runner.start_browser_run();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        runner.run_task(&run, index("read_email"), state, None),
    )
    .await
    .expect("the FIFO is not read")
    .unwrap();
    let files: Vec<String> = read.emails.unwrap().into_iter().map(|e| e.file).collect();
    assert_eq!(files, ["001-order.eml"]);
}

/// `log` reads an existing log and never makes one: a path that does not exist is an error,
/// and nothing is created there.
#[test]
fn the_binary_helper_refuses_to_log_a_missing_file() {
    let out = tempfile::tempdir().unwrap();
    let typo = out.path().join("typo/x.dbb");
    let app = tasknet::App::new("tropical_sales", Crew(SalesTeam));
    let db = typo.display().to_string();
    assert_eq!(
        app.main_from(["tropical_sales", "--db", db.as_str(), "log"]),
        ExitCode::FAILURE
    );
    assert!(!typo.exists());
    assert!(!out.path().join("typo").exists());
}

/// The fake model's answer to one of the seed's agent requests: a classification, by the
/// email's words (its first answer for the complaint names a category outside the fixed set),
/// or a reply draft.
fn seed_agent_answer(request: &serde_json::Value, complaints: &AtomicUsize) -> Step {
    let schema = &request["response_format"]["json_schema"]["schema"];
    let asked = request["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned();
    if schema["properties"].get("text").is_some() {
        let subject = asked.split("\"subject\":\"").nth(1).unwrap_or_default();
        let subject = subject.split('"').next().unwrap_or_default();
        return completion(&json!({ "text": format!("About {subject}: thank you!") }).to_string());
    }
    let answer = if asked.contains("Bananas arrived damaged") {
        if complaints.fetch_add(1, Ordering::SeqCst) == 0 {
            json!({"category": "urgent", "products": ["banana"]})
        } else {
            json!({"category": "complaint", "products": ["Bananas"]})
        }
    } else if asked.contains("Order for Friday") {
        json!({"category": "order", "products": ["Mangoes", "passion fruit"]})
    } else if asked.contains("Coconuts and papaya") {
        json!({"category": "order", "products": ["coconut", "papaya", "kiwi"]})
    } else if asked.contains("Do you have papayas") {
        json!({"category": "stock_question", "products": ["papaya", "pineapple"]})
    } else {
        json!({"category": "other", "products": []})
    };
    completion(&answer.to_string())
}

/// With `--llm`, the classifier and the responder are agents: one typed answer per email
/// (the category from the fixed set the schema enumerates, a category outside it sent back
/// with the error), product names mapped to the catalogue's, the replies the agent's text,
/// and the log holds each task's calls and tokens.
#[test]
fn with_an_llm_the_classifier_and_the_responder_are_agents() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let complaints = Arc::new(AtomicUsize::new(0));
    let counter = complaints.clone();
    // Five emails: 5 classifications (one retried), 5 replies.
    let server = rt.block_on(fake_server(answer_each(11, move |request| {
        seed_agent_answer(request, &counter)
    })));
    let out = tempfile::tempdir().unwrap();
    let db = out.path().join("app.db");
    let dir = out.path().to_path_buf();
    let code = tasknet::App::new("tropical_sales", Crew(SalesTeam))
        .db(&db)
        .inputs(move || pipeline::prepare(&dir))
        .main_from([
            "tropical_sales",
            "--quiet",
            "--llm",
            &server.url,
            "--model",
            "fake-model",
        ]);
    assert_eq!(code, ExitCode::SUCCESS);

    let storage = SqliteStorage::open(&db).unwrap();
    let run = &storage.runs().unwrap()[0];
    let records = storage.tasks(&run.id).unwrap();
    let usage = |task: usize| records[task].llm.clone();
    assert_eq!(usage(0), None, "read_email is code");
    let classify = usage(1).unwrap();
    assert_eq!(
        (
            classify.calls,
            classify.prompt_tokens,
            classify.completion_tokens
        ),
        (6, 60, 24)
    );
    assert_eq!(classify.model, "fake-model");
    assert_eq!(usage(2), None, "check_stock_availability is code");
    let respond = usage(3).unwrap();
    assert_eq!((respond.calls, respond.prompt_tokens), (5, 50));

    let classified = &records[1].output.value()["classifications"];
    assert_eq!(classified["003-complaint.eml"]["category"], "complaint");
    assert_eq!(
        classified["003-complaint.eml"]["products"],
        json!(["banana"])
    );
    assert_eq!(
        classified["001-order.eml"]["products"],
        json!(["mango", "passion fruit"])
    );
    assert_eq!(
        classified["004-order.eml"]["products"],
        json!(["coconut", "papaya", "kiwi"])
    );
    let reply = std::fs::read_to_string(out.path().join("outbox/reply-to-004-order.eml")).unwrap();
    assert!(
        reply.contains("\r\n\r\nAbout Coconuts and papaya for the juice bar: thank you!\r\n"),
        "{reply}"
    );

    let seen = server.seen.lock().unwrap();
    let classify_request = seen
        .iter()
        .map(|(_, body)| body)
        .find(|body| {
            body["messages"][1]["content"]
                .as_str()
                .unwrap_or_default()
                .contains("Order for Friday")
        })
        .unwrap();
    assert_eq!(
        classify_request["messages"][0]["content"],
        "You are Sales Triage Specialist. You have sorted customer emails for years and know an order from a complaint at a glance.\nYour goal: Route each email to the right kind of answer"
    );
    let schema = classify_request["response_format"]["json_schema"]["schema"].to_string();
    for category in ["order", "stock_question", "complaint", "other"] {
        assert!(schema.contains(&format!("\"{category}\"")), "{schema}");
    }
    let retried = seen
        .iter()
        .filter_map(|(_, body)| body["messages"].as_array())
        .find(|m| m.len() > 2)
        .expect("the answer `urgent` was sent back");
    let feedback = retried.last().unwrap()["content"].as_str().unwrap();
    assert!(feedback.contains("unknown variant `urgent`"), "{feedback}");
}
