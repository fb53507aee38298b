/*
 * audit.c - `loginguard audit`: reads the audit store.
 *
 *   --user NAME   the user's attempts (time, ip, outcome, src, id) and blocks (since,
 *                 until or permanent, level, rule, reason), oldest first; a table for
 *                 people, or JSON lines with --json (the event formats of DESIGN.md);
 *   --all         every attempt as JSON lines ordered by ts: input for `replay`, which
 *                 is how tests compare a cluster's blocks with a single replay;
 *   --actions     the operator actions (unblock, key_add, key_delete) with their actor,
 *                 oldest first; a table, or JSON lines with --json.
 *
 * The store is only read: a missing SQLite file is an error, never created empty.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/commands.h"
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "core/limits.h"
#include "store/store.h"

typedef struct audit_opts {
    const char *user;
    const char *config;
    const char *db;
    size_t limit; /* 0 = LG_AUDIT_ROWS_MAX */
    bool all, actions, json;
} audit_opts;

typedef struct audit_out {
    bool json;
    int section;  /* 0 none yet, 1 attempts, 2 blocks: a header when it changes */
    uint64_t attempts, blocks, actions;
    int status;   /* LG_ETOOBIG when an event could not be encoded */
} audit_out;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: loginguard audit --user NAME [--db PATH] [--limit N] [--json] [--config F]\n"
        "       loginguard audit --all [--db PATH] [--config F]\n"
        "       loginguard audit --actions [--db PATH] [--limit N] [--json] [--config F]\n\n"
        "Reads the audit store. --user lists the user's attempts (time in UTC, ip, outcome,\n"
        "src, id) and blocks (since, until or permanent, level, rule, reason), oldest\n"
        "first; --json writes them as JSON lines (attempt and block events). --all writes\n"
        "every attempt as JSON lines ordered by ts, ready for `loginguard replay`.\n"
        "--actions lists the operator actions (unblock, key_add, key_delete: time, actor,\n"
        "action, target, detail), oldest first; --json writes JSON lines\n"
        "{\"ts\",\"actor\",\"action\",\"target\",\"detail\"}.\n\n"
        "  --user NAME   the user to show\n"
        "  --all         every attempt, as JSON lines\n"
        "  --actions     the operator actions\n"
        "  --db PATH     the store (default: [store] url of the configuration,\n"
        "                loginguard.db); it must exist\n"
        "  --limit N     at most N attempts or actions (1..%d, default %d)\n"
        "  --json        JSON lines instead of a table\n"
        "  --config F    configuration file\n"
        "  -h, --help    this text\n\n"
        "exit status: 0 done, 1 store error, 2 usage error or no such store\n",
        LG_AUDIT_ROWS_MAX, LG_AUDIT_ROWS_MAX);
}

static int parse_args(int argc, char **argv, audit_opts *o)
{
    static const struct option longopts[] = {
        {"user", required_argument, NULL, 'u'}, {"all", no_argument, NULL, 'a'},
        {"actions", no_argument, NULL, 'A'},
        {"db", required_argument, NULL, 'd'},   {"limit", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},       {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    char why[128];
    char *end;
    long long n;
    int c;

    memset(o, 0, sizeof *o);
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'u': o->user = optarg; break;
        case 'a': o->all = true; break;
        case 'A': o->actions = true; break;
        case 'd': o->db = optarg; break;
        case 'j': o->json = true; break;
        case 'c': o->config = optarg; break;
        case 'l':
            errno = 0;
            n = strtoll(optarg, &end, 10);
            if (end == optarg || *end != '\0' || errno != 0 || n < 1 || n > LG_AUDIT_ROWS_MAX) {
                fprintf(stderr, "loginguard audit: invalid --limit '%s': must be 1..%d\n",
                        optarg, LG_AUDIT_ROWS_MAX);
                return 2;
            }
            o->limit = (size_t)n;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "loginguard audit: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if ((o->user != NULL) + o->all + o->actions != 1) {
        fprintf(stderr, "loginguard audit: give exactly one of --user NAME, --all or "
                        "--actions\n");
        usage(stderr);
        return 2;
    }
    if (o->user != NULL && !lg_user_valid(o->user, strlen(o->user), why, sizeof why)) {
        fprintf(stderr, "loginguard audit: invalid --user: %s\n", why);
        return 2;
    }
    return -1;
}

/* 2023-11-14T22:13:20.123Z */
static void iso_time(int64_t ms, char *buf, size_t len)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int msec = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;

    if (gmtime_r(&secs, &tm) == NULL) {
        snprintf(buf, len, "%lld", (long long)ms);
        return;
    }
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", msec);
}

static void json_line(audit_out *o, int n, const char *buf)
{
    if (n < 0) {
        o->status = LG_ETOOBIG;
        return;
    }
    fwrite(buf, 1, (size_t)n, stdout);
    fputc('\n', stdout);
}

