//! The generator never panics and never emits broken Rust, whatever the yaml.

use std::path::{Path, PathBuf};

use quote::quote;
use tasknet_codegen::emit::rust::items;
use tasknet_codegen::macro_support::{MacroEnv, task_registry};
use tasknet_codegen::{GenerationSettings, SourceFile, check};

fn yaml_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in [
        "tests/ui",
        "tests/fixtures",
        "tests/fixtures/crewai",
        "examples/tropical_sales",
        "examples/minimal",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 20, "{files:?}");
    files
}

/// Checks and, when clean, emits; the emitted tokens must parse as a Rust file.
fn check_and_emit(name: &str, text: &str) {
    if let Ok(checked) = check(SourceFile::new(name, text), None, None) {
        let tokens = items(&checked.model, &GenerationSettings::default());
        if let Err(e) = syn::parse2::<syn::File>(tokens) {
            panic!("{name}: emitted code does not parse: {e}\n--- yaml:\n{text}");
        }
    }
}

#[test]
fn every_prefix_of_every_fixture() {
    let mut runs = 0;
    for path in yaml_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.display().to_string();
        for (cut, _) in text.char_indices().step_by(5) {
            check_and_emit(&name, &text[..cut]);
            runs += 1;
        }
    }
    assert!(runs > 500, "{runs}");
}

#[test]
fn hostile_strings_survive_into_rust() {
    let hostile = [
        r##"quote " backslash \ hash "# brace {{x}} close */ open /*"##,
        "line\u{2028}separator\u{2029}paragraph",
        "nul \0 and bell \u{7}",
        "`backticks` ${template} </script> ]]> <!--",
        "emoji 🥭 and rtl \u{202e}",
    ];
    for s in hostile {
        let json = serde_json::to_string(s).unwrap();
        let yaml = format!(
            "t:\n  description: {json}\n  expected_output: {json}\n  produces: {{out: String}}\n  input_data: {{note: {json}, list: [{json}], template: 1}}\n"
        );
        let checked = check(SourceFile::new("h.yaml", yaml.clone()), None, None)
            .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert_eq!(checked.model.tasks[0].description, s);
        let tokens = items(&checked.model, &GenerationSettings::default());
        let file: syn::File = syn::parse2(tokens).unwrap_or_else(|e| panic!("{e}: {s:?}"));
        let code = prettyplease::unparse(&file);
        // The description reaches the registry as a string literal equal to the original.
        let found = file_literals(&file).into_iter().any(|lit| lit == s);
        assert!(found, "{s:?} not found as a literal in:\n{code}");
    }
}

