/*
 * bench_store.c - audit store insert throughput: N attempts written in batches of
 * LG_STORE_BATCH_MAX (one transaction each), as the detector and `replay --db` do.
 *
 *   bench_store [--n N] [--users U] [--ids seq|random] [--db PATH] [--keep]
 *
 * Ids are "<src>-<boot ms>-<counter>" (seq, as the API makes them) or 32 random hex
 * digits (random, worst case for the id index). Users are drawn from U names, timestamps
 * increase.
 * Prints attempts/s for the inserts, then for a second pass of the same batches (all
 * ignored: the cost of an at-least-once redelivery). The file is removed unless --keep.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/limits.h"
#include "store/store.h"

typedef struct bench_opts {
    long n;
    long users;
    bool random_ids;
    const char *db;
    bool keep;
} bench_opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_store [--n N] [--users U] [--ids seq|random] [--db PATH] "
               "[--keep]\n"
               "  writes N attempts (default 1000000) in batches of %d and prints "
               "attempts/s\n",
               LG_STORE_BATCH_MAX);
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--keep") == 0) {
            o->keep = true;
            continue;
        } else if (v == NULL) {
            fprintf(stderr, "bench_store: option '%s' needs a value\n", a);
            return -1;
        } else if (strcmp(a, "--n") == 0) {
            if (!parse_long(v, 1, 1000000000L, &o->n))
                goto bad_value;
        } else if (strcmp(a, "--users") == 0) {
            if (!parse_long(v, 1, 100000000L, &o->users))
                goto bad_value;
        } else if (strcmp(a, "--ids") == 0) {
            if (strcmp(v, "seq") != 0 && strcmp(v, "random") != 0)
                goto bad_value;
            o->random_ids = strcmp(v, "random") == 0;
        } else if (strcmp(a, "--db") == 0) {
            o->db = v;
        } else {
            fprintf(stderr, "bench_store: unknown option '%s'\n", a);
            usage(stderr);
            return -1;
        }
        i++;
        continue;
    bad_value:
        fprintf(stderr, "bench_store: invalid value '%s' for '%s'\n", v, a);
        return -1;
    }
    return 0;
}

/* xorshift64*: reproducible, cheap */
static uint64_t rnd(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ULL;
}

static void make_batch(lg_attempt *batch, size_t n, long first, const bench_opts *o,
                       uint64_t *seed)
{
    static const int64_t base_ts = 1700000000000LL;

    for (size_t i = 0; i < n; i++) {
        lg_attempt *a = &batch[i];
        long k = first + (long)i;
        uint64_t r = rnd(seed);
        memset(a, 0, sizeof *a);
        if (o->random_ids)
            snprintf(a->id, sizeof a->id, "%016" PRIx64 "%016" PRIx64, r, rnd(seed));
        else
            snprintf(a->id, sizeof a->id, "api-1-1700000000000-%ld", k);
        a->ts_ms = base_ts + k;
        a->user_len = (uint32_t)snprintf(a->user, sizeof a->user, "user%" PRIu64,
                                         r % (uint64_t)o->users);
        snprintf(a->ip, sizeof a->ip, "10.%u.%u.%u", (unsigned)(r >> 8 & 255),
                 (unsigned)(r >> 16 & 255), (unsigned)(r >> 24 & 255));
        a->ok = (r & 3) == 0;
        a->outcome = a->ok ? LG_OUTCOME_OK : LG_OUTCOME_FAIL;
        snprintf(a->src, sizeof a->src, "api-1");
    }
}

static int64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

/* One pass over all N attempts; returns attempts/s of wall time, or < 0 on error, and
 * attempts per CPU second in *per_cpu_s (steadier than wall time on a shared machine).
 * Generating the attempts is not counted in either. */
static double run_pass(lg_store *s, const bench_opts *o, size_t *inserted_total,
                       double *per_cpu_s)
{
    static lg_attempt batch[LG_STORE_BATCH_MAX];
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    int64_t gen_ns = 0, gen_cpu_ns = 0, t0 = lg_mono_ns(), c0 = cpu_ns();

    *inserted_total = 0;
    for (long done = 0; done < o->n;) {
        size_t n = (size_t)(o->n - done < LG_STORE_BATCH_MAX ? o->n - done
                                                              : LG_STORE_BATCH_MAX);
        size_t inserted = 0;
        int64_t g0 = lg_mono_ns(), gc0 = cpu_ns();
        int rc;
        make_batch(batch, n, done, o, &seed);
        gen_ns += lg_mono_ns() - g0; /* not the store's time */
        gen_cpu_ns += cpu_ns() - gc0;
        rc = lg_store_put(s, batch, n, NULL, 0, &inserted);
        if (rc != 0) {
            fprintf(stderr, "bench_store: put at %ld: %s\n", done, lg_strerror(rc));
            return -1;
        }
        *inserted_total += inserted;
        done += (long)n;
    }
    *per_cpu_s = (double)o->n / ((double)(cpu_ns() - c0 - gen_cpu_ns) / 1e9);
    return (double)o->n / ((double)(lg_mono_ns() - t0 - gen_ns) / 1e9);
}

int main(int argc, char **argv)
{
    bench_opts o = {.n = 1000000, .users = 10000};
    char path[256], err[512];
    lg_store *s = NULL;
    size_t inserted;
    double rate, per_cpu;

    if (parse_args(argc, argv, &o) != 0)
        return 2;
    if (o.db == NULL) {
        snprintf(path, sizeof path, "/tmp/bench_store_%ld.db", (long)getpid());
        o.db = path;
    }
    if (lg_store_open(o.db, &s, err, sizeof err) != 0) {
        fprintf(stderr, "bench_store: %s\n", err);
        return 1;
    }
    rate = run_pass(s, &o, &inserted, &per_cpu);
    if (rate < 0)
        goto fail;
    printf("insert: %ld attempts (%s ids, %ld users, batch %d): %.0f attempts/s "
           "(%.0f per cpu-s), %zu inserted\n",
           o.n, o.random_ids ? "random" : "seq", o.users, LG_STORE_BATCH_MAX, rate, per_cpu,
           inserted);
    rate = run_pass(s, &o, &inserted, &per_cpu);
    if (rate < 0)
        goto fail;
    printf("redeliver: same %ld attempts again: %.0f attempts/s (%.0f per cpu-s), "
           "%zu inserted\n",
           o.n, rate, per_cpu, inserted);
    lg_store_close(s);
    if (!o.keep && o.db == path) {
        char side[300];
        unlink(path);
        snprintf(side, sizeof side, "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", path);
        unlink(side);
    }
    return 0;
fail:
    lg_store_close(s);
    return 1;
}
