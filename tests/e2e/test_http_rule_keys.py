"""test_http_rule_keys.py - blocks of different rules never stand in for each other.

With rule ip on, a user literally named "ip:192.0.2.77" has the same lg.blocks key as
rule ip's block of the address 192.0.2.77. Blocking that user (rule user) must not refuse
everybody else logging in from 192.0.2.77: the API's cache hit counts only for the rule
that made the block. The test is the clients' trusted proxy: X-Forwarded-For names them.
"""
import lghttp
import lgtest
from lgtest import check

ODD_USER = "ip:192.0.2.77"
ADDRESS = "192.0.2.77"


def main():
    srv = lghttp.Server(users=[("alice", "alice-pw", False)],
                        extra_config="trusted_proxies = 127.0.0.1/32\n"
                                     "[rule ip]\nenabled = true\nthreshold = 20\n")
    try:
        for i in range(5):
            st, _, _ = srv.login(ODD_USER, "wrong-%d" % i, xff="198.51.100.1")
            check(st == 401, "failure %d of %s: %d" % (i + 1, ODD_USER, st))
        srv.wait_blocked(ODD_USER)
        st, hdrs, doc = srv.login(ODD_USER, "anything", xff="198.51.100.1")
        check(st == 423 and "retry-after" in hdrs, "%s after 5 failures: %d" % (ODD_USER, st))

        st, _, doc = srv.login("alice", "alice-pw", xff=ADDRESS)
        check(st == 200 and "token" in doc,
              "alice from %s refused by the block of user %s: %d %s"
              % (ADDRESS, ODD_USER, st, doc))
        check(srv.stop() == 0, "run did not exit 0")
    finally:
        srv.cleanup()
    print("ok: a user named like an ip-rule key blocks only that user")


if __name__ == "__main__":
    main()
