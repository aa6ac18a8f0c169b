"""The metrics and labels that PromQL expressions (alerts, dashboards) query,
checked against what engram exports."""
import re

# Labels Prometheus adds to every series it scrapes through a ServiceMonitor.
TARGET_LABELS = {"namespace", "job", "pod", "instance", "service", "endpoint", "container"}
SUFFIXES = ("_bucket", "_sum", "_count")


def base_name(series):
    for s in SUFFIXES:
        if series.endswith(s):
            return series[: -len(s)]
    return series


def problems(exprs, exported):
    """exported: {metric: {labels}}. Lists the metrics engram does not export,
    and the labels that none of the queried metrics (nor the scrape target)
    carries."""
    found = []
    for expr in exprs:
        used = {base_name(m) for m in re.findall(r"\b(engram_[a-z_]+)\b", expr)}
        found += [f"unknown metric {m}" for m in sorted(used - set(exported))]
        allowed = TARGET_LABELS.union(*(exported.get(m, set()) for m in used))
        labels = set()
        for sel in re.findall(r"\{([^{}]*)\}", expr):
            labels |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", sel))
        for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
            labels |= {label.strip() for label in group.split(",") if label.strip()}
        found += [f"label {label} on {sorted(used)}" for label in sorted(labels - allowed)]
    return found


def alert_exprs(docs):
    return [r["expr"] for d in docs if d["kind"] == "PrometheusRule"
            for g in d["spec"]["groups"] for r in g["rules"]]


def dashboard_exprs(dash):
    def walk(panels):
        for p in panels:
            yield from (t["expr"] for t in p.get("targets", []) if "expr" in t)
            yield from walk(p.get("panels", []))
    return list(walk(dash.get("panels", [])))
