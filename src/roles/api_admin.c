/*
 * api_admin.c - the read and operator endpoints: block status, the active blocks and
 * unblocking (admin JWT), the session check (/v1/me), /healthz and /metrics. Block
 * status and /metrics answer admins and clients in [http] admin_networks; /healthz is
 * open (load balancers check it).
 *
 * An unblock is first recorded in the store's operator actions with its actor (the
 * admin token's sub), on the worker pool (a store write never runs on an I/O thread),
 * then published as a tombstone on lg.blocks: the local cache, like every other
 * instance's, drops the block when the tombstone comes back from the bus, so all
 * instances converge through one path. Recorded first: an unblock the audit log does
 * not show must never happen (one it shows may still fail to publish: answered 503).
 *
 *   unblock: handler --defer, pool--> worker: action_put --publish--> done --> 200 | 503
 *                                           \--> store failed --> 500
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"
#include "roles/api_int.h"

/* {"user":..} plus a block: user escaped (6x worst case) and a handful of numbers */
#define API_STATUS_BODY_MAX (6 * LG_USER_MAX + 256)

typedef struct unblock_job {
    lg_api *api;
    lg_http_req *req;
    char user[LG_USER_MAX + 1]; /* from the path, validated */
    size_t user_len;
    char user_json[6 * LG_USER_MAX + 1]; /* escaped for the answer */
    bool was_blocked;
    lg_action_rec action; /* target = the user */
} unblock_job;

_Static_assert(sizeof(unblock_job) <= LG_HTTP_ARENA, "an unblock job fits a request's arena");

static const char *role_name(lg_role role)
{
    return role == LG_ROLE_ADMIN ? "admin" : "user";
}

/* Validates a user taken from the path; answers 400 when it is not valid. */
static bool path_user(lg_http_req *r, const char *user, size_t len)
{
    char why[96], detail[160];

    if (lg_user_valid(user, len, why, sizeof why))
        return true;
    snprintf(detail, sizeof detail, "user in path: %s", why);
    lg_http_req_respond_error(r, LG_HTTP_E_BAD_REQUEST, detail);
    return false;
}

/* Verifies an admin token (its claims into *claims); answers 401/403 itself when it is
 * not one. */
static bool auth_admin(lg_api *a, lg_http_req *r, lg_jwt_claims *claims)
{
    if (!lg_api__auth(a, r, claims))
        return false;
    if (claims->role != LG_ROLE_ADMIN) {
        lg_http_req_respond_error(r, LG_HTTP_E_FORBIDDEN, NULL);
        return false;
    }
    return true;
}

/* The read endpoints that show the state of detection (GET /v1/blocks/{user},
 * /metrics): a client in admin_networks (resolved behind trusted proxies), or an admin
 * token; anyone else 403, so that no outsider learns whom a guess has blocked. Answers
 * itself when not allowed. */
static bool admin_or_network(lg_api *a, lg_http_req *r)
{
    if (lg_api__from_admin_network(a, r))
        return true;
    if (lg_http_req_header(r, "Authorization") == NULL) {
        lg_http_req_respond_error(r, LG_HTTP_E_FORBIDDEN,
                                  "this needs an admin token or a client in "
                                  "http.admin_networks");
        return false;
    }
    lg_jwt_claims claims;
    return auth_admin(a, r, &claims);
}

void lg_api__block_get(lg_api *a, lg_http_req *r, const char *user, size_t user_len)
{
    char esc[6 * LG_USER_MAX + 1], rule[2 * LG_RULE_NAME_MAX + 1];
    char body[API_STATUS_BODY_MAX];
    int64_t now = lg_now_ms();
    lg_block b;
    int n;

    if (!admin_or_network(a, r) || !path_user(r, user, user_len))
        return;
    lg_http_json_escape(user, user_len, esc, sizeof esc);
    /* user-keyed rules only: without an ip, ip-keyed rules cannot apply */
    if (!lg_api__blocked(a, user, "", now, &b)) {
        n = snprintf(body, sizeof body, "{\"user\":\"%s\",\"blocked\":false}", esc);
    } else {
        lg_http_json_escape(b.rule, strlen(b.rule), rule, sizeof rule);
        n = snprintf(body, sizeof body,
                     "{\"user\":\"%s\",\"blocked\":true,\"since\":%lld,\"until\":%lld,"
                     "\"level\":%u,\"rule\":\"%s\"}",
                     esc, (long long)b.since_ms, (long long)b.until_ms, (unsigned)b.level, rule);
    }
    lg_assert(n > 0 && (size_t)n < sizeof body);
    lg_http_req_respond(r, 200, "application/json", body, (size_t)n);
}

