//! Configuration: every setting declared once, below, with its flag, its
//! environment variable, its `engram.toml` key (the field's name), its
//! default and its documentation (`engram serve --help`). `layers` gives
//! each its value: flag over variable over file over default.

mod layers;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use clap::ValueEnum;
use engram_engine::RetrievalConfig;
use engram_engine::core::fusion::Fusion;
use engram_engine::graph::GraphMode;
use engram_engine::metering::Prices;

pub use layers::parse;

pub const DEFAULT_MODEL: &str = "bge-small-en-v1.5";
/// The cross-encoder `scripts/fetch-model` installs next to the embedder.
pub const RERANK_MODEL: &str = "ms-marco-MiniLM-L-12-v2";
const BGE_QUERY_PREFIX: &str = "Represent this sentence for searching relevant passages: ";

#[derive(clap::Args, Debug, Clone)]
#[command(
    next_help_heading = "Settings (flag > environment variable > engram.toml key of the same name > default)"
)]
pub struct Config {
    /// The configuration file [default: ./engram.toml when it exists]
    #[arg(long = "config", env = "ENGRAM_CONFIG", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Address to serve on
    #[arg(long, env = "ENGRAM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Embedded store location
    #[arg(long, env = "ENGRAM_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// `postgres://user:password@host:5432/database` selects the PostgreSQL
    /// store instead of the embedded one
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Most connections one process holds to PostgreSQL; replicas times
    /// this must stay below the server's `max_connections`
    #[arg(long, env = "ENGRAM_DB_MAX_CONNECTIONS", default_value_t = 10, value_parser = at_least(1usize))]
    pub database_pool_size: usize,
    /// The tenant key `engram mcp` and the client commands (`engram
    /// memories`, `context`, `import`, `export`) act as
    #[arg(long, env = "ENGRAM_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// The server the client commands talk to (`engram memories`,
    /// `context`, `tenants`, `keys`, `import`, `export`)
    #[arg(long, env = "ENGRAM_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Admin key (at least 32 characters); without it admin routes answer
    /// 401 and the server refuses to listen on a non-loopback address
    #[arg(long, env = "ENGRAM_ADMIN_KEY", hide_env_values = true, value_parser = admin_key)]
    pub admin_key: Option<String>,
    /// Local models as `scripts/fetch-model` lays them out
    #[arg(long, env = "ENGRAM_MODEL_DIR", default_value = "./models")]
    pub model_dir: PathBuf,
    /// Log filter, e.g. `engram=debug,info`
    #[arg(long, env = "RUST_LOG", default_value = "info", value_parser = log_filter)]
    pub log: String,
    /// Log lines as text or, for containers, JSON (logs go to stderr)
    #[arg(long, env = "ENGRAM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// Larger request bodies get 413
    #[arg(long, env = "ENGRAM_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024, value_parser = at_least(1024usize))]
    pub max_body_bytes: usize,
    /// Requests per second each key may make (token bucket; over it, 429
    /// with `Retry-After`)
    #[arg(long, env = "ENGRAM_RATE_LIMIT_PER_SECOND", default_value_t = 50.0, value_parser = positive)]
    pub rate_limit_per_second: f64,
    /// Requests a key may make at once before the rate applies
    #[arg(long, env = "ENGRAM_RATE_LIMIT_BURST", default_value_t = 100.0, value_parser = at_least(1.0))]
    pub rate_limit_burst: f64,
    /// On SIGTERM, how long in-flight requests may take to finish
    #[arg(long, env = "ENGRAM_SHUTDOWN_TIMEOUT_SECONDS", default_value_t = 25)]
    pub shutdown_timeout_seconds: u64,
    /// Requests taking longer are answered 503
    #[arg(long, env = "ENGRAM_REQUEST_TIMEOUT_SECONDS", default_value_t = 30)]
    pub request_timeout_seconds: u64,
    /// Where embeddings come from
    #[arg(long, env = "ENGRAM_EMBEDDER", value_enum, default_value_t = EmbedderKind::Onnx)]
    pub embedder: EmbedderKind,
    /// The HTTP embedder's base URL
    #[arg(long, env = "ENGRAM_EMBED_URL")]
    pub embed_url: Option<String>,
    /// The HTTP embedder's model name
    #[arg(long, env = "ENGRAM_EMBED_MODEL")]
    pub embed_model: Option<String>,
    /// The HTTP embedder's API key
    #[arg(long, env = "ENGRAM_EMBED_API_KEY", hide_env_values = true)]
    pub embed_api_key: Option<String>,
    /// Prepended to search queries before embedding (BGE's instruction by
    /// default; an empty variable counts as unset, so set "" in engram.toml)
    #[arg(long, env = "ENGRAM_EMBED_QUERY_PREFIX", default_value = BGE_QUERY_PREFIX)]
    pub embed_query_prefix: String,
    /// Tokenizer that counts context tokens [default: the local model's
    /// tokenizer.json]
    #[arg(long, env = "ENGRAM_TOKENIZER", value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// Threads for local model inference (0 = all cores)
    #[arg(long, env = "ENGRAM_ONNX_THREADS", default_value_t = 0)]
    pub onnx_threads: usize,
    /// The ONNX Runtime library [default:
    /// $ENGRAM_MODEL_DIR/onnxruntime/libonnxruntime.so]
    #[arg(long, env = "ORT_DYLIB_PATH", value_name = "FILE")]
    pub onnx_runtime: Option<PathBuf>,
    /// Query + memory tokens the cross-encoder reads; longer pairs are cut
    #[arg(long, env = "ENGRAM_RERANK_MAX_TOKENS", default_value_t = 128)]
    pub rerank_max_tokens: usize,
    /// Base URL of an OpenAI-compatible chat API (with or without `/v1`),
    /// e.g. `http://127.0.0.1:11434/v1` for Ollama; unset, the features
    /// that need an LLM answer 409 and everything else works as without
    #[arg(long, env = "ENGRAM_LLM_URL")]
    pub llm_url: Option<String>,
    /// The model the LLM API is asked for (needed with ENGRAM_LLM_URL)
    #[arg(long, env = "ENGRAM_LLM_MODEL")]
    pub llm_model: Option<String>,
    /// Bearer key for the LLM API
    #[arg(long, env = "ENGRAM_LLM_API_KEY", hide_env_values = true)]
    pub llm_api_key: Option<String>,
    /// Bound on one LLM call (a local CPU model writes ~10 tokens/s)
    #[arg(long, env = "ENGRAM_LLM_TIMEOUT_SECONDS", default_value_t = 120, value_parser = at_least(1u64))]
    pub llm_timeout_seconds: u64,
    /// Retries of an LLM call that failed on a connection error, 429 or 5xx
    /// (exponential backoff from 0.5 s to 8 s)
    #[arg(long, env = "ENGRAM_LLM_RETRIES", default_value_t = 3)]
    pub llm_retries: u32,
    /// Prices for usage metering, USD per million tokens in/out, per model:
    /// `model=IN/OUT,model=IN/OUT` (a model not listed costs 0)
    #[arg(long, env = "ENGRAM_PRICES", default_value = "", value_parser = prices)]
    pub prices: Prices,
    /// Background jobs this process runs at once (0: it runs none, e.g. a
    /// replica that only serves requests)
    #[arg(long, env = "ENGRAM_JOB_WORKERS", default_value_t = 2)]
    pub job_workers: usize,
    /// How long a worker holds a claimed job; a killed worker's job is
    /// run again after it
    #[arg(long, env = "ENGRAM_JOB_LEASE_SECONDS", default_value_t = 600, value_parser = at_least(1u64))]
    pub job_lease_seconds: u64,
    /// Attempts before a failing job is dead (retried after 5 s, doubling
    /// up to 1 h)
    #[arg(long, env = "ENGRAM_JOB_MAX_ATTEMPTS", default_value_t = 5, value_parser = at_least(1u32))]
    pub job_max_attempts: u32,
    /// Days ended jobs (done or dead) stay readable at GET /v1/jobs/{id}
    /// before they are deleted
    #[arg(long, env = "ENGRAM_JOB_RETENTION_DAYS", default_value_t = 7, value_parser = at_least(1u64))]
    pub job_retention_days: u64,
    /// How long `engram maintain` holds a task's lease (renewed every
    /// third of it while the task runs); a killed run's task is free after it
    #[arg(long, env = "ENGRAM_MAINTAIN_LEASE_SECONDS", default_value_t = 600, value_parser = at_least(3u64))]
    pub maintain_lease_seconds: u64,
    /// After a task succeeded, how long other `engram maintain` processes
    /// skip it, so replicas started for the same schedule run it once
    #[arg(
        long,
        env = "ENGRAM_MAINTAIN_MIN_INTERVAL_SECONDS",
        default_value_t = 600
    )]
    pub maintain_min_interval_seconds: u64,
    /// Largest document upload accepted, in bytes (413 above it; sent as
    /// `Tus-Max-Size`)
    #[arg(long, env = "ENGRAM_UPLOAD_MAX_BYTES", default_value_t = 25 * 1024 * 1024, value_parser = at_least(1u64))]
    pub upload_max_bytes: u64,
    /// Seconds an unfinished upload may go without receiving a byte before
    /// `engram maintain uploads` removes it as abandoned
    #[arg(long, env = "ENGRAM_UPLOAD_ABANDON_AFTER_SECONDS", default_value_t = 24 * 3600)]
    pub upload_abandon_after_seconds: u64,
    /// What feeds the knowledge graph (docs/GRAPH.md): `off`, `rules`
    /// (the LLM-free pass over every write) or `llm` (also LLM extraction
    /// of entities and relations from every write, metered)
    #[arg(long, env = "ENGRAM_GRAPH", default_value = "off", value_parser = graph_mode)]
    pub graph: GraphMode,
    /// A new entity name at least this similar (cosine of the names'
    /// embeddings) to one of the same user and type is merged into it,
    /// recorded and reversible
    #[arg(long, env = "ENGRAM_GRAPH_MERGE_SIMILARITY", default_value_t = 0.93, value_parser = unit)]
    pub graph_merge_similarity: f32,
    #[command(flatten)]
    tuning: Tuning,
    /// The `[retrieval]` table of engram.toml with `tuning` applied.
    #[arg(skip)]
    pub retrieval: RetrievalConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmbedderKind {
    /// The local model in the model directory
    Onnx,
    /// Any OpenAI-compatible `/v1/embeddings`
    Openai,
    /// An Ollama server
    Ollama,
}

