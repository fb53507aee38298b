/*
 * run.c - `loginguard run`: every role in one process, meeting on the embedded bus and
 * one SQLite file, the zero-setup mode of DESIGN.md.
 *
 * The API serves HTTP and feeds its blocklist from lg.blocks; the detector judges
 * lg.attempts, writes the audit store and publishes blocks, each printed here as one
 * JSON line on stdout. SIGINT/SIGTERM stop it in dependency order: the API drains (no
 * new attempts), then the detector drains what was published and flushes the store,
 * then the bus closes. Exit 0 after a clean stop.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bus/bus.h"
#include "cli/commands.h"
#include "cli/serve.h"
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "roles/api.h"
#include "roles/detector.h"

typedef struct run_opts {
    const char *config, *listen, *port, *db;
} run_opts;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: loginguard run [--config F] [--listen ADDR] [--port P] [--db PATH]\n\n"
        "Every role in one process: the HTTP API, the detector and the audit store, on the\n"
        "embedded bus and a SQLite file. Each block decided is printed on stdout as one\n"
        "JSON line. SIGINT or SIGTERM stops it gracefully: requests in flight are answered,\n"
        "queued password checks run, every accepted attempt reaches the audit store.\n\n"
        "  --config F     configuration file (see `loginguard config`)\n"
        "  --listen ADDR  numeric address to listen on (default 127.0.0.1)\n"
        "  --port P       HTTP port (default 8080)\n"
        "  --db PATH      SQLite audit and user store (default loginguard.db)\n"
        "  -h, --help     this text\n\n"
        "Without auth.jwt_secret (or LG_JWT_SECRET) a random secret is used: tokens then\n"
        "do not survive a restart.\n\n"
        "exit status: 0 stopped cleanly, 1 could not start, 2 usage or configuration error\n");
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, run_opts *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
        {"port", required_argument, NULL, 'p'},   {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof *o);
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case 'l': o->listen = optarg; break;
        case 'p': o->port = optarg; break;
        case 'd': o->db = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "loginguard run: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return -1;
}

/* Flags over the file and the environment, through the config table's checks. */
static int apply_flags(lg_config *cfg, const run_opts *o, char *err, size_t err_len)
{
    if (o->listen != NULL && lg_config_set(cfg, "http.listen", o->listen, err, err_len) != 0)
        return LG_EINVAL;
    if (o->port != NULL && lg_config_set(cfg, "http.port", o->port, err, err_len) != 0)
        return LG_EINVAL;
    if (o->db != NULL && lg_config_set(cfg, "store.url", o->db, err, err_len) != 0)
        return LG_EINVAL;
    return 0;
}

/* Detector thread: one JSON line per block, flushed so a pipe sees it at once. */
static void print_block(void *opaque, const lg_block *b)
{
    char line[LG_EVENT_JSON_MAX + 1];
    int n = lg_block_encode(b, line, sizeof line - 1);

    (void)opaque;
    if (n < 0)
        return;
    line[n] = '\n';
    fwrite(line, 1, (size_t)n + 1, stdout);
    fflush(stdout);
}

int lg_cmd_run(int argc, char **argv)
{
    run_opts o;
    lg_config cfg;
    char err[512];
    lg_bus *bus = NULL;
    lg_detector *det = NULL;
    lg_api *api = NULL;
    int rc = parse_args(argc, argv, &o);
    int sig;

    if (rc >= 0)
        return rc;
    if (lg_config_load(&cfg, o.config, err, sizeof err) != 0 ||
        apply_flags(&cfg, &o, err, sizeof err) != 0) {
        fprintf(stderr, "loginguard run: %s\n", err);
        return 2;
    }
    lg_log_set_level(cfg.log_level);
    if (strcmp(cfg.bus_url, "embedded") != 0)
        lg_log(LG_WARN, "run", "bus.url '%.64s' ignored: run always uses the embedded bus "
               "(start `loginguard api` and `loginguard detector` for Kafka)", cfg.bus_url);
    lg_api_jwt_secret_ensure(&cfg);
    lg_serve_nofile_raise(cfg.http_connections_max);
    lg_serve_signals_block(); /* before any thread starts */

    rc = lg_bus_open("embedded", &cfg.bus, &bus, err, sizeof err);
    if (rc != 0)
        goto fail;
    rc = lg_detector_new(&cfg, bus, &det, err, sizeof err);
    if (rc != 0)
        goto fail;
    lg_detector_on_block(det, print_block, NULL);
    rc = lg_detector_start(det);
    if (rc != 0) {
        snprintf(err, sizeof err, "cannot start the detector: %s", lg_strerror(rc));
        goto fail;
    }
    rc = lg_api_new(&cfg, bus, "api", &api, err, sizeof err);
    if (rc != 0)
        goto fail;
    /* one /metrics for the process: the detector's series (with the engine's full-table
     * counters) follow the API's */
    if (lg_detector_metrics_add(det, lg_detector_metrics(det)) != 0)
        lg_log(LG_WARN, "run", "metrics registry full: the detector's full-table counters "
               "are not in /metrics");
    lg_api_metrics_attach(api, lg_detector_metrics(det));
    lg_log(LG_INFO, "run", "ready: store=%.128s; SIGINT or SIGTERM stops", cfg.store_url);

    sig = lg_serve_signal_wait();
    lg_log(LG_INFO, "run", "%s received: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    lg_api_stop(api);      /* no attempt is published after this */
    lg_detector_stop(det); /* judges and stores everything published */
    lg_api_free(api);
    lg_detector_free(det);
    lg_bus_close(bus);
    lg_log(LG_INFO, "run", "stopped cleanly");
    return 0;

fail:
    fprintf(stderr, "loginguard run: %s\n", err);
    lg_api_free(api);
    lg_detector_free(det);
    lg_bus_close(bus);
    return 1;
}
