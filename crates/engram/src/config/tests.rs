//! The settings are resolved by a pure function of the command line, an
//! environment given as a map and a file, so these tests never touch the
//! process environment (tests run in parallel in one process).

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use engram_engine::core::fusion::Fusion;

use super::layers::command;
use super::{Config, EmbedderKind, LogFormat, parse};
use crate::Cli;

/// A configuration file in a directory of its own, removed with it.
struct TomlFile {
    dir: tempfile::TempDir,
}

impl TomlFile {
    fn new(text: &str) -> TomlFile {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("engram.toml"), text).expect("write engram.toml");
        TomlFile { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("engram.toml")
    }
}

fn resolve(args: &[&str], env: &[(&str, &str)]) -> Result<Config, String> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let args = ["engram"].iter().chain(args).map(OsString::from);
    parse::<Cli>(args, |name| env.get(name).cloned())
        .map(|(_, config)| config)
        .map_err(|e| e.to_string())
}

fn with_file(file: &TomlFile, args: &[&str], env: &[(&str, &str)]) -> Result<Config, String> {
    let path = file.path();
    let mut env = env.to_vec();
    env.push(("ENGRAM_CONFIG", path.to_str().expect("utf-8 path")));
    resolve(args, &env)
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = resolve(&["serve"], &[]).expect("defaults");
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(c.database_url, None);
    assert_eq!(c.database_pool_size, 10);
    assert_eq!(c.log, "info");
    assert_eq!(c.log_format, LogFormat::Pretty);
    assert_eq!(c.max_body_bytes, 2 * 1024 * 1024);
    assert_eq!(c.request_timeout_seconds, 30);
    assert_eq!(c.embedder, EmbedderKind::Onnx);
    assert!(c.embed_query_prefix.starts_with("Represent this sentence"));
    assert_eq!(
        c.onnx_runtime_path(),
        PathBuf::from("./models/onnxruntime/libonnxruntime.so")
    );
    assert_eq!(c.rerank_max_tokens, 128);
    assert_eq!(c.retrieval.candidates, 50);
    assert_eq!(c.retrieval.rerank_candidates, 0);
}

#[test]
fn flag_beats_variable_beats_file_beats_default() {
    let file = TomlFile::new("listen = \"127.0.0.1:1\"\nmax_body_bytes = 4096\n");
    let c = with_file(&file, &["serve"], &[]).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:1");
    assert_eq!(c.max_body_bytes, 4096);
    assert_eq!(c.shutdown_timeout_seconds, 25, "absent from every layer");

    let env = [("ENGRAM_LISTEN", "127.0.0.1:2")];
    let c = with_file(&file, &["serve"], &env).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:2");
    assert_eq!(c.max_body_bytes, 4096, "the file still gives the rest");

    let c = with_file(&file, &["serve", "--listen", "127.0.0.1:3"], &env).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:3");
    let c = with_file(&file, &["--listen", "127.0.0.1:3", "serve"], &env).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:3", "before the subcommand");
}

#[test]
fn the_file_can_be_named_by_flag_or_variable() {
    let file = TomlFile::new("data_dir = \"/srv/engram\"\n");
    let path = file.path();
    let by_flag = resolve(&["migrate", "--config", path.to_str().unwrap()], &[]).unwrap();
    assert_eq!(by_flag.data_dir, PathBuf::from("/srv/engram"));
    let other = TomlFile::new("data_dir = \"/elsewhere\"\n");
    let by_variable = with_file(&other, &["migrate"], &[]).unwrap();
    assert_eq!(by_variable.data_dir, PathBuf::from("/elsewhere"));
    let flag_wins = with_file(
        &other,
        &["migrate", "--config", path.to_str().unwrap()],
        &[],
    );
    assert_eq!(flag_wins.unwrap().data_dir, PathBuf::from("/srv/engram"));
}

