//! Shared harness for the black-box tests: runs the real `engram` binary on
//! a free port with a temporary data directory and talks to it over HTTP.
//!
//! Every test file includes this module and uses a different part of it.
//!
//! Backends: with `ENGRAM_TEST_BACKEND=postgres`, every server (and every
//! one-shot command) gets its own fresh PostgreSQL database instead of the
//! embedded store, so the same tests check both backends. The databases are
//! made from `ENGRAM_TEST_DATABASE_URL` (see [`pg`]) and dropped with the
//! test's [`Workdir`].
#![allow(dead_code)]

pub mod llm;
pub mod pg;
pub mod sdk;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef-0123456789";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The local model directory: `ENGRAM_MODEL_DIR`, else the workspace's
/// `models/` (where `scripts/fetch-model` puts it).
pub fn model_dir() -> PathBuf {
    let dir = std::env::var_os("ENGRAM_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models")));
    let model = dir.join("bge-small-en-v1.5").join("model.onnx");
    assert!(
        model.exists(),
        "the embedding model is missing ({}): run scripts/fetch-model first",
        model.display()
    );
    dir
}

/// The local LLM the LLM tests call (`scripts/dev-llm`; scripts/test
/// starts it and sets the variable).
pub fn llm_url() -> String {
    std::env::var("ENGRAM_TEST_LLM_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "ENGRAM_TEST_LLM_URL is not set: run \
                 `export ENGRAM_TEST_LLM_URL=\"$(scripts/dev-llm | tail -n1)\"` (scripts/test does)"
            )
        })
}

/// A tool `scripts/test` installs for some tests (a venv's Python, npm
/// packages): the path in `var`, else `default` under the workspace. A
/// missing one fails the test with `install`, the way to get it: these
/// tests never skip.
pub fn installed(var: &str, default: &str, install: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(default)
    });
    assert!(
        path.exists(),
        "{} is missing ({var}): {install}",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("no free port")
        .port()
}

/// How to start a server.
#[derive(Clone, Debug)]
pub struct Opts {
    /// `None` starts without `ENGRAM_ADMIN_KEY` (first-run mode).
    pub admin_key: Option<String>,
    pub env: Vec<(String, String)>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            admin_key: Some(ADMIN_KEY.to_string()),
            env: Vec::new(),
        }
    }
}

impl Opts {
    pub fn no_admin() -> Opts {
        Opts {
            admin_key: None,
            ..Opts::default()
        }
    }

    pub fn env(mut self, name: &str, value: &str) -> Opts {
        self.env.push((name.to_string(), value.to_string()));
        self
    }
}

/// A directory that outlives server restarts: the data dir and the logs
/// (and, on PostgreSQL, the databases standing for its data dirs, dropped
/// with it).
pub struct Workdir {
    tmp: tempfile::TempDir,
}

impl Drop for Workdir {
    fn drop(&mut self) {
        pg::drop_databases_of(self.tmp.path());
    }
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir {
            tmp: tempfile::Builder::new()
                .prefix("engram-it-")
                .tempdir()
                .expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// A data directory inside the work directory.
    pub fn data(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
}

/// The environment every `engram` invocation of a test gets.
fn base_command(opts: &Opts, data_dir: &Path, listen: &str) -> Command {
    let explicit = opts.env.iter().any(|(k, _)| k == "DATABASE_URL");
    let database = (pg::backend_is_postgres() && !explicit).then(|| pg::database_for(data_dir));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_engram"));
    cmd.env_remove("ENGRAM_ADMIN_KEY")
        .env_remove("ENGRAM_API_KEY")
        .env_remove("ENGRAM_CONFIG")
        .env_remove("DATABASE_URL")
        .env("ENGRAM_LISTEN", listen)
        .env("ENGRAM_DATA_DIR", data_dir)
        .env("ENGRAM_MODEL_DIR", model_dir())
        .env("ENGRAM_ONNX_THREADS", "1")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    if let Some(url) = database {
        cmd.env("DATABASE_URL", url);
    }
    if let Some(k) = &opts.admin_key {
        cmd.env("ENGRAM_ADMIN_KEY", k);
    }
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    // Never pick up an engram.toml from the test's working directory.
    cmd.current_dir(data_dir.parent().unwrap_or(data_dir));
    cmd
}

/// Output of a one-shot `engram` command.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `engram <args>` to completion (at most 60 s) with the server
/// environment of `opts`, `data_dir` and `listen`.
pub fn run_engram(opts: &Opts, data_dir: &Path, listen: &str, args: &[&str]) -> Output {
    let mut cmd = base_command(opts, data_dir, listen);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawning engram");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).ok();
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).ok();
        s
    });
    let status = wait_timeout(&mut child, START_TIMEOUT).unwrap_or_else(|| {
        child.kill().ok();
        child.wait().ok();
        panic!("`engram {}` did not finish within 60 s", args.join(" "))
    });
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().expect("waiting for engram") {
            return Some(s);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, printing the body on failure; returns the JSON.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "expected {status}, got {}: {}",
            self.status, self.text
        );
        &self.json
    }

    /// Asserts a problem+json error with this status, a `code` whose URI is
    /// its `type`, and, when given, the field named in the body.
    #[track_caller]
    pub fn expect_problem(&self, status: u16, field: Option<&str>) {
        assert_eq!(
            self.status, status,
            "expected a {status} problem, got {}: {}",
            self.status, self.text
        );
        let ct = self.header("content-type").unwrap_or("");
        assert!(
            ct.starts_with("application/problem+json"),
            "content-type of a {status} is {ct:?}, not application/problem+json: {}",
            self.text
        );
        let p = &self.json;
        assert_eq!(p["status"], json!(status), "problem body: {}", self.text);
        for k in ["type", "title", "detail"] {
            assert!(
                p[k].as_str().is_some_and(|s| !s.is_empty()),
                "problem body lacks `{k}`: {}",
                self.text
            );
        }
        let code = p["code"].as_str().unwrap_or_default();
        assert!(!code.is_empty(), "problem body lacks `code`: {}", self.text);
        assert_eq!(
            p["type"],
            json!(format!("https://engram.dev/problems/{code}")),
            "`type` is the code's URI: {}",
            self.text
        );
        if let Some(f) = field {
            assert_eq!(
                p["field"].as_str(),
                Some(f),
                "problem should name field {f:?}: {}",
                self.text
            );
            assert!(
                p["detail"].as_str().unwrap_or("").contains(f),
                "detail should name field {f:?}: {}",
                self.text
            );
        }
    }
}

