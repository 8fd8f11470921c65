//! The goldens compile (warning-free), and the real `task_registry!` expands to the same
//! registry as the golden written by the generator library: the macro route and the
//! Builder/CLI route agree. Also checks the generated input/output functions' semantics.
#![deny(warnings)]

/// The example pipeline's own types, which its tasks.yaml names in `produces`.
#[allow(dead_code)] // the types the pipeline uses besides those of tasks.yaml
#[path = "../examples/tropical_sales/types.rs"]
mod sales_types;

mod golden {
    pub mod tropical_sales {
        use crate::sales_types::{Classification, Email, Reply, StockLevel};
        use std::collections::BTreeMap;
        include!("goldens/tropical_sales.rs");
    }
    pub mod fork_join {
        include!("goldens/fork_join.rs");
    }
    pub mod crewai_crew {
        include!("goldens/crewai_crew.rs");
    }
}

mod by_macro {
    pub mod tropical_sales {
        use crate::sales_types::{Classification, Email, Reply, StockLevel};
        use std::collections::BTreeMap;
        tasknet::task_registry!(
            file = "examples/tropical_sales/tasks.yaml",
            agents = "examples/tropical_sales/agents.yaml"
        );
    }
    pub mod fork_join {
        tasknet::task_registry!("tests/fixtures/fork_join.yaml");
    }
    pub mod fork_join_elsewhere {
        tasknet::task_registry!(
            file = "tests/fixtures/fork_join.yaml",
            ws_url = "wss://tasks.example:9000/ws",
            ws_timeout_ms = 5_000
        );
    }
    pub mod crewai_crew {
        tasknet::task_registry!(
            file = "tests/fixtures/crewai/lib__cli__src__crewai_cli__templates__crew__config__tasks.yaml",
            agents = "tests/fixtures/crewai/lib__cli__src__crewai_cli__templates__crew__config__agents.yaml"
        );
    }
}

use serde_json::json;
use tasknet::{Registry, TaskState};

fn same_registry<A, B>(a: &Registry<A>, b: &Registry<B>) {
    assert_eq!(a.name, b.name);
    assert_eq!(a.source_hash, b.source_hash);
    assert_eq!(a.tasks, b.tasks);
    assert_eq!(a.order, b.order);
    assert_eq!(a.inputs, b.inputs);
    assert_eq!(a.agents, b.agents);
}

#[test]
fn macro_matches_goldens() {
    same_registry(
        &golden::tropical_sales::TASK_REGISTRY,
        &by_macro::tropical_sales::TASK_REGISTRY,
    );
    same_registry(
        &golden::fork_join::TASK_REGISTRY,
        &by_macro::fork_join::TASK_REGISTRY,
    );
    same_registry(
        &golden::crewai_crew::TASK_REGISTRY,
        &by_macro::crewai_crew::TASK_REGISTRY,
    );
}

#[test]
fn petri_net_json_comes_with_the_registry() {
    assert_eq!(
        golden::tropical_sales::PETRI_NET_JSON,
        by_macro::tropical_sales::PETRI_NET_JSON
    );
    let net: serde_json::Value =
        serde_json::from_str(golden::tropical_sales::PETRI_NET_JSON).unwrap();
    let tasks: Vec<&str> = net["lugares"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["logica"].as_str().unwrap().is_empty())
        .map(|p| p["nome"].as_str().unwrap())
        .collect();
    assert_eq!(
        tasks,
        [
            "read_email",
            "classify_message",
            "check_stock_availability",
            "generate_response"
        ]
    );
    assert_eq!(net["agentes"].as_array().unwrap().len(), 4);
}

#[test]
fn seed_registry_describes_the_pipeline() {
    use golden::tropical_sales::TASK_REGISTRY as R;
    let names: Vec<&str> = R.ordered_tasks().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "read_email",
            "classify_message",
            "check_stock_availability",
            "generate_response"
        ]
    );
    let check = R.task("check_stock_availability").unwrap();
    assert_eq!(check.requires, ["classifications", "stock_db"]);
    assert_eq!(check.depends_on, [1]);
    assert_eq!(check.agent, Some("stock_keeper"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(check.input_data).unwrap(),
        json!({"low_stock_threshold": 5})
    );
    assert_eq!(
        check.location.to_string(),
        "examples/tropical_sales/tasks.yaml:36:1"
    );
    let inputs: Vec<&str> = R.inputs.iter().map(|f| f.name).collect();
    assert_eq!(inputs, ["inbox_dir", "outbox_dir", "stock_db"]);
    assert_eq!(
        R.agent("responder").unwrap().role,
        "Customer Sales Representative"
    );
    let respond = R.task("generate_response").unwrap();
    assert_eq!(respond.depends_on, [0, 1, 2]);
    assert_eq!(
        check.retry,
        Some(tasknet::RetrySpec {
            attempts: 3,
            backoff_ms: 200
        })
    );
}