/* A growable answer for GET /v1/blocks, bounded by LG_API_BLOCKS_LIST_MAX blocks. */
typedef struct blocks_out {
    char *buf;
    size_t len, cap;
    size_t count;
    bool truncated, failed;
} blocks_out;

static void blocks_out_add(void *opaque, const lg_block *b)
{
    blocks_out *o = opaque;
    char json[LG_EVENT_JSON_MAX];
    int n;

    if (o->failed || o->truncated)
        return;
    if (o->count >= LG_API_BLOCKS_LIST_MAX) {
        o->truncated = true;
        return;
    }
    n = lg_block_encode(b, json, sizeof json);
    if (n < 0)
        return;
    if (o->len + (size_t)n + 2 > o->cap) {
        size_t cap = o->cap * 2 + (size_t)n + 2;
        char *p = realloc(o->buf, cap);
        if (p == NULL) {
            o->failed = true;
            return;
        }
        o->buf = p;
        o->cap = cap;
    }
    if (o->count > 0)
        o->buf[o->len++] = ',';
    memcpy(o->buf + o->len, json, (size_t)n);
    o->len += (size_t)n;
    o->count++;
}

void lg_api__blocks_list(lg_api *a, lg_http_req *r)
{
    blocks_out o = {0};
    lg_jwt_claims claims;
    char tail[96];
    int n;

    if (!auth_admin(a, r, &claims))
        return;
    o.cap = 4096;
    o.buf = malloc(o.cap);
    if (o.buf == NULL) {
        lg_http_req_respond_error(r, LG_HTTP_E_INTERNAL, "out of memory");
        return;
    }
    memcpy(o.buf, "{\"blocks\":[", 11);
    o.len = 11;
    lg_api__feed_inline(a);
    lg_blocklist_each_active(a->blocklist, lg_now_ms(), blocks_out_add, &o);
    n = snprintf(tail, sizeof tail, "],\"count\":%zu,\"truncated\":%s}", o.count,
                 o.truncated ? "true" : "false");
    if (!o.failed && o.len + (size_t)n > o.cap) {
        char *p = realloc(o.buf, o.len + (size_t)n);
        if (p == NULL)
            o.failed = true;
        else
            o.buf = p;
    }
    if (o.failed) {
        lg_http_req_respond_error(r, LG_HTTP_E_INTERNAL, "out of memory");
    } else {
        memcpy(o.buf + o.len, tail, (size_t)n);
        lg_http_req_respond(r, 200, "application/json", o.buf, o.len + (size_t)n);
    }
    free(o.buf);
}

static void unblock_published(void *opaque, int status)
{
    unblock_job *job = opaque;
    char body[sizeof job->user_json + 64];
    int n;

    if (status != 0) {
        lg_api__respond_overloaded(job->req, "the unblock could not be published");
        return;
    }
    n = snprintf(body, sizeof body, "{\"user\":\"%s\",\"unblocked\":true,\"was_blocked\":%s}",
                 job->user_json, job->was_blocked ? "true" : "false");
    lg_assert(n > 0 && (size_t)n < sizeof body);
    lg_http_req_respond(job->req, 200, "application/json", body, (size_t)n);
}

/* Worker thread: records the unblock, then publishes it. thread_state is this worker's
 * store handle. */
static void unblock_work(void *thread_state, void *arg)
{
    unblock_job *job = arg;
    lg_api *a = job->api;
    char key[LG_BLOCK_KEY_MAX + 1];
    lg_block b;
    int key_len, rc = lg_store_action_put(thread_state, &job->action);

    if (rc != 0) {
        lg_log(LG_ERROR, "api", "unblock user=%.64s actor=%s: cannot record it: %s",
               job->user_json, job->action.actor, lg_strerror(rc));
        lg_http_req_respond_error(job->req, LG_HTTP_E_INTERNAL,
                                  "the unblock could not be recorded; nothing was unblocked");
        return;
    }
    /* the key of rule user's blocks on lg.blocks: "user:<user>" (lg_block_key) */
    memset(&b, 0, sizeof b);
    memcpy(b.rule, "user", sizeof "user");
    memcpy(b.user, job->user, job->user_len); /* path_user checked 1..LG_USER_MAX */
    key_len = lg_block_key(&b, key, sizeof key);
    lg_assert(key_len > 0);
    rc = lg_bus_publish(a->bus, LG_TOPIC_BLOCKS, key, (size_t)key_len, NULL, 0,
                        LG_API_PUBLISH_WAIT_MS, unblock_published, job);
    if (rc != 0) { /* done will not run: the job is still ours */
        if (rc == LG_EFULL)
            lg_metrics_counter_add(a->publish_full, 1);
        lg_api__respond_overloaded(job->req, "the unblock could not be published");
    }
}

