/*
 * api_login.c - the two endpoints that produce attempts: POST /v1/login (password checked
 * here, argon2id on the worker pool) and POST /v1/attempts (judged elsewhere, reported
 * by a reporter only: lg_api__reporter).
 *
 * Both refuse a blocked user from the local cache before any password work (423, the
 * attempt still published as "blocked"), and answer only once the bus has accepted the
 * attempt, so every answer but 503 means the attempt is on lg.attempts. A login passes
 * the admission gate (core/gate.h) before its password check, so concurrent logins buy
 * no extra guesses; the block is checked again right before the check and right before a
 * token is issued. State that outlives the I/O thread's handler lives in the request's
 * arena; after the answer the request may be freed at once, so nothing touches it after
 * lg_http_req_respond. A login's address is the client's (api_client.c); only a report
 * carries its own "ip".
 *
 *   login:  handler --(blocked | gate refuses) defer, publish--> done(0) --> 423 | 503
 *           handler --gate admits, defer, pool--> worker: verify, gate --publish--> done(0)
 *                                                  --> 200 | 401 | 423 (block reached)
 *                                             \--> full/failed --> 503
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"
#include "roles/api_int.h"

typedef struct login_job {
    lg_api *api;
    lg_http_req *req;
    lg_attempt at; /* user and ip set by the handler; ok, outcome, ts by the worker */
    char password[LG_PASSWORD_MAX + 1];
    size_t password_len;
    lg_role role;
    bool gated;        /* admitted by the gate: its slot is ours to return */
    int64_t until_ms;  /* at.outcome is blocked: the refusal's end (0: permanent) */
} login_job;

typedef struct report_job {
    lg_http_req *req;
    char id[LG_ID_MAX + 1];
} report_job;

typedef struct refuse_job {
    lg_http_req *req;
    int64_t until_ms; /* of the block that refused it (0: permanent) */
    int64_t now_ms;   /* when it was refused: Retry-After counts from here */
} refuse_job;

_Static_assert(sizeof(login_job) <= LG_HTTP_ARENA, "a login job fits a request's arena");
_Static_assert(sizeof(refuse_job) <= LG_HTTP_ARENA, "a refuse job fits a request's arena");
_Static_assert(sizeof(report_job) <= LG_HTTP_ARENA, "a report job fits a request's arena");

/* Validates the "user" field; answers 400 and returns false when it is not valid. */
static bool user_field(lg_http_req *r, const lg_api_body *body, const char **user,
                       size_t *len)
{
    char why[96], detail[160];

    if (lg_api__field_string(r, body, LG_API_F_USER, true, user, len) != 0)
        return false;
    if (!lg_user_valid(*user, *len, why, sizeof why)) {
        snprintf(detail, sizeof detail, "field 'user': %s", why);
        lg_http_req_respond_error(r, LG_HTTP_E_BAD_REQUEST, detail);
        return false;
    }
    return true;
}

/* Answers 503 for an attempt lg_api__attempt_publish refused with rc. */
static void respond_unpublished(lg_http_req *r, int rc)
{
    lg_api__respond_overloaded(r, rc == LG_EFULL ? "the event bus is full"
                                                 : "the event bus is unavailable");
}

/* Bus thread (or the I/O thread, embedded bus): the refused attempt is on the bus, or
 * lost. */
static void refused_published(void *opaque, int status)
{
    refuse_job *job = opaque;

    if (status != 0) {
        lg_api__respond_overloaded(job->req, "the attempt could not be recorded");
        return;
    }
    lg_api__respond_blocked(job->req, job->until_ms, job->now_ms);
}

/* Publishes an attempt refused until until_ms (0: permanent) and answers 423 once the
 * bus has it, like a 202 (or 503: every 423 must be in the audit log, also when this
 * instance dies right after answering; with Kafka that means acknowledged, acks=all).
 * It goes out as "blocked": refused where it entered, never verified nor counted. */
static void refuse_blocked(lg_api *a, lg_http_req *r, const char *user, size_t user_len,
                           const char *ip, bool ok, int64_t ts_ms, int64_t until_ms,
                           int64_t now_ms)
{
    lg_attempt at;
    refuse_job *job;
    int rc;

    lg_api__attempt_fill(a, &at, user, user_len, ip, ok, LG_OUTCOME_BLOCKED, ts_ms);
    job = lg_http_req_alloc(r, sizeof *job);
    lg_assert(job != NULL);
    job->req = r;
    job->until_ms = until_ms;
    job->now_ms = now_ms;
    lg_http_req_defer(r);
    rc = lg_api__attempt_publish(a, &at, 0, refused_published, job);
    if (rc != 0)
        respond_unpublished(r, rc);
}

/* --- POST /v1/login ----------------------------------------------------------------- */

