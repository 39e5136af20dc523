# SPDX-License-Identifier: Apache-2.0
"""Renders a run's JSON as Markdown tables and PNG plots (gnuplot, from Debian's gnuplot-nox).
Everything in the report comes from the JSON, so an old run can be rendered again
(`bench/run --render FILE.json`)."""
import os
import shutil
import statistics
import subprocess

from . import targets

BEGIN = "<!-- bench/run: begin (generated from the run's JSON; edit the harness, not this) -->"
END = "<!-- bench/run: end -->"

LAB_TESTS = [("http_keepalive", "HTTP requests/s, keep-alive"),
             ("http_new_conn", "HTTP connections/s, one request each"),
             ("tcp_bulk", "TCP bulk throughput (iperf3)"),
             ("mysql_point_select", "MySQL point_select (sysbench)")]
LAB_PEERS = ["direct", "haproxy", "nftables", "fulcrum-fnat", "fulcrum-dsr"]


def fmt(v, digits=3):
    if v is None:
        return "–"
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    return "{:.{d}g}".format(v, d=digits)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def results(doc, section):
    return (doc["sections"].get(section) or {}).get("results", [])


def section_status(doc, section):
    sec = doc["sections"].get(section)
    if sec is None:
        return "not run"
    if sec["status"] == "ok":
        return ""
    return "**%s**: %s" % (sec["status"], sec["reason"] or "(no reason given)")


def samples_text(m):
    return ", ".join(fmt(s) for s in m["samples"]) if m["samples"] else m["reason"]


def head(doc, json_path):
    mach, ver = doc["machine"], doc["versions"]
    lines = [
        "Run: `%s`, %s, %s mode, %.0f s. Results: `%s`." % (
            doc["command"], doc["started"], doc["mode"], doc["duration_s"] or 0,
            os.path.basename(json_path)),
        "",
        "Machine: %s, %s cores, %s GiB, %s, kernel %s; load average at start %s." % (
            mach.get("cpu"), mach.get("cores"), mach.get("memory_gib"), mach.get("os"),
            mach.get("kernel"), ", ".join("%.2f" % x for x in mach.get("load_average_at_start", []))),
        "",
        "Versions: Fulcrum %s; DPDK %s; %s; %s." % (
            ver.get("fulcrum"), ver.get("dpdk"), ver.get("compiler"),
            "; ".join("%s: %s" % (k, ver[k]) for k in ("haproxy", "nft", "wrk", "iperf3",
                                                       "sysbench", "valgrind", "keepalived")
                      if ver.get(k))),
    ]
    return "\n".join(lines)


def targets_md(doc):
    if not doc["targets"]:
        return "Targets are not judged in a %s run." % doc["mode"]
    rows = []
    for t in doc["targets"]:
        verdict = "not measured" if t["met"] is None else ("met" if t["met"] else "**not met**")
        rows.append([t["name"], fmt(t["value"]) if t["value"] is not None else t["reason"],
                     "%s %g" % (t["comparison"], t["threshold"]), verdict])
    return table(["target", "value", "threshold", "verdict"], rows)


def rate_md(doc):
    ms = results(doc, "pipeline_rate")
    rows = []
    for m in ms:
        p = m["params"]
        ratio = targets.paired_ratio(m)[0] if m["peer"] != "testpmd-io" else None
        offered = m["extra"].get("offered_mpps") or []
        label = p.get("label", m["name"])
        achieved = [g.get("updates_per_s_achieved") for g in m["extra"].get("generator", [])
                    if g.get("updates_per_s_achieved") is not None]
        if achieved:
            label += " (achieved %s updates/s)" % "/".join(fmt(a) for a in achieved)
        shares = [(g.get("dut_worker") or {}).get("busy_loop_share")
                  for g in m["extra"].get("generator", [])]
        shares = [x for x in shares if x is not None]
        rows.append([label, fmt(m["median"]), samples_text(m),
                     fmt(max(offered)) if offered else "–", fmt(ratio, 2) if ratio else "–",
                     "%.0f%%" % (100 * statistics.median(shares)) if shares else "–"])
    if not rows:
        return section_status(doc, "pipeline_rate")
    lead = ("Each fulcrumd sample is paired with a testpmd io sample of the same frame size "
            "taken just before it; the ratio is the median of the pairs' ratios.\n\n")
    text = lead + table(["case", "Mpps (median)", "samples", "offered Mpps", "x testpmd io (paired)",
                  "worker polls that moved packets"], rows)
    status = section_status(doc, "pipeline_rate")
    return text + ("\n\n" + status if status else "")


