/*
 * bench_pwhash.c - argon2id verification alone: the ceiling for logins/s.
 *
 *   bench_pwhash [--threads N] [--seconds S] [--opslimit T] [--memlimit-kib M]
 *
 * Each of N threads runs crypto_pwhash_str_verify on one stored hash (made once at the
 * given t and m; defaults t=2, m=19456 KiB, the production cost) until S seconds pass,
 * and the total becomes verifications/s. POST /v1/login should reach >= 90 % of this
 * figure with the same worker count. Prints one line of key=value results.
 */
#include <getopt.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/limits.h"

#define BENCH_SECONDS_MAX 3600

typedef struct bench {
    char hash[crypto_pwhash_STRBYTES];
    int64_t deadline_ns;
    atomic_uint_fast64_t verified;
    atomic_uint_fast64_t failed;
} bench;

static const char password[] = "correct horse battery staple";

static void *verify_loop(void *opaque)
{
    bench *b = opaque;
    uint64_t n = 0, bad = 0;
    while (lg_mono_ns() < b->deadline_ns) { /* bounded by the deadline */
        if (crypto_pwhash_str_verify(b->hash, password, sizeof password - 1) == 0)
            n++;
        else
            bad++; /* out of memory: counted so the figure is not silently wrong */
    }
    atomic_fetch_add(&b->verified, n);
    atomic_fetch_add(&b->failed, bad);
    return NULL;
}

static int parse_u32(const char *flag, const char *s, unsigned long lo, unsigned long hi,
                     uint32_t *out)
{
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "bench_pwhash: invalid value '%s' for %s (%lu..%lu)\n", s, flag, lo, hi);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: bench_pwhash [--threads N] [--seconds S] [--opslimit T] "
                 "[--memlimit-kib M]\n"
                 "  defaults: 2 threads, 5 s, t=2, m=19456 KiB (OWASP, production)\n");
}

int main(int argc, char **argv)
{
    uint32_t threads = 2, seconds = 5, opslimit = 2, memlimit_kib = 19456;
    static const struct option opts[] = {
        {"threads", required_argument, NULL, 'n'},
        {"seconds", required_argument, NULL, 's'},
        {"opslimit", required_argument, NULL, 't'},
        {"memlimit-kib", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n': rc = parse_u32("--threads", optarg, 1, LG_POOL_THREADS_MAX, &threads); break;
        case 's': rc = parse_u32("--seconds", optarg, 1, BENCH_SECONDS_MAX, &seconds); break;
        case 't': rc = parse_u32("--opslimit", optarg, 1, 16, &opslimit); break;
        case 'm': rc = parse_u32("--memlimit-kib", optarg, 8, 1u << 20, &memlimit_kib); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (rc != 0)
            return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "bench_pwhash: sodium_init failed\n");
        return 1;
    }

    static bench b;
    int64_t t0 = lg_mono_ns();
    if (crypto_pwhash_str(b.hash, password, sizeof password - 1, opslimit,
                          (size_t)memlimit_kib * 1024) != 0) {
        fprintf(stderr, "bench_pwhash: cannot hash at t=%u m=%u KiB (out of memory)\n",
                opslimit, memlimit_kib);
        return 1;
    }
    double hash_ms = (double)(lg_mono_ns() - t0) / 1e6;

    pthread_t tid[LG_POOL_THREADS_MAX];
    int64_t start = lg_mono_ns();
    b.deadline_ns = start + (int64_t)seconds * 1000000000;
    uint32_t started = 0;
    for (; started < threads; started++) {
        if (pthread_create(&tid[started], NULL, verify_loop, &b) != 0) {
            fprintf(stderr, "bench_pwhash: cannot start thread %u\n", started + 1);
            break;
        }
    }
    for (uint32_t i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    double elapsed_s = (double)(lg_mono_ns() - start) / 1e9;
    if (started < threads)
        return 1;

    uint64_t n = atomic_load(&b.verified);
    printf("bench=pwhash_verify threads=%u t=%u m_kib=%u seconds=%.2f hash_ms=%.1f "
           "verified=%llu failed=%llu verify_per_s=%.1f ms_per_verify_per_thread=%.2f\n",
           threads, opslimit, memlimit_kib, elapsed_s, hash_ms, (unsigned long long)n,
           (unsigned long long)atomic_load(&b.failed), (double)n / elapsed_s,
           n > 0 ? elapsed_s * 1000.0 * threads / (double)n : 0.0);
    return atomic_load(&b.failed) == 0 ? 0 : 1;
}