/* Bus thread (or the worker, embedded bus): the attempt is accepted or lost. */
static void login_published(void *opaque, int status)
{
    login_job *job = opaque;
    lg_http_req *r = job->req;
    char token[LG_JWT_MAX + 1];
    char body[LG_JWT_MAX + 64];
    int n;

    if (status != 0) {
        lg_api__respond_overloaded(r, "the attempt could not be recorded");
        return;
    }
    if (job->at.outcome == LG_OUTCOME_BLOCKED) {
        lg_api__respond_blocked(r, job->until_ms, lg_now_ms());
        return;
    }
    if (!job->at.ok) {
        /* one body for unknown users and wrong passwords: no account enumeration */
        lg_http_req_respond_error(r, LG_HTTP_E_INVALID_CREDENTIALS, NULL);
        return;
    }
    n = lg_jwt_issue(job->api->jwt, job->at.user, job->role, lg_now_ms() / 1000, token,
                     sizeof token, NULL);
    if (n < 0) {
        lg_log(LG_ERROR, "api", "login user=%.32s: cannot issue a token: %s", job->at.user,
               lg_strerror(n));
        lg_http_req_respond_error(r, LG_HTTP_E_INTERNAL, "cannot issue a token");
        return;
    }
    /* a JWT is base64url and dots: nothing to escape */
    n = snprintf(body, sizeof body, "{\"token\":\"%s\",\"expires_in\":%u}", token,
                 (unsigned)job->api->cfg->jwt_ttl_s);
    lg_assert(n > 0 && (size_t)n < sizeof body);
    lg_http_req_respond(r, 200, "application/json", body, (size_t)n);
}

/* Worker thread: the block may have reached the blocklist since the handler looked. */
static bool login_blocked_now(login_job *job)
{
    lg_block b;

    if (!lg_api__blocked(job->api, job->at.user, job->at.ip, lg_now_ms(), &b))
        return false;
    job->at.outcome = LG_OUTCOME_BLOCKED;
    job->until_ms = b.until_ms;
    return true;
}

/* Worker thread: the slow part. thread_state is this worker's store handle. */
static void login_work(void *thread_state, void *arg)
{
    login_job *job = arg;
    lg_api *a = job->api;
    lg_role role = LG_ROLE_USER;
    int64_t now;
    int rc;

    if (login_blocked_now(job)) { /* right before the check */
        sodium_memzero(job->password, sizeof job->password);
        if (job->gated)
            lg_gate_release(a->gate, job->at.user, job->at.user_len);
        job->at.ts_ms = lg_now_ms();
        goto publish;
    }
    rc = lg_users_verify(a->users, thread_state, job->at.user, job->password,
                         job->password_len, &role);
    sodium_memzero(job->password, sizeof job->password);
    if (rc != 0 && rc != LG_EAUTH) {
        if (job->gated)
            lg_gate_release(a->gate, job->at.user, job->at.user_len);
        lg_log(LG_ERROR, "api", "login user=%.32s: user store failed: %s", job->at.user,
               lg_strerror(rc));
        lg_http_req_respond_error(job->req, LG_HTTP_E_INTERNAL, "the user store failed");
        return;
    }
    job->role = role;
    job->at.ok = rc == 0;
    job->at.outcome = rc == 0 ? LG_OUTCOME_OK : LG_OUTCOME_FAIL;
    now = lg_now_ms();
    job->at.ts_ms = now;
    /* the gate stamps ts (one order with the detector) and may find the block complete */
    if (job->gated && !lg_gate_complete(a->gate, job->at.user, job->at.user_len, job->at.ok,
                                        now, &job->at.ts_ms, &job->until_ms))
        job->at.outcome = LG_OUTCOME_BLOCKED;
    else if (job->at.ok)
        login_blocked_now(job); /* right before a token is issued */
publish:
    rc = lg_api__attempt_publish(a, &job->at, LG_API_PUBLISH_WAIT_MS, login_published, job);
    if (rc != 0) /* done will not run: the job is still ours */
        respond_unpublished(job->req, rc);
}

void lg_api__login(lg_api *a, lg_http_req *r)
{
    lg_api_body body;
    const char *user, *password;
    size_t user_len, password_len;
    char ip[LG_IP_MAX + 1];
    lg_block b;
    login_job *job;
    lg_gate_verdict verdict;
    int64_t now, until = 0;
    int rc;

    if (lg_api__body_read(r, &body) != 0)
        return;
    if (!user_field(r, &body, &user, &user_len))
        goto out;
    if (lg_api__field_string(r, &body, LG_API_F_PASSWORD, true, &password, &password_len) !=
        0)
        goto out;
    if (password_len == 0 || password_len > LG_PASSWORD_MAX) {
        lg_http_req_respond_error(r, LG_HTTP_E_BAD_REQUEST,
                                  "field 'password': must be 1..1024 bytes");
        goto out;
    }
    /* the address the connection came from (through trusted proxies): never the body's
     * "ip", which would let a client pick a fresh address per guess */
    lg_api__client_ip(a, r, ip);

    now = lg_now_ms();
    if (lg_api__blocked(a, user, ip, now, &b)) {
        refuse_blocked(a, r, user, user_len, ip, false, now, b.until_ms, now);
        goto out;
    }
    verdict = a->gate != NULL ? lg_gate_admit(a->gate, user, user_len, now, &until)
                              : LG_GATE_OFF;
    if (verdict == LG_GATE_REFUSE) {
        refuse_blocked(a, r, user, user_len, ip, false, now, until, now);
        goto out;
    }
    job = lg_http_req_alloc(r, sizeof *job);
    lg_assert(job != NULL); /* the arena is empty and the job fits (static assert) */
    job->api = a;
    job->req = r;
    job->gated = verdict == LG_GATE_ADMIT;
    lg_api__attempt_fill(a, &job->at, user, user_len, ip, false, LG_OUTCOME_FAIL, now);
    memcpy(job->password, password, password_len);
    job->password[password_len] = '\0';
    job->password_len = password_len;
    lg_http_req_defer(r);
    rc = lg_pool_submit(a->pool, login_work, job);
    if (rc != 0) {
        sodium_memzero(job->password, sizeof job->password);
        if (job->gated)
            lg_gate_release(a->gate, user, user_len);
        lg_api__respond_overloaded(r, rc == LG_EFULL
                                          ? "too many logins are waiting for a password check"
                                          : "the server is shutting down");
    }
out:
    lg_api__body_free(&body);
}

