"""Runs the engram binary the way each rendered manifest runs it.

For every render whose server uses the local ONNX embedder (the others need
an embedding endpoint that is not here), each pod is played on this machine:
its ConfigMap and Secret environment, its engram.toml, its args, and its
volumes as scratch directories (a PersistentVolumeClaim is one directory
shared by every pod that claims it; the models baked into the image are
ENGRAM_MODEL_DIR). Only the listen address moves, to 127.0.0.1 on a free
port. Then:
  * migrations Job (with a database): `engram migrate` succeeds;
  * server: the startup probe's path answers within the probe's budget, the
    liveness and readiness paths answer 200, and after some traffic every
    metric it exports is one the static checks know from the sources, and
    every metric and label that the alerts and dashboards query is exported;
  * helm test pod: its `engram healthcheck` passes against the server;
  * backup CronJob: its shell script writes a backup while the server runs,
    and that backup restores into an empty store; the maintain CronJob runs
    `engram maintain` beside it (or, with no LLM configured, refuses saying
    how to configure one);
  * SIGTERM: the server exits 0 within the pod's grace period.
PostgreSQL renders run against VALIDATE_DEPLOY_DATABASE_URL (default: the
local server, database engram_deploy_check, recreated) once the binary has a
PostgreSQL backend; until then they are reported as skipped.
"""
import base64
import glob
import gzip
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

import promql
import surface
from report import bad, check, finish, note, skip

root, work = sys.argv[1], sys.argv[2]
BIN = os.environ["ENGRAM_BIN"]
IMAGE_BIN = "/usr/local/bin/engram"
# Paths deploy/docker/Dockerfile puts into the image, as they exist here.
IMAGE_PATHS = {"/opt/engram/models": os.path.abspath(os.environ["ENGRAM_MODEL_DIR"])}
PG_URL = os.environ.get("VALIDATE_DEPLOY_DATABASE_URL",
                        "postgres://postgres@127.0.0.1:5432/engram_deploy_check")
scratch = os.path.join(work, "live")
shutil.rmtree(scratch, ignore_errors=True)
os.makedirs(scratch)


# ---- pods on this machine ---------------------------------------------------
def find(docs, kind, name=None):
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


# Stand-ins for the Secrets an operator creates (existingSecret), the same
# for every pod of a render, as in a cluster.
operator_secrets = {}


def secret_value(docs, name, key):
    for s in find(docs, "Secret", name):
        if key in s.get("stringData", {}):
            return s["stringData"][key]
        if key in s.get("data", {}):
            return base64.b64decode(s["data"][key]).decode()
    return operator_secrets.setdefault((id(docs), name, key), secrets.token_hex(24))


