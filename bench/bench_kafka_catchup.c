/*
 * bench_kafka_catchup.c - how fast a detector catches up on a backlog of lg.attempts:
 * N attempts pre-loaded into librdkafka's mock cluster (3 brokers, in this process), then
 * one detector (SQLite store in a temporary directory) judges, stores and commits them.
 *
 *   bench_kafka_catchup [--n N] [--partitions P] [--users U] [--batch B] [--db PATH] [--keep]
 *
 * The mock keeps ~5 MiB per partition and silently drops older data, so P defaults to
 * 64 (1M attempts of ~150 bytes are ~2.3 MiB per partition) and the load is verified:
 * every partition must still start at offset 0 and the high watermarks must sum to N.
 * Prints the load rate, the group join delay (the mock holds joins 3 s), and the
 * catch-up rate from the first judged attempt until every partition's committed offset
 * equals its high watermark. Everything shares the machine's cores with the brokers.
 * Then it checks the decisions: the stored attempts, read back in (ts, id) order, go
 * through an engine with its default clock (what `loginguard replay` does); its blocks
 * and outcomes must equal the detector's (exit 1 otherwise).
 */
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/engine.h"
#include "core/err.h"
#include "core/event.h"
#include "roles/detector.h"
#include "store/store.h"

#define BENCH_GROUP "bench-detector"
/* the catch-up must end within this, or the figure is reported as not reached */
#define BENCH_TIMEOUT_S 600

typedef struct bench_opts {
    long n, users;
    int partitions;
    long batch;
    const char *db;
    bool keep;
} bench_opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_kafka_catchup [--n N] [--partitions P] [--users U] [--batch B]\n"
               "                           [--db PATH] [--keep]\n"
               "  pre-loads N attempts (default 1000000) on P partitions (default 64) of a\n"
               "  mock Kafka cluster, then times one detector catching up (attempts/s);\n"
               "  B is [detector] batch_max (default 1024, at most %d)\n", LG_STORE_BATCH_MAX);
}

