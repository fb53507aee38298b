/*
 * users.c - `loginguard users add|list|del`: manage the login API's users in the store.
 *
 * The password of `add` comes from stdin, never from argv (argv is visible to every
 * local user in /proc): the first line, its trailing newline stripped. On a terminal it
 * is asked for twice without echo. It is read byte by byte with read(2) so no stdio
 * buffer keeps a copy, and wiped after hashing. --db defaults to the configuration's
 * [store] url (defaults, then --config FILE, then LG_STORE_URL); the argon2id cost of
 * new hashes is the configuration's [auth] argon2_opslimit / argon2_memlimit_kib.
 */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "auth/users.h"
#include "cli/cli_store.h"
#include "cli/commands.h"
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "core/limits.h"
#include "store/store.h"


static void usage(FILE *out)
{
    fprintf(out,
        "usage: loginguard users add NAME [--admin] [--db PATH] [--config F]\n"
        "       loginguard users list [--db PATH] [--config F]\n"
        "       loginguard users del NAME [--db PATH] [--config F]\n"
        "\n"
        "Manages the users of the login API (POST /v1/login). Passwords are stored as\n"
        "argon2id strings ([auth] argon2_opslimit, argon2_memlimit_kib).\n"
        "\n"
        "  add NAME       add a user; the password is the first line of stdin (asked for\n"
        "                 twice without echo on a terminal); 1..%d bytes\n"
        "  list           print every user: name, role, creation time (UTC)\n"
        "  del NAME       delete a user\n"
        "\n"
        "  --admin        (add) the user may call admin endpoints (DELETE /v1/blocks/...)\n"
        "  --db PATH      store: a SQLite path or URL (default: [store] url of the config)\n"
        "  --config F     configuration file (INI)\n"
        "  --help         this text\n"
        "\n"
        "exit status: 0 done, 1 failed (user exists, no such user, store error), 2 usage or\n"
        "configuration error\n",
        LG_PASSWORD_MAX);
}

typedef struct users_opts {
    const char *action;
    const char *name;
    const char *db;
    const char *config;
    bool admin;
} users_opts;

enum { OPT_ADMIN = 256, OPT_DB, OPT_CONFIG, OPT_HELP };

