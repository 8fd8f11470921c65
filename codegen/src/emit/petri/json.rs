//! The seed's Petri-net JSON: `{nome, version, lugares, transicoes, arcos, agentes}`, with a
//! working `logica` (an async JavaScript function body with `input` and `utils` in scope).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use tasknet_contract::petri as wire;

use crate::model::Model;
use crate::petri::{Arc, Net, PlaceKind};

/// Where the browser's `logica` sends tasks, and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JsOptions {
    /// Default `ws://localhost:6308`; `utils.wsUrl` overrides it in the browser.
    pub ws_url: String,
    /// Default 30 s; `utils.timeoutMs` overrides it.
    pub timeout_ms: u64,
}

impl Default for JsOptions {
    fn default() -> Self {
        JsOptions {
            ws_url: "ws://localhost:6308".to_owned(),
            timeout_ms: 30_000,
        }
    }
}

/// A string as a JavaScript literal: JSON-escaped, and safe inside an HTML `<script>` (no
/// `</script>`, no raw U+2028/U+2029).
pub fn js_string(s: &str) -> String {
    serde_json::to_string(s)
        .unwrap_or_else(|_| "\"\"".to_owned())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Stands for the task name in [`logica_template`]; not valid JavaScript on its own, so it
/// cannot survive by accident.
const TASK_MARKER: &str = "@@TASKNET_TASK@@";

/// The `logica` of a task place: runs the task on the tasknet server over a WebSocket and
/// resolves with the token's data merged with the task's result.
pub fn logica(task: &str, options: &JsOptions) -> String {
    logica_template(options).replacen(TASK_MARKER, &js_string(task), 1)
}

/// A `logica` maker that formats the template once, for emitters that write many places.
pub(crate) fn logica_for(options: &JsOptions) -> impl Fn(&str) -> String {
    let template = logica_template(options);
    move |task| template.replacen(TASK_MARKER, &js_string(task), 1)
}

/// A task's `input_data` (its yaml `input_data`, or `{}`) as a JSON object.
pub fn input_data(task: &crate::model::Task) -> serde_json::Map<String, Value> {
    task.input_data
        .iter()
        .map(|e| (e.key.clone(), e.value.to_json()))
        .collect()
}

/// The `logica` with a marker for the task name: formatted once per net.
fn logica_template(options: &JsOptions) -> String {
    let task = TASK_MARKER;
    let url = js_string(&options.ws_url);
    let timeout = options.timeout_ms;
    format!(
        r#"const taskName = {task};
const data = JSON.parse(JSON.stringify(input ?? {{}}));
delete data.status;
const url = (utils && utils.wsUrl) || {url};
const timeoutMs = (utils && utils.timeoutMs) || {timeout};
return await new Promise((resolve, reject) => {{
  const id = taskName + "-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  const ws = new WebSocket(url);
  let settled = false;
  const settle = (fn, value) => {{
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    try {{ ws.close(); }} catch (e) {{}}
    fn(value);
  }};
  const timer = setTimeout(() => settle(reject, new Error("task " + taskName + " timed out after " + timeoutMs + " ms")), timeoutMs);
  ws.onopen = () => ws.send(JSON.stringify({{ type: "execute_task", id, data: {{ task_name: taskName, input_data: data, run_id: (utils && utils.runId) || undefined }} }}));
  ws.onmessage = (event) => {{
    let message;
    try {{ message = JSON.parse(event.data); }} catch (e) {{ return; }}
    if (message.id !== undefined && message.id !== id) return;
    const body = message.data || {{}};
    if (message.type === "task_completed") {{
      settle(resolve, Object.assign({{}}, data, body.result || {{}}, {{ status: "completed" }}));
    }} else if (message.type === "task_error") {{
      const error = body.error || {{}};
      settle(reject, new Error("task " + taskName + " failed (" + (error.kind || "error") + "): " + (error.message || "")));
    }} else if (message.type === "human_input_request") {{
      const ask = utils && utils.humanInput;
      if (typeof ask !== "function") {{
        settle(reject, new Error("task " + taskName + " asks for human input, and nothing here can ask a person (utils.humanInput)"));
        return;
      }}
      Promise.resolve(ask(taskName, body.answer)).then(
        (feedback) => ws.send(JSON.stringify({{ type: "human_feedback", id, data: {{ request_id: body.request_id, feedback: String(feedback ?? "") }} }})),
        (e) => settle(reject, e instanceof Error ? e : new Error(String(e))));
    }}
  }};
  ws.onerror = () => settle(reject, new Error("WebSocket error talking to " + url));
  ws.onclose = () => settle(reject, new Error("the connection closed before task " + taskName + " finished"));
}});
"#
    )
}

/// The net as the seed's JSON: the wire types are the runtime's (`tasknet-contract`), here
/// borrowing from the model, each `logica` an already escaped JSON string.
type NetJson<'a> = wire::PetriNet<'a, Box<RawValue>>;

fn empty_string_json() -> Box<RawValue> {
    RawValue::from_string("\"\"".to_owned()).expect("valid JSON")
}

fn net_json<'a>(net: &'a Net, model: &'a Model, options: &JsOptions) -> NetJson<'a> {
    // The template as a JSON string literal, escaped once; the marker has nothing to escape.
    let escaped_template = serde_json::to_string(&logica_template(options)).unwrap_or_default();
    let logica_json = |task: &str| {
        let name = serde_json::to_string(&js_string(task)).unwrap_or_default();
        let name = &name[1..name.len() - 1];
        let text = escaped_template.replacen(TASK_MARKER, name, 1);
        RawValue::from_string(text).unwrap_or_else(|_| empty_string_json())
    };
    let places = net
        .places
        .iter()
        .map(|p| {
            let (agent_id, input_data, logica) = match p.kind {
                PlaceKind::Task(i) => {
                    let task = &model.tasks[i];
                    (
                        task.agent.as_deref().map(Cow::Borrowed),
                        input_data(task),
                        logica_json(&task.name),
                    )
                }
                _ => (None, serde_json::Map::new(), empty_string_json()),
            };
            wire::Place {
                id: Cow::Borrowed(&p.id),
                name: Cow::Borrowed(&p.name),
                tokens: p.tokens,
                position: wire::Position { x: p.x, y: p.y },
                delay: 0,
                subnet: None,
                agent_id,
                input_data,
                output_data: serde_json::Map::new(),
                logica,
            }
        })
        .collect();
    let transitions = net
        .transitions
        .iter()
        .map(|t| wire::Transition {
            id: Cow::Borrowed(&t.id),
            name: Cow::Borrowed(&t.name),
            position: wire::Position { x: t.x, y: t.y },
        })
        .collect();
    let arcs = net
        .arcs
        .iter()
        .enumerate()
        .map(|(i, arc)| {
            let (source, target) = match *arc {
                Arc::PlaceToTransition { place, transition } => (
                    net.places[place].id.as_str(),
                    net.transitions[transition].id.as_str(),
                ),
                Arc::TransitionToPlace { transition, place } => (
                    net.transitions[transition].id.as_str(),
                    net.places[place].id.as_str(),
                ),
            };
            wire::Arc {
                id: Cow::Owned(format!("A{i}")),
                source: Cow::Borrowed(source),
                target: Cow::Borrowed(target),
                weight: 1,
            }
        })
        .collect();
    let agents = model
        .agents
        .iter()
        .map(|a| wire::Agent {
            id: Cow::Borrowed(&a.name),
            role: Cow::Borrowed(&a.role),
            goal: Cow::Borrowed(&a.goal),
            backstory: Cow::Borrowed(&a.backstory),
            tools: Cow::Borrowed(&a.tools),
        })
        .collect();
    wire::PetriNet {
        name: Cow::Borrowed(&net.name),
        version: Cow::Borrowed("1.0"),
        places,
        transitions,
        arcs,
        agents,
    }
}

/// The net in the seed's JSON format, as text (written straight from typed structs).
pub fn to_json_string(net: &Net, model: &Model, options: &JsOptions) -> String {
    serde_json::to_string(&net_json(net, model, options)).unwrap_or_default()
}

/// The net in the seed's JSON format, indented, with a final newline: for files people read
/// and diff.
pub fn to_json_pretty(net: &Net, model: &Model, options: &JsOptions) -> String {
    let mut text = serde_json::to_string_pretty(&net_json(net, model, options)).unwrap_or_default();
    text.push('\n');
    text
}

/// The net in the seed's JSON format, as a value.
pub fn to_json(net: &Net, model: &Model, options: &JsOptions) -> Value {
    serde_json::to_value(net_json(net, model, options)).unwrap_or(Value::Null)
}
