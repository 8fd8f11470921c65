//! The seed's sales pipeline, end to end: read the shipped inbox's unanswered emails (up to
//! five a run), classify each, check the stock, write each reply to the outbox, log every task
//! to SQLite, write a markdown report. Offline by default; with `--llm URL --model NAME` the
//! classifier and the responder are agents answering through that server.
//!
//!     cargo run --example tropical_sales                      # run (the default)
//!     cargo run --example tropical_sales -- log               # the runs
//!     cargo run --example tropical_sales -- log --run ID      # one run's task outputs
//!     cargo run --example tropical_sales -- replay --run ID --from classify_message
//!     cargo run --example tropical_sales -- --llm http://127.0.0.1:8080/v1 --model NAME
//!
//! Everything goes to `./tropical_sales-out/` (or `$TROPICAL_SALES_OUT`).

mod pipeline;

use std::path::PathBuf;
use std::process::ExitCode;

use pipeline::{Crew, SalesTeam};

fn out_dir() -> PathBuf {
    std::env::var_os("TROPICAL_SALES_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("tropical_sales-out"))
}

fn main() -> ExitCode {
    let out = out_dir();
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!(
            "tropical_sales: error: cannot create {}: {e}",
            out.display()
        );
        return ExitCode::FAILURE;
    }
    let inputs_dir = out.clone();
    let report_dir = out.clone();
    tasknet::App::new("tropical_sales", Crew(SalesTeam))
        .db(out.join("tropical_sales.db"))
        .inputs(move || pipeline::prepare(&inputs_dir))
        .after_run(move |run, log| {
            let report = pipeline::write_report(&report_dir, run, log)?;
            println!("{}", pipeline::summary(&run.state));
            println!("report: {}", report.display());
            Ok(())
        })
        .main()
}
