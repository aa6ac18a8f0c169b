//! Configuration: an optional `engram.toml`, overridden by environment
//! variables (the names in README.md), overridden by nothing else.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use engram_engine::RetrievalConfig;
use engram_engine::core::fusion::Fusion;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    /// Most connections one process holds to PostgreSQL. Replicas times
    /// this must stay below the server's `max_connections`.
    pub database_pool_size: usize,
    pub admin_key: Option<String>,
    pub model_dir: PathBuf,
    pub log_format: String,
    pub max_body_bytes: usize,
    pub rate_limit_per_second: f64,
    pub rate_limit_burst: f64,
    pub shutdown_timeout_seconds: u64,
    pub request_timeout_seconds: u64,
    /// `onnx` (local model), `openai` or `ollama`.
    pub embedder: String,
    pub embed_url: Option<String>,
    pub embed_model: Option<String>,
    pub embed_api_key: Option<String>,
    /// Prepended to search queries before embedding (BGE's instruction by
    /// default).
    pub embed_query_prefix: String,
    /// Tokenizer used to count context tokens; defaults to the local
    /// model's.
    pub tokenizer: Option<PathBuf>,
    /// Threads for local model inference (0 = all cores).
    pub onnx_threads: usize,
    /// Query + memory pairs longer than this are cut before reranking.
    pub rerank_max_tokens: usize,
    pub retrieval: RetrievalConfig,
}

pub const DEFAULT_MODEL: &str = "bge-small-en-v1.5";
/// The cross-encoder `scripts/fetch-model` installs next to the embedder.
pub const RERANK_MODEL: &str = "ms-marco-MiniLM-L-12-v2";
const BGE_QUERY_PREFIX: &str = "Represent this sentence for searching relevant passages: ";

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: "./data".into(),
            database_url: None,
            database_pool_size: 10,
            admin_key: None,
            model_dir: "./models".into(),
            log_format: "pretty".into(),
            max_body_bytes: 2 * 1024 * 1024,
            rate_limit_per_second: 50.0,
            rate_limit_burst: 100.0,
            shutdown_timeout_seconds: 25,
            request_timeout_seconds: 30,
            embedder: "onnx".into(),
            embed_url: None,
            embed_model: None,
            embed_api_key: None,
            embed_query_prefix: BGE_QUERY_PREFIX.into(),
            tokenizer: None,
            onnx_threads: 0,
            rerank_max_tokens: 128,
            retrieval: RetrievalConfig::default(),
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn parse<T: std::str::FromStr>(name: &str, v: String) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    v.parse()
        .map_err(|e| anyhow::anyhow!("{name}={v:?} is not valid: {e}"))
}

