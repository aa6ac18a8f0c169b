//! The TypeScript SDK (clients/typescript), compiled with its pinned
//! compiler and tested by its own `node --test` suite against the real
//! binary (and, with ENGRAM_TEST_BACKEND=postgres, PostgreSQL); and the
//! README's quick start as a new user runs it, after
//! `npm install ./clients/typescript`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::sdk::{Servers, run, workspace};

fn package() -> PathBuf {
    let dir = workspace().join("clients/typescript");
    assert!(
        dir.join("node_modules/typescript").exists(),
        "clients/typescript has no node_modules: run scripts/test, or `npm ci` in clients/typescript"
    );
    dir
}

/// Compiles src/ into dist/ with the pinned compiler.
fn build() {
    let dir = package();
    let status = Command::new("node")
        .arg(dir.join("node_modules/typescript/bin/tsc"))
        .args(["-p", "tsconfig.json"])
        .current_dir(&dir)
        .status()
        .expect("running node (is Node.js 18 or later installed?)");
    assert!(status.success(), "tsc failed on clients/typescript");
}

#[test]
fn the_typescript_sdk_suite_passes_against_the_server() {
    build();
    let servers = Servers::start();
    let mut cmd = Command::new("node");
    cmd.args(["--test", "test/"]).current_dir(package());
    run(&servers, cmd, "node --test clients/typescript/test");
}

/// `npm install ./clients/typescript` in an empty project, then the
/// README's lines: a memory added, a context block back.
#[test]
fn a_new_project_installs_the_package_and_runs_the_quick_start() {
    let dir = package();
    let project = tempfile::tempdir().expect("tempdir");
    let npm = |args: &[&str]| {
        let out = Command::new("npm")
            .args(args)
            .current_dir(project.path())
            .output()
            .expect("running npm");
        assert!(
            out.status.success(),
            "npm {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        project.path().join("package.json"),
        r#"{"name": "quickstart", "private": true, "type": "module"}"#,
    )
    .unwrap();
    npm(&[
        "install",
        "--no-audit",
        "--no-fund",
        dir.to_str().expect("utf-8 path"),
    ]);
    std::fs::write(
        project.path().join("quickstart.mjs"),
        r#"import { EngramClient } from "@engram/client";
const engram = new EngramClient({ url: process.env.ENGRAM_URL, apiKey: process.env.KEY });
await engram.memories.add({ content: "Alice works as a baker at the Acme bakery.", user_id: "alice" });
const { context } = await engram.context({ query: "Where does Alice work?", filters: { user_id: "alice" } });
if (!context.includes("Acme bakery")) throw new Error(`no memory in the context: ${context}`);
console.log(context);
"#,
    )
    .unwrap();
    let servers = Servers::start();
    let tenant = servers.main.create_tenant("quickstart");
    let key = servers.main.create_key(&tenant, &["read", "write"]);
    let mut cmd = Command::new("node");
    cmd.arg("quickstart.mjs")
        .current_dir(project.path())
        .env("KEY", key);
    run(&servers, cmd, "the TypeScript quick start");
}
