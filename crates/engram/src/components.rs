//! Building the store, the embedder and the engine from configuration.

use std::sync::Arc;

use anyhow::{Context, bail};
use engram_embed::{Embedder, HttpEmbedder, HttpFlavor, OnnxEmbedder, TokenCounter};
use engram_engine::Engine;
use engram_store::{EmbeddedStore, Store};

use crate::config::{Config, DEFAULT_MODEL};

pub fn open_store(c: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = &c.database_url {
        let scheme = url.split(':').next().unwrap_or("");
        bail!(
            "DATABASE_URL is set ({scheme}://...), but this build of engram has no PostgreSQL backend yet; \
             unset DATABASE_URL to use the embedded store in ENGRAM_DATA_DIR"
        );
    }
    let store = EmbeddedStore::open(&c.data_dir)
        .with_context(|| format!("opening the embedded store in {}", c.data_dir.display()))?;
    Ok(Arc::new(store))
}

/// Loads the configured embedder. Blocking (model load or a network probe).
pub fn load_embedder(c: &Config) -> anyhow::Result<Arc<dyn Embedder>> {
    let threads = if c.onnx_threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        c.onnx_threads
    };
    Ok(match c.embedder.as_str() {
        "onnx" => Arc::new(OnnxEmbedder::load(
            &c.model_dir.join(DEFAULT_MODEL),
            &c.onnx_runtime_path(),
            DEFAULT_MODEL,
            &c.embed_query_prefix,
            threads,
        )?),
        flavor @ ("openai" | "ollama") => {
            let url = c
                .embed_url
                .as_deref()
                .with_context(|| format!("ENGRAM_EMBEDDER={flavor} needs ENGRAM_EMBED_URL"))?;
            let model = c
                .embed_model
                .as_deref()
                .with_context(|| format!("ENGRAM_EMBEDDER={flavor} needs ENGRAM_EMBED_MODEL"))?;
            let flavor = if flavor == "openai" {
                HttpFlavor::OpenAi
            } else {
                HttpFlavor::Ollama
            };
            Arc::new(HttpEmbedder::connect(
                flavor,
                url,
                model,
                c.embed_api_key.clone(),
                &c.embed_query_prefix,
            )?)
        }
        other => bail!("ENGRAM_EMBEDDER={other:?}: use onnx, openai or ollama"),
    })
}

/// Store, embedder, tokenizer and engine, ready to serve.
pub async fn engine(c: &Config) -> anyhow::Result<Arc<Engine>> {
    let store = open_store(c)?;
    let cfg = c.clone();
    let (embedder, tokens) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let embedder = load_embedder(&cfg)?;
        let tokens = TokenCounter::from_file(&cfg.tokenizer_path())?;
        Ok((embedder, Arc::new(tokens)))
    })
    .await??;
    let engine = Engine::new(store, embedder, tokens, c.retrieval.clone()).await?;
    Ok(Arc::new(engine))
}
