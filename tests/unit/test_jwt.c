/*
 * test_jwt.c - HS256 sessions: the libjwt 1.10 pitfalls are closed (alg none, algorithm
 * confusion with HS512, exp never checked, errno-reported integer claims), forged or
 * malformed tokens are LG_EAUTH, exp <= now is LG_EEXPIRED, a token whose nbf is still
 * ahead or with a crit header (RFC 7515 4.1.11: we implement no extension) is LG_EAUTH,
 * and any instance holding the secret verifies any instance's token.
 *
 * Hostile tokens are built two ways: with libjwt itself (correctly signed with our secret
 * but wrong in one respect) and by hand with base64url (alg none, tampered payloads).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "core/err.h"
#include "core/limits.h"

#define SECRET "0123456789abcdef0123456789abcdef" /* 32 bytes: LG_JWT_SECRET_MIN */
#define NOW 1700000000LL
#define TTL 900

static lg_jwt *jwt_make(const char *secret, uint32_t ttl_s)
{
    lg_jwt *j = NULL;
    assert_int_equal(lg_jwt_new(secret, strlen(secret), ttl_s, &j), 0);
    return j;
}

static int verify_str(const lg_jwt *j, const char *tok, int64_t now_s, lg_jwt_claims *c)
{
    return lg_jwt_verify(j, tok, strlen(tok), now_s, c);
}

/* A token signed by libjwt with alg and SECRET over the claims in json; caller frees. */
static char *libjwt_token(jwt_alg_t alg, const char *secret, const char *json)
{
    jwt_t *t = NULL;
    assert_int_equal(jwt_new(&t), 0);
    assert_int_equal(jwt_add_grants_json(t, json), 0);
    assert_int_equal(jwt_set_alg(t, alg, (const unsigned char *)secret, (int)strlen(secret)), 0);
    char *tok = jwt_encode_str(t);
    assert_non_null(tok);
    jwt_free(t);
    return tok;
}

/* A complete, valid claim set for NOW, as JSON. */
static const char valid_claims[] = "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":1700000900,"
                                   "\"jti\":\"00112233445566778899aabbccddeeff\",\"role\":\"user\"}";

static void b64url(const char *in, size_t len, char *out, size_t out_len)
{
    assert_non_null(sodium_bin2base64(out, out_len, (const unsigned char *)in, len,
                                      sodium_base64_VARIANT_URLSAFE_NO_PADDING));
}

static void test_issued_token_verifies_with_its_claims(void **unused)
{
    lg_jwt *j = jwt_make(SECRET, TTL);
    char tok[LG_JWT_MAX + 1];
    lg_jwt_claims issued, got;
    int n = lg_jwt_issue(j, "alice", LG_ROLE_USER, NOW, tok, sizeof tok, &issued);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(tok));
    assert_int_equal(verify_str(j, tok, NOW, &got), 0);
    assert_string_equal(got.sub, "alice");
    assert_int_equal(got.role, LG_ROLE_USER);
    assert_int_equal(got.iat_s, NOW);
    assert_int_equal(got.exp_s, NOW + TTL);
    assert_int_equal(strlen(got.jti), 32);
    assert_string_equal(got.jti, issued.jti);
    assert_string_equal(issued.sub, "alice");
    assert_int_equal(issued.exp_s, NOW + TTL);
    lg_jwt_free(j);
}

static void test_role_round_trips(void **unused)
{
    lg_jwt *j = jwt_make(SECRET, TTL);
    char tok[LG_JWT_MAX + 1];
    lg_jwt_claims got;
    assert_true(lg_jwt_issue(j, "root", LG_ROLE_ADMIN, NOW, tok, sizeof tok, NULL) > 0);
    assert_int_equal(verify_str(j, tok, NOW, &got), 0);
    assert_int_equal(got.role, LG_ROLE_ADMIN);
    assert_true(lg_jwt_issue(j, "bob", LG_ROLE_USER, NOW, tok, sizeof tok, NULL) > 0);
    assert_int_equal(verify_str(j, tok, NOW, &got), 0);
    assert_int_equal(got.role, LG_ROLE_USER);
    lg_jwt_free(j);
}

