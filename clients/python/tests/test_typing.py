"""The SDK as a user's type checker sees it: mypy --strict on a sample of
both clients, and the async client's stub kept in step with _api.py. Needs
no server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "typecheck" / "clients_sample.py"

# "path:line: error: message  [code]" or "path:line: note: Revealed type is "T"";
# mypy's other notes are hints for the line above ("Maybe you forgot to use
# "await"?"), not findings.
MYPY_LINE = re.compile(
    r'^(?P<path>[^:]+):(?P<line>\d+): (?:error: .*\[(?P<code>[\w-]+)\]'
    r'|note: Revealed type is "(?P<type>.*)"|(?P<hint>note: .*))$'
)
EXPECTATION = re.compile(r"# (?P<kind>[EN]): (?P<what>.+)$")


def expected() -> set[tuple[int, str, str]]:
    out = set()
    for no, text in enumerate(SAMPLE.read_text().splitlines(), start=1):
        m = EXPECTATION.search(text)
        if m:
            out.add((no, m["kind"], m["what"].strip()))
    return out


def test_mypy_sees_models_from_the_sync_client_and_awaitables_from_the_async_one(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--show-error-codes", "--no-error-summary",
         "--hide-error-context", "--no-pretty", "--cache-dir", str(tmp_path), str(SAMPLE)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    got, unparsed = set(), []
    for line in run.stdout.splitlines():
        m = MYPY_LINE.match(line)
        if not m or Path(m["path"]).resolve() != SAMPLE:
            unparsed.append(line)
        elif m["hint"]:
            continue
        elif m["code"]:
            got.add((int(m["line"]), "E", m["code"]))
        else:
            got.add((int(m["line"]), "N", m["type"]))
    assert not unparsed, "mypy reported more than the sample's lines:\n" + run.stdout + run.stderr
    want = expected()
    assert got == want, (
        f"missing: {sorted(want - got)}\nunexpected: {sorted(got - want)}\n{run.stdout}"
    )


def test_the_package_itself_type_checks(tmp_path):
    """Its annotations are what users' checkers trust, so they must hold
    for the code too (mypy's default mode: the request plumbing is ``Any``
    by design)."""
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path), "src/engram_client"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_async_stub_is_generated_from_the_current_api():
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_async_stub.py"), "--check"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
