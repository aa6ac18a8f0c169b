"""Static checks of every rendered manifest: Helm lint and render (Helm 4
SDK), values.schema.json, refused misconfigurations, strict Kubernetes
schemas, the security baseline, probes, shutdown timing, store wiring, and
references to the engram binary's real surface only (surface.py)."""
import copy, json, os, re, sys

import yaml

import promql
import surface
from report import bad, check, finish, ok
import helm_python as helm
import kubernetes_validate as kv
from kubernetes_validate.utils import SchemaNotFoundError

root, work, kube_version, have_helm3 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
sets = sys.argv[5:]
chart_dir = os.path.join(root, "deploy/helm/engram")

# The binary's real surface: nothing else may be referenced.
COMMANDS = surface.cli(os.environ["ENGRAM_BIN"])  # {subcommand: {flags}}
SUBCOMMANDS = set(COMMANDS)
ENV_VARS = surface.env_vars(root, os.environ["ENGRAM_BIN"])
METRIC_LABELS = surface.metrics(root)  # {metric: {labels}}
METRICS = set(METRIC_LABELS)
for need in ("serve", "migrate", "backup", "healthcheck"):
    check(need in SUBCOMMANDS, f"engram --help lists `{need}`", f"it lists {sorted(SUBCOMMANDS)}")
check({"ENGRAM_LISTEN", "ENGRAM_DATA_DIR", "ENGRAM_ADMIN_KEY", "DATABASE_URL"} <= ENV_VARS,
      f"engram's sources read {len(ENV_VARS)} environment variables, the configuration of API.md among them",
      str(sorted(ENV_VARS)))
check(METRICS, f"engram's sources define {len(METRICS)} metrics")
# Environment variables of engram's containers that engram itself does not
# read, each with its reader.
# Where deploy/docker/Dockerfile bakes the models.
IMAGE_MODEL_DIR = "/opt/engram/models"
NON_ENGRAM_ENV = {
    "RETENTION_DAYS",  # the backup CronJob's shell script
}
# Custom resources of the Prometheus Operator. kubernetes-validate only knows
# the core Kubernetes API and reports any other kind as "schema not found"
# (a warning it does not fail on). These two are checked structurally below;
# any OTHER kind without a schema is an error here.
CRDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}


def load_docs(text):
    return [d for d in yaml.safe_load_all(text) if d]


def values_of(s):
    if s == "default":
        return {}
    with open(os.path.join(chart_dir, "ci", s + ".yaml")) as f:
        return yaml.safe_load(f) or {}


# ---- Helm 4 SDK: lint, schema, render --------------------------------------
chart = helm.Chart.load(chart_dir)
renders = {}
for s in sets:
    vals = values_of(s)
    try:
        chart.validate_schema(vals)
        rep = helm.lint(chart_dir, vals, strict=True, namespace="engram", kube_version="v" + kube_version)
        problems = [m for m in rep.get("messages", []) if m.get("severity", 0) >= 2] + rep.get("errors", [])
        check(not problems, f"helm4 lint --strict + values.schema.json ({s})", str(problems)[:400])
        out = chart.render(vals, name="engram", namespace="engram", is_install=True)
    except helm.HelmError as e:
        bad(f"helm4 render ({s}): {str(e)[:400]}")
        continue
    notes = out.pop("engram/templates/NOTES.txt", "")
    check("engram" in notes, f"NOTES.txt renders ({s})")
    text = "".join(f"---\n# Source: {k}\n{v}\n" for k, v in sorted(out.items()) if v.strip())
    with open(os.path.join(work, "render", f"helm-{s}.yaml"), "w") as f:
        f.write(text)
    renders[f"helm-{s}"] = load_docs(text)
    ok(f"helm4 template ({s}): {len(renders['helm-' + s])} objects")


def normalize(docs):
    """Objects keyed by kind/name, minus what is random per render."""
    res = {}
    for d in copy.deepcopy(docs):
        ann = d.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {})
        ann.pop("checksum/secret", None)  # covers the generated admin key
        if d["kind"] == "Secret":
            d.get("data", {}).pop("admin-key", None)
        res[f"{d['kind']}/{d['metadata']['name']}"] = d
    return res


