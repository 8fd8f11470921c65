//! The net's files: the seed JSON (validated against the repository's JSON Schema), PNML
//! (validated with xmllint against the ISO grammar), DOT (rendered by Graphviz), Mermaid, and
//! the task graph; snapshots of the seed pipeline, a fork/join file and a CrewAI file; the
//! layout of a 200-task net; hostile strings through every emitter.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use tasknet_codegen::emit::petri::Format;
use tasknet_codegen::emit::petri::json::JsOptions;
use tasknet_codegen::model::Model;
use tasknet_codegen::petri::{Arc, Net, build, check};
use tasknet_codegen::{SourceFile, check as check_yaml, graph, synthetic};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(tasks: &str, agents: Option<&str>) -> Model {
    let read = |p: &str| SourceFile::new(p, std::fs::read_to_string(root().join(p)).unwrap());
    check_yaml(read(tasks), agents.map(read), None)
        .unwrap_or_else(|e| panic!("{e}"))
        .model
}

fn model_of(yaml: &str) -> Model {
    check_yaml(SourceFile::new("tasks.yaml", yaml), None, None)
        .unwrap_or_else(|e| panic!("{e}"))
        .model
}

const CREWAI: &str = "tests/fixtures/crewai/lib__cli__src__crewai_cli__templates__flow__crews__content_crew__config__";

/// The snapshotted nets: the seed pipeline, a fork/join, a CrewAI template crew.
fn snapshot_models() -> Vec<(&'static str, Model)> {
    vec![
        (
            "tropical_sales",
            load(
                "examples/tropical_sales/tasks.yaml",
                Some("examples/tropical_sales/agents.yaml"),
            ),
        ),
        ("fork_join", load("tests/fixtures/fork_join.yaml", None)),
        (
            "crewai_content_crew",
            load(
                &format!("{CREWAI}tasks.yaml"),
                Some(&format!("{CREWAI}agents.yaml")),
            ),
        ),
    ]
}

fn hostile_model() -> Model {
    let mut model = load(
        "tests/fixtures/hostile.yaml",
        Some("tests/fixtures/hostile_agents.yaml"),
    );
    model.name = "net \"<x>\" ]]> </script> \u{2028} \0 #quot; --> end".to_owned();
    model
}

/// A deterministic random DAG of `n` tasks: each task reads up to three earlier fields.
fn random_dag_yaml(n: usize, mut seed: u64) -> String {
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let mut yaml = String::new();
    for i in 0..n {
        let mut requires: Vec<String> = Vec::new();
        if i > 0 {
            for _ in 0..next() % 4 {
                let from = format!("f{}", next() % i);
                if !requires.contains(&from) {
                    requires.push(from);
                }
            }
        }
        yaml.push_str(&format!(
            "t{i}:\n  description: task {i}\n  expected_output: f{i}\n  requires: [{}]\n  produces: {{f{i}: String}}\n",
            requires.join(", ")
        ));
    }
    yaml
}

/// Every model the emitters are tried on.
fn all_models() -> Vec<(String, Model)> {
    let mut models: Vec<(String, Model)> = snapshot_models()
        .into_iter()
        .map(|(n, m)| (n.to_owned(), m))
        .collect();
    for (tasks, agents) in [
        ("examples/minimal/tasks.yaml", None),
        // An empty registry's net: start -> end.
        ("tests/ui/empty_tasks.yaml", None),
        (
            "tests/fixtures/real_world/non_ascii.tasks.yaml",
            Some("tests/fixtures/real_world/non_ascii.agents.yaml"),
        ),
        (
            "tests/fixtures/crewai/lib__cli__src__crewai_cli__templates__crew__config__tasks.yaml",
            Some(
                "tests/fixtures/crewai/lib__cli__src__crewai_cli__templates__crew__config__agents.yaml",
            ),
        ),
        (
            "tests/fixtures/crewai/lib__crewai__tests__config__tasks.yaml",
            Some("tests/fixtures/crewai/lib__crewai__tests__config__agents.yaml"),
        ),
    ] {
        models.push((tasks.to_owned(), load(tasks, agents)));
    }
    models.push(("hostile".to_owned(), hostile_model()));
    models.push(("random_200".to_owned(), model_of(&random_dag_yaml(200, 7))));
    models.push((
        "synthetic_200".to_owned(),
        model_of(&synthetic::tasks_yaml(200)),
    ));
    models
}

