/*
 * lg-kafka-mock - a Kafka cluster for tests and demos, without a JVM: librdkafka's mock
 * cluster (N brokers on loopback, random ports) with lg.attempts and lg.blocks created.
 *
 * Prints "BOOTSTRAP <host:port,...>" on stdout (flushed) once the cluster is up, then
 * serves until SIGINT or SIGTERM. Know its limits (research/libs.md §5): a partition keeps
 * at most ~5 MiB or 100,000 message sets and silently drops older data; consumer groups
 * wait 3 s before the first join; it does not answer ListOffsets by timestamp (the bus
 * falls back to reading messages) nor CreateTopics, hence the topics made here.
 *
 *   lg-kafka-mock [--brokers N] [--partitions P] [--blocks-partitions Q]
 */
#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"

/* the mock runs every broker on its own thread; a handful is a cluster, more is waste */
#define MOCK_BROKERS_MAX 16

static void usage(FILE *out)
{
    fprintf(out,
            "usage: lg-kafka-mock [--brokers N] [--partitions P] [--blocks-partitions Q]\n"
            "\n"
            "Starts librdkafka's mock Kafka cluster on 127.0.0.1 with topics %s and %s,\n"
            "prints 'BOOTSTRAP <host:port,...>' and serves until SIGINT or SIGTERM.\n"
            "\n"
            "  --brokers N            brokers (1..%d, default 3); replication is min(3, N)\n"
            "  --partitions P         partitions of %s (1..%d, default 6)\n"
            "  --blocks-partitions Q  partitions of %s (1..%d, default 3)\n"
            "  --help                 this text\n"
            "\n"
            "A mock partition keeps ~5 MiB or 100,000 message sets and drops older data.\n",
            LG_TOPIC_ATTEMPTS, LG_TOPIC_BLOCKS, MOCK_BROKERS_MAX, LG_TOPIC_ATTEMPTS,
            LG_BUS_PARTITIONS_MAX, LG_TOPIC_BLOCKS, LG_BUS_PARTITIONS_MAX);
}

static int parse_int(const char *name, const char *s, int min, int max, int *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "lg-kafka-mock: invalid %s '%s': must be %d..%d\n", name, s, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"partitions", required_argument, NULL, 'p'},
        {"blocks-partitions", required_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int brokers = 3, partitions = 6, blocks_partitions = 3, replication, opt, sig = 0;
    char errstr[512];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    rd_kafka_resp_err_t e;
    sigset_t set;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            if (parse_int("--brokers", optarg, 1, MOCK_BROKERS_MAX, &brokers) < 0)
                return 2;
            break;
        case 'p':
            if (parse_int("--partitions", optarg, 1, LG_BUS_PARTITIONS_MAX, &partitions) < 0)
                return 2;
            break;
        case 'q':
            if (parse_int("--blocks-partitions", optarg, 1, LG_BUS_PARTITIONS_MAX,
                          &blocks_partitions) < 0)
                return 2;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lg-kafka-mock: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    replication = brokers < 3 ? brokers : 3;

    /* signals are taken by sigwait below; block them before any librdkafka thread exists
     * so none of those threads receives them */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    /* the mock cluster lives inside a client handle; this one is never used otherwise */
    conf = rd_kafka_conf_new();
    /* level 4: keep warnings, drop the notice about the handle having no brokers */
    if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
        fprintf(stderr, "lg-kafka-mock: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        fprintf(stderr, "lg-kafka-mock: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (mc == NULL) {
        fprintf(stderr, "lg-kafka-mock: cannot start a mock cluster of %d brokers\n", brokers);
        rd_kafka_destroy(rk);
        return 1;
    }
    e = rd_kafka_mock_topic_create(mc, LG_TOPIC_ATTEMPTS, partitions, replication);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        e = rd_kafka_mock_topic_create(mc, LG_TOPIC_BLOCKS, blocks_partitions, replication);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "lg-kafka-mock: creating topics: %s\n", rd_kafka_err2str(e));
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 1;
    }
    printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    fprintf(stderr,
            "lg-kafka-mock: brokers=%d %s partitions=%d %s partitions=%d replication=%d\n",
            brokers, LG_TOPIC_ATTEMPTS, partitions, LG_TOPIC_BLOCKS, blocks_partitions,
            replication);

    /* the process's whole job is to serve until told to stop */
    while (sig != SIGINT && sig != SIGTERM) {
        if (sigwait(&set, &sig) != 0)
            break;
    }
    fprintf(stderr, "lg-kafka-mock: signal %d, stopping\n", sig);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
