"""test_reporter_keys.py - only reporters may call POST /v1/attempts, on `loginguard run`.

The attacks of issue 7 first, as an attacker without a key would make them:
  - 5 forged failures for bob (no Authorization): each 401 with WWW-Authenticate, none
    stored, and bob still logs in (no lockout at no hashing cost);
  - 4 wrong logins for alice, a forged {"user":"alice","ok":true}, 1 more wrong login:
    alice is blocked (a forged success no longer resets her window).
Then the credentials: a well-formed unknown key, garbage and a user's JWT get 401; a key
made with `loginguard keys add` while the server runs works within 2 s (202), an admin
JWT works (202); `keys list` shows the key's last use; `keys delete` makes it fail within
2 s; the store's operator actions hold key_add, unblock (DELETE /v1/blocks/alice) and
key_delete with their actors (cli:<login>, jwt:root).
"""
import json
import os
import pwd
import time

import lghttp
import lgtest
from lgtest import check

KEY_DELAY_MAX_S = 2.0  # a key added or deleted takes effect within this on every API
LOCKOUT_WATCH_S = 1.5  # a block decided by the detector reaches the cache well within this


def attempt(user, ok, ip="192.0.2.10"):
    return {"user": user, "ip": ip, "ok": ok}


def unauthenticated(srv, body, headers=None):
    """POST /v1/attempts with the given headers (none: no Authorization); checks 401."""
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    st, h, doc = lgtest.request_json(srv.port, "POST", "/v1/attempts", body, headers=hdrs)
    check(st == 401, "POST /v1/attempts %s with %s: %d %s" % (body, headers, st, doc))
    check(h.get("www-authenticate", "").startswith("Bearer"),
          "401 without WWW-Authenticate: Bearer: %s" % h)
    check(doc and doc.get("error") == "unauthorized", "401 body %s" % doc)


def keys_cli(srv, *args):
    r = lgtest.run(["loginguard", "keys"] + list(args) + ["--db", srv.db])
    return r.returncode, r.stdout, r.stderr


