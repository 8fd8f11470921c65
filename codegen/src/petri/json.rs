//! The seed's Petri-net JSON: `{nome, version, lugares, transicoes, arcos, agentes}`, with a
//! working `logica` (an async JavaScript function body with `input` and `utils` in scope).

use serde_json::{Value, json};

use super::{Arc, Net, PlaceKind};
use crate::model::Model;

/// Where the browser's `logica` sends tasks, and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The `logica` of a task place: runs the task on the tasknet server over a WebSocket and
/// resolves with the token's data merged with the task's result.
pub fn logica(task: &str, options: &JsOptions) -> String {
    let task = js_string(task);
    let url = js_string(&options.ws_url);
    let timeout = options.timeout_ms;
    format!(
        r#"const taskName = {task};
const data = JSON.parse(JSON.stringify(input ?? {{}}));
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
  ws.onopen = () => ws.send(JSON.stringify({{ type: "execute_task", id, data: {{ task_name: taskName, input_data: data }} }}));
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
    }}
  }};
  ws.onerror = () => settle(reject, new Error("WebSocket error talking to " + url));
  ws.onclose = () => settle(reject, new Error("the connection closed before task " + taskName + " finished"));
}});
"#
    )
}

/// The net in the seed's JSON format.
pub fn to_json(net: &Net, model: &Model, options: &JsOptions) -> Value {
    let lugares: Vec<Value> = net
        .places
        .iter()
        .map(|p| {
            let (agent, input_data, logica_text, delay) = match p.kind {
                PlaceKind::Task(i) => {
                    let task = &model.tasks[i];
                    let data: serde_json::Map<String, Value> = task
                        .input_data
                        .iter()
                        .map(|(k, v)| (k.clone(), crate::emit::rust::to_json(v)))
                        .collect();
                    (
                        task.agent.clone().map_or(Value::Null, Value::String),
                        Value::Object(data),
                        logica(&task.name, options),
                        0,
                    )
                }
                _ => (Value::Null, json!({}), String::new(), 0),
            };
            json!({
                "id": p.id,
                "nome": p.name,
                "tokens": p.tokens,
                "coordenadas": {"x": p.x, "y": p.y},
                "delay": delay,
                "subnet": Value::Null,
                "agentId": agent,
                "input_data": input_data,
                "output_data": {},
                "logica": logica_text,
            })
        })
        .collect();
    let transicoes: Vec<Value> = net
        .transitions
        .iter()
        .map(|t| json!({"id": t.id, "nome": t.name, "coordenadas": {"x": t.x, "y": t.y}}))
        .collect();
    let arcos: Vec<Value> = net
        .arcs
        .iter()
        .enumerate()
        .map(|(i, arc)| {
            let (from, to) = match *arc {
                Arc::PlaceToTransition { place, transition } => {
                    (&net.places[place].id, &net.transitions[transition].id)
                }
                Arc::TransitionToPlace { transition, place } => {
                    (&net.transitions[transition].id, &net.places[place].id)
                }
            };
            json!({"id": format!("A{i}"), "origem": from, "destino": to, "peso": 1})
        })
        .collect();
    let agentes: Vec<Value> = model
        .agents
        .iter()
        .map(|a| {
            json!({"id": a.name, "role": a.role, "goal": a.goal, "backstory": a.backstory, "tools": a.tools})
        })
        .collect();
    json!({
        "nome": net.name,
        "version": "1.0",
        "lugares": lugares,
        "transicoes": transicoes,
        "arcos": arcos,
        "agentes": agentes,
    })
}
