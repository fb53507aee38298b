"""bench_http_block_latency.py PORT [USERS] - block latency of a running loginguard.

For each of USERS fresh users: 5 failures through POST /v1/attempts (no password work;
reported with the reporter key in $LG_REPORTER_KEY, from `loginguard keys add`),
then the same request again and again until it is refused with 423. The latency is from
the response to the 5th failure to the first 423: the detector's decision, the block's
trip over lg.blocks and into the API's cache. Prints p50/p90/p99/max in ms, one line of
key=value. Python's per-request cost (~0.1-0.2 ms on loopback) bounds the resolution.
"""
import http.client
import json
import os
import sys
import time


HEADERS = {"Content-Type": "application/json",
           "Authorization": "Bearer " + os.environ.get("LG_REPORTER_KEY", "")}


def post(conn, body):
    conn.request("POST", "/v1/attempts", body=body, headers=HEADERS)
    r = conn.getresponse()
    r.read()
    return r.status


def main():
    if not os.environ.get("LG_REPORTER_KEY"):
        sys.exit("bench_http_block_latency: set LG_REPORTER_KEY to a reporter key "
                 "(loginguard keys add NAME --db STORE)")
    port = int(sys.argv[1])
    users = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    lat, polls = [], []
    for i in range(users):
        body = json.dumps({"user": "lat-%d-%d" % (os.getpid(), i), "ip": "198.51.100.7",
                           "ok": False})
        for k in range(5):
            st = post(conn, body)
            if st != 202:
                sys.exit("failure %d of user %d answered %d" % (k + 1, i, st))
        t0 = time.perf_counter()
        n = 0
        while True:
            n += 1
            st = post(conn, body)
            if st == 423:
                break
            if st != 202 or time.perf_counter() - t0 > 5:
                sys.exit("user %d not blocked after %.1f s (last status %d)"
                         % (i, time.perf_counter() - t0, st))
        lat.append((time.perf_counter() - t0) * 1000)
        polls.append(n)
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p / 100))]
    print("bench=block_latency users=%d p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
          "mean_polls=%.1f" % (users, pct(50), pct(90), pct(99), lat[-1], sum(polls) / len(polls)))


if __name__ == "__main__":
    main()