fn file_literals(file: &syn::File) -> Vec<String> {
    let mut out = Vec::new();
    collect(quote!(#file), &mut out);
    out
}

fn collect(tokens: proc_macro2::TokenStream, out: &mut Vec<String>) {
    for tt in tokens {
        match tt {
            proc_macro2::TokenTree::Group(g) => collect(g.stream(), out),
            proc_macro2::TokenTree::Literal(lit) => {
                if let Ok(s) = syn::parse_str::<syn::LitStr>(&lit.to_string()) {
                    out.push(s.value());
                }
            }
            _ => {}
        }
    }
}

#[test]
fn macro_expansion_never_reports_an_internal_error() {
    let env = MacroEnv {
        manifest_dir: PathBuf::from("/nonexistent"),
        caller_file: None,
    };
    for path in yaml_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (cut, _) in text.char_indices().step_by(11) {
            let yaml = &text[..cut];
            let out = task_registry(quote!(yaml = #yaml), &env).to_string();
            assert!(!out.contains("internal error"), "{out}");
        }
    }
}

/// Every emitter on one checked model: the JSON parses and every `logica` in it passes
/// `node --check` (as the body of an async function of `input` and `utils`, as the runner page
/// runs it), the PNML validates against the ISO grammar with xmllint, DOT and Mermaid render,
/// and (when asked) the Rust parses; `tests/hostile_rust.rs` compiles the same files with rustc.
fn every_emitter(name: &str, checked: &tasknet_codegen::Checked, rust: bool) {
    use tasknet_codegen::emit::petri::{self as writers, json::JsOptions};
    use tasknet_codegen::petri;
    let net = petri::build(&checked.model);
    petri::check(&net).unwrap_or_else(|e| panic!("{name}: {e}"));
    let options = JsOptions::default();
    let dir = tempfile::tempdir().unwrap();

    let json = writers::json::to_json_string(&net, &checked.model, &options);
    let parsed: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut script = String::new();
    let mut bodies = 0;
    for place in parsed["lugares"].as_array().unwrap() {
        let body = place["logica"].as_str().unwrap();
        if !body.is_empty() {
            script.push_str(&format!(
                "const logica{bodies} = async function (input, utils) {{\n{body}\n}};\n"
            ));
            bodies += 1;
        }
    }
    assert_eq!(bodies, checked.model.tasks.len(), "{name}");
    let js = dir.path().join("logica.js");
    std::fs::write(&js, script).unwrap();
    if let Some(out) = tasknet_testkit::run(
        "node",
        ["--check".as_ref(), js.as_os_str()],
        "Debian: nodejs; .ci/run installs it",
    ) {
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let pnml = writers::pnml::to_pnml(&net, &checked.model, &options);
    let file = dir.path().join("net.pnml");
    std::fs::write(&file, &pnml).unwrap();
    let grammar = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pnml-grammar/ptnet.rng");
    if let Some(out) = tasknet_testkit::run(
        "xmllint",
        [
            "--noout".as_ref(),
            "--huge".as_ref(),
            "--relaxng".as_ref(),
            grammar.as_os_str(),
            file.as_os_str(),
        ],
        "Debian: libxml2-utils; .ci/run installs it",
    ) {
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    assert!(writers::dot::to_dot(&net).starts_with("digraph"), "{name}");
    assert!(!writers::mermaid::to_mermaid(&net).is_empty(), "{name}");
    if rust {
        let tokens = items(&checked.model, &GenerationSettings::default());
        syn::parse2::<syn::File>(tokens).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// A 1 MB line, input_data nested 24 deep, and 10,000 tasks go through every emitter; nesting
/// far deeper (100,000 levels) is refused with a located error, never a stack overflow, even
/// on a thread with a spawned thread's default stack (2 MiB).
#[test]
fn long_lines_deep_nesting_and_10000_tasks_through_every_emitter() {
    let long = "mango ".repeat(170_000);
    let yaml = format!(
        "t:\n  description: \"{long}\"\n  expected_output: \"{long}\"\n  produces: {{out: String}}\n"
    );
    let checked = check(SourceFile::new("long.yaml", yaml), None, None).unwrap();
    every_emitter("a 1 MB line", &checked, true);

    let nested = |depth: usize| {
        format!(
            "t:\n  produces: {{out: String}}\n  input_data: {{deep: {}1{}}}\n",
            "{a: ".repeat(depth),
            "}".repeat(depth)
        )
    };
    let checked = check(SourceFile::new("nested.yaml", nested(24)), None, None)
        .unwrap_or_else(|e| panic!("{e}"));
    every_emitter("input_data nested 24 deep", &checked, true);
    let deep = nested(100_000);
    let outcome = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            check(SourceFile::new("deep.yaml", deep), None, None).map(|c| c.model.tasks.len())
        })
        .unwrap()
        .join()
        .expect("no stack overflow, no panic");
    let error = outcome.expect_err("100,000 levels are refused").to_string();
    assert!(error.contains("deep.yaml:3:"), "{error}");
    assert!(error.contains("Depth"), "{error}");

    let big = tasknet_codegen::synthetic::tasks_yaml(10_000);
    let checked = check(SourceFile::new("big.yaml", big), None, None).unwrap();
    assert_eq!(checked.model.tasks.len(), 10_000);
    every_emitter("10,000 tasks", &checked, false);
}

/// A chain of `n` tasks, each reading the field the one before produced; `closed` makes the
/// first read the last one's field (one cycle through every task).
fn chain_yaml(n: usize, closed: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(n * 60);
    for i in 0..n {
        let read = match i {
            0 if closed => format!("  requires: [f{}]\n", n - 1),
            0 => String::new(),
            _ => format!("  requires: [f{}]\n", i - 1),
        };
        let _ = write!(out, "t{i}:\n{read}  produces: {{f{i}: u32}}\n");
    }
    out
}

/// No recursion grows with the number of tasks, on a thread with a spawned thread's default
/// stack (2 MiB): a 100,000-task chain checks, and a cycle through all of it is reported as
/// one short cycle; a 20,000-task chain (the size that overflowed petgraph's recursive Tarjan
/// search) also emits its Rust, by the macro's route too, and its net. The emitters' cost is
/// the size of what they write (~55 s for 100,000 tasks in release), not recursion.
#[test]
fn a_100000_task_chain_checks_on_a_2_mib_stack() {
    let outcome = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let chain = chain_yaml(100_000, false);
            let checked = check(SourceFile::new("chain.yaml", chain), None, None)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(checked.model.tasks.len(), 100_000);

            let cycle = chain_yaml(100_000, true);
            let error = check(SourceFile::new("cycle.yaml", cycle), None, None)
                .map(|_| ())
                .expect_err("a cycle is refused")
                .to_string();
            assert!(
                error.contains("dependency cycle through 100000 tasks: t0 -> t1 -> t2"),
                "{}",
                &error[..300.min(error.len())]
            );
            assert!(error.contains("-> t99998 -> t99999 -> t0"), "{error}");
            assert_eq!(error.matches("dependency cycle").count(), 1);
            assert!(error.len() < 4_000, "{} bytes", error.len());

            let chain = chain_yaml(20_000, false);
            let checked = check(SourceFile::new("chain.yaml", chain.as_str()), None, None)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(!items(&checked.model, &GenerationSettings::default()).is_empty());
            let net = tasknet_codegen::petri::build(&checked.model);
            tasknet_codegen::petri::check(&net).unwrap_or_else(|e| panic!("{e}"));
            let env = MacroEnv {
                manifest_dir: PathBuf::from("/nonexistent"),
                caller_file: None,
            };
            let expanded = task_registry(quote!(yaml = #chain), &env).to_string();
            assert!(!expanded.contains("compile_error"), "{}", &expanded[..500]);
        })
        .unwrap()
        .join();
    assert!(outcome.is_ok(), "no stack overflow, no panic");
}