/// A running `engram serve`.
pub struct Server {
    child: Option<Child>,
    pub opts: Opts,
    pub data_dir: PathBuf,
    pub base: String,
    /// The current run's log (stdout and stderr).
    pub log: PathBuf,
    log_dir: PathBuf,
    http: Client,
    /// Owns the temporary directory when the server made its own.
    _own: Option<Workdir>,
}

pub fn http_client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

impl Server {
    /// Starts a server on a fresh temporary data directory.
    pub fn start(opts: Opts) -> Server {
        let work = Workdir::new();
        let mut s = Server::new(opts, work.data("data"), work.path());
        s._own = Some(work);
        s.launch();
        s
    }

    /// Starts a server on `data_dir` (kept by the caller's `Workdir`).
    pub fn start_in(work: &Workdir, data_dir: &Path, opts: Opts) -> Server {
        let mut s = Server::new(opts, data_dir.to_path_buf(), work.path());
        s.launch();
        s
    }

    fn new(opts: Opts, data_dir: PathBuf, log_dir: &Path) -> Server {
        Server {
            child: None,
            opts,
            data_dir,
            base: String::new(),
            log: PathBuf::new(),
            log_dir: log_dir.to_path_buf(),
            http: http_client(),
            _own: None,
        }
    }

    /// Starts `engram serve` on a free port and waits for `/health`. A port
    /// taken between choosing and binding it is retried on another.
    fn launch(&mut self) {
        std::fs::create_dir_all(&self.data_dir).expect("creating the data dir");
        for attempt in 0.. {
            let port = free_port();
            let listen = format!("127.0.0.1:{port}");
            self.log = self.log_dir.join(format!("server-{port}.log"));
            let log = std::fs::File::create(&self.log).expect("creating the server log");
            let child = base_command(&self.opts, &self.data_dir, &listen)
                .arg("serve")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .expect("spawning engram serve");
            self.child = Some(child);
            self.base = format!("http://{listen}");
            match self.wait_healthy() {
                Ok(()) => return,
                Err(status) if attempt < 3 && self.log_text().contains("cannot listen") => {
                    eprintln!("port {port} was taken ({status}); retrying");
                }
                Err(status) => panic!(
                    "engram serve exited ({status}) before answering /health; its log:\n{}",
                    self.log_text()
                ),
            }
        }
    }