#[test]
fn snapshots_of_every_format() {
    let options = JsOptions::default();
    for (name, model) in snapshot_models() {
        let net = build(&model);
        check(&net).unwrap();
        for format in Format::ALL {
            let text = format.render(&net, &model, &options);
            expectorate::assert_contents(
                format!("tests/petri/{name}.{}", format.extension()),
                &text,
            );
        }
        expectorate::assert_contents(
            format!("tests/petri/{name}.graph.mmd"),
            &graph::to_mermaid(&model),
        );
        expectorate::assert_contents(
            format!("tests/petri/{name}.graph.dot"),
            &graph::to_dot(&model),
        );
    }
}

#[test]
fn every_json_net_matches_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("contract/schema/petri-net.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for (name, model) in all_models() {
        let net = build(&model);
        let text = Format::Json.render(&net, &model, &JsOptions::default());
        let value: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{name}: the JSON does not parse: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        // The compact JSON (PETRI_NET_JSON) is the same document.
        let compact =
            tasknet_codegen::emit::petri::json::to_json_string(&net, &model, &JsOptions::default());
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&compact).unwrap(),
            value
        );
    }
    // The schema rejects what the seed format forbids: a missing field, a stray one.
    let model = &snapshot_models()[0].1;
    let mut broken =
        tasknet_codegen::emit::petri::json::to_json(&build(model), model, &JsOptions::default());
    broken["lugares"][0]
        .as_object_mut()
        .unwrap()
        .remove("logica");
    broken["arcos"][0]["weight"] = 1.into();
    assert_eq!(validator.iter_errors(&broken).count(), 2);
}

/// Every PNML file validates against the ISO grammar, and no arc joins two places or two
/// transitions (the grammar allows that; a P/T net does not).
#[test]
fn every_pnml_net_validates_and_is_bipartite() {
    let grammar = root().join("codegen/tests/pnml-grammar/ptnet.rng");
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, (name, model)) in all_models().into_iter().enumerate() {
        let net = build(&model);
        let text = Format::Pnml.render(&net, &model, &JsOptions::default());
        assert_bipartite(&name, &text, &net);
        let path = dir.path().join(format!("{i}.pnml"));
        std::fs::write(&path, &text).unwrap();
        files.push((name, path));
    }
    for (name, path) in &files {
        let Some(out) = tasknet_testkit::run(
            "xmllint",
            [
                "--noout",
                "--relaxng",
                grammar.to_str().unwrap(),
                path.to_str().unwrap(),
            ],
            "Debian: libxml2-utils; .ci/run installs it",
        ) else {
            return;
        };
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn assert_bipartite(name: &str, pnml: &str, net: &Net) {
    let doc = roxmltree::Document::parse(pnml).unwrap_or_else(|e| panic!("{name}: {e}"));
    let kind_of: HashMap<&str, &str> = doc
        .descendants()
        .filter(|n| matches!(n.tag_name().name(), "place" | "transition"))
        .map(|n| (n.attribute("id").unwrap(), n.tag_name().name()))
        .collect();
    assert_eq!(
        kind_of.len(),
        net.places.len() + net.transitions.len(),
        "{name}"
    );
    let arcs: Vec<_> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "arc")
        .collect();
    assert_eq!(arcs.len(), net.arcs.len(), "{name}");
    for arc in arcs {
        let source = kind_of[arc.attribute("source").unwrap()];
        let target = kind_of[arc.attribute("target").unwrap()];
        assert_ne!(source, target, "{name}: an arc joins two {source}s");
    }
    // The marking survives: one token, on the start place.
    let marked: Vec<_> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "initialMarking")
        .collect();
    assert_eq!(marked.len(), 1, "{name}");
}