static void test_token_from_one_instance_verifies_on_another_with_the_same_secret(void **unused)
{
    lg_jwt *a = jwt_make(SECRET, TTL), *b = jwt_make(SECRET, 60);
    char tok[LG_JWT_MAX + 1];
    lg_jwt_claims got;
    assert_true(lg_jwt_issue(a, "alice", LG_ROLE_ADMIN, NOW, tok, sizeof tok, NULL) > 0);
    assert_int_equal(verify_str(b, tok, NOW + 1, &got), 0);
    assert_string_equal(got.sub, "alice");
    assert_int_equal(got.role, LG_ROLE_ADMIN);
    assert_int_equal(got.exp_s, NOW + TTL); /* the issuer's ttl, not the verifier's */
    lg_jwt_free(a);
    lg_jwt_free(b);
}

static void test_token_signed_with_another_key_is_rejected(void **unused)
{
    lg_jwt *a = jwt_make(SECRET, TTL);
    lg_jwt *b = jwt_make("another secret, 32 bytes or more!", TTL);
    char tok[LG_JWT_MAX + 1];
    lg_jwt_claims got;
    assert_true(lg_jwt_issue(b, "alice", LG_ROLE_ADMIN, NOW, tok, sizeof tok, NULL) > 0);
    assert_int_equal(verify_str(a, tok, NOW, &got), LG_EAUTH);
    assert_int_equal(verify_str(b, tok, NOW, &got), 0);
    lg_jwt_free(a);
    lg_jwt_free(b);
}

static void test_alg_none_token_is_rejected(void **unused)
{
    lg_jwt *j = jwt_make(SECRET, TTL);
    lg_jwt_claims got;
    char h[128], p[512], tok[1024];
    const char *headers[] = {"{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"none\"}",
                             "{\"alg\":\"None\",\"typ\":\"JWT\"}"};
    b64url(valid_claims, strlen(valid_claims), p, sizeof p);
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        b64url(headers[i], strlen(headers[i]), h, sizeof h);
        snprintf(tok, sizeof tok, "%s.%s.", h, p); /* empty signature */
        assert_int_equal(verify_str(j, tok, NOW, &got), LG_EAUTH);
        snprintf(tok, sizeof tok, "%s.%s", h, p); /* no signature part at all */
        assert_int_equal(verify_str(j, tok, NOW, &got), LG_EAUTH);
    }
    /* and libjwt without a key would have taken it: the pitfall is real */
    jwt_t *t = NULL;
    b64url(headers[0], strlen(headers[0]), h, sizeof h);
    snprintf(tok, sizeof tok, "%s.%s.", h, p);
    assert_int_equal(jwt_decode(&t, tok, NULL, 0), 0);
    jwt_free(t);
    lg_jwt_free(j);
}

static void test_hs512_token_made_with_the_same_secret_is_rejected(void **unused)
{
    lg_jwt *j = jwt_make(SECRET, TTL);
    lg_jwt_claims got;
    char *tok = libjwt_token(JWT_ALG_HS512, SECRET, valid_claims);
    /* libjwt alone accepts it (the token chose HS512): only the alg pin stops it */
    jwt_t *t = NULL;
    assert_int_equal(jwt_decode(&t, tok, (const unsigned char *)SECRET, strlen(SECRET)), 0);
    jwt_free(t);
    assert_int_equal(verify_str(j, tok, NOW, &got), LG_EAUTH);
    free(tok);
    /* the same claims under HS256 pass, so the rejection above is the algorithm's */
    tok = libjwt_token(JWT_ALG_HS256, SECRET, valid_claims);
    assert_int_equal(verify_str(j, tok, NOW, &got), 0);
    free(tok);
    lg_jwt_free(j);
}

