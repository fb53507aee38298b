"""clusterlib.py - a loginguard cluster on loopback for the cluster e2e tests and benches.

Starts, in a temp dir: the mock Kafka cluster (build/lg-kafka-mock), detectors and API
instances (`loginguard detector|api --bus kafka://...`) sharing one SQLite store, and
HAProxy with the committed deploy/haproxy.cfg in front of the APIs, and a reporter key
(Cluster.key) for POST /v1/attempts. Every process is tracked by lgtest (killed when the
test exits); waits are bounded. Also: a load client for POST /v1/attempts that records
the id of every acknowledged (202) attempt, and
readers of the audit store (audit --all, blocks table) and of `loginguard replay`.
"""
import json
import os
import random
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import http.client

import lgtest
from lgtest import check, fail

MOCK_BIN = os.path.join(lgtest.BUILD_DIR, "lg-kafka-mock")
HAPROXY_CFG = os.path.join(lgtest.SRC_DIR, "deploy", "haproxy.cfg")
HAPROXY_BIN = os.environ.get("LG_HAPROXY", "haproxy")
JWT_SECRET = "cluster-e2e-secret-0123456789abcdef0123456789"
# most API instances deploy/haproxy.cfg declares (LG_API1..LG_API5)
HAPROXY_SERVERS_MAX = 5
# HAProxy connects to the APIs from this address (as deploy/cluster.sh does), the APIs'
# one trusted proxy: a client's address is what HAProxy saw, a direct peer its own
HAPROXY_SOURCE = "127.0.0.2"


def free_port():
    """A free loopback port below the ephemeral range (lgtest.free_port says why)."""
    return lgtest.free_port()


def now_ms():
    return int(time.time() * 1000)