static void on_attempt(void *opaque, const lg_attempt *a)
{
    audit_out *o = opaque;
    char buf[LG_EVENT_JSON_MAX + 1];
    char when[48];

    o->attempts++;
    if (o->json) {
        json_line(o, lg_attempt_encode(a, buf, sizeof buf), buf);
        return;
    }
    if (o->section != 1) {
        printf("%sattempts of '%s':\n  %-24s  %-39s  %-7s  %-12s  %s\n",
               o->section ? "\n" : "", a->user, "time (UTC)", "ip", "outcome", "src", "id");
        o->section = 1;
    }
    iso_time(a->ts_ms, when, sizeof when);
    printf("  %-24s  %-39s  %-7s  %-12s  %s\n", when, a->ip[0] ? a->ip : "-",
           lg_outcome_name(a->outcome), a->src[0] ? a->src : "-", a->id);
}

static void on_block(void *opaque, const lg_block *b)
{
    audit_out *o = opaque;
    char buf[LG_EVENT_JSON_MAX + 1];
    char since[48], until[48];

    o->blocks++;
    if (o->json) {
        json_line(o, lg_block_encode(b, buf, sizeof buf), buf);
        return;
    }
    if (o->section != 2) {
        printf("%sblocks of '%s':\n  %-24s  %-24s  %-5s  %-8s  %s\n", o->section ? "\n" : "",
               b->user, "since (UTC)", "until (UTC)", "level", "rule", "reason");
        o->section = 2;
    }
    iso_time(b->since_ms, since, sizeof since);
    if (b->until_ms == 0)
        snprintf(until, sizeof until, "permanent");
    else
        iso_time(b->until_ms, until, sizeof until);
    printf("  %-24s  %-24s  %-5u  %-8s  %s%s%s\n", since, until, b->level, b->rule, b->reason,
           b->ip[0] ? "  ip=" : "", b->ip);
}

static void on_action(void *opaque, const lg_action_rec *a)
{
    audit_out *o = opaque;
    char when[48];

    o->actions++;
    if (o->json) {
        json_t *doc = json_pack("{s:I,s:s,s:s,s:s,s:s}", "ts", (json_int_t)a->ts_ms, "actor",
                                a->actor, "action", a->action, "target", a->target, "detail",
                                a->detail);
        char *line = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_line(o, line != NULL ? (int)strlen(line) : -1, line);
        free(line);
        json_decref(doc);
        return;
    }
    if (o->section != 3) {
        printf("operator actions:\n  %-24s  %-24s  %-10s  %-24s  %s\n", "time (UTC)", "actor",
               "action", "target", "detail");
        o->section = 3;
    }
    iso_time(a->ts_ms, when, sizeof when);
    printf("  %-24s  %-24s  %-10s  %-24s  %s\n", when, a->actor, a->action, a->target,
           a->detail);
}

/* The store url to read: --db, else the configuration's. Returns 0 or the exit status. */
static int store_url(const audit_opts *o, char *url, size_t len)
{
    lg_config *cfg;
    char err[512];
    const char *path;
    struct stat st;

    if (o->db != NULL) {
        snprintf(url, len, "%s", o->db);
    } else {
        cfg = malloc(sizeof *cfg);
        if (cfg == NULL)
            return 1;
        if (lg_config_load(cfg, o->config, err, sizeof err) != 0) {
            fprintf(stderr, "loginguard audit: %s\n", err);
            free(cfg);
            return 2;
        }
        snprintf(url, len, "%s", cfg->store_url);
        free(cfg);
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return 0;
    path = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
    /* opening would create an empty database: check first */
    if (stat(path, &st) != 0) {
        fprintf(stderr, "loginguard audit: no audit store at '%s': %s (use --db PATH)\n", path,
                strerror(errno));
        return 2;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "loginguard audit: '%s' is not a file\n", path);
        return 2;
    }
    return 0;
}

int lg_cmd_audit(int argc, char **argv)
{
    audit_opts opts;
    audit_out out = {0};
    lg_store *store = NULL;
    char url[LG_URL_MAX + 1];
    char err[512];
    int status;
    int rc;

    status = parse_args(argc, argv, &opts);
    if (status >= 0)
        return status;
    status = store_url(&opts, url, sizeof url);
    if (status != 0)
        return status;
    if (lg_store_open(url, &store, err, sizeof err) != 0) {
        fprintf(stderr, "loginguard audit: %s\n", err);
        return 1;
    }
    out.json = opts.json || opts.all;
    if (opts.all)
        rc = lg_store_attempts_each(store, on_attempt, &out);
    else if (opts.actions)
        rc = lg_store_actions_each(store, opts.limit, on_action, &out);
    else
        rc = lg_store_audit(store, opts.user, opts.limit, on_attempt, on_block, &out);
    lg_store_close(store);
    if (rc == 0 && out.status != 0)
        rc = out.status;
    if (rc != 0) {
        fprintf(stderr, "loginguard audit: reading '%s': %s\n", url, lg_strerror(rc));
        return 1;
    }
    if (!out.json && opts.actions && out.actions == 0)
        printf("no operator actions recorded\n");
    else if (!out.json && !opts.actions && out.attempts == 0 && out.blocks == 0)
        printf("no attempts or blocks recorded for '%s'\n", opts.user);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "loginguard audit: writing stdout: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