/* exp = iat + TTL: valid at exp - 1, expired at exp and after. */
static void test_token_expires_exactly_at_exp(void **unused)
{
    lg_jwt *j = jwt_make(SECRET, TTL);
    char tok[LG_JWT_MAX + 1];
    lg_jwt_claims got;
    assert_true(lg_jwt_issue(j, "alice", LG_ROLE_USER, NOW, tok, sizeof tok, NULL) > 0);
    int64_t exp = NOW + TTL;
    assert_int_equal(verify_str(j, tok, exp - 1, &got), 0);
    assert_int_equal(verify_str(j, tok, exp, &got), LG_EEXPIRED);
    assert_int_equal(verify_str(j, tok, exp + 1, &got), LG_EEXPIRED);
    lg_jwt_free(j);
}

/* A copy of tok whose payload has "alice" replaced by "mallory", original signature. */
static void tamper_sub(const char *tok, char *out, size_t out_len)
{
    const char *dot1 = strchr(tok, '.');
    assert_non_null(dot1);
    const char *dot2 = strchr(dot1 + 1, '.');
    assert_non_null(dot2);
    char json[1024], edited[1024], p[1400];
    size_t json_len = 0;
    assert_int_equal(sodium_base642bin((unsigned char *)json, sizeof json - 1, dot1 + 1,
                                       (size_t)(dot2 - dot1 - 1), NULL, &json_len, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    json[json_len] = '\0';
    char *at = strstr(json, "\"alice\"");
    assert_non_null(at);
    snprintf(edited, sizeof edited, "%.*s\"mallory\"%s", (int)(at - json), json, at + 7);
    b64url(edited, strlen(edited), p, sizeof p);
    snprintf(out, out_len, "%.*s.%s%s", (int)(dot1 - tok), tok, p, dot2);
}

static void test_tampered_payload_or_signature_is_rejected(void **unused)
{
    lg_jwt *j = jwt_make(SECRET, TTL);
    char tok[LG_JWT_MAX + 1], bad[LG_JWT_MAX + 1];
    lg_jwt_claims got;
    assert_true(lg_jwt_issue(j, "alice", LG_ROLE_USER, NOW, tok, sizeof tok, NULL) > 0);
    tamper_sub(tok, bad, sizeof bad);
    assert_non_null(strstr(bad, "."));
    assert_string_not_equal(bad, tok);
    assert_int_equal(verify_str(j, bad, NOW, &got), LG_EAUTH);

    /* one flipped character in the signature (not the last one: its low bits are padding) */
    memcpy(bad, tok, strlen(tok) + 1);
    char *sig = strrchr(bad, '.') + 1;
    sig[5] = sig[5] == 'A' ? 'B' : 'A';
    assert_int_equal(verify_str(j, bad, NOW, &got), LG_EAUTH);
    lg_jwt_free(j);
}

static void test_truncated_garbage_and_empty_tokens_are_rejected(void **unused)
{
    lg_jwt *j = jwt_make(SECRET, TTL);
    char tok[LG_JWT_MAX + 1];
    lg_jwt_claims got;
    int n = lg_jwt_issue(j, "alice", LG_ROLE_USER, NOW, tok, sizeof tok, NULL);
    assert_true(n > 10);
    assert_int_equal(lg_jwt_verify(j, tok, (size_t)n - 1, NOW, &got), LG_EAUTH);
    assert_int_equal(lg_jwt_verify(j, tok, (size_t)n - 10, NOW, &got), LG_EAUTH);
    size_t head_payload = (size_t)(strrchr(tok, '.') - tok); /* "h.p" */
    assert_int_equal(lg_jwt_verify(j, tok, head_payload, NOW, &got), LG_EAUTH);
    assert_int_equal(lg_jwt_verify(j, tok, head_payload + 1, NOW, &got), LG_EAUTH);
    assert_int_equal(lg_jwt_verify(j, tok, 0, NOW, &got), LG_EAUTH);
    assert_int_equal(lg_jwt_verify(j, NULL, 0, NOW, &got), LG_EAUTH);
    assert_int_equal(verify_str(j, "garbage", NOW, &got), LG_EAUTH);
    assert_int_equal(verify_str(j, "a.b.c", NOW, &got), LG_EAUTH);
    assert_int_equal(verify_str(j, "..", NOW, &got), LG_EAUTH);
    /* an embedded NUL must not cut the token short into something else */
    char nul[LG_JWT_MAX + 2];
    memcpy(nul, tok, (size_t)n);
    nul[n] = '\0';
    nul[n + 1] = 'x';
    assert_int_equal(lg_jwt_verify(j, nul, (size_t)n + 2, NOW, &got), LG_EAUTH);
    /* the token need not be NUL-terminated: only len bytes count */
    char framed[LG_JWT_MAX + 8];
    memcpy(framed, tok, (size_t)n);
    memcpy(framed + n, "\"}xyz", 6);
    assert_int_equal(lg_jwt_verify(j, framed, (size_t)n, NOW, &got), 0);
    lg_jwt_free(j);
}

/* Correctly signed tokens around LG_JWT_MAX: N (or N-1, base64 skips some lengths)
 * passes, the next size up is refused before decoding. */
static void test_token_over_lg_jwt_max_is_rejected_even_when_signed(void **unused)
{
    lg_jwt *j = jwt_make(SECRET, TTL);
    lg_jwt_claims got;
    char json[4096], pad[3000];
    char *fits = NULL, *over = NULL;
    for (size_t k = 1000; k < sizeof pad - 1 && over == NULL; k++) {
        memset(pad, 'x', k);
        pad[k] = '\0';
        snprintf(json, sizeof json,
                 "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":1700000900,"
                 "\"jti\":\"00112233445566778899aabbccddeeff\",\"role\":\"user\",\"pad\":\"%s\"}",
                 pad);
        char *tok = libjwt_token(JWT_ALG_HS256, SECRET, json);
        if (strlen(tok) <= LG_JWT_MAX) {
            free(fits);
            fits = tok;
        } else {
            over = tok;
        }
    }
    assert_non_null(fits);
    assert_non_null(over);
    assert_true(strlen(fits) >= LG_JWT_MAX - 1);
    assert_true(strlen(over) <= LG_JWT_MAX + 2);
    assert_int_equal(verify_str(j, fits, NOW, &got), 0);
    assert_int_equal(verify_str(j, over, NOW, &got), LG_EAUTH);
    /* libjwt itself would accept the long one */
    jwt_t *t = NULL;
    assert_int_equal(jwt_decode(&t, over, (const unsigned char *)SECRET, strlen(SECRET)), 0);
    jwt_free(t);
    free(fits);
    free(over);
    lg_jwt_free(j);
}

/* Signed with our secret and HS256, but a required claim is missing or mistyped. */
static void test_signed_token_with_missing_or_bad_claims_is_rejected(void **unused)
{
    static const char *const claim_sets[] = {
        /* no exp */
        "{\"sub\":\"alice\",\"iat\":1700000000,\"jti\":\"0011\",\"role\":\"user\"}",
        /* no sub */
        "{\"iat\":1700000000,\"exp\":1700000900,\"jti\":\"0011\",\"role\":\"user\"}",
        /* no iat */
        "{\"sub\":\"alice\",\"exp\":1700000900,\"jti\":\"0011\",\"role\":\"user\"}",
        /* no role */
        "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":1700000900,\"jti\":\"0011\"}",
        /* no jti */
        "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":1700000900,\"role\":\"user\"}",
        /* exp as a string: jwt_get_grant_int says 0 with errno 0 */
        "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":\"1700000900\",\"jti\":\"0011\","
        "\"role\":\"user\"}",
        /* iat as a string, and iat 0: both read as 0 by jwt_get_grant_int */
        "{\"sub\":\"alice\",\"iat\":\"1700000000\",\"exp\":1700000900,\"jti\":\"0011\","
        "\"role\":\"user\"}",
        "{\"sub\":\"alice\",\"iat\":0,\"exp\":1700000900,\"jti\":\"0011\",\"role\":\"user\"}",
        /* exp as a real number */
        "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":1700000900.5,\"jti\":\"0011\","
        "\"role\":\"user\"}",
        /* sub not a string */
        "{\"sub\":42,\"iat\":1700000000,\"exp\":1700000900,\"jti\":\"0011\",\"role\":\"user\"}",
        /* empty sub */
        "{\"sub\":\"\",\"iat\":1700000000,\"exp\":1700000900,\"jti\":\"0011\",\"role\":\"user\"}",
        /* unknown role */
        "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":1700000900,\"jti\":\"0011\","
        "\"role\":\"root\"}",
        /* exp before iat */
        "{\"sub\":\"alice\",\"iat\":1700000900,\"exp\":1700000800,\"jti\":\"0011\","
        "\"role\":\"user\"}",
    };
    lg_jwt *j = jwt_make(SECRET, TTL);
    lg_jwt_claims got;
    for (size_t i = 0; i < sizeof claim_sets / sizeof claim_sets[0]; i++) {
        char *tok = libjwt_token(JWT_ALG_HS256, SECRET, claim_sets[i]);
        int rc = verify_str(j, tok, NOW, &got);
        if (rc != LG_EAUTH)
            fail_msg("claim set %zu accepted (rc %d): %s", i, rc, claim_sets[i]);
        free(tok);
    }
    /* the control: a complete set passes */
    char *tok = libjwt_token(JWT_ALG_HS256, SECRET, valid_claims);
    assert_int_equal(verify_str(j, tok, NOW, &got), 0);
    free(tok);
    lg_jwt_free(j);
}

static void test_secret_shorter_than_minimum_is_refused(void **unused)
{
    lg_jwt *j = NULL;
    const char s[] = SECRET "x";
    assert_int_equal(lg_jwt_new(s, LG_JWT_SECRET_MIN - 1, TTL, &j), LG_EINVAL);
    assert_null(j);
    assert_int_equal(lg_jwt_new(s, LG_JWT_SECRET_MIN, TTL, &j), 0);
    lg_jwt_free(j);
    j = NULL;
    assert_int_equal(lg_jwt_new(s, LG_JWT_SECRET_MIN + 1, TTL, &j), 0);
    lg_jwt_free(j);
    j = NULL;
    assert_int_equal(lg_jwt_new(s, LG_JWT_SECRET_MIN, 0, &j), LG_EINVAL); /* ttl 0 */
    assert_null(j);
    lg_jwt_free(NULL);
}

static void test_issue_refuses_bad_subject_and_small_buffer(void **unused)
{
    lg_jwt *j = jwt_make(SECRET, TTL);
    char tok[LG_JWT_MAX + 1], longname[LG_USER_MAX + 2];
    assert_int_equal(lg_jwt_issue(j, "", LG_ROLE_USER, NOW, tok, sizeof tok, NULL), LG_EINVAL);
    memset(longname, 'a', LG_USER_MAX + 1);
    longname[LG_USER_MAX + 1] = '\0';
    assert_int_equal(lg_jwt_issue(j, longname, LG_ROLE_USER, NOW, tok, sizeof tok, NULL),
                     LG_EINVAL);
    longname[LG_USER_MAX] = '\0'; /* exactly LG_USER_MAX bytes: fine */
    lg_jwt_claims got;
    assert_true(lg_jwt_issue(j, longname, LG_ROLE_USER, NOW, tok, sizeof tok, NULL) > 0);
    assert_int_equal(verify_str(j, tok, NOW, &got), 0);
    assert_string_equal(got.sub, longname);
    int n = (int)strlen(tok);
    char small[64];
    assert_int_equal(lg_jwt_issue(j, "alice", LG_ROLE_USER, NOW, small, sizeof small, NULL),
                     LG_ETOOBIG);
    assert_true(n > (int)sizeof small);
    lg_jwt_free(j);
}

static void test_tokens_issued_in_the_same_second_have_distinct_jti(void **unused)
{
    lg_jwt *j = jwt_make(SECRET, TTL);
    char a[LG_JWT_MAX + 1], b[LG_JWT_MAX + 1];
    lg_jwt_claims ca, cb;
    assert_true(lg_jwt_issue(j, "alice", LG_ROLE_USER, NOW, a, sizeof a, &ca) > 0);
    assert_true(lg_jwt_issue(j, "alice", LG_ROLE_USER, NOW, b, sizeof b, &cb) > 0);
    assert_string_not_equal(ca.jti, cb.jti);
    assert_string_not_equal(a, b);
    lg_jwt_free(j);
}

static void test_random_secret_is_64_hex_chars_and_fresh(void **unused)
{
    char a[65], b[65];
    lg_jwt_random_secret(a, sizeof a);
    lg_jwt_random_secret(b, sizeof b);
    assert_int_equal(strlen(a), 64);
    assert_int_equal(strspn(a, "0123456789abcdef"), 64);
    assert_string_not_equal(a, b);
    lg_jwt *j = NULL;
    assert_int_equal(lg_jwt_new(a, strlen(a), TTL, &j), 0); /* usable as a secret */
    lg_jwt_free(j);
}

/* A token with header and claims given as JSON text, signed by hand with HS256 and key:
 * libjwt cannot write every header a hostile client can. Returns its length. */
static size_t hand_token(const char *header, const char *claims, const char *key, char *out,
                         size_t out_len)
{
    char h[512], p[1024], input[1600], sig[64];
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;

    b64url(header, strlen(header), h, sizeof h);
    b64url(claims, strlen(claims), p, sizeof p);
    snprintf(input, sizeof input, "%s.%s", h, p);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)input, strlen(input));
    crypto_auth_hmacsha256_final(&st, mac);
    b64url((const char *)mac, sizeof mac, sig, sizeof sig);
    int n = snprintf(out, out_len, "%s.%s", input, sig);
    assert_true(n > 0 && (size_t)n < out_len);
    return (size_t)n;
}