def ipp_md(doc):
    ms = [m for m in results(doc, "ipp")]
    if not ms:
        return section_status(doc, "ipp")
    rows = [[m["params"].get("flows", m["name"]), m["peer"],
             fmt(m["median"], 4) if m["status"] == "ok" else m["reason"]] for m in ms]
    out = [table(["path", "mode", "instructions per packet"], rows)]
    for m in ms:
        top = m["extra"].get("top_functions") or []
        if not top:
            continue
        out.append("")
        out.append("Top functions, %s %s (instructions per packet, share):" % (
            m["params"].get("flows"), m["peer"]))
        out.append("")
        out.append(table(["function", "per packet", "share"],
                         [["`%s`" % f["function"], f["per_packet"], "%.1f%%" % f["share"]]
                          for f in top]))
    return "\n".join(out)


def update_md(doc):
    ms = results(doc, "table_update")
    if not ms:
        return section_status(doc, "table_update")
    by = {}
    for m in ms:
        by.setdefault(m["params"]["backends"], {})[m["name"]] = m
    rows = [[b, fmt(v.get("snapshot_build", {}).get("median")),
             fmt(v.get("snapshot_build_publish", {}).get("median"))] for b, v in sorted(by.items())]
    return table(["backends", "build (µs, median)", "build + RCU publish (µs, median)"], rows)


def lab_md(doc):
    ms = results(doc, "lab_e2e")
    if not ms:
        return section_status(doc, "lab_e2e")
    out = []
    for name, title in LAB_TESTS:
        rows = []
        direct = next((m for m in ms if m["name"] == name and m["peer"] == "direct" and
                       m["status"] == "ok"), None)
        for peer in LAB_PEERS:
            m = next((m for m in ms if m["name"] == name and m["peer"] == peer), None)
            if m is None:
                rows.append([peer, "–", "–", "–", "–", "not in this run"])
            elif m["status"] != "ok":
                rows.append([peer, "–", "–", "–", "–", "%s: %s" % (m["status"], m["reason"])])
            else:
                ratio = m["median"] / direct["median"] if direct and direct["median"] else None
                rows.append([peer, "%s %s" % (fmt(m["median"]), m["unit"]),
                             fmt(m["extra"].get("p50_ms")), fmt(m["extra"].get("p99_ms")),
                             fmt(ratio, 2) if ratio else "–", samples_text(m)])
        out.append("**%s**\n\n" % title + table(
            ["peer", "median", "p50 ms", "p99 ms", "x direct", "samples"], rows))
    status = section_status(doc, "lab_e2e")
    return "\n\n".join(out) + ("\n\n" + status if status else "")


def failover_md(doc):
    ms = results(doc, "failover")
    if not ms:
        return section_status(doc, "failover")
    rows = []
    for m in ms:
        if m["status"] != "ok":
            rows.append([m["peer"], "–", "–", "–", "%s: %s" % (m["status"], m["reason"])])
            continue
        s = sorted(m["samples"])
        rows.append([m["peer"], fmt(s[0]), fmt(m["median"]), fmt(s[-1]), samples_text(m)])
    return table(["implementation", "min ms", "median ms", "max ms", "gaps (ms)"], rows)


def notes_md(doc):
    out = []
    for name, sec in doc["sections"].items():
        for n in sec.get("notes", []):
            out.append("- %s: %s" % (name, n))
    return "\n".join(out) or "(none)"


# -- plots ----------------------------------------------------------------------------------

def gnuplot(script, cwd):
    if not shutil.which("gnuplot"):
        return False
    r = subprocess.run(["gnuplot"], input=script, text=True, cwd=cwd, capture_output=True,
                       timeout=60)
    return r.returncode == 0


def bar_plot(path, title, ylabel, labels, values):
    """A horizontal-label bar chart of (label, value); returns the file name or None."""
    if not labels:
        return None
    d = os.path.dirname(path)
    data = os.path.join(d, os.path.basename(path) + ".dat")
    with open(data, "w") as f:
        for i, (lab, v) in enumerate(zip(labels, values)):
            f.write('%d "%s" %g\n' % (i, lab.replace('"', "'"), v))
    script = """set terminal pngcairo noenhanced size 1000,%d font "sans,10"
set output "%s"
set title "%s"
set style fill solid 0.8 border -1
set boxwidth 0.7
set xlabel "%s"
set yrange [-0.7:%f] reverse
set xrange [0:%g]
set grid xtics
unset key
set ytics nomirror
plot "%s" using ($3*0.5):1:($3*0.5):(0.35):yticlabels(2) with boxxyerrorbars lc rgb "#4477aa", \\
     "" using 3:1:(sprintf(" %%.3g", $3)) with labels left
""" % (120 + 32 * len(labels), os.path.basename(path), title, ylabel, len(labels) - 0.3,
       max(values) * 1.15 or 1, os.path.basename(data))
    ok = gnuplot(script, d)
    os.unlink(data)
    return os.path.basename(path) if ok else None


