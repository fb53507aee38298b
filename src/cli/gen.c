/*
 * gen.c - `loginguard gen`: random login attempts as JSON lines, the seed's producer
 * (random ids, most attempts failing, some ids hammered) as a file for replay, the
 * benchmarks and the demo.
 *
 * Each line is a full wire attempt (lg_attempt_encode), so it feeds both `replay` and the
 * bus. Event times advance by a uniform gap in [0, 2 * step-ms]. With --hammer K, K hot
 * ids get bursts of 5..12 failures from one attacker address, spaced ~step-ms / 4, so
 * most bursts cross the default rule (5 in 60 s). A splitmix64 generator seeded by
 * --seed makes the output repeatable; lines go through a 1 MiB buffer, since benchmarks
 * write files of ten million lines with it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/event.h"
#include "core/lgassert.h"

/* output buffer: one write per MiB keeps the syscall cost far below the formatting */
#define GEN_OUT_BUF (1u << 20)
/* bounds on the flags: sizes beyond these are typos, not workloads */
#define GEN_EVENTS_MAX (1ULL << 40)
#define GEN_USERS_MAX 100000000u
#define GEN_STEP_MS_MAX (3600LL * 1000)
/* burst shape: at least the default threshold, a few more to cross larger ones */
#define GEN_BURST_MIN 5
#define GEN_BURST_SPREAD 8
/* chance, per non-burst event, that a hot id starts a burst: ~10% of lines are bursts */
#define GEN_BURST_PER_MILLE 12

_Static_assert(GEN_OUT_BUF > 2 * LG_EVENT_JSON_MAX, "a line always fits after a flush");

typedef struct gen_opts {
    uint64_t events;
    uint32_t users;
    double fail_rate;
    uint32_t hammer;
    int64_t start_ms;
    int64_t step_ms;
    uint64_t seed;
    const char *out; /* NULL = stdout */
} gen_opts;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: loginguard gen [--events N] [--users N] [--fail-rate P] [--hammer K]\n"
        "                      [--start-ms T] [--step-ms S] [--seed S] [--out FILE]\n\n"
        "Writes random login attempts as JSON lines, one full attempt per line:\n"
        "{\"v\":1,\"id\":..,\"ts\":..,\"user\":\"user000123\",\"ip\":\"203.0.113.7\",\"ok\":false,\n"
        "\"outcome\":\"fail\",\"src\":\"gen\"}. Input for `loginguard replay`, benchmarks and\n"
        "the demo. Users are user000000.. drawn uniformly; addresses come from the\n"
        "documentation ranges (RFC 5737).\n\n"
        "  --events N      lines to write (default 100000)\n"
        "  --users N       distinct user ids (default 1000)\n"
        "  --fail-rate P   share of ordinary attempts that fail, 0..1 (default 0.8)\n"
        "  --hammer K      K hot ids get bursts of %d..%d rapid failures from one\n"
        "                  address each, about 10%% of all lines (default 5; 0 = none)\n"
        "  --start-ms T    time of the first event, ms since the epoch (default now)\n"
        "  --step-ms S     mean gap between events in ms (default 10); bursts use S/4\n"
        "  --seed S        random seed: the same seed, flags and --start-ms give the same\n"
        "                  output (default: from the clock)\n"
        "  --out FILE      write to FILE instead of stdout\n"
        "  -h, --help      this text\n\n"
        "exit status: 0 done, 1 write error, 2 usage error\n",
        GEN_BURST_MIN, GEN_BURST_MIN + GEN_BURST_SPREAD - 1);
}

/* ---- flags ------------------------------------------------------------------------ */

static int parse_i64(const char *flag, const char *s, long long min, long long max,
                     long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "loginguard gen: invalid %s '%s' (expected an integer %lld..%lld)\n",
                flag, s, min, max);
        return LG_EINVAL;
    }
    *out = v;
    return 0;
}

static int parse_rate(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* written as !(in range) so that NaN is refused too */
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0)) {
        fprintf(stderr, "loginguard gen: invalid --fail-rate '%s' (expected 0..1)\n", s);
        return LG_EINVAL;
    }
    *out = v;
    return 0;
}

