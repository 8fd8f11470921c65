//! The tools the yaml names. CrewAI looks each name up among the crew's `@tool` functions (a
//! name that is not one is a KeyError when the crew starts); tasknet asks the crew's code for
//! one `Tools` method per name, so a tool the code does not provide fails the build.

use std::collections::HashSet;

use crate::diagnostic::Diagnostic;
use crate::model::ToolName;
use crate::spec::Text;

use super::Resolver;
use super::names::{NameTable, check_identifier, snake_ident};

impl Resolver<'_, '_> {
    /// Every tool named by an agent (agents.yaml) or a task, once, in the order first named.
    pub(super) fn tools(&mut self) -> Vec<ToolName> {
        let from_agents = self
            .cx
            .agents
            .into_iter()
            .flat_map(|file| file.agents.iter().flat_map(|a| a.tools.iter()));
        let from_tasks = self.file.tasks.iter().flat_map(|t| t.tools.iter());
        let named: Vec<&Text> = from_agents.chain(from_tasks).collect();
        let mut seen = HashSet::new();
        let mut methods = NameTable::snake(&[]);
        let mut tools = Vec::new();
        for text in named {
            if !seen.insert(text.value.as_str()) {
                continue;
            }
            if let Err((problem, help)) = check_identifier(&text.value) {
                self.diags.push(
                    Diagnostic::error(format!("tool name `{}` {problem}", text.value))
                        .at(text.span, "a tool is a function of the crew's code")
                        .help(help),
                );
                continue;
            }
            let rust_name = methods.claim(snake_ident(&text.value));
            let api_name = if is_api_name(&text.value) {
                text.value.clone()
            } else {
                rust_name.chars().take(64).collect()
            };
            tools.push(ToolName {
                name: text.value.clone(),
                rust_name,
                api_name,
                location: self.cx.sources.location(text.span),
            });
        }
        tools
    }
}

/// Whether the chat APIs take `name` as a function's name.
fn is_api_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