#[test]
fn retrieval_overrides_beat_the_retrieval_table() {
    let file = TomlFile::new("[retrieval]\ncandidates = 70\nrerank_weight = 0.5\n");
    let c = with_file(&file, &["serve"], &[]).unwrap();
    assert_eq!(c.retrieval.candidates, 70);
    assert_eq!(c.retrieval.rerank_weight, 0.5);

    let env = [
        ("ENGRAM_CANDIDATES", "80"),
        ("ENGRAM_LEXICAL_WEIGHT", "0.25"),
    ];
    let c = with_file(&file, &["serve"], &env).unwrap();
    assert_eq!(c.retrieval.candidates, 80);
    assert_eq!(c.retrieval.rerank_weight, 0.5);
    assert!(matches!(
        c.retrieval.fusion,
        Fusion::ZScore { dense_weight, lexical_weight } if dense_weight == 1.0 && lexical_weight == 0.25
    ));

    let c = with_file(&file, &["serve", "--candidates", "90"], &env).unwrap();
    assert_eq!(c.retrieval.candidates, 90);
}

#[test]
fn an_empty_variable_counts_as_unset() {
    let file = TomlFile::new("listen = \"127.0.0.1:1\"\n");
    let env = [
        ("ENGRAM_LISTEN", ""),
        ("ENGRAM_ONNX_THREADS", ""),
        ("ENGRAM_ADMIN_KEY", ""),
        ("ENGRAM_EMBEDDER", ""),
    ];
    let c = with_file(&file, &["serve"], &env).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:1");
    assert_eq!(c.onnx_threads, 0);
    assert_eq!(c.admin_key, None);
    assert_eq!(c.embedder, EmbedderKind::Onnx);
    let c = resolve(&["serve"], &[("ENGRAM_CONFIG", "")]).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
}

#[test]
fn an_empty_value_can_be_set_in_the_file() {
    let file = TomlFile::new("embed_query_prefix = \"\"\n");
    let c = with_file(&file, &["serve"], &[("ENGRAM_EMBED_QUERY_PREFIX", "")]).unwrap();
    assert_eq!(c.embed_query_prefix, "");
}

#[test]
fn typed_values() {
    let env = [
        ("ENGRAM_LOG_FORMAT", "json"),
        ("ENGRAM_EMBEDDER", "ollama"),
        ("ENGRAM_RATE_LIMIT_PER_SECOND", "2.5"),
        ("ORT_DYLIB_PATH", "/opt/ort.so"),
        ("ENGRAM_REQUEST_TIMEOUT_SECONDS", "5"),
        ("RUST_LOG", "engram=debug,info"),
    ];
    let c = resolve(&["serve"], &env).unwrap();
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.embedder, EmbedderKind::Ollama);
    assert_eq!(c.rate_limit_per_second, 2.5);
    assert_eq!(c.onnx_runtime_path(), PathBuf::from("/opt/ort.so"));
    assert_eq!(c.request_timeout_seconds, 5);
    assert_eq!(c.log, "engram=debug,info");
    let file = TomlFile::new("embedder = \"openai\"\nrate_limit_burst = 3\n");
    let c = with_file(&file, &["serve"], &[]).unwrap();
    assert_eq!(c.embedder, EmbedderKind::Openai);
    assert_eq!(c.rate_limit_burst, 3.0);
}

#[test]
fn a_bad_variable_is_named_with_what_is_valid() {
    let e = resolve(&["serve"], &[("ENGRAM_MAX_BODY_BYTES", "lots")]).unwrap_err();
    assert!(
        e.contains("ENGRAM_MAX_BODY_BYTES = \"lots\" is not valid"),
        "{e}"
    );
    assert!(e.contains("at least 1024"), "{e}");
    let e = resolve(&["serve"], &[("ENGRAM_LOG_FORMAT", "xml")]).unwrap_err();
    assert!(e.contains("ENGRAM_LOG_FORMAT = \"xml\""), "{e}");
    assert!(e.contains("use one of pretty, json"), "{e}");
    let e = resolve(&["serve"], &[("ENGRAM_LISTEN", "localhost")]).unwrap_err();
    assert!(e.contains("ENGRAM_LISTEN = \"localhost\""), "{e}");
    assert!(e.contains("the default is 127.0.0.1:8080"), "{e}");
    let e = resolve(&["serve"], &[("ENGRAM_RATE_LIMIT_PER_SECOND", "0")]).unwrap_err();
    assert!(
        e.contains("ENGRAM_RATE_LIMIT_PER_SECOND") && e.contains("more than 0"),
        "{e}"
    );
}

