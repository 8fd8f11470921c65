//! Scaffolding: `tasknet new` and `cargo generate --path cli/template` write the same project,
//! and that project builds, passes its test and reports a broken tasks.yaml with its location,
//! on both routes (the task_registry! macro and build.rs).
//!
//! The generated projects depend on this workspace by path and build offline with its
//! Cargo.lock, in one target directory shared by every project of this file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;
use tasknet_testkit::fake_llm::{answer_each, completion, fake_server};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ is inside the workspace")
        .to_path_buf()
}

fn tasknet_new(parent: &Path, name: &str, build_rs: bool) -> PathBuf {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tasknet"));
    cmd.current_dir(parent)
        .args(["new", name, "--tasknet-path"])
        .arg(workspace());
    if build_rs {
        cmd.arg("--build-rs");
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "tasknet new: {}", text(&out));
    // "created DIR: ..." names the directory (the name in kebab-case).
    let stdout = String::from_utf8_lossy(&out.stdout);
    let created = stdout
        .strip_prefix("created ")
        .and_then(|rest| rest.split(": ").next())
        .expect("tasknet new says what it created");
    parent.join(created)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file under `dir`, by relative path (`/`-separated), leaving out what a build adds.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if ["target", "Cargo.lock", ".git"].contains(&name.as_str()) || name.contains(".db") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy();
                out.insert(
                    rel.replace('\\', "/"),
                    std::fs::read_to_string(&path).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// `cargo <args>` in a generated project, offline, with the workspace's lock file and the
/// shared target directory.
fn cargo(project: &Path, args: &[&str]) -> Output {
    // The workspace's lock pins the versions this workspace was tested with; resolving anew
    // offline could pick whatever else the local registry cache holds.
    std::fs::copy(workspace().join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(project)
        // Right after the subcommand: what follows a `--` is the program's.
        .arg(args[0])
        .arg("--offline")
        .args(&args[1..])
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold"),
        )
        .output()
        .unwrap()
}

#[test]
fn new_writes_the_template_for_each_route() {
    let dir = tempfile::tempdir().unwrap();
    let with_macro = tree(&tasknet_new(dir.path(), "my-crew", false));
    let with_build_rs = tree(&tasknet_new(dir.path(), "other_crew", true));

    let names = |t: &BTreeMap<String, String>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&with_macro),
        [
            ".gitignore",
            "Cargo.toml",
            "README.md",
            "agents.yaml",
            "src/main.rs",
            "tasks.yaml"
        ]
    );
    assert_eq!(
        names(&with_build_rs),
        [
            ".gitignore",
            "Cargo.toml",
            "README.md",
            "agents.yaml",
            "build.rs",
            "src/main.rs",
            "tasks.yaml"
        ]
    );
    for project in [&with_macro, &with_build_rs] {
        // CrewAI's single-brace placeholders survive Liquid; no Liquid is left anywhere.
        let template_tasks =
            std::fs::read_to_string(workspace().join("cli/template/tasks.yaml")).unwrap();
        assert_eq!(project["tasks.yaml"], template_tasks);
        assert!(project["tasks.yaml"].contains("Find the key facts about {topic}."));
        assert!(project["agents.yaml"].contains("{topic} researcher"));
        for (name, text) in project.iter() {
            assert!(
                !text.contains("{{") && !text.contains("{%"),
                "{name} still holds Liquid:\n{text}"
            );
        }
    }

    let path = workspace().to_string_lossy().replace('\\', "/");
    let cargo_toml = &with_macro["Cargo.toml"];
    assert!(cargo_toml.contains("name = \"my-crew\""), "{cargo_toml}");
    assert!(
        cargo_toml.contains(&format!("tasknet = {{ path = \"{path}\" }}")),
        "{cargo_toml}"
    );
    assert!(!cargo_toml.contains("build-dependencies"), "{cargo_toml}");
    assert!(with_macro["src/main.rs"].contains("tasknet::task_registry!("));
    assert!(with_macro["src/main.rs"].contains(".db(\"my_crew.db\")"));

    let cargo_toml = &with_build_rs["Cargo.toml"];
    assert!(cargo_toml.contains("name = \"other-crew\""), "{cargo_toml}");
    assert!(
        cargo_toml.contains(&format!(
            "tasknet-codegen = {{ path = \"{path}/codegen\" }}"
        )),
        "{cargo_toml}"
    );
    assert!(
        cargo_toml.contains("default-features = false"),
        "{cargo_toml}"
    );
    assert!(with_build_rs["src/main.rs"].contains("tasknet::include_generated!(\"tasks\")"));
    assert!(!with_build_rs["src/main.rs"].contains("task_registry!"));
}

