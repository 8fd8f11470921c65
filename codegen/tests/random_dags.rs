//! Property test: random task DAGs of 1 to 200 tasks, written as a tasks.yaml the way a user
//! would. Each one passes `check`, generates Rust that parses (every generated item goes
//! through `syn` before prettyplease), builds a Petri net that passes the structural soundness
//! check, and whose token game fires every transition exactly once and ends with one token,
//! in the end place.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use tasknet_codegen::petri::{PlaceKind, build, check as check_net, simulate};
use tasknet_codegen::{GenerationSettings, SourceFile, check, generate_rust};

/// For each task, up to three picks among the tasks before it (duplicates collapse).
fn dags() -> impl Strategy<Value = Vec<Vec<Index>>> {
    (1usize..=200)
        .prop_flat_map(|n| prop::collection::vec(prop::collection::vec(any::<Index>(), 0..=3), n))
}

fn yaml(dag: &[Vec<Index>]) -> String {
    let mut out = String::from("inputs:\n  topic: String\n");
    for (i, picks) in dag.iter().enumerate() {
        let mut requires = vec!["topic".to_owned()];
        if i > 0 {
            let mut deps: Vec<usize> = picks.iter().map(|p| p.index(i)).collect();
            deps.sort_unstable();
            deps.dedup();
            requires.extend(deps.iter().map(|d| format!("out_{d}")));
        }
        out.push_str(&format!(
            "task_{i}:\n  description: Step {i} on {{topic}}.\n  expected_output: out_{i}.\n  requires: [{}]\n  produces: {{out_{i}: u64}}\n",
            requires.join(", ")
        ));
    }
    out
}

/// One random DAG (60 tasks, a fixed seed) kept as a fixture that `tests/random_dag.rs` in
/// the facade crate compiles: the generated Rust of a sample builds, not only parses.
#[test]
fn the_compiled_sample_is_one_of_these_dags() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let dag: Vec<Vec<Index>> = (0..60)
        .map(|_| {
            (0..next() % 4)
                .map(|_| {
                    // An `Index` is drawn from its strategy; a fixed runner makes it repeatable.
                    let mut runner = proptest::test_runner::TestRunner::deterministic();
                    for _ in 0..next() % 16 {
                        let _ = any::<Index>().new_tree(&mut runner);
                    }
                    any::<Index>().new_tree(&mut runner).unwrap().current()
                })
                .collect()
        })
        .collect();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/random_dag/tasks.yaml"
    );
    expectorate::assert_contents(path, &yaml(&dag));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_dags_check_generate_and_play_the_token_game(dag in dags()) {
        let source = yaml(&dag);
        let checked = check(SourceFile::new("tasks.yaml", source.as_str()), None, None)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{source}")))?;
        prop_assert_eq!(checked.model.tasks.len(), dag.len());

        let rust = generate_rust(&checked.model, &GenerationSettings::default());
        prop_assert!(!rust.contains("compile_error"), "generated Rust does not parse:\n{}", rust);

        let net = build(&checked.model);
        check_net(&net).map_err(|e| TestCaseError::fail(format!("unsound net: {e}\n{source}")))?;
        let (fired, marking) = simulate(&net);
        prop_assert!(fired.iter().all(|&f| f == 1), "fired {:?}\n{}", fired, source);
        for (p, place) in net.places.iter().enumerate() {
            let expected = u32::from(place.kind == PlaceKind::End);
            prop_assert_eq!(marking[p], expected, "place {}\n{}", place.name, source);
        }
        // Every task has exactly one place (whose transitions all fired once, above).
        let mut tasks: Vec<usize> = net
            .places
            .iter()
            .filter_map(|p| match p.kind {
                PlaceKind::Task(t) => Some(t),
                _ => None,
            })
            .collect();
        tasks.sort_unstable();
        prop_assert_eq!(tasks, (0..dag.len()).collect::<Vec<_>>());
    }
}
