"""Turn the JSON files of one run.sh output directory into Markdown tables.

Usage: python summarize.py <results dir>     (prints Markdown; also writes summary.json)

Ratio = how many times better Rivulet is: req/s Rivulet / MLflow; latency, RSS, CPU and
start-up time MLflow / Rivulet. A cell whose measurement had failed requests says so.
"""

import glob
import json
import os
import re
import sys

KINDS = ("rivulet", "mlflow")
BACKENDS = (("sqlite", "SQLite"), ("postgres", "PostgreSQL"))


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fmt(x, unit=""):
    if x is None:
        return "—"
    if isinstance(x, float):
        if x >= 100:
            s = f"{x:,.0f}"
        elif x >= 10:
            s = f"{x:.1f}"
        else:
            s = f"{x:.2f}"
    else:
        s = str(x)
    return s + unit


def ratio(r, m, higher_better):
    if higher_better and r and m == 0:
        return "∞"
    if r is None or m is None or r == 0 or m == 0:
        return "—"
    q = r / m if higher_better else m / r
    return f"{q:.1f}×" if q < 100 else f"{q:,.0f}×"


def main(out):
    meta = load(os.path.join(out, "meta.json")) or {}
    present = [b for b in BACKENDS if glob.glob(os.path.join(out, f"{b[0]}-*.json"))]

    def f(backend, kind, name):
        return load(os.path.join(out, f"{backend}-{kind}-{name}.json"))

    def levels(mode):
        pat = re.compile(rf"^(sqlite|postgres)-(rivulet|mlflow)-{mode}-c(\d+)\.json$")
        return sorted({int(m.group(3)) for p in os.listdir(out) if (m := pat.match(p))})

    search_c = levels("search-runs")
    batch_c = levels("log-batch")
    loads = [("search-runs", c) for c in search_c] + [("log-batch", c) for c in batch_c]

    rows = []  # (label, getter(backend, kind) -> (value, note), higher_better, unit)

    def load_row(mode, c, label, pick, higher):
        def get(b, k):
            v = f(b, k, f"{mode}-c{c}")
            if v is None:
                return None, ""
            err = v["errors"]["total"]
            note = f" ⚠ {err} err/{v['requests']}" if err else ""
            if not v["ok"] and label == "req/s":
                # nothing came back inside the (extended) window: that is a result too
                return 0.0, f" ⚠ no answer in {v['window_s']:.0f} s" + (f", {err} err" if err else "")
            return pick(v), note
        rows.append((f"{mode} c={c} {label}", get, higher))

    for mode, c in loads:
        load_row(mode, c, "req/s", lambda v: v["req_per_s"] if v["ok"] else None, True)
        load_row(mode, c, "p50 ms", lambda v: v["latency"]["p50_ms"], False)
        load_row(mode, c, "p99 ms", lambda v: v["latency"]["p99_ms"], False)

    def rss_row(phase, label):
        def get(b, k):
            v = f(b, k, f"rss-{phase}")
            if v is None:
                return None, ""
            return v["rss_mib"], f" ({v['processes']} proc)" if v["processes"] > 1 else ""
        rows.append((label, get, False))

    rss_row("idle-start", "RSS idle after start, MiB")
    rss_row("idle-after-load", "RSS idle after load, MiB")

    def anon_row(phase, label):
        def get(b, k):
            v = f(b, k, f"rss-{phase}")
            return ((v or {}).get("rss_anon_mib"), "")
        rows.append((label, get, False))

    anon_row("idle-start", "… of which anonymous, after start")
    anon_row("idle-after-load", "… of which anonymous, after load")

    def peak(b, k):
        ps = [v["server"]["peak_rss_mib"] for m, c in loads if (v := f(b, k, f"{m}-c{c}")) and v.get("server")]
        return (max(ps) if ps else None), ""

    rows.append(("RSS peak under load, MiB", peak, False))

    def ready(b, k):
        v = f(b, k, "ready")
        return (v or {}).get("ready_s"), ""

    rows.append(("start-up to /health, s", ready, False))

    heads = ["measurement"]
    for _, name in present:
        heads += [f"Rivulet {name}", f"MLflow {name}", "ratio"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    summary = {"meta": meta, "rows": []}
    for label, get, higher in rows:
        cells = [label]
        rec = {"measurement": label}
        for b, name in present:
            (rv, rn), (mv, mn) = get(b, "rivulet"), get(b, "mlflow")
            cells += [fmt(rv) + rn, fmt(mv) + mn, ratio(rv, mv, higher)]
            rec[b] = {"rivulet": rv, "mlflow": mv}
        lines.append("| " + " | ".join(cells) + " |")
        summary["rows"].append(rec)

    # Server CPU per successful request (the machine is small: this is the efficiency view).
    # Server CPU and, for PostgreSQL, database CPU per answered request (warm-up included).
    cpu_lines = ["| CPU ms per request | " + " | ".join(h for h in heads[1:]) + " |", "|" + "---|" * len(heads)]

    def cpu_ms(v, what):
        srv = (v or {}).get("server") or {}
        n = sum((v or {}).get(k, 0) for k in ("warmup_requests", "requests", "late_requests"))
        if not n or srv.get(what) is None:
            return None
        return srv[what] * 1000 / n

    for mode, c in loads:
        for what, name in (("cpu_s", "server"), ("db_cpu_s", "PostgreSQL")):
            cells = [f"{mode} c={c}, {name}"]
            any_val = False
            for b, _ in present:
                vals = [cpu_ms(f(b, k, f"{mode}-c{c}"), what) for k in KINDS]
                any_val |= any(x is not None for x in vals)
                cells += [fmt(vals[0]), fmt(vals[1]), ratio(vals[0], vals[1], False)]
            if any_val:
                cpu_lines.append("| " + " | ".join(cells) + " |")

    seeds = []
    for b, name in present:
        s = load(os.path.join(out, f"{b}-seed.json"))
        if s:
            seeds.append(
                f"- {name}: seeded {s['runs']:,} runs ({s['requests']:,} requests) with Rivulet in "
                f"{s['seconds']:.1f} s; {s['runs_acc_gt_0_5']:,} runs match `metrics.acc > 0.5`."
            )

    load_files = sorted(
        os.path.join(out, p) for p in os.listdir(out) if re.match(r"^(sqlite|postgres)-(rivulet|mlflow)-.*-c\d+\.json$", p)
    )
    errs = []
    for p in load_files:
        v = load(p)
        for what, e in (("", (v or {}).get("errors")), (" (untimed warm-up)", (v or {}).get("warmup_errors"))):
            if e and e["total"]:
                errs.append(f"- `{os.path.basename(p)}`{what}: {e['by_kind']}")
                for s in e["samples"][:3]:
                    errs.append(f"    - {' '.join(s.split())[:300]}")

    print(f"## Rivulet vs MLflow {meta.get('mlflow', '')} — tracking server benchmark")
    print()
    print(
        f"{meta.get('started', '')}, {meta.get('nproc', '?')} cores, {meta.get('duration_s', '?')} s per "
        f"measurement after {meta.get('warmup_s', '?')} s warm-up, {meta.get('runs', '?')} runs in the searched "
        f"experiment; rivulet {meta.get('rivulet', '')} ({meta.get('rivulet_git_rev', '')}), PostgreSQL "
        f"{meta.get('postgres', '')}. Ratio = how many times better Rivulet is."
    )
    print()
    print("\n".join(lines))
    print()
    print("\n".join(cpu_lines))
    print()
    if seeds:
        print("\n".join(seeds))
        print()
    print("Errors: none." if not errs else "Errors:\n" + "\n".join(errs))
    # CPU taken by other processes during each measurement (the machine is shared).
    noisy = []
    for p in load_files:
        v = load(p)
        srv = (v or {}).get("server") or {}
        span = v["window_s"] + v["config"].get("warmup_s", 0) if v else 0
        if srv.get("other_cpu_s") is not None and span > 0:
            share = srv["other_cpu_s"] / (span * (meta.get("nproc") or 1))
            if share > 0.05:
                noisy.append(f"{os.path.basename(p)[:-5]} {share:.0%}")
    print()
    print(
        "PostgreSQL CPU is that of the whole cluster (other databases on it count too). "
        "Other processes' share of the machine's CPU during a measurement: "
        + ("below 5% throughout." if not noisy else "above 5% in " + ", ".join(noisy) + ".")
    )
    with open(os.path.join(out, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
