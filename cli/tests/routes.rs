//! One generator behind three routes: the `task_registry!` expansion, the build.rs `Builder`
//! and `tasknet generate` produce identical code for the same yaml.

use std::path::{Path, PathBuf};
use std::process::Command;

use quote::quote;
use tasknet_codegen::emit::petri::json::JsOptions;
use tasknet_codegen::emit::rust::pretty_tokens;
use tasknet_codegen::macro_support::{MacroEnv, task_registry, task_registry_with_state};
use tasknet_codegen::{Builder, generated_header};

const TASKS: &str = "examples/tropical_sales/tasks.yaml";
const AGENTS: &str = "examples/tropical_sales/agents.yaml";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// One option as each route spells it: the macro's arguments, the builder's methods and the
/// CLI's flags.
struct Options {
    what: &'static str,
    macro_args: proc_macro2::TokenStream,
    builder: fn(Builder) -> Builder,
    cli: &'static [&'static str],
    /// Text the generated code must hold when the option is applied.
    shows: &'static [&'static str],
}

fn option_table() -> Vec<Options> {
    vec![
        Options {
            what: "defaults",
            macro_args: quote!(),
            builder: |b| b,
            cli: &[],
            shows: &["name: \"tasks\"", "ws://localhost:6308"],
        },
        Options {
            what: "name",
            macro_args: quote!(name = "sales"),
            builder: |b| b.registry_name("sales"),
            cli: &["--name", "sales"],
            shows: &["name: \"sales\"", "\"nome\":\"sales\""],
        },
        Options {
            what: "crate",
            macro_args: quote!(crate = ::my::tasknet),
            builder: |b| b.crate_path("::my::tasknet"),
            cli: &["--crate-path", "::my::tasknet"],
            shows: &["use ::my::tasknet::__private as __tasknet;"],
        },
        Options {
            what: "ws_url",
            macro_args: quote!(ws_url = "ws://10.0.0.2:7000"),
            builder: |b| {
                b.js_options(JsOptions {
                    ws_url: "ws://10.0.0.2:7000".into(),
                    ..JsOptions::default()
                })
            },
            cli: &["--ws-url", "ws://10.0.0.2:7000"],
            shows: &["ws://10.0.0.2:7000"],
        },
        Options {
            what: "ws_timeout_ms",
            macro_args: quote!(ws_timeout_ms = 1234),
            builder: |b| {
                b.js_options(JsOptions {
                    timeout_ms: 1234,
                    ..JsOptions::default()
                })
            },
            cli: &["--ws-timeout-ms", "1234"],
            shows: &["|| 1234;"],
        },
        Options {
            what: "all combined",
            macro_args: quote!(
                name = "sales",
                crate = ::my::tasknet,
                ws_url = "ws://10.0.0.2:7000",
                ws_timeout_ms = 1234
            ),
            builder: |b| {
                b.registry_name("sales")
                    .crate_path("::my::tasknet")
                    .js_options(JsOptions {
                        ws_url: "ws://10.0.0.2:7000".into(),
                        timeout_ms: 1234,
                    })
            },
            cli: &[
                "--name",
                "sales",
                "--crate-path",
                "::my::tasknet",
                "--ws-url",
                "ws://10.0.0.2:7000",
                "--ws-timeout-ms",
                "1234",
            ],
            shows: &[
                "name: \"sales\"",
                "use ::my::tasknet::__private as __tasknet;",
                "ws://10.0.0.2:7000",
                "|| 1234;",
            ],
        },
    ]
}

fn macro_env() -> MacroEnv {
    MacroEnv {
        manifest_dir: workspace(),
        caller_file: Some(PathBuf::from("src/lib.rs")),
    }
}