#[test]
fn a_bad_secret_is_named_but_not_echoed() {
    let short = "too-short-0123456789abcdef-0123";
    let e = resolve(&["serve"], &[("ENGRAM_ADMIN_KEY", short)]).unwrap_err();
    assert!(
        e.contains("ENGRAM_ADMIN_KEY is not valid") && e.contains("32"),
        "{e}"
    );
    assert!(!e.contains(short), "{e}");
}

#[test]
fn a_bad_file_value_names_the_key_and_the_file() {
    let file = TomlFile::new("max_body_bytes = 10\n");
    let e = with_file(&file, &["serve"], &[]).unwrap_err();
    assert!(e.contains("`max_body_bytes = \"10\"` in "), "{e}");
    assert!(e.contains(file.path().to_str().unwrap()), "{e}");
    assert!(e.contains("at least 1024"), "{e}");
    let file = TomlFile::new("listen = [\"127.0.0.1:1\"]\n");
    let e = with_file(&file, &["serve"], &[]).unwrap_err();
    assert!(e.contains("`listen`") && e.contains("single value"), "{e}");
}

#[test]
fn a_bad_flag_is_named_by_clap() {
    let e = resolve(&["serve", "--log-format", "xml"], &[]).unwrap_err();
    assert!(
        e.contains("--log-format") && e.contains("pretty, json"),
        "{e}"
    );
}

#[test]
fn unknown_file_keys_are_refused() {
    for (text, key) in [
        ("lisen = \"127.0.0.1:1\"\n", "lisen"),
        ("candidates = 5\n", "candidates"),
        ("config_file = \"x.toml\"\n", "config_file"),
        ("[retrieval]\ncandidate = 5\n", "candidate"),
    ] {
        let file = TomlFile::new(text);
        let e = with_file(&file, &["serve"], &[]).unwrap_err();
        assert!(e.contains(&format!("`{key}`")), "{text}: {e}");
    }
}

/// Every variable any command reads.
fn declared_variables() -> BTreeSet<String> {
    let mut pending = vec![command::<Cli>()];
    let mut names = BTreeSet::new();
    while let Some(cmd) = pending.pop() {
        for a in cmd.get_arguments() {
            if let Some(name) = a.get_env() {
                names.insert(name.to_string_lossy().into_owned());
            }
        }
        pending.extend(cmd.get_subcommands().cloned());
    }
    names
}

#[test]
fn serve_help_lists_every_setting_with_its_variable() {
    let e = resolve(&["serve", "--help"], &[]).unwrap_err();
    for name in declared_variables() {
        assert!(
            e.contains(&format!("[env: {name}")),
            "{name} missing from:\n{e}"
        );
    }
    assert!(e.contains("--rerank-max-tokens"), "{e}");
}

#[test]
fn the_settings_leave_the_command_description_alone() {
    let e = resolve(&["--help"], &[]).unwrap_err();
    assert!(
        e.starts_with("Long-term memory server for LLM agents"),
        "{e}"
    );
}

/// The variables in README.md's configuration table (first column, several
/// per row separated by ` / `).
fn readme_variables() -> BTreeSet<String> {
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Configuration"))
        .expect("README.md has a Configuration section");
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| l.split('|').nth(1).unwrap_or("").split(" / "))
        .map(|v| v.trim().trim_matches('`').to_string())
        .collect()
}

#[test]
fn readme_table_lists_exactly_the_declared_variables() {
    let declared = declared_variables();
    let documented = readme_variables();
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&declared).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "README.md's configuration table lacks {undocumented:?} and lists {unknown:?}, which no option declares"
    );
}