/* --- POST /v1/attempts -------------------------------------------------------------- */

static void report_published(void *opaque, int status)
{
    report_job *job = opaque;
    char body[LG_ID_MAX + 16];
    int n;

    if (status != 0) {
        lg_api__respond_overloaded(job->req, "the attempt could not be recorded");
        return;
    }
    /* ids are made here from the instance name: escape it anyway */
    memcpy(body, "{\"id\":\"", 7);
    n = 7;
    n += (int)lg_http_json_escape(job->id, strlen(job->id), body + n, sizeof body - (size_t)n - 2);
    memcpy(body + n, "\"}", 3);
    lg_http_req_respond(job->req, 202, "application/json", body, (size_t)n + 2);
}

void lg_api__attempts(lg_api *a, lg_http_req *r)
{
    lg_api_body body;
    const char *user, *ip;
    size_t user_len, ip_len;
    char ip_canon[LG_IP_MAX + 1];
    const lg_api_value *okv;
    bool ok;
    char why[96], detail[160];
    int64_t now, ts, until = 0;
    lg_attempt at;
    lg_block b;
    report_job *job;
    char actor[LG_ACTOR_MAX + 1];
    int rc;

    if (!lg_api__reporter(a, r, actor, sizeof actor))
        return; /* 401: nothing is published for an unauthenticated caller */
    if (lg_api__body_read(r, &body) != 0)
        return;
    if (!user_field(r, &body, &user, &user_len))
        goto out;
    if (lg_api__field_string(r, &body, LG_API_F_IP, true, &ip, &ip_len) != 0)
        goto out;
    if (!lg_ip_valid(ip, ip_len, why, sizeof why)) {
        snprintf(detail, sizeof detail, "field 'ip': %s", why);
        lg_http_req_respond_error(r, LG_HTTP_E_BAD_REQUEST, detail);
        goto out;
    }
    /* one spelling per address: it is keyed and stored as such */
    rc = lg_addr_canon(ip, ip_len, ip_canon);
    lg_assert(rc > 0); /* lg_ip_valid and lg_addr_parse accept the same texts */
    ip = ip_canon;
    okv = &body.v[LG_API_F_OK];
    if (okv->kind != LG_API_V_TRUE && okv->kind != LG_API_V_FALSE) {
        lg_http_req_respond_error(r, LG_HTTP_E_BAD_REQUEST,
                                  okv->kind == LG_API_V_ABSENT ? "field 'ok': required"
                                              : "field 'ok': must be true or false");
        goto out;
    }
    now = lg_now_ms();
    ok = okv->kind == LG_API_V_TRUE;
    /* the API's clock, or the reporter's within [now - lag max, now + skew max] */
    if (lg_api_body_ts(&body.v[LG_API_F_TS], now, a->cfg->report_lag_max_ms,
                       a->cfg->clock_skew_max_ms, &ts, detail, sizeof detail) != 0) {
        lg_http_req_respond_error(r, LG_HTTP_E_BAD_REQUEST, detail);
        goto out;
    }
    if (lg_api__blocked(a, user, ip, now, &b)) {
        refuse_blocked(a, r, user, user_len, ip, ok, ts, b.until_ms, now);
        goto out;
    }
    /* mirrored by the gate like a verified login; refused once it completes a block */
    if (a->gate != NULL && !lg_gate_report(a->gate, user, user_len, ok, ts, now, &until)) {
        refuse_blocked(a, r, user, user_len, ip, ok, ts, until, now);
        goto out;
    }
    lg_api__attempt_fill(a, &at, user, user_len, ip, ok, ok ? LG_OUTCOME_OK : LG_OUTCOME_FAIL,
                         ts);
    job = lg_http_req_alloc(r, sizeof *job);
    lg_assert(job != NULL);
    job->req = r;
    memcpy(job->id, at.id, sizeof job->id);
    lg_http_req_defer(r);
    rc = lg_api__attempt_publish(a, &at, 0, report_published, job);
    if (rc != 0)
        respond_unpublished(r, rc);
out:
    lg_api__body_free(&body);
}
