//! The seed's sales pipeline, end to end: read the oldest unanswered email of the shipped
//! inbox, classify it, check the stock, write the reply to the outbox, log every task to
//! SQLite, write a markdown report.
//!
//!     cargo run --example tropical_sales                      # run (the default)
//!     cargo run --example tropical_sales -- log               # the runs
//!     cargo run --example tropical_sales -- log --run ID      # one run's task outputs
//!     cargo run --example tropical_sales -- replay --run ID --from classify_message
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
            let s = &run.state;
            println!(
                "{}: {} ({}: {})",
                s.email
                    .as_ref()
                    .and_then(|e| e["file"].as_str())
                    .unwrap_or("?"),
                s.email
                    .as_ref()
                    .and_then(|e| e["subject"].as_str())
                    .unwrap_or(""),
                s.category.as_deref().unwrap_or(""),
                s.products.clone().unwrap_or_default().join(", ")
            );
            println!("reply:  {}", s.reply_file.as_deref().unwrap_or(""));
            println!("report: {}", report.display());
            Ok(())
        })
        .main()
}
