//! Times each phase of generation on a synthetic file: `cargo run --release -p
//! tasknet-codegen --example phases -- 2000`. A quick look; the figures to report come from
//! `cargo bench -p tasknet-codegen`.
use std::time::Instant;

use tasknet_codegen::{GenerationSettings, SourceFile, check, emit, synthetic};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let text = synthetic::tasks_yaml(n);
    let (parse, spec_time) = tasknet_codegen::__stages::parse_and_spec(&text);

    let t = Instant::now();
    let checked = check(SourceFile::new("tasks.yaml", text), None, None).unwrap();
    let check_time = t.elapsed();
    let tokens = emit::rust::items(&checked.model, &GenerationSettings::default());
    let quote_time = t.elapsed() - check_time;
    drop(tokens);
    let t = Instant::now();
    let pretty = emit::rust::pretty(&checked.model, &GenerationSettings::default());
    let pretty_time = t.elapsed();
    eprintln!(
        "n={n}: yaml parse {parse:?}, spec {spec_time:?}, check total {check_time:?}; emit tokens {quote_time:?}; tokens + syn + prettyplease {pretty_time:?}; {} bytes of Rust",
        pretty.len()
    );
}