#[test]
fn new_without_a_path_depends_on_the_git_repository() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tasknet"))
        .current_dir(dir.path())
        .args(["new", "crew", "--build-rs"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let cargo_toml = std::fs::read_to_string(dir.path().join("crew/Cargo.toml")).unwrap();
    assert!(
        cargo_toml.contains(
            "tasknet = { git = \"https://github.com/tasknet/tasknet\", default-features = false"
        ),
        "{cargo_toml}"
    );
    assert!(
        cargo_toml.contains("tasknet-codegen = { git = \"https://github.com/tasknet/tasknet\" }"),
        "{cargo_toml}"
    );
}

#[test]
fn new_refuses_an_existing_directory_a_bad_name_and_a_wrong_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    std::fs::write(dir.path().join("taken/keep.txt"), "mine").unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tasknet"))
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };

    let out = run(&["new", "taken"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("`taken` already exists"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("taken/keep.txt")).unwrap(),
        "mine"
    );

    let out = run(&["new", "9lives"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("`9lives` cannot name a crate"),
        "{}",
        text(&out)
    );

    let out = run(&["new", "crew", "--tasknet-path", "/nonexistent/tasknet"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("is not a tasknet checkout"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("crew").exists());
}

/// Builds and tests a generated project, then requires a field nobody produces and checks that
/// the build fails at that line of tasks.yaml.
fn builds_tests_and_locates_a_missing_field(project: &Path) {
    let out = cargo(project, &["test"]);
    assert!(out.status.success(), "cargo test: {}", text(&out));
    assert!(
        text(&out).contains("test tests::the_crew_writes_an_article_about_the_topic ... ok"),
        "{}",
        text(&out)
    );

    let tasks = project.join("tasks.yaml");
    let yaml = std::fs::read_to_string(&tasks).unwrap();
    let broken = yaml.replace(
        "requires: [topic, facts, angles]",
        "requires: [topic, facts, angle]",
    );
    assert_ne!(
        broken, yaml,
        "the template's write_article requires changed"
    );
    std::fs::write(&tasks, broken).unwrap();
    let out = cargo(project, &["build"]);
    assert!(
        !out.status.success(),
        "the build should fail: {}",
        text(&out)
    );
    let message = text(&out);
    assert!(
        message.contains(
            "task `write_article` requires `angle`, which no task produces (did you mean `angles`?)"
        ),
        "{message}"
    );
    assert!(message.contains("tasks.yaml:32:28"), "{message}");
}

/// The new crew runs offline with its stand-ins and says how to give it an LLM; given one
/// (`--llm`, a scripted server here), every task asks its agent and the article is the
/// agent's.
fn runs_offline_and_through_an_llm(project: &Path) {
    let out = cargo(project, &["run", "-q"]);
    assert!(out.status.success(), "cargo run: {}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no LLM configured"), "{stderr}");
    assert!(
        stderr.contains("--llm http://127.0.0.1:11434/v1 --model llama3.2"),
        "{stderr}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(fake_server(answer_each(3, |request| {
        let schema = &request["response_format"]["json_schema"]["schema"]["properties"];
        let answer = if schema.get("facts").is_some() {
            json!({"facts": ["tea is a leaf"]})
        } else if schema.get("angles").is_some() {
            json!({"angles": ["the leaf"]})
        } else {
            json!({"article": "# Mangoes, by the writer agent"})
        };
        completion(&answer.to_string())
    })));
    let out = cargo(
        project,
        &["run", "-q", "--", "--llm", &server.url, "--model", "fake"],
    );
    assert!(out.status.success(), "cargo run --llm: {}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "# Mangoes, by the writer agent"
    );
    assert!(!text(&out).contains("no LLM configured"), "{}", text(&out));
    assert_eq!(server.seen.lock().unwrap().len(), 3, "one request per task");
}