// The retrieval settings most worth comparing from one run to the next,
// also as flags and variables. Each overrides the `[retrieval]` key of its
// name (defaults and meaning: docs/RETRIEVAL.md). Not a doc comment, nor on
// `Config`: clap would make it the command's description.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Retrieval (override engram.toml's [retrieval] table)")]
struct Tuning {
    /// First-stage results re-scored by the cross-encoder (0 = no reranking)
    #[arg(long, env = "ENGRAM_RERANK_CANDIDATES")]
    rerank_candidates: Option<usize>,
    /// Weight of the cross-encoder against the first stage
    #[arg(long, env = "ENGRAM_RERANK_WEIGHT")]
    rerank_weight: Option<f32>,
    /// Earlier memories of the session embedded with a new one (0 = alone)
    #[arg(long, env = "ENGRAM_SESSION_CONTEXT")]
    session_context: Option<usize>,
    /// Weight of a memory's own vector mixed into its contextual one
    #[arg(long, env = "ENGRAM_CONTEXT_BLEND")]
    context_blend: Option<f32>,
    /// Candidates per retriever before fusion
    #[arg(long, env = "ENGRAM_CANDIDATES")]
    candidates: Option<usize>,
    /// Z-score fusion with dense weight 1 and this lexical weight (replaces
    /// `fusion`)
    #[arg(long, env = "ENGRAM_LEXICAL_WEIGHT")]
    lexical_weight: Option<f32>,
}

