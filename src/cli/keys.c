/*
 * keys.c - `loginguard keys add|list|delete`: the reporter keys that may call
 * POST /v1/attempts.
 *
 * `add` prints the new key once, alone on stdout (KEY=$(loginguard keys add web-1)), and
 * stores only its hash; notes go to stderr. Every API instance reading the same store
 * accepts the key, or stops accepting a deleted one, within LG_REPORTER_REFRESH_MS or
 * so. add and delete are operator actions: recorded in the store, in the same
 * transaction, with the actor "cli:<login name>". --db/--store default to the
 * configuration's [store] url (defaults, then --config FILE, then LG_STORE_URL).
 */
#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "auth/reporters.h"
#include "cli/cli_store.h"
#include "cli/commands.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "core/limits.h"
#include "store/store.h"


static void usage(FILE *out)
{
    fprintf(out,
        "usage: loginguard keys add NAME [--db PATH | --store URL] [--config F]\n"
        "       loginguard keys list [--json] [--db PATH | --store URL] [--config F]\n"
        "       loginguard keys delete NAME [--db PATH | --store URL] [--config F]\n"
        "\n"
        "Manages reporter keys: the credentials of the services that report attempts\n"
        "judged elsewhere (POST /v1/attempts with \"Authorization: Bearer KEY\"). The store\n"
        "keeps only a hash of each key. Every API reading the store picks up a change\n"
        "within about %d ms. add and delete are recorded as operator actions (actor\n"
        "cli:<your login name>; see `loginguard audit --actions`).\n"
        "\n"
        "  add NAME       make a key named NAME and print it once on stdout, alone on its\n"
        "                 line: KEY=$(loginguard keys add web-1); it cannot be shown again\n"
        "  list           every key: name, created, last used (UTC); --json: JSON lines\n"
        "                 {\"name\",\"created\",\"last_used\"} in ms (last_used null if never)\n"
        "  delete NAME    delete the key: it stops working on every API\n"
        "\n"
        "  NAME           1..%d bytes of ASCII letters, digits, '.', '_' and '-'\n"
        "  --db PATH      store: a SQLite path (default: [store] url of the configuration)\n"
        "  --store URL    the same, as a URL (sqlite:PATH)\n"
        "  --config F     configuration file (INI)\n"
        "  --json         (list) JSON lines instead of a table\n"
        "  --help         this text\n"
        "\n"
        "exit status: 0 done, 1 failed (name taken, no such key, store error), 2 usage or\n"
        "configuration error\n",
        LG_REPORTER_REFRESH_MS, LG_REPORTER_NAME_MAX);
}

typedef struct keys_opts {
    const char *action;
    const char *name;
    const char *db;
    const char *config;
    bool json;
} keys_opts;

enum { OPT_DB = 256, OPT_CONFIG, OPT_JSON, OPT_HELP };

static const struct option long_opts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"store", required_argument, NULL, OPT_DB},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static bool is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

/* Parses `keys ACTION [NAME] [options]`. Returns 0, 1 after --help, or 2 (usage error,
 * message printed). */
static int parse_args(int argc, char **argv, keys_opts *o)
{
    if (argc < 2) {
        fprintf(stderr, "loginguard keys: missing action (add, list or delete; "
                        "loginguard keys --help)\n");
        return 2;
    }
    if (is_help(argv[1])) {
        usage(stdout);
        return 1;
    }
    o->action = argv[1];
    bool wants_name = strcmp(o->action, "add") == 0 || strcmp(o->action, "delete") == 0;
    if (!wants_name && strcmp(o->action, "list") != 0) {
        fprintf(stderr, "loginguard keys: unknown action '%.64s' (add, list or delete)\n",
                o->action);
        return 2;
    }

    /* getopt sees the action as its argv[0]; GNU getopt lets NAME sit among the flags */
    argc--;
    argv++;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: o->db = optarg; break;
        case OPT_CONFIG: o->config = optarg; break;
        case OPT_JSON: o->json = true; break;
        case OPT_HELP: usage(stdout); return 1;
        default:
            fprintf(stderr, "loginguard keys %s: unknown or incomplete option '%.64s'\n",
                    o->action, argv[optind - 1]);
            return 2;
        }
    }
    if (o->json && strcmp(o->action, "list") != 0) {
        fprintf(stderr, "loginguard keys %s: --json applies to list only\n", o->action);
        return 2;
    }
    int positional = argc - optind;
    if (wants_name && positional != 1) {
        fprintf(stderr, "loginguard keys %s: expected one NAME, got %d arguments\n", o->action,
                positional);
        return 2;
    }
    if (!wants_name && positional != 0) {
        fprintf(stderr, "loginguard keys list: unexpected argument '%.64s'\n", argv[optind]);
        return 2;
    }
    if (wants_name) {
        char why[128];
        o->name = argv[optind];
        if (!lg_reporters_name_valid(o->name, strlen(o->name), why, sizeof why)) {
            fprintf(stderr, "loginguard keys %s: invalid key name: %s\n", o->action, why);
            return 2;
        }
    }
    return 0;
}