if have_helm3:
    for s in sets:
        p = os.path.join(work, "helm3", f"helm-{s}.yaml")
        if f"helm-{s}" not in renders or not os.path.exists(p):
            continue
        a, b = normalize(renders[f"helm-{s}"]), normalize(load_docs(open(p).read()))
        diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        check(not diff, f"Helm 3 and Helm 4 render the same objects ({s})", ", ".join(diff)[:300])

# Configurations the chart must refuse, with the message that explains why.
REFUSED = [
    ({"replicaCount": 2}, "needs a database"),
    ({"autoscaling": {"enabled": True}}, "needs a database"),
    ({"postgresql": {"url": "postgres://u:p@db/engram"}, "terminationGracePeriodSeconds": 30},
     "terminationGracePeriodSeconds"),
    ({"postgresql": {"url": "postgres://u:p@db/engram"}, "networkPolicy": {"enabled": True}},
     "networkPolicy.database"),
    ({"engram": {"embedder": {"type": "openai"}}}, "engram.embedder.url"),
    ({"pdb": {"enabled": True}}, "block every node drain"),
    ({"adminKey": {"value": "too-short"}}, "adminKey"),
    ({"replicas": 3}, "replicas"),  # typo: schema has additionalProperties false
]
for vals, expect in REFUSED:
    try:
        chart.validate_schema(vals)
        chart.render(vals, name="engram", namespace="engram", is_install=True)
        bad(f"chart refuses {json.dumps(vals)}: it rendered")
    except helm.HelmError as e:
        check(expect in str(e), f"chart refuses {json.dumps(vals)}", f"message lacks {expect!r}: {str(e)[:200]}")

for env in ("dev", "prod"):
    p = os.path.join(work, "render", f"kustomize-{env}.yaml")
    if os.path.exists(p) and os.path.getsize(p):
        renders[f"kustomize-{env}"] = load_docs(open(p).read())

# ---- strict schema validation ---------------------------------------------
for name, docs in sorted(renders.items()):
    errors, crd = [], 0
    for d in docs:
        key = (d.get("apiVersion"), d.get("kind"))
        if key in CRDS:
            crd += 1
            continue
        try:
            kv.validate(d, kube_version, strict=True)
        except SchemaNotFoundError:
            errors.append(f"{d['kind']}/{d['metadata']['name']}: no schema for {key[0]} (unknown kind)")
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            errors.append(f"{d['kind']}/{d['metadata']['name']}: {path}: {e.message}")
    check(not errors, f"kubernetes-validate --strict {kube_version}: {name} "
          f"({len(docs) - crd} core objects, {crd} Prometheus Operator objects checked below)", "; ".join(errors)[:600])


# ---- Prometheus Operator objects, structurally ------------------------------
for name, docs in sorted(renders.items()):
    for d in docs:
        kind = d["kind"]
        if kind == "ServiceMonitor":
            eps = d.get("spec", {}).get("endpoints", [])
            check(d["spec"].get("selector", {}).get("matchLabels") and eps and all(e.get("path") == "/metrics" and e.get("port") for e in eps),
                  f"{name}: ServiceMonitor scrapes /metrics on a named port")
        if kind == "PrometheusRule":
            rules = [r for g in d["spec"]["groups"] for r in g["rules"]]
            shape = all(r.get("alert") and r.get("expr") and r.get("labels", {}).get("severity") for r in rules)
            unknown = promql.problems([r["expr"] for r in rules], METRIC_LABELS)
            alerts = {r["alert"] for r in rules}
            check(shape and not unknown and {"EngramHighErrorRate", "EngramHighLatencyP95", "EngramNotReady"} <= alerts,
                  f"{name}: PrometheusRule ({len(rules)} alerts: error rate, p95 latency, readiness; only metrics and labels engram exports)",
                  f"{unknown}, alerts {sorted(alerts)}")
        if kind == "ConfigMap" and d.get("metadata", {}).get("labels", {}).get("grafana_dashboard") == "1":
            try:
                dash = json.loads(d["data"]["engram.json"])
                unknown = promql.problems(promql.dashboard_exprs(dash), METRIC_LABELS)
                check(promql.dashboard_exprs(dash) and not unknown,
                      f"{name}: Grafana dashboard JSON ({len(dash['panels'])} panels, only metrics and labels engram exports)",
                      str(unknown))
            except (KeyError, ValueError) as e:
                bad(f"{name}: Grafana dashboard ConfigMap: {e}")