static const struct option long_opts[] = {
    {"admin", no_argument, NULL, OPT_ADMIN},
    {"db", required_argument, NULL, OPT_DB},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Parses `users ACTION [NAME] [options]`. Returns 0, 1 after --help, or 2 (usage error,
 * message printed). */
static int parse_args(int argc, char **argv, users_opts *o)
{
    if (argc < 2) {
        fprintf(stderr, "loginguard users: missing action (add, list or del; "
                        "loginguard users --help)\n");
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 1;
    }
    o->action = argv[1];
    bool wants_name = strcmp(o->action, "add") == 0 || strcmp(o->action, "del") == 0;
    if (!wants_name && strcmp(o->action, "list") != 0) {
        fprintf(stderr, "loginguard users: unknown action '%s' (add, list or del)\n", o->action);
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
        case OPT_ADMIN: o->admin = true; break;
        case OPT_DB: o->db = optarg; break;
        case OPT_CONFIG: o->config = optarg; break;
        case OPT_HELP: usage(stdout); return 1;
        default:
            fprintf(stderr, "loginguard users %s: unknown or incomplete option '%s'\n",
                    o->action, argv[optind - 1]);
            return 2;
        }
    }
    if (o->admin && strcmp(o->action, "add") != 0) {
        fprintf(stderr, "loginguard users %s: --admin applies to add only\n", o->action);
        return 2;
    }
    int positional = argc - optind;
    if (wants_name && positional != 1) {
        fprintf(stderr, "loginguard users %s: expected one NAME, got %d arguments\n",
                o->action, positional);
        return 2;
    }
    if (!wants_name && positional != 0) {
        fprintf(stderr, "loginguard users list: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (wants_name)
        o->name = argv[optind];
    return 0;
}

/* Reads one line from fd into buf (buf_len >= LG_PASSWORD_MAX + 1), without the "\n"
 * or "\r\n" that ends it. LG_ETOOBIG when the line is over LG_PASSWORD_MAX bytes. */
static int read_line_fd(int fd, char *buf, size_t buf_len, size_t *len_out)
{
    size_t len = 0;
    for (;;) { /* bounded: returns by LG_PASSWORD_MAX + 1 bytes */
        char ch;
        ssize_t n = read(fd, &ch, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return LG_EIO;
        if (n == 0 || ch == '\n')
            break;
        if (len == LG_PASSWORD_MAX || len + 1 >= buf_len)
            return LG_ETOOBIG;
        buf[len++] = ch;
    }
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    *len_out = len;
    return 0;
}

/* On a terminal: prompt on stderr, read with echo off, restore the terminal. */
static int read_password_tty(const char *prompt, char *buf, size_t buf_len, size_t *len_out)
{
    struct termios old, quiet;
    if (tcgetattr(STDIN_FILENO, &old) != 0)
        return LG_EIO;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    fputs(prompt, stderr);
    fflush(stderr);
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
        return LG_EIO;
    int rc = read_line_fd(STDIN_FILENO, buf, buf_len, len_out);
    (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    return rc;
}

/* The password of `add` into pw (LG_PASSWORD_MAX + 1 bytes). Prints why on failure. */
static int read_password(const char *name, char *pw, size_t pw_len, size_t *len_out)
{
    char again[LG_PASSWORD_MAX + 1];
    size_t len = 0, len2 = 0;
    int rc;
    bool tty = isatty(STDIN_FILENO);

    if (tty) {
        char prompt[LG_USER_MAX + 64];
        snprintf(prompt, sizeof prompt, "password for '%s': ", name);
        rc = read_password_tty(prompt, pw, pw_len, &len);
        if (rc == 0 && len > 0) {
            rc = read_password_tty("retype password: ", again, sizeof again, &len2);
            if (rc == 0 && (len2 != len || sodium_memcmp(pw, again, len) != 0)) {
                fprintf(stderr, "loginguard users add: passwords do not match\n");
                rc = LG_EAUTH;
            }
            sodium_memzero(again, sizeof again);
            if (rc == LG_EAUTH)
                goto fail;
        }
    } else {
        rc = read_line_fd(STDIN_FILENO, pw, pw_len, &len);
    }
    if (rc == LG_ETOOBIG) {
        fprintf(stderr, "loginguard users add: password longer than %d bytes\n",
                LG_PASSWORD_MAX);
        goto fail;
    }
    if (rc != 0) {
        fprintf(stderr, "loginguard users add: cannot read the password from stdin: %s\n",
                strerror(errno));
        goto fail;
    }
    if (len == 0) {
        fprintf(stderr, "loginguard users add: empty password refused (give it as the first "
                        "line of stdin)\n");
        rc = LG_EINVAL;
        goto fail;
    }
    *len_out = len;
    return 0;
fail:
    sodium_memzero(pw, pw_len);
    return rc;
}

/* A user name fit to print inside an error message: control bytes become '?' and at
 * most 64 bytes are kept (the name was not validated yet). */
static void name_for_message(const char *name, char *out, size_t out_len)
{
    size_t i = 0;
    for (; name[i] != '\0' && i < 64 && i + 1 < out_len; i++) {
        unsigned char ch = (unsigned char)name[i];
        out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    out[i] = '\0';
}

static int cmd_add(const users_opts *o, const lg_config *cfg, lg_store *s)
{
    char why[128], shown[72];
    if (!lg_user_valid(o->name, strlen(o->name), why, sizeof why)) {
        name_for_message(o->name, shown, sizeof shown);
        fprintf(stderr, "loginguard users add: invalid user name '%s': %s\n", shown, why);
        return 1;
    }
    lg_user_rec existing;
    if (lg_store_user_get(s, o->name, &existing) == 0) {
        /* checked before asking for a password; user_put still guards the race */
        fprintf(stderr, "loginguard users add: user '%s' already exists\n", o->name);
        return 1;
    }

    char pw[LG_PASSWORD_MAX + 1];
    size_t pw_len = 0;
    if (read_password(o->name, pw, sizeof pw, &pw_len) != 0)
        return 1;

    lg_users *u = NULL;
    lg_pwhash_conf pc = {.opslimit = cfg->argon2_opslimit,
                         .memlimit_kib = cfg->argon2_memlimit_kib};
    int rc = lg_users_new(&pc, &u);
    if (rc != 0) {
        fprintf(stderr, "loginguard users add: invalid argon2id cost t=%u m=%u KiB: %s\n",
                pc.opslimit, pc.memlimit_kib, lg_strerror(rc));
        goto done;
    }
    lg_role role = o->admin ? LG_ROLE_ADMIN : LG_ROLE_USER;
    rc = lg_users_add(u, s, o->name, pw, pw_len, role);
    if (rc == LG_EEXIST)
        fprintf(stderr, "loginguard users add: user '%s' already exists\n", o->name);
    else if (rc != 0)
        fprintf(stderr, "loginguard users add: cannot add user '%s': %s\n", o->name,
                lg_strerror(rc));
    else
        printf("added user '%s' (role %s)\n", o->name, o->admin ? "admin" : "user");
done:
    sodium_memzero(pw, sizeof pw);
    lg_users_free(u);
    return rc == 0 ? 0 : 1;
}

static void print_user(void *opaque, const lg_user_rec *r)
{
    char when[32] = "?";
    time_t secs = (time_t)(r->created_ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) != NULL)
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%-32s %-5s %s\n", r->name, r->role == LG_ROLE_ADMIN ? "admin" : "user", when);
}

static int cmd_list(lg_store *s)
{
    printf("%-32s %-5s %s\n", "NAME", "ROLE", "CREATED");
    int rc = lg_store_users_each(s, print_user, NULL);
    if (rc != 0) {
        fprintf(stderr, "loginguard users list: cannot read users: %s\n", lg_strerror(rc));
        return 1;
    }
    return 0;
}

static int cmd_del(const users_opts *o, lg_store *s)
{
    int rc = lg_store_user_del(s, o->name);
    if (rc == LG_ENOTFOUND) {
        char shown[72];
        name_for_message(o->name, shown, sizeof shown);
        fprintf(stderr, "loginguard users del: no such user '%s'\n", shown);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "loginguard users del: cannot delete user '%s': %s\n", o->name,
                lg_strerror(rc));
        return 1;
    }
    printf("deleted user '%s'\n", o->name);
    return 0;
}

int lg_cmd_users(int argc, char **argv)
{
    users_opts o = {0};
    int prc = parse_args(argc, argv, &o);
    if (prc != 0)
        return prc == 1 ? 0 : 2;

    static lg_config cfg; /* large (URLs, secrets): keep it off the stack */
    char what[32];
    lg_store *s = NULL;
    snprintf(what, sizeof what, "users %s", o.action);
    int orc = lg_cli_store_open(what, o.config, o.db, &cfg, &s);
    if (orc != 0)
        return orc;
    int rc;
    if (strcmp(o.action, "add") == 0)
        rc = cmd_add(&o, &cfg, s);
    else if (strcmp(o.action, "del") == 0)
        rc = cmd_del(&o, s);
    else
        rc = cmd_list(s);
    lg_store_close(s);
    return rc;
}
