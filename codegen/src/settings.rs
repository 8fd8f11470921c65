//! [`GenerationSettings`]: every option that changes what is generated, in one value shared by
//! the three routes (progenitor's `GenerationSettings` is the model). The macro parses its
//! arguments into it, the build.rs [`crate::Builder`] wraps it, the CLI's flags fill it, and
//! the macro's hand-over to a derived state forwards it whole, so no route can drop an option.
//!
//! A new option is a field here, a setter, one arm in the macro's argument parser
//! (`macro_support::parse_arg`), a flag in the CLI's `SettingsArgs` and a builder method;
//! `cli/tests/routes.rs` checks each option on all three routes.

use serde::{Deserialize, Serialize};

use crate::emit::petri::Format;
use crate::emit::petri::json::JsOptions;

/// What the generated code looks like, beyond the yaml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerationSettings {
    /// The registry's name in the execution log and the net's `nome`; `None`: the tasks file's
    /// stem.
    registry_name: Option<String>,
    /// The path through which generated code names the runtime (like prost's `prost_path`).
    crate_path: String,
    /// A hand-written `#[derive(TaskState)]` state to use instead of a generated `State`
    /// (macro route only: its fields come from the derive).
    state: Option<String>,
    /// Where the Petri net's `logica` sends tasks, and how long it waits.
    js: JsOptions,
    /// Which Petri-net files the build.rs route writes next to the code.
    petri_formats: Vec<Format>,
    /// Warnings are errors (`strict = true`, `.strict(true)`, `--strict`).
    #[serde(default)]
    strict: bool,
}

impl Default for GenerationSettings {
    fn default() -> Self {
        GenerationSettings {
            registry_name: None,
            crate_path: "::tasknet".to_owned(),
            state: None,
            js: JsOptions::default(),
            petri_formats: Format::ALL.to_vec(),
            strict: false,
        }
    }
}

/// A setting that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSetting {
    /// The setting, as the macro names it (`crate`, `name`, ...).
    pub setting: &'static str,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid `{}`: {}", self.setting, self.message)
    }
}

impl std::error::Error for InvalidSetting {}

impl GenerationSettings {
    /// The defaults: registry named after the tasks file, runtime at `::tasknet`, a generated
    /// `State`, `logica` sending to `ws://localhost:6308` with a 30 s limit, every net format.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the registry (default: the tasks file's stem).
    pub fn with_registry_name(mut self, name: impl Into<String>) -> Self {
        self.registry_name = Some(name.into());
        self
    }

    /// The path through which generated code names the runtime (default `::tasknet`).
    pub fn with_crate_path(mut self, path: impl Into<String>) -> Self {
        self.crate_path = path.into();
        self
    }

    /// Uses a hand-written `#[derive(TaskState)]` struct as the state.
    pub fn with_state(mut self, path: impl Into<String>) -> Self {
        self.state = Some(path.into());
        self
    }

    /// Where the `logica` sends tasks (default `ws://localhost:6308`).
    pub fn with_ws_url(mut self, url: impl Into<String>) -> Self {
        self.js.ws_url = url.into();
        self
    }

    /// How long the `logica` waits for a task, in milliseconds (default 30,000).
    pub fn with_ws_timeout_ms(mut self, ms: u64) -> Self {
        self.js.timeout_ms = ms;
        self
    }

    /// Both JavaScript options at once.
    pub fn with_js(mut self, js: JsOptions) -> Self {
        self.js = js;
        self
    }

    /// Which Petri-net files to write (an empty list writes none).
    pub fn with_petri_formats(mut self, formats: &[Format]) -> Self {
        self.petri_formats = formats.to_vec();
        self
    }

    /// Whether warnings are errors: a check that finds only warnings then fails, each warning
    /// reported as an error.
    pub fn with_strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Whether warnings are errors.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// The registry's name, when one was set.
    pub fn registry_name(&self) -> Option<&str> {
        self.registry_name.as_deref()
    }

    /// The runtime's path, as written.
    pub fn crate_path(&self) -> &str {
        &self.crate_path
    }

    /// The runtime's path as tokens. [`GenerationSettings::validate`] has checked that it
    /// parses; an unchecked bad path falls back to `::tasknet`.
    pub fn crate_path_tokens(&self) -> proc_macro2::TokenStream {
        syn::parse_str::<syn::Path>(&self.crate_path)
            .map(|p| quote::ToTokens::to_token_stream(&p))
            .unwrap_or_else(|_| quote::quote!(::tasknet))
    }

    /// The hand-written state's path, when one was set.
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// The JavaScript options.
    pub fn js(&self) -> &JsOptions {
        &self.js
    }

    /// The Petri-net formats to write.
    pub fn petri_formats(&self) -> &[Format] {
        &self.petri_formats
    }

    /// Every problem with the settings, before anything is generated.
    pub fn validate(&self) -> Result<(), Vec<InvalidSetting>> {
        let mut problems = Vec::new();
        if syn::parse_str::<syn::Path>(&self.crate_path).is_err() {
            problems.push(InvalidSetting {
                setting: "crate",
                message: format!("`{}` is not a Rust path", self.crate_path),
            });
        }
        if let Some(state) = &self.state
            && syn::parse_str::<syn::Path>(state).is_err()
        {
            problems.push(InvalidSetting {
                setting: "state",
                message: format!("`{state}` is not a Rust path"),
            });
        }
        if self.registry_name.as_deref().is_some_and(str::is_empty) {
            problems.push(InvalidSetting {
                setting: "name",
                message: "the registry's name is empty".to_owned(),
            });
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The settings as one string (JSON), for the macro's hand-over to a derived state.
    pub fn to_forwarded(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The settings back from [`GenerationSettings::to_forwarded`].
    pub fn from_forwarded(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_survives_the_hand_over() {
        let settings = GenerationSettings::new()
            .with_registry_name("crew")
            .with_crate_path("::my::tasknet")
            .with_state("crate::S")
            .with_ws_url("ws://host:9000")
            .with_ws_timeout_ms(1234)
            .with_petri_formats(&[Format::Pnml]);
        let back = GenerationSettings::from_forwarded(&settings.to_forwarded()).unwrap();
        assert_eq!(back, settings);
        assert_ne!(back, GenerationSettings::default());
    }

    #[test]
    fn bad_paths_are_reported_together() {
        let problems = GenerationSettings::new()
            .with_crate_path("not a path")
            .with_state("1x")
            .with_registry_name("")
            .validate()
            .unwrap_err();
        let settings: Vec<_> = problems.iter().map(|p| p.setting).collect();
        assert_eq!(settings, ["crate", "state", "name"]);
    }
}
