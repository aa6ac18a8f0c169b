//! `engram memories add|get|list|search|delete` and `engram context`.

use anyhow::bail;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::Output;
use super::table::{cell, objects, render, time};
use crate::client::Api;

/// The scope filters every listing, search and context takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Scope {
    #[arg(long)]
    pub user_id: Option<String>,
    #[arg(long)]
    pub agent_id: Option<String>,
    #[arg(long)]
    pub session_id: Option<String>,
}

impl Scope {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("user_id", &self.user_id),
            ("agent_id", &self.agent_id),
            ("session_id", &self.session_id),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
    }

    fn is_empty(&self) -> bool {
        self.pairs().is_empty()
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum Memories {
    /// Add a memory; prints it.
    Add {
        content: String,
        #[command(flatten)]
        scope: Scope,
        /// episodic (default), semantic or procedural.
        #[arg(long)]
        kind: Option<String>,
        /// A label (repeat for several).
        #[arg(long = "label")]
        labels: Vec<String>,
        /// 0.0 to 1.0 (default 0.5).
        #[arg(long)]
        importance: Option<f32>,
        /// When it happened (RFC 3339); default now.
        #[arg(long)]
        occurred_at: Option<String>,
        /// A JSON object.
        #[arg(long)]
        metadata: Option<String>,
    },
    /// Print one memory.
    Get { id: String },
    /// List memories, newest first.
    List {
        #[command(flatten)]
        scope: Scope,
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        /// At most this many (pages are walked until then).
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Hybrid search, best first.
    Search {
        query: String,
        #[command(flatten)]
        scope: Scope,
        /// Only memories carrying this label (repeat: all of them).
        #[arg(long = "label")]
        labels: Vec<String>,
        /// 1 to 100.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// hybrid (default), vector or keyword.
        #[arg(long)]
        mode: Option<String>,
    },
    /// Delete one memory by id, or every memory of a user, agent or session.
    Delete {
        /// The memory to delete; without it, the scope flags say whose.
        id: Option<String>,
        #[command(flatten)]
        scope: Scope,
    },
}

/// `engram context`: the block a prompt would get.
#[derive(clap::Args, Debug)]
pub struct ContextArgs {
    query: String,
    #[command(flatten)]
    scope: Scope,
    /// Upper bound on the block's tokens.
    #[arg(long, default_value_t = 1000)]
    token_budget: usize,
}

const PAGE: usize = 1000;

pub fn run(api: &Api, cmd: &Memories, out: Output) -> anyhow::Result<()> {
    match cmd {
        Memories::Add {
            content,
            scope,
            kind,
            labels,
            importance,
            occurred_at,
            metadata,
        } => {
            let mut body = Map::new();
            body.insert("content".into(), json!(content));
            for (k, v) in scope.pairs() {
                body.insert(k.into(), json!(v));
            }
            if let Some(k) = kind {
                body.insert("kind".into(), json!(k));
            }
            if !labels.is_empty() {
                body.insert("labels".into(), json!(labels));
            }
            if let Some(i) = importance {
                body.insert("importance".into(), json!(i));
            }
            if let Some(t) = occurred_at {
                body.insert("occurred_at".into(), json!(t));
            }
            if let Some(m) = metadata {
                let m: Value = serde_json::from_str(m)
                    .map_err(|e| anyhow::anyhow!("--metadata is not JSON: {e}"))?;
                body.insert("metadata".into(), m);
            }
            let m = api.call(
                Method::POST,
                "/v1/memories",
                &[],
                Some(&Value::Object(body)),
            )?;
            out.print(&m, one)
        }
        Memories::Get { id } => {
            let m = api.call(Method::GET, &format!("/v1/memories/{id}"), &[], None)?;
            out.print(&m, one)
        }
        Memories::List {
            scope,
            label,
            kind,
            limit,
        } => {
            let mut query = scope.pairs();
            query.extend(label.clone().map(|l| ("label", l)));
            query.extend(kind.clone().map(|k| ("kind", k)));
            let items = list(api, query, *limit)?;
            out.print(&Value::Array(items), |v| {
                objects(v, &["id", "occurred_at", "user_id", "kind", "content"])
            })
        }
        Memories::Search {
            query,
            scope,
            labels,
            limit,
            mode,
        } => {
            let mut filters = Map::new();
            for (k, v) in scope.pairs() {
                filters.insert(k.into(), json!(v));
            }
            if !labels.is_empty() {
                filters.insert("labels".into(), json!(labels));
            }
            let mut body = json!({ "query": query, "limit": limit, "filters": filters });
            if let Some(m) = mode {
                body["mode"] = json!(m);
            }
            let r = api.call(Method::POST, "/v1/search", &[], Some(&body))?;
            out.print(&r, |r| {
                let rows: Vec<Vec<String>> = r["results"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| {
                        let m = &x["memory"];
                        vec![
                            format!("{:.3}", x["score"].as_f64().unwrap_or(0.0)),
                            cell(&m["id"]),
                            time(&m["occurred_at"]),
                            cell(&m["user_id"]),
                            cell(&m["content"]),
                        ]
                    })
                    .collect();
                render(&["score", "id", "occurred_at", "user_id", "content"], &rows)
            })
        }
        Memories::Delete { id, scope } => match (id, scope.is_empty()) {
            (Some(id), true) => {
                api.call(Method::DELETE, &format!("/v1/memories/{id}"), &[], None)?;
                out.print(&json!({ "deleted": 1 }), |_| format!("deleted memory {id}"))
            }
            (None, false) => {
                let r = api.call(Method::DELETE, "/v1/memories", &scope.pairs(), None)?;
                out.print(&r, |r| format!("deleted {} memories", r["deleted"]))
            }
            (Some(_), false) => {
                bail!("give a memory id or --user-id/--agent-id/--session-id, not both")
            }
            (None, true) => bail!(
                "give a memory id, or --user-id/--agent-id/--session-id to delete all of theirs"
            ),
        },
    }
}

/// Up to `limit` memories under `query`, walking the pages.
fn list(api: &Api, query: Vec<(&str, String)>, limit: usize) -> anyhow::Result<Vec<Value>> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    while items.len() < limit {
        let mut q = query.clone();
        q.push(("limit", (limit - items.len()).min(PAGE).to_string()));
        q.extend(cursor.take().map(|c| ("cursor", c)));
        let page = api.call(Method::GET, "/v1/memories", &q, None)?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    Ok(items)
}

pub fn context(api: &Api, args: &ContextArgs, out: Output) -> anyhow::Result<()> {
    let filters: Map<String, Value> = args
        .scope
        .pairs()
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let body =
        json!({ "query": args.query, "token_budget": args.token_budget, "filters": filters });
    let r = api.call(Method::POST, "/v1/context", &[], Some(&body))?;
    out.print(&r, |r| {
        format!(
            "{}\n({} tokens, {} memories)",
            r["context"].as_str().unwrap_or(""),
            r["tokens"],
            r["items"].as_array().map_or(0, Vec::len)
        )
    })
}

/// One memory as `field  value` lines.
fn one(m: &Value) -> String {
    let fields = [
        "id",
        "content",
        "kind",
        "user_id",
        "agent_id",
        "session_id",
        "labels",
        "importance",
        "occurred_at",
        "created_at",
    ];
    let rows: Vec<Vec<String>> = fields
        .iter()
        .map(|f| vec![f.to_string(), cell(&m[*f])])
        .collect();
    render(&["field", "value"], &rows)
}
