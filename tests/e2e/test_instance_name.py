"""test_instance_name.py - an instance's name (`loginguard api --name`, or [bus] client_id
without it) is the "src" of its attempts and the start of their ids, which downstream
readers require to be printable ASCII: a name outside A-Z a-z 0-9 . _ - (1..64 bytes) is
refused at start with a clear error and exit 2, before anything is opened; a valid one
runs and is the name the instance logs. Issue 7: a non-ASCII name used to start, and every
attempt of that instance was then refused downstream as a bad message.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lgtest  # noqa: E402
from lgtest import check  # noqa: E402


def api_args(tmp, port, *extra):
    return ["loginguard", "api", "--bus", "embedded", "--store", os.path.join(tmp, "lg.db"),
            "--port", str(port)] + list(extra)


def refused_names(tmp):
    bad = {
        "api-\u00e9": "byte 4 (0xc3) is not one of A-Z a-z 0-9 . _ -",
        "api 1": "byte 3 (0x20) is not one of A-Z a-z 0-9 . _ -",
        "a/b": "byte 1 (0x2f) is not one of A-Z a-z 0-9 . _ -",
        "api\t1": "byte 3 (0x09) is not one of A-Z a-z 0-9 . _ -",
        "": "empty",
        "n" * 65: "longer than 64 bytes",
    }
    for name, why in bad.items():
        r = lgtest.run(api_args(tmp, lgtest.free_port(), "--name", name), timeout=30)
        check(r.returncode == 2, "--name %r: exit %d, want 2 (%s)" % (name, r.returncode,
                                                                     r.stderr[-300:]))
        check(r.stderr.strip().endswith("loginguard api: invalid --name: " + why),
              "--name %r: %r" % (name, r.stderr[-300:]))
    check(not os.path.exists(os.path.join(tmp, "lg.db")), "a refused start opened the store")


def refused_client_id(tmp):
    conf = os.path.join(tmp, "bad.conf")
    with open(conf, "w", encoding="utf-8") as f:
        f.write("[bus]\nclient_id = api-\u00e9\n")
    r = lgtest.run(api_args(tmp, lgtest.free_port(), "--config", conf), timeout=30)
    check(r.returncode == 2, "bad client_id: exit %d (%s)" % (r.returncode, r.stderr[-300:]))
    check("invalid client_id" in r.stderr and "in [bus]" in r.stderr and
          "byte 4 (0xc3) is not one of A-Z a-z 0-9 . _ -" in r.stderr,
          "bad client_id: %r" % r.stderr[-300:])
    r = lgtest.run(["loginguard", "config", "--config", conf])
    check(r.returncode == 2 and "invalid client_id" in r.stderr, "config: %r" % r.stderr)


def runs_with(tmp, extra, want_name):
    port = lgtest.free_port()
    log = os.path.join(tmp, "api-%s.log" % want_name)
    p = lgtest.start(api_args(tmp, port, *extra), log_path=log, env={"LG_LOG_LEVEL": "info"})
    lgtest.wait_http(port, "/healthz", 200, 30)
    rc = lgtest.stop(p)
    check(rc == 0, "api %r exited %s" % (extra, rc))
    with open(log, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    check(" name=%s " % want_name in text, "api %r did not run as %s:\n%s"
          % (extra, want_name, text[-1500:]))


def main():
    tmp = lgtest.tmpdir("lg-name-")
    try:
        refused_names(tmp)
        refused_client_id(tmp)
        # the widest valid name: every allowed byte class, 64 bytes
        name = ("Az09._-" * 10)[:63] + "z"
        runs_with(tmp, ["--name", name], name)
        # without --name, [bus] client_id is the name
        conf = os.path.join(tmp, "ok.conf")
        with open(conf, "w") as f:
            f.write("[bus]\nclient_id = api.eu-1_b\n")
        runs_with(tmp, ["--config", conf], "api.eu-1_b")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok: --name and bus.client_id validated; a valid name is the instance's name")


if __name__ == "__main__":
    main()
