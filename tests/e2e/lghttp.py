"""lghttp.py - helpers for the HTTP e2e tests (test_http_*.py) on top of lgtest.py.

A Server is one `loginguard run` with its own temp dir, SQLite store, config file (argon2id
cost lowered where cost does not matter) and free loopback port. Its stdout (one JSON line
per block decided) and stderr (logs) go to files the test can read at any time.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import lgtest

SECRET = "e2e-secret-0123456789abcdef0123456789abcdef"


def config_text(timeout_s=10, extra="", argon2=(1, 8)):
    return ("[auth]\n"
            "jwt_secret = %s\n"
            "argon2_opslimit = %d\n"
            "argon2_memlimit_kib = %d\n"
            "[http]\n"
            "timeout_s = %d\n" % (SECRET, argon2[0], argon2[1], timeout_s)) + extra


class Server:
    """`loginguard run` on a free port with a fresh store; users added before it starts,
    and one reporter key (self.key) for POST /v1/attempts (see report())."""

    def __init__(self, users=(), timeout_s=10, extra_config="", env=None, argon2=(1, 8)):
        self.dir = lgtest.tmpdir("lg-http-")
        self.db = os.path.join(self.dir, "lg.db")
        self.conf = os.path.join(self.dir, "lg.conf")
        with open(self.conf, "w") as f:
            f.write(config_text(timeout_s, extra_config, argon2))
        for name, password, admin in users:
            args = ["loginguard", "users", "add", name, "--db", self.db, "--config", self.conf]
            if admin:
                args.append("--admin")
            r = lgtest.run(args, input=password + "\n")
            lgtest.check(r.returncode == 0, "users add %s: %s" % (name, r.stderr))
        self.key = lgtest.reporter_key(self.db)
        self.port = lgtest.free_port()
        self.out_path = os.path.join(self.dir, "run.out")
        self.err_path = os.path.join(self.dir, "run.err")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            [lgtest.LG_BIN, "run", "--config", self.conf, "--db", self.db,
             "--port", str(self.port)],
            stdout=self._out, stderr=self._err, env=full_env)
        lgtest._procs.append(self.proc)
        try:
            lgtest.wait_http(self.port, "/healthz", 200, timeout=30)
        except SystemExit:
            print(self.log())
            raise

    def log(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def blocks_printed(self):
        """The JSON lines run printed on stdout (one per block decided)."""
        with open(self.out_path, errors="replace") as f:
            return [json.loads(l) for l in f if l.strip()]

    def stop(self, sig=signal.SIGTERM, timeout=30):
        rc = lgtest.stop(self.proc, sig, timeout)
        self._out.close()
        self._err.close()
        return rc

    def audit(self, user):
        """(attempts, blocks) of user from the store, as JSON objects."""
        r = lgtest.run(["loginguard", "audit", "--user", user, "--json", "--db", self.db,
                        "--config", self.conf])
        lgtest.check(r.returncode == 0, "audit --user %s: %s" % (user, r.stderr))
        attempts, blocks = [], []
        for line in r.stdout.splitlines():
            if not line.strip():
                continue
            doc = json.loads(line)
            (attempts if "outcome" in doc else blocks).append(doc)
        return attempts, blocks

    def cleanup(self):
        if self.proc.poll() is None:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- requests ---------------------------------------------------------------------

    def login(self, user, password, ip=None, xff=None):
        """ip goes in the body (which /v1/login ignores); xff in an X-Forwarded-For
        header, which names the client when the config trusts 127.0.0.1 as a proxy."""
        body = {"user": user, "password": password}
        if ip:
            body["ip"] = ip
        hdrs = {"X-Forwarded-For": xff} if xff else None
        return lgtest.request_json(self.port, "POST", "/v1/login", body, headers=hdrs)

    def report(self, body, key=None):
        """POST /v1/attempts as a reporter (with self.key unless key is given)."""
        return lgtest.request_json(self.port, "POST", "/v1/attempts", body,
                                   headers=lgtest.reporter_headers(key or self.key))

    def get(self, path, token=None):
        hdrs = {"Authorization": "Bearer " + token} if token else None
        return lgtest.request_json(self.port, "GET", path, headers=hdrs)

    def wait_blocked(self, user, timeout=10):
        def blocked():
            st, _, doc = self.get("/v1/blocks/" + user)
            return st == 200 and doc["blocked"]
        lgtest.wait_until(blocked, timeout, "user %s to be blocked" % user)


def raw_exchange(port, data, timeout=5, read_until_close=False):
    """Sends raw bytes on a fresh connection; returns what came back (until the first
    complete response, or until close)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        return read_response(s, read_until_close)
    finally:
        s.close()


def read_response(s, until_close=False):
    buf = b""
    deadline = time.time() + s.gettimeout()
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        buf += chunk
        if not until_close and b"\r\n\r\n" in buf:
            head, _, body = buf.partition(b"\r\n\r\n")
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    if len(body) >= int(line.split(b":")[1]):
                        return buf
    return buf


def send_big(port, head, body, timeout=10):
    """Sends head then as much of body as the server takes; returns the response read
    afterwards. The server may answer (413) and close before the body is all sent."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(head)
        try:
            for i in range(0, len(body), 65536):
                s.sendall(body[i:i + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return read_response(s)
        except OSError:
            return b""
    finally:
        s.close()


def status_of(raw):
    """The status code of a raw HTTP response, or None."""
    if not raw.startswith(b"HTTP/1."):
        return None
    return int(raw.split(b" ", 2)[1])
