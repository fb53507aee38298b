/*
 * bench_engine.c - the detection engine alone, on attempts already parsed: events per
 * second on one core and bytes per tracked key.
 *
 * Workload (deterministic): E attempts over U distinct users (default 10 M over 1 M),
 * event time advancing evenly over --span-s seconds with 5 % of attempts up to 2 s late;
 * 1 % of users are hammered and get 30 % of the attempts, all failures; the others fail
 * 90 % of the time. Attempts are built into a 4096-entry buffer (not timed) and judged
 * with lg_engine_judge_batch (or lg_engine_judge, --mode single); only judging is timed.
 * Default rule "user" (5 in 60 s), keys_max = users rounded up to a power of two.
 * Output: one `key=value` line per run and a summary line, for scripts.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/engine.h"
#include "core/window.h"

#define BUF_ATTEMPTS 4096

typedef struct opts {
    uint64_t events, users;
    int64_t span_s;
    int runs;
    int single; /* 0 batch, 1 single, 2 both */
} opts;

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_engine [--events N] [--users N] [--span-s S] [--runs R] "
               "[--mode batch|single|both]\n"
               "  judges N pre-parsed attempts over N users with rule user (5 in 60 s)\n"
               "  defaults: --events 10000000 --users 1000000 --span-s 100 --runs 3 "
               "--mode batch\n");
}

static int parse_opts(int argc, char **argv, opts *o)
{
    *o = (opts){10000000, 1000000, 100, 3, 0};
    for (int i = 1; i < argc; i++) {
        uint64_t v;
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (val == NULL)
            goto bad;
        i++;
        if (strcmp(a, "--events") == 0 && parse_u64(val, 1, 1000000000, &v) == 0)
            o->events = v;
        else if (strcmp(a, "--users") == 0 && parse_u64(val, 1, 100000000, &v) == 0)
            o->users = v;
        else if (strcmp(a, "--span-s") == 0 && parse_u64(val, 1, 86400 * 365, &v) == 0)
            o->span_s = (int64_t)v;
        else if (strcmp(a, "--runs") == 0 && parse_u64(val, 1, 100, &v) == 0)
            o->runs = (int)v;
        else if (strcmp(a, "--mode") == 0 && strcmp(val, "batch") == 0)
            o->single = 0;
        else if (strcmp(a, "--mode") == 0 && strcmp(val, "single") == 0)
            o->single = 1;
        else if (strcmp(a, "--mode") == 0 && strcmp(val, "both") == 0)
            o->single = 2;
        else
            goto bad;
    }
    return 0;
bad:
    fprintf(stderr, "bench_engine: bad argument near '%s'\n", argv[argc - 1]);
    usage(stderr);
    return -1;
}

/* The i-th attempt of the workload (a pure function of i and the rng sequence). */
static void make(const opts *o, uint64_t i, lg_attempt *a)
{
    const int64_t t0 = 1700000000000LL;
    uint64_t r = rnd();
    uint64_t hammered = o->users / 100 ? o->users / 100 : 1;
    uint64_t user;
    bool ok;

    if (r % 100 < 30) {
        user = (r >> 8) % hammered;
        ok = false;
    } else {
        user = hammered + (r >> 8) % (o->users - hammered > 0 ? o->users - hammered : 1);
        ok = (r >> 40) % 10 == 0;
    }
    a->ts_ms = t0 + (int64_t)(i * (uint64_t)o->span_s * 1000 / o->events);
    if ((r >> 48) % 100 < 5)
        a->ts_ms -= (int64_t)((r >> 20) % 2000);
    a->user_len = (uint32_t)snprintf(a->user, sizeof a->user, "user%07llu",
                                     (unsigned long long)user);
    a->ip[0] = '\0';
    a->ok = ok;
}

static lg_engine *engine_new(const opts *o)
{
    lg_engine_conf c;
    lg_engine *e;
    char err[256];
    uint32_t keys = 1;

    lg_engine_conf_default(&c);
    while (keys < o->users && keys < LG_KEYS_MAX_CAP)
        keys <<= 1;
    c.rules[0].keys_max = keys;
    if (lg_engine_new(&c, &e, err, sizeof err) != 0) {
        fprintf(stderr, "bench_engine: %s\n", err);
        exit(1);
    }
    return e;
}

