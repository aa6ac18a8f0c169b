import json, sys
try:
    data = json.load(open(sys.argv[1]))
except ValueError:
    print("no result"); sys.exit(1)
reports = data if isinstance(data, list) else [data]
p = f = s = 0
for r in reports:
    if "summary" not in r:
        continue
    p += r["summary"]["passed"]; f += r["summary"]["failed"]; s += r["summary"]["skipped"]
    for c in r.get("results", {}).get("failed_checks", []):
        print(f"        {c['check_id']} {c['check_name']}: {c['resource']} ({c['file_path']})", file=sys.stderr)
print(f"{p} passed, {f} failed, {s} skipped by annotation")
sys.exit(1 if f or not p else 0)  # nothing scanned is a failure too