void lg_api__unblock(lg_api *a, lg_http_req *r, const char *user, size_t user_len)
{
    lg_jwt_claims claims;
    lg_block b;
    unblock_job *job;
    int rc;

    if (!auth_admin(a, r, &claims) || !path_user(r, user, user_len))
        return;
    job = lg_http_req_alloc(r, sizeof *job);
    lg_assert(job != NULL);
    memset(job, 0, sizeof *job);
    job->api = a;
    job->req = r;
    job->was_blocked = lg_api__blocked(a, user, "", lg_now_ms(), &b);
    memcpy(job->user, user, user_len);
    job->user[user_len] = '\0';
    job->user_len = user_len;
    lg_http_json_escape(user, user_len, job->user_json, sizeof job->user_json);
    job->action.ts_ms = lg_now_ms();
    snprintf(job->action.actor, sizeof job->action.actor, "jwt:%s", claims.sub);
    snprintf(job->action.action, sizeof job->action.action, "unblock");
    _Static_assert(LG_ACTION_TARGET_MAX >= LG_USER_MAX, "a target holds any user");
    memcpy(job->action.target, job->user, user_len + 1);
    snprintf(job->action.detail, sizeof job->action.detail, "was_blocked=%s",
             job->was_blocked ? "true" : "false");
    lg_log(LG_INFO, "api", "unblock user=%.64s by actor=%s", job->user_json,
           job->action.actor);
    lg_http_req_defer(r);
    rc = lg_pool_submit(a->pool, unblock_work, job);
    if (rc != 0)
        lg_api__respond_overloaded(r, rc == LG_EFULL ? "too many jobs are waiting for a worker"
                                                     : "the server is shutting down");
}

void lg_api__me(lg_api *a, lg_http_req *r)
{
    lg_jwt_claims claims;
    char esc[6 * LG_USER_MAX + 1];
    char body[sizeof esc + 96];
    int n;

    if (!lg_api__auth(a, r, &claims))
        return;
    lg_http_json_escape(claims.sub, strlen(claims.sub), esc, sizeof esc);
    n = snprintf(body, sizeof body, "{\"user\":\"%s\",\"role\":\"%s\",\"exp\":%lld}", esc,
                 role_name(claims.role), (long long)claims.exp_s);
    lg_assert(n > 0 && (size_t)n < sizeof body);
    lg_http_req_respond(r, 200, "application/json", body, (size_t)n);
}

void lg_api__healthz(lg_api *a, lg_http_req *r)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    static const char starting[] = "{\"status\":\"starting\"}";

    if (lg_api_ready(a)) {
        lg_http_req_respond(r, 200, "application/json", ok, sizeof ok - 1);
    } else {
        lg_http_req_header_add(r, "Retry-After", "1");
        lg_http_req_respond(r, 503, "application/json", starting, sizeof starting - 1);
    }
}

void lg_api__metrics(lg_api *a, lg_http_req *r)
{
    char *buf;
    lg_metrics *extra;
    int n;

    if (!admin_or_network(a, r))
        return;
    buf = malloc(LG_API_METRICS_MAX);
    if (buf == NULL) {
        lg_http_req_respond_error(r, LG_HTTP_E_INTERNAL, "out of memory");
        return;
    }
    n = lg_metrics_render(a->metrics, buf, LG_API_METRICS_MAX);
    extra = atomic_load(&a->metrics_extra);
    if (n >= 0 && extra != NULL) {
        int n2 = lg_metrics_render(extra, buf + n, LG_API_METRICS_MAX - (size_t)n);
        n = n2 < 0 ? n2 : n + n2;
    }
    if (n < 0) {
        lg_log(LG_ERROR, "api", "metrics: text larger than %d bytes", LG_API_METRICS_MAX);
        lg_http_req_respond_error(r, LG_HTTP_E_INTERNAL, "metrics too large");
    } else {
        lg_http_req_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf, (size_t)n);
    }
    free(buf);
}