#[test]
fn hostile_strings_survive_pnml_json_and_logica() {
    let model = hostile_model();
    let net = build(&model);
    let pnml = Format::Pnml.render(&net, &model, &JsOptions::default());
    let doc = roxmltree::Document::parse(&pnml).unwrap();
    // input_data comes back exactly, NUL and U+FFFF included.
    let input_data = doc
        .descendants()
        .find(|n| n.tag_name().name() == "input_data")
        .and_then(|n| n.text())
        .unwrap();
    let back: serde_json::Value = serde_json::from_str(input_data).unwrap();
    let fetch = &model.tasks[0];
    let expected = serde_json::Value::Object(tasknet_codegen::emit::petri::json::input_data(fetch));
    assert_eq!(back, expected);
    assert!(back["nul"] == "\0");
    // The JSON keeps every string exactly; no raw `</script>` can end an HTML script block
    // in any logica.
    let json = tasknet_codegen::emit::petri::json::to_json(&net, &model, &JsOptions::default());
    assert_eq!(json["nome"], model.name.as_str());
    assert_eq!(json["agentes"][0]["role"], model.agents[0].role.as_str());
    let dir = tempfile::tempdir().unwrap();
    let mut bodies = 0;
    for place in json["lugares"].as_array().unwrap() {
        let body = place["logica"].as_str().unwrap();
        assert!(!body.contains("</script>"));
        if body.is_empty() {
            continue;
        }
        // Each logica parses as the body of an async function of (input, utils).
        let path = dir.path().join(format!("logica{bodies}.js"));
        std::fs::write(
            &path,
            format!("const run = async function (input, utils) {{\n{body}\n}};\n"),
        )
        .unwrap();
        let Some(out) = tasknet_testkit::run(
            "node",
            ["--check", path.to_str().unwrap()],
            "Debian: nodejs; .ci/run installs it",
        ) else {
            return;
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        bodies += 1;
    }
    assert_eq!(bodies, model.tasks.len());
}

/// The README's picture is the seed pipeline's net: every task is drawn in it.
#[test]
fn the_readme_picture_shows_the_seed_pipeline() {
    let svg = std::fs::read_to_string(root().join("docs/tropical_sales-net.svg")).unwrap();
    let model = load("examples/tropical_sales/tasks.yaml", None);
    for task in &model.tasks {
        assert!(
            svg.contains(&format!(">{}</text>", task.name)),
            "{}",
            task.name
        );
    }
    let net = build(&model);
    assert_eq!(
        svg.matches("class=\"node\"").count(),
        net.places.len() + net.transitions.len()
    );
}

#[test]
fn every_dot_net_renders_with_graphviz() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (name, model)) in all_models().into_iter().enumerate() {
        let net = build(&model);
        for (kind, text) in [
            (
                "net",
                Format::Dot.render(&net, &model, &JsOptions::default()),
            ),
            ("graph", graph::to_dot(&model)),
        ] {
            let path = dir.path().join(format!("{i}.{kind}.dot"));
            std::fs::write(&path, &text).unwrap();
            let Some(out) = tasknet_testkit::run(
                "dot",
                ["-Tsvg", path.to_str().unwrap()],
                "Debian: graphviz; .ci/run installs it",
            ) else {
                return;
            };
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "{name} ({kind}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let svg = String::from_utf8(out.stdout).unwrap();
            // One drawn node per place and transition (or per task).
            let nodes = svg.matches("class=\"node\"").count();
            let expected = match kind {
                "net" => net.places.len() + net.transitions.len(),
                _ => model.tasks.len(),
            };
            assert_eq!(nodes, expected, "{name} ({kind})");
        }
    }
}