#[test]
fn fork_join_order_and_dependencies() {
    use golden::fork_join::TASK_REGISTRY as R;
    let names: Vec<&str> = R.ordered_tasks().map(|t| t.name).collect();
    assert_eq!(
        names,
        ["fetch", "extract_links", "extract_text", "summarise"]
    );
    assert_eq!(R.task("extract_links").unwrap().depends_on, [0]);
    assert_eq!(R.task("extract_text").unwrap().depends_on, [0]);
    assert_eq!(R.task("summarise").unwrap().depends_on, [1, 2]);
    let text = R.task("extract_text").unwrap();
    assert_eq!(text.timeout_ms, Some(30_000));
    assert_eq!(
        text.retry,
        Some(tasknet::RetrySpec {
            attempts: 3,
            backoff_ms: 100
        })
    );
}

#[test]
fn input_function_selects_and_reports_missing_fields() {
    use golden::fork_join::*;
    let mut state = State {
        url: Some("https://example.org".into()),
        page: Some("<html>".into()),
        ..State::default()
    };
    let input = extract_text_input(&state).unwrap();
    assert_eq!(input.page, "<html>");
    assert!(input.input_data.keep_headings);
    assert_eq!(input.input_data.languages, ["en", "pt"]);
    assert_eq!(
        input.input_data.selectors,
        json!({"main": "article", "fallback": "body"})
    );
    // Selecting never transforms or consumes the state.
    assert_eq!(state.page.as_deref(), Some("<html>"));

    state.links = None;
    let missing = summarise_input(&state).unwrap_err();
    assert_eq!((missing.task, missing.field), ("summarise", "links"));
}

#[test]
fn output_function_merges_and_records() {
    use golden::fork_join::*;
    let mut state = State {
        url: Some("u".into()),
        ..State::default()
    };
    fetch_output(&mut state, FetchOutput { page: "p".into() });
    extract_links_output(
        &mut state,
        ExtractLinksOutput {
            links: vec!["a".into()],
        },
    );
    assert_eq!(state.url.as_deref(), Some("u"), "earlier fields are kept");
    assert_eq!(state.page.as_deref(), Some("p"));
    assert_eq!(state.links.as_deref(), Some(&["a".to_owned()][..]));
    let log: Vec<&str> = state
        .execution_log
        .iter()
        .map(|e| e.task.as_ref())
        .collect();
    assert_eq!(log, ["fetch", "extract_links"]);
    assert_eq!(state.current_task.as_deref(), Some("extract_links"));
    assert_eq!(
        state.timestamp.as_deref(),
        Some(state.execution_log[1].timestamp.as_str())
    );
}

#[test]
fn state_by_name_as_json() {
    use golden::fork_join::*;
    let mut state = State::default();
    assert_eq!(state.get_json("page").unwrap(), None);
    state.set_json("word_count", json!(42)).unwrap();
    assert_eq!(state.word_count, Some(42));
    assert_eq!(state.get_json("word_count").unwrap(), Some(json!(42)));
    assert!(state.is_set("word_count").unwrap());
    assert!(state.set_json("word_count", json!("many")).is_err());
    assert!(state.get_json("nope").is_err());
    state.set_json("word_count", json!(null)).unwrap();
    assert!(!state.is_set("word_count").unwrap());

    let other = State {
        text: Some("t".into()),
        ..State::default()
    };
    state.page = Some("p".into());
    state.merge(other);
    assert_eq!(state.text.as_deref(), Some("t"));
    assert_eq!(
        state.page.as_deref(),
        Some("p"),
        "merge keeps fields the other leaves unset"
    );

    let names: Vec<&str> = State::FIELDS.iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        ["url", "page", "links", "text", "summary", "word_count"]
    );
    // The state round-trips through JSON, the server's wire format.
    let back: State = serde_json::from_value(serde_json::to_value(&state).unwrap()).unwrap();
    assert_eq!(back.page, state.page);
}