/* The action record of this command: now, by "cli:<login name>". */
static void action_make(const char *what, const char *target, const char *detail,
                        lg_action_rec *act)
{
    const struct passwd *pw = getpwuid(geteuid());

    memset(act, 0, sizeof *act);
    act->ts_ms = lg_now_ms();
    if (pw != NULL && pw->pw_name != NULL && pw->pw_name[0] != '\0')
        snprintf(act->actor, sizeof act->actor, "cli:%.*s", LG_ACTOR_MAX - 4, pw->pw_name);
    else
        snprintf(act->actor, sizeof act->actor, "cli:uid=%ld", (long)geteuid());
    snprintf(act->action, sizeof act->action, "%s", what);
    snprintf(act->target, sizeof act->target, "%s", target);
    snprintf(act->detail, sizeof act->detail, "%s", detail);
}

static void count_key(void *opaque, const lg_reporter_key_rec *k)
{
    (void)k;
    (*(size_t *)opaque)++;
}

static int cmd_add(const keys_opts *o, lg_store *s)
{
    char key[LG_REPORTER_KEY_LEN + 1];
    lg_reporter_key_rec k;
    lg_action_rec act;
    size_t n = 0;
    int rc;

    rc = lg_store_keys_each(s, count_key, &n);
    if (rc == 0 && n >= LG_REPORTER_KEYS_MAX) {
        fprintf(stderr, "loginguard keys add: the store holds %zu keys already (at most %d); "
                        "delete unused ones first\n", n, LG_REPORTER_KEYS_MAX);
        return 1;
    }
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "%s", o->name);
    k.created_ms = lg_now_ms();
    if (rc == 0)
        rc = lg_reporters_key_new(key, sizeof key, k.hash);
    if (rc == 0) {
        action_make("key_add", o->name, "", &act);
        rc = lg_store_key_put(s, &k, &act);
    }
    if (rc == LG_EEXIST) {
        fprintf(stderr, "loginguard keys add: a key named '%s' exists already (delete it "
                        "first to replace it)\n", o->name);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "loginguard keys add: cannot add key '%s': %s\n", o->name,
                lg_strerror(rc));
        return 1;
    }
    /* stdout carries the key alone: a script captures it with $(...) */
    printf("%s\n", key);
    sodium_memzero(key, sizeof key);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "loginguard keys add: writing the key to stdout failed; delete key "
                        "'%s' and add it again\n", o->name);
        return 1;
    }
    fprintf(stderr, "loginguard keys add: added reporter key '%s'; it is shown only this "
                    "once (the store keeps a hash): keep it in your reporter's secrets\n",
            o->name);
    return 0;
}

/* 2023-11-14T22:13:20Z, or "never" for 0 */
static void utc(int64_t ms, char *buf, size_t len)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    if (ms == 0) {
        snprintf(buf, len, "never");
        return;
    }
    if (gmtime_r(&secs, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "%lld", (long long)ms);
}

typedef struct list_out {
    bool json;
    int status; /* LG_ENOMEM when a line could not be encoded */
} list_out;

static void print_key(void *opaque, const lg_reporter_key_rec *k)
{
    list_out *o = opaque;
    char created[32], used[32];

    if (o->json) {
        json_t *doc = json_pack("{s:s,s:I,s:o}", "name", k->name, "created",
                                (json_int_t)k->created_ms, "last_used",
                                k->last_used_ms != 0 ? json_integer(k->last_used_ms)
                                                     : json_null());
        char *line = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
        if (line == NULL)
            o->status = LG_ENOMEM;
        else
            printf("%s\n", line);
        free(line);
        json_decref(doc);
        return;
    }
    utc(k->created_ms, created, sizeof created);
    utc(k->last_used_ms, used, sizeof used);
    printf("%-32s %-20s %s\n", k->name, created, used);
}

static int cmd_list(const keys_opts *o, lg_store *s)
{
    list_out out = {.json = o->json};
    int rc;

    if (!o->json)
        printf("%-32s %-20s %s\n", "NAME", "CREATED", "LAST USED");
    rc = lg_store_keys_each(s, print_key, &out);
    if (rc == 0)
        rc = out.status;
    if (rc != 0) {
        fprintf(stderr, "loginguard keys list: cannot read the keys: %s\n", lg_strerror(rc));
        return 1;
    }
    return 0;
}

static int cmd_delete(const keys_opts *o, lg_store *s)
{
    lg_action_rec act;
    int rc;

    action_make("key_delete", o->name, "", &act);
    rc = lg_store_key_del(s, o->name, &act);
    if (rc == LG_ENOTFOUND) {
        fprintf(stderr, "loginguard keys delete: no key named '%s'\n", o->name);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "loginguard keys delete: cannot delete key '%s': %s\n", o->name,
                lg_strerror(rc));
        return 1;
    }
    printf("deleted reporter key '%s'\n", o->name);
    return 0;
}

int lg_cmd_keys(int argc, char **argv)
{
    keys_opts o = {0};
    int prc = parse_args(argc, argv, &o);
    if (prc != 0)
        return prc == 1 ? 0 : 2;

    static lg_config cfg; /* large (URLs, secrets): keep it off the stack */
    char what[32];
    lg_store *s = NULL;
    snprintf(what, sizeof what, "keys %s", o.action);
    int orc = lg_cli_store_open(what, o.config, o.db, &cfg, &s);
    if (orc != 0)
        return orc;
    int rc;
    if (strcmp(o.action, "add") == 0)
        rc = cmd_add(&o, s);
    else if (strcmp(o.action, "delete") == 0)
        rc = cmd_delete(&o, s);
    else
        rc = cmd_list(&o, s);
    lg_store_close(s);
    return rc;
}