static int64_t cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

typedef struct result {
    double secs, cpu_secs;
    uint64_t peak_keys, blocks, blocked, keys_full, blocks_tracked;
    size_t bytes, block_bytes;
} result;

static result run_once(const opts *o, bool single, lg_attempt *buf)
{
    lg_engine *e = engine_new(o);
    lg_block blocks[LG_RULES_MAX];
    lg_engine_stats s;
    result res = {0};

    rng = 0x9E3779B97F4A7C15ULL;
    for (uint64_t i = 0; i < o->events; i += BUF_ATTEMPTS) {
        size_t n = o->events - i < BUF_ATTEMPTS ? (size_t)(o->events - i) : BUF_ATTEMPTS;
        for (size_t j = 0; j < n; j++)
            make(o, i + j, &buf[j]);
        int64_t t = lg_mono_ns(), c = cpu_ns();
        if (single) {
            for (size_t j = 0; j < n; j++) {
                size_t nb;
                lg_engine_judge(e, &buf[j], blocks, LG_RULES_MAX, &nb);
            }
        } else {
            lg_engine_judge_batch(e, buf, n, NULL, NULL);
        }
        res.secs += (double)(lg_mono_ns() - t) / 1e9;
        res.cpu_secs += (double)(cpu_ns() - c) / 1e9;
        lg_engine_stats_get(e, &s);
        if (s.keys_tracked > res.peak_keys)
            res.peak_keys = s.keys_tracked;
    }
    lg_engine_stats_get(e, &s);
    res.blocks = s.blocks;
    res.blocked = s.blocked;
    res.keys_full = s.keys_full;
    res.bytes = s.bytes;
    res.block_bytes = s.bytes_blocks;
    res.blocks_tracked = s.blocks_tracked;
    lg_engine_free(e);
    return res;
}

int main(int argc, char **argv)
{
    opts o;
    static lg_attempt buf[BUF_ATTEMPTS];

    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    for (int mode = 0; mode < 2; mode++) {
        if ((o.single == 0 && mode == 1) || (o.single == 1 && mode == 0))
            continue;
        const char *name = mode ? "single" : "batch";
        result best = {0};
        for (int r = 0; r < o.runs; r++) {
            result res = run_once(&o, mode == 1, buf);
            printf("run mode=%s events=%llu users=%llu secs=%.3f events_per_s=%.0f "
                   "events_per_cpu_s=%.0f peak_keys=%llu bytes=%zu blocks=%llu blocked=%llu "
                   "keys_full=%llu\n",
                   name, (unsigned long long)o.events, (unsigned long long)o.users, res.secs,
                   (double)o.events / res.secs, (double)o.events / res.cpu_secs,
                   (unsigned long long)res.peak_keys, res.bytes,
                   (unsigned long long)res.blocks, (unsigned long long)res.blocked,
                   (unsigned long long)res.keys_full);
            fflush(stdout);
            if (best.secs == 0 || res.secs < best.secs)
                best = res;
        }
        printf("best mode=%s events_per_s=%.0f ns_per_event=%.1f cpu_ns_per_event=%.1f "
               "bytes=%zu peak_keys=%llu bytes_per_peak_key=%.1f window_entry_bytes=%zu "
               "block_records=%llu block_bytes=%zu block_bytes_per_peak_key=%.1f "
               "block_bytes_per_record=%.1f\n",
               name, (double)o.events / best.secs, best.secs * 1e9 / (double)o.events,
               best.cpu_secs * 1e9 / (double)o.events,
               best.bytes, (unsigned long long)best.peak_keys,
               best.peak_keys ? (double)best.bytes / (double)best.peak_keys : 0.0,
               lg_window_stride(5), (unsigned long long)best.blocks_tracked, best.block_bytes,
               best.peak_keys ? (double)best.block_bytes / (double)best.peak_keys : 0.0,
               best.blocks_tracked ? (double)best.block_bytes / (double)best.blocks_tracked
                                   : 0.0);
    }
    return 0;
}
