/*
 * jwt.c - HS256 session tokens on libjwt 1.10 with the checks libjwt leaves to us
 * (../shared/research/libs.md §3): a key is always passed to jwt_decode (NULL means "no
 * verification"), the algorithm is pinned to HS256 after decoding (the token picks it,
 * so an HS512 or "none" token must not pass), exp and nbf are compared with now here
 * (1.10 never looks at them), a crit header is refused (1.10 ignores it), and integer
 * claims are read through errno (jwt_get_grant_int's only error channel). Tokens over
 * LG_JWT_MAX are refused before libjwt parses anything.
 */
#include "auth/jwt.h"

#include <errno.h>
#include <jwt.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/lgassert.h"

/* HMAC-SHA256 accepts any key length; more than a block (64 bytes) is hashed first, so
 * longer secrets add nothing but are harmless. Bound it to keep the copy fixed-size. */
#define LG_JWT_SECRET_MAX 256

struct lg_jwt {
    unsigned char secret[LG_JWT_SECRET_MAX];
    size_t secret_len;
    uint32_t ttl_s;
};

static const char *role_name(lg_role role)
{
    return role == LG_ROLE_ADMIN ? "admin" : "user";
}

static int role_parse(const char *s, lg_role *out)
{
    if (strcmp(s, "user") == 0)
        *out = LG_ROLE_USER;
    else if (strcmp(s, "admin") == 0)
        *out = LG_ROLE_ADMIN;
    else
        return LG_EAUTH;
    return 0;
}

int lg_jwt_new(const void *secret, size_t secret_len, uint32_t ttl_s, lg_jwt **out)
{
    lg_assert(out != NULL);
    if (secret == NULL || secret_len < LG_JWT_SECRET_MIN || secret_len > LG_JWT_SECRET_MAX)
        return LG_EINVAL;
    if (ttl_s == 0)
        return LG_EINVAL;
    if (sodium_init() < 0) /* jti comes from randombytes_buf */
        return LG_EIO;
    lg_jwt *j = calloc(1, sizeof *j);
    if (j == NULL)
        return LG_ENOMEM;
    memcpy(j->secret, secret, secret_len);
    j->secret_len = secret_len;
    j->ttl_s = ttl_s;
    *out = j;
    return 0;
}

void lg_jwt_free(lg_jwt *j)
{
    if (j == NULL)
        return;
    sodium_memzero(j->secret, sizeof j->secret);
    free(j);
}