#[test]
fn new_projects_build_pass_their_test_and_locate_a_yaml_error() {
    let dir = tempfile::tempdir().unwrap();
    for (name, build_rs) in [("macro-crew", false), ("build-rs-crew", true)] {
        let project = tasknet_new(dir.path(), name, build_rs);
        runs_offline_and_through_an_llm(&project);
        builds_tests_and_locates_a_missing_field(&project);
    }
}

/// The real cargo-generate (skipped when it is not installed; `.ci/run` installs it and sets
/// TASKNET_REQUIRE_TOOLS, so that CI cannot skip this).
#[test]
fn cargo_generate_writes_the_same_project() {
    let Some(cargo_generate) = tasknet_testkit::tool(
        "cargo-generate",
        "cargo install cargo-generate --version 0.23.7 --locked",
    ) else {
        return;
    };
    let Some(git_program) = tasknet_testkit::tool("git", "Debian: git") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (route, build_rs) in [("macro", false), ("build-rs", true)] {
        let name = format!("gen-{route}");
        let out = cargo_generate
            .command()
            .current_dir(dir.path())
            .arg("generate")
            .arg("--path")
            .arg(workspace().join("cli/template"))
            .args(["--name", &name, "--vcs", "none", "--silent"])
            .args(["--define", &format!("route={route}")])
            .arg("--define")
            .arg(format!("tasknet_path={}", workspace().display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "cargo generate: {}", text(&out));
        let generated = dir.path().join(&name);

        let ours = tasknet_new(dir.path(), &format!("new-{route}"), build_rs);
        let (mut theirs, mut mine) = (tree(&generated), tree(&ours));
        for files in [&mut theirs, &mut mine] {
            for text in files.values_mut() {
                *text = text.replace(&format!("gen-{route}"), "NAME");
                *text = text.replace(&format!("new-{route}"), "NAME");
                *text = text.replace(&format!("gen_{route}").replace('-', "_"), "NAME");
                *text = text.replace(&format!("new_{route}").replace('-', "_"), "NAME");
            }
        }
        assert_eq!(
            theirs, mine,
            "cargo generate and tasknet new differ ({route})"
        );
        builds_tests_and_locates_a_missing_field(&generated);
    }

    // From a git repository (`cargo generate --git URL cli/template`): a repository holding
    // this checkout's template where tasknet's has it, so that the test sees the working tree,
    // not the last commit.
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("cli/template/src")).unwrap();
    for entry in tree(&workspace().join("cli/template")) {
        std::fs::write(repo.join("cli/template").join(&entry.0), entry.1).unwrap();
    }
    let git = |args: &[&str]| {
        let out = git_program
            .command()
            .current_dir(&repo)
            .args([
                "-c",
                "user.name=tasknet",
                "-c",
                "user.email=tasknet@localhost",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "template"]);
    let out = cargo_generate
        .command()
        .current_dir(dir.path())
        .arg("generate")
        .arg("--git")
        .arg(format!("file://{}", repo.display()))
        .arg("cli/template")
        .args(["--name", "gen-macro-git", "--vcs", "none", "--silent"])
        .args(["--define", "route=macro"])
        .arg("--define")
        .arg(format!("tasknet_path={}", workspace().display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo generate --git: {}", text(&out));
    let from_git = tree(&dir.path().join("gen-macro-git"));
    let from_path = tree(&dir.path().join("gen-macro"));
    assert_eq!(
        from_git.keys().collect::<Vec<_>>(),
        from_path.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        from_git["src/main.rs"]
            .replace("gen-macro-git", "gen-macro")
            .replace("gen_macro_git", "gen_macro"),
        from_path["src/main.rs"]
    );
}
