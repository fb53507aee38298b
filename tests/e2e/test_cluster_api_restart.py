"""test_cluster_api_restart.py - a new or restarted API instance refuses blocked users from
the moment its /healthz says ready.

Cluster: mock Kafka, 1 detector, API api-1. BLOCKED users get 5 failures each through
api-1 until it refuses them (so lg.blocks holds their blocks). Then, twice - a NEW
instance on a fresh port, and api-1 restarted after SIGKILL on its own port - the
instance's /healthz is polled on one keep-alive connection; on that same connection, the
first request after the first 200 reads /metrics: the local blocklist must already hold
every block (readiness means "read lg.blocks to its end"). Then every blocked user gets
423 with Retry-After from that instance, on its own port, and a fresh user still gets 202.
"""
import http.client
import json
import re
import sys
import time

import lgtest
from lgtest import check, fail
import clusterlib

BLOCKED = ["rs-user-%03d" % i for i in range(150)]
READY_MAX_S = 30
PROPAGATE_MAX_S = 20


def post_attempt(conn, key, user, ok, ts):
    body = json.dumps({"user": user, "ip": "203.0.113.9", "ok": ok, "ts": ts})
    conn.request("POST", "/v1/attempts", body=body, headers=lgtest.reporter_headers(key))
    r = conn.getresponse()
    r.read()
    return r.status, r.getheader("Retry-After")


def block_everyone(api, key):
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    ts = clusterlib.now_ms()
    for u in BLOCKED:
        for _ in range(5):
            ts += 1
            st, _ = post_attempt(conn, key, u, False, ts)
            check(st == 202, "failure for %s answered %d, not 202" % (u, st))
    # the last user's block reached api-1 (lg.blocks is read in order per partition, so
    # wait for all of them)
    deadline = time.time() + PROPAGATE_MAX_S
    pending = list(BLOCKED)
    while pending and time.time() < deadline:
        pending = [u for u in pending if not blocked_at(conn, u)]
        if pending:
            time.sleep(0.1)
    conn.close()
    check(not pending, "%d users not blocked at %s after %ss" % (len(pending), api.name,
                                                                 PROPAGATE_MAX_S))


def blocked_at(conn, user):
    conn.request("GET", "/v1/blocks/" + user)
    r = conn.getresponse()
    doc = json.loads(r.read())
    return r.status == 200 and doc.get("blocked") is True


def entries_when_ready(api):
    """Polls /healthz on one connection; the request right after the first 200 reads
    lg_blocklist_entries from /metrics. Returns (seconds to ready, entries)."""
    t0 = time.time()
    conn = None
    while time.time() - t0 < READY_MAX_S:
        if not api.alive():
            fail("%s exited: %s" % (api.name, api.log_text()[-2000:]))
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                ready_s = time.time() - t0
                conn.request("GET", "/metrics")
                m = conn.getresponse()
                text = m.read().decode()
                conn.close()
                g = re.search(r"^lg_blocklist_entries(?:\{[^}]*\})? (\d+)", text, re.M)
                check(g is not None, "no lg_blocklist_entries in /metrics:\n" + text[:500])
                return ready_s, int(g.group(1))
            check(r.status == 503, "/healthz answered %d before ready" % r.status)
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
        time.sleep(0.005)
    fail("%s not ready within %ss" % (api.name, READY_MAX_S))


def check_refuses(api, key, what):
    ready_s, entries = entries_when_ready(api)
    print("%s: ready %.2f s after start; blocklist entries at that moment: %d" %
          (what, ready_s, entries))
    check(entries >= len(BLOCKED), "%s said ready with %d of %d blocks in its cache" %
          (what, entries, len(BLOCKED)))
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    ts = clusterlib.now_ms()
    for u in BLOCKED:
        st, retry = post_attempt(conn, key, u, True, ts)
        check(st == 423, "%s answered %d for blocked %s, not 423" % (what, st, u))
        check(retry is not None and int(retry) > 0, "423 without Retry-After for %s" % u)
    st, _ = post_attempt(conn, key, "rs-fresh-" + api.name, False, ts)
    check(st == 202, "%s answered %d for a user who is not blocked" % (what, st))
    conn.close()


def main():
    c = clusterlib.Cluster(partitions=6)
    try:
        c.start(detectors=1, apis=1, haproxy=False)
        api1 = c.apis[0]
        block_everyone(api1, c.key)
        print("%d users blocked through %s" % (len(BLOCKED), api1.name))

        fresh = c.start_api("api-new")
        check_refuses(fresh, c.key, "new instance api-new")

        port = api1.port
        c.kill(api1)
        c.apis.remove(api1)
        restarted = c.start_api("api-1", port=port)
        check_refuses(restarted, c.key, "api-1 restarted after SIGKILL")
    finally:
        c.stop()
    print("PASS")


if __name__ == "__main__":
    sys.exit(main())
