# SPDX-License-Identifier: Apache-2.0
"""The targets Fulcrum aims at (issue 7), judged from a run's sections. Each target is
{"name", "value", "threshold", "comparison", "met", "detail", "reason"}: met is true or false
when both sides were measured, null (with the reason) when not."""


def find(doc, section, name, peer, **params):
    """The measurement of `section` with that name and peer whose params include `params` (a
    value of None matches a parameter that is absent)."""
    sec = doc["sections"].get(section)
    if not sec:
        return None
    for m in sec["results"]:
        if m["name"] != name or m["peer"] != peer:
            continue
        if all(m["params"].get(k) == v for k, v in params.items()):
            return m
    return None


def usable(m):
    return m is not None and m["status"] == "ok" and m["median"] is not None


def judge(name, value, threshold, comparison, detail, reason_if_missing):
    t = {"name": name, "value": value, "threshold": threshold, "comparison": comparison,
         "met": None, "detail": detail, "reason": ""}
    if value is None:
        t["reason"] = reason_if_missing
    else:
        t["met"] = value >= threshold if comparison == ">=" else value <= threshold
    return t


def paired_ratio(m):
    """The median of a packet-rate measurement's ratios to the testpmd sample taken just
    before each of its samples; (value, reason when missing)."""
    if not usable(m):
        return None, (m or {}).get("reason") or "not measured"
    ratios = sorted(m["extra"].get("ratios_to_testpmd") or [])
    if not ratios:
        return None, "no testpmd sample paired with it"
    mid = len(ratios) // 2
    value = ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
    return round(value, 3), ""


def ratio(a, b, what):
    """(a.median / b.median, reason when either is missing)."""
    reasons = ["%s: %s" % (n, (m or {}).get("reason") or "not measured")
               for n, m in (("fulcrum", a), (what, b)) if not usable(m)]
    if reasons:
        return None, "; ".join(reasons)
    if not b["median"]:
        return None, "%s measured 0" % what
    return round(a["median"] / b["median"], 3), ""


def evaluate(doc):
    if doc["mode"] == "smoke":
        return []
    out = []
    rate = "pipeline_rate"
    for mode in ("fnat", "dsr"):
        for new, threshold in ((False, 0.7), (True, 0.4)):
            name = "rate_new" if new else "rate_established"
            f = find(doc, rate, name, "fulcrum-" + mode, size=64, backends=3,
                     flows=0 if new else 1024, updates_per_s=None)
            value, why = paired_ratio(f)
            out.append(judge("%s-flow pipeline, %s, 64 B: x testpmd io forward" %
                             ("new" if new else "established", mode.upper()), value, threshold,
                             ">=", "one worker lcore, net_memif; median of paired samples", why))
    upd, why_u = paired_ratio(find(doc, rate, "rate_established", "fulcrum-fnat", size=64,
                                   backends=3, flows=1024, updates_per_s=1000))
    plain, why_p = paired_ratio(find(doc, rate, "rate_established", "fulcrum-fnat", size=64,
                                     backends=3, flows=1024, updates_per_s=None))
    with_updates = round(upd / plain, 3) if upd and plain else None
    why = why_u or why_p
    out.append(judge("packet rate while publishing 1,000 updates/s: x rate without", with_updates,
                     0.95, ">=", "FNAT established, 64 B; each against its paired testpmd "
                     "samples", why))
    for mode in ("fnat", "dsr"):
        m = find(doc, "ipp", "ipp_established", "fulcrum-" + mode)
        out.append(judge("instructions per established packet, %s" % mode.upper(),
                         m["median"] if usable(m) else None, 120, "<=", "callgrind",
                         (m or {}).get("reason") or "not measured"))
    lab = "lab_e2e"
    for mode in ("fnat", "dsr"):
        peer = "fulcrum-" + mode
        for name, what in (("http_keepalive", "requests/s"), ("http_new_conn", "connections/s")):
            value, why = ratio(find(doc, lab, name, peer), find(doc, lab, name, "direct"),
                               "direct")
            out.append(judge("lab %s, %s: x direct" % (what, mode.upper()), value, 0.9, ">=",
                             name, why))
        value, why = ratio(find(doc, lab, "http_new_conn", peer),
                           find(doc, lab, "http_new_conn", "haproxy"), "haproxy")
        out.append(judge("lab connections/s, %s: x HAProxy" % mode.upper(), value, 2.0, ">=",
                         "http_new_conn", why))
        value, why = ratio(find(doc, lab, "tcp_bulk", peer), find(doc, lab, "tcp_bulk",
                                                                  "nftables"), "nftables")
        out.append(judge("lab throughput, %s: x nftables" % mode.upper(), value, 1.0, ">=",
                         "tcp_bulk", why))
    return out
