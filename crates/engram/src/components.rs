//! Building the store, the embedder and the engine from configuration.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use engram_embed::{Embedder, HttpEmbedder, HttpFlavor, OnnxEmbedder, Reranker, TokenCounter};
use engram_embedded::EmbeddedStore;
use engram_engine::Engine;
use engram_engine::documents::DocumentsConfig;
use engram_engine::graph::GraphConfig;
use engram_engine::jobs::JobsConfig;
use engram_engine::llm_client::{Backoff, Llm, OpenAiLlm, OpenAiLlmConfig};
use engram_pg::PgStore;
use engram_store::Store;

use crate::config::{Config, DEFAULT_MODEL, EmbedderKind, RERANK_MODEL};

/// The PostgreSQL store when `DATABASE_URL` is set, else the embedded
/// store in the data directory. Either way pending migrations are applied.
pub async fn open_store(c: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = &c.database_url {
        let scheme = url.split(':').next().unwrap_or("");
        if !matches!(scheme, "postgres" | "postgresql") {
            bail!(
                "DATABASE_URL={scheme}://... is not supported: use postgres://user:password@host:5432/database, \
                 or unset it to use the embedded store in ENGRAM_DATA_DIR"
            );
        }
        let store = PgStore::connect(url, c.database_pool_size)
            .await
            .context("opening the PostgreSQL store (DATABASE_URL)")?;
        return Ok(Arc::new(store));
    }
    let store = EmbeddedStore::open(&c.data_dir)
        .with_context(|| format!("opening the embedded store in {}", c.data_dir.display()))?;
    Ok(Arc::new(store))
}

fn onnx_threads(c: &Config) -> usize {
    if c.onnx_threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        c.onnx_threads
    }
}

/// Loads the configured embedder. Blocking (model load or a network probe).
pub fn load_embedder(c: &Config) -> anyhow::Result<Arc<dyn Embedder>> {
    let flavor = match c.embedder {
        EmbedderKind::Onnx => {
            return Ok(Arc::new(OnnxEmbedder::load(
                &c.model_dir.join(DEFAULT_MODEL),
                &c.onnx_runtime_path(),
                DEFAULT_MODEL,
                &c.embed_query_prefix,
                onnx_threads(c),
            )?));
        }
        EmbedderKind::Openai => HttpFlavor::OpenAi,
        EmbedderKind::Ollama => HttpFlavor::Ollama,
    };
    let url = c
        .embed_url
        .as_deref()
        .context("the HTTP embedders (ENGRAM_EMBEDDER=openai or ollama) need ENGRAM_EMBED_URL")?;
    let model = c
        .embed_model
        .as_deref()
        .context("the HTTP embedders (ENGRAM_EMBEDDER=openai or ollama) need ENGRAM_EMBED_MODEL")?;
    Ok(Arc::new(HttpEmbedder::connect(
        flavor,
        url,
        model,
        c.embed_api_key.clone(),
        &c.embed_query_prefix,
    )?))
}

/// The cross-encoder, when reranking is configured. Blocking (model load).
fn load_reranker(c: &Config) -> anyhow::Result<Option<Arc<Reranker>>> {
    if c.retrieval.rerank_candidates == 0 {
        return Ok(None);
    }
    let dir = c.model_dir.join(RERANK_MODEL);
    let r = Reranker::load(
        &dir,
        &c.onnx_runtime_path(),
        onnx_threads(c),
        c.rerank_max_tokens,
    )
    .with_context(|| {
        format!(
            "reranking is on (rerank_candidates = {}) but the reranker could not be loaded from {}: \
             run scripts/fetch-model, or set ENGRAM_RERANK_CANDIDATES=0 to search without reranking",
            c.retrieval.rerank_candidates,
            dir.display()
        )
    })?;
    Ok(Some(Arc::new(r)))
}

/// The LLM client when `ENGRAM_LLM_URL` is set. Nothing is sent until a
/// feature needs it: an LLM that is down must not stop the server, whose
/// searches and writes never wait for it.
fn load_llm(c: &Config) -> anyhow::Result<Option<Arc<dyn Llm>>> {
    let Some(url) = &c.llm_url else {
        if c.llm_model.is_some() {
            bail!(
                "ENGRAM_LLM_MODEL is set but ENGRAM_LLM_URL is not: set both to use an LLM, or neither"
            );
        }
        return Ok(None);
    };
    let model = c.llm_model.clone().context(
        "ENGRAM_LLM_URL is set but ENGRAM_LLM_MODEL is not: name the model the API serves (docs/LLM.md)",
    )?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("ENGRAM_LLM_URL={url} is not an http:// or https:// URL");
    }
    let llm = OpenAiLlm::new(OpenAiLlmConfig {
        url: url.clone(),
        model,
        api_key: c.llm_api_key.clone(),
        timeout: Duration::from_secs(c.llm_timeout_seconds),
        retries: c.llm_retries,
        backoff: Backoff::default(),
    })?;
    tracing::info!(
        endpoint = llm.endpoint(),
        model = llm.model(),
        "LLM configured"
    );
    Ok(Some(Arc::new(llm)))
}

/// Store, embedder, tokenizer and engine, ready to serve.
pub async fn engine(c: &Config) -> anyhow::Result<Arc<Engine>> {
    let store = open_store(c).await?;
    let cfg = c.clone();
    let (embedder, tokens, reranker) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let embedder = load_embedder(&cfg)?;
        let tokens = TokenCounter::from_file(&cfg.tokenizer_path())?;
        let reranker = load_reranker(&cfg)?;
        Ok((embedder, Arc::new(tokens), reranker))
    })
    .await??;
    let mut engine = Engine::new(store, embedder, tokens, c.retrieval.clone())
        .await?
        // A search no one waits for past the request timeout stops then.
        .with_search_timeout(Duration::from_secs(c.request_timeout_seconds));
    if let Some(r) = reranker {
        engine = engine.with_reranker(r);
    }
    if let Some(llm) = load_llm(c)? {
        engine = engine.with_llm(llm);
    }
    let jobs = JobsConfig {
        workers: c.job_workers,
        lease: Duration::from_secs(c.job_lease_seconds),
        max_attempts: c.job_max_attempts,
        retention: Duration::from_secs(c.job_retention_days.saturating_mul(24 * 3600)),
        ..JobsConfig::default()
    };
    let graph = GraphConfig {
        mode: c.graph,
        merge_similarity: c.graph_merge_similarity,
    };
    Ok(Arc::new(
        engine
            .with_prices(c.prices.clone())
            .with_jobs_config(jobs)
            .with_documents_config(DocumentsConfig {
                max_bytes: c.upload_max_bytes,
                ..DocumentsConfig::default()
            })
            .with_graph(graph),
    ))
}
