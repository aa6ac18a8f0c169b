//! MCP, driven by the official Python SDK (`tests/mcp/client.py`) as a real
//! agent would: over Streamable HTTP against `engram serve`, and over stdio
//! through `engram mcp` on the same data directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ADMIN_KEY, Opts, Server, Workdir, model_dir, pg, run_engram};
use serde_json::{Value, json};

const TOOLS: [&str; 14] = [
    "add_memory",
    "search_memories",
    "get_memory",
    "list_memories",
    "update_memory",
    "delete_memory",
    "delete_all_memories",
    "get_context",
    "memory_history",
    "list_conversations",
    "search_conversations",
    "read_conversation",
    "lookup_entity",
    "entity_relations",
];
const DOG: &str = "Marta's dog is called Bruno; he is a three-year-old beagle.";
const QUESTION: &str = "what is the name of Marta's dog?";

/// The Python of the venv that `scripts/test` makes with the pinned SDK.
fn python() -> PathBuf {
    common::installed(
        "ENGRAM_TEST_MCP_PYTHON",
        ".cache/mcp-venv/bin/python",
        "run scripts/test, which makes .cache/mcp-venv, or `python3 -m venv .cache/mcp-venv && \
         .cache/mcp-venv/bin/pip install -r crates/engram/tests/mcp/requirements.txt`",
    )
}

/// Runs the SDK client with `plan`; returns its report (or the connection
/// error it printed).
fn drive(plan: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/client.py");
    let out = Command::new(python())
        .arg(script)
        .arg(plan.to_string())
        .output()
        .expect("running the MCP client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "the MCP client printed no report ({}):\n{stdout}\n{stderr}",
            out.status
        )
    })
}

fn calls(list: &[(&str, Value)]) -> Value {
    list.iter()
        .map(|(tool, arguments)| json!({ "tool": tool, "arguments": arguments }))
        .collect()
}

fn over_http(s: &Server, key: &str, mode: &str, list: &[(&str, Value)]) -> Value {
    drive(&json!({
        "transport": "http", "url": s.url("/mcp"), "key": key, "mode": mode, "calls": calls(list)
    }))
}

fn over_stdio(data: &Path, key: &str, list: &[(&str, Value)]) -> Value {
    stdio_with(&stdio_env(data, key), list)
}

/// `engram mcp` with exactly the environment `env`.
fn stdio_with(env: &Value, list: &[(&str, Value)]) -> Value {
    drive(&json!({
        "transport": "stdio",
        "command": env!("CARGO_BIN_EXE_engram"),
        "args": ["mcp"],
        "env": env,
        "mode": "legacy",
        "calls": calls(list),
    }))
}

fn stdio_env(data: &Path, key: &str) -> Value {
    let mut env = json!({
        "ENGRAM_API_KEY": key,
        "ENGRAM_DATA_DIR": data,
        "ENGRAM_MODEL_DIR": model_dir(),
        "ENGRAM_ONNX_THREADS": "1",
        "RUST_LOG": "info",
        "NO_COLOR": "1",
    });
    // The same store as the servers of this data directory.
    if common::pg::backend_is_postgres() {
        env["DATABASE_URL"] = json!(common::pg::database_for(data));
    }
    env
}

/// Result `i` of a report, which must be a successful tool call.
#[track_caller]
fn ok(report: &Value, i: usize) -> &Value {
    let r = &report["results"][i];
    assert_eq!(r["is_error"], json!(false), "call {i} failed: {report:#}");
    r
}

/// Result `i` of a report, which must be a tool error (not a protocol
/// error) whose text contains `needle`.
#[track_caller]
fn tool_error(report: &Value, i: usize, needle: &str) -> String {
    let r = &report["results"][i];
    assert_eq!(
        r["is_error"],
        json!(true),
        "call {i} should be a tool error: {report:#}"
    );
    let text = r["text"].as_str().unwrap_or_default().to_string();
    assert!(
        text.contains(needle),
        "call {i}: {text:?} should mention {needle:?}"
    );
    text
}