void lg_jwt_random_secret(char *buf, size_t buf_len)
{
    unsigned char raw[32];
    lg_assert(buf != NULL);
    lg_assert(buf_len >= sizeof raw * 2 + 1);
    lg_assert(sodium_init() >= 0);
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(buf, buf_len, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
}

int lg_jwt_issue(const lg_jwt *j, const char *sub, lg_role role, int64_t now_s, char *buf,
                 size_t buf_len, lg_jwt_claims *claims_out)
{
    lg_assert(j != NULL);
    lg_assert(buf != NULL);
    if (sub == NULL)
        return LG_EINVAL;
    size_t sub_len = strlen(sub);
    if (sub_len == 0 || sub_len > LG_USER_MAX)
        return LG_EINVAL;
    if (role != LG_ROLE_USER && role != LG_ROLE_ADMIN)
        return LG_EINVAL;
    if (now_s <= 0 || now_s > LONG_MAX - (int64_t)j->ttl_s)
        return LG_EINVAL;

    lg_jwt_claims c = {.role = role, .iat_s = now_s, .exp_s = now_s + j->ttl_s};
    memcpy(c.sub, sub, sub_len + 1);
    unsigned char jti_raw[16];
    _Static_assert(sizeof c.jti == sizeof jti_raw * 2 + 1, "jti is 128 bits in hex");
    randombytes_buf(jti_raw, sizeof jti_raw);
    sodium_bin2hex(c.jti, sizeof c.jti, jti_raw, sizeof jti_raw);

    int rc = LG_ENOMEM;
    char *tok = NULL;
    jwt_t *t = NULL;
    if (jwt_new(&t) != 0)
        return LG_ENOMEM;
    if (jwt_add_grant(t, "sub", c.sub) != 0 || jwt_add_grant_int(t, "iat", (long)c.iat_s) != 0 ||
        jwt_add_grant_int(t, "exp", (long)c.exp_s) != 0 || jwt_add_grant(t, "jti", c.jti) != 0 ||
        jwt_add_grant(t, "role", role_name(role)) != 0)
        goto fail_free_jwt;
    if (jwt_set_alg(t, JWT_ALG_HS256, j->secret, (int)j->secret_len) != 0)
        goto fail_free_jwt;
    tok = jwt_encode_str(t);
    if (tok == NULL)
        goto fail_free_jwt;
    size_t len = strlen(tok);
    if (len > LG_JWT_MAX || len >= buf_len) {
        rc = LG_ETOOBIG; /* a 128-byte sub still fits LG_JWT_MAX many times over */
        goto fail_free_tok;
    }
    memcpy(buf, tok, len + 1);
    if (claims_out != NULL)
        *claims_out = c;
    rc = (int)len;

fail_free_tok:
    free(tok);
fail_free_jwt:
    jwt_free(t); /* scrubs its copy of the key */
    return rc;
}

/* Reads an integer claim. jwt_get_grant_int answers 0 both for a missing claim (errno
 * ENOENT) and for a string one (errno 0), so a string value is ruled out separately and
 * 0 or less is refused: iat and exp are seconds since the epoch. */
static int claim_int(jwt_t *t, const char *name, int64_t *out)
{
    if (jwt_get_grant(t, name) != NULL)
        return LG_EAUTH;
    errno = 0;
    long v = jwt_get_grant_int(t, name);
    if (errno != 0 || v <= 0)
        return LG_EAUTH;
    *out = v;
    return 0;
}

/* Copies a string claim of 1..max bytes into out (max + 1 bytes). */
static int claim_str(jwt_t *t, const char *name, char *out, size_t max)
{
    const char *v = jwt_get_grant(t, name);
    if (v == NULL)
        return LG_EAUTH;
    size_t len = strlen(v);
    if (len == 0 || len > max)
        return LG_EAUTH;
    memcpy(out, v, len + 1);
    return 0;
}

/* Is name a member of the header (grant = false) or the claims, whatever its type? */
static bool member_present(jwt_t *t, const char *name, bool grant)
{
    char *json = grant ? jwt_get_grants_json(t, name) : jwt_get_headers_json(t, name);
    bool present = json != NULL;

    free(json); /* json_dumps output; libjwt 1.10 has no allocator of its own */
    return present;
}

/* nbf, when present, must be an integer not after now_s: a token is valid for the
 * seconds [nbf, exp). Absent is fine: ours carry none. */
static int check_nbf(jwt_t *t, int64_t now_s)
{
    int64_t nbf;

    if (!member_present(t, "nbf", true))
        return 0;
    if (claim_int(t, "nbf", &nbf) != 0 || nbf > now_s)
        return LG_EAUTH;
    return 0;
}

int lg_jwt_verify(const lg_jwt *j, const char *token, size_t len, int64_t now_s,
                  lg_jwt_claims *out)
{
    lg_assert(j != NULL);
    lg_assert(out != NULL);
    /* Bounded and NUL-free before libjwt sees it: it wants a C string. */
    if (token == NULL || len == 0 || len > LG_JWT_MAX || memchr(token, '\0', len) != NULL)
        return LG_EAUTH;
    char copy[LG_JWT_MAX + 1];
    memcpy(copy, token, len);
    copy[len] = '\0';

    jwt_t *t = NULL;
    /* Never a NULL key here: libjwt then skips the signature check entirely. */
    if (jwt_decode(&t, copy, j->secret, (int)j->secret_len) != 0)
        return LG_EAUTH;

    int rc = LG_EAUTH;
    lg_jwt_claims c = {0};
    /* The token names its algorithm and libjwt obeys it; only HS256 is ours. */
    if (jwt_get_alg(t) != JWT_ALG_HS256)
        goto done;
    /* RFC 7515 4.1.11: crit names extensions the recipient must understand or refuse
     * the token; we implement none, so any crit (even empty or malformed) is refused */
    if (member_present(t, "crit", false))
        goto done;
    if (claim_str(t, "sub", c.sub, LG_USER_MAX) != 0)
        goto done;
    if (claim_str(t, "jti", c.jti, sizeof c.jti - 1) != 0)
        goto done;
    const char *role = jwt_get_grant(t, "role");
    if (role == NULL || role_parse(role, &c.role) != 0)
        goto done;
    if (claim_int(t, "iat", &c.iat_s) != 0 || claim_int(t, "exp", &c.exp_s) != 0)
        goto done;
    if (c.exp_s <= c.iat_s)
        goto done; /* never issued by us: exp = iat + ttl, ttl > 0 */
    /* Expired when exp <= now: a token is valid for the seconds [iat, exp). */
    if (c.exp_s <= now_s) {
        rc = LG_EEXPIRED;
        goto done;
    }
    if (check_nbf(t, now_s) != 0)
        goto done; /* not valid yet: forged, or a clock far off; either way refused */
    *out = c;
    rc = 0;
done:
    jwt_free(t);
    return rc;
}