/// Mermaid has no offline parser here, so its grammar is checked the way it is written: one
/// declaration per node, edges between declared ids only, labels that cannot end their quotes.
#[test]
fn every_mermaid_chart_is_well_formed() {
    for (name, model) in all_models() {
        let net = build(&model);
        for text in [
            Format::Mermaid.render(&net, &model, &JsOptions::default()),
            graph::to_mermaid(&model),
        ] {
            let mut lines = text.lines();
            assert_eq!(lines.next(), Some("flowchart LR"), "{name}");
            let mut declared = HashSet::new();
            let mut edges = 0;
            for line in lines {
                let line = line.trim();
                if line.starts_with("classDef ") || line.starts_with("class ") {
                    continue;
                }
                if let Some((from, rest)) = line.split_once(" -->") {
                    let to = rest.rsplit(' ').next().unwrap();
                    assert!(declared.contains(from), "{name}: {line}");
                    assert!(declared.contains(to), "{name}: {line}");
                    edges += 1;
                    continue;
                }
                let id_end = line
                    .find(['[', '('])
                    .unwrap_or_else(|| panic!("{name}: {line}"));
                let (id, shape) = line.split_at(id_end);
                assert!(
                    id.chars().all(|c| c.is_ascii_alphanumeric()),
                    "{name}: {line}"
                );
                let label = shape
                    .trim_start_matches(['[', '('])
                    .trim_end_matches([']', ')']);
                assert!(
                    label.starts_with('"') && label.ends_with('"'),
                    "{name}: {line}"
                );
                let inner = &label[1..label.len() - 1];
                assert!(!inner.contains(['"', '<', '>', '\n']), "{name}: {line}");
                assert!(
                    declared.insert(id.to_owned()),
                    "{name}: {id} declared twice"
                );
            }
            // Only an empty registry's task graph has no edge (its net still has two).
            assert!(edges > 0 || model.tasks.is_empty(), "{name}");
        }
        assert_eq!(
            graph::to_mermaid(&model).matches(" -->").count(),
            model
                .tasks
                .iter()
                .map(|t| t.depends_on.len())
                .sum::<usize>(),
            "{name}"
        );
    }
}

#[test]
fn the_task_graph_labels_edges_with_the_fields_that_flow() {
    let model = load("examples/tropical_sales/tasks.yaml", None);
    let chart = graph::to_mermaid(&model);
    assert!(chart.contains("t1 -->|\"classifications\"| t2"), "{chart}");
    let dot = graph::to_dot(&model);
    assert!(dot.contains("t2 -> t3 [label=\"stock\"];"), "{dot}");
    // Several fields from one task to another: one edge, its label naming them all.
    let model = model_of(
        "classify:\n  produces: {category: String, products: Vec<String>}\nreply:\n  requires: [products, category]\n  produces: {text: String}\n",
    );
    let chart = graph::to_mermaid(&model);
    assert!(
        chart.contains("t0 -->|\"products, category\"| t1"),
        "{chart}"
    );
}

/// Readable at 200 tasks: no two nodes closer than a node's size, every arc drawn left to
/// right, a chain on one row (as the seed draws it), and a drawing no taller than its widest
/// layer needs.
#[test]
fn the_layout_is_readable_for_4_and_200_tasks() {
    for (name, model) in [
        ("seed", load("examples/tropical_sales/tasks.yaml", None)),
        ("random_200", model_of(&random_dag_yaml(200, 11))),
        ("synthetic_200", model_of(&synthetic::tasks_yaml(200))),
    ] {
        let net = build(&model);
        let mut points: Vec<(f64, f64)> = net.places.iter().map(|p| (p.x, p.y)).collect();
        points.extend(net.transitions.iter().map(|t| (t.x, t.y)));
        let mut seen = HashSet::new();
        for &(x, y) in &points {
            assert!(x >= 0.0 && y >= 0.0, "{name}");
            assert!(
                seen.insert((x as i64, y as i64)),
                "{name}: two nodes at ({x}, {y})"
            );
        }
        let position = |arc: &Arc| match *arc {
            Arc::PlaceToTransition { place, transition } => (
                (net.places[place].x, net.places[place].y),
                (net.transitions[transition].x, net.transitions[transition].y),
            ),
            Arc::TransitionToPlace { transition, place } => (
                (net.transitions[transition].x, net.transitions[transition].y),
                (net.places[place].x, net.places[place].y),
            ),
        };
        for arc in &net.arcs {
            let ((x1, _), (x2, _)) = position(arc);
            assert!(x2 > x1, "{name}: an arc drawn right to left");
        }
        // Nodes in one column are at least a row apart.
        let mut columns: HashMap<i64, Vec<f64>> = HashMap::new();
        for &(x, y) in &points {
            columns.entry(x as i64).or_default().push(y);
        }
        for ys in columns.values_mut() {
            ys.sort_by(f64::total_cmp);
            for pair in ys.windows(2) {
                assert!(pair[1] - pair[0] >= 60.0, "{name}: rows too close");
            }
        }
    }
    let chain = build(&load("examples/minimal/tasks.yaml", None));
    let rows: HashSet<i64> = chain.places.iter().map(|p| p.y as i64).collect();
    assert_eq!(rows.len(), 1, "a chain is drawn on one row");
}