a = open(os.path.join(chart_dir, "dashboards/engram.json")).read()
b = open(os.path.join(root, "deploy/kustomize/components/monitoring/engram-dashboard.json")).read()
check(a == b, "Grafana dashboard: Helm chart and kustomize copies are identical")

# ---- the kinds each deployment path must produce ---------------------------
REQUIRED = {"Deployment", "Service", "ServiceAccount", "ConfigMap", "Ingress", "HorizontalPodAutoscaler",
            "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor", "PrometheusRule", "CronJob", "Job"}
helm_kinds = {d["kind"] for n, docs in renders.items() if n.startswith("helm-") for d in docs}
check(REQUIRED <= helm_kinds, f"Helm renders together contain {', '.join(sorted(REQUIRED))}", f"missing {sorted(REQUIRED - helm_kinds)}")
prod_kinds = {d["kind"] for d in renders.get("kustomize-prod", [])}
want_prod = {"Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor", "PrometheusRule", "Job"}
check(want_prod <= prod_kinds, "kustomize prod has HPA, PDB, NetworkPolicy, ServiceMonitor, PrometheusRule, migrations Job",
      f"missing {sorted(want_prod - prod_kinds)}")
dev_kinds = {d["kind"] for d in renders.get("kustomize-dev", [])}
check("PersistentVolumeClaim" in dev_kinds and not dev_kinds & {"HorizontalPodAutoscaler", "Job"},
      "kustomize dev is minimal: embedded store on a PVC, no HPA, no migrations Job", str(sorted(dev_kinds)))


# ---- workloads: security baseline, resources, commands, env ----------------
def pod_spec(d):
    k = d["kind"]
    if k == "Pod":
        return d["spec"]
    if k == "CronJob":
        return d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return d["spec"]["template"]["spec"]


def env_names(c):
    return [e["name"] for e in c.get("env", [])]