class Pod:
    """One pod's containers' view of the world, mapped onto scratch dirs."""

    def __init__(self, label, spec, docs, claims):
        self.label, self.spec, self.docs = label, spec, docs
        self.volumes = {}
        for v in spec.get("volumes", []):
            if "persistentVolumeClaim" in v:
                claim = v["persistentVolumeClaim"]["claimName"]
                if claim not in claims:
                    claims[claim] = tempfile.mkdtemp(prefix=f"pvc-{claim}-", dir=scratch)
                self.volumes[v["name"]] = claims[claim]
            elif "emptyDir" in v:
                self.volumes[v["name"]] = tempfile.mkdtemp(prefix=f"{v['name']}-", dir=scratch)
            elif "configMap" in v:
                self.volumes[v["name"]] = self._configmap(v["configMap"])
            else:
                raise ValueError(f"{label}: volume {v['name']} of a kind this check cannot play")

    def _configmap(self, ref):
        cm = find(self.docs, "ConfigMap", ref["name"])
        if not cm:
            raise ValueError(f"{self.label}: ConfigMap {ref['name']} is not in the render")
        data = cm[0].get("data", {})
        d = tempfile.mkdtemp(prefix=f"cm-{ref['name']}-", dir=scratch)
        for item in ref.get("items") or [{"key": k, "path": k} for k in data]:
            with open(os.path.join(d, item["path"]), "w") as f:
                f.write(data[item["key"]])
        return d

    def mounts(self, c):
        """[(path in the container, directory here, writable)], longest first."""
        m = [(vm["mountPath"], self.volumes[vm["name"]], not vm.get("readOnly")) for vm in c.get("volumeMounts", [])]
        m += [(p, d, False) for p, d in IMAGE_PATHS.items() if not any(p == x[0] for x in m)]
        return sorted(m, key=lambda x: -len(x[0]))

    def path(self, c, p, writable=False):
        for mp, d, w in self.mounts(c):
            if p == mp or p.startswith(mp + "/"):
                if writable and not w:
                    raise ValueError(f"{p} is not on a writable volume")
                return d + p[len(mp):]
        raise ValueError(f"{p} is neither a volume nor in the image (read-only root filesystem)")

    def env(self, c):
        env = {"PATH": os.environ["PATH"]}
        for ef in c.get("envFrom", []):
            if "configMapRef" in ef:
                env.update(find(self.docs, "ConfigMap", ef["configMapRef"]["name"])[0].get("data", {}))
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = str(e["value"])
            else:
                ref = e["valueFrom"]["secretKeyRef"]
                env[e["name"]] = secret_value(self.docs, ref["name"], ref["key"])
        if "DATABASE_URL" in env:
            env["DATABASE_URL"] = PG_URL
        for name in ("ENGRAM_DATA_DIR", "ENGRAM_MODEL_DIR", "ENGRAM_CONFIG", "ENGRAM_TOKENIZER"):
            if name in env:
                try:
                    env[name] = self.path(c, env[name], writable=name == "ENGRAM_DATA_DIR")
                except ValueError as e:
                    raise ValueError(f"{self.label}, container {c['name']}: {name}: {e}") from None
        return env

    def argv(self, c):
        cmd = c.get("command") or [IMAGE_BIN]
        args = c.get("args", [])
        if cmd[0] == IMAGE_BIN:
            return [BIN, *args]
        if cmd[:2] == ["/bin/sh", "-c"]:
            # Every volume in one pass, then the binary: a path already
            # mapped (a scratch dir or checkout under /tmp) is never mapped
            # again by a volume mounted at /tmp.
            mounts = {mp: d for mp, d, _ in self.mounts(c)}
            alternatives = "|".join(re.escape(mp) for mp in mounts)  # longest first
            script = re.sub(rf"(?<![\w/.-])({alternatives})(?=/|\b|$)", lambda m: mounts[m.group(1)], args[0])
            return ["/bin/sh", "-c", script.replace(IMAGE_BIN, BIN)]
        raise ValueError(f"command {cmd} is not the image's {IMAGE_BIN} nor /bin/sh -c")

    def run(self, c, timeout=600, extra_env=None):
        env = {**self.env(c), **(extra_env or {})}
        return subprocess.run(self.argv(c), env=env, cwd=scratch, capture_output=True, text=True, timeout=timeout)


def pod_spec(d):
    if d["kind"] == "CronJob":
        return d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if d["kind"] == "Pod":
        return d["spec"]
    return d["spec"]["template"]["spec"]


# ---- HTTP -------------------------------------------------------------------
def http(method, url, body=None, token=None):
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, socket.timeout) as e:
        return None, str(e)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(text):
    """{metric: {labels}} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s", line)
        if m and not line.startswith("#"):
            labels = set(re.findall(r"(\w+)=\"", m.group(2) or ""))
            out.setdefault(promql.base_name(m.group(1)), set()).update(labels)
    return out


def tail(text, n=600):
    return text.strip()[-n:]


# ---- one render ---------------------------------------------------------------
DEFINED = surface.metrics(root)
db_state = {}
scraped = {}  # "first": (render, {metric: {labels}}) of the first server run
# Every render's scrapes together, so metrics that only a run of something
# else fills (the maintain CronJob's run records) count too.
exported_anywhere = {}


def queries(docs):
    """PromQL of a render's alerts and Grafana dashboards."""
    exprs = promql.alert_exprs(docs)
    for cm in find(docs, "ConfigMap"):
        if cm.get("metadata", {}).get("labels", {}).get("grafana_dashboard") == "1":
            for v in cm.get("data", {}).values():
                exprs += promql.dashboard_exprs(json.loads(v))
    return exprs


