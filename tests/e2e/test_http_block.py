"""test_http_block.py - the login flow over real HTTP on `loginguard run`:

five wrong passwords block the user (the next attempt is 423 with Retry-After, even with
the right password); an unknown user and a wrong password get the same 401 body; an
admin unblocks through DELETE /v1/blocks/{user} (non-admins 403, no token 401); the
user then logs in and /v1/me accepts the token; forged tokens (alg none, wrong key,
expired, tampered payload) are refused with 401.
"""
import base64
import hashlib
import hmac
import json
import time

import lghttp
import lgtest
from lgtest import check


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def sign(header_b64, payload_b64, key):
    mac = hmac.new(key.encode(), (header_b64 + "." + payload_b64).encode(), hashlib.sha256)
    return b64url(mac.digest())


def resigned(token, key, **changes):
    """token with its claims changed, signed with key."""
    h, p, _ = token.split(".")
    claims = json.loads(b64url_decode(p))
    claims.update(changes)
    p2 = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return "%s.%s.%s" % (h, p2, sign(h, p2, key))


def main():
    srv = lghttp.Server(users=[("alice", "alice-pw", False), ("bob", "bob-pw", False),
                               ("root", "root-pw", True)])
    try:
        # an unknown user and a wrong password: same status, byte-identical body
        st1, h1, raw1 = lgtest.request(srv.port, "POST", "/v1/login",
                                       {"user": "alice", "password": "nope-0"})
        st2, h2, raw2 = lgtest.request(srv.port, "POST", "/v1/login",
                                       {"user": "mallory", "password": "nope-0"})
        check(st1 == 401 and st2 == 401, "wrong password %d, unknown user %d" % (st1, st2))
        check(raw1 == raw2, "401 bodies differ: %r vs %r" % (raw1, raw2))
        check(json.loads(raw1)["error"] == "invalid_credentials", "401 body %r" % raw1)

        # failures 2..5 for alice (the first was above)
        for i in range(1, 5):
            st, _, doc = srv.login("alice", "nope-%d" % i)
            check(st == 401, "failure %d: status %d %s" % (i + 1, st, doc))
        srv.wait_blocked("alice", timeout=10)

        st, hdrs, doc = srv.login("alice", "nope-5")
        check(st == 423, "6th attempt: %d %s" % (st, doc))
        check(doc["error"] == "blocked", "423 body %s" % doc)
        retry = int(hdrs.get("retry-after", "0"))
        check(0 < retry <= 900, "Retry-After %r for a 15 min block" % hdrs.get("retry-after"))
        st, _, doc = srv.login("alice", "alice-pw")
        check(st == 423, "right password while blocked: %d %s" % (st, doc))

        st, _, doc = srv.get("/v1/blocks/alice")
        check(st == 200 and doc["blocked"] and doc["rule"] == "user" and doc["level"] == 1,
              "block status %d %s" % (st, doc))
        check(doc["until"] - doc["since"] == 15 * 60 * 1000, "block length %s" % doc)
        st, _, doc = srv.get("/v1/blocks/bob")
        check(st == 200 and doc == {"user": "bob", "blocked": False}, "bob status %s" % doc)

        # tokens: admin and plain user
        st, _, doc = srv.login("root", "root-pw")
        check(st == 200 and doc["expires_in"] == 900, "admin login %d %s" % (st, doc))
        admin = doc["token"]
        st, _, doc = srv.login("bob", "bob-pw")
        check(st == 200, "bob login %d %s" % (st, doc))
        bob = doc["token"]

        st, _, doc = srv.get("/v1/blocks")
        check(st == 401, "block list without token: %d" % st)
        st, _, doc = srv.get("/v1/blocks", bob)
        check(st == 403 and doc["error"] == "forbidden", "block list as user: %d %s" % (st, doc))
        st, _, doc = srv.get("/v1/blocks", admin)
        check(st == 200 and doc["count"] == 1 and doc["blocks"][0]["user"] == "alice",
              "block list as admin: %d %s" % (st, doc))

        st, _, doc = lgtest.request_json(srv.port, "DELETE", "/v1/blocks/alice")
        check(st == 401, "unblock without token: %d" % st)
        st, _, doc = lgtest.request_json(srv.port, "DELETE", "/v1/blocks/alice",
                                         headers={"Authorization": "Bearer " + bob})
        check(st == 403, "unblock as user: %d" % st)
        st, _, doc = lgtest.request_json(srv.port, "DELETE", "/v1/blocks/alice",
                                         headers={"Authorization": "Bearer " + admin})
        check(st == 200 and doc["unblocked"] and doc["was_blocked"], "unblock: %d %s" % (st, doc))

        # the cache drops the block when the tombstone comes back from the bus
        def unblocked():
            st, _, d = srv.get("/v1/blocks/alice")
            return st == 200 and not d["blocked"]
        lgtest.wait_until(unblocked, 10, "alice unblocked in the cache")
        # no pause here: the detector reads lg.blocks after every poll of lg.attempts, so
        # the login right after the unblock is judged after the tombstone (audit below)

        st, _, doc = srv.login("alice", "alice-pw")
        check(st == 200 and doc["token"].count(".") == 2, "login after unblock: %d %s" % (st, doc))
        token = doc["token"]
        st, _, doc = srv.get("/v1/me", token)
        check(st == 200 and doc["user"] == "alice" and doc["role"] == "user"
              and doc["exp"] > time.time(), "/v1/me: %d %s" % (st, doc))

        # our own signing must match the server's, else the forgeries prove nothing
        same = resigned(token, lghttp.SECRET)
        st, _, doc = srv.get("/v1/me", same)
        check(st == 200, "re-signed unchanged token refused: %d %s" % (st, doc))

        h, p, s = token.split(".")
        none_header = b64url(b'{"alg":"none","typ":"JWT"}')
        now = int(time.time())
        forged = {
            "alg none": none_header + "." + p + ".",
            "alg none with signature": none_header + "." + p + "." + s,
            "wrong key": resigned(token, "another-secret-0123456789abcdef0123456789"),
            "expired": resigned(token, lghttp.SECRET, iat=now - 100, exp=now - 10),
            "tampered payload": h + "." + b64url(json.dumps(dict(
                json.loads(b64url_decode(p)), role="admin")).encode()) + "." + s,
            "garbage": "not.a.token",
            "empty": "",
        }
        for name, tok in forged.items():
            st, hdrs, doc = srv.get("/v1/me", tok)
            check(st == 401, "forged token (%s) accepted: %d %s" % (name, st, doc))
            check("bearer" in hdrs.get("www-authenticate", "").lower(),
                  "401 without WWW-Authenticate (%s)" % name)
            st, _, doc = srv.get("/v1/blocks", tok)
            check(st == 401, "forged token (%s) on admin route: %d" % (name, st))
        st, _, doc = srv.get("/v1/me", resigned(token, lghttp.SECRET, iat=now - 100,
                                                exp=now - 10))
        check(doc["detail"] == "the token has expired", "expired detail: %s" % doc)

        blocks = srv.blocks_printed()
        check(len(blocks) == 1 and blocks[0]["user"] == "alice",
              "run printed %d blocks: %s" % (len(blocks), blocks))
        check(srv.stop() == 0, "run exit status")
        attempts, stored_blocks = srv.audit("alice")
        outcomes = [a["outcome"] for a in attempts]
        check(outcomes == ["fail"] * 5 + ["blocked", "blocked", "ok"],
              "alice's audit outcomes %s" % outcomes)
        check(len(stored_blocks) == 1, "stored blocks %s" % stored_blocks)
    finally:
        srv.cleanup()
    print("ok")


if __name__ == "__main__":
    main()