def have_haproxy():
    try:
        return subprocess.run([HAPROXY_BIN, "-v"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


SKIP_RC = 77  # CMakeLists.txt: SKIP_RETURN_CODE of every e2e test


def skip(reason):
    """Say why and exit with the skip code: CTest reports the test as skipped, not passed."""
    print("SKIP: " + reason)
    raise SystemExit(SKIP_RC)


class Proc:
    """One role process: its Popen, name, log file and (for APIs) port."""

    def __init__(self, name, popen, log, port=None):
        self.name, self.p, self.log, self.port = name, popen, log, port

    def alive(self):
        return self.p.poll() is None

    def log_text(self):
        try:
            with open(self.log, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Cluster:
    """A cluster in its own temp dir. Typical use:
        c = Cluster(partitions=12); c.start(detectors=2, apis=3)
        ... c.kill(c.detectors[0]) ...
        c.stop()"""

    def __init__(self, partitions=6, brokers=3, rule=None, log_level="info", extra_config=""):
        self.dir = lgtest.tmpdir("lg-cluster-")
        self.db = os.path.join(self.dir, "store.db")
        self.config = os.path.join(self.dir, "loginguard.conf")
        self.partitions, self.brokers = partitions, brokers
        self.bootstrap = None
        self.mock = None
        self.detectors, self.apis = [], []
        self.haproxy = None
        self.haproxy_port = None
        self.key = None  # a reporter key, made by start()
        self.env = {"LG_JWT_SECRET": JWT_SECRET}
        lines = ["[log]", "level = %s" % log_level, "[store]", "url = %s" % self.db,
                 "[http]", "trusted_proxies = %s/32" % HAPROXY_SOURCE]
        if rule:
            lines.append("[rule user]")
            lines += ["%s = %s" % kv for kv in rule.items()]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n" + extra_config)

    # --- processes ----------------------------------------------------------------------

    def start_kafka(self, timeout=20):
        check(os.access(MOCK_BIN, os.X_OK), "no mock kafka at %s (build lg-kafka-mock)" % MOCK_BIN)
        log = os.path.join(self.dir, "kafka.log")
        p = subprocess.Popen([MOCK_BIN, "--brokers", str(self.brokers), "--partitions",
                              str(self.partitions)], stdout=subprocess.PIPE,
                             stderr=open(log, "wb"))
        lgtest._procs.append(p)
        self.mock = Proc("kafka", p, log)
        deadline = time.time() + timeout
        line = b""
        while time.time() < deadline and not line.endswith(b"\n"):
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                ch = os.read(p.stdout.fileno(), 1)
                if not ch:
                    break
                line += ch
        text = line.decode().strip()
        check(text.startswith("BOOTSTRAP "), "lg-kafka-mock did not print BOOTSTRAP within "
              "%ss (got %r; log %s)" % (timeout, text, log))
        self.bootstrap = text.split(" ", 1)[1]
        return self.bootstrap

    def bus_url(self):
        return "kafka://" + self.bootstrap

    def add_users(self, names, password="correct horse battery", admin=False):
        for n in names:
            args = ["loginguard", "users", "add", n, "--db", self.db]
            if admin:
                args.append("--admin")
            r = lgtest.run(args, input=password + "\n", env=self.env, timeout=60)
            check(r.returncode == 0, "users add %s: rc=%d %s" % (n, r.returncode, r.stderr))

    def start_detector(self, name=None):
        name = name or "detector-%d" % (len(self.detectors) + 1)
        log = os.path.join(self.dir, name + ".log")
        p = lgtest.start(["loginguard", "detector", "--bus", self.bus_url(), "--store", self.db,
                          "--config", self.config], log_path=log, env=self.env)
        d = Proc(name, p, log)
        self.detectors.append(d)
        return d

    def start_api(self, name=None, port=None):
        name = name or "api-%d" % (len(self.apis) + 1)
        port = port or free_port()
        log = os.path.join(self.dir, name + ".log")
        p = lgtest.start(["loginguard", "api", "--bus", self.bus_url(), "--store", self.db,
                          "--config", self.config, "--port", str(port), "--name", name],
                         log_path=log, env=self.env)
        a = Proc(name, p, log, port)
        self.apis.append(a)
        return a

    def wait_api_ready(self, api, timeout=30):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if not api.alive():
                fail("%s exited (rc=%s); log:\n%s" % (api.name, api.p.returncode,
                                                      api.log_text()[-2000:]))
            try:
                last, _, _ = lgtest.request(api.port, "GET", "/healthz", timeout=2)
                if last == 200:
                    return
            except OSError as e:
                last = e
            time.sleep(0.05)
        fail("%s /healthz not 200 within %ss (last %s)" % (api.name, timeout, last))

    def start_haproxy(self, apis=None, port=None, timeout=15):
        apis = apis if apis is not None else self.apis
        check(1 <= len(apis) <= HAPROXY_SERVERS_MAX, "haproxy.cfg declares 1..5 servers")
        self.haproxy_port = port or free_port()
        env = {"LG_HAPROXY_BIND": "127.0.0.1:%d" % self.haproxy_port, "LG_RUN_DIR": self.dir,
               "LG_HAPROXY_SOURCE": HAPROXY_SOURCE}
        for i, a in enumerate(apis):
            env["LG_API%d" % (i + 1)] = "127.0.0.1:%d" % a.port
        log = os.path.join(self.dir, "haproxy.log")
        p = lgtest.start([HAPROXY_BIN, "-f", HAPROXY_CFG, "-db"], log_path=log, env=env)
        self.haproxy = Proc("haproxy", p, log, self.haproxy_port)
        names = ["api%d" % (i + 1) for i in range(len(apis))]
        lgtest.wait_until(lambda: self._servers_up(names), timeout,
                          "haproxy to see %s UP (log %s)" % (names, log))

    def _servers_up(self, names):
        if not self.haproxy.alive():
            fail("haproxy exited: " + self.haproxy.log_text()[-2000:])
        try:
            st = self.haproxy_states()
        except OSError:
            return False
        return all(st.get(n) == "UP" for n in names)

    def haproxy_states(self):
        """{server name: status} of backend lg_api from the admin socket ("show stat")."""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        try:
            s.connect(os.path.join(self.dir, "haproxy.sock"))
            s.sendall(b"show stat\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        lines = data.decode(errors="replace").splitlines()
        if not lines or not lines[0].startswith("# "):
            return {}
        cols = lines[0][2:].split(",")
        out = {}
        for ln in lines[1:]:
            row = dict(zip(cols, ln.split(",")))
            if row.get("pxname") == "lg_api" and row.get("svname") not in ("BACKEND", None):
                out[row["svname"]] = row.get("status", "")
        return out

    def start(self, detectors=2, apis=3, haproxy=True, users=()):
        """Everything, in dependency order, each waited for: kafka, store (users and a
        reporter key, self.key), detectors (until each holds partitions), APIs (until
        /healthz 200), HAProxy."""
        self.start_kafka()
        self.add_users(list(users) or ["cluster-probe"])
        self.key = lgtest.reporter_key(self.db, "cluster-reporter", env=self.env)
        for _ in range(detectors):
            self.start_detector()
        for _ in range(apis):
            self.start_api()
        for a in self.apis:
            self.wait_api_ready(a)
        if detectors:
            self.wait_detectors_assigned(self.detectors, timeout=40)
        if haproxy and apis:
            self.start_haproxy()

    def kill(self, proc, sig=signal.SIGKILL):
        if proc.alive():
            proc.p.send_signal(sig)
        proc.p.wait(30)

    def stop(self, check_exit=True):
        """SIGTERM everything (HAProxy and APIs first, detectors drain, kafka last), then,
        with check_exit, fails the test if a process that was still running did not exit
        0 on SIGTERM (a crash, a hang, or a sanitizer's leak report at exit)."""
        order = ([self.haproxy] if self.haproxy else []) + self.apis + self.detectors + \
            ([self.mock] if self.mock else [])
        bad = []
        for pr in order:
            if not pr.alive():
                continue  # killed by the test (or already failed: reported elsewhere)
            # HAProxy: SIGUSR1 is its graceful stop (exit 0); SIGTERM kills it by signal
            pr.p.send_signal(signal.SIGUSR1 if pr is self.haproxy else signal.SIGTERM)
            try:
                rc = pr.p.wait(30)
            except subprocess.TimeoutExpired:
                pr.p.kill()
                pr.p.wait()
                rc = "hung on SIGTERM"
            if rc != 0:
                bad.append((pr, rc))
        keep = os.environ.get("LG_KEEP_CLUSTER") is not None or (bad and check_exit)
        if keep:
            print("cluster dir kept: " + self.dir)
        else:
            for _ in range(3):  # a file appearing mid-removal makes one pass fail
                shutil.rmtree(self.dir, ignore_errors=True)
                if not os.path.exists(self.dir):
                    break
                time.sleep(0.5)
        if bad and check_exit:
            fail("; ".join("%s exited %s on SIGTERM, log %s: %s" % (
                pr.name, rc, pr.log, pr.log_text()[-1500:]) for pr, rc in bad))

    # --- detector partitions (from their logs) -----------------------------------------

    @staticmethod
    def partitions_of(det):
        """Partitions of lg.attempts this detector holds, from its latest rebalance lines
        ("consumer topic=lg.attempts group=G assigned|revoked partitions=0,1,2")."""
        held = set()
        for ln in det.log_text().splitlines():
            if "consumer topic=lg.attempts rebalance error" in ln:
                held = set()  # the consumer unassigned everything
                continue
            if "consumer topic=lg.attempts" not in ln or "partitions=" not in ln:
                continue
            parts = {int(x) for x in ln.rsplit("partitions=", 1)[1].split(",") if x.strip()}
            if " assigned " in ln:
                held |= parts
            elif " revoked " in ln or " lost " in ln:
                held -= parts
        return held

    def wait_detectors_assigned(self, dets, timeout=40, all_partitions=True):
        """Until every detector in dets holds partitions and, together, all of them."""
        def ok():
            for d in dets:
                if not d.alive():
                    fail("%s exited: %s" % (d.name, d.log_text()[-2000:]))
            held = [self.partitions_of(d) for d in dets]
            if not all(held):
                return False
            union = set().union(*held)
            return not all_partitions or union == set(range(self.partitions))
        lgtest.wait_until(ok, timeout, "detectors %s to hold all %d partitions" %
                          ([d.name for d in dets], self.partitions))

    # --- store and replay --------------------------------------------------------------

    def store_count(self):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            return con.execute("SELECT count(*) FROM attempts").fetchone()[0]
        finally:
            con.close()

    def wait_store_stable(self, at_least=0, stable_s=3.0, timeout=90):
        """Polls the attempts count until it is >= at_least and then unchanged for stable_s
        (stability alone is not enough: a detector rebuilding windows writes nothing)."""
        deadline = time.time() + timeout
        last, since = -1, time.time()
        while time.time() < deadline:
            n = self.store_count()
            if n != last:
                last, since = n, time.time()
            elif n >= at_least and time.time() - since >= stable_s:
                return n
            time.sleep(0.25)
        fail("store count did not settle at >= %d within %ss (last %d)" % (at_least, timeout, last))

    def store_blocks(self):
        """Set of (rule, user, since, until, level) in the store's blocks table."""
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            return {tuple(r) for r in con.execute(
                "SELECT rule, user, since, until, level FROM blocks")}
        finally:
            con.close()

    def audit_all(self):
        """(raw JSON lines text, list of attempts) from `loginguard audit --all`."""
        r = lgtest.run(["loginguard", "audit", "--all", "--db", self.db], timeout=120)
        check(r.returncode == 0, "audit --all: rc=%d %s" % (r.returncode, r.stderr[-500:]))
        return r.stdout, [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]

    def replay_blocks(self, attempts_text):
        """Set of (rule, user, since, until, level) that `loginguard replay` decides."""
        path = os.path.join(self.dir, "attempts.jsonl")
        with open(path, "w") as f:
            f.write(attempts_text)
        r = lgtest.run(["loginguard", "replay", path, "--config", self.config], timeout=120)
        check(r.returncode == 0, "replay: rc=%d %s" % (r.returncode, r.stderr[-500:]))
        out = set()
        for ln in r.stdout.splitlines():
            if ln.strip():
                b = json.loads(ln)
                out.add((b["rule"], b["user"], b["since"], b["until"], b["level"]))
        return out


# --- load client ----------------------------------------------------------------------

class AttemptLoad:
    """Closed-loop POST /v1/attempts from `threads` threads, each on one keep-alive
    connection to port. Each thread owns its users (user i -> thread i % threads) and
    sends them strictly increasing ts, so every user's attempts are published in ts order
    and a replay judges them in the order the detector did. fail_ratio of attempts fail;
    users are drawn from a small pool so bursts of 5 failures (blocks) happen.

    Bounded by max_requests and max_s. Sends key (a reporter key) as the bearer.
    Records: acked ids (202), statuses, failures (transport errors and 5xx), per-second
    counts."""

    def __init__(self, port, users, key, threads=8, fail_ratio=0.9, max_requests=20000,
                 max_s=30, seed=1, timeout=10):
        self.port, self.users, self.threads = port, list(users), threads
        self.headers = lgtest.reporter_headers(key)
        self.fail_ratio, self.max_requests, self.max_s = fail_ratio, max_requests, max_s
        self.seed, self.timeout = seed, timeout
        self.lock = threading.Lock()
        self.acked = []
        self.status = {}
        self.failures = []  # (time, what)
        self.sent = 0
        self._stop = threading.Event()
        self._workers = []
        self.started = self.ended = None

    def _take(self):
        with self.lock:
            if self.sent >= self.max_requests:
                return False
            self.sent += 1
            return True

    def _record(self, status, doc):
        with self.lock:
            self.status[status] = self.status.get(status, 0) + 1
            if status == 202 and doc and "id" in doc:
                self.acked.append(doc["id"])

    def _worker(self, k):
        rng = random.Random(self.seed * 1000 + k)
        mine = [u for i, u in enumerate(self.users) if i % self.threads == k]
        last_ts = {}
        conn = None
        deadline = self.started + self.max_s
        while not self._stop.is_set() and time.time() < deadline and self._take():
            user = rng.choice(mine)
            ts = max(now_ms(), last_ts.get(user, 0) + 1)
            last_ts[user] = ts
            body = json.dumps({"user": user, "ip": "198.51.100.%d" % (k + 1),
                               "ok": rng.random() >= self.fail_ratio, "ts": ts})
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                conn.request("POST", "/v1/attempts", body=body, headers=self.headers)
                r = conn.getresponse()
                raw = r.read()
                doc = None
                if r.status == 202:
                    doc = json.loads(raw)
                self._record(r.status, doc)
                if r.status >= 500:
                    with self.lock:
                        self.failures.append((time.time(), "status %d" % r.status))
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.failures.append((time.time(), "%s: %s" % (type(e).__name__, e)))
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def start(self):
        self.started = time.time()
        for k in range(self.threads):
            t = threading.Thread(target=self._worker, args=(k,), daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def stop(self):
        self._stop.set()

    def join(self):
        for t in self._workers:
            t.join(self.max_s + self.timeout + 10)
            check(not t.is_alive(), "a load thread did not finish")
        self.ended = time.time()
        return self

    def recorded(self):
        """Attempts surely on lg.attempts: a 202 or a 423 is sent only once the bus has
        taken the attempt (a 423 is published with outcome "blocked")."""
        return self.status.get(202, 0) + self.status.get(423, 0)

    def summary(self):
        el = (self.ended or time.time()) - self.started
        return ("requests=%d in %.1fs (%.0f/s) statuses=%s acked=%d failures=%d" %
                (self.sent, el, self.sent / el if el > 0 else 0, dict(sorted(self.status.items())),
                 len(self.acked), len(self.failures)))


# --- block propagation ------------------------------------------------------------------

def block_propagation(port_a, port_b, n_users, key, prefix="prop", timeout_s=10):
    """For each of n_users fresh users: 5 failures through POST /v1/attempts (reported
    with the reporter key key) at instance A,
    then the same request at instance B again and again until B answers 423. Returns the
    list of seconds from A's response to the 5th failure to B's first 423 (the detector's
    decision, lg.blocks, B's cache). Resolution: one Python request on loopback (~0.2 ms).
    Every poll is an attempt too (recorded as blocked once the block holds)."""
    a = http.client.HTTPConnection("127.0.0.1", port_a, timeout=10)
    b = http.client.HTTPConnection("127.0.0.1", port_b, timeout=10)
    hdrs = lgtest.reporter_headers(key)
    out = []
    try:
        for i in range(n_users):
            body = json.dumps({"user": "%s-%d-%d" % (prefix, os.getpid(), i),
                               "ip": "198.51.100.8", "ok": False})
            for k in range(5):
                a.request("POST", "/v1/attempts", body=body, headers=hdrs)
                r = a.getresponse()
                r.read()
                check(r.status == 202, "failure %d of user %d answered %d at A" %
                      (k + 1, i, r.status))
            t0 = time.perf_counter()
            while True:
                b.request("POST", "/v1/attempts", body=body, headers=hdrs)
                r = b.getresponse()
                r.read()
                if r.status == 423:
                    break
                check(r.status == 202, "user %d answered %d at B" % (i, r.status))
                check(time.perf_counter() - t0 < timeout_s,
                      "user %d not refused at B within %ss" % (i, timeout_s))
            out.append(time.perf_counter() - t0)
    finally:
        a.close()
        b.close()
    return out


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]
