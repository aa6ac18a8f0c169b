//! The HTTP client of the commands that talk to a running server (`engram
//! import`, `export`, `memories`, `context`, `tenants`, `keys`): with the
//! key a user already has, no access to the data directory or database, so
//! they work against any deployment.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;

use crate::config::Config;

/// How often `engram import` asks for progress.
const POLL: Duration = Duration::from_millis(250);

/// A server (`--url` / `ENGRAM_URL`) and the key to call it with.
pub struct Api {
    http: Client,
    base: String,
    key: String,
}

impl Api {
    /// As the tenant of `--api-key` / `ENGRAM_API_KEY`.
    pub fn tenant(config: &Config) -> anyhow::Result<Api> {
        let key = config.api_key.clone().context(
            "no tenant key: pass --api-key or set ENGRAM_API_KEY (an admin makes one with `engram keys create`)",
        )?;
        Api::new(&config.url, key)
    }

    /// As the admin (`--admin-key` / `ENGRAM_ADMIN_KEY`).
    pub fn admin(config: &Config) -> anyhow::Result<Api> {
        let key = config
            .admin_key
            .clone()
            .context("no admin key: pass --admin-key or set ENGRAM_ADMIN_KEY (the server's)")?;
        Api::new(&config.url, key)
    }

    fn new(url: &str, key: String) -> anyhow::Result<Api> {
        // Uploads of hundreds of MB and long imports: no overall timeout.
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(None)
            .build()?;
        Ok(Api {
            http,
            base: url.trim_end_matches('/').to_string(),
            key,
        })
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }

    /// Sends `rb`; the answer of a success, or the server's problem as the
    /// error. `what` names the call in messages.
    pub fn send(&self, rb: RequestBuilder, what: &str) -> anyhow::Result<Response> {
        let resp = rb.send().with_context(|| {
            format!(
                "{what}: cannot reach {} (is it running? --url / ENGRAM_URL)",
                self.base
            )
        })?;
        checked(resp, what)
    }

    /// A JSON call: `body` sent when given, the answer's JSON (`Null` for
    /// 204) returned.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let what = format!("{method} {path}");
        let mut rb = self.request(method, path).query(query);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = self.send(rb, &what)?;
        if resp.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        Ok(resp.json()?)
    }
}

/// The response of a success, or the problem (status, code, detail, field)
/// as the error.
fn checked(resp: Response, what: &str) -> anyhow::Result<Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body: Value = resp.json().unwrap_or(Value::Null);
    let detail = body["detail"].as_str().unwrap_or("(no detail)");
    let code = body["code"]
        .as_str()
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    match body["field"].as_str() {
        Some(field) => bail!("{what} answered {status}{code}: {detail} (at {field})"),
        None => bail!("{what} answered {status}{code}: {detail}"),
    }
}

/// Uploads `file`, then follows the job with a progress bar on stderr and
/// prints the summary on stdout.
pub fn import(
    api: &Api,
    format: &str,
    file: &Path,
    folder: Option<&str>,
    label: Option<&str>,
) -> anyhow::Result<()> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let len = f.metadata()?.len();
    let mut query = vec![("format", format)];
    query.extend(folder.map(|f| ("folder", f)));
    query.extend(label.map(|l| ("label", l)));
    eprintln!("uploading {} ({len} bytes)…", file.display());
    let rb = api
        .request(Method::POST, "/v1/import")
        .query(&query)
        .header("content-type", "application/octet-stream")
        .body(reqwest::blocking::Body::sized(f, len));
    let mut job: Value = api.send(rb, "the import")?.json()?;
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
        let rb = api.request(Method::GET, &format!("/v1/import/{id}"));
        job = api.send(rb, "the import's progress")?.json()?;
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
    let total = job["total"].as_u64().unwrap_or(0);
    write!(
        out,
        "\r{} conversations · {} messages · {} skipped",
        crate::progress::bar(done, total),
        job["messages"],
        job["skipped"]
    )?;
    out.flush()
}

/// Writes one conversation as JSON or Markdown to `out` (stdout without).
pub fn export(api: &Api, id: &str, format: &str, out: Option<&Path>) -> anyhow::Result<()> {
    let rb = api
        .request(Method::GET, &format!("/v1/conversations/{id}/export"))
        .query(&[("format", format)]);
    let bytes = api.send(rb, "the export")?.bytes()?;
    match out {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(())
}
