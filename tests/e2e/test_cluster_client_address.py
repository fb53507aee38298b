"""test_cluster_client_address.py - behind the real HAProxy (deploy/haproxy.cfg), the API
keys a login by the client's address, not HAProxy's, nor by a header the client wrote.

Cluster: mock Kafka, 1 detector, 1 API, HAProxy connecting to it from 127.0.0.2 (the
API's one trusted proxy, as deploy/cluster.sh sets it up); rule ip on, threshold 3;
admin_networks = HAProxy's own address and 127.0.0.4. Clients connect from their own
loopback addresses:
- logins from 127.0.0.3 through HAProxy, each with a forged X-Forwarded-For, are stored
  as 127.0.0.3 and block 127.0.0.3 after 3 failures; 127.0.0.5 through the same HAProxy
  still gets 401 (one block must not lock out every client behind the proxy);
- 127.0.0.5 talking to the API directly, naming 127.0.0.3 in X-Forwarded-For, is not
  believed (not a trusted proxy): 401, stored as 127.0.0.5;
- /metrics through HAProxy: 403 for 127.0.0.3 (HAProxy's own address being in
  admin_networks does not count), 200 for 127.0.0.4.
"""
import http.client
import json
import time

import clusterlib
import lgtest
from lgtest import check

THRESHOLD = 3


def request(port, source, method, path, body=None, xff=None):
    """One request from the loopback address source; (status, parsed body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        if xff:
            hdrs["X-Forwarded-For"] = xff
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, raw
    finally:
        conn.close()


def login(port, source, user, xff=None):
    return request(port, source, "POST", "/v1/login", {"user": user, "password": "wrong"}, xff)


def stored_ips(c, user, n):
    """The addresses of user's first n attempts, once the detector stored them."""
    found = []

    def stored():
        _, attempts = c.audit_all()
        found[:] = [a["ip"] for a in attempts if a["user"] == user]
        return len(found) >= n
    lgtest.wait_until(stored, 30, "%d attempts of %s in the store" % (n, user))
    return found


def main():
    if not clusterlib.have_haproxy():
        clusterlib.skip("haproxy is not installed")
    c = clusterlib.Cluster(partitions=2, extra_config=(
        "admin_networks = %s/32, 127.0.0.4/32\n" % clusterlib.HAPROXY_SOURCE +  # [http]
        "[rule ip]\nenabled = true\nthreshold = %d\n" % THRESHOLD))
    try:
        c.start(detectors=1, apis=1)
        front, api = c.haproxy_port, c.apis[0].port

        for i in range(THRESHOLD):
            st, doc = login(front, "127.0.0.3", "ca-%d" % i, xff="198.51.100.%d" % (i + 1))
            check(st == 401, "guess %d from 127.0.0.3 through haproxy: %d %s" % (i, st, doc))
        ips = stored_ips(c, "ca-0", 1)
        check(ips == ["127.0.0.3"], "the API stored the login of 127.0.0.3 as %s" % ips)
        deadline = time.time() + 20
        st = None
        while time.time() < deadline and st != 423:
            st, _ = login(front, "127.0.0.3", "ca-probe")
            time.sleep(0.1)
        check(st == 423, "127.0.0.3 not blocked after %d failures: %s" % (THRESHOLD, st))

        st, doc = login(front, "127.0.0.5", "cb-0")
        check(st == 401, "127.0.0.5 refused by the block of 127.0.0.3: %d %s" % (st, doc))
        st, doc = login(api, "127.0.0.5", "cb-1", xff="127.0.0.3")
        check(st == 401, "a direct peer's X-Forwarded-For was believed: %d %s" % (st, doc))
        ips = stored_ips(c, "cb-1", 1)
        check(ips == ["127.0.0.5"], "the direct login was stored as %s" % ips)

        st, _ = request(front, "127.0.0.3", "GET", "/metrics")
        check(st == 403, "/metrics for 127.0.0.3 through haproxy: %d" % st)
        st, _ = request(front, "127.0.0.4", "GET", "/metrics")
        check(st == 200, "/metrics for 127.0.0.4 through haproxy: %d" % st)
        st, _ = request(front, "127.0.0.3", "GET", "/healthz")
        check(st == 200, "/healthz for 127.0.0.3 through haproxy: %d" % st)
        c.stop()
    except BaseException:
        c.stop(check_exit=False)
        raise
    print("ok: behind haproxy the API keys and admits the client's address")


if __name__ == "__main__":
    main()
