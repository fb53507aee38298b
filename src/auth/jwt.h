/*
 * jwt.h - stateless sessions: HS256 JSON Web Tokens on libjwt 1.10, with the algorithm
 * pinned and the claims checked here (libjwt 1.10 checks neither exp nor the algorithm:
 * ../shared/research/libs.md §3).
 *
 * Claims: sub (user), iat, exp (iat + ttl), jti (random, 128 bits hex), role
 * ("user"|"admin"). Verification rejects alg none, any algorithm but HS256, a bad
 * signature, a missing or expired exp, an nbf still ahead (or not an integer), a crit
 * header (we implement no extension), a missing sub. Any instance holding the same
 * secret verifies any instance's token. Thread-safe: lg_jwt is read-only after _new.
 */
#ifndef LG_JWT_H
#define LG_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "store/store.h"

typedef struct lg_jwt lg_jwt;

#define LG_JWT_SECRET_MIN 32 /* bytes: HS256 keys shorter than the MAC are weak */

typedef struct lg_jwt_claims {
    char sub[LG_USER_MAX + 1];
    lg_role role;
    int64_t iat_s, exp_s;
    char jti[33];
} lg_jwt_claims;

/* secret: secret_len >= LG_JWT_SECRET_MIN bytes (copied). ttl_s > 0. */
int lg_jwt_new(const void *secret, size_t secret_len, uint32_t ttl_s, lg_jwt **out);
void lg_jwt_free(lg_jwt *j);

/* Fills buf with 32 random bytes rendered as 64 hex chars + NUL (buf_len >= 65), for
 * `run` without a configured secret. */
void lg_jwt_random_secret(char *buf, size_t buf_len);

/* Issues a token for (sub, role) at now_s into buf. Returns its length or LG_E*. */
int lg_jwt_issue(const lg_jwt *j, const char *sub, lg_role role, int64_t now_s, char *buf,
                 size_t buf_len, lg_jwt_claims *claims_out /* may be NULL */);

/* Verifies token (len bytes) at now_s. 0 and *out on success; LG_EAUTH for anything
 * forged or malformed, or not valid yet (nbf > now_s); LG_EEXPIRED when exp <= now_s. */
int lg_jwt_verify(const lg_jwt *j, const char *token, size_t len, int64_t now_s,
                  lg_jwt_claims *out);

#endif