static void test_token_whose_nbf_is_ahead_is_rejected_until_nbf(void **unused)
{
    lg_jwt *j = jwt_make(SECRET, TTL);
    lg_jwt_claims got;
    char *tok = libjwt_token(JWT_ALG_HS256, SECRET,
                             "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":1700000900,"
                             "\"nbf\":1700000060,\"jti\":\"0011\",\"role\":\"admin\"}");

    assert_int_equal(verify_str(j, tok, NOW, &got), LG_EAUTH);
    assert_int_equal(verify_str(j, tok, NOW + 59, &got), LG_EAUTH);
    assert_int_equal(verify_str(j, tok, NOW + 60, &got), 0); /* valid from nbf on */
    assert_int_equal(verify_str(j, tok, NOW + 61, &got), 0);
    free(tok);
    /* nbf now or in the past: valid */
    tok = libjwt_token(JWT_ALG_HS256, SECRET,
                       "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":1700000900,"
                       "\"nbf\":1700000000,\"jti\":\"0011\",\"role\":\"user\"}");
    assert_int_equal(verify_str(j, tok, NOW, &got), 0);
    free(tok);
    lg_jwt_free(j);
}

static void test_token_whose_nbf_is_not_an_integer_is_rejected(void **unused)
{
    static const char *const claim_sets[] = {
        "{\"sub\":\"a\",\"iat\":1700000000,\"exp\":1700000900,\"nbf\":\"1700000000\","
        "\"jti\":\"0011\",\"role\":\"user\"}",
        "{\"sub\":\"a\",\"iat\":1700000000,\"exp\":1700000900,\"nbf\":1699999999.5,"
        "\"jti\":\"0011\",\"role\":\"user\"}",
        "{\"sub\":\"a\",\"iat\":1700000000,\"exp\":1700000900,\"nbf\":null,"
        "\"jti\":\"0011\",\"role\":\"user\"}",
        "{\"sub\":\"a\",\"iat\":1700000000,\"exp\":1700000900,\"nbf\":[1],"
        "\"jti\":\"0011\",\"role\":\"user\"}",
    };
    lg_jwt *j = jwt_make(SECRET, TTL);
    lg_jwt_claims got;
    char tok[LG_JWT_MAX + 1];

    for (size_t i = 0; i < sizeof claim_sets / sizeof claim_sets[0]; i++) {
        hand_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", claim_sets[i], SECRET, tok, sizeof tok);
        if (verify_str(j, tok, NOW, &got) != LG_EAUTH)
            fail_msg("nbf of claim set %zu accepted: %s", i, claim_sets[i]);
    }
    lg_jwt_free(j);
}

