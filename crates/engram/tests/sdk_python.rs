//! The Python SDK (clients/python) and its LangGraph, LangChain and
//! LlamaIndex adapters, tested by its own pytest suite against the real
//! binary (and, with ENGRAM_TEST_BACKEND=postgres, PostgreSQL).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::sdk::{Servers, run, workspace};

/// The Python of the venv scripts/test makes with the SDK and its pinned
/// test requirements.
fn python() -> PathBuf {
    let python = std::env::var_os("ENGRAM_TEST_SDK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".cache/sdk-venv/bin/python"));
    assert!(
        python.exists(),
        "no Python with the SDK at {} (ENGRAM_TEST_SDK_PYTHON): run scripts/test, which makes \
         .cache/sdk-venv, or `python3 -m venv .cache/sdk-venv && .cache/sdk-venv/bin/pip install \
         -c clients/python/requirements-test.txt -e 'clients/python[all,test]'`",
        python.display()
    );
    python
}

#[test]
fn the_python_sdk_suite_passes_against_the_server() {
    let servers = Servers::start();
    let mut cmd = Command::new(python());
    cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .current_dir(workspace().join("clients/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run(&servers, cmd, "pytest clients/python");
}
