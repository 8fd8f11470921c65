//! The work-queue tests' crew (tests/fixtures/queue_crew.yaml): each task sleeps `work_ms`,
//! then derives its output from its inputs only, so that a run's final output says whether
//! every task saw its predecessors' outputs, wherever each ran. Shared by tests/workers.rs and
//! tests/multi_host.rs, with the helpers that start the crew's App as a child process.

// Shared by two test files, each of which uses a part.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tasknet::{TaskContext, TaskError};

tasknet::task_registry!("tests/fixtures/queue_crew.yaml");

pub struct Shop;

async fn work(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

impl Tasks for Shop {
    async fn read_email(
        &self,
        _ctx: &TaskContext,
        input: ReadEmailInput,
    ) -> Result<ReadEmailOutput, TaskError> {
        work(input.work_ms).await;
        Ok(ReadEmailOutput {
            emails: (0..3)
                .map(|i| format!("email {}.{i}", input.batch))
                .collect(),
        })
    }

    async fn classify_message(
        &self,
        _ctx: &TaskContext,
        input: ClassifyMessageInput,
    ) -> Result<ClassifyMessageOutput, TaskError> {
        work(input.work_ms).await;
        Ok(ClassifyMessageOutput {
            categories: input.emails.iter().map(|e| format!("order:{e}")).collect(),
        })
    }

    async fn check_stock_availability(
        &self,
        _ctx: &TaskContext,
        input: CheckStockAvailabilityInput,
    ) -> Result<CheckStockAvailabilityOutput, TaskError> {
        work(input.work_ms).await;
        Ok(CheckStockAvailabilityOutput {
            stock: input.categories.iter().map(|c| c.len() as u64).collect(),
        })
    }

    async fn draft_reply(
        &self,
        _ctx: &TaskContext,
        input: DraftReplyInput,
    ) -> Result<DraftReplyOutput, TaskError> {
        work(input.work_ms).await;
        Ok(DraftReplyOutput {
            drafts: input
                .emails
                .iter()
                .zip(&input.categories)
                .map(|(e, c)| format!("re: {e} ({c})"))
                .collect(),
        })
    }

    async fn send_reply(
        &self,
        _ctx: &TaskContext,
        input: SendReplyInput,
    ) -> Result<SendReplyOutput, TaskError> {
        work(input.work_ms).await;
        Ok(SendReplyOutput {
            sent: input
                .drafts
                .iter()
                .zip(&input.stock)
                .map(|(d, s)| format!("{d} [{s} in stock]"))
                .collect(),
        })
    }
}

/// What `send_reply` must produce for `batch`, computed apart from the crew.
pub fn expected_sent(batch: u64) -> Vec<String> {
    (0..3)
        .map(|i| {
            let email = format!("email {batch}.{i}");
            let category = format!("order:{email}");
            format!("re: {email} ({category}) [{} in stock]", category.len())
        })
        .collect()
}

pub fn app() -> tasknet::App<Crew<Shop>> {
    tasknet::App::new("queue_crew", Crew(Shop))
}

// The crew's App as a child process: the test binary started again with `--exact child_app`
// (each test file that starts children has that test, calling `child_main`).

/// Set in a child: the App's arguments, separated by newlines.
const APP_ARGS: &str = "TASKNET_TEST_APP_ARGS";

/// In a child: runs the crew's App with the arguments the parent gave, and exits. Does
/// nothing in the parent.
pub fn child_main() {
    let Ok(args) = std::env::var(APP_ARGS) else {
        return;
    };
    let args: Vec<&str> = std::iter::once("queue_crew").chain(args.lines()).collect();
    let code = app().main_from(args);
    std::process::exit(if code == std::process::ExitCode::SUCCESS {
        0
    } else {
        1
    });
}

/// The crew's App with `args`, as a child process (inside `netns` when given).
pub fn app_in(netns: Option<&tasknet_testkit::netns::Namespace>, args: &[&str]) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut command = match netns {
        Some(ns) => ns.command(exe),
        None => Command::new(exe),
    };
    command
        .args(["--exact", "child_app", "--nocapture", "--test-threads=1"])
        .env(APP_ARGS, args.join("\n"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The crew's App with `args`, as a child process.
pub fn app_process(args: &[&str]) -> Command {
    app_in(None, args)
}

/// A worker (4 at once, a 1 s lease) on the log at `url`.
pub fn start_worker(url: &str, extra: &[&str]) -> Child {
    let mut args = vec!["--log", url, "worker", "--concurrency", "4", "--lease", "1"];
    args.extend_from_slice(extra);
    app_process(&args).spawn().unwrap()
}

/// What a worker printed when it stopped: stored, failed, lease lost, handed back; and its
/// stderr.
pub fn stopped(child: Child) -> (u64, u64, u64, u64, String) {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "worker failed: {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("stopped:"))
        .unwrap_or_else(|| panic!("no summary: {stderr}"));
    let summary = &line[line.find("stopped:").unwrap()..];
    let numbers: Vec<u64> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    // "stopped: S task records stored (F failed), L results dropped, H handed back, R runs"
    (numbers[0], numbers[1], numbers[2], numbers[3], stderr)
}

/// SIGTERM: what a service manager sends to stop a worker.
pub fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
