/*
 * loadgen_workload.c - loads the id and password lists and writes request bodies.
 *
 * Entries are JSON-escaped once, at load, and kept with their quotes ("\"alice\""), so a
 * body is one snprintf of ready-made pieces. Client addresses come from the three
 * documentation ranges (RFC 5737), so generated traffic never names a real host.
 * Bruteforce passwords are list entries with '~' and a number appended; no entry of
 * data/passwords.json (and so no demo user's password) has a '~', so they always fail.
 */
#include "cli/loadgen_workload.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/lgassert.h"
#include "core/limits.h"

typedef struct lg_loadgen_list {
    char **quoted;  /* JSON string literals, quotes included */
    size_t *len;
    size_t n;
} lg_loadgen_list;

struct lg_loadgen_workload {
    lg_loadgen_list ids;
    lg_loadgen_list passwords; /* empty for --endpoint attempts */
    lg_loadgen_scenario scenario;
    lg_loadgen_endpoint endpoint;
    uint32_t targets[LG_LOADGEN_BRUTE_TARGETS];
    uint32_t targets_n;
};

static const char *const doc_nets[] = {"192.0.2", "198.51.100", "203.0.113"};

static void list_free(lg_loadgen_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->quoted[i]);
    free(l->quoted);
    free(l->len);
    l->quoted = NULL;
    l->len = NULL;
    l->n = 0;
}

/* An id as DESIGN.md limits it: 1..128 bytes (jansson already checked UTF-8), no
 * control characters. */
static bool id_ok(const char *s, size_t len)
{
    if (len < 1 || len > LG_USER_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static int list_load(const char *path, bool ids, lg_loadgen_list *out, char *err,
                     size_t err_len)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, err_len, "cannot open '%s': %s", path, strerror(errno));
        return LG_EIO;
    }
    if (st.st_size > LG_LOADGEN_FILE_MAX) {
        snprintf(err, err_len, "'%s' is larger than %d bytes", path, LG_LOADGEN_FILE_MAX);
        return LG_ETOOBIG;
    }
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(err, err_len, "invalid JSON in '%s' line %d column %d: %s", path, jerr.line,
                 jerr.column, jerr.text);
        return LG_EINVAL;
    }
    int rc = LG_EINVAL;
    lg_loadgen_list l = {0};
    size_t n = json_is_array(root) ? json_array_size(root) : 0;
    if (n == 0 || n > LG_LOADGEN_LIST_MAX) {
        snprintf(err, err_len, "'%s' must be a JSON array of 1..%d strings", path,
                 LG_LOADGEN_LIST_MAX);
        goto fail;
    }
    l.quoted = calloc(n, sizeof *l.quoted);
    l.len = calloc(n, sizeof *l.len);
    if (l.quoted == NULL || l.len == NULL) {
        snprintf(err, err_len, "out of memory loading '%s'", path);
        rc = LG_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(root, i);
        const char *s = json_string_value(e);
        size_t len = json_string_length(e);
        bool ok = s != NULL && (ids ? id_ok(s, len) : (len >= 1 && len <= LG_PASSWORD_MAX));
        if (!ok) {
            snprintf(err, err_len, "entry %zu of '%s' is not a valid %s", i + 1, path,
                     ids ? "user id (1..128 bytes, no control characters)"
                         : "password (a string of 1..1024 bytes)");
            goto fail;
        }
        l.quoted[i] = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT);
        if (l.quoted[i] == NULL) {
            snprintf(err, err_len, "out of memory loading '%s'", path);
            rc = LG_ENOMEM;
            goto fail;
        }
        l.len[i] = strlen(l.quoted[i]);
        l.n = i + 1;
    }
    json_decref(root);
    *out = l;
    return 0;
fail:
    list_free(&l);
    json_decref(root);
    return rc;
}

static bool has_target(const lg_loadgen_workload *w, uint32_t t)
{
    for (uint32_t j = 0; j < w->targets_n; j++) {
        if (w->targets[j] == t)
            return true;
    }
    return false;
}