static int parse(int argc, char **argv, bench_opts *o)
{
    static const struct option longopts[] = {
        {"n", required_argument, NULL, 'n'},     {"partitions", required_argument, NULL, 'p'},
        {"users", required_argument, NULL, 'u'}, {"db", required_argument, NULL, 'd'},
        {"batch", required_argument, NULL, 'b'},
        {"keep", no_argument, NULL, 'k'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    char *end;

    *o = (bench_opts){.n = 1000000, .users = 100000, .partitions = 64, .batch = 1024};
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        long v = 0;
        if (c == 'n' || c == 'p' || c == 'u' || c == 'b') {
            v = strtol(optarg, &end, 10);
            if (*end != '\0' || v <= 0 || (c == 'p' && v > LG_BUS_PARTITIONS_MAX) ||
                (c == 'b' && v > LG_STORE_BATCH_MAX)) {
                fprintf(stderr, "bench_kafka_catchup: invalid value '%s'\n", optarg);
                return 2;
            }
        }
        switch (c) {
        case 'n': o->n = v; break;
        case 'p': o->partitions = (int)v; break;
        case 'u': o->users = v; break;
        case 'b': o->batch = v; break;
        case 'd': o->db = optarg; break;
        case 'k': o->keep = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    return -1;
}

static double secs(int64_t ns)
{
    return (double)ns / 1e9;
}

/* Publishes n attempts (70% failures, users drawn from o->users, ts increasing). */
static int preload(lg_bus *bus, const bench_opts *o, int64_t ts0)
{
    uint64_t x = 88172645463325252ULL; /* xorshift: the same load every run */
    char json[LG_EVENT_JSON_MAX];
    lg_attempt a;

    memset(&a, 0, sizeof a);
    snprintf(a.ip, sizeof a.ip, "203.0.113.7");
    snprintf(a.src, sizeof a.src, "bench");
    for (long i = 0; i < o->n; i++) {
        int n, rc;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        snprintf(a.id, sizeof a.id, "bench-%ld", i);
        a.user_len = (uint32_t)snprintf(a.user, sizeof a.user, "user%06ld",
                                        (long)(x % (uint64_t)o->users));
        a.ts_ms = ts0 + i / 10;
        a.ok = (x >> 32) % 10 >= 7;
        a.outcome = a.ok ? LG_OUTCOME_OK : LG_OUTCOME_FAIL;
        n = lg_attempt_encode(&a, json, sizeof json);
        if (n < 0)
            return n;
        rc = lg_bus_publish(bus, LG_TOPIC_ATTEMPTS, a.user, a.user_len, json, (size_t)n,
                            10000, NULL, NULL);
        if (rc != 0)
            return rc;
    }
    return lg_bus_flush(bus, 60000);
}

/* Sum of high watermarks; fails when a partition lost its first messages. */
static int watermarks(rd_kafka_t *rk, int partitions, int64_t *hi_sum, int64_t *his)
{
    *hi_sum = 0;
    for (int p = 0; p < partitions; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, LG_TOPIC_ATTEMPTS, p, &lo,
                                                                 &hi, 10000);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR || lo != 0) {
            fprintf(stderr, "partition %d: %s, low watermark %lld (the mock dropped data?)\n",
                    p, rd_kafka_err2str(e), (long long)lo);
            return -1;
        }
        his[p] = hi;
        *hi_sum += hi;
    }
    return 0;
}

/* True once the group's committed offset equals the high watermark everywhere. */
static bool all_committed(rd_kafka_t *rk, int partitions, const int64_t *his)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    bool done = true;
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(l, LG_TOPIC_ATTEMPTS, p);
    if (rd_kafka_committed(rk, l, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        done = false;
    for (int p = 0; done && p < partitions; p++)
        done = l->elems[p].offset == his[p];
    rd_kafka_topic_partition_list_destroy(l);
    return done;
}

/* The reference: stored attempts in (ts, id) order judged by a default-clock engine. */
typedef struct reference {
    lg_engine *e;
    uint64_t attempts, blocks, outcome_diff;
} reference;

static void reference_judge(void *opaque, const lg_attempt *stored)
{
    reference *r = opaque;
    lg_attempt a = *stored;
    lg_block blocks[LG_RULES_MAX];
    size_t nb = 0;

    if (lg_engine_judge(r->e, &a, blocks, LG_RULES_MAX, &nb) != 0)
        return;
    r->attempts++;
    r->blocks += nb;
    r->outcome_diff += a.outcome != stored->outcome;
}

static int reference_run(const lg_config *cfg, const char *db, reference *r,
                         lg_store_counts *counts)
{
    char err[256];
    lg_store *store = NULL;
    int rc;

    memset(r, 0, sizeof *r);
    rc = lg_engine_new(&cfg->engine, &r->e, err, sizeof err);
    if (rc == 0)
        rc = lg_store_open(db, &store, err, sizeof err);
    if (rc == 0)
        rc = lg_store_attempts_each(store, reference_judge, r);
    if (rc == 0)
        rc = lg_store_counts_get(store, counts);
    if (rc != 0)
        fprintf(stderr, "bench_kafka_catchup: reference: %s\n", lg_strerror(rc));
    lg_store_close(store);
    lg_engine_free(r->e);
    return rc;
}

int main(int argc, char **argv)
{
    bench_opts o;
    char errstr[512], url[600], dir[256], db[300];
    rd_kafka_conf_t *kconf;
    rd_kafka_t *mock_rk, *admin;
    rd_kafka_mock_cluster_t *mc;
    lg_config *cfg;
    lg_bus *bus = NULL;
    lg_detector *det = NULL;
    lg_detector_stats st;
    int64_t t0, t_loaded, t_first = 0, t_done = 0, hi_sum = 0, his[LG_BUS_PARTITIONS_MAX];
    int rc = parse(argc, argv, &o);

    if (rc >= 0)
        return rc;
    lg_log_set_level(LG_WARN);
    kconf = rd_kafka_conf_new();
    rd_kafka_conf_set(kconf, "log_level", "3", errstr, sizeof errstr);
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr, sizeof errstr);
    if (mock_rk == NULL || (mc = rd_kafka_mock_cluster_new(mock_rk, 3)) == NULL) {
        fprintf(stderr, "bench_kafka_catchup: no mock cluster: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_topic_create(mc, LG_TOPIC_ATTEMPTS, o.partitions, 3);
    rd_kafka_mock_topic_create(mc, LG_TOPIC_BLOCKS, 3, 3);
    snprintf(url, sizeof url, "kafka://%s", rd_kafka_mock_cluster_bootstraps(mc));

    cfg = malloc(sizeof *cfg);
    lg_config_default(cfg);
    cfg->bus.producer_queue_max = 1000000;
    cfg->detector_batch_max = (uint32_t)o.batch;
    snprintf(cfg->detector_group, sizeof cfg->detector_group, "%s", BENCH_GROUP);
    if (o.db != NULL) {
        snprintf(db, sizeof db, "%s", o.db);
        dir[0] = '\0';
    } else {
        const char *base = getenv("LG_TMPDIR");
        snprintf(dir, sizeof dir, "%s/lg-bench-XXXXXX", base != NULL ? base : "/tmp");
        if (mkdtemp(dir) == NULL) {
            perror("mkdtemp");
            return 1;
        }
        snprintf(db, sizeof db, "%s/audit.db", dir);
    }
    snprintf(cfg->store_url, sizeof cfg->store_url, "%s", db);
    if (lg_bus_open(url, &cfg->bus, &bus, errstr, sizeof errstr) != 0) {
        fprintf(stderr, "bench_kafka_catchup: %s\n", errstr);
        return 1;
    }

    t0 = lg_mono_ns();
    rc = preload(bus, &o, lg_now_ms() - 3600 * 1000);
    t_loaded = lg_mono_ns();
    kconf = rd_kafka_conf_new();
    rd_kafka_conf_set(kconf, "bootstrap.servers", url + 8, errstr, sizeof errstr);
    rd_kafka_conf_set(kconf, "group.id", BENCH_GROUP, errstr, sizeof errstr);
    rd_kafka_conf_set(kconf, "log_level", "3", errstr, sizeof errstr);
    admin = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, errstr, sizeof errstr);
    if (rc != 0 || admin == NULL || watermarks(admin, o.partitions, &hi_sum, his) != 0 ||
        hi_sum != o.n) {
        fprintf(stderr, "bench_kafka_catchup: pre-load failed (%s), %lld of %ld retained\n",
                lg_strerror(rc), (long long)hi_sum, o.n);
        return 1;
    }
    printf("preload: %ld attempts on %d partitions in %.2f s (%.0f/s), all retained\n", o.n,
           o.partitions, secs(t_loaded - t0), (double)o.n / secs(t_loaded - t0));

    t0 = lg_mono_ns();
    if (lg_detector_new(cfg, bus, &det, errstr, sizeof errstr) != 0 ||
        lg_detector_start(det) != 0) {
        fprintf(stderr, "bench_kafka_catchup: detector: %s\n", errstr);
        return 1;
    }
    /* bounded by BENCH_TIMEOUT_S */
    while (lg_mono_ns() - t0 < (int64_t)BENCH_TIMEOUT_S * 1000000000LL) {
        lg_detector_stats_get(det, &st);
        if (t_first == 0 && st.attempts > 0)
            t_first = lg_mono_ns();
        if (st.attempts >= (uint64_t)o.n && all_committed(admin, o.partitions, his)) {
            t_done = lg_mono_ns();
            break;
        }
        usleep(t_first == 0 ? 10000 : 50000);
    }
    lg_detector_stop(det);
    lg_detector_stats_get(det, &st);
    if (t_done == 0) {
        printf("catch-up: not done within %d s (%llu judged)\n", BENCH_TIMEOUT_S,
               (unsigned long long)st.attempts);
        rc = 1;
    } else {
        printf("catch-up: group join %.2f s, then %llu attempts judged, stored and committed "
               "in %.2f s: %.0f attempts/s (batch_max=%ld blocks=%llu ok=%llu fail=%llu "
               "blocked=%llu batches=%llu)\n",
               secs(t_first - t0), (unsigned long long)st.attempts, secs(t_done - t_first),
               (double)st.attempts / secs(t_done - t_first), o.batch, (unsigned long long)st.blocks,
               (unsigned long long)st.ok, (unsigned long long)st.fail,
               (unsigned long long)st.blocked, (unsigned long long)st.store_batches);
    }
    lg_detector_free(det);
    if (t_done != 0) {
        reference ref;
        lg_store_counts counts;
        int64_t t_ref = lg_mono_ns();

        if (reference_run(cfg, db, &ref, &counts) != 0) {
            rc = 1;
        } else {
            bool same = ref.blocks == st.blocks && ref.blocks == counts.blocks &&
                        ref.outcome_diff == 0 && ref.attempts == (uint64_t)o.n;
            printf("decisions: detector %llu blocks (%llu stored), engine in ts order %llu "
                   "blocks on the %llu stored attempts, %llu outcomes differ (%.2f s): %s\n",
                   (unsigned long long)st.blocks, (unsigned long long)counts.blocks,
                   (unsigned long long)ref.blocks, (unsigned long long)ref.attempts,
                   (unsigned long long)ref.outcome_diff, secs(lg_mono_ns() - t_ref),
                   same ? "equal" : "DIFFERENT");
            if (!same)
                rc = 1;
        }
    }
    rd_kafka_consumer_close(admin);
    rd_kafka_destroy(admin);
    lg_bus_close(bus);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(mock_rk);
    free(cfg);
    if (!o.keep && dir[0] != '\0') {
        char path[400];
        const char *suffixes[] = {"", "-wal", "-shm"};
        for (size_t i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s%s", db, suffixes[i]);
            unlink(path);
        }
        rmdir(dir);
    }
    return rc;
}
