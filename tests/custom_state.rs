//! A hand-written state with `#[derive(TaskState)]`, paired with `task_registry!(state = ...)`.
#![deny(warnings)]

use serde_json::json;
use tasknet::{TaskContext, TaskError, TaskState};

/// The state the user writes: their own docs, derives and non-Option fields.
#[derive(Debug, Default, Clone, serde::Serialize, tasknet::TaskState)]
pub struct MailState {
    pub email: Option<String>,
    pub label: Option<String>,
    pub confidence: Option<f64>,
    pub folder: Option<String>,
    /// Not a task field: always present.
    pub notes: Vec<String>,
    pub execution_log: Vec<tasknet::LogEntry>,
    pub current_task: Option<String>,
    pub timestamp: Option<String>,
}

mod from_file {
    use super::MailState;
    tasknet::task_registry!(file = "tests/fixtures/custom_state.yaml", state = MailState);
}

mod inline {
    use super::MailState;
    tasknet::task_registry!(
        state = MailState,
        yaml = "
inputs: [email]
classify:
  requires: [email]
  produces: [label]
"
    );
}

/// A state in its own module, named by path from elsewhere (the usual layout).
pub mod states {
    /// Another hand-written state.
    #[derive(Debug, Default, Clone, tasknet::TaskState)]
    pub struct Inbox {
        pub email: Option<String>,
        pub label: Option<String>,
        pub execution_log: Vec<tasknet::LogEntry>,
        pub current_task: Option<String>,
        pub timestamp: Option<String>,
    }
}

mod by_path {
    tasknet::task_registry!(
        state = crate::states::Inbox,
        yaml = "inputs: [email]\nclassify: {requires: [email], produces: [label]}\n"
    );
}

struct Classifier;

impl from_file::Tasks for Classifier {
    async fn classify(
        &self,
        _ctx: &TaskContext,
        input: from_file::ClassifyInput,
    ) -> Result<from_file::ClassifyOutput, TaskError> {
        let label = if input.email.contains("order") {
            "orders"
        } else {
            "other"
        };
        Ok(from_file::ClassifyOutput {
            label: label.into(),
            confidence: 0.9,
        })
    }

    async fn archive(
        &self,
        _ctx: &TaskContext,
        input: from_file::ArchiveInput,
    ) -> Result<from_file::ArchiveOutput, TaskError> {
        Ok(from_file::ArchiveOutput {
            folder: format!("mail/{}", input.label),
        })
    }
}

#[test]
fn hand_written_state_is_used_by_the_generated_functions() {
    let mut state = MailState {
        email: Some("an order for 3 mangoes".into()),
        ..MailState::default()
    };
    let input = from_file::classify_input(&state).unwrap();
    assert_eq!(input.email, "an order for 3 mangoes");
    from_file::classify_output(
        &mut state,
        from_file::ClassifyOutput {
            label: "orders".into(),
            confidence: 0.5,
        },
    );
    assert_eq!(state.label.as_deref(), Some("orders"));
    assert_eq!(state.confidence, Some(0.5));
    assert_eq!(state.current_task.as_deref(), Some("classify"));
    assert_eq!(state.execution_log.len(), 1);
    // The produced types come from the struct.
    let spec = from_file::TASK_REGISTRY.task("classify").unwrap();
    assert_eq!(spec.produces[1].ty, "f64");
    let _ = Classifier;
}

#[test]
fn derive_gives_field_access_by_name() {
    let mut state = MailState::default();
    state.set_json("label", json!("orders")).unwrap();
    state.set_json("notes", json!(["a", "b"])).unwrap();
    assert_eq!(state.get_json("label").unwrap(), Some(json!("orders")));
    assert_eq!(state.get_json("notes").unwrap(), Some(json!(["a", "b"])));
    assert!(
        state.is_set("notes").unwrap(),
        "a non-Option field is always set"
    );
    assert!(!state.is_set("folder").unwrap());
    assert!(state.set_json("confidence", json!("high")).is_err());
    let fields: Vec<(&str, &str, bool)> = MailState::FIELDS
        .iter()
        .map(|f| (f.name, f.ty, f.optional))
        .collect();
    assert_eq!(
        fields,
        [
            ("email", "String", true),
            ("label", "String", true),
            ("confidence", "f64", true),
            ("folder", "String", true),
            ("notes", "Vec<String>", false),
        ]
    );
    state.record("manual");
    assert_eq!(state.execution_log()[0].task, "manual");
}

#[test]
fn state_from_another_module_by_path() {
    let state = states::Inbox {
        email: Some("x".into()),
        ..Default::default()
    };
    assert_eq!(by_path::classify_input(&state).unwrap().email, "x");
}

#[test]
fn inline_form_without_a_yaml_file() {
    let names: Vec<&str> = inline::TASK_REGISTRY.tasks.iter().map(|t| t.name).collect();
    assert_eq!(names, ["classify"]);
    let state = MailState {
        email: Some("hi".into()),
        ..MailState::default()
    };
    assert_eq!(inline::classify_input(&state).unwrap().email, "hi");
}
