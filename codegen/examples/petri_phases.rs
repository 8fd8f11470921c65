//! Times the Petri-net phases on a synthetic file: `cargo run --release -p tasknet-codegen
//! --example petri_phases -- 2000`.
use std::time::Instant;

use tasknet_codegen::emit::petri::json;
use tasknet_codegen::petri;
use tasknet_codegen::{SourceFile, check, synthetic};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let model = check(
        SourceFile::new("t.yaml", synthetic::tasks_yaml(n)),
        None,
        None,
    )
    .unwrap()
    .model;
    let t = Instant::now();
    let net = petri::build(&model);
    let build = t.elapsed();
    petri::check(&net).unwrap();
    let checked = t.elapsed();
    let text = json::to_json_string(&net, &model, &json::JsOptions::default());
    let json_time = t.elapsed();
    let literal: proc_macro2::TokenStream = format!("r#\"{text}\"#").parse().unwrap();
    let literal_time = t.elapsed();
    eprintln!(
        "n={n}: build {build:?}, soundness check {:?}, JSON text {:?}, Rust literal {:?}; {} bytes of JSON, {} token",
        checked - build,
        json_time - checked,
        literal_time - json_time,
        text.len(),
        literal.into_iter().count()
    );
}
