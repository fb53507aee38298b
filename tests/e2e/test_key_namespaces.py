"""test_key_namespaces.py - a user named like an address is not that address (`run`).

An attacker registers (or simply types) the user name "ip:127.0.0.1". Before block keys
had namespaces, rule user's key of that user and rule ip's key of the address 127.0.0.1
were the same string on lg.blocks and in the API's cache: whichever block came last
replaced the other, and unblocking the user lifted the address's block. With rule ip on:
  1. the user, blocked by rule user (failures from 127.0.0.2), refuses nobody else from
     127.0.0.1;
  2. the address blocked by rule ip (failures of other users from 127.0.0.1) leaves the
     user's own block in force (its right password from 127.0.0.2 still gets 423);
  3. unblocking the user (DELETE /v1/blocks/ip:127.0.0.1) lets the user in again but
     keeps the address blocked.
Clients connect from 127.0.0.1 and 127.0.0.2 (both loopback): the client address is the
TCP peer, whatever a body says.
"""
import http.client
import json

import lghttp
import lgtest
from lgtest import check

ODD = "ip:127.0.0.1"
IP_THRESHOLD = 6  # above the user's 5 failures from 127.0.0.2


def login_from(srv, source, user, password):
    """POST /v1/login on a connection from the loopback address `source`."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10,
                                      source_address=(source, 0))
    try:
        conn.request("POST", "/v1/login", body=json.dumps({"user": user, "password": password}),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        raw = r.read()
        return r.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def wait_status(srv, source, user, password, want, what):
    last = []

    def answered():
        st, doc = login_from(srv, source, user, password)
        last[:] = [st, doc]
        return st == want
    lgtest.wait_until(answered, 15, "%s (last answer: %r)" % (what, last))


def main():
    srv = lghttp.Server(users=[(ODD, "odd-pw", False), ("alice", "alice-pw", False),
                               ("root", "root-pw", True)],
                        extra_config="[rule ip]\nenabled = true\nthreshold = %d\n"
                                     % IP_THRESHOLD)
    try:
        st, doc = login_from(srv, "127.0.0.1", "root", "root-pw")
        check(st == 200, "admin login: %d %s" % (st, doc))
        admin = doc["token"]

        # 1. the user is blocked by rule user; 127.0.0.1 is not refused for that
        for i in range(5):
            st, _ = login_from(srv, "127.0.0.2", ODD, "wrong-%d" % i)
            check(st == 401, "failure %d of %s: %d" % (i + 1, ODD, st))
        srv.wait_blocked(ODD)
        st, doc = login_from(srv, "127.0.0.2", ODD, "odd-pw")
        check(st == 423, "%s after 5 failures: %d %s" % (ODD, st, doc))
        st, doc = login_from(srv, "127.0.0.1", "alice", "alice-pw")
        check(st == 200, "alice from 127.0.0.1 refused by the block of user %s: %d %s"
              % (ODD, st, doc))

        # 2. the address 127.0.0.1 gets blocked by rule ip; the user's block stays
        for i in range(IP_THRESHOLD):
            st, _ = login_from(srv, "127.0.0.1", "junk-%d" % i, "x")
            check(st in (401, 423), "junk failure %d: %d" % (i, st))
        wait_status(srv, "127.0.0.1", "alice", "alice-pw", 423, "127.0.0.1 blocked by rule ip")
        st, doc = login_from(srv, "127.0.0.2", ODD, "odd-pw")
        check(st == 423, "the block of address 127.0.0.1 replaced the block of user %s: "
              "its right password from 127.0.0.2 got %d %s" % (ODD, st, doc))

        # 3. unblocking the user does not lift the address's block
        st, _, doc = lgtest.request_json(srv.port, "DELETE", "/v1/blocks/" + ODD,
                                         headers={"Authorization": "Bearer " + admin})
        check(st == 200 and doc["unblocked"] and doc["was_blocked"],
              "unblock %s: %d %s" % (ODD, st, doc))
        wait_status(srv, "127.0.0.2", ODD, "odd-pw", 200, "%s unblocked" % ODD)
        st, doc = login_from(srv, "127.0.0.1", "alice", "alice-pw")
        check(st == 423, "unblocking user %s lifted the block of address 127.0.0.1: "
              "alice got %d %s" % (ODD, st, doc))
        check(srv.stop() == 0, "run did not exit 0")
    finally:
        srv.cleanup()
    print("ok: a user named like an address has its own block key; unblocking it leaves "
          "the address blocked")


if __name__ == "__main__":
    main()
