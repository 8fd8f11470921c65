//! What tasknet's test suites share: finding the outside programs some tests run (node,
//! xmllint, dot, chromium, cargo-generate, ...), a scripted fake LLM server ([`fake_llm`]),
//! and throwaway PostgreSQL clusters ([`postgres`]).
//!
//! `cargo test --workspace` must pass on a machine that has only the Rust toolchain, so a test
//! whose program is missing says on stderr that it was skipped and why; CI installs every
//! program and sets `TASKNET_REQUIRE_TOOLS=1`, under which a missing program fails the test
//! instead (a skip there would hide a check that never ran).

#![deny(missing_docs)]

pub mod fake_llm;
pub mod netns;
pub mod postgres;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The variable that turns a skip into a failure.
pub const REQUIRE_TOOLS: &str = "TASKNET_REQUIRE_TOOLS";

/// An outside program found on `PATH`.
#[derive(Debug, Clone)]
pub struct Tool {
    path: PathBuf,
}

impl Tool {
    /// A command that runs the program.
    pub fn command(&self) -> Command {
        Command::new(&self.path)
    }

    /// Where the program is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Whether missing programs fail the tests (`TASKNET_REQUIRE_TOOLS=1`) instead of skipping them.
pub fn tools_required() -> bool {
    std::env::var_os(REQUIRE_TOOLS).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Finds `program` on `PATH`. When it is missing: prints on stderr that the calling check is
/// skipped, with `install` (how to get the program) and returns `None`; or, with
/// `TASKNET_REQUIRE_TOOLS=1`, panics with the same words.
pub fn tool(program: &str, install: &str) -> Option<Tool> {
    if let Some(path) = find_on_path(program) {
        return Some(Tool { path });
    }
    skip(&format!("`{program}` is not installed ({install})"));
    None
}

/// Runs `program` with `args` and returns what it printed, or `None` when it is not installed
/// (see [`tool`]). A program that is installed but cannot be started fails the test.
pub fn run<I, A>(program: &str, args: I, install: &str) -> Option<std::process::Output>
where
    I: IntoIterator<Item = A>,
    A: AsRef<std::ffi::OsStr>,
{
    let tool = tool(program, install)?;
    Some(
        tool.command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{program}` ({e}): {install}")),
    )
}

/// Skips the calling check for `reason` (printed on stderr), or panics with it under
/// `TASKNET_REQUIRE_TOOLS=1`.
pub fn skip(reason: &str) {
    let current = std::thread::current();
    let test = current.name().unwrap_or("a test");
    if tools_required() {
        panic!("{test}: {reason}, and {REQUIRE_TOOLS} is set");
    }
    // Straight to the stream: libtest captures `eprintln!` of a passing test, which would
    // hide the skip.
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {test}: {reason}; set {REQUIRE_TOOLS}=1 to fail instead"
    );
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let candidate = Path::new(program);
    if candidate.components().count() > 1 {
        return is_executable(candidate).then(|| candidate.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_program_that_is_there_and_not_one_that_is_not() {
        // `cargo` runs this test, so it is on PATH or named by $CARGO.
        let cargo = std::env::var("CARGO").unwrap();
        assert!(tool(&cargo, "rustup").is_some());
        assert!(find_on_path("tasknet-no-such-program").is_none());
    }

    #[test]
    fn a_missing_program_fails_when_tools_are_required() {
        let run = |required: bool| {
            let mut command = Command::new(std::env::current_exe().unwrap());
            command.args(["--exact", "tests::probe_missing", "--include-ignored"]);
            if required {
                command.env(REQUIRE_TOOLS, "1");
            } else {
                command.env_remove(REQUIRE_TOOLS);
            }
            command.output().unwrap()
        };
        let skipped = run(false);
        assert!(skipped.status.success());
        let stderr = String::from_utf8_lossy(&skipped.stderr);
        assert!(
            stderr.contains("skipped: tests::probe_missing: `tasknet-no-such-program` is not installed (apt-get install nothing)"),
            "{stderr}"
        );
        let failed = run(true);
        assert!(!failed.status.success());
        let stdout = String::from_utf8_lossy(&failed.stdout);
        assert!(stdout.contains("TASKNET_REQUIRE_TOOLS is set"), "{stdout}");
    }

    #[test]
    #[ignore = "run by a_missing_program_fails_when_tools_are_required"]
    fn probe_missing() {
        assert!(tool("tasknet-no-such-program", "apt-get install nothing").is_none());
    }
}
