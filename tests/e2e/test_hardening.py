"""test_hardening.py - build/loginguard is built hardened (issue 7, item 7), read back
with readelf: a position-independent executable (ELF type DYN), relocations bound at
start (BIND_NOW / FLAGS NOW) behind a read-only GNU_RELRO segment (full RELRO), stack
canaries (__stack_chk_fail imported) and, where _FORTIFY_SOURCE applies (an optimised
build without sanitizers), at least one bounds-checked __*_chk function imported.

The build's kind comes from $LG_BUILD_DIR/CMakeCache.txt. A check that does not apply to
this build (fortify in the ASan or an unoptimised build) is reported as SKIPPED on
stdout with the reason; every other check always runs. A missing readelf is a failure.
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lgtest  # noqa: E402
from lgtest import check, fail  # noqa: E402


def cache_value(key):
    path = os.path.join(lgtest.BUILD_DIR, "CMakeCache.txt")
    try:
        with open(path) as f:
            for line in f:
                m = re.match(r"^%s:[A-Z]+=(.*)$" % re.escape(key), line.strip())
                if m:
                    return m.group(1)
    except OSError as e:
        fail("cannot read %s to know the build's kind: %s" % (path, e))
    return ""


def readelf(*args):
    r = subprocess.run(["readelf", "-W"] + list(args) + [lgtest.LG_BIN],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "readelf %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def main():
    if shutil.which("readelf") is None:
        fail("readelf is not installed (apt-get install binutils)")
    check(os.path.exists(lgtest.LG_BIN), "%s not built" % lgtest.LG_BIN)
    build_type = cache_value("CMAKE_BUILD_TYPE") or "RelWithDebInfo"
    sanitize = cache_value("LG_SANITIZE").upper() in ("ON", "1", "TRUE", "YES")
    print("build: %s, LG_SANITIZE=%s, binary %s" % (build_type, sanitize, lgtest.LG_BIN))

    header = readelf("-h")
    check(re.search(r"^\s*Type:\s+DYN\b", header, re.M) is not None,
          "not a PIE (ELF type is not DYN):\n" + header)
    print("ok: PIE (ELF type DYN)")

    dynamic = readelf("-d")
    bind_now = re.search(r"\(BIND_NOW\)", dynamic) or \
        re.search(r"\(FLAGS\)\s+.*\bBIND_NOW\b", dynamic) or \
        re.search(r"\(FLAGS_1\)\s+Flags:.*\bNOW\b", dynamic)
    check(bind_now is not None, "no BIND_NOW / FLAGS NOW (-z now):\n" + dynamic)
    print("ok: BIND_NOW")

    segments = readelf("-l")
    check(re.search(r"^\s*GNU_RELRO\b", segments, re.M) is not None,
          "no GNU_RELRO segment (-z relro):\n" + segments)
    print("ok: GNU_RELRO (with BIND_NOW: full RELRO)")

    imports = set(re.findall(r"\bUND\s+([^\s@]+)", readelf("--dyn-syms")))
    check("__stack_chk_fail" in imports, "__stack_chk_fail not imported "
          "(-fstack-protector-strong)")
    print("ok: __stack_chk_fail imported")

    fortified = sorted(s for s in imports if re.match(r"^__\w+_chk$", s) and
                       s != "__stack_chk_fail")
    optimised = build_type in ("Release", "RelWithDebInfo")
    if sanitize or not optimised:
        print("SKIPPED: _FORTIFY_SOURCE check: %s build does not fortify (%s)"
              % (build_type + (" +ASan/UBSan" if sanitize else ""),
                 "ASan intercepts the plain functions" if sanitize else "needs -O2"))
    else:
        check(fortified, "no __*_chk function imported (-D_FORTIFY_SOURCE=2)")
        print("ok: fortified: %s" % ", ".join(fortified[:8]))
    print("ok")


if __name__ == "__main__":
    main()
