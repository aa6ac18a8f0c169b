//! The `engram` command: the server and the operations around it.

mod bench;
mod bootstrap;
mod cli;
mod client;
mod components;
mod config;
mod datadir;
mod maintain;
mod maintenance;
mod mcp;
mod progress;
mod serve;

use clap::{Parser, Subcommand};

use config::{Config, LogFormat};

#[derive(Parser)]
#[command(
    name = "engram",
    version,
    about = "Long-term memory server for LLM agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the settings below; see README.md).
    Serve,
    /// Serve the memory tools over MCP on stdin/stdout, as the tenant whose
    /// key is in ENGRAM_API_KEY (for Claude Desktop, Claude Code, Cursor; see docs/MCP.md).
    Mcp,
    /// Apply schema migrations to the configured store, then exit.
    Migrate,
    /// Write a consistent logical backup (gzip JSON lines) of the store.
    Backup {
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Load a backup into an empty store.
    Restore {
        #[arg(long)]
        from: std::path::PathBuf,
    },
    /// The periodic work, each task once across replicas
    /// (docs/LIFECYCLE.md): retention, then yesterday's roll-up summaries
    /// and reflections (skipped without an LLM). Name a task to run it alone.
    Maintain(maintain::Args),
    /// Measure the engine (see docs/BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        what: Bench,
        /// Print one JSON object as the last line of stdout.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Exit 0 when the server's /health answers 200 (for container health checks).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8080/health")]
        url: String,
    },
    /// Import a ChatGPT or Claude `conversations.json` (or engram's JSON
    /// lines) into a running server, with a progress bar and a summary.
    /// Importing the same file again writes nothing new.
    Import {
        /// chatgpt, claude or jsonl.
        #[arg(long)]
        format: String,
        file: std::path::PathBuf,
        /// File every imported conversation in this folder.
        #[arg(long)]
        folder: Option<String>,
        /// Give every imported conversation this label.
        #[arg(long)]
        label: Option<String>,
    },
    /// Write one conversation of a running server as JSON or Markdown.
    Export {
        conversation_id: String,
        /// json or markdown.
        #[arg(long, default_value = "json")]
        format: String,
        /// Write here instead of to standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Add, read, list, search and delete the memories of a running server
    /// (as the tenant of --api-key / ENGRAM_API_KEY).
    Memories {
        #[command(subcommand)]
        what: cli::Memories,
        #[command(flatten)]
        output: cli::Output,
    },
    /// Print the context block a prompt would get for a query.
    Context {
        #[command(flatten)]
        args: cli::ContextArgs,
        #[command(flatten)]
        output: cli::Output,
    },
    /// List, create and delete tenants (with --admin-key / ENGRAM_ADMIN_KEY).
    Tenants {
        #[command(subcommand)]
        what: cli::Tenants,
        #[command(flatten)]
        output: cli::Output,
    },
    /// List, create and revoke a tenant's keys (with --admin-key / ENGRAM_ADMIN_KEY).
    Keys {
        #[command(subcommand)]
        what: cli::Keys,
        #[command(flatten)]
        output: cli::Output,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// Embedding throughput of the configured embedder.
    Embed {
        #[arg(long, default_value_t = 2000)]
        documents: usize,
        #[arg(long, default_value_t = 500)]
        queries: usize,
    },
    /// Recall@k and latency on a LoCoMo-format file.
    Locomo {
        #[arg(long)]
        data: std::path::PathBuf,
        /// Also link every memory's names (the LLM-free graph pass) and
        /// search each question again with graph expansion to this depth
        /// (0 to 2): recall with and without it, side by side.
        #[arg(long)]
        graph_depth: Option<u32>,
        /// Also extract entities and relations with the configured LLM from
        /// this many memories of the first conversation: tokens per message.
        #[arg(long, default_value_t = 0)]
        graph_llm_sample: usize,
    },
    /// Fact extraction and summaries with the configured LLM on the first
    /// N whole sessions of a LoCoMo-format file: messages/s, tokens per
    /// message, recall@10 with and without them.
    Facts {
        #[arg(long)]
        file: std::path::PathBuf,
        /// Whole sessions to process.
        #[arg(long, default_value_t = 1)]
        limit: usize,
    },
    /// Ingest rate, search latency, ANN recall, memory and reopen time at N memories.
    Scale {
        #[arg(long)]
        memories: usize,
        #[arg(long, default_value_t = 1000)]
        queries: usize,
    },
}

fn main() -> std::process::ExitCode {
    let (cli, config) = config::parse::<Cli>(std::env::args_os(), |name| std::env::var(name).ok())
        .unwrap_or_else(|e| e.exit());
    let result = (|| -> anyhow::Result<()> {
        match &cli.command {
            Command::Healthcheck { url } => return maintenance::healthcheck(url),
            Command::Import {
                format,
                file,
                folder,
                label,
            } => {
                let api = client::Api::tenant(&config)?;
                return client::import(&api, format, file, folder.as_deref(), label.as_deref());
            }
            Command::Export {
                conversation_id,
                format,
                out,
            } => {
                let api = client::Api::tenant(&config)?;
                return client::export(&api, conversation_id, format, out.as_deref());
            }
            Command::Memories { what, output } => return cli::memories(&config, what, *output),
            Command::Context { args, output } => return cli::context(&config, args, *output),
            Command::Tenants { what, output } => return cli::tenants(&config, what, *output),
            Command::Keys { what, output } => return cli::keys(&config, what, *output),
            _ => {}
        }
        init_logging(&config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let result = runtime.block_on(async {
            match cli.command {
                Command::Serve => serve::run(config).await,
                Command::Mcp => mcp::run(config).await,
                Command::Migrate => maintenance::migrate(&config).await,
                Command::Backup { out } => maintenance::backup(&config, &out).await,
                Command::Restore { from } => maintenance::restore(&config, &from).await,
                Command::Maintain(args) => maintain::run(&config, &args).await,
                Command::Bench { what, json } => match what {
                    Bench::Embed { documents, queries } => {
                        bench::embed::run(&config, documents, queries, json)
                    }
                    Bench::Locomo {
                        data,
                        graph_depth,
                        graph_llm_sample,
                    } => {
                        let graph = bench::locomo::GraphBench {
                            depth: graph_depth,
                            llm_sample: graph_llm_sample,
                        };
                        bench::locomo::run(&config, &data, graph, json).await
                    }
                    Bench::Facts { file, limit } => {
                        bench::facts::run(&config, &file, limit, json).await
                    }
                    Bench::Scale { memories, queries } => {
                        bench::scale::run(&config, memories, queries, json).await
                    }
                },
                Command::Healthcheck { .. }
                | Command::Import { .. }
                | Command::Export { .. }
                | Command::Memories { .. }
                | Command::Context { .. }
                | Command::Tenants { .. }
                | Command::Keys { .. } => unreachable!("handled above"),
            }
        });
        // A stdin read cannot be cancelled: waiting for it at exit (after a
        // signal stopped `engram mcp`) would hang until the client wrote.
        runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        result
    })();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("engram: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, so stdout stays free for command output and for the
/// MCP protocol of `engram mcp`.
fn init_logging(c: &Config) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&c.log))
        .with_writer(std::io::stderr);
    if c.log_format == LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
}