int lg_loadgen_workload_new(const char *ids_path, const char *passwords_path,
                            lg_loadgen_scenario scenario, lg_loadgen_endpoint endpoint,
                            uint64_t seed, lg_loadgen_workload **out, char *err,
                            size_t err_len)
{
    lg_assert(ids_path != NULL);
    lg_assert(endpoint == LG_LOADGEN_ATTEMPTS || passwords_path != NULL);
    int rc;
    lg_loadgen_workload *w = calloc(1, sizeof *w);
    if (w == NULL) {
        snprintf(err, err_len, "out of memory");
        return LG_ENOMEM;
    }
    w->scenario = scenario;
    w->endpoint = endpoint;
    rc = list_load(ids_path, true, &w->ids, err, err_len);
    if (rc != 0)
        goto fail;
    if (passwords_path != NULL) {
        rc = list_load(passwords_path, false, &w->passwords, err, err_len);
        if (rc != 0)
            goto fail;
    }
    /* distinct targets picked by the seed, so a run can be repeated */
    lg_loadgen_rng rng;
    lg_loadgen_rng_seed(&rng, seed ^ UINT64_C(0x6272757465));
    uint32_t want = w->ids.n < LG_LOADGEN_BRUTE_TARGETS ? (uint32_t)w->ids.n
                                                        : LG_LOADGEN_BRUTE_TARGETS;
    /* random distinct picks; then, if unlucky, the first ids not yet taken */
    for (uint32_t tries = 0; w->targets_n < want && tries < 1000; tries++) {
        uint32_t t = lg_loadgen_rng_below(&rng, (uint32_t)w->ids.n);
        if (!has_target(w, t))
            w->targets[w->targets_n++] = t;
    }
    for (uint32_t t = 0; w->targets_n < want; t++) {
        if (!has_target(w, t))
            w->targets[w->targets_n++] = t;
    }
    lg_assert(w->targets_n >= 1);
    *out = w;
    return 0;
fail:
    lg_loadgen_workload_free(w);
    return rc;
}

void lg_loadgen_workload_free(lg_loadgen_workload *w)
{
    if (w == NULL)
        return;
    list_free(&w->ids);
    list_free(&w->passwords);
    free(w);
}

const char *lg_loadgen_workload_path(const lg_loadgen_workload *w)
{
    return w->endpoint == LG_LOADGEN_LOGIN ? "/v1/login" : "/v1/attempts";
}

/* One request: who, with which password, from where, and (attempts) the outcome. */
typedef struct pick {
    uint32_t id;
    uint32_t pw;
    bool pw_wrong;      /* append "~<n>": a password no list entry equals */
    uint32_t wrong_n;
    char ip[LG_IP_MAX + 1];
    bool ok;
} pick;

static void pick_random(const lg_loadgen_workload *w, lg_loadgen_rng *r, pick *p)
{
    p->id = lg_loadgen_rng_below(r, (uint32_t)w->ids.n);
    p->pw = w->passwords.n ? lg_loadgen_rng_below(r, (uint32_t)w->passwords.n) : 0;
    snprintf(p->ip, sizeof p->ip, "%s.%u", doc_nets[lg_loadgen_rng_below(r, 3)],
             1 + lg_loadgen_rng_below(r, 254));
    p->ok = lg_loadgen_rng_below(r, LG_LOADGEN_OK_ONE_IN) == 0;
}

int lg_loadgen_workload_body(const lg_loadgen_workload *w, lg_loadgen_rng *rng, uint64_t seq,
                             char *buf, size_t cap, size_t *len_out)
{
    lg_assert(w != NULL);
    lg_assert(buf != NULL);
    pick p = {0};
    pick_random(w, rng, &p);
    if (w->scenario == LG_LOADGEN_BRUTEFORCE &&
        lg_loadgen_rng_below(rng, 4) < LG_LOADGEN_BRUTE_SHARE) {
        uint32_t t = lg_loadgen_rng_below(rng, w->targets_n);
        p.id = w->targets[t];
        p.pw_wrong = true;
        p.wrong_n = lg_loadgen_rng_below(rng, 10000);
        p.ok = false;
        snprintf(p.ip, sizeof p.ip, "203.0.113.%u", 66 + t); /* one attacker per target */
    } else if (w->scenario == LG_LOADGEN_STUFFING &&
               lg_loadgen_rng_below(rng, 10) < LG_LOADGEN_STUFF_SHARE) {
        p.id = (uint32_t)(seq % w->ids.n); /* walk the list: many ids, one source */
        p.ok = false;
        snprintf(p.ip, sizeof p.ip, "198.51.100.77");
    }
    const char *user = w->ids.quoted[p.id];
    int n;
    if (w->endpoint == LG_LOADGEN_ATTEMPTS) {
        n = snprintf(buf, cap, "{\"user\":%s,\"ip\":\"%s\",\"ok\":%s}", user, p.ip,
                     p.ok ? "true" : "false");
    } else if (p.pw_wrong) {
        /* the quoted password without its closing quote, '~' digits, then the quote */
        n = snprintf(buf, cap, "{\"user\":%s,\"password\":%.*s~%u\",\"ip\":\"%s\"}", user,
                     (int)(w->passwords.len[p.pw] - 1), w->passwords.quoted[p.pw], p.wrong_n,
                     p.ip);
    } else {
        n = snprintf(buf, cap, "{\"user\":%s,\"password\":%s,\"ip\":\"%s\"}", user,
                     w->passwords.quoted[p.pw], p.ip);
    }
    if (n < 0 || (size_t)n >= cap)
        return LG_ETOOBIG;
    *len_out = (size_t)n;
    return 0;
}
