//! Retrieval mechanisms over HTTP with the real models: contextual
//! embedding within a session, and the optional cross-encoder reranker.

mod common;

use common::{Opts, Server, Workdir, free_port, model_dir, run_engram};
use serde_json::{Value, json};

/// Vector-mode score of the best memory of `user` for `query`.
fn best_score(s: &Server, key: &str, user: &str, query: &str) -> f64 {
    let r = s.post(
        "/v1/search",
        key,
        &json!({ "query": query, "mode": "vector", "filters": { "user_id": user } }),
    );
    let body = r.expect(200);
    body["results"][0]["score"].as_f64().unwrap_or(f64::NAN)
}

#[test]
fn a_session_turn_is_embedded_with_the_turn_before_it() {
    let s = Server::start(Opts::default().env("ENGRAM_SESSION_CONTEXT", "1"));
    let tenant = s.create_tenant("context");
    let key = s.create_key(&tenant, &["read", "write"]);
    let reply = "It was wonderful, we want to go back.";

    // The same reply, once alone and once after the turn it answers.
    s.add(&key, &json!({ "content": reply, "user_id": "alone" }));
    s.add(
        &key,
        &json!({ "content": "Bob: How was your honeymoon in Kyoto?",
                 "user_id": "chat", "session_id": "s1" }),
    );
    let in_session = s.add(
        &key,
        &json!({ "content": reply, "user_id": "chat", "session_id": "s1" }),
    );
    // Context changes the vector only, never the content.
    assert_eq!(in_session["content"], json!(reply));

    let query = "honeymoon trip to Japan";
    let alone = best_score(&s, &key, "alone", query);
    let with_session = s.post(
        "/v1/search",
        &key,
        &json!({ "query": query, "mode": "vector", "limit": 5,
                 "filters": { "user_id": "chat" } }),
    );
    let hits = with_session.expect(200)["results"]
        .as_array()
        .unwrap()
        .clone();
    let reply_hit: &Value = hits
        .iter()
        .find(|h| h["memory"]["id"] == in_session["id"])
        .expect("the reply is found in its session");
    let contextual = reply_hit["score"].as_f64().unwrap();
    assert!(
        contextual > alone + 0.05,
        "in context the reply is about the honeymoon: {contextual} vs {alone} alone"
    );
}

#[test]
fn reranking_keeps_the_right_memory_first() {
    let s = Server::start(
        Opts::default()
            .env("ENGRAM_RERANK_CANDIDATES", "8")
            .env("ENGRAM_RERANK_WEIGHT", "1.0"),
    );
    let tenant = s.create_tenant("rerank");
    let key = s.create_key(&tenant, &["read", "write"]);
    let mut ids = Vec::new();
    for text in [
        "Caroline went to an LGBTQ support group on Tuesday.",
        "Melanie painted a sunrise over the lake last year.",
        "Caroline is researching adoption agencies.",
        "Melanie's kids love pottery classes.",
        "Caroline moved from Sweden four years ago.",
    ] {
        ids.push(s.add_text(&key, "u", text));
    }
    let hits = s.search_ids(&key, &json!({ "query": "Where did Caroline move from?" }));
    assert_eq!(hits.first(), Some(&ids[4]), "{hits:?}");
    assert_eq!(hits.len(), ids.len());
}

#[test]
fn reranking_without_the_model_is_refused_at_startup() {
    let work = Workdir::new();
    // A model directory with the embedder and runtime but no reranker.
    let models = work.data("models");
    std::fs::create_dir_all(&models).unwrap();
    for name in ["bge-small-en-v1.5", "onnxruntime"] {
        std::os::unix::fs::symlink(model_dir().join(name), models.join(name)).unwrap();
    }
    let listen = format!("127.0.0.1:{}", free_port());
    let opts = Opts::default()
        .env("ENGRAM_MODEL_DIR", models.to_str().unwrap())
        .env("ENGRAM_RERANK_CANDIDATES", "10");
    let out = run_engram(&opts, &work.data("data"), &listen, &["serve"]);
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("ENGRAM_RERANK_CANDIDATES=0") && out.stderr.contains("fetch-model"),
        "the error says how to fix it:\n{}",
        out.stderr
    );

    // Turned off, the same installation serves.
    let opts = opts.env("ENGRAM_RERANK_CANDIDATES", "0");
    let mut s = Server::start_in(&work, &work.data("data"), opts);
    s.terminate();
}