def plots(doc, out_dir):
    made = {}
    rate = [m for m in results(doc, "pipeline_rate") if m["status"] == "ok"]
    made["rate"] = bar_plot(os.path.join(out_dir, "pipeline_rate.png"),
                            "Packet rate, one worker lcore, net_memif", "Mpps (median)",
                            [m["params"].get("label", m["name"]) for m in rate],
                            [m["median"] for m in rate])
    lab = [m for m in results(doc, "lab_e2e") if m["status"] == "ok"]
    labels, values = [], []
    for name, title in LAB_TESTS:
        direct = next((m for m in lab if m["name"] == name and m["peer"] == "direct"), None)
        if not direct or not direct["median"]:
            continue
        for peer in LAB_PEERS:
            m = next((m for m in lab if m["name"] == name and m["peer"] == peer), None)
            if m is not None:
                labels.append("%s: %s" % (name, peer))
                values.append(m["median"] / direct["median"])
    made["lab"] = bar_plot(os.path.join(out_dir, "lab_e2e.png"),
                           "Lab end to end, relative to the direct path (1.0)",
                           "x direct (median)", labels, values)
    ipp = [m for m in results(doc, "ipp") if m["status"] == "ok"]
    made["ipp"] = bar_plot(os.path.join(out_dir, "ipp.png"), "Instructions per packet (callgrind)",
                           "instructions", ["%s %s" % (m["params"].get("flows"), m["peer"])
                                            for m in ipp], [m["median"] for m in ipp])
    fo = [m for m in results(doc, "failover") if m["status"] == "ok"]
    made["failover"] = bar_plot(os.path.join(out_dir, "failover.png"),
                                "VRRP failover: client gap after SIGKILL of the master (median)",
                                "ms", [m["peer"] for m in fo], [m["median"] for m in fo])
    return made


def body(doc, json_path, plot_dir_rel, made):
    def img(key, alt):
        return "\n\n![%s](%s/%s)" % (alt, plot_dir_rel, made[key]) if made.get(key) else ""

    parts = [
        head(doc, json_path),
        "### Targets\n\n" + targets_md(doc),
        "### Packet rate: one worker lcore against dpdk-testpmd io forward\n\n" + rate_md(doc) +
        img("rate", "packet rate"),
        "### Instructions per packet (callgrind)\n\n" + ipp_md(doc) + img("ipp", "ipp"),
        "### Table update cost\n\n" + update_md(doc),
        "### Lab end to end\n\n" + lab_md(doc) + img("lab", "lab"),
        "### VRRP failover\n\n" + failover_md(doc) + img("failover", "failover"),
        "### What limited the figures (from the sections)\n\n" + notes_md(doc),
    ]
    return "\n\n".join(parts) + "\n"


def write(doc, out_dir, json_path):
    """report.md and the plots in out_dir; returns report.md's path."""
    os.makedirs(out_dir, exist_ok=True)
    made = plots(doc, out_dir)
    path = os.path.join(out_dir, "report.md")
    with open(path, "w") as f:
        f.write("# Fulcrum benchmark report\n\n" + body(doc, json_path, ".", made))
    return path


def update_docs(doc, docs_md, plot_dir, json_path):
    """Replaces the generated part of docs/benchmarks.md (between BEGIN and END) with this
    run's report; the plots go to plot_dir and the JSON beside them."""
    os.makedirs(plot_dir, exist_ok=True)
    made = plots(doc, plot_dir)
    kept_json = os.path.join(plot_dir, "results-%s.json" % doc["mode"])
    if os.path.abspath(json_path) != os.path.abspath(kept_json):
        shutil.copyfile(json_path, kept_json)
    rel = os.path.relpath(plot_dir, os.path.dirname(docs_md))
    generated = BEGIN + "\n\n" + body(doc, kept_json, rel, made) + "\n" + END
    with open(docs_md) as f:
        text = f.read()
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + generated + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + generated + "\n"
    with open(docs_md, "w") as f:
        f.write(text)