fn ids(search: &Value) -> Vec<String> {
    search["structured"]["results"]
        .as_array()
        .expect("search results")
        .iter()
        .map(|r| r["memory"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[track_caller]
fn assert_all_tools(report: &Value) {
    assert!(report.get("connect_error").is_none(), "{report:#}");
    let names: Vec<&str> = report["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, TOOLS, "{report:#}");
    for t in report["tools"].as_array().unwrap() {
        assert_eq!(t["inputSchema"]["type"], json!("object"), "{t}");
        assert!(
            t["description"].as_str().is_some_and(|d| d.len() > 60),
            "{t}"
        );
    }
    assert_eq!(report["server"]["name"], json!("engram"));
}

/// The acceptance flow of one tenant: add, search, context, read back.
fn remember_and_recall() -> Vec<(&'static str, Value)> {
    vec![
        (
            "add_memory",
            json!({ "content": DOG, "user_id": "marta", "labels": ["pets"] }),
        ),
        (
            "add_memory",
            json!({ "content": "Marta works night shifts as a nurse in Lisbon.", "user_id": "marta" }),
        ),
        (
            "add_memory",
            json!({ "content": "Jonas has a cat named Olive.", "user_id": "jonas" }),
        ),
        (
            "search_memories",
            json!({ "query": QUESTION, "user_id": "marta" }),
        ),
        (
            "get_context",
            json!({ "query": QUESTION, "user_id": "marta", "token_budget": 300 }),
        ),
        ("get_memory", json!({ "id": "$0.id" })),
        (
            "list_memories",
            json!({ "user_id": "marta", "labels": ["pets"] }),
        ),
        ("memory_history", json!({ "id": "$0.id" })),
    ]
}

#[track_caller]
fn check_recall(report: &Value) -> String {
    assert_all_tools(report);
    let id = ok(report, 0)["structured"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(ok(report, 0)["structured"]["content"], json!(DOG));
    assert!(ok(report, 0)["text"].as_str().unwrap().contains(&id));
    let search = ok(report, 3);
    assert_eq!(ids(search).first(), Some(&id), "{search:#}");
    assert!(
        search["text"].as_str().unwrap().contains("Bruno"),
        "{search:#}"
    );
    assert!(
        !search["text"].as_str().unwrap().contains("Olive"),
        "user_id scopes the search: {search:#}"
    );
    let context = ok(report, 4);
    let block = context["text"].as_str().unwrap();
    assert!(block.contains("Bruno"), "{block}");
    assert_eq!(
        context["structured"]["items"][0]["id"],
        json!(id),
        "the block cites the memory first: {context:#}"
    );
    assert!(context["structured"]["tokens"].as_u64().unwrap() <= 300);
    assert_eq!(ok(report, 5)["structured"]["content"], json!(DOG));
    let listed = &ok(report, 6)["structured"]["items"];
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let history = ok(report, 7);
    assert_eq!(
        history["structured"]["versions"][0]["id"],
        json!(id),
        "{history:#}"
    );
    assert!(
        history["text"]
            .as_str()
            .unwrap()
            .starts_with("v1 (valid always to now)")
    );
    id
}

#[test]
fn streamable_http_serves_the_tools_to_the_python_sdk() {
    let s = Server::start(Opts::default());
    let a = s.create_tenant("a");
    let key_a = s.create_key(&a, &["read", "write"]);
    let b = s.create_tenant("b");
    let key_b = s.create_key(&b, &["read", "write"]);

    let report = over_http(&s, &key_a, "legacy", &remember_and_recall());
    let id = check_recall(&report);

    // Another tenant's key never sees the memory, by id or by search, and
    // cannot delete it.
    let other = over_http(
        &s,
        &key_b,
        "legacy",
        &[
            ("get_memory", json!({ "id": id })),
            ("search_memories", json!({ "query": QUESTION })),
            ("delete_all_memories", json!({ "user_id": "marta" })),
        ],
    );
    let text = tool_error(&other, 0, "not found");
    assert!(!text.contains("Bruno"), "{text}");
    assert_eq!(ids(ok(&other, 1)), Vec::<String>::new());
    assert_eq!(ok(&other, 2)["structured"]["deleted"], json!(0));

    // Bad arguments are tool errors naming the argument; an unknown tool
    // is a protocol error.
    let bad = over_http(
        &s,
        &key_a,
        "legacy",
        &[
            ("search_memories", json!({ "query": 5 })),
            ("search_memories", json!({ "user_id": "marta" })),
            ("add_memory", json!({ "content": "x", "userId": "marta" })),
            ("search_memories", json!({ "query": "dog", "limit": 0 })),
            ("delete_all_memories", json!({})),
            ("get_memory", json!({ "id": "no-such-id" })),
            ("forget_everything", json!({})),
        ],
    );
    tool_error(&bad, 0, "query");
    tool_error(&bad, 1, "query");
    tool_error(&bad, 2, "unknown argument `userId`");
    tool_error(&bad, 3, "limit");
    tool_error(&bad, 4, "user_id");
    tool_error(&bad, 5, "not found");
    let protocol = bad["results"][6]["protocol_error"]
        .as_str()
        .unwrap_or_default();
    assert!(protocol.contains("forget_everything"), "{bad:#}");
    assert_eq!(
        bad["results"][0]["structured"]["error"]["field"],
        json!("query")
    );
    // Each tool error carries the REST API's code, and its coarse kind.
    let code_kind = |r: &Value, i: usize| {
        let e = &r["results"][i]["structured"]["error"];
        (e["code"].clone(), e["kind"].clone())
    };
    for i in 0..5 {
        assert_eq!(
            code_kind(&bad, i),
            (json!("invalid_field"), json!("invalid_argument")),
            "{bad:#}"
        );
    }
    assert_eq!(code_kind(&bad, 5), (json!("not_found"), json!("not_found")));

    // A client that negotiates with `server/discover` (the SDK's default)
    // works too, and update/delete round-trip.
    let modern = over_http(
        &s,
        &key_a,
        "auto",
        &[
            (
                "update_memory",
                json!({ "id": id, "importance": 0.9, "labels": ["pets", "dogs"] }),
            ),
            (
                "add_memory",
                json!({ "content": "Temporary note.", "user_id": "marta" }),
            ),
            ("delete_memory", json!({ "id": "$1.id" })),
            ("get_memory", json!({ "id": "$1.id" })),
        ],
    );
    assert_all_tools(&modern);
    assert_eq!(
        ok(&modern, 0)["structured"]["labels"],
        json!(["dogs", "pets"])
    );
    ok(&modern, 2);
    tool_error(&modern, 3, "not found");

    // Deleting everything of a user removes exactly that user's memories.
    let wipe = over_http(
        &s,
        &key_a,
        "legacy",
        &[
            ("delete_all_memories", json!({ "user_id": "marta" })),
            (
                "search_memories",
                json!({ "query": QUESTION, "user_id": "marta" }),
            ),
            ("get_memory", json!({ "id": id })),
            ("list_memories", json!({})),
        ],
    );
    assert_eq!(ok(&wipe, 0)["structured"]["deleted"], json!(2));
    assert_eq!(ids(ok(&wipe, 1)), Vec::<String>::new());
    tool_error(&wipe, 2, "not found");
    let left = &ok(&wipe, 3)["structured"]["items"];
    assert_eq!(
        left.as_array().unwrap().len(),
        1,
        "jonas's memory stays: {left}"
    );
    assert!(s.list_all(&key_a, "user_id=marta").is_empty());
}

#[test]
fn keys_and_scopes_guard_the_http_endpoint() {
    let s = Server::start(Opts::default());
    let t = s.create_tenant("t");
    let writer = s.create_key(&t, &["read", "write"]);
    let reader = s.create_key(&t, &["read"]);
    let id = s.add_text(&writer, "marta", DOG);

    // A read-only key reads, and every write tool is refused as a tool error.
    let ro = over_http(
        &s,
        &reader,
        "legacy",
        &[
            (
                "search_memories",
                json!({ "query": QUESTION, "user_id": "marta" }),
            ),
            ("add_memory", json!({ "content": "x", "user_id": "marta" })),
            ("update_memory", json!({ "id": id, "content": "changed" })),
            ("delete_memory", json!({ "id": id })),
            ("delete_all_memories", json!({ "user_id": "marta" })),
        ],
    );
    assert_all_tools(&ro);
    assert_eq!(ids(ok(&ro, 0)), std::slice::from_ref(&id));
    for i in 1..=4 {
        tool_error(&ro, i, "'write' scope");
        assert_eq!(
            ro["results"][i]["structured"]["error"]["code"],
            json!("missing_scope")
        );
    }
    let m = s.get(&format!("/v1/memories/{id}"), &writer);
    assert_eq!(m.expect(200)["content"], json!(DOG), "nothing was changed");

    // No key, a wrong key, or the admin key: refused before MCP starts,
    // with the same problem+json as the REST API.
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": { "name": "curl", "version": "1" } }
    });
    let body = init.to_string();
    let post = |auth: Option<&str>| {
        let mut headers = vec![
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ];
        headers.extend(auth.map(|a| ("authorization", a)));
        s.raw("POST", "/mcp", &headers, body.clone())
    };
    post(None).expect_problem(401, None);
    post(Some("Bearer egk_wrong")).expect_problem(401, None);
    post(Some(&format!("Bearer {ADMIN_KEY}"))).expect_problem(403, None);
    let failed = drive(&json!({ "transport": "http", "url": s.url("/mcp"), "calls": [] }));
    assert!(
        failed["connect_error"].is_string() && failed.get("tools").is_none(),
        "the SDK cannot connect without a key: {failed}"
    );

    // /mcp counts in the same metrics as the REST routes.
    let metrics = s.get_open("/metrics").text;
    assert!(
        metrics.contains("route=\"/mcp\"") && metrics.contains("engram_mcp_tool_calls_total"),
        "{metrics}"
    );
}

#[test]
fn stdio_serves_the_same_tools_on_the_same_data_directory() {
    let work = Workdir::new();
    let data = work.data("data");
    let mut s = Server::start_in(&work, &data, Opts::default());
    let a = s.create_tenant("a");
    let key_a = s.create_key(&a, &["read", "write"]);
    let reader_a = s.create_key(&a, &["read"]);
    let b = s.create_tenant("b");
    let key_b = s.create_key(&b, &["read", "write"]);

    // While the server runs, `engram mcp` refuses an embedded data
    // directory (PostgreSQL serves any number of processes).
    if !common::pg::backend_is_postgres() {
        let busy = run_engram(
            &Opts::default().env("ENGRAM_API_KEY", &key_a),
            &data,
            "127.0.0.1:0",
            &["mcp"],
        );
        assert!(!busy.status.success(), "{}", busy.stderr);
        assert!(
            busy.stderr.contains(&format!("in use by pid {}", s.pid())),
            "names the process holding the directory:\n{}",
            busy.stderr
        );
    }
    s.terminate();

    let report = over_stdio(&data, &key_a, &remember_and_recall());
    let id = check_recall(&report);

    let other = over_stdio(
        &data,
        &key_b,
        &[
            ("get_memory", json!({ "id": id })),
            ("search_memories", json!({ "query": QUESTION })),
        ],
    );
    assert_all_tools(&other);
    tool_error(&other, 0, "not found");
    assert_eq!(ids(ok(&other, 1)), Vec::<String>::new());

    let ro = over_stdio(
        &data,
        &reader_a,
        &[
            ("get_memory", json!({ "id": id })),
            ("delete_all_memories", json!({ "user_id": "marta" })),
            ("search_memories", json!({ "query": 1 })),
        ],
    );
    ok(&ro, 0);
    tool_error(&ro, 1, "'write' scope");
    tool_error(&ro, 2, "query");

    let wipe = over_stdio(
        &data,
        &key_a,
        &[
            ("delete_all_memories", json!({ "user_id": "marta" })),
            (
                "search_memories",
                json!({ "query": QUESTION, "user_id": "marta" }),
            ),
        ],
    );
    assert_eq!(ok(&wipe, 0)["structured"]["deleted"], json!(2));
    assert_eq!(ids(ok(&wipe, 1)), Vec::<String>::new());

    // What stdio wrote is what the server serves after a restart.
    s.restart();
    assert!(s.list_all(&key_a, "user_id=marta").is_empty());
    assert_eq!(s.list_all(&key_a, "user_id=jonas").len(), 1);
    s.terminate();

    // Without a usable key, `engram mcp` exits at once and says why.
    let none = run_engram(&Opts::default(), &data, "127.0.0.1:0", &["mcp"]);
    assert!(!none.status.success());
    assert!(
        none.stderr.contains("ENGRAM_API_KEY is not set"),
        "{}",
        none.stderr
    );
    assert!(
        none.stdout.is_empty(),
        "stdout is the protocol's alone: {}",
        none.stdout
    );
    let revoked = run_engram(
        &Opts::default().env("ENGRAM_API_KEY", "egk_not-a-key"),
        &data,
        "127.0.0.1:0",
        &["mcp"],
    );
    assert!(!revoked.status.success());
    assert!(
        revoked.stderr.contains("unknown or was revoked"),
        "{}",
        revoked.stderr
    );
}

/// A row corrupted in PostgreSQL behind engram's back: over stdio the call
/// reading it is a tool error (details only in the log), and the same
/// session keeps answering; a column of another type, which used to panic,
/// too. Always on PostgreSQL (needs `ENGRAM_TEST_DATABASE_URL`).
#[test]
fn stdio_answers_a_corrupted_postgres_row_with_a_tool_error() {
    let work = Workdir::new();
    let data = work.data("data");
    let db = pg::Database::new();
    let s = Server::start_in(&work, &data, Opts::default().env("DATABASE_URL", &db.url));
    let t = s.create_tenant("acme");
    let key = s.create_key(&t, &["read", "write"]);
    let bad = s.add_text(&key, "marta", DOG);
    let good = s.add_text(&key, "marta", "Marta lives in Lisbon.");
    let mut env = stdio_env(&data, &key);
    env["DATABASE_URL"] = json!(db.url);
    let tenant_url = pg::with_session_tenant(&db.url, &t);

    pg::psql(
        &tenant_url,
        &format!("UPDATE memories SET kind = 'bogus' WHERE id = '{bad}'"),
    );
    let report = stdio_with(
        &env,
        &[
            ("get_memory", json!({ "id": bad })),
            ("get_memory", json!({ "id": good })),
        ],
    );
    assert_all_tools(&report);
    let text = tool_error(&report, 0, "internal error");
    assert!(
        !text.contains("Bruno"),
        "no stored content in errors: {text}"
    );
    ok(&report, 1);

    pg::psql(
        &db.url,
        "ALTER TABLE memories ALTER COLUMN importance TYPE text USING importance::text",
    );
    let report = stdio_with(
        &env,
        &[
            ("get_memory", json!({ "id": good })),
            (
                "search_memories",
                json!({ "query": QUESTION, "user_id": "nobody" }),
            ),
        ],
    );
    assert_all_tools(&report);
    tool_error(&report, 0, "internal error");
    assert_eq!(ids(ok(&report, 1)), Vec::<String>::new());
}

/// The conversation tools mirror REST: list by folder, search inside one
/// conversation, read one oldest first; another tenant's id is not found.
#[test]
fn conversation_tools_list_search_and_read_threads() {
    let s = Server::start(Opts::default());
    let tenant = s.create_tenant("mcp-conversations");
    let key = s.create_key(&tenant, &["read", "write"]);
    let c = s
        .post(
            "/v1/conversations",
            &key,
            &json!({"title": "Garden planning", "folder": "home/garden"}),
        )
        .expect(201)
        .clone();
    let id = c["id"].as_str().unwrap();
    for (role, content) in [
        (
            "user",
            "When should I plant garlic cloves in a cold climate?",
        ),
        (
            "assistant",
            "Plant garlic in mid autumn, a few weeks before the ground freezes.",
        ),
    ] {
        s.post(
            &format!("/v1/conversations/{id}/messages"),
            &key,
            &json!({"role": role, "content": content}),
        )
        .expect(201);
    }
    let report = over_http(
        &s,
        &key,
        "legacy",
        &[
            ("list_conversations", json!({"folder": "home"})),
            (
                "search_conversations",
                json!({"query": "when to plant garlic", "conversation_id": id}),
            ),
            ("read_conversation", json!({"id": id})),
            ("read_conversation", json!({"id": "not-a-conversation"})),
            ("list_conversations", json!({"folder": "a//b"})),
        ],
    );
    assert_all_tools(&report);
    let listed = ok(&report, 0);
    assert_eq!(listed["structured"]["items"][0]["id"], json!(id));
    assert!(listed["text"].as_str().unwrap().contains("Garden planning"));
    let found = ok(&report, 1);
    assert!(
        found["text"].as_str().unwrap().contains("mid autumn"),
        "{found:#}"
    );
    let read = ok(&report, 2);
    let text = read["text"].as_str().unwrap();
    assert!(
        text.find("user: When should").unwrap() < text.find("assistant: Plant garlic").unwrap(),
        "{text}"
    );
    tool_error(&report, 3, "not found");
    tool_error(&report, 4, "folder");

    let other = s.create_tenant("mcp-other");
    let other_key = s.create_key(&other, &["read"]);
    let report = over_http(
        &s,
        &other_key,
        "legacy",
        &[
            ("read_conversation", json!({"id": id})),
            ("list_conversations", json!({})),
        ],
    );
    tool_error(&report, 0, "not found");
    assert!(
        ok(&report, 1)["text"]
            .as_str()
            .unwrap()
            .contains("No conversations")
    );
}

/// The graph tools: an entity looked up by part of its name with what is
/// known of it, its relations, a search following the graph; another
/// tenant finds nothing.
#[test]
fn graph_tools_look_up_entities_and_their_relations() {
    let s = Server::start(Opts::default().env("ENGRAM_GRAPH", "rules"));
    let tenant = s.create_tenant("mcp-graph");
    let key = s.create_key(&tenant, &["read", "write"]);
    let r = s.post(
        "/v1/memories",
        &key,
        &json!({"content": "My friend Caroline moved to Lisbon.", "user_id": "u"}),
    );
    r.expect(201);
    let job = r.header("engram-jobs").expect("the graph job").to_string();
    s.job_done(&key, &job, std::time::Duration::from_secs(60));
    let id = s.get("/v1/entities?name=carol", &key).expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let report = over_http(
        &s,
        &key,
        "legacy",
        &[
            ("lookup_entity", json!({"name": "carol", "user_id": "u"})),
            ("entity_relations", json!({"id": id, "all": true})),
            ("lookup_entity", json!({"name": "nobody"})),
            ("entity_relations", json!({"id": "not-an-entity"})),
            (
                "search_memories",
                json!({"query": "caroline", "graph_depth": 1}),
            ),
            (
                "search_memories",
                json!({"query": "caroline", "graph_depth": 5}),
            ),
        ],
    );
    assert_all_tools(&report);
    let found = ok(&report, 0);
    let text = found["text"].as_str().unwrap();
    assert!(
        text.contains("Caroline (name)") && text.contains("mentioned in 1 memories"),
        "{text}"
    );
    assert_eq!(found["structured"]["items"][0]["entity"]["id"], json!(id));
    assert!(
        ok(&report, 1)["text"]
            .as_str()
            .unwrap()
            .contains("No relations")
    );
    assert!(
        ok(&report, 2)["text"]
            .as_str()
            .unwrap()
            .contains("No entity")
    );
    tool_error(&report, 3, "not found");
    assert!(ok(&report, 4)["text"].as_str().unwrap().contains("Lisbon"));
    tool_error(&report, 5, "graph.depth");

    let other = s.create_key(&s.create_tenant("mcp-graph-other"), &["read"]);
    let report = over_http(
        &s,
        &other,
        "legacy",
        &[
            ("lookup_entity", json!({"name": "carol"})),
            ("entity_relations", json!({"id": id})),
        ],
    );
    assert!(
        ok(&report, 0)["text"]
            .as_str()
            .unwrap()
            .contains("No entity")
    );
    tool_error(&report, 1, "not found");
}