for name, docs in sorted(renders.items()):
    cms = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    n, problems = 0, []
    for d in docs:
        if d["kind"] not in WORKLOADS:
            continue
        n += 1
        ps = pod_spec(d)
        psc = ps.get("securityContext", {})
        who = f"{d['kind']}/{d['metadata']['name']}"
        if ps.get("automountServiceAccountToken") is not False:
            problems.append(f"{who}: automountServiceAccountToken is not false")
        for c in ps.get("initContainers", []) + ps["containers"]:
            sc = c.get("securityContext", {})
            cw = f"{who}/{c['name']}"
            if not (sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True and sc.get("runAsUser", psc.get("runAsUser", 1)) != 0):
                problems.append(f"{cw}: not runAsNonRoot")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{cw}: readOnlyRootFilesystem is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{cw}: allowPrivilegeEscalation is not false")
            if "ALL" not in sc.get("capabilities", {}).get("drop", []) or sc.get("capabilities", {}).get("add"):
                problems.append(f"{cw}: capabilities do not drop ALL (or add some)")
            if (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
                problems.append(f"{cw}: seccompProfile is not RuntimeDefault")
            res = c.get("resources", {})
            if not ({"cpu", "memory"} <= set(res.get("limits", {})) and {"cpu", "memory"} <= set(res.get("requests", {}))):
                problems.append(f"{cw}: cpu/memory requests and limits not all set")
            if not any(m["mountPath"] == "/tmp" for m in c.get("volumeMounts", [])) and d["kind"] != "Pod":
                problems.append(f"{cw}: no writable /tmp volume (read-only root filesystem)")
            # Only the binary's real subcommands and their flags.
            if c.get("command", [None])[0] == "/bin/sh":
                script = " ".join(c.get("args", []))
                calls = [(m.group(1), re.findall(r"(--[\w-]+)", m.group(2)))
                         for m in re.finditer(r"/usr/local/bin/engram (\w+)((?:\s+--[\w-]+(?:\s+(?!--)\S+)?)*)", script)]
                if not calls:
                    problems.append(f"{cw}: shell script never runs /usr/local/bin/engram")
            elif c.get("command") not in (None, ["/usr/local/bin/engram"]):
                problems.append(f"{cw}: command {c['command']} is not the image's /usr/local/bin/engram")
                calls = []
            else:
                args = c.get("args", [])
                calls = [(args[0] if args else "serve", [a.split("=")[0] for a in args[1:] if a.startswith("--")])]
            for sub, flags in calls:
                if sub not in COMMANDS:
                    problems.append(f"{cw}: engram has no subcommand {sub!r}")
                elif set(flags) - COMMANDS[sub]:
                    problems.append(f"{cw}: engram {sub} has no flags {sorted(set(flags) - COMMANDS[sub])}")
            names = env_names(c)
            for ef in c.get("envFrom", []):
                names += list(cms.get(ef.get("configMapRef", {}).get("name"), {}))
            bogus = [e for e in names if e not in ENV_VARS and e not in NON_ENGRAM_ENV]
            if bogus:
                problems.append(f"{cw}: environment variables engram does not read: {bogus}")
            # Paths engram opens: on a volume (writable for the data), or in the image.
            values = {}
            for ef in c.get("envFrom", []):
                values.update(cms.get(ef.get("configMapRef", {}).get("name"), {}))
            values.update({e["name"]: e["value"] for e in c.get("env", []) if "value" in e})
            mounts = {m["mountPath"]: not m.get("readOnly") for m in c.get("volumeMounts", [])}
            for var, writable in (("ENGRAM_DATA_DIR", True), ("ENGRAM_CONFIG", False), ("ENGRAM_MODEL_DIR", False)):
                v = values.get(var)
                if v is None:
                    continue
                under = [w for mp, w in mounts.items() if v == mp or v.startswith(mp + "/")]
                if not under and not (var == "ENGRAM_MODEL_DIR" and v == IMAGE_MODEL_DIR):
                    problems.append(f"{cw}: {var}={v} is neither on a volume nor in the image")
                elif writable and not any(under):
                    problems.append(f"{cw}: {var}={v} is not on a writable volume")
    if n:
        check(not problems, f"{name}: {n} workloads run non-root, read-only root FS, drop ALL, seccomp, requests+limits, real CLI/env",
              "; ".join(problems)[:800])


# ---- the server Deployment --------------------------------------------------
def labels_match(selector, labels):
    ml = selector.get("matchLabels", {}) or {}
    if any(labels.get(k) != v for k, v in ml.items()):
        return False
    for e in selector.get("matchExpressions", []) or []:
        v = labels.get(e["key"])
        if e["operator"] == "In" and v not in e["values"]:
            return False
        if e["operator"] == "NotIn" and v in e["values"]:
            return False
        if e["operator"] == "Exists" and v is None:
            return False
    return True


for name, docs in sorted(renders.items()):
    deps = [d for d in docs if d["kind"] == "Deployment"]
    if not check(len(deps) == 1, f"{name}: exactly one Deployment"):
        continue
    dep = deps[0]
    ps = dep["spec"]["template"]["spec"]
    c = ps["containers"][0]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    path = lambda p: (c.get(p) or {}).get("httpGet", {}).get("path")
    check(path("livenessProbe") == "/health" and path("readinessProbe") == "/ready" and path("startupProbe") == "/health",
          f"{name}: probes liveness /health, readiness /ready, startup /health",
          f"{path('livenessProbe')}, {path('readinessProbe')}, {path('startupProbe')}")
    cm = {}
    for d in docs:
        if d["kind"] == "ConfigMap" and any(ef.get("configMapRef", {}).get("name") == d["metadata"]["name"] for ef in c.get("envFrom", [])):
            cm.update(d.get("data", {}))
    env = {e["name"]: e for e in c.get("env", [])}
    shutdown = int(cm.get("ENGRAM_SHUTDOWN_TIMEOUT_SECONDS", 25))
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_s = int(pre[-1]) if pre and pre[0] == "sleep" else 0
    grace = ps.get("terminationGracePeriodSeconds", 30)
    check(grace > shutdown + pre_s, f"{name}: terminationGracePeriodSeconds {grace} > preStop {pre_s}s + shutdown timeout {shutdown}s")
    check(cm.get("ENGRAM_LISTEN", "").startswith("0.0.0.0:") and "ENGRAM_ADMIN_KEY" in env
          and env["ENGRAM_ADMIN_KEY"].get("valueFrom", {}).get("secretKeyRef"),
          f"{name}: listens on 0.0.0.0 with ENGRAM_ADMIN_KEY from a Secret")
    db = "DATABASE_URL" in env
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in ps.get("volumes", [])}
    data_vol = next((vols[n] for n, p in mounts.items() if p == "/var/lib/engram"), {})
    jobs = [d for d in docs if d["kind"] == "Job" and d["metadata"]["name"].endswith("migrate")]
    hpas = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    if db:
        strat = dep["spec"].get("strategy", {})
        check(strat.get("type") == "RollingUpdate" and strat.get("rollingUpdate", {}).get("maxUnavailable") == 0,
              f"{name}: PostgreSQL store: rolling update without capacity loss")
        check(len(jobs) == 1 and jobs[0]["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"],
              f"{name}: PostgreSQL store: migrations Job runs engram migrate")
        if name.startswith("helm-") and jobs:
            hook = jobs[0]["metadata"].get("annotations", {}).get("helm.sh/hook")
            check(hook == "pre-install,pre-upgrade", f"{name}: migrations Job is a pre-install,pre-upgrade hook", str(hook))
    else:
        check(dep["spec"].get("strategy", {}).get("type") == "Recreate" and dep["spec"].get("replicas") == 1 and not hpas,
              f"{name}: embedded store: 1 replica, strategy Recreate, no HPA")
        check("persistentVolumeClaim" in data_vol, f"{name}: embedded store: /var/lib/engram on a PersistentVolumeClaim")
        check(not jobs, f"{name}: embedded store: no migrations Job")
    # Everything that points at the Deployment really selects it.
    for d in docs:
        k, n_ = d["kind"], d["metadata"]["name"]
        if k == "Service":
            ports = {p["name"] for p in c.get("ports", [])}
            check(labels_match({"matchLabels": d["spec"]["selector"]}, pod_labels)
                  and all(p.get("targetPort") in ports or isinstance(p.get("targetPort"), int) for p in d["spec"]["ports"]),
                  f"{name}: Service/{n_} selects the engram pods and their http port")
        if k in ("PodDisruptionBudget",):
            check(labels_match(d["spec"]["selector"], pod_labels), f"{name}: PodDisruptionBudget/{n_} selects the engram pods")
        if k == "NetworkPolicy":
            check(labels_match(d["spec"]["podSelector"], pod_labels), f"{name}: NetworkPolicy/{n_} selects the engram pods")
            eg = d["spec"].get("egress", [])
            dns = any(p.get("port") == 53 for r in eg for p in r.get("ports", []))
            dbp = (not db) or any(p.get("port") == 5432 for r in eg for p in r.get("ports", []))
            check(dns and dbp, f"{name}: NetworkPolicy/{n_} lets engram reach DNS{' and PostgreSQL' if db else ''}")
        if k == "HorizontalPodAutoscaler":
            t = d["spec"]["scaleTargetRef"]
            res = {m["resource"]["name"] for m in d["spec"].get("metrics", []) if m["type"] == "Resource"}
            beh = d["spec"].get("behavior", {})
            check(t["kind"] == "Deployment" and t["name"] == dep["metadata"]["name"] and res == {"cpu", "memory"}
                  and beh.get("scaleUp") and beh.get("scaleDown") and "replicas" not in dep["spec"],
                  f"{name}: HPA targets the Deployment on cpu+memory with scale-up/down behavior; Deployment leaves replicas to it")
        if k == "ServiceMonitor":
            svcs = [s for s in docs if s["kind"] == "Service" and labels_match(d["spec"]["selector"], s["metadata"].get("labels", {}))]
            check(len(svcs) == 1 and d["spec"]["endpoints"][0]["port"] in {p["name"] for p in svcs[0]["spec"]["ports"]},
                  f"{name}: ServiceMonitor/{n_} selects the Service and its http port")