/* Parses argv into o. Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, gen_opts *o)
{
    static const struct option longopts[] = {
        {"events", required_argument, NULL, 'n'},  {"users", required_argument, NULL, 'u'},
        {"fail-rate", required_argument, NULL, 'f'}, {"hammer", required_argument, NULL, 'k'},
        {"start-ms", required_argument, NULL, 't'}, {"step-ms", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'S'},    {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    bool start_set = false, seed_set = false;
    long long v;
    int c;

    *o = (gen_opts){.events = 100000, .users = 1000, .fail_rate = 0.8, .hammer = 5,
                    .step_ms = 10};
    optind = 0; /* glibc: full re-initialisation, so tests may call commands twice */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'n':
            rc = parse_i64("--events", optarg, 0, (long long)GEN_EVENTS_MAX, &v);
            o->events = (uint64_t)v;
            break;
        case 'u':
            rc = parse_i64("--users", optarg, 1, GEN_USERS_MAX, &v);
            o->users = (uint32_t)v;
            break;
        case 'f': rc = parse_rate(optarg, &o->fail_rate); break;
        case 'k':
            rc = parse_i64("--hammer", optarg, 0, GEN_USERS_MAX, &v);
            o->hammer = (uint32_t)v;
            break;
        case 't':
            rc = parse_i64("--start-ms", optarg, 0, LG_TS_MAX_MS, &v);
            o->start_ms = v;
            start_set = true;
            break;
        case 's':
            rc = parse_i64("--step-ms", optarg, 0, GEN_STEP_MS_MAX, &v);
            o->step_ms = v;
            break;
        case 'S':
            rc = parse_i64("--seed", optarg, 0, INT64_MAX, &v);
            o->seed = (uint64_t)v;
            seed_set = true;
            break;
        case 'o': o->out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (rc != 0)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "loginguard gen: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (o->hammer > o->users) {
        fprintf(stderr, "loginguard gen: --hammer %u is more than --users %u\n", o->hammer,
                o->users);
        return 2;
    }
    if (!start_set)
        o->start_ms = lg_now_ms();
    if (!seed_set)
        o->seed = (uint64_t)lg_mono_ns() ^ ((uint64_t)getpid() << 32);
    /* the last ts is at most start + events * 2 * step: keep it a valid event time */
    if (o->step_ms > 0 &&
        o->events > (uint64_t)((LG_TS_MAX_MS - o->start_ms) / (2 * o->step_ms))) {
        fprintf(stderr, "loginguard gen: --events %llu x --step-ms %lld runs past year 9999\n",
                (unsigned long long)o->events, (long long)o->step_ms);
        return 2;
    }
    return -1;
}

/* ---- generation ------------------------------------------------------------------- */

typedef struct gen_rng {
    uint64_t x;
} gen_rng;

/* splitmix64: one add and three xor-shift-multiplies; plenty for test data */
static inline uint64_t rng_next(gen_rng *r)
{
    uint64_t z = (r->x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n] for n < 2^32 (multiply-shift; bias below n / 2^32). */
static inline uint64_t rng_upto(gen_rng *r, uint64_t n)
{
    return ((rng_next(r) >> 32) * (n + 1)) >> 32;
}

/* Decimal digits of v into p, zero-padded to at least width; returns the length. */
/* digits of the counter in a generated id: 10^12 attempts per seed */
#define GEN_ID_DIGITS 12

static size_t put_dec(char *p, uint64_t v, size_t width)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 || n < width);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    p[n] = '\0';
    return n;
}

static void set_user(lg_attempt *a, uint32_t user)
{
    memcpy(a->user, "user", 4);
    a->user_len = (uint32_t)(4 + put_dec(a->user + 4, user, 6));
}

/* RFC 5737 documentation ranges: 198.51.100.0/24 and 203.0.113.0/24 for everyone,
 * 192.0.2.0/24 for the attackers hammering the hot ids. */
static void set_ip(lg_attempt *a, const char *net, uint32_t host)
{
    size_t n = strlen(net);
    memcpy(a->ip, net, n);
    put_dec(a->ip + n, host, 1);
}

typedef struct gen_state {
    gen_rng rng;
    uint64_t ok_below; /* ok when 32 random bits are below this: (1 - fail-rate) x 2^32 */
    int64_t ts_ms;
    uint32_t burst_left, burst_user, burst_host;
} gen_state;

