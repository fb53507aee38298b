/*
 * event.h - the two events of DESIGN.md and their JSON codec.
 *
 * attempt (topic lg.attempts, key = user):
 *   {"v":1,"id":"..","ts":<ms>,"user":"alice","ip":"203.0.113.7","ok":false,
 *    "outcome":"fail","src":"api-1"}
 * block (topic lg.blocks, key = lg_block_key(): "user:alice", compacted; a null value =
 * unblocked):
 *   {"v":1,"user":"alice","since":<ms>,"until":<ms|0>,"level":1,
 *    "reason":"5 failures in 60s","rule":"user"}
 *   For rule "ip" the block carries "ip" instead of "user"; for "user_ip" both.
 *
 * Decoding is strict (jansson, JSON_REJECT_DUPLICATES): invalid UTF-8, NUL, control
 * characters in user, out-of-range lengths, bad IPs are errors naming the field and the
 * reason; broken JSON names the byte offset. Unknown fields are ignored. Addresses are
 * decoded into their canonical text (core/addr.h), whatever their spelling on the wire.
 */
#ifndef LG_EVENT_H
#define LG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

/* Largest accepted event time: 9999-12-31T23:59:59.999Z, so a ts always formats as a
 * four-digit-year date and a typo of extra digits is caught. */
#define LG_TS_MAX_MS 253402300799999LL
/* Longest lg_block_key(): "<rule>:<user>|<ip>" (the rule prefix is not in LG_KEY_MAX). */
#define LG_BLOCK_KEY_MAX (LG_RULE_NAME_MAX + 1 + LG_KEY_MAX)

typedef enum {
    LG_OUTCOME_OK = 0,
    LG_OUTCOME_FAIL = 1,
    LG_OUTCOME_BLOCKED = 2, /* arrived while blocked: recorded, never counted */
} lg_outcome;

typedef struct lg_attempt {
    char id[LG_ID_MAX + 1];     /* "" when absent (replay may omit it) */
    int64_t ts_ms;              /* event time, ms since epoch */
    char user[LG_USER_MAX + 1]; /* NUL-terminated; user_len bytes of valid UTF-8 */
    uint32_t user_len;
    char ip[LG_IP_MAX + 1];     /* "" when absent; canonical text (core/addr.h) */
    bool ok;
    lg_outcome outcome;         /* decided by the detector; input value is ignored, */
    bool refused;               /* but "blocked": refused where it entered, never
                                   verified, so judged blocked and never counted */
    char src[LG_SRC_MAX + 1];   /* "" when absent */
} lg_attempt;

typedef struct lg_block {
    char rule[LG_RULE_NAME_MAX + 1];
    char user[LG_USER_MAX + 1]; /* "" for rule ip */
    char ip[LG_IP_MAX + 1];     /* "" for rule user; the rule's network text of the
                                 * address (addr.h: "192.0.2.1", "2001:db8::/64") */
    int64_t since_ms;
    int64_t until_ms;           /* 0 = permanent */
    uint32_t level;             /* 1, 2, 3 ... (escalation) */
    char reason[LG_REASON_MAX + 1];
} lg_block;

/* Which fields lg_attempt_decode requires. The bus format needs all of v, id, ts, user,
 * ip, ok; replay input needs only ts, user, ok (DESIGN.md command table). */
typedef enum {
    LG_ATTEMPT_WIRE = 0,   /* full event as published on lg.attempts */
    LG_ATTEMPT_REPLAY = 1, /* ts, user, ok required; ip, id optional; outcome ignored */
} lg_attempt_mode;

/* Decodes one JSON attempt of len bytes (need not be NUL-terminated) into *out.
 * On failure returns LG_EINVAL (LG_ETOOBIG for input over LG_EVENT_JSON_MAX... callers
 * bound lines themselves) and writes a one-line reason into err, e.g.
 * "field 'user': longer than 128 bytes" or "invalid JSON at byte 17: ...". */
int lg_attempt_decode(const char *json, size_t len, lg_attempt_mode mode, lg_attempt *out,
                      char *err, size_t err_len);

/* Encodes a as one JSON object (no newline) into buf. Returns the length written
 * (< buf_len, NUL-terminated) or LG_ETOOBIG. */
int lg_attempt_encode(const lg_attempt *a, char *buf, size_t buf_len);

int lg_block_decode(const char *json, size_t len, lg_block *out, char *err, size_t err_len);
int lg_block_encode(const lg_block *b, char *buf, size_t buf_len);

/* Field validators, shared with the HTTP layer. Each returns true when valid and
 * otherwise writes the reason (without the field name) into err. */
bool lg_user_valid(const char *user, size_t len, char *err, size_t err_len);
bool lg_ip_valid(const char *ip, size_t len, char *err, size_t err_len);
/* An instance name (--name, bus.client_id): the "src" of its attempts and the start of
 * their ids, which must be printable ASCII downstream. 1..LG_SRC_MAX bytes of
 * A-Z a-z 0-9 . _ - only. */
bool lg_src_valid(const char *src, size_t len, char *err, size_t err_len);

const char *lg_outcome_name(lg_outcome o);

/* The key under which a block is published on lg.blocks, cached by the API and kept in
 * the store: "<rule>:" and the rule's key, so that no user name, whatever its bytes, can
 * stand for another rule's key: "user:<user>" for rule "user", "ip:<ip>" for rule "ip",
 * "user_ip:<user>|<ip>" for rule "user_ip" (an address or network text holds no '|', so
 * the last '|' splits them), "<rule>:<user>|<ip>" (or the one present) for any other.
 * Returns the length written (NUL-terminated) or LG_ETOOBIG; LG_EINVAL when the block
 * lacks a field its rule's key needs. */
int lg_block_key(const lg_block *b, char *buf, size_t buf_len);

/* A key read back from lg.blocks (a tombstone's: a block's own key is derived from its
 * value) in today's form, into buf: a key that begins with "user:", "ip:" or "user_ip:"
 * is copied; any other was written before keys had namespaces, when rule user's key
 * was the bare user, and becomes "user:<key>". key and buf may be the same buffer.
 * Returns the length written (NUL-terminated), LG_EINVAL for an empty key or a legacy
 * key longer than a user, LG_ETOOBIG when buf is short. */
int lg_block_key_upgrade(const char *key, size_t len, char *buf, size_t buf_len);

#endif