# ---- deploy/compose.yaml -----------------------------------------------------
with open(os.path.join(root, "deploy/compose.yaml")) as f:
    comp = yaml.safe_load(f)
svc = comp.get("services", {})
pg, eg, mg = svc.get("postgres", {}), svc.get("engram", {}), svc.get("migrate", {})
eenv = eg.get("environment", {})
problems = []
if pg.get("image") != "pgvector/pgvector:pg16" or not pg.get("healthcheck"):
    problems.append("postgres: image pgvector/pgvector:pg16 with a healthcheck")
if "DATABASE_URL" not in eenv or "ENGRAM_ADMIN_KEY" not in eenv:
    problems.append("engram: DATABASE_URL and ENGRAM_ADMIN_KEY")
if eg.get("healthcheck", {}).get("test", [None, None])[1:3] != ["/usr/local/bin/engram", "healthcheck"]:
    problems.append("engram: healthcheck runs engram healthcheck")
if not eg.get("read_only") or "/tmp" not in eg.get("tmpfs", []) or not any(str(v).endswith(":/var/lib/engram") for v in eg.get("volumes", [])):
    problems.append("engram: read-only root, tmpfs /tmp, volume at /var/lib/engram")
if mg.get("command") != ["migrate"] or eg.get("depends_on", {}).get("migrate", {}).get("condition") != "service_completed_successfully":
    problems.append("migrate runs engram migrate before engram starts")