/* Fills a with event number i (its id and src are already set up by the caller). */
static void gen_event(gen_state *g, const gen_opts *o, uint64_t i, lg_attempt *a)
{
    if (g->burst_left == 0 && o->hammer > 0 && rng_upto(&g->rng, 999) < GEN_BURST_PER_MILLE) {
        /* hot ids are spread over the id range so they differ for any --users */
        uint32_t h = (uint32_t)rng_upto(&g->rng, o->hammer - 1);
        g->burst_user = (uint32_t)(((uint64_t)h * o->users) / o->hammer);
        g->burst_host = h % 254 + 1;
        g->burst_left = GEN_BURST_MIN + (uint32_t)rng_upto(&g->rng, GEN_BURST_SPREAD - 1);
    }
    int64_t step = g->burst_left > 0 ? o->step_ms / 4 : o->step_ms;
    if (i > 0)
        g->ts_ms += (int64_t)rng_upto(&g->rng, (uint64_t)(2 * step));
    a->ts_ms = g->ts_ms;
    if (g->burst_left > 0) {
        g->burst_left--;
        set_user(a, g->burst_user);
        set_ip(a, "192.0.2.", g->burst_host);
        a->ok = false;
    } else {
        uint64_t r = rng_next(&g->rng);
        set_user(a, (uint32_t)(((r & 0xffffffffu) * o->users) >> 32));
        set_ip(a, (r >> 32) & 1 ? "198.51.100." : "203.0.113.", (uint32_t)((r >> 33) % 254) + 1);
        a->ok = (rng_next(&g->rng) >> 32) < g->ok_below;
    }
    a->outcome = a->ok ? LG_OUTCOME_OK : LG_OUTCOME_FAIL;
}

static int flush(FILE *out, const char *buf, size_t *len, const char *name)
{
    if (*len > 0 && fwrite(buf, 1, *len, out) != *len) {
        fprintf(stderr, "loginguard gen: cannot write to %s: %s\n", name, strerror(errno));
        return LG_EIO;
    }
    *len = 0;
    return 0;
}

static int generate(const gen_opts *o, FILE *out, const char *name)
{
    static char buf[GEN_OUT_BUF];
    size_t len = 0;
    lg_attempt a;
    /* fail-rate 1 gives 0 (never ok), fail-rate 0 gives 2^32 (always ok) */
    gen_state g = {.rng = {o->seed}, .ts_ms = o->start_ms,
                   .ok_below = (uint64_t)((1.0 - o->fail_rate) * 4294967296.0)};

    memset(&a, 0, sizeof a);
    memcpy(a.src, "gen", 4);
    /* "g<8 hex of the seed>-<n>": unique within a file, and across files of other seeds,
     * since the audit store drops a second attempt with the same id */
    int prefix = snprintf(a.id, sizeof a.id, "g%08x-",
                          (unsigned)(o->seed ^ (o->seed >> 32)));
    lg_assert(prefix > 0 && prefix < 16);

    for (uint64_t i = 0; i < o->events; i++) {
        /* zero-padded so ids sort in the order they are written: the audit store's id
         * index then grows at its end instead of being rewritten all over */
        put_dec(a.id + prefix, i, GEN_ID_DIGITS);
        gen_event(&g, o, i, &a);
        if (GEN_OUT_BUF - len < LG_EVENT_JSON_MAX + 1 && flush(out, buf, &len, name) != 0)
            return LG_EIO;
        int n = lg_attempt_encode(&a, buf + len, GEN_OUT_BUF - len);
        lg_assert(n > 0); /* a generated attempt is far below LG_EVENT_JSON_MAX */
        len += (size_t)n;
        buf[len++] = '\n';
    }
    return flush(out, buf, &len, name);
}

int lg_cmd_gen(int argc, char **argv)
{
    gen_opts o;
    int status = parse_args(argc, argv, &o);
    if (status >= 0)
        return status;

    FILE *out = stdout;
    const char *name = "stdout";
    if (o.out != NULL && strcmp(o.out, "-") != 0) {
        out = fopen(o.out, "w");
        if (out == NULL) {
            fprintf(stderr, "loginguard gen: cannot open '%s': %s\n", o.out, strerror(errno));
            return 2;
        }
        name = o.out;
    }
    int rc = generate(&o, out, name);
    if (out != stdout) {
        if (fclose(out) != 0 && rc == 0) {
            fprintf(stderr, "loginguard gen: cannot write to %s: %s\n", name, strerror(errno));
            rc = LG_EIO;
        }
    } else if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "loginguard gen: cannot write to stdout: %s\n", strerror(errno));
        rc = LG_EIO;
    }
    return rc == 0 ? 0 : 1;
}
