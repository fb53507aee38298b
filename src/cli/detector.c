/*
 * detector.c - `loginguard detector`: the detector role as its own process on Kafka.
 * Several run in one consumer group ([detector] group); each owns some partitions of
 * lg.attempts and rebuilds their windows when it gains them, so killing one (even with
 * kill -9) moves its partitions to the others within about session_timeout_ms.
 * SIGINT or SIGTERM: drain what was published, commit, leave the group, exit 0.
 * Blocks decided are logged at info (detector: ... block rule=...).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bus/bus.h"
#include "cli/commands.h"
#include "cli/serve.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "roles/detector.h"

/* how often the main thread checks that the detector has not given up */
#define DETECTOR_CLI_CHECK_MS 500

typedef struct detector_opts {
    const char *bus, *store, *config, *group;
} detector_opts;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: loginguard detector --bus URL --store URL [--config F] [--group G]\n\n"
        "The detector role alone: judges lg.attempts with exact sliding windows, publishes\n"
        "blocks on lg.blocks and records every attempt in the audit store. Run several with\n"
        "the same group: partitions are shared, and a dead one's move to the others.\n\n"
        "  --bus URL      kafka://HOST:PORT[,HOST:PORT...] (default [bus] url)\n"
        "  --store URL    audit store (SQLite path or postgres://...; default [store] url)\n"
        "  --config F     configuration file (see `loginguard config`)\n"
        "  --group G      Kafka consumer group (default [detector] group, lg-detector)\n"
        "  -h, --help     this text\n\n"
        "SIGINT or SIGTERM drains, commits and exits 0.\n"
        "exit status: 0 stopped cleanly, 1 could not start or gave up, 2 usage or\n"
        "configuration error\n");
}

static int parse_args(int argc, char **argv, detector_opts *o)
{
    static const struct option longopts[] = {
        {"bus", required_argument, NULL, 'b'},    {"store", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'}, {"group", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof *o);
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': o->bus = optarg; break;
        case 's': o->store = optarg; break;
        case 'c': o->config = optarg; break;
        case 'g': o->group = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "loginguard detector: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return -1;
}

static int apply_flags(lg_config *cfg, const detector_opts *o, char *err, size_t err_len)
{
    static const struct {
        const char *key;
        size_t off;
    } flags[] = {
        {"bus.url", offsetof(detector_opts, bus)},
        {"store.url", offsetof(detector_opts, store)},
        {"detector.group", offsetof(detector_opts, group)},
    };

    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        const char *v = *(const char *const *)((const char *)o + flags[i].off);
        if (v != NULL && lg_config_set(cfg, flags[i].key, v, err, err_len) != 0)
            return LG_EINVAL;
    }
    return 0;
}

/* Waits for SIGINT/SIGTERM (blocked in every thread) or for the detector to give up.
 * Returns the signal, or 0 when the detector failed. */
static int wait_signal_or_failure(lg_detector *det)
{
    sigset_t set;
    struct timespec tick = {0, DETECTOR_CLI_CHECK_MS * 1000000L};

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* the process's whole job: wait until told to stop or until the role cannot go on */
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM)
            return sig;
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            return SIGTERM;
        if (lg_detector_failed(det))
            return 0;
    }
}

int lg_cmd_detector(int argc, char **argv)
{
    detector_opts o;
    lg_config cfg;
    char err[512];
    lg_bus *bus = NULL;
    lg_detector *det = NULL;
    int rc = parse_args(argc, argv, &o);
    int sig;

    if (rc >= 0)
        return rc;
    if (lg_config_load(&cfg, o.config, err, sizeof err) != 0 ||
        apply_flags(&cfg, &o, err, sizeof err) != 0) {
        fprintf(stderr, "loginguard detector: %s\n", err);
        return 2;
    }
    lg_log_set_level(cfg.log_level);
    if (strncmp(cfg.bus_url, "kafka://", 8) != 0)
        lg_log(LG_WARN, "detector", "bus '%.64s' is in-process: no api can publish to it "
               "(use --bus kafka://... or `loginguard run`)", cfg.bus_url);
    lg_serve_signals_block(); /* before librdkafka starts its threads */

    rc = lg_bus_open(cfg.bus_url, &cfg.bus, &bus, err, sizeof err);
    if (rc != 0)
        goto fail;
    rc = lg_detector_new(&cfg, bus, &det, err, sizeof err);
    if (rc != 0)
        goto fail;
    rc = lg_detector_start(det);
    if (rc != 0) {
        snprintf(err, sizeof err, "cannot start the detector: %s", lg_strerror(rc));
        goto fail;
    }
    lg_log(LG_INFO, "detector", "ready: bus=%.256s store=%.256s group=%s; SIGINT or SIGTERM "
           "stops", cfg.bus_url, cfg.store_url, cfg.detector_group);

    sig = wait_signal_or_failure(det);
    if (sig != 0)
        lg_log(LG_INFO, "detector", "%s received: draining", sig == SIGINT ? "SIGINT" : "SIGTERM");
    lg_detector_stop(det);
    rc = lg_detector_failed(det) ? 1 : 0;
    lg_detector_free(det);
    lg_bus_close(bus);
    if (rc != 0)
        fprintf(stderr, "loginguard detector: gave up (see the log above)\n");
    return rc;

fail:
    fprintf(stderr, "loginguard detector: %s\n", err);
    lg_detector_free(det);
    lg_bus_close(bus);
    return 1;
}
