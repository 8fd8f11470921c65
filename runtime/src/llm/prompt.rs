//! The prompt of a task run by its agent: the agent's system message and the task's user
//! message, as docs/agents.md shows them.

use serde_json::Value;

use super::wire::{Message, Role};
use crate::TaskContext;

/// The agent's system message and the task's user message, as docs/agents.md shows them:
/// the agent's rendered role, goal and backstory; the rendered description, the expected
/// output, and the task's input (the fields it reads) as JSON, less the text fields whose
/// value the description already holds (a `{placeholder}` filled in): the model reads each
/// once, and the prompt is that much shorter.
pub fn task_messages(ctx: &TaskContext, input: &Value) -> Vec<Message> {
    let mut messages = Vec::with_capacity(2);
    if let Some(role) = ctx.role.as_deref() {
        let mut system = format!("You are {}.", role.trim().trim_end_matches('.'));
        if let Some(backstory) = ctx.backstory.as_deref().filter(|b| !b.trim().is_empty()) {
            system.push(' ');
            system.push_str(backstory.trim());
        }
        if let Some(goal) = ctx.goal.as_deref().filter(|g| !g.trim().is_empty()) {
            system.push_str("\nYour goal: ");
            system.push_str(goal.trim());
        }
        messages.push(Message::new(Role::System, system));
    }
    let mut user = ctx.description.trim().to_owned();
    if !ctx.expected_output.trim().is_empty() {
        user.push_str("\n\nExpected output: ");
        user.push_str(ctx.expected_output.trim());
    }
    let unread;
    let input = match input {
        Value::Object(fields) => {
            let shown = |value: &Value| {
                value
                    .as_str()
                    .is_some_and(|text| !text.is_empty() && ctx.description.contains(text))
            };
            unread = Value::Object(
                fields
                    .iter()
                    .filter(|(_, value)| !shown(value))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            );
            &unread
        }
        other => other,
    };
    let has_input = match input {
        Value::Object(fields) => !fields.is_empty(),
        Value::Null => false,
        _ => true,
    };
    if has_input {
        user.push_str("\n\nInput: ");
        user.push_str(&input.to_string());
    }
    messages.push(Message::new(Role::User, user));
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_holds_the_agent_the_task_and_its_input() {
        let ctx = TaskContext {
            task: "classify",
            run_id: "r".into(),
            description: "Classify the email.".into(),
            expected_output: "A category.".into(),
            agent: Some("clerk"),
            role: Some("Sales clerk".into()),
            goal: Some("Sort the mail".into()),
            backstory: Some("Ten years at the counter.".into()),
            ..TaskContext::default()
        };
        let messages = task_messages(&ctx, &serde_json::json!({"email": "hi"}));
        assert_eq!(
            messages[0].content.as_deref(),
            Some("You are Sales clerk. Ten years at the counter.\nYour goal: Sort the mail")
        );
        assert_eq!(
            messages[1].content.as_deref(),
            Some(
                "Classify the email.\n\nExpected output: A category.\n\nInput: {\"email\":\"hi\"}"
            )
        );
        assert_eq!(task_messages(&ctx, &serde_json::json!({})).len(), 2);
    }
}
