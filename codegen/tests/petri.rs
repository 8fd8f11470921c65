//! The Petri net: structure (AND semantics, merged chains), the structural soundness check,
//! the token game, and the seed JSON whose `logica` must be valid JavaScript.

use std::path::Path;

use tasknet_codegen::emit::petri::json::{JsOptions, js_string, logica, to_json};
use tasknet_codegen::model::Model;
use tasknet_codegen::petri::{Arc, Net, PlaceKind, build, check, simulate};
use tasknet_codegen::{SourceFile, check as check_yaml, synthetic};

fn model(yaml: &str) -> Model {
    check_yaml(SourceFile::new("tasks.yaml", yaml), None, None)
        .unwrap_or_else(|e| panic!("{e}"))
        .model
}

fn fixture(path: &str) -> Model {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    model(&std::fs::read_to_string(root.join(path)).unwrap())
}

/// `(from, to)` by names, for readable assertions.
fn arcs(net: &Net) -> Vec<(String, String)> {
    net.arcs
        .iter()
        .map(|a| match *a {
            Arc::PlaceToTransition { place, transition } => (
                net.places[place].name.clone(),
                net.transitions[transition].id.clone(),
            ),
            Arc::TransitionToPlace { transition, place } => (
                net.transitions[transition].id.clone(),
                net.places[place].name.clone(),
            ),
        })
        .collect()
}

fn fires_every_transition_once(net: &Net) {
    check(net).unwrap_or_else(|e| panic!("{}: {e}", net.name));
    let (fired, marking) = simulate(net);
    assert!(fired.iter().all(|&f| f == 1), "{}: {fired:?}", net.name);
    for (p, place) in net.places.iter().enumerate() {
        let expected = u32::from(place.kind == PlaceKind::End);
        assert_eq!(marking[p], expected, "{}: place {}", net.name, place.name);
    }
}

#[test]
fn a_chain_reads_start_task_task_end() {
    let net = build(&fixture("examples/minimal/tasks.yaml"));
    let names: Vec<&str> = net.places.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["start", "end", "research", "write"]);
    assert_eq!(net.transitions.len(), 3);
    assert_eq!(
        arcs(&net),
        [
            ("T0".into(), "research".into()),
            ("research".into(), "T1".into()),
            ("T1".into(), "write".into()),
            ("write".into(), "T2".into()),
            ("start".into(), "T0".into()),
            ("T2".into(), "end".into()),
        ]
    );
    fires_every_transition_once(&net);
}

#[test]
fn a_fork_feeds_every_branch_and_a_join_waits_for_all() {
    let net = build(&fixture("tests/fixtures/fork_join.yaml"));
    fires_every_transition_once(&net);
    let place = |name: &str| net.places.iter().position(|p| p.name == name).unwrap();
    // The transition after `fetch` puts a token on both branches.
    let after_fetch: Vec<usize> = net
        .arcs
        .iter()
        .filter_map(|a| match *a {
            Arc::PlaceToTransition {
                place: p,
                transition,
            } if p == place("fetch") => Some(transition),
            _ => None,
        })
        .collect();
    let outputs = net
        .arcs
        .iter()
        .filter(|a| matches!(**a, Arc::TransitionToPlace { transition, .. } if transition == after_fetch[0]))
        .count();
    assert_eq!(outputs, 2, "AND-split: both extractors get a token");
    // The transition before `summarise` waits for both.
    let before_summarise = net
        .arcs
        .iter()
        .find_map(|a| match *a {
            Arc::TransitionToPlace {
                transition,
                place: p,
            } if p == place("summarise") => Some(transition),
            _ => None,
        })
        .unwrap();
    let inputs = net
        .arcs
        .iter()
        .filter(|a| matches!(**a, Arc::PlaceToTransition { transition, .. } if transition == before_summarise))
        .count();
    assert_eq!(inputs, 2, "AND-join");
}

#[test]
fn every_fixture_and_a_large_dag_is_sound() {
    for path in [
        "examples/tropical_sales/tasks.yaml",
        "tests/fixtures/fork_join.yaml",
        "tests/fixtures/crewai/lib__cli__src__crewai_cli__templates__crew__config__tasks.yaml",
        "tests/fixtures/crewai/lib__cli__src__crewai_cli__templates__flow__crews__content_crew__config__tasks.yaml",
    ] {
        fires_every_transition_once(&build(&fixture(path)));
    }
    let big = build(&model(&synthetic::tasks_yaml(200)));
    assert_eq!(
        big.places
            .iter()
            .filter(|p| matches!(p.kind, PlaceKind::Task(_)))
            .count(),
        200
    );
    fires_every_transition_once(&big);
}

/// A place joined to nothing yet, for breaking a sound net.
fn extra_place(name: &str) -> tasknet_codegen::petri::Place {
    tasknet_codegen::petri::Place {
        id: format!("X{name}"),
        name: name.into(),
        kind: PlaceKind::Condition {
            from: None,
            to: None,
        },
        tokens: 0,
        x: 0.0,
        y: 0.0,
    }
}