bogus = [e for s in (eg, mg) for e in (s.get("environment") or {}) if e not in ENV_VARS]
if bogus:
    problems.append(f"unknown environment variables {bogus}")
check(not problems, "deploy/compose.yaml: pgvector + migrate + engram, healthchecks, volumes, read-only", "; ".join(problems))

# ---- deploy/docker/Dockerfile --------------------------------------------------
df = open(os.path.join(root, "deploy/docker/Dockerfile")).read()
flat = re.sub(r"\\\n", " ", df)
froms = re.findall(r"^FROM\s+(\S+)", flat, re.M)
want = {
    "builder compiles with cargo build --release -p engram": re.search(r"cargo build --release[^\n]*-p engram", flat),
    "models baked by scripts/fetch-model /opt/engram/models": re.search(r"fetch-model /opt/engram/models", flat),
    "runtime is debian:bookworm-slim": froms and froms[-1] == "debian:bookworm-slim",
    "runs as uid 10001": re.search(r"^USER 10001", flat, re.M),
    "HEALTHCHECK runs engram healthcheck": re.search(r"^HEALTHCHECK .*engram\", \"healthcheck\"", flat, re.M),
    "EXPOSE 8080": re.search(r"^EXPOSE 8080", flat, re.M),
    "binary at /usr/local/bin/engram": "/src/target/release/engram /usr/local/bin/engram" in flat,
}
missing = [k for k, v in want.items() if not v]
env_block = " ".join(re.findall(r"^ENV\s+(.*)$", flat, re.M))
docker_env = set(re.findall(r"([A-Z][A-Z0-9_]*)=", env_block))
check(docker_env and docker_env <= ENV_VARS, f"deploy/docker/Dockerfile: ENV sets only variables engram reads ({', '.join(sorted(docker_env))})",
      f"unknown: {sorted(docker_env - ENV_VARS)}")
check(not missing, "deploy/docker/Dockerfile: " + "; ".join(want), f"missing: {missing}")
ign = open(os.path.join(root, ".dockerignore")).read().split()
check({"target/", "data/", "models/"} <= set(ign), ".dockerignore keeps target/, data/, models/ out of the build context")

finish(work)
