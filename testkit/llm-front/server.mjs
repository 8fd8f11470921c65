// An OpenAI-compatible `POST /v1/chat/completions` in front of node-llama-cpp, for the tests:
// a real model behind a server that speaks `response_format: {type: "json_schema"}` (the
// schema enforced by grammar), `json_object` with a schema, and function calling (a forced
// `tool_choice` is decoded by grammar from the function's parameters). One request at a time.
//
//     node server.mjs --model FILE.gguf --port 8090 [--host 127.0.0.1] [--threads 2]

import http from "node:http";
import {getLlama, LlamaChat} from "node-llama-cpp";

function option(name, fallback) {
    const at = process.argv.indexOf("--" + name);
    return at > 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

const modelPath = option("model");
if (!modelPath) {
    console.error("usage: node server.mjs --model FILE.gguf [--port 8090] [--host 127.0.0.1] [--threads 2]");
    process.exit(2);
}
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({
    contextSize: Number(option("ctx", "4096")),
    threads: Number(option("threads", "2")),
});
const chat = new LlamaChat({contextSequence: context.getSequence()});
const modelName = option("name", "smollm2");

class BadRequest extends Error {}

/// OpenAI's messages as node-llama-cpp's chat history, ending with the model's turn to come.
function history(messages) {
    if (!Array.isArray(messages) || messages.length === 0) throw new BadRequest("`messages` must be a non-empty array");
    const items = [];
    const calls = new Map();
    for (const message of messages) {
        const text = typeof message.content === "string" ? message.content : "";
        switch (message.role) {
            case "system":
            case "developer":
                items.push({type: "system", text});
                break;
            case "user":
                items.push({type: "user", text});
                break;
            case "assistant": {
                const response = text ? [text] : [];
                for (const call of message.tool_calls ?? []) {
                    let params;
                    try { params = JSON.parse(call.function?.arguments ?? "{}"); } catch { params = {}; }
                    const item = {type: "functionCall", name: call.function?.name ?? "", params, result: ""};
                    calls.set(call.id, item);
                    response.push(item);
                }
                items.push({type: "model", response});
                break;
            }
            case "tool": {
                const call = calls.get(message.tool_call_id);
                if (!call) throw new BadRequest("a `tool` message answers no earlier tool call (`tool_call_id`)");
                call.result = text;
                break;
            }
            default:
                throw new BadRequest("unknown role `" + message.role + "`");
        }
    }
    items.push({type: "model", response: []});
    return items;
}

/// The schema a reply must follow, from `response_format`, or null.
function replySchema(format) {
    if (!format || format.type === "text") return null;
    if (format.type === "json_schema") {
        const schema = format.json_schema?.schema;
        if (!schema) throw new BadRequest("`response_format.json_schema.schema` is missing");
        return schema;
    }
    if (format.type === "json_object") return format.schema ?? {type: "object"};
    throw new BadRequest("`response_format.type` must be text, json_object or json_schema");
}

/// The function a forced `tool_choice` names (`required` with one tool is that tool), or null.
function forcedFunction(tools, choice) {
    if (!choice || choice === "auto" || choice === "none") return null;
    if (choice === "required") {
        if (tools.length === 1) return tools[0].function;
        throw new BadRequest("`tool_choice: required` is supported with one tool; name the function instead");
    }
    const name = choice.function?.name;
    const tool = tools.find((t) => t.function?.name === name);
    if (!tool) throw new BadRequest("`tool_choice` names no offered tool");
    return tool.function;
}

let nextId = 0;

async function complete(request) {
    const items = history(request.messages);
    const tools = Array.isArray(request.tools) ? request.tools : [];
    const schema = replySchema(request.response_format);
    const forced = forcedFunction(tools, request.tool_choice);
    const options = {
        maxTokens: request.max_tokens ?? undefined,
        temperature: request.temperature ?? undefined,
        seed: request.seed ?? undefined,
    };
    const functions = tools.length && !schema && !forced
        ? Object.fromEntries(tools.map((t) => [t.function.name, {description: t.function.description, params: t.function.parameters}]))
        : undefined;
    const grammarSchema = forced ? (forced.parameters ?? {type: "object"}) : schema;
    if (grammarSchema) options.grammar = await llama.createGrammarForJsonSchema(grammarSchema);
    if (functions) options.functions = functions;
    const promptTokens = chat.chatWrapper
        .generateContextState({chatHistory: items, availableFunctions: functions})
        .contextText.tokenize(model.tokenizer).length;
    const result = await chat.generateResponse(items, options);
    let toolCalls = (result.functionCalls ?? []).map((call) => ({name: call.functionName, arguments: JSON.stringify(call.params ?? {})}));
    let content = result.response;
    if (forced) {
        toolCalls = [{name: forced.name, arguments: content}];
        content = null;
    }
    const stopped = result.metadata.stopReason;
    const finish = toolCalls.length ? "tool_calls" : stopped === "maxTokens" ? "length" : "stop";
    const completionTokens = model.tokenize(result.response).length
        + toolCalls.reduce((n, call) => n + model.tokenize(call.name + call.arguments).length, 0);
    const id = nextId++;
    return {
        id: "chatcmpl-" + id,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: request.model ?? modelName,
        choices: [{
            index: 0,
            message: {
                role: "assistant",
                content,
                ...(toolCalls.length ? {tool_calls: toolCalls.map((call, i) => ({id: "call_" + id + "_" + i, type: "function", function: call}))} : {}),
            },
            finish_reason: finish,
        }],
        usage: {prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens},
    };
}

function send(response, status, body) {
    const text = JSON.stringify(body);
    response.writeHead(status, {"content-type": "application/json", "content-length": Buffer.byteLength(text)});
    response.end(text);
}

// The model answers one request at a time; the others wait their turn.
let queue = Promise.resolve();

const server = http.createServer((request, response) => {
    if (request.method === "GET" && request.url === "/v1/models") {
        send(response, 200, {object: "list", data: [{id: modelName, object: "model", owned_by: "tasknet-tests"}]});
        return;
    }
    if (request.method !== "POST" || request.url !== "/v1/chat/completions") {
        send(response, 404, {error: {message: "not found", type: "invalid_request_error"}});
        return;
    }
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
        queue = queue.then(async () => {
            try {
                const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
                send(response, 200, await complete(body));
            } catch (e) {
                const status = e instanceof BadRequest || e instanceof SyntaxError ? 400 : 500;
                send(response, status, {error: {message: String(e.message ?? e), type: status === 400 ? "invalid_request_error" : "server_error"}});
            }
        });
    });
});
server.listen(Number(option("port", "8090")), option("host", "127.0.0.1"), () => {
    console.error("tasknet llm-front listening on " + JSON.stringify(server.address()));
});