#[test]
fn unsound_nets_are_rejected() {
    let good = build(&fixture("tests/fixtures/fork_join.yaml"));
    check(&good).unwrap();

    // Deadlock: a transition waits for a place nobody fills.
    let mut deadlock = good.clone();
    deadlock.places.push(extra_place("never"));
    let last = deadlock.places.len() - 1;
    deadlock.arcs.push(Arc::PlaceToTransition {
        place: last,
        transition: 1,
    });
    let err = check(&deadlock).unwrap_err().to_string();
    assert!(err.contains("2 source places"), "{err}");
    // The token game agrees: the run never completes.
    let end = deadlock
        .places
        .iter()
        .position(|p| p.kind == PlaceKind::End)
        .unwrap();
    assert_eq!(simulate(&deadlock).1[end], 0, "deadlocked");

    // Improper completion: a token left behind in a second sink.
    let mut leftover = good.clone();
    leftover.places.push(extra_place("leftover"));
    let last = leftover.places.len() - 1;
    leftover.arcs.push(Arc::TransitionToPlace {
        transition: 0,
        place: last,
    });
    let err = check(&leftover).unwrap_err().to_string();
    assert!(err.contains("2 sink places"), "{err}");
    let (_, marking) = simulate(&leftover);
    assert_eq!(marking[last], 1, "a token left behind when the run ends");

    // The seed's either/or: one place, two consumers.
    let mut choice = good.clone();
    let fetch = choice
        .places
        .iter()
        .position(|p| p.name == "fetch")
        .unwrap();
    choice.arcs.push(Arc::PlaceToTransition {
        place: fetch,
        transition: 0,
    });
    let err = check(&choice).unwrap_err().to_string();
    assert!(err.contains("consumers (a choice)"), "{err}");

    // A cycle.
    let mut cycle = good;
    let end_t = cycle.transitions.len() - 1;
    let start = cycle
        .places
        .iter()
        .position(|p| p.kind == PlaceKind::Start)
        .unwrap();
    let task = cycle
        .places
        .iter()
        .position(|p| matches!(p.kind, PlaceKind::Task(_)))
        .unwrap();
    cycle.arcs.push(Arc::TransitionToPlace {
        transition: end_t,
        place: task,
    });
    cycle.places[start].tokens = 1;
    let err = check(&cycle).unwrap_err().to_string();
    assert!(err.contains("producers") || err.contains("cycle"), "{err}");
}

fn node() -> Option<tasknet_testkit::Tool> {
    tasknet_testkit::tool("node", "Debian: nodejs; .ci/run installs it")
}

fn node_check(node: &tasknet_testkit::Tool, source: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("check.js");
    std::fs::write(&path, source).unwrap();
    node.command().arg("--check").arg(&path).output().unwrap()
}

#[test]
fn logica_is_valid_javascript() {
    let Some(node) = node() else { return };
    let model = fixture("examples/tropical_sales/tasks.yaml");
    let net = build(&model);
    let json = to_json(&net, &model, &JsOptions::default());
    let places = json["lugares"].as_array().unwrap();
    let mut checked = 0;
    for place in places {
        let body = place["logica"].as_str().unwrap();
        if body.is_empty() {
            continue;
        }
        let out = node_check(
            &node,
            &format!("const run = async function (input, utils) {{\n{body}\n}};\n"),
        );
        assert!(
            out.status.success(),
            "{}\n{body}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert_eq!(checked, 4);
    // A hostile URL stays one string literal.
    let hostile = JsOptions {
        ws_url: "ws://x/\"`${alert(1)}`</script>\u{2028}\\".into(),
        timeout_ms: 5,
    };
    let body = logica("t", &hostile);
    let out = node_check(
        &node,
        &format!("const run = async function (input, utils) {{\n{body}\n}};\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!body.contains("</script>"));
}

#[test]
fn js_strings_round_trip_through_node() {
    let hostile = [
        "quote \" backslash \\ backtick ` dollar ${x}",
        "</script><script>alert(1)</script>",
        "line\u{2028}separator\u{2029}paragraph",
        "nul \0 and 🥭",
    ];
    let literals: Vec<String> = hostile.iter().map(|s| js_string(s)).collect();
    let program = format!("console.log(JSON.stringify([{}]));", literals.join(", "));
    let Some(node) = node() else { return };
    let out = node.command().arg("-e").arg(&program).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(back, hostile);
}

#[test]
fn seed_json_has_the_seed_fields() {
    let model = fixture("examples/tropical_sales/tasks.yaml");
    let net = build(&model);
    let json = to_json(&net, &model, &JsOptions::default());
    for key in [
        "nome",
        "version",
        "lugares",
        "transicoes",
        "arcos",
        "agentes",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    let read = json["lugares"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["nome"] == "read_email")
        .unwrap();
    for key in [
        "id",
        "nome",
        "tokens",
        "coordenadas",
        "delay",
        "subnet",
        "agentId",
        "input_data",
        "output_data",
        "logica",
    ] {
        assert!(read.get(key).is_some(), "{key}");
    }
    assert_eq!(read["agentId"], "email_reader");
    assert_eq!(read["input_data"]["max_emails"], 5);
    let arc = &json["arcos"][0];
    assert!(arc["origem"].is_string() && arc["destino"].is_string() && arc["peso"] == 1);
}