/// The macro's expansion, minus the `include_bytes!` items that make edits rebuild the crate.
fn macro_route(options: &proc_macro2::TokenStream) -> String {
    let comma = (!options.is_empty()).then(|| quote!(,));
    let tokens = task_registry(
        quote!(file = #TASKS, agents = #AGENTS #comma #options),
        &macro_env(),
    );
    pretty_without_includes(tokens, 2)
}

fn pretty_without_includes(tokens: proc_macro2::TokenStream, files: usize) -> String {
    let file: syn::File = syn::parse2(tokens).expect("the expansion parses");
    let (includes, items): (Vec<syn::Item>, Vec<syn::Item>) = file
        .items
        .into_iter()
        .partition(|item| quote!(#item).to_string().contains("include_bytes"));
    assert_eq!(includes.len(), files, "one include_bytes! per yaml file");
    let items = items.into_iter().map(|i| quote!(#i));
    format!(
        "{}{}",
        generated_header(TASKS),
        pretty_tokens(quote!(#(#items)*))
    )
}

fn builder_route(configure: fn(Builder) -> Builder) -> String {
    let out = tempfile::tempdir().unwrap();
    // The builder resolves paths against CARGO_MANIFEST_DIR, as in a build script; here the
    // test's cwd is the cli crate, so give it paths from the workspace explicitly.
    let root = workspace();
    let builder = Builder::new()
        .tasks(root.join(TASKS))
        .agents(root.join(AGENTS))
        .out_dir(out.path())
        .cargo_directives(false);
    let path = configure(builder).compile().unwrap();
    std::fs::read_to_string(path)
        .unwrap()
        // The builder shows the path it was given; the others show it relative to the crate.
        .replace(&format!("{}/", root.display()), "")
}

fn cli_route(flags: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tasknet"))
        .current_dir(workspace())
        .args(["generate", TASKS, "--agents", AGENTS])
        .args(flags)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Every option, alone and combined, gives the same code on the three routes, and shows in it.
#[test]
fn three_routes_give_identical_code_for_every_option() {
    let defaults = cli_route(&[]);
    for options in option_table() {
        let what = options.what;
        let by_macro = macro_route(&options.macro_args);
        let by_builder = builder_route(options.builder);
        let by_cli = cli_route(options.cli);
        assert!(by_cli.contains("pub static TASK_REGISTRY"), "{what}");
        assert_eq!(by_macro, by_cli, "macro and CLI differ: {what}");
        assert_eq!(by_builder, by_cli, "builder and CLI differ: {what}");
        for shown in options.shows {
            assert!(by_cli.contains(shown), "{what}: no `{shown}` in the code");
        }
        assert_eq!(
            by_cli == defaults,
            what == "defaults",
            "{what} changes the code"
        );
    }
}

/// `state = ..` hands over to the state's derive, which calls back with the fields: every
/// other option must survive the trip (it once forwarded a hand-kept list without `ws_url`).
#[test]
fn the_hand_over_to_a_derived_state_keeps_every_option() {
    let yaml = "tests/fixtures/custom_state.yaml";
    let first = task_registry(
        quote!(
            file = #yaml,
            state = MailState,
            name = "mail",
            crate = ::my::tasknet,
            ws_url = "ws://host:9000",
            ws_timeout_ms = 4321
        ),
        &macro_env(),
    );
    // What the derive's callback macro receives: `{ callback } { forwarded arguments }`.
    let file: syn::File = syn::parse2(first).unwrap();
    let call = file
        .items
        .iter()
        .find_map(|item| match item {
            syn::Item::Macro(m) if m.mac.path.is_ident("__tasknet_state_MailState") => {
                Some(m.mac.tokens.clone())
            }
            _ => None,
        })
        .expect("the hand-over calls the state's macro");
    let forwarded = call
        .into_iter()
        .filter_map(|tree| match tree {
            proc_macro2::TokenTree::Group(g) => Some(g.stream()),
            _ => None,
        })
        .nth(1)
        .expect("the forwarded arguments");
    let second = task_registry_with_state(
        quote!(#forwarded state_fields = {
            email: Option<String>,
            label: Option<String>,
            confidence: Option<f64>,
            folder: Option<String>,
        }),
        &macro_env(),
    );
    let code = pretty_without_includes(second, 1);
    for shown in [
        "name: \"mail\"",
        "use ::my::tasknet::__private as __tasknet;",
        "ws://host:9000",
        "|| 4321;",
        "state: &MailState",
    ] {
        assert!(
            code.contains(shown),
            "no `{shown}` after the hand-over:\n{code}"
        );
    }
    assert!(
        !code.contains("pub struct State"),
        "the user's state is used"
    );
}

#[test]
fn builder_writes_only_when_changed() {
    let out = tempfile::tempdir().unwrap();
    let root = workspace();
    let build = || {
        Builder::new()
            .tasks(root.join(TASKS))
            .out_dir(out.path())
            .cargo_directives(false)
            .compile()
            .unwrap()
    };
    let path = build();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("// @generated by tasknet-codegen"));
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    build();
    let after = std::fs::metadata(&path).unwrap().modified().unwrap();
    assert_eq!(before, after, "an unchanged yaml must not rewrite the file");
}

#[test]
fn builder_reports_located_errors() {
    let out = tempfile::tempdir().unwrap();
    let root = workspace();
    let err = Builder::new()
        .tasks(root.join("tests/ui/missing_field.yaml"))
        .out_dir(out.path())
        .cargo_directives(false)
        .compile()
        .unwrap_err();
    let lines = err.one_line_errors();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].ends_with("tests/ui/missing_field.yaml:8:14: task `summarise` requires `page_htm`, which no task produces (did you mean `page_html`?)"),
        "{}",
        lines[0]
    );
    assert!(
        !out.path().join("missing_field.rs").exists(),
        "nothing written on error"
    );
}

/// The Builder writes the net's files beside the code (and into a crate directory when asked),
/// each only when it changed, and they are what `tasknet petri` prints.
#[test]
fn builder_and_cli_write_the_same_petri_files() {
    let out = tempfile::tempdir().unwrap();
    let crate_dir = tempfile::tempdir().unwrap();
    let root = workspace();
    let build = || {
        Builder::new()
            .tasks(root.join(TASKS))
            .agents(root.join(AGENTS))
            .out_dir(out.path())
            .petri_dir(crate_dir.path().join("docs"))
            .cargo_directives(false)
            .compile()
            .unwrap()
    };
    build();
    for (format, extension) in [
        ("json", "petri.json"),
        ("pnml", "pnml"),
        ("dot", "petri.dot"),
        ("mermaid", "petri.mmd"),
    ] {
        let written = out.path().join(format!("tasks.{extension}"));
        let copy = crate_dir.path().join(format!("docs/tasks.{extension}"));
        let text = std::fs::read_to_string(&written).unwrap();
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), text);
        let cli = Command::new(env!("CARGO_BIN_EXE_tasknet"))
            .current_dir(&root)
            .args(["petri", TASKS, "--agents", AGENTS, "--format", format])
            .output()
            .unwrap();
        assert!(
            cli.status.success(),
            "{}",
            String::from_utf8_lossy(&cli.stderr)
        );
        assert_eq!(String::from_utf8(cli.stdout).unwrap(), text, "{format}");
        // `-o` writes the same file.
        let file = out.path().join(format!("cli.{extension}"));
        let status = Command::new(env!("CARGO_BIN_EXE_tasknet"))
            .current_dir(&root)
            .args(["petri", TASKS, "--agents", AGENTS, "--format", format, "-o"])
            .arg(&file)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    }
    let json = out.path().join("tasks.petri.json");
    let before = std::fs::metadata(&json).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    build();
    assert_eq!(
        std::fs::metadata(&json).unwrap().modified().unwrap(),
        before
    );
}

#[test]
fn cli_sets_where_logica_sends_tasks_and_draws_the_task_graph() {
    let root = workspace();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tasknet"))
            .current_dir(&root)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let json = run(&[
        "petri",
        TASKS,
        "--ws-url",
        "ws://10.0.0.2:7000",
        "--ws-timeout-ms",
        "1234",
        "--name",
        "sales",
    ]);
    let net: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(net["nome"], "sales");
    let logica = net["lugares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["logica"].as_str().unwrap())
        .find(|l| !l.is_empty())
        .unwrap();
    assert!(logica.contains("\"ws://10.0.0.2:7000\"") && logica.contains("|| 1234;"));
    let mermaid = run(&["graph", TASKS]);
    assert!(mermaid.starts_with("flowchart LR\n"));
    assert!(mermaid.contains("t2 -->|\"stock\"| t3"), "{mermaid}");
    let dot = run(&["graph", TASKS, "--format", "dot"]);
    assert!(dot.contains("t2 -> t3 [label=\"stock\"];"), "{dot}");
    // A file that does not check gives the located error, not a net.
    let out = Command::new(env!("CARGO_BIN_EXE_tasknet"))
        .current_dir(&root)
        .args(["petri", "tests/ui/missing_field.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tests/ui/missing_field.yaml:8:14"));
}

/// The build.rs route shows the yaml's warnings in `cargo build`'s output (as
/// `cargo::warning=` lines, with the yaml's place) and still builds; `strict(true)` makes them
/// errors that fail the build.
#[test]
fn builder_warnings_reach_cargo_build() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    let codegen = workspace().join("codegen");
    std::fs::write(
        project.join("Cargo.toml"),
        format!(
            "[package]\nname = \"warned\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[build-dependencies]\ntasknet-codegen = {{ path = {:?} }}\n\n[workspace]\n",
            codegen.display().to_string()
        ),
    )
    .unwrap();
    std::fs::create_dir(project.join("src")).unwrap();
    std::fs::write(project.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(
        project.join("tasks.yaml"),
        "research:\n  description: Find facts.\n  expected_output: Facts.\n  output_example: \"- a fact\"\n",
    )
    .unwrap();
    let build_rs = |strict: bool| {
        format!(
            "fn main() {{\n    if let Err(e) = tasknet_codegen::Builder::new().tasks(\"tasks.yaml\").strict({strict}).compile() {{\n        eprintln!(\"{{e}}\");\n        std::process::exit(1);\n    }}\n}}\n"
        )
    };
    std::fs::copy(workspace().join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    let cargo_build = || {
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(project)
            .args(["build", "--offline"])
            .env(
                "CARGO_TARGET_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold"),
            )
            .output()
            .unwrap()
    };
    std::fs::write(project.join("build.rs"), build_rs(false)).unwrap();
    let out = cargo_build();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: warned@0.1.0: tasks.yaml:4:3: unknown key `output_example` in task `research` is ignored"),
        "{stderr}"
    );
    std::fs::write(project.join("build.rs"), build_rs(true)).unwrap();
    let out = cargo_build();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "strict: {stderr}");
    assert!(
        stderr.contains("unknown key `output_example` in task `research` is ignored"),
        "{stderr}"
    );
}
