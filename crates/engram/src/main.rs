//! The `engram` command: the server and the operations around it.

mod bootstrap;
mod components;
mod config;
mod maintenance;
mod serve;

use clap::{Parser, Subcommand};

use config::Config;

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
    /// Serve the HTTP API (configuration from the environment; see README.md).
    Serve,
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
    /// Exit 0 when the server's /health answers 200 (for container health checks).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8080/health")]
        url: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = (|| -> anyhow::Result<()> {
        if let Command::Healthcheck { url } = &cli.command {
            return maintenance::healthcheck(url);
        }
        let config = Config::load()?;
        init_logging(&config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            match cli.command {
                Command::Serve => serve::run(config).await,
                Command::Migrate => maintenance::migrate(&config).await,
                Command::Backup { out } => maintenance::backup(&config, &out).await,
                Command::Restore { from } => maintenance::restore(&config, &from).await,
                Command::Healthcheck { .. } => unreachable!("handled above"),
            }
        })
    })();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("engram: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, so stdout stays free for command output (and, later,
/// for protocols spoken over stdio).
fn init_logging(c: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if c.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