def within(seconds, pred):
    """Polls pred until true or seconds have passed; returns the time it took, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if pred():
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def status_with(srv, key, user="carol"):
    st, _, _ = srv.report(attempt(user, True), key=key)
    return st


def main():
    srv = lghttp.Server(users=[("alice", "alice-pw", False), ("bob", "bob-pw", False),
                               ("root", "root-pw", True)])
    try:
        # --- attack: lock bob out with forged failures, no key ------------------------
        for _ in range(5):
            unauthenticated(srv, attempt("bob", False))
        # a block takes a few ms to come back from the detector: watch for one a while
        blocked_by = within(LOCKOUT_WATCH_S, lambda: srv.get("/v1/blocks/bob")[2]["blocked"])
        check(blocked_by is None, "5 forged failures blocked bob after %.2fs" % (blocked_by or 0))
        st, _, doc = srv.login("bob", "bob-pw")
        check(st == 200, "bob after 5 forged failures: %d %s (locked out?)" % (st, doc))

        # --- attack: reset alice's window with a forged success, no key ---------------
        for i in range(4):
            st, _, doc = srv.login("alice", "wrong-%d" % i)
            check(st == 401, "alice wrong login %d: %d %s" % (i + 1, st, doc))
        unauthenticated(srv, attempt("alice", True))
        st, _, doc = srv.login("alice", "wrong-4")
        check(st == 401, "alice 5th wrong login: %d %s" % (st, doc))
        srv.wait_blocked("alice", timeout=10)
        st, _, doc = srv.login("alice", "alice-pw")
        check(st == 423, "alice after 5 real failures and a forged success: %d %s" % (st, doc))

        # --- credentials that are not a reporter's ------------------------------------
        fake = "lgk_" + "A" * 43  # the shape of a key, but no such key
        st, _, doc = srv.login("bob", "bob-pw")
        check(st == 200, "bob login: %d %s" % (st, doc))
        bob_jwt = doc["token"]
        for label, hdrs in [("unknown key", {"Authorization": "Bearer " + fake}),
                            ("garbage", {"Authorization": "Bearer not-a-key"}),
                            ("user's JWT", {"Authorization": "Bearer " + bob_jwt}),
                            ("basic auth", {"Authorization": "Basic cm9vdDpyb290LXB3"}),
                            ("empty bearer", {"Authorization": "Bearer "})]:
            unauthenticated(srv, attempt("mallory", False), hdrs)


        # --- a key made while the server runs works within 2 s ------------------------
        rc, out, err = keys_cli(srv, "add", "web-1")
        check(rc == 0, "keys add web-1: %d %s" % (rc, err))
        key = out.strip()
        check(out == key + "\n" and key.startswith("lgk_") and len(key) == 47,
              "keys add printed more than the key: %r" % out)
        took = within(KEY_DELAY_MAX_S, lambda: status_with(srv, key) == 202)
        check(took is not None, "a new key did not work within %ss" % KEY_DELAY_MAX_S)
        st, _, doc = srv.report(attempt("carol", False), key=key)
        check(st == 202 and doc.get("id"), "report with web-1: %d %s" % (st, doc))
        print("new key accepted after %.2fs" % took)

        # an admin JWT may report too
        st, _, doc = srv.login("root", "root-pw")
        check(st == 200, "root login %d %s" % (st, doc))
        admin = doc["token"]
        st, _, doc = lgtest.request_json(srv.port, "POST", "/v1/attempts",
                                         attempt("dave", False),
                                         headers=lgtest.reporter_headers(admin))
        check(st == 202, "report with an admin JWT: %d %s" % (st, doc))
        # the store is written behind the bus: wait for it
        lgtest.wait_until(lambda: len(srv.audit("dave")[0]) == 1, 10, "dave's attempt stored")
        attempts, _ = srv.audit("dave")
        check(attempts[0]["outcome"] == "fail", "dave %s" % attempts)

        # keys list shows the last use (written by the API once per refresh)
        def listed():
            rc, out, _ = keys_cli(srv, "list", "--json")
            rows = {d["name"]: d for d in map(json.loads, out.splitlines())} if rc == 0 else {}
            return rows.get("web-1", {}).get("last_used")
        used_by = within(3.0, lambda: listed() is not None)
        check(used_by is not None, "keys list never showed web-1's last use")
        check(abs(listed() - time.time() * 1000) < 60000, "last use %s is not now" % listed())
        rc, out, _ = keys_cli(srv, "list")
        line = [ln for ln in out.splitlines() if ln.startswith("web-1 ")]
        check(rc == 0 and line and "never" not in line[0], "keys list table: %r" % out)

        # --- an admin unblocks alice: the action is recorded with its actor -----------
        st, _, doc = lgtest.request_json(srv.port, "DELETE", "/v1/blocks/alice",
                                         headers={"Authorization": "Bearer " + admin})
        check(st == 200 and doc["was_blocked"], "unblock alice: %d %s" % (st, doc))

        # --- a deleted key stops working within 2 s -----------------------------------
        rc, _, err = keys_cli(srv, "delete", "web-1")
        check(rc == 0, "keys delete web-1: %d %s" % (rc, err))
        took = within(KEY_DELAY_MAX_S, lambda: status_with(srv, key) == 401)
        check(took is not None, "a deleted key still worked after %ss" % KEY_DELAY_MAX_S)
        print("deleted key refused after %.2fs" % took)
        rc, _, err = keys_cli(srv, "delete", "web-1")
        check(rc == 1 and "no key named 'web-1'" in err, "second delete: %d %s" % (rc, err))
        # the key made by lghttp.Server still works: only web-1 was deleted
        st, _, doc = srv.report(attempt("carol", True))
        check(st == 202, "the other key after deleting web-1: %d %s" % (st, doc))

        # --- the operator actions, with their actors ----------------------------------
        me = "cli:" + pwd.getpwuid(os.geteuid()).pw_name
        r = lgtest.run(["loginguard", "audit", "--actions", "--json", "--db", srv.db])
        check(r.returncode == 0, "audit --actions: %s" % r.stderr)
        acts = [(d["actor"], d["action"], d["target"], d["detail"])
                for d in map(json.loads, r.stdout.splitlines())]
        want = [(me, "key_add", "e2e-reporter", ""), (me, "key_add", "web-1", ""),
                ("jwt:root", "unblock", "alice", "was_blocked=true"),
                (me, "key_delete", "web-1", "")]
        check(acts == want, "operator actions %s, want %s" % (acts, want))
        check(srv.stop() == 0, "run exit status")

        # stopped, so the store holds all that was published: nothing of the refused
        # reports is in it (mallory's, bob's forged failures, alice's forged success)
        attempts, _ = srv.audit("mallory")
        check(attempts == [], "refused reports were stored: %s" % attempts)
        attempts, _ = srv.audit("bob")
        check([a["outcome"] for a in attempts] == ["ok", "ok"],
              "bob's stored attempts %s (only his 2 logins)" % attempts)
        attempts, _ = srv.audit("alice")
        check([a["outcome"] for a in attempts] == ["fail"] * 5 + ["blocked"],
              "alice's stored attempts %s" % [a["outcome"] for a in attempts])
    finally:
        srv.cleanup()
    print("ok")


if __name__ == "__main__":
    main()
