"""lgtest.py - shared helpers for loginguard's end-to-end tests (Python 3 stdlib only).

Each e2e test starts the real binary ($LG_BIN) on 127.0.0.1, talks to it over real
sockets and stops it. Processes are tracked and killed when the test exits, so a failing
assertion never leaves a server behind. Everything is bounded in time.
"""
import atexit
import http.client
import json
import os
import signal
import random
import socket
import subprocess
import sys
import tempfile
import time

LG_BIN = os.environ.get("LG_BIN", os.path.join(os.path.dirname(__file__), "../../build/loginguard"))
BUILD_DIR = os.environ.get("LG_BUILD_DIR", os.path.dirname(LG_BIN))
SRC_DIR = os.environ.get("LG_SRC_DIR", os.path.join(os.path.dirname(__file__), "../.."))

_procs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_cleanup)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def tmpdir(prefix="lg-e2e-"):
    base = os.environ.get("LG_TMPDIR")
    if base:
        os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=base)


def free_port():
    """A free loopback port BELOW the kernel's ephemeral range. A port the kernel hands
    out for bind(0) is an ephemeral one: between our return and the server's bind, any
    outgoing connection on the machine (the 5 000 idle connections of test_http_limits,
    loadgen, Kafka clients of a parallel test) may take it as its local port, and the
    server then fails to start. Below the range only another server's bind competes, and
    the bind here checks that none holds the port now."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    with socket.socket() as s:  # the range below is full: fall back on an ephemeral one
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, log_path=None, env=None, stdin=None):
    """Starts a process (args[0] may be 'loginguard' for $LG_BIN); tracked for cleanup."""
    if args and args[0] == "loginguard":
        args = [LG_BIN] + list(args[1:])
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT if log_path else None,
                         env=full_env, stdin=stdin)
    _procs.append(p)
    return p


def run(args, input=None, env=None, timeout=120):
    """Runs a process to completion; returns CompletedProcess with text stdout/stderr."""
    if args and args[0] == "loginguard":
        args = [LG_BIN] + list(args[1:])
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(args, input=input, capture_output=True, text=True, env=full_env,
                          timeout=timeout)


def stop(p, sig=signal.SIGTERM, timeout=30):
    """Sends sig and waits; returns the exit status (kills after timeout)."""
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            fail("process %s did not exit within %ss of signal %s" % (p.args, timeout, sig))
    return p.returncode


def request(port, method, path, body=None, headers=None, timeout=10, host="127.0.0.1"):
    """One HTTP request on a fresh connection. Returns (status, headers dict, body bytes);
    a JSON body is also decoded into .json by request_json."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def request_json(port, method, path, body=None, headers=None, timeout=10):
    status, hdrs, raw = request(port, method, path, body, headers, timeout)
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = None
    return status, hdrs, doc


def wait_http(port, path="/healthz", want=200, timeout=30):
    """Polls until GET path answers `want`; fails the test after timeout seconds."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            status, _, _ = request(port, "GET", path, timeout=2)
            if status == want:
                return
            last = status
        except OSError as e:
            last = e
        time.sleep(0.05)
    fail("port %d %s did not answer %d within %ss (last: %s)" % (port, path, want, timeout, last))


def wait_until(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    fail("timed out after %ss waiting for %s" % (timeout, what))


def reporter_key(db, name="e2e-reporter", env=None):
    """Makes a reporter key named name in store db with `loginguard keys add` and returns
    it (the only thing the command prints on stdout)."""
    r = run(["loginguard", "keys", "add", name, "--db", db], env=env)
    check(r.returncode == 0, "keys add %s: rc=%d %s" % (name, r.returncode, r.stderr))
    key = r.stdout.strip()
    check(key.startswith("lgk_") and "\n" not in key, "keys add printed %r" % r.stdout)
    return key


def reporter_headers(key):
    """Headers of a POST /v1/attempts made by the holder of key."""
    return {"Content-Type": "application/json", "Authorization": "Bearer " + key}