    fn wait_healthy(&mut self) -> Result<(), ExitStatus> {
        let deadline = Instant::now() + START_TIMEOUT;
        let probe = Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Err(status);
            }
            if let Ok(r) = probe.get(format!("{}/health", self.base)).send()
                && r.status().as_u16() == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                panic!(
                    "engram serve did not answer /health within 60 s; its log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still running (it has not exited).
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().expect("waiting for engram").is_none())
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is not running").id()
    }

    /// SIGTERM, then waits for a clean exit (status 0).
    pub fn terminate(&mut self) {
        let mut child = self.child.take().expect("server is not running");
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("running kill")
            .success();
        assert!(ok, "kill -TERM failed");
        let status = wait_timeout(&mut child, STOP_TIMEOUT).unwrap_or_else(|| {
            child.kill().ok();
            child.wait().ok();
            panic!(
                "engram did not stop within 30 s of SIGTERM; its log:\n{}",
                self.log_text()
            )
        });
        assert!(
            status.success(),
            "engram exited with {status} after SIGTERM; its log:\n{}",
            self.log_text()
        );
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("server is not running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaping engram");
    }

    /// Starts the server again on the same data directory (after
    /// [`Server::terminate`] or [`Server::kill`]), on a new port.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server before restarting it");
        self.launch();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Any request: `body` is sent as JSON when given.
    pub fn call(&self, method: &str, path: &str, key: Option<&str>, body: Option<&Value>) -> Resp {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.http.request(method, self.url(path));
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        send(rb)
    }

    /// A request with a raw body and explicit headers.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::blocking::Body>,
    ) -> Resp {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.http.request(method, self.url(path)).body(body);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        send(rb)
    }

    pub fn get(&self, path: &str, key: &str) -> Resp {
        self.call("GET", path, Some(key), None)
    }

    pub fn post(&self, path: &str, key: &str, body: &Value) -> Resp {
        self.call("POST", path, Some(key), Some(body))
    }

    pub fn patch(&self, path: &str, key: &str, body: &Value) -> Resp {
        self.call("PATCH", path, Some(key), Some(body))
    }

    pub fn delete(&self, path: &str, key: &str) -> Resp {
        self.call("DELETE", path, Some(key), None)
    }

    /// An unauthenticated GET (operations routes).
    pub fn get_open(&self, path: &str) -> Resp {
        self.call("GET", path, None, None)
    }

    fn admin_key(&self) -> &str {
        self.opts
            .admin_key
            .as_deref()
            .expect("this server runs without an admin key")
    }

    /// Creates a tenant with the admin key; returns its id.
    pub fn create_tenant(&self, name: &str) -> String {
        let r = self.post("/v1/tenants", self.admin_key(), &json!({ "name": name }));
        let t = r.expect(201);
        assert_eq!(t["name"], json!(name));
        t["id"].as_str().expect("tenant id").to_string()
    }

    /// Creates a key for `tenant` with `scopes`; returns its secret.
    pub fn create_key(&self, tenant: &str, scopes: &[&str]) -> String {
        self.create_key_full(tenant, scopes).1
    }

    /// Creates a key; returns `(key id, secret)`.
    pub fn create_key_full(&self, tenant: &str, scopes: &[&str]) -> (String, String) {
        let r = self.post(
            &format!("/v1/tenants/{tenant}/keys"),
            self.admin_key(),
            &json!({ "name": "test key", "scopes": scopes }),
        );
        let k = r.expect(201);
        (
            k["id"].as_str().expect("key id").to_string(),
            k["key"].as_str().expect("key secret").to_string(),
        )
    }

    /// Adds one memory; returns it.
    #[track_caller]
    pub fn add(&self, key: &str, memory: &Value) -> Value {
        self.post("/v1/memories", key, memory).expect(201).clone()
    }

    /// Adds a memory with only content and user; returns its id.
    #[track_caller]
    pub fn add_text(&self, key: &str, user: &str, content: &str) -> String {
        let m = self.add(key, &json!({ "content": content, "user_id": user }));
        assert_eq!(m["content"], json!(content));
        m["id"].as_str().unwrap().to_string()
    }

    /// Waits up to `within` for job `id` to be done; returns it. A job
    /// that died fails the test with its error.
    #[track_caller]
    pub fn job_done(&self, key: &str, id: &str, within: Duration) -> Value {
        let start = std::time::Instant::now();
        loop {
            let job = self.get(&format!("/v1/jobs/{id}"), key).expect(200).clone();
            match job["status"].as_str() {
                Some("done") => return job,
                Some("dead") => panic!("job {id} died: {job}"),
                _ => {}
            }
            assert!(
                start.elapsed() < within,
                "job {id} not done in {within:?}: {job}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Searches; returns the result ids, best first.
    #[track_caller]
    pub fn search_ids(&self, key: &str, body: &Value) -> Vec<String> {
        let r = self.post("/v1/search", key, body);
        r.expect(200)["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|x| x["memory"]["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Every memory visible to `key` under the list query `query`
    /// (`user_id=bob&...`), walked page by page.
    #[track_caller]
    pub fn list_all(&self, key: &str, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/memories?limit=1000&{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.get(&path, key);
            let page = page.expect(200);
            out.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }
}

fn send(rb: reqwest::blocking::RequestBuilder) -> Resp {
    let r = rb.send().expect("HTTP request failed");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        text,
        json,
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }
}

pub fn ids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}
