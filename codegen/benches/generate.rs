//! parse + validate + emit for generated files of 100, 2,000 and 10,000 tasks:
//! `check` (yaml -> checked model), `check_and_tokens` (what `task_registry!` does at compile
//! time) and `check_and_pretty` (what the build.rs Builder and `tasknet generate` do: the same
//! tokens, printed by prettyplease).
//! The `petri` group times the Petri net alone (construction, soundness check, seed JSON).
//! Run: `cargo bench -p tasknet-codegen --bench generate` (add `-- petri` for the net only).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tasknet_codegen::{
    GenerationSettings, SourceFile, check, emit, generate_rust, petri, synthetic,
};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("codegen");
    group.sample_size(10);
    for n in [100usize, 2_000, 10_000] {
        let yaml = synthetic::tasks_yaml(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("check", n), &yaml, |b, yaml| {
            b.iter(|| check(SourceFile::new("tasks.yaml", yaml.as_str()), None, None).unwrap())
        });
        // The macro hands its tokens to rustc and never drops them; proc-macro2's fallback
        // token tree (what a bench outside rustc gets) takes a fifth of this route to drop.
        group.bench_with_input(BenchmarkId::new("check_and_tokens", n), &yaml, |b, yaml| {
            b.iter_with_large_drop(|| {
                let checked =
                    check(SourceFile::new("tasks.yaml", yaml.as_str()), None, None).unwrap();
                emit::rust::items(&checked.model, &GenerationSettings::default())
            })
        });
        group.bench_with_input(BenchmarkId::new("check_and_pretty", n), &yaml, |b, yaml| {
            b.iter(|| {
                let checked =
                    check(SourceFile::new("tasks.yaml", yaml.as_str()), None, None).unwrap();
                generate_rust(&checked.model, &GenerationSettings::default())
            })
        });
    }
    group.finish();
}

/// The Petri net of a checked model: construction plus the structural soundness check (the
/// issue's target: 10,000 tasks under 100 ms), and with the seed JSON text on top.
fn bench_petri(c: &mut Criterion) {
    let mut group = c.benchmark_group("petri");
    group.sample_size(10);
    for n in [100usize, 2_000, 10_000] {
        let model = check(
            SourceFile::new("tasks.yaml", synthetic::tasks_yaml(n)),
            None,
            None,
        )
        .unwrap()
        .model;
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(
            BenchmarkId::new("build_and_check", n),
            &model,
            |b, model| {
                b.iter(|| {
                    let net = petri::build(model);
                    petri::check(&net).unwrap();
                    net
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("build_check_and_json", n),
            &model,
            |b, model| {
                b.iter(|| {
                    let net = petri::build(model);
                    petri::check(&net).unwrap();
                    tasknet_codegen::emit::petri::json::to_json_string(
                        &net,
                        model,
                        &tasknet_codegen::emit::petri::json::JsOptions::default(),
                    )
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench, bench_petri);
criterion_main!(benches);