static void test_token_with_a_crit_header_is_rejected(void **unused)
{
    static const char *const headers[] = {
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"crit\":[\"exp\"]}",
        "{\"alg\":\"HS256\",\"crit\":[\"x-ext\"],\"x-ext\":true}",
        "{\"alg\":\"HS256\",\"crit\":[]}",
        "{\"alg\":\"HS256\",\"crit\":\"x-ext\"}",
        "{\"alg\":\"HS256\",\"crit\":null}",
    };
    lg_jwt *j = jwt_make(SECRET, TTL);
    lg_jwt_claims got;
    char tok[LG_JWT_MAX + 1];

    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        hand_token(headers[i], valid_claims, SECRET, tok, sizeof tok);
        if (verify_str(j, tok, NOW, &got) != LG_EAUTH)
            fail_msg("header %zu accepted: %s", i, headers[i]);
    }
    /* the control: the same hand signing without crit passes, so the refusals above are
     * crit's, not the signature's */
    hand_token("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"x\"}", valid_claims, SECRET, tok,
               sizeof tok);
    assert_int_equal(verify_str(j, tok, NOW, &got), 0);
    lg_jwt_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issued_token_verifies_with_its_claims),
        cmocka_unit_test(test_role_round_trips),
        cmocka_unit_test(test_token_from_one_instance_verifies_on_another_with_the_same_secret),
        cmocka_unit_test(test_token_signed_with_another_key_is_rejected),
        cmocka_unit_test(test_alg_none_token_is_rejected),
        cmocka_unit_test(test_hs512_token_made_with_the_same_secret_is_rejected),
        cmocka_unit_test(test_token_expires_exactly_at_exp),
        cmocka_unit_test(test_tampered_payload_or_signature_is_rejected),
        cmocka_unit_test(test_truncated_garbage_and_empty_tokens_are_rejected),
        cmocka_unit_test(test_token_over_lg_jwt_max_is_rejected_even_when_signed),
        cmocka_unit_test(test_signed_token_with_missing_or_bad_claims_is_rejected),
        cmocka_unit_test(test_secret_shorter_than_minimum_is_refused),
        cmocka_unit_test(test_issue_refuses_bad_subject_and_small_buffer),
        cmocka_unit_test(test_tokens_issued_in_the_same_second_have_distinct_jti),
        cmocka_unit_test(test_random_secret_is_64_hex_chars_and_fresh),
        cmocka_unit_test(test_token_whose_nbf_is_ahead_is_rejected_until_nbf),
        cmocka_unit_test(test_token_whose_nbf_is_not_an_integer_is_rejected),
        cmocka_unit_test(test_token_with_a_crit_header_is_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
