"""test_http_shutdown.py - SIGTERM while clients are busy: `loginguard run` exits 0, and
every attempt it accepted (202 from /v1/attempts, 200/401 from /v1/login) is in the audit
store afterwards. Requests after the stop began are refused (connection refused, or 503
with Connection: close); none is accepted and then lost.
"""
import collections
import http.client
import json
import signal
import threading
import time

import lghttp
import lgtest
from lgtest import check

REPORTERS = 4
LOGINS = 2


def reporter(port, key, user, accepted_ids, stop, lock):
    ids = []
    conn = None
    i = 0
    while not stop.is_set() and i < 100000:
        i += 1
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            body = json.dumps({"user": user, "ip": "192.0.2.%d" % (i % 250 + 1), "ok": True})
            conn.request("POST", "/v1/attempts", body=body, headers=lgtest.reporter_headers(key))
            r = conn.getresponse()
            raw = r.read()
            if r.status == 202:
                ids.append(json.loads(raw)["id"])
            elif r.status == 503:
                conn.close()
                conn = None
            else:
                raise AssertionError("unexpected status %d %r" % (r.status, raw))
        except (OSError, http.client.HTTPException):
            # the server stopped accepting: expected once SIGTERM is sent
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.01)
    with lock:
        accepted_ids[user].extend(ids)


def login_loop(port, user, password, answers, stop, lock):
    local = collections.Counter()
    i = 0
    while not stop.is_set() and i < 10000:
        i += 1
        try:
            st, _, _ = lgtest.request_json(port, "POST", "/v1/login",
                                           {"user": user, "password": password}, timeout=10)
            local[st] += 1
        except (OSError, http.client.HTTPException):
            local["refused"] += 1
            time.sleep(0.01)
    with lock:
        answers.update(local)


def main():
    srv = lghttp.Server(users=[("carol", "carol-pw", False)])
    try:
        stop = threading.Event()
        lock = threading.Lock()
        accepted = collections.defaultdict(list)
        logins = collections.Counter()
        threads = [threading.Thread(target=reporter,
                                    args=(srv.port, srv.key, "user%d" % k, accepted, stop, lock))
                   for k in range(REPORTERS)]
        threads += [threading.Thread(target=login_loop,
                                     args=(srv.port, "carol", "carol-pw", logins, stop, lock))
                    for _ in range(LOGINS)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        srv.proc.send_signal(signal.SIGTERM)
        try:
            rc = srv.proc.wait(30)
        except Exception:
            lgtest.fail("run did not exit within 30 s of SIGTERM:\n" + srv.log())
        time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(60)
            check(not t.is_alive(), "a client thread is stuck")
        check(rc == 0, "run exit status %d:\n%s" % (rc, srv.log()))

        total_ids = 0
        for user, ids in accepted.items():
            attempts, _ = srv.audit(user)
            stored = {a["id"] for a in attempts}
            missing = [i for i in ids if i not in stored]
            check(not missing, "%d of %d accepted attempts of %s are not in the audit log: %s"
                  % (len(missing), len(ids), user, missing[:5]))
            check(all(a["outcome"] == "ok" for a in attempts), "outcomes of %s" % user)
            total_ids += len(ids)
        check(total_ids > 0, "no attempt was accepted before SIGTERM")

        attempts, _ = srv.audit("carol")
        by = collections.Counter(a["outcome"] for a in attempts)
        check(by["ok"] == logins[200] and by["fail"] == logins[401] and len(attempts) == logins[200] + logins[401],
              "carol's audit %s vs answers %s" % (dict(by), dict(logins)))
        check(logins[200] > 0, "no login succeeded before SIGTERM: %s" % logins)
        print("accepted %d reports, logins %s" % (total_ids, dict(logins)))
    finally:
        srv.cleanup()
    print("ok")


if __name__ == "__main__":
    main()