/// The generated `State`'s serde impls (written out, not derived) behave as the derive with
/// `skip_serializing_if = "Option::is_none"`, `default` and `deny_unknown_fields` did.
#[test]
fn state_serde_as_the_derive_did() {
    use golden::fork_join::*;
    let mut state = State {
        page: Some("p \"q\"".into()),
        word_count: Some(7),
        ..State::default()
    };
    state.record("fetch");
    let written = serde_json::to_value(&state).unwrap();
    let keys: Vec<&str> = written
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // Unset fields are left out; the run metadata is there.
    assert_eq!(
        keys,
        [
            "current_task",
            "execution_log",
            "page",
            "timestamp",
            "word_count"
        ]
    );
    assert_eq!(written["page"], "p \"q\"");
    let back: State = serde_json::from_value(written.clone()).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), written);
    assert_eq!(back.execution_log.len(), 1);
    assert_eq!(back.current_task.as_deref(), Some("fetch"));

    // Missing fields stay unset, null is unset, escaped keys are read.
    let read: State =
        serde_json::from_str(r#"{"url": "u", "links": null, "w\u006frd_count": 3}"#).unwrap();
    assert_eq!(read.url.as_deref(), Some("u"));
    assert_eq!(read.links, None);
    assert_eq!(read.word_count, Some(3));
    assert!(read.execution_log.is_empty());
    // Unknown fields and wrong types are errors that name them.
    let unknown = serde_json::from_str::<State>(r#"{"url": "u", "nope": 1}"#).unwrap_err();
    assert!(
        unknown.to_string().contains("unknown field `nope`"),
        "{unknown}"
    );
    assert!(unknown.to_string().contains("`word_count`"), "{unknown}");
    let wrong = serde_json::from_str::<State>(r#"{"word_count": "many"}"#).unwrap_err();
    assert!(wrong.to_string().contains("invalid type"), "{wrong}");
    assert!(serde_json::from_str::<State>("[1]").is_err());
}

#[test]
fn crewai_rules_in_generated_code() {
    use golden::crewai_crew::*;
    // `{topic}` and `{current_year}` became String kickoff inputs; each task produces
    // `<task>_output`, and reporting_task reads the earlier task's output.
    let inputs: Vec<&str> = TASK_REGISTRY.inputs.iter().map(|f| f.name).collect();
    assert_eq!(inputs, ["topic", "current_year"]);
    let state = State {
        topic: Some("AI".into()),
        current_year: Some("2026".into()),
        research_task_output: Some("notes".into()),
        ..State::default()
    };
    let input = reporting_task_input(&state).unwrap();
    // The agent's `{topic}` placeholder makes the task read `topic`.
    assert_eq!(input.research_task_output, "notes");
    assert_eq!(input.topic, "AI");
    let research = research_task_input(&state).unwrap();
    assert_eq!(
        (research.topic.as_str(), research.current_year.as_str()),
        ("AI", "2026")
    );
}

/// `PETRI_NET` is `PETRI_NET_JSON` as a typed value: it parses, round-trips to the same JSON,
/// and has one place with `logica` per task of the registry, agents included.
#[test]
fn petri_net_is_a_typed_value_matching_the_registry() {
    use by_macro::tropical_sales::{PETRI_NET, PETRI_NET_JSON, TASK_REGISTRY};
    let net = &*PETRI_NET;
    let as_written: serde_json::Value = serde_json::from_str(PETRI_NET_JSON).unwrap();
    let round_trip: serde_json::Value = serde_json::from_str(&net.to_json()).unwrap();
    assert_eq!(round_trip, as_written);
    for task in TASK_REGISTRY.tasks {
        let place = net.task_place(task.name).unwrap();
        assert_eq!(place.agent_id.as_deref(), task.agent);
        assert!(place.logica.contains(&format!("{:?}", task.name)));
    }
    assert_eq!(
        net.places.iter().filter(|p| !p.logica.is_empty()).count(),
        TASK_REGISTRY.tasks.len()
    );
    let marked: Vec<_> = net.initial_marking().collect();
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].0.name, "start");
    assert_eq!(net.agents.len(), TASK_REGISTRY.agents.len());
    // The goldens carry the same net.
    assert_eq!(golden::tropical_sales::PETRI_NET_JSON, PETRI_NET_JSON);
    assert_eq!(
        &*golden::fork_join::PETRI_NET,
        &*by_macro::fork_join::PETRI_NET
    );
}

#[test]
fn the_macro_sets_where_logica_sends_tasks() {
    let net = &*by_macro::fork_join_elsewhere::PETRI_NET;
    for place in net.places.iter().filter(|p| !p.logica.is_empty()) {
        assert!(
            place
                .logica
                .contains(r#"|| "wss://tasks.example:9000/ws";"#)
        );
        assert!(place.logica.contains("|| 5000;"));
    }
    assert!(!by_macro::fork_join::PETRI_NET_JSON.contains("tasks.example"));
}
