/*
 * api_reporter.c - who may report an attempt judged elsewhere (POST /v1/attempts): a
 * reporter, i.e. the bearer of a reporter key (`loginguard keys add`) or of an admin JWT.
 *
 * A key is told from a JWT by its prefix ("lgk_", never the start of a JWT, whose
 * header is base64url of '{'), so each request pays for one check only: a BLAKE2b and a
 * probe of the in-memory table (reporters_cache.h), or one HS256 verification.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/reporters.h"
#include "core/clock.h"
#include "core/lgassert.h"
#include "roles/api_int.h"

/* actor = kind + name, truncated to LG_ACTOR_MAX (names are bounded below it anyway) */
static void actor_set(char *actor, size_t actor_len, const char *kind, const char *name)
{
    size_t k = strlen(kind), n = strnlen(name, actor_len - 1 - k);

    memcpy(actor, kind, k);
    memcpy(actor + k, name, n);
    actor[k + n] = '\0';
}

bool lg_api__reporter(lg_api *a, lg_http_req *r, char *actor, size_t actor_len)
{
    const char *h = lg_http_req_header(r, "Authorization");
    char name[LG_REPORTER_NAME_MAX + 1];
    lg_jwt_claims claims;
    size_t len;

    lg_assert(actor != NULL);
    lg_assert(actor_len >= LG_ACTOR_MAX + 1);
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        lg_http_req_header_add(r, "WWW-Authenticate", "Bearer");
        lg_http_req_respond_error(r, LG_HTTP_E_UNAUTHORIZED,
                                  "reporting an attempt needs a reporter key or an admin token");
        return false;
    }
    h += 7;
    while (*h == ' ')
        h++;
    len = strlen(h);
    if (len >= LG_REPORTER_KEY_PREFIX_LEN &&
        memcmp(h, LG_REPORTER_KEY_PREFIX, LG_REPORTER_KEY_PREFIX_LEN) == 0) {
        if (lg_reporters_cache_check(a->reporters, h, len, lg_now_ms(), name, sizeof name)) {
            actor_set(actor, actor_len, "key:", name);
            return true;
        }
    } else if (len <= LG_JWT_MAX &&
               lg_jwt_verify(a->jwt, h, len, lg_now_ms() / 1000, &claims) == 0 &&
               claims.role == LG_ROLE_ADMIN) {
        actor_set(actor, actor_len, "jwt:", claims.sub);
        return true;
    }
    /* unknown or deleted key, forged or expired token, or a user's token */
    lg_http_req_header_add(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
    lg_http_req_respond_error(r, LG_HTTP_E_UNAUTHORIZED,
                              "not a reporter key, nor an admin token");
    return false;
}
