/*
 * gate.h - admission of password checks: concurrency never buys extra guesses.
 *
 * The detector decides blocks from the bus, so between the threshold-th failure and the
 * block reaching an API's blocklist there is a gap; and logins being verified at the same
 * moment are invisible to it. Without a gate, 200 concurrent wrong passwords for one user
 * were 62 verifications. The gate is an API instance's own, exact mirror of rule user for
 * the attempts that pass through it: a login is admitted to a password check only while
 * failures within the window plus checks in flight stay below threshold, and once the
 * threshold-th failure is recorded the user is refused locally (pending block) until the
 * block's first duration ends or an unblock arrives. So at most threshold passwords are
 * verified per window, and a right password after the threshold-th failure is refused.
 *
 * Stamps: lg_gate_complete gives each verified attempt its ts, strictly increasing per
 * user, so the mirror and the detector (which judges by ts, ties to the success) see one
 * order. Memory: LG_GATE_ENTRIES_MAX users at once, in LG_GATE_WAYS-way buckets; a full
 * bucket evicts its least recently active user with nothing in flight (counted), and when
 * every way has a check in flight the login goes ungated (counted: the detector still
 * blocks it, only the bound on guesses loosens for that user).
 *
 * Thread-safe (striped locks).
 */
#ifndef LG_GATE_H
#define LG_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* failures remembered per user: a threshold above this leaves the gate off (logged) */
#define LG_GATE_FAILS_MAX 16
/* users mirrored at once: those with a recent failure or a check in flight */
#define LG_GATE_ENTRIES_MAX (1u << 16)
/* entries of one bucket: the bound on the work of one lookup */
#define LG_GATE_WAYS 8

typedef struct lg_gate lg_gate;

typedef struct lg_gate_conf {
    uint32_t threshold;    /* rule user's; 1..LG_GATE_FAILS_MAX */
    int64_t window_ms;
    int64_t block_for_ms;  /* first-level duration; 0 = permanent */
    bool reset_on_success;
    size_t entries_max;    /* 0 = LG_GATE_ENTRIES_MAX */
} lg_gate_conf;

typedef struct lg_gate_stats {
    uint64_t admitted, refused, pending_blocks, evicted, ungated;
} lg_gate_stats;

typedef enum {
    LG_GATE_ADMIT = 0,  /* go on: verify the password */
    LG_GATE_REFUSE = 1, /* answer 423 without hashing; *until_ms says until when */
    LG_GATE_OFF = 2,    /* not tracked (table full): go on, ungated */
} lg_gate_verdict;

/* LG_EINVAL when the conf cannot be mirrored (threshold over LG_GATE_FAILS_MAX). */
int lg_gate_new(const lg_gate_conf *conf, lg_gate **out);
void lg_gate_free(lg_gate *g); /* NULL is a no-op */

/* Before a password check. LG_GATE_ADMIT reserves a slot that lg_gate_complete or
 * lg_gate_release must return. *until_ms (REFUSE only): end of the refusal, 0 = none. */
lg_gate_verdict lg_gate_admit(lg_gate *g, const char *user, size_t user_len, int64_t now_ms,
                              int64_t *until_ms);

/* After the check of a login admitted with LG_GATE_ADMIT (only then) (ok: the password was right): returns the slot,
 * stamps *ts_ms and records the outcome. Returns false when the result must not stand
 * (a pending block covers *ts_ms: answer 423 with *until_ms, publish it as blocked). */
bool lg_gate_complete(lg_gate *g, const char *user, size_t user_len, bool ok, int64_t now_ms,
                      int64_t *ts_ms, int64_t *until_ms);

/* Returns a slot of LG_GATE_ADMIT without an outcome (the check did not happen). */
void lg_gate_release(lg_gate *g, const char *user, size_t user_len);

/* An attempt judged elsewhere (a reporter) at ts_ms: mirrored like a completed check.
 * Returns false when a pending block covers it (answer 423, publish it as blocked). */
bool lg_gate_report(lg_gate *g, const char *user, size_t user_len, bool ok, int64_t ts_ms,
                    int64_t now_ms, int64_t *until_ms);

/* The user was unblocked: forget its pending block and failures. */
void lg_gate_forget(lg_gate *g, const char *user, size_t user_len);

void lg_gate_stats_get(lg_gate *g, lg_gate_stats *out);

#endif