impl Tuning {
    fn apply(&self, r: &mut RetrievalConfig) {
        fn set<T: Copy>(field: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *field = v;
            }
        }
        set(&mut r.rerank_candidates, self.rerank_candidates);
        set(&mut r.rerank_weight, self.rerank_weight);
        set(&mut r.session_context, self.session_context);
        set(&mut r.context_blend, self.context_blend);
        set(&mut r.candidates, self.candidates);
        let fusion = self.lexical_weight.map(|lexical_weight| Fusion::ZScore {
            dense_weight: 1.0,
            lexical_weight,
        });
        set(&mut r.fusion, fusion);
    }
}

impl Config {
    pub fn tokenizer_path(&self) -> PathBuf {
        self.tokenizer
            .clone()
            .unwrap_or_else(|| self.model_dir.join(DEFAULT_MODEL).join("tokenizer.json"))
    }

    pub fn onnx_runtime_path(&self) -> PathBuf {
        self.onnx_runtime
            .clone()
            .unwrap_or_else(|| self.model_dir.join("onnxruntime").join("libonnxruntime.so"))
    }
}

/// A number no smaller than `min` (NaN is refused too).
fn at_least<T>(min: T) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: FromStr + PartialOrd + std::fmt::Display + Copy + Send + Sync + 'static,
    T::Err: std::fmt::Display,
{
    move |s| match s.parse::<T>() {
        Ok(v) if v >= min => Ok(v),
        Ok(_) => Err(format!("must be at least {min}")),
        Err(e) => Err(format!("{e}; a number of at least {min}")),
    }
}

fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 => Ok(v),
        Ok(_) => Err("must be more than 0".into()),
        Err(e) => Err(format!("{e}; a number more than 0, e.g. 50")),
    }
}

fn graph_mode(s: &str) -> Result<GraphMode, String> {
    GraphMode::parse(s).ok_or_else(|| format!("`{s}` is not off, rules or llm"))
}

fn unit(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number from 0 to 1")),
    }
}

fn admin_key(s: &str) -> Result<String, String> {
    if s.chars().count() < 32 {
        return Err(
            "must be at least 32 characters (generate one with `openssl rand -hex 32`)".into(),
        );
    }
    Ok(s.to_owned())
}

fn log_filter(s: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::builder()
        .parse(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("{e}; a filter like `info` or `engram=debug,info`"))
}

fn prices(s: &str) -> Result<Prices, String> {
    s.parse()
}
