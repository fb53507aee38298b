"""test_cluster_burst.py - on the cluster too, concurrency buys no extra guesses.

Cluster: mock Kafka, 1 detector, 3 APIs behind HAProxy with the committed
deploy/haproxy.cfg (logins hashed by the body's user onto one instance). CONNS
connections each send one wrong-password login for one user at once through HAProxy:
at most `threshold` (5) passwords are verified cluster-wide, every other answer is 423,
and the right password afterwards is 423 too. Each API's lg_gate_refused_total shows
which instance the user was routed to. With `balance leastconn` (before) the burst was
spread over the 3 gates: up to 15 verifications.
"""
import re

import clusterlib
import lgtest
import test_http_burst
from lgtest import check

CONNS = test_http_burst.CONNS
THRESHOLD = test_http_burst.THRESHOLD


def gate_refused(api):
    st, _, body = lgtest.request(api.port, "GET", "/metrics")
    check(st == 200, "%s /metrics answered %d" % (api.name, st))
    m = re.search(r"^lg_gate_refused_total (\d+)", body.decode(), re.M)
    check(m is not None, "%s: no lg_gate_refused_total" % api.name)
    return int(m.group(1))


def main():
    if not clusterlib.have_haproxy():
        clusterlib.skip("haproxy is not installed")
    c = clusterlib.Cluster(partitions=6)
    try:
        c.start(detectors=1, apis=3, users=["victim"])
        results = test_http_burst.fire(c.haproxy_port, "victim")
        print("burst through HAProxy: %s" % dict(results))
        check(results[503] == 0 and results[502] == 0, "errors in the burst: %s" % results)
        check(results[401] <= THRESHOLD, "%d passwords verified cluster-wide for one user "
              "(threshold %d): %s" % (results[401], THRESHOLD, results))
        check(results[401] + results[423] == CONNS, "answers %s" % results)
        refused = {a.name: gate_refused(a) for a in c.apis}
        print("gate refusals by instance: %s" % refused)
        check(sum(1 for v in refused.values() if v > 0) == 1,
              "the user's logins reached more than one instance's gate: %s" % refused)

        st, _, body = lgtest.request(c.haproxy_port, "POST", "/v1/login",
                                     {"user": "victim", "password": "correct horse battery"})
        check(st == 423, "right password after the burst: %d %s" % (st, body))
    finally:
        c.stop(check_exit=False)
    print("ok")


if __name__ == "__main__":
    main()
