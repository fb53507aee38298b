/*
 * api.c - `loginguard api`: the API role as its own process, for deployments where the
 * roles meet on Kafka. Several instances can run behind HAProxy; they share nothing but
 * the bus, the store (users) and the JWT secret.
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

typedef struct api_opts {
    const char *bus, *store, *config, *listen, *port, *name;
} api_opts;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: loginguard api --bus URL --store URL [--config F] [--listen ADDR] [--port P]\n"
        "                      [--name NAME]\n\n"
        "The login API role alone: publishes attempts on the bus, answers blocked users from\n"
        "a local copy of lg.blocks, verifies passwords against the store's users. Pair it\n"
        "with `loginguard detector` on the same Kafka bus.\n\n"
        "  --bus URL      kafka://HOST:PORT[,HOST:PORT...] (default [bus] url); 'embedded'\n"
        "                 works but nothing detects in a process of its own\n"
        "  --store URL    store holding the users (SQLite path or postgres://...)\n"
        "  --config F     configuration file (see `loginguard config`)\n"
        "  --listen ADDR  numeric address to listen on (default 127.0.0.1)\n"
        "  --port P       HTTP port (default 8080)\n"
        "  --name NAME    this instance's name: the \"src\" of its attempts, the start of\n"
        "                 their ids and its Kafka client.id; 1..%d bytes of A-Z a-z 0-9\n"
        "                 . _ - (default [bus] client_id, loginguard)\n"
        "  -h, --help     this text\n\n"
        "Every instance needs the same auth.jwt_secret (or LG_JWT_SECRET) for tokens to\n"
        "verify across instances.\n\n"
        "exit status: 0 stopped cleanly, 1 could not start, 2 usage or configuration error\n",
        LG_SRC_MAX);
}

static int parse_args(int argc, char **argv, api_opts *o)
{
    static const struct option longopts[] = {
        {"bus", required_argument, NULL, 'b'},    {"store", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
        {"port", required_argument, NULL, 'p'},   {"name", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    char why[96];
    int c;

    memset(o, 0, sizeof *o);
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': o->bus = optarg; break;
        case 's': o->store = optarg; break;
        case 'c': o->config = optarg; break;
        case 'l': o->listen = optarg; break;
        case 'p': o->port = optarg; break;
        case 'n': o->name = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "loginguard api: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    /* a name outside printable ASCII made every attempt id of this instance unreadable
     * downstream (the detector refused them all as bad messages) */
    if (o->name != NULL && !lg_src_valid(o->name, strlen(o->name), why, sizeof why)) {
        fprintf(stderr, "loginguard api: invalid --name: %s\n", why);
        return 2;
    }
    return -1;
}

static int apply_flags(lg_config *cfg, const api_opts *o, char *err, size_t err_len)
{
    static const struct {
        const char *key;
        size_t off;
    } flags[] = {
        {"bus.url", offsetof(api_opts, bus)},         {"store.url", offsetof(api_opts, store)},
        {"http.listen", offsetof(api_opts, listen)}, {"http.port", offsetof(api_opts, port)},
    };

    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        const char *v = *(const char *const *)((const char *)o + flags[i].off);
        if (v != NULL && lg_config_set(cfg, flags[i].key, v, err, err_len) != 0)
            return LG_EINVAL;
    }
    return 0;
}

int lg_cmd_api(int argc, char **argv)
{
    api_opts o;
    lg_config cfg;
    char err[512];
    lg_bus *bus = NULL;
    lg_api *api = NULL;
    int rc = parse_args(argc, argv, &o);
    int sig;

    if (rc >= 0)
        return rc;
    if (lg_config_load(&cfg, o.config, err, sizeof err) != 0 ||
        apply_flags(&cfg, &o, err, sizeof err) != 0) {
        fprintf(stderr, "loginguard api: %s\n", err);
        return 2;
    }
    lg_log_set_level(cfg.log_level);
    if (strncmp(cfg.bus_url, "kafka://", 8) != 0)
        lg_log(LG_WARN, "api", "bus '%.64s' is in-process: no detector can read it, so no "
               "user will ever be blocked (use --bus kafka://... or `loginguard run`)",
               cfg.bus_url);
    lg_api_jwt_secret_ensure(&cfg);
    lg_serve_nofile_raise(cfg.http_connections_max);
    lg_serve_signals_block();

    /* one name for the instance: --name, else [bus] client_id (both validated) */
    if (o.name != NULL)
        snprintf(cfg.bus.client_id, sizeof cfg.bus.client_id, "%s", o.name);
    rc = lg_bus_open(cfg.bus_url, &cfg.bus, &bus, err, sizeof err);
    if (rc != 0)
        goto fail;
    rc = lg_api_new(&cfg, bus, cfg.bus.client_id, &api, err, sizeof err);
    if (rc != 0)
        goto fail;

    sig = lg_serve_signal_wait();
    lg_log(LG_INFO, "api", "%s received: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    lg_api_free(api);
    lg_bus_close(bus);
    return 0;

fail:
    fprintf(stderr, "loginguard api: %s\n", err);
    lg_api_free(api);
    lg_bus_close(bus);
    return 1;
}
