"""Check bookkeeping shared by the deploy checks: FAIL lines always, ok lines
with VALIDATE_DEPLOY_VERBOSE=1, and the counts that scripts/validate-deploy
adds up (written to <work>/counts by finish())."""
import os
import sys

VERBOSE = os.environ.get("VALIDATE_DEPLOY_VERBOSE") == "1"
counts = {"passed": 0, "failed": 0}


def ok(msg):
    counts["passed"] += 1
    if VERBOSE:
        print(f"  ok    {msg}", flush=True)


def note(msg):
    """A passed check that is always shown."""
    counts["passed"] += 1
    print(f"  ok    {msg}", flush=True)


def skip(msg):
    print(f"  skip  {msg}", flush=True)


def bad(msg):
    counts["failed"] += 1
    print(f"  FAIL  {msg}", flush=True)


def check(cond, msg, detail=""):
    (ok if cond else bad)(msg if cond or not detail else f"{msg}: {detail}")
    return cond


def finish(work):
    with open(os.path.join(work, "counts"), "w") as f:
        f.write(f"{counts['passed']} {counts['failed']}\n")
    sys.exit(1 if counts["failed"] else 0)