impl Config {
    pub fn load() -> anyhow::Result<Config> {
        let file = env("ENGRAM_CONFIG").map(PathBuf::from).or_else(|| {
            let p = PathBuf::from("engram.toml");
            p.exists().then_some(p)
        });
        let mut c = match file {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("config file {}", path.display()))?
            }
            None => Config::default(),
        };
        if let Some(v) = env("ENGRAM_LISTEN") {
            c.listen = v;
        }
        if let Some(v) = env("ENGRAM_DATA_DIR") {
            c.data_dir = v.into();
        }
        if let Some(v) = env("DATABASE_URL") {
            c.database_url = Some(v);
        }
        if let Some(v) = env("ENGRAM_DB_MAX_CONNECTIONS") {
            c.database_pool_size = parse("ENGRAM_DB_MAX_CONNECTIONS", v)?;
        }
        if let Some(v) = env("ENGRAM_ADMIN_KEY") {
            c.admin_key = Some(v);
        }
        if let Some(v) = env("ENGRAM_MODEL_DIR") {
            c.model_dir = v.into();
        }
        if let Some(v) = env("ENGRAM_LOG_FORMAT") {
            c.log_format = v;
        }
        if let Some(v) = env("ENGRAM_MAX_BODY_BYTES") {
            c.max_body_bytes = parse("ENGRAM_MAX_BODY_BYTES", v)?;
        }
        if let Some(v) = env("ENGRAM_RATE_LIMIT_PER_SECOND") {
            c.rate_limit_per_second = parse("ENGRAM_RATE_LIMIT_PER_SECOND", v)?;
        }
        if let Some(v) = env("ENGRAM_RATE_LIMIT_BURST") {
            c.rate_limit_burst = parse("ENGRAM_RATE_LIMIT_BURST", v)?;
        }
        if let Some(v) = env("ENGRAM_SHUTDOWN_TIMEOUT_SECONDS") {
            c.shutdown_timeout_seconds = parse("ENGRAM_SHUTDOWN_TIMEOUT_SECONDS", v)?;
        }
        if let Some(v) = env("ENGRAM_EMBEDDER") {
            c.embedder = v;
        }
        if let Some(v) = env("ENGRAM_EMBED_URL") {
            c.embed_url = Some(v);
        }
        if let Some(v) = env("ENGRAM_EMBED_MODEL") {
            c.embed_model = Some(v);
        }
        if let Some(v) = env("ENGRAM_EMBED_API_KEY") {
            c.embed_api_key = Some(v);
        }
        if let Some(v) = env("ENGRAM_EMBED_QUERY_PREFIX") {
            c.embed_query_prefix = v;
        }
        if let Some(v) = env("ENGRAM_TOKENIZER") {
            c.tokenizer = Some(v.into());
        }
        if let Some(v) = env("ENGRAM_ONNX_THREADS") {
            c.onnx_threads = parse("ENGRAM_ONNX_THREADS", v)?;
        }
        c.retrieval_from_env()?;
        c.validate()?;
        Ok(c)
    }

    /// The retrieval settings most worth comparing, as environment
    /// variables (the rest are in the `[retrieval]` table of engram.toml).
    fn retrieval_from_env(&mut self) -> anyhow::Result<()> {
        let r = &mut self.retrieval;
        if let Some(v) = env("ENGRAM_RERANK_CANDIDATES") {
            r.rerank_candidates = parse("ENGRAM_RERANK_CANDIDATES", v)?;
        }
        if let Some(v) = env("ENGRAM_RERANK_WEIGHT") {
            r.rerank_weight = parse("ENGRAM_RERANK_WEIGHT", v)?;
        }
        if let Some(v) = env("ENGRAM_RERANK_MAX_TOKENS") {
            self.rerank_max_tokens = parse("ENGRAM_RERANK_MAX_TOKENS", v)?;
        }
        if let Some(v) = env("ENGRAM_SESSION_CONTEXT") {
            r.session_context = parse("ENGRAM_SESSION_CONTEXT", v)?;
        }
        if let Some(v) = env("ENGRAM_CONTEXT_BLEND") {
            r.context_blend = parse("ENGRAM_CONTEXT_BLEND", v)?;
        }
        if let Some(v) = env("ENGRAM_CANDIDATES") {
            r.candidates = parse("ENGRAM_CANDIDATES", v)?;
        }
        if let Some(v) = env("ENGRAM_LEXICAL_WEIGHT") {
            let lexical: f32 = parse("ENGRAM_LEXICAL_WEIGHT", v)?;
            r.fusion = Fusion::ZScore {
                dense_weight: 1.0,
                lexical_weight: lexical,
            };
        }
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        if let Some(k) = &self.admin_key
            && k.chars().count() < 32
        {
            bail!(
                "ENGRAM_ADMIN_KEY must be at least 32 characters (generate one with `openssl rand -hex 32`)"
            );
        }
        if self.rate_limit_per_second <= 0.0 || self.rate_limit_burst < 1.0 {
            bail!("ENGRAM_RATE_LIMIT_PER_SECOND must be > 0 and ENGRAM_RATE_LIMIT_BURST >= 1");
        }
        if self.database_pool_size == 0 {
            bail!("ENGRAM_DB_MAX_CONNECTIONS must be at least 1");
        }
        if self.max_body_bytes < 1024 {
            bail!("ENGRAM_MAX_BODY_BYTES must be at least 1024");
        }
        if !matches!(self.log_format.as_str(), "pretty" | "json") {
            bail!("ENGRAM_LOG_FORMAT must be `pretty` or `json`");
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listen.parse().with_context(|| {
            format!(
                "ENGRAM_LISTEN={:?} is not an address like 127.0.0.1:8080",
                self.listen
            )
        })
    }

    pub fn tokenizer_path(&self) -> PathBuf {
        self.tokenizer
            .clone()
            .unwrap_or_else(|| self.model_dir.join(DEFAULT_MODEL).join("tokenizer.json"))
    }

    pub fn onnx_runtime_path(&self) -> PathBuf {
        env("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.model_dir.join("onnxruntime").join("libonnxruntime.so"))
    }
}
