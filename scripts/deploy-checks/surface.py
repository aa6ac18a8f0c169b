"""The engram binary's real surface, which is all a manifest may refer to.

Read from the binary itself where it can tell (subcommands, flags and the
environment variables of its settings from `engram --help`) and from its
source where it cannot (any other variable it reads, and metrics), so that
a renamed variable or metric fails the deployment checks instead of
shipping manifests that configure nothing.
"""
import glob
import os
import re
import subprocess

# Read by libraries rather than by an `env("...")` call of engram's own:
# tracing's EnvFilter reads RUST_LOG.
LIBRARY_ENV = {"RUST_LOG"}


def _help(binary, *args):
    out = subprocess.run([binary, *args, "--help"], capture_output=True, text=True, check=True)
    return out.stdout


def _section(text, title):
    """Lines of a clap help section such as `Commands:` or `Options:`."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.strip() == title:
            inside = True
        elif inside and line and not line.startswith(" "):
            break
        elif inside and line.strip():
            lines.append(line)
    return lines


def cli(binary):
    """{subcommand: {long flags}} as `engram --help` lists them."""
    commands = {}
    for line in _section(_help(binary), "Commands:"):
        name = line.split()[0]
        if name == "help":
            continue
        flags = set()
        for opt in _section(_help(binary, name), "Options:"):
            flags |= set(re.findall(r"(--[a-z][\w-]*)", opt))
        commands[name] = flags - {"--help", "--version"}
    return commands


def _sources(root):
    return sorted(glob.glob(os.path.join(root, "crates/*/src/**/*.rs"), recursive=True))


def env_vars(root, binary):
    """Environment variables engram reads: every setting's `[env: NAME]` in
    the subcommands' `--help`, every `env("NAME")` / `std::env::var("NAME")`
    left in the crates' sources, plus LIBRARY_ENV."""
    names = set(LIBRARY_ENV)
    for command in cli(binary):
        names |= set(re.findall(r"\[env: ([A-Z][A-Z0-9_]*)[=\]]", _help(binary, command)))
    pattern = re.compile(r"\benv(?:::var)?\(\s*\"([A-Z][A-Z0-9_]*)\"")
    for path in _sources(root):
        with open(path) as f:
            names |= set(pattern.findall(f.read()))
    return names


def metrics(root):
    """{metric name: {label names}} of every `metrics::counter!/gauge!/histogram!`
    call in the sources. Histograms also expose _bucket/_sum/_count and `le`."""
    found = {}
    call = re.compile(r"metrics::(counter|gauge|histogram)!\(\s*\"(engram_\w+)\"([^;]*?)\)\s*[.;]", re.S)
    for path in _sources(root):
        with open(path) as f:
            text = f.read()
        for kind, name, rest in call.findall(text):
            labels = set(re.findall(r"\"(\w+)\"\s*=>", rest))
            if kind == "histogram":
                labels.add("le")
            found.setdefault(name, set()).update(labels)
    return found