def database_ready():
    """Recreates the check database once; None when the binary has no
    PostgreSQL backend (then the PostgreSQL renders are skipped)."""
    if "ok" in db_state:
        return db_state["ok"]
    try:
        probe = subprocess.run([BIN, "migrate"], env={"PATH": os.environ["PATH"], "DATABASE_URL": "postgres://probe@127.0.0.1:1/probe"},
                               capture_output=True, text=True, timeout=60)
        if "no PostgreSQL backend" in probe.stderr:
            db_state["ok"] = None
            return None
    except subprocess.TimeoutExpired:
        pass  # it tried to connect: it has the backend
    db_state["ok"] = recreate_database(PG_URL)
    return db_state["ok"]


def recreate_database(url):
    """An empty database at url (pgvector is created by `engram migrate`)."""
    base, _, db = url.rpartition("/")
    for sql in (f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', f'CREATE DATABASE "{db}"'):
        r = subprocess.run(["psql", f"{base}/postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql], capture_output=True, text=True)
        if r.returncode:
            bad(f"recreating the check database {db} at {base}: {tail(r.stderr)}")
            return False
    return True


def live(name, docs):
    deps = find(docs, "Deployment")
    if len(deps) != 1:
        return
    dep = deps[0]
    spec = pod_spec(dep)
    c = spec["containers"][0]
    cm_env = {}
    for ef in c.get("envFrom", []):
        if "configMapRef" in ef:
            cm_env.update(find(docs, "ConfigMap", ef["configMapRef"]["name"])[0].get("data", {}))
    embedder = {e["name"]: e.get("value") for e in c.get("env", [])}.get("ENGRAM_EMBEDDER") or cm_env.get("ENGRAM_EMBEDDER", "onnx")
    if embedder != "onnx":
        skip(f"{name}: ENGRAM_EMBEDDER={embedder} needs its embedding endpoint; not run here")
        return
    claims = {}
    server = Pod(f"{name} Deployment", spec, docs, claims)
    uses_db = "DATABASE_URL" in server.env(c)
    if uses_db:
        ready = database_ready()
        if ready is None:
            skip(f"{name}: PostgreSQL store; this engram build has no PostgreSQL backend yet (engram migrate says so)")
            return
        if not ready:
            return
        for job in find(docs, "Job"):
            jc = pod_spec(job)["containers"][0]
            r = Pod(f"{name} Job", pod_spec(job), docs, claims).run(jc, timeout=120)
            if not check(r.returncode == 0, f"{name}: Job/{job['metadata']['name']} ({' '.join(jc.get('args', []))}) succeeds",
                         tail(r.stderr)):
                return

    # Server, as the Deployment starts it.
    port = next(p["containerPort"] for p in c["ports"] if p["name"] == "http")
    listen = cm_env.get("ENGRAM_LISTEN", "")
    check(listen == f"0.0.0.0:{port}", f"{name}: ENGRAM_LISTEN {listen} serves the container port {port}")
    local = free_port()
    env = {**server.env(c), "ENGRAM_LISTEN": f"127.0.0.1:{local}"}
    base = f"http://127.0.0.1:{local}"
    log_path = os.path.join(scratch, f"{name}-server.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(server.argv(c), env=env, cwd=scratch, stdout=log, stderr=subprocess.STDOUT)
    try:
        served(name, docs, dep, c, server, proc, base, env, claims)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def probe_path(c, probe):
    return c[probe]["httpGet"]["path"]


def served(name, docs, dep, c, server, proc, base, env, claims):
    log_path = os.path.join(scratch, f"{name}-server.log")
    sp = c["startupProbe"]
    budget = sp.get("periodSeconds", 10) * sp.get("failureThreshold", 3) + sp.get("initialDelaySeconds", 0)
    start = time.monotonic()
    status = None
    while time.monotonic() - start < budget and proc.poll() is None:
        status, _ = http("GET", base + probe_path(c, "startupProbe"))
        if status == 200:
            break
        time.sleep(0.25)
    took = time.monotonic() - start
    if not check(status == 200, f"{name}: `{' '.join(c.get('args', []))}` passes the startup probe "
                 f"({probe_path(c, 'startupProbe')}) in {took:.1f}s of its {budget}s budget",
                 f"status {status}; log: {tail(open(log_path).read())}"):
        return
    for probe in ("livenessProbe", "readinessProbe"):
        s, body = http("GET", base + probe_path(c, probe))
        check(s == 200, f"{name}: {probe} {probe_path(c, probe)} answers 200", f"{s} {body[:200]}")

    # Some traffic, so that every metric has samples.
    admin = env["ENGRAM_ADMIN_KEY"]
    s, body = http("POST", base + "/v1/tenants", {"name": "deploy-check"}, admin)
    tenant = json.loads(body)["id"] if s == 201 else None
    s2, body = http("POST", f"{base}/v1/tenants/{tenant}/keys", {"name": "deploy-check", "scopes": ["read", "write"]}, admin)
    key = json.loads(body)["key"] if s2 == 201 else None
    s3, _ = http("POST", base + "/v1/memories", {"content": "The backup runs nightly at 03:17 UTC.", "user_id": "ops"}, key)
    s4, _ = http("POST", base + "/v1/search", {"query": "when does the backup run?"}, key)
    s5, _ = http("POST", base + "/v1/context", {"query": "backup time", "token_budget": 100}, key)
    # A soft budget, so that engram_budget_used_ratio (the budget alerts'
    # metric) has a sample.
    s6, _ = http("PUT", f"{base}/v1/tenants/{tenant}/budgets", {"metric": "tokens", "period": "day", "limit": 1000}, admin)
    if not check((s, s2, s3, s4, s5, s6) == (201, 201, 201, 200, 200, 200),
                 f"{name}: admin key from the Secret creates a tenant, key and budget; write, search, context answer",
                 str((s, s2, s3, s4, s5, s6))):
        return
    s, text = http("GET", base + "/metrics")
    exported = scrape(text) if s == 200 else {}
    # What the server exports is what the static checks think engram
    # defines (surface.py reads the sources), labels included.
    ours = {m: labels for m, labels in exported.items() if m.startswith("engram_")}
    unseen = {m: sorted(labels - DEFINED.get(m, set())) for m, labels in ours.items()
              if m not in DEFINED or labels - DEFINED[m]}
    check(s == 200 and ours and not unseen,
          f"{name}: /metrics exports {len(ours)} engram metrics, all of them (and their labels) found in the sources",
          f"not found: {unseen}")
    scraped.setdefault("first", (name, exported))
    for m, labels in exported.items():
        exported_anywhere.setdefault(m, set()).update(labels)

    # helm test pod.
    for pod in find(docs, "Pod"):
        pc = pod["spec"]["containers"][0]
        pc = {**pc, "args": [re.sub(r"^http://[^/]+", base, a) for a in pc.get("args", [])]}
        r = Pod(f"{name} Pod", pod["spec"], docs, claims).run(pc, timeout=30)
        check(r.returncode == 0, f"{name}: test Pod/{pod['metadata']['name']} ({' '.join(pc['args'][:1])}) passes", tail(r.stderr))

    # Backup CronJob while the server runs, then restore what it wrote.
    for cj in find(docs, "CronJob"):
        spec = pod_spec(cj)
        bc = spec["containers"][0]
        pod = Pod(f"{name} CronJob", spec, docs, claims)
        r = pod.run(bc)
        if cj["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "maintain":
            # engram maintain: retention, the upload GC, then yesterday's
            # roll-ups; the memories written above are today's, so no LLM
            # call is made. Without an LLM configured the summaries are
            # skipped.
            done = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
            status = {d.get("task"): d.get("status") for d in done}
            want = "ok" if pod.env(bc).get("ENGRAM_LLM_URL") else "skipped"
            check(r.returncode == 0 and status == {"retention": "ok", "uploads": "ok", "summaries": want},
                  f"{name}: CronJob/{cj['metadata']['name']} runs engram maintain beside the running server "
                  f"(summaries {want})", f"exit {r.returncode}: {tail(r.stdout + r.stderr)}")
            # The run is recorded: the server's /metrics now carries the
            # maintenance metrics the alerts query.
            s, text = http("GET", base + "/metrics")
            if s == 200:
                for m, labels in scrape(text).items():
                    exported_anywhere.setdefault(m, set()).update(labels)
            continue
        if cj["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "upload-gc":
            # engram maintain uploads beside the running server (on
            # PostgreSQL): nothing was uploaded, so nothing is removed; or,
            # when the maintain CronJob above ran the same task within
            # ENGRAM_MAINTAIN_MIN_INTERVAL_SECONDS, it is skipped (each task
            # once across replicas and schedules).
            done = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
            gc = [d for d in done if d.get("task") == "uploads"]
            ran = len(gc) == 1 and (gc[0].get("status") == "skipped"
                                    or (gc[0].get("status") == "ok"
                                        and gc[0].get("result") == {"uploads_removed": 0}))
            check(r.returncode == 0 and ran,
                  f"{name}: CronJob/{cj['metadata']['name']} runs the upload GC beside the running server",
                  f"exit {r.returncode}: {tail(r.stdout + r.stderr)}")
            continue
        dest = pod.path(bc, "/backup") if any(m["mountPath"] == "/backup" for m in bc.get("volumeMounts", [])) else None
        files = sorted(glob.glob(os.path.join(dest, "engram-*.jsonl.gz"))) if dest else []
        if not check(r.returncode == 0 and len(files) == 1,
                     f"{name}: CronJob/{cj['metadata']['name']} writes one backup beside the running server",
                     f"exit {r.returncode}, files {files}: {tail(r.stdout + r.stderr)}"):
            continue
        with gzip.open(files[0], "rt") as f:
            lines = sum(1 for _ in f)
        restored = tempfile.mkdtemp(prefix="restored-", dir=scratch)
        renv = {**pod.env(bc), "ENGRAM_DATA_DIR": restored}
        if "DATABASE_URL" in renv:
            renv["DATABASE_URL"] = PG_URL + "_restored"
            if not recreate_database(renv["DATABASE_URL"]):
                continue
        r = subprocess.run([BIN, "restore", "--from", files[0]], env=renv, cwd=scratch, capture_output=True, text=True, timeout=300)
        check(r.returncode == 0, f"{name}: engram restore --from that backup ({lines} lines) fills an empty store", tail(r.stderr))

    # Graceful shutdown within the grace period.
    spec = pod_spec(dep)
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_s = int(pre[-1]) if pre[:1] == ["sleep"] else 0
    grace = spec.get("terminationGracePeriodSeconds", 30)
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - start
    check(rc == 0 and pre_s + took < grace, f"{name}: SIGTERM: exit {rc} after {took:.1f}s (+ preStop {pre_s}s < grace {grace}s)",
          tail(open(log_path).read()))


renders = {}
for p in sorted(glob.glob(os.path.join(work, "render", "*.yaml"))):
    renders[os.path.basename(p)[:-5]] = [d for d in yaml.safe_load_all(open(p)) if d]
for name, docs in renders.items():
    try:
        live(name, docs)
    except (ValueError, KeyError, StopIteration, subprocess.TimeoutExpired) as e:
        bad(f"{name}: {type(e).__name__}: {e}")
if "first" in scraped:
    served_by, _ = scraped["first"]
    for name, docs in renders.items():
        exprs = queries(docs)
        if exprs:
            wrong = promql.problems(exprs, exported_anywhere)
            check(not wrong, f"{name}: its {len(exprs)} alert and dashboard queries use only metrics and labels "
                  f"that the servers (first {served_by}) exported", str(wrong))
else:
    bad("no render's server ran, so no alert or dashboard query was checked against a real /metrics")
note(f"live checks ran the binary for {len(renders)} renders (scratch in {os.path.relpath(scratch, root)})")
finish(work)
