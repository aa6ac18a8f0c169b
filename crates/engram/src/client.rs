//! `engram import` and `engram export`: clients of a running server over
//! HTTP, with the tenant key a user already has (no access to the data
//! directory or database, so they work against any deployment).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::blocking::{Client, Response};
use serde_json::Value;

/// How often `engram import` asks for progress.
const POLL: Duration = Duration::from_millis(250);
const BAR_WIDTH: usize = 30;

/// Where and as whom: `--url`, and `--api-key` / `ENGRAM_API_KEY` (the
/// variable `engram mcp` reads its key from).
#[derive(clap::Args, Debug)]
pub struct Server {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A tenant key (`write` scope to import, `read` to export).
    #[arg(long, env = "ENGRAM_API_KEY", hide_env_values = true)]
    pub api_key: String,
}

fn client() -> anyhow::Result<Client> {
    // Uploads of hundreds of MB and long imports: no overall timeout.
    Ok(Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(None)
        .build()?)
}

/// The body of a success, or the problem's detail as the error.
fn checked(resp: Response, what: &str) -> anyhow::Result<Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body: Value = resp.json().unwrap_or(Value::Null);
    let detail = body["detail"].as_str().unwrap_or("(no detail)");
    match body["field"].as_str() {
        Some(field) => bail!("{what} answered {status}: {detail} (at {field})"),
        None => bail!("{what} answered {status}: {detail}"),
    }
}

/// Uploads `file`, then follows the job with a progress bar on stderr and
/// prints the summary on stdout.
pub fn import(
    server: &Server,
    format: &str,
    file: &Path,
    folder: Option<&str>,
    label: Option<&str>,
) -> anyhow::Result<()> {
    let c = client()?;
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let len = f.metadata()?.len();
    let mut query = vec![("format", format)];
    query.extend(folder.map(|f| ("folder", f)));
    query.extend(label.map(|l| ("label", l)));
    let base = server.url.trim_end_matches('/');
    eprintln!("uploading {} ({len} bytes)…", file.display());
    let resp = c
        .post(format!("{base}/v1/import"))
        .query(&query)
        .bearer_auth(&server.api_key)
        .header("content-type", "application/octet-stream")
        .body(reqwest::blocking::Body::sized(f, len))
        .send()
        .with_context(|| format!("POST {base}/v1/import"))?;
    let mut job: Value = checked(resp, "the import")?.json()?;
    let id = job["id"]
        .as_str()
        .context("the server answered no job id")?
        .to_string();
    let mut err = std::io::stderr();
    loop {
        draw(&mut err, &job)?;
        if job["status"] != "running" {
            break;
        }
        std::thread::sleep(POLL);
        let resp = c
            .get(format!("{base}/v1/import/{id}"))
            .bearer_auth(&server.api_key)
            .send()?;
        job = checked(resp, "the import's progress")?.json()?;
    }
    writeln!(err)?;
    if job["status"] == "failed" {
        bail!(
            "the import failed: {} (run it again: what was imported stays, nothing is written twice)",
            job["error"].as_str().unwrap_or("no reason given")
        );
    }
    println!(
        "imported {} conversations, {} messages, {} skipped (job {id})",
        job["conversations"], job["messages"], job["skipped"]
    );
    Ok(())
}

/// `[=====>     ] 3/10 conversations · 120 messages · 4 skipped`, redrawn
/// in place.
fn draw(out: &mut impl Write, job: &Value) -> std::io::Result<()> {
    let done = job["conversations"].as_u64().unwrap_or(0);
    let total = job["total"].as_u64().unwrap_or(0).max(1);
    let filled = ((done.min(total) as usize) * BAR_WIDTH) / total as usize;
    let bar: String = (0..BAR_WIDTH)
        .map(|i| match i.cmp(&filled) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal => '>',
            std::cmp::Ordering::Greater => ' ',
        })
        .collect();
    write!(
        out,
        "\r[{bar}] {done}/{} conversations · {} messages · {} skipped",
        job["total"], job["messages"], job["skipped"]
    )?;
    out.flush()
}

/// Writes one conversation as JSON or Markdown to `out` (stdout without).
pub fn export(server: &Server, id: &str, format: &str, out: Option<&Path>) -> anyhow::Result<()> {
    let base = server.url.trim_end_matches('/');
    let resp = client()?
        .get(format!("{base}/v1/conversations/{id}/export"))
        .query(&[("format", format)])
        .bearer_auth(&server.api_key)
        .send()
        .with_context(|| format!("GET {base}/v1/conversations/{id}/export"))?;
    let bytes = checked(resp, "the export")?.bytes()?;
    match out {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(())
}
