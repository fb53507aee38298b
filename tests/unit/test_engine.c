/*
 * test_engine.c - the detection engine at every boundary of DESIGN.md "Detection
 * semantics": window edges (59 999 ms blocks, 60 000 ms does not), thresholds N-1/N,
 * resets, late events, BLOCKED attempts, since/until, escalation and its cap, permanent
 * blocks, the ip and user_ip rules, loaded blocks, unblock, idle eviction, key parsing.
 * Full tables (keys_max): test_engine_full.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/engine.h"
#include "core/err.h"

#define T0 1700000000000LL /* an arbitrary epoch ms */
#define MIN_MS (60LL * 1000)
#define HOUR_MS (60 * MIN_MS)

typedef struct fx {
    lg_engine *e;
    lg_block blocks[LG_RULES_MAX];
    size_t n_blocks;
} fx;

static lg_engine_conf conf_user(uint32_t threshold, int64_t window_ms, int64_t block_for_ms)
{
    lg_engine_conf c;

    lg_engine_conf_default(&c);
    c.rules[0].threshold = threshold;
    c.rules[0].window_ms = window_ms;
    c.rules[0].block_for_ms = block_for_ms;
    for (size_t i = 0; i < c.n_rules; i++)
        c.rules[i].keys_max = 4096; /* small tables: tests stay light under ASan */
    return c;
}

static void fx_open(fx *f, const lg_engine_conf *c)
{
    char err[256] = "";

    memset(f, 0, sizeof *f);
    int rc = lg_engine_new(c, &f->e, err, sizeof err);
    if (rc != 0)
        fail_msg("lg_engine_new: %s", err);
}

static void fx_close(fx *f)
{
    lg_engine_free(f->e);
    f->e = NULL;
}

/* Judges one attempt; returns its outcome, leaves the blocks it decided in f. */
static lg_outcome attempt(fx *f, const char *user, const char *ip, int64_t ts_ms, bool ok)
{
    lg_attempt a;

    memset(&a, 0, sizeof a);
    snprintf(a.user, sizeof a.user, "%s", user);
    a.user_len = (uint32_t)strlen(a.user);
    snprintf(a.ip, sizeof a.ip, "%s", ip);
    a.ts_ms = ts_ms;
    a.ok = ok;
    a.outcome = LG_OUTCOME_OK; /* input value is ignored */
    assert_int_equal(lg_engine_judge(f->e, &a, f->blocks, LG_RULES_MAX, &f->n_blocks), 0);
    return a.outcome;
}

static lg_outcome fail_at(fx *f, const char *user, int64_t ts_ms)
{
    return attempt(f, user, "203.0.113.7", ts_ms, false);
}

/* n failures of user at ts, ts+step, ...; asserts none but possibly the last blocks.
 * Returns the number of blocks the last one decided. */
static size_t fail_n(fx *f, const char *user, int64_t ts_ms, int64_t step_ms, int n)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(fail_at(f, user, ts_ms + i * step_ms), LG_OUTCOME_FAIL);
        if (i + 1 < n)
            assert_int_equal(f->n_blocks, 0);
    }
    return f->n_blocks;
}

static lg_engine_stats stats(const fx *f)
{
    lg_engine_stats s;
    lg_engine_stats_get(f->e, &s);
    return s;
}

/* An attempt refused where it entered (published "blocked"): recorded blocked, never
 * counted as a failure, never resets as a success. */
static lg_outcome refused_at(fx *f, const char *user, int64_t ts_ms, bool ok)
{
    lg_attempt a;

    memset(&a, 0, sizeof a);
    snprintf(a.user, sizeof a.user, "%s", user);
    a.user_len = (uint32_t)strlen(a.user);
    a.ts_ms = ts_ms;
    a.ok = ok;
    a.refused = true;
    assert_int_equal(lg_engine_judge(f->e, &a, f->blocks, LG_RULES_MAX, &f->n_blocks), 0);
    return a.outcome;
}

static void test_refused_attempts_never_count(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 1000, 4), 0);
    for (int i = 0; i < 10; i++) /* 10 refused failures: no block */
        assert_int_equal(refused_at(&f, "alice", T0 + 4000 + i, false), LG_OUTCOME_BLOCKED);
    assert_int_equal(f.n_blocks, 0);
    /* a refused success does not reset: the 5th real failure blocks */
    assert_int_equal(refused_at(&f, "alice", T0 + 5000, true), LG_OUTCOME_BLOCKED);
    assert_int_equal(fail_n(&f, "alice", T0 + 6000, 1000, 1), 1);
    assert_int_equal(f.blocks[0].since_ms, T0 + 6000);
    assert_int_equal(stats(&f).blocked, 11);
    fx_close(&f);
}

/* --- window and threshold boundaries -------------------------------------------- */

static void test_fifth_failure_within_window_blocks_user(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 1000, 5), 1);
    assert_string_equal(f.blocks[0].rule, "user");
    assert_string_equal(f.blocks[0].user, "alice");
    assert_string_equal(f.blocks[0].ip, "");
    assert_int_equal(f.blocks[0].since_ms, T0 + 4000);
    assert_int_equal(f.blocks[0].level, 1);
    assert_string_equal(f.blocks[0].reason, "5 failures in 60s");
    assert_int_equal(stats(&f).blocks, 1);
    fx_close(&f);
}

static void test_four_failures_within_window_do_not_block(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 1, 4), 0);
    assert_int_equal(fail_at(&f, "bob", T0 + 10), LG_OUTCOME_FAIL); /* other users apart */
    assert_int_equal(f.n_blocks, 0);
    assert_int_equal(stats(&f).blocks, 0);
    fx_close(&f);
}

static void test_fifth_failure_59999_ms_after_first_blocks(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 1, 4), 0);
    assert_int_equal(fail_at(&f, "alice", T0 + 59999), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_int_equal(f.blocks[0].since_ms, T0 + 59999);
    fx_close(&f);
}

static void test_fifth_failure_60000_ms_after_first_does_not_block(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 1, 4), 0); /* T0 .. T0+3 */
    /* T0 .. T0+60000 span 60000 ms, not less: T0 leaves, 4 remain */
    assert_int_equal(fail_at(&f, "alice", T0 + 60000), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 0);
    /* likewise T0+1 .. T0+60001, T0+2 .. T0+60002, T0+3 .. T0+60003 */
    for (int64_t i = 1; i <= 3; i++) {
        assert_int_equal(fail_at(&f, "alice", T0 + 60000 + i), LG_OUTCOME_FAIL);
        assert_int_equal(f.n_blocks, 0);
    }
    /* +60000 .. +60004 span 4 ms: blocks */
    assert_int_equal(fail_at(&f, "alice", T0 + 60004), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    fx_close(&f);
}

static void test_threshold_1_blocks_on_first_failure(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(1, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(attempt(&f, "alice", "", T0, true), LG_OUTCOME_OK);
    assert_int_equal(f.n_blocks, 0);
    assert_int_equal(fail_at(&f, "alice", T0 + 1), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_string_equal(f.blocks[0].reason, "1 failures in 60s");
    assert_int_equal(fail_at(&f, "alice", T0 + 2), LG_OUTCOME_BLOCKED);
    fx_close(&f);
}

static void test_threshold_64_blocks_on_64th_failure_not_63rd(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(64, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 900, 63), 0);
    assert_int_equal(fail_at(&f, "alice", T0 + 63 * 900), LG_OUTCOME_FAIL); /* 56 700 ms */
    assert_int_equal(f.n_blocks, 1);
    assert_int_equal(f.blocks[0].since_ms, T0 + 63 * 900);
    /* and 64 spread over exactly 60 s do not */
    assert_int_equal(fail_n(&f, "bob", T0 + 1000, 952, 63), 0); /* last at +60 024 */
    assert_int_equal(fail_at(&f, "bob", T0 + 1000 + 60000), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 0);
    fx_close(&f);
}

/* --- success resets --------------------------------------------------------------- */

static void test_success_resets_window(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 1, 4), 0);
    assert_int_equal(attempt(&f, "alice", "", T0 + 10, true), LG_OUTCOME_OK);
    assert_int_equal(fail_n(&f, "alice", T0 + 11, 1, 4), 0); /* 4 again, not 8 */
    assert_int_equal(fail_at(&f, "alice", T0 + 20), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    fx_close(&f);
}

static void test_late_failure_before_success_does_not_count(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0 + 100, 1, 4), 0);
    assert_int_equal(attempt(&f, "alice", "", T0 + 200, true), LG_OUTCOME_OK);
    /* arrives after the success but happened at or before it */
    assert_int_equal(fail_at(&f, "alice", T0 + 200), LG_OUTCOME_FAIL);
    assert_int_equal(fail_n(&f, "alice", T0 + 150, 1, 4), 0);
    assert_int_equal(stats(&f).late_dropped, 5);
    /* those after it count: 4 more do not block, the 5th does */
    assert_int_equal(fail_n(&f, "alice", T0 + 201, 1, 4), 0);
    assert_int_equal(fail_at(&f, "alice", T0 + 205), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    fx_close(&f);
}

static void test_late_success_drops_only_failures_before_it(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 10, 4), 0); /* T0, +10, +20, +30 */
    assert_int_equal(attempt(&f, "alice", "", T0 + 15, true), LG_OUTCOME_OK);
    /* +20 and +30 remain: two more do not block, a third does */
    assert_int_equal(fail_n(&f, "alice", T0 + 40, 1, 2), 0);
    assert_int_equal(f.n_blocks, 0);
    assert_int_equal(fail_at(&f, "alice", T0 + 50), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    fx_close(&f);
}

static void test_late_success_drops_failures_at_its_own_ts(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(3, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_at(&f, "alice", T0 + 10), LG_OUTCOME_FAIL);
    assert_int_equal(fail_at(&f, "alice", T0 + 20), LG_OUTCOME_FAIL);
    assert_int_equal(attempt(&f, "alice", "", T0 + 10, true), LG_OUTCOME_OK); /* late */
    /* T0+10 is gone (ts <= the success): a late one at T0+15 makes 2 of 3, not 3 */
    assert_int_equal(fail_at(&f, "alice", T0 + 15), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 0);
    /* a failure at the success's own ts arriving now does not count either */
    assert_int_equal(fail_at(&f, "alice", T0 + 10), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 0);
    assert_int_equal(stats(&f).late_dropped, 1);
    assert_int_equal(fail_at(&f, "alice", T0 + 11), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_int_equal(f.blocks[0].since_ms, T0 + 20);
    fx_close(&f);
}

static void test_success_does_not_reset_when_reset_on_success_is_off(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    c.rules[0].reset_on_success = false;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 1, 4), 0);
    assert_int_equal(attempt(&f, "alice", "", T0 + 10, true), LG_OUTCOME_OK);
    assert_int_equal(fail_at(&f, "alice", T0 + 11), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    fx_close(&f);
}

/* --- blocked attempts, since and until -------------------------------------------- */

static void test_blocked_attempts_are_not_counted_and_do_not_extend_block(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 1, 5), 1);
    int64_t until = f.blocks[0].until_ms;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(fail_at(&f, "alice", until - 20 + i), LG_OUTCOME_BLOCKED);
        assert_int_equal(f.n_blocks, 0);
    }
    assert_int_equal(attempt(&f, "alice", "", until - 1, true), LG_OUTCOME_BLOCKED);
    lg_engine_stats s = stats(&f);
    assert_int_equal(s.blocked, 21);
    assert_int_equal(s.fail, 5);
    /* at until it is over, and the 20 blocked failures did not count: 4 more are fine */
    assert_int_equal(fail_n(&f, "alice", until, 1, 4), 0);
    assert_int_equal(fail_at(&f, "alice", until + 4), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_int_equal(f.blocks[0].since_ms, until + 4);
    fx_close(&f);
}

static void test_block_since_is_largest_ts_among_completing_failures(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_at(&f, "alice", T0 + 5000), LG_OUTCOME_FAIL);
    assert_int_equal(fail_n(&f, "alice", T0 + 1000, 1000, 3), 0); /* late: +1000..+3000 */
    assert_int_equal(fail_at(&f, "alice", T0 + 4000), LG_OUTCOME_FAIL); /* completes */
    assert_int_equal(f.n_blocks, 1);
    assert_int_equal(f.blocks[0].since_ms, T0 + 5000);
    assert_int_equal(f.blocks[0].until_ms, T0 + 5000 + 15 * MIN_MS);
    /* before since: not blocked, and not counted either (the window was cleared to it) */
    assert_int_equal(fail_at(&f, "alice", T0 + 4999), LG_OUTCOME_FAIL);
    assert_int_equal(fail_at(&f, "alice", T0 + 5000), LG_OUTCOME_BLOCKED);
    fx_close(&f);
}

static void test_block_lasts_from_since_to_since_plus_15_minutes(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);
    lg_block b;

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 1, 5), 1);
    int64_t since = T0 + 4;
    assert_int_equal(f.blocks[0].until_ms, since + 15 * MIN_MS);
    assert_true(lg_engine_blocked(f.e, "user:alice", 10, since, &b));
    assert_int_equal(b.since_ms, since);
    assert_string_equal(b.user, "alice");
    assert_true(lg_engine_blocked(f.e, "user:alice", 10, since + 15 * MIN_MS - 1, NULL));
    assert_false(lg_engine_blocked(f.e, "user:alice", 10, since + 15 * MIN_MS, NULL));
    assert_false(lg_engine_blocked(f.e, "user:alice", 10, since - 1, NULL));
    assert_false(lg_engine_blocked(f.e, "user:bob", 8, since, NULL));
    assert_int_equal(fail_at(&f, "alice", since + 15 * MIN_MS - 1), LG_OUTCOME_BLOCKED);
    assert_int_equal(fail_at(&f, "alice", since + 15 * MIN_MS), LG_OUTCOME_FAIL);
    fx_close(&f);
}

/* --- escalation ------------------------------------------------------------------- */

/* Blocks alice with 5 quick failures at ts; returns the block. */
static lg_block block_at(fx *f, const char *user, int64_t ts)
{
    assert_int_equal(fail_n(f, user, ts, 1, 5), 1);
    return f->blocks[0];
}

static void test_escalation_doubles_15_30_60_minutes(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    lg_block b1 = block_at(&f, "alice", T0);
    assert_int_equal(b1.level, 1);
    assert_int_equal(b1.until_ms - b1.since_ms, 15 * MIN_MS);
    lg_block b2 = block_at(&f, "alice", b1.until_ms);
    assert_int_equal(b2.level, 2);
    assert_int_equal(b2.until_ms - b2.since_ms, 30 * MIN_MS);
    lg_block b3 = block_at(&f, "alice", b2.until_ms);
    assert_int_equal(b3.level, 3);
    assert_int_equal(b3.until_ms - b3.since_ms, 60 * MIN_MS);
    fx_close(&f);
}

static void test_escalation_resets_to_level_1_after_24h_gap(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    lg_block a1 = block_at(&f, "alice", T0 + 10);
    lg_block b1 = block_at(&f, "bob", T0 + 20);
    assert_int_equal(a1.level, 1);
    assert_int_equal(b1.level, 1);
    /* bob: previous block began 24 h - 1 ms before: escalates */
    lg_block b2 = block_at(&f, "bob", b1.since_ms + 24 * HOUR_MS - 1 - 4);
    assert_int_equal(b2.since_ms - b1.since_ms, 24 * HOUR_MS - 1);
    assert_int_equal(b2.level, 2);
    /* alice: exactly 24 h: a fresh start */
    lg_block a2 = block_at(&f, "alice", a1.since_ms + 24 * HOUR_MS - 4);
    assert_int_equal(a2.since_ms - a1.since_ms, 24 * HOUR_MS);
    assert_int_equal(a2.level, 1);
    assert_int_equal(a2.until_ms - a2.since_ms, 15 * MIN_MS);
    fx_close(&f);
}

static void test_escalation_caps_duration_at_24h(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);
    lg_block b = {0};

    (void)state;
    fx_open(&f, &c);
    /* 15 min * 2^6 = 16 h at level 7; level 8 would be 32 h: capped at 24 h. Each block
     * is cut to 10 min by loading it back with an earlier end (same since and level), so
     * the next one begins 10 min after it and escalates again. */
    int64_t ts = T0;
    for (uint32_t level = 1; level <= 10; level++) {
        b = block_at(&f, "alice", ts);
        assert_int_equal(b.level, level);
        int64_t want = level <= 7 ? (15 * MIN_MS) << (level - 1) : 24 * HOUR_MS;
        assert_int_equal(b.until_ms - b.since_ms, want);
        b.until_ms = b.since_ms + 10 * MIN_MS;
        assert_int_equal(lg_engine_load_block(f.e, &b), 0);
        ts = b.until_ms;
    }
    fx_close(&f);
}

static void test_permanent_block_has_until_0_and_stays_blocked(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 0);

    (void)state;
    fx_open(&f, &c);
    lg_block b = block_at(&f, "alice", T0);
    assert_int_equal(b.until_ms, 0);
    assert_int_equal(b.level, 1);
    /* a year of other traffic later it still holds */
    assert_int_equal(fail_at(&f, "bob", T0 + 365 * 24 * HOUR_MS), LG_OUTCOME_FAIL);
    for (int i = 0; i < 100; i++)
        assert_int_equal(fail_at(&f, "bob", T0 + 365 * 24 * HOUR_MS + i),
                         i < 4 ? LG_OUTCOME_FAIL : LG_OUTCOME_BLOCKED);
    assert_int_equal(fail_at(&f, "alice", T0 + 365 * 24 * HOUR_MS), LG_OUTCOME_BLOCKED);
    assert_true(lg_engine_blocked(f.e, "user:alice", 10, INT64_MAX, NULL));
    assert_int_equal(stats(&f).blocks_tracked, 2);
    fx_close(&f);
}

/* --- out of order ----------------------------------------------------------------- */

static void test_late_failure_within_window_counts(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0 + 59999, 1, 4), 0); /* newest +60002 */
    /* T0 + 3 > newest - 60000 = T0 + 2: counts; the five span 59 999 ms */
    assert_int_equal(fail_at(&f, "alice", T0 + 3), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_int_equal(f.blocks[0].since_ms, T0 + 60002);
    assert_int_equal(stats(&f).late_dropped, 0);
    fx_close(&f);
}

static void test_late_failure_older_than_newest_minus_window_does_not_count(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0 + 60000, 1, 4), 0); /* newest +60003 */
    assert_int_equal(fail_at(&f, "alice", T0 + 3), LG_OUTCOME_FAIL); /* = newest - 60000 */
    assert_int_equal(f.n_blocks, 0);
    assert_int_equal(fail_at(&f, "alice", T0 - 5000), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 0);
    assert_int_equal(stats(&f).late_dropped, 2);
    assert_int_equal(fail_at(&f, "alice", T0 + 4), LG_OUTCOME_FAIL); /* just inside */
    assert_int_equal(f.n_blocks, 1);
    fx_close(&f);
}

/* --- other rules ------------------------------------------------------------------ */

static void test_rule_ip_blocks_address_and_ignores_attempts_without_ip(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);
    char user[16];

    (void)state;
    c.rules[0].enabled = false;
    c.rules[1].enabled = true; /* ip: 20 in 60 s */
    fx_open(&f, &c);
    for (int i = 0; i < 30; i++) { /* no address: rule ip does not apply */
        snprintf(user, sizeof user, "u%d", i);
        assert_int_equal(attempt(&f, user, "", T0 + i, false), LG_OUTCOME_FAIL);
        assert_int_equal(f.n_blocks, 0);
    }
    for (int i = 0; i < 20; i++) { /* twenty users from one address */
        snprintf(user, sizeof user, "v%d", i);
        assert_int_equal(attempt(&f, user, "198.51.100.9", T0 + 100 + i, false),
                         LG_OUTCOME_FAIL);
        assert_int_equal(f.n_blocks, i == 19 ? 1 : 0);
    }
    assert_string_equal(f.blocks[0].rule, "ip");
    assert_string_equal(f.blocks[0].ip, "198.51.100.9");
    assert_string_equal(f.blocks[0].user, "");
    assert_string_equal(f.blocks[0].reason, "20 failures in 60s");
    assert_int_equal(attempt(&f, "new", "198.51.100.9", T0 + 200, true), LG_OUTCOME_BLOCKED);
    assert_int_equal(attempt(&f, "new", "198.51.100.10", T0 + 200, false), LG_OUTCOME_FAIL);
    assert_int_equal(attempt(&f, "new", "", T0 + 200, false), LG_OUTCOME_FAIL);
    assert_true(lg_engine_blocked(f.e, "ip:198.51.100.9", 15, T0 + 200, NULL));
    assert_false(lg_engine_blocked(f.e, "user:v1", 7, T0 + 200, NULL));
    fx_close(&f);
}

static void test_rule_user_ip_blocks_the_pair_only(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);
    lg_block b;

    (void)state;
    c.rules[0].enabled = false;
    c.rules[2].enabled = true; /* user_ip: 5 in 60 s */
    fx_open(&f, &c);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(attempt(&f, "alice", "192.0.2.1", T0 + i, false), LG_OUTCOME_FAIL);
        assert_int_equal(attempt(&f, "alice", "192.0.2.2", T0 + i, false), LG_OUTCOME_FAIL);
        assert_int_equal(attempt(&f, "alice", "", T0 + i, false), LG_OUTCOME_FAIL);
    }
    assert_int_equal(f.n_blocks, 0);
    assert_int_equal(attempt(&f, "alice", "192.0.2.1", T0 + 10, false), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_string_equal(f.blocks[0].rule, "user_ip");
    assert_string_equal(f.blocks[0].user, "alice");
    assert_string_equal(f.blocks[0].ip, "192.0.2.1");
    assert_int_equal(attempt(&f, "alice", "192.0.2.1", T0 + 11, false), LG_OUTCOME_BLOCKED);
    assert_int_equal(attempt(&f, "alice", "192.0.2.2", T0 + 11, false), LG_OUTCOME_FAIL);
    assert_int_equal(attempt(&f, "alice", "", T0 + 11, false), LG_OUTCOME_FAIL);
    assert_true(lg_engine_blocked(f.e, "user_ip:alice|192.0.2.1", 23, T0 + 11, &b));
    assert_string_equal(b.user, "alice");
    assert_string_equal(b.ip, "192.0.2.1");
    fx_close(&f);
}

/* lg_block_key of b, as the API and lg.blocks name it. */
static size_t key_of(const lg_block *b, char key[LG_BLOCK_KEY_MAX + 1])
{
    int n = lg_block_key(b, key, LG_BLOCK_KEY_MAX + 1);

    assert_true(n > 0);
    return (size_t)n;
}

static void test_rule_ip_keys_an_ipv6_address_by_its_64_network(void **state)
{
    static const char *const one_net[] = {"2001:db8:0:1::1", "2001:db8:0:1::2",
                                          "2001:db8:0:1:ffff:ffff:ffff:ffff", "2001:db8:0:1::"};
    fx f, g;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);
    char key[LG_BLOCK_KEY_MAX + 1];
    size_t key_len;
    lg_block b;

    (void)state;
    c.rules[0].enabled = false;
    c.rules[1].enabled = true;
    c.rules[1].threshold = 4; /* ipv6_prefix: the default 64 */
    fx_open(&f, &c);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(attempt(&f, "u", one_net[i], T0 + i, false), LG_OUTCOME_FAIL);
        assert_int_equal(f.n_blocks, i == 3 ? 1 : 0);
    }
    b = f.blocks[0];
    assert_string_equal(b.rule, "ip");
    assert_string_equal(b.ip, "2001:db8:0:1::/64");
    assert_int_equal(attempt(&f, "v", "2001:db8:0:1:1:2:3:4", T0 + 10, true), LG_OUTCOME_BLOCKED);
    assert_int_equal(attempt(&f, "v", "2001:db8:0:2::1", T0 + 10, false), LG_OUTCOME_FAIL);
    key_len = key_of(&b, key);
    assert_true(lg_engine_blocked(f.e, key, key_len, T0 + 10, &b));
    assert_string_equal(b.ip, "2001:db8:0:1::/64");
    /* a detector reading the block back keys it the same way */
    fx_open(&g, &c);
    assert_int_equal(lg_engine_load_block(g.e, &f.blocks[0]), 0);
    assert_int_equal(attempt(&g, "w", "2001:db8:0:1::99", T0 + 20, false), LG_OUTCOME_BLOCKED);
    assert_int_equal(lg_engine_unblock(g.e, key, key_len), 0);
    assert_int_equal(attempt(&g, "w", "2001:db8:0:1::99", T0 + 21, false), LG_OUTCOME_FAIL);
    fx_close(&g);
    fx_close(&f);
}

static void test_ip_rules_of_different_prefixes_keep_their_own_keys(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);
    bool seen_ip = false, seen_user_ip = false;

    (void)state;
    c.rules[0].enabled = false;
    c.rules[1].enabled = true;
    c.rules[1].threshold = 3;
    c.rules[2].enabled = true;
    c.rules[2].threshold = 3;
    c.rules[2].ipv6_prefix = 48;
    c.rules[3] = c.rules[1]; /* one address, one key */
    snprintf(c.rules[3].name, sizeof c.rules[3].name, "ip128");
    c.rules[3].ipv6_prefix = 128;
    c.n_rules = 4;
    fx_open(&f, &c);
    /* three /64s of one /48: only user_ip (/48) sees three failures of one key */
    assert_int_equal(attempt(&f, "alice", "2001:db8:0:1::1", T0, false), LG_OUTCOME_FAIL);
    assert_int_equal(attempt(&f, "alice", "2001:db8:0:2::1", T0 + 1, false), LG_OUTCOME_FAIL);
    assert_int_equal(attempt(&f, "alice", "2001:db8:0:3::1", T0 + 2, false), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_string_equal(f.blocks[0].rule, "user_ip");
    assert_string_equal(f.blocks[0].user, "alice");
    assert_string_equal(f.blocks[0].ip, "2001:db8::/48");
    /* three addresses of one /64: rule ip (/64) and user_ip (/48) block, ip128 does not */
    assert_int_equal(attempt(&f, "bob", "2001:db8:9:1::1", T0 + 3, false), LG_OUTCOME_FAIL);
    assert_int_equal(attempt(&f, "bob", "2001:db8:9:1::2", T0 + 4, false), LG_OUTCOME_FAIL);
    assert_int_equal(attempt(&f, "bob", "2001:db8:9:1::3", T0 + 5, false), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 2);
    for (size_t i = 0; i < f.n_blocks; i++) {
        if (strcmp(f.blocks[i].rule, "ip") == 0) {
            assert_string_equal(f.blocks[i].ip, "2001:db8:9:1::/64");
            seen_ip = true;
        } else {
            assert_string_equal(f.blocks[i].rule, "user_ip");
            assert_string_equal(f.blocks[i].ip, "2001:db8:9::/48");
            seen_user_ip = true;
        }
    }
    assert_true(seen_ip && seen_user_ip);
    /* one address three times: ip128 blocks it, by the bare address */
    for (int i = 0; i < 3; i++)
        assert_int_equal(attempt(&f, "carol", "2001:db8:7::5", T0 + 10 + i, false),
                         LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 3);
    assert_string_equal(f.blocks[2].rule, "ip128");
    assert_string_equal(f.blocks[2].ip, "2001:db8:7::5");
    /* IPv4 is keyed by the address under every prefix */
    for (int i = 0; i < 3; i++)
        assert_int_equal(attempt(&f, "dave", "192.0.2.1", T0 + 20 + i, false), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 3);
    for (size_t i = 0; i < f.n_blocks; i++)
        assert_string_equal(f.blocks[i].ip, "192.0.2.1");
    fx_close(&f);
}

static void test_block_of_one_rule_makes_attempt_blocked_for_every_rule(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);
    char user[16];

    (void)state;
    c.rules[1].enabled = true;
    c.rules[1].threshold = 3;
    fx_open(&f, &c);
    for (int i = 0; i < 3; i++) {
        snprintf(user, sizeof user, "u%d", i);
        assert_int_equal(attempt(&f, user, "192.0.2.7", T0 + i, false), LG_OUTCOME_FAIL);
    }
    assert_int_equal(f.n_blocks, 1);
    /* bob's failures from the blocked address are BLOCKED: rule user does not count them */
    for (int i = 0; i < 10; i++)
        assert_int_equal(attempt(&f, "bob", "192.0.2.7", T0 + 10 + i, false),
                         LG_OUTCOME_BLOCKED);
    for (int i = 0; i < 4; i++) { /* without an address, only rule user sees them */
        assert_int_equal(attempt(&f, "bob", "", T0 + 100 + i, false), LG_OUTCOME_FAIL);
        assert_int_equal(f.n_blocks, 0);
    }
    assert_int_equal(attempt(&f, "bob", "", T0 + 104, false), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_string_equal(f.blocks[0].rule, "user");
    fx_close(&f);
}

/* --- blocks from outside ---------------------------------------------------------- */

static void test_loaded_block_blocks_and_escalates_like_a_decided_one(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);
    lg_block b = {.rule = "user", .user = "alice", .since_ms = T0, .level = 2,
                  .reason = "5 failures in 60s"};

    (void)state;
    b.until_ms = T0 + 30 * MIN_MS;
    fx_open(&f, &c);
    assert_int_equal(lg_engine_load_block(f.e, &b), 0);
    assert_int_equal(fail_at(&f, "alice", T0), LG_OUTCOME_BLOCKED);
    assert_int_equal(fail_at(&f, "alice", T0 + 30 * MIN_MS - 1), LG_OUTCOME_BLOCKED);
    lg_block nb = block_at(&f, "alice", T0 + 30 * MIN_MS);
    assert_int_equal(nb.level, 3);
    assert_int_equal(nb.until_ms - nb.since_ms, 60 * MIN_MS);
    /* unknown rules are ignored */
    snprintf(b.rule, sizeof b.rule, "nope");
    assert_int_equal(lg_engine_load_block(f.e, &b), LG_ENOTFOUND);
    fx_close(&f);
}

static void test_loaded_block_clears_window_up_to_since(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);
    lg_block b = {.rule = "user", .user = "alice", .since_ms = T0 + 10, .until_ms = T0 + 20,
                  .level = 1};

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 1, 4), 0);
    assert_int_equal(lg_engine_load_block(f.e, &b), 0);
    /* re-read failures at or before since do not count, later ones do from zero */
    assert_int_equal(fail_at(&f, "alice", T0 + 5), LG_OUTCOME_FAIL);
    assert_int_equal(fail_n(&f, "alice", T0 + 20, 1, 4), 0);
    assert_int_equal(fail_at(&f, "alice", T0 + 24), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_int_equal(f.blocks[0].level, 2);
    fx_close(&f);
}

static void test_loaded_block_older_than_the_key_s_record_does_not_replace_it(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    lg_block b1 = block_at(&f, "alice", T0);
    lg_block b2 = block_at(&f, "alice", b1.until_ms);
    assert_int_equal(b2.level, 2);
    /* the first block read back from lg.blocks after the second was decided */
    assert_int_equal(lg_engine_load_block(f.e, &b1), 0);
    assert_int_equal(fail_at(&f, "alice", b2.until_ms - 1), LG_OUTCOME_BLOCKED);
    lg_block b3 = block_at(&f, "alice", b2.until_ms);
    assert_int_equal(b3.level, 3);
    /* the same block again (N), and a later one (N+1), are loaded as before */
    assert_int_equal(lg_engine_load_block(f.e, &b3), 0);
    assert_int_equal(fail_at(&f, "alice", b3.until_ms - 1), LG_OUTCOME_BLOCKED);
    lg_block later = b3;
    later.since_ms = b3.since_ms + 1;
    later.until_ms = b3.until_ms + 1;
    later.level = 7;
    assert_int_equal(lg_engine_load_block(f.e, &later), 0);
    assert_int_equal(fail_at(&f, "alice", b3.until_ms), LG_OUTCOME_BLOCKED);
    assert_int_equal(block_at(&f, "alice", later.until_ms).level, 8);
    fx_close(&f);
}

static void test_unblock_forgets_block_and_escalation(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    lg_block b = block_at(&f, "alice", T0);
    assert_int_equal(fail_at(&f, "alice", T0 + 100), LG_OUTCOME_BLOCKED);
    assert_int_equal(lg_engine_unblock(f.e, "user:alice", 10), 0);
    assert_int_equal(lg_engine_unblock(f.e, "user:alice", 10), LG_ENOTFOUND);
    assert_int_equal(lg_engine_unblock(f.e, "ip:alice", 8), LG_ENOTFOUND);
    assert_int_equal(attempt(&f, "alice", "", T0 + 101, true), LG_OUTCOME_OK);
    b = block_at(&f, "alice", T0 + 200);
    assert_int_equal(b.level, 1); /* history forgotten */
    assert_int_equal(stats(&f).blocks_tracked, 1);
    fx_close(&f);
}

static void test_user_named_like_an_ip_key_and_the_address_block_apart(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);
    static const char odd[] = "ip:192.0.2.77";
    char user[16];
    lg_block b;

    (void)state;
    c.rules[1].enabled = true;
    c.rules[1].threshold = 3;
    fx_open(&f, &c);
    for (int i = 0; i < 5; i++) /* from no address: rule ip does not count them */
        assert_int_equal(attempt(&f, odd, "", T0 + i, false), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_string_equal(f.blocks[0].rule, "user");
    for (int i = 0; i < 3; i++) {
        snprintf(user, sizeof user, "v%d", i);
        assert_int_equal(attempt(&f, user, "192.0.2.77", T0 + 10 + i, false), LG_OUTCOME_FAIL);
    }
    assert_int_equal(f.n_blocks, 1);
    assert_string_equal(f.blocks[0].rule, "ip");
    assert_true(lg_engine_blocked(f.e, "user:ip:192.0.2.77", 18, T0 + 20, &b));
    assert_string_equal(b.rule, "user");
    assert_string_equal(b.user, odd);
    assert_true(lg_engine_blocked(f.e, "ip:192.0.2.77", 13, T0 + 20, &b));
    assert_string_equal(b.rule, "ip");
    /* the user's unblock leaves the address blocked */
    assert_int_equal(lg_engine_unblock(f.e, "user:ip:192.0.2.77", 18), 0);
    assert_true(lg_engine_blocked(f.e, "ip:192.0.2.77", 13, T0 + 20, NULL));
    assert_int_equal(attempt(&f, "carol", "192.0.2.77", T0 + 21, true), LG_OUTCOME_BLOCKED);
    assert_int_equal(attempt(&f, odd, "", T0 + 21, false), LG_OUTCOME_FAIL);
    fx_close(&f);
}

static void test_keys_are_parsed_by_their_rule_name(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    c.rules[2].enabled = true;
    c.rules[2].threshold = 2;
    fx_open(&f, &c);
    /* a user holding '|': the pair splits at the last one */
    assert_int_equal(attempt(&f, "a|b", "192.0.2.1", T0, false), LG_OUTCOME_FAIL);
    assert_int_equal(attempt(&f, "a|b", "192.0.2.1", T0 + 1, false), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_true(lg_engine_blocked(f.e, "user_ip:a|b|192.0.2.1", 21, T0 + 2, NULL));
    assert_false(lg_engine_blocked(f.e, "user_ip:a|b", 11, T0 + 2, NULL));
    for (int i = 0; i < 5; i++)
        assert_int_equal(attempt(&f, "alice", "", T0 + i, false), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    /* a bare user, an unknown or disabled rule, a missing key: no key of any rule */
    assert_false(lg_engine_blocked(f.e, "alice", 5, T0 + 10, NULL));
    assert_false(lg_engine_blocked(f.e, "users:alice", 11, T0 + 10, NULL));
    assert_false(lg_engine_blocked(f.e, "ip:alice", 8, T0 + 10, NULL));
    assert_false(lg_engine_blocked(f.e, "user:", 5, T0 + 10, NULL));
    assert_false(lg_engine_blocked(f.e, "user_ip:alice", 13, T0 + 10, NULL));
    assert_int_equal(lg_engine_unblock(f.e, "alice", 5), LG_ENOTFOUND);
    assert_int_equal(lg_engine_unblock(f.e, "user_ip:|192.0.2.1", 18), LG_ENOTFOUND);
    assert_true(lg_engine_blocked(f.e, "user:alice", 10, T0 + 10, NULL));
    fx_close(&f);
}

/* The window entry of a blocked key caches its block (engine.c): these walk each way
 * the cached copy must follow the record. */
static void test_blocked_key_is_blocked_until_its_end_also_after_a_later_attempt(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 1000); /* ends while the window is alive */

    (void)state;
    fx_open(&f, &c);
    lg_block b = block_at(&f, "alice", T0);
    assert_int_equal(fail_at(&f, "alice", b.since_ms), LG_OUTCOME_BLOCKED);
    assert_int_equal(attempt(&f, "alice", "", b.until_ms - 1, true), LG_OUTCOME_BLOCKED);
    assert_int_equal(fail_at(&f, "alice", b.since_ms - 1), LG_OUTCOME_FAIL); /* before */
    assert_int_equal(fail_at(&f, "alice", b.until_ms), LG_OUTCOME_FAIL);
    /* the window moved on past since; a late attempt inside the block is still refused */
    assert_int_equal(fail_at(&f, "alice", b.since_ms + 1), LG_OUTCOME_BLOCKED);
    assert_int_equal(stats(&f).blocks, 1);
    fx_close(&f);
}

static void test_unblocked_key_is_judged_again_inside_its_old_block(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, MIN_MS);

    (void)state;
    fx_open(&f, &c);
    lg_block b = block_at(&f, "alice", T0);
    assert_int_equal(fail_at(&f, "alice", b.since_ms + 1), LG_OUTCOME_BLOCKED);
    assert_int_equal(lg_engine_unblock(f.e, "user:alice", 10), 0);
    assert_int_equal(fail_at(&f, "alice", b.since_ms + 2), LG_OUTCOME_FAIL);
    /* and a block loaded over it (lg.blocks) is what counts next */
    lg_block loaded = b;
    loaded.since_ms = b.since_ms + 10;
    loaded.until_ms = b.since_ms + 20;
    assert_int_equal(lg_engine_load_block(f.e, &loaded), 0);
    assert_int_equal(fail_at(&f, "alice", b.since_ms + 15), LG_OUTCOME_BLOCKED);
    assert_int_equal(fail_at(&f, "alice", b.since_ms + 20), LG_OUTCOME_FAIL);
    fx_close(&f);
}

static void test_cached_block_record_expires_24h_after_the_block_ends(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(2, 24 * HOUR_MS, MIN_MS); /* the longest window */

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 1, 2), 1);
    lg_block b = f.blocks[0];
    /* the clock moves to until + 24 h: the record is gone, so a late attempt inside the
     * old block counts as a failure and the next block starts over at level 1 */
    assert_int_equal(attempt(&f, "bob", "", b.until_ms + 24 * HOUR_MS, true), LG_OUTCOME_OK);
    assert_int_equal(fail_at(&f, "alice", b.since_ms + 1), LG_OUTCOME_FAIL);
    assert_int_equal(stats(&f).blocks_tracked, 0);
    fx_close(&f);
}

/* --- eviction and bounds ---------------------------------------------------------- */

static void test_idle_keys_are_evicted_after_time_moves_on(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);
    char user[16];

    (void)state;
    c.rules[0].keys_max = 1000;
    fx_open(&f, &c);
    for (int i = 0; i < 1000; i++) {
        snprintf(user, sizeof user, "u%d", i);
        assert_int_equal(fail_at(&f, user, T0 + i), LG_OUTCOME_FAIL);
    }
    assert_true(stats(&f).keys_tracked > 900);
    /* a minute after the last one every key is idle; bob's successes sweep them */
    for (int i = 0; i < 2000; i++)
        assert_int_equal(attempt(&f, "bob", "", T0 + 999 + 60000 + i * 1000, true),
                         LG_OUTCOME_OK);
    lg_engine_stats s = stats(&f);
    assert_int_equal(s.keys_tracked, 1); /* bob */
    assert_int_equal(s.keys_evicted, 1000);
    assert_int_equal(s.keys_full, 0);
    fx_close(&f);
}

static void test_evicted_key_starts_over(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 1, 4), 0);
    assert_int_equal(fail_at(&f, "bob", T0 + 3 + 60000), LG_OUTCOME_FAIL); /* alice idle */
    /* a late failure for alice: her old window is gone, not merged */
    assert_int_equal(fail_at(&f, "alice", T0 + 10), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 0);
    assert_int_equal(stats(&f).late_dropped, 0);
    fx_close(&f);
}

/* --- configuration ---------------------------------------------------------------- */

static void expect_invalid(const lg_engine_conf *c, const char *want)
{
    lg_engine *e = NULL;
    char err[256] = "";

    assert_int_equal(lg_engine_new(c, &e, err, sizeof err), LG_EINVAL);
    assert_null(e);
    assert_string_equal(err, want);
}

static void test_invalid_conf_is_rejected_with_reason(void **state)
{
    lg_engine_conf c;

    (void)state;
    c = conf_user(0, 60000, 1);
    expect_invalid(&c, "rule 'user': threshold 0 out of range 1..64");
    c = conf_user(65, 60000, 1);
    expect_invalid(&c, "rule 'user': threshold 65 out of range 1..64");
    c = conf_user(5, 0, 1);
    expect_invalid(&c, "rule 'user': window_ms 0 out of range 1..86400000");
    c = conf_user(5, 86400001, 1);
    expect_invalid(&c, "rule 'user': window_ms 86400001 out of range 1..86400000");
    c = conf_user(5, 60000, -1);
    expect_invalid(&c, "rule 'user': block_for_ms -1 out of range 0..86400000");
    c = conf_user(5, 60000, 86400001);
    expect_invalid(&c, "rule 'user': block_for_ms 86400001 out of range 0..86400000");
    c = conf_user(5, 60000, 1);
    c.rules[1].keys_max = 0; /* disabled rules are checked too */
    expect_invalid(&c, "rule 'ip': keys_max 0 out of range 1..67108864");
    c = conf_user(5, 60000, 1);
    c.rules[2].keys_max = LG_KEYS_MAX_CAP + 1;
    expect_invalid(&c, "rule 'user_ip': keys_max 67108865 out of range 1..67108864");
    c = conf_user(5, 60000, 1);
    c.rules[1].ipv6_prefix = 0;
    expect_invalid(&c, "rule 'ip': ipv6_prefix 0 out of range 1..128");
    c = conf_user(5, 60000, 1);
    c.rules[2].ipv6_prefix = 129;
    expect_invalid(&c, "rule 'user_ip': ipv6_prefix 129 out of range 1..128");
    c = conf_user(5, 60000, 1);
    snprintf(c.rules[2].name, sizeof c.rules[2].name, "user");
    expect_invalid(&c, "rule 'user': name used twice");
    c = conf_user(5, 60000, 1);
    snprintf(c.rules[1].name, sizeof c.rules[1].name, "a b");
    expect_invalid(&c, "rule 2: name 'a b' must be 1..32 characters of [A-Za-z0-9_-]");
    c = conf_user(5, 60000, 1);
    c.rules[0].key = (lg_rule_key)7;
    expect_invalid(&c, "rule 'user': unknown key type 7");
    c = conf_user(5, 60000, 1);
    c.n_rules = LG_RULES_MAX + 1;
    expect_invalid(&c, "too many rules: 9 (at most 8)");
    /* the limits themselves are fine */
    lg_engine *e = NULL;
    char err[128];
    c = conf_user(64, 86400000, 86400000);
    c.rules[0].keys_max = 1;
    assert_int_equal(lg_engine_new(&c, &e, err, sizeof err), 0);
    lg_engine_free(e);
    lg_engine_free(NULL);
}

static void test_default_conf_enables_user_only(void **state)
{
    lg_engine_conf c;

    (void)state;
    lg_engine_conf_default(&c);
    assert_int_equal(c.n_rules, 3);
    assert_string_equal(c.rules[0].name, "user");
    assert_true(c.rules[0].enabled);
    assert_int_equal(c.rules[0].key, LG_RULE_KEY_USER);
    assert_int_equal(c.rules[0].threshold, 5);
    assert_int_equal(c.rules[0].window_ms, 60000);
    assert_int_equal(c.rules[0].block_for_ms, 900000);
    assert_true(c.rules[0].reset_on_success);
    assert_int_equal(c.rules[0].keys_max, LG_KEYS_MAX_DEFAULT);
    assert_string_equal(c.rules[1].name, "ip");
    assert_false(c.rules[1].enabled);
    assert_int_equal(c.rules[1].key, LG_RULE_KEY_IP);
    assert_int_equal(c.rules[1].threshold, 20);
    assert_string_equal(c.rules[2].name, "user_ip");
    assert_false(c.rules[2].enabled);
    assert_int_equal(c.rules[2].key, LG_RULE_KEY_USER_IP);
    assert_int_equal(c.rules[2].threshold, 5);
}

static void test_reason_names_window_in_ms_when_not_whole_seconds(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(3, 1500, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    assert_int_equal(fail_n(&f, "alice", T0, 1, 3), 1);
    assert_string_equal(f.blocks[0].reason, "3 failures in 1500ms");
    fx_close(&f);
}

static void test_block_record_expires_24h_after_block_ends(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    lg_block b = block_at(&f, "alice", T0);
    assert_int_equal(stats(&f).blocks_tracked, 1);
    for (int i = 0; i < 3000; i++) /* time moves on: until + 24 h */
        attempt(&f, "bob", "", b.until_ms + 24 * HOUR_MS + i, true);
    lg_engine_stats s = stats(&f);
    assert_int_equal(s.blocks_tracked, 0);
    assert_int_equal(s.keys_tracked, 1); /* bob's success floor */
    fx_close(&f);
}

static void test_block_is_remembered_until_24h_after_it_ends_not_longer(void **state)
{
    fx f;
    lg_engine_conf c = conf_user(5, 60000, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    lg_block a = block_at(&f, "alice", T0);
    lg_block b = block_at(&f, "bob", T0 + 1);
    assert_int_equal(b.until_ms - a.until_ms, 1);
    /* the clock reaches alice's until + 24 h, one ms short of bob's */
    assert_int_equal(attempt(&f, "carol", "", a.until_ms + 24 * HOUR_MS, true),
                     LG_OUTCOME_OK);
    assert_int_equal(lg_engine_unblock(f.e, "user:bob", 8), 0);
    assert_int_equal(lg_engine_unblock(f.e, "user:alice", 10), LG_ENOTFOUND);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifth_failure_within_window_blocks_user),
        cmocka_unit_test(test_refused_attempts_never_count),
        cmocka_unit_test(test_four_failures_within_window_do_not_block),
        cmocka_unit_test(test_fifth_failure_59999_ms_after_first_blocks),
        cmocka_unit_test(test_fifth_failure_60000_ms_after_first_does_not_block),
        cmocka_unit_test(test_threshold_1_blocks_on_first_failure),
        cmocka_unit_test(test_threshold_64_blocks_on_64th_failure_not_63rd),
        cmocka_unit_test(test_success_resets_window),
        cmocka_unit_test(test_late_failure_before_success_does_not_count),
        cmocka_unit_test(test_late_success_drops_only_failures_before_it),
        cmocka_unit_test(test_late_success_drops_failures_at_its_own_ts),
        cmocka_unit_test(test_success_does_not_reset_when_reset_on_success_is_off),
        cmocka_unit_test(test_blocked_attempts_are_not_counted_and_do_not_extend_block),
        cmocka_unit_test(test_block_since_is_largest_ts_among_completing_failures),
        cmocka_unit_test(test_block_lasts_from_since_to_since_plus_15_minutes),
        cmocka_unit_test(test_escalation_doubles_15_30_60_minutes),
        cmocka_unit_test(test_escalation_resets_to_level_1_after_24h_gap),
        cmocka_unit_test(test_escalation_caps_duration_at_24h),
        cmocka_unit_test(test_permanent_block_has_until_0_and_stays_blocked),
        cmocka_unit_test(test_late_failure_within_window_counts),
        cmocka_unit_test(test_late_failure_older_than_newest_minus_window_does_not_count),
        cmocka_unit_test(test_rule_ip_blocks_address_and_ignores_attempts_without_ip),
        cmocka_unit_test(test_rule_user_ip_blocks_the_pair_only),
        cmocka_unit_test(test_rule_ip_keys_an_ipv6_address_by_its_64_network),
        cmocka_unit_test(test_ip_rules_of_different_prefixes_keep_their_own_keys),
        cmocka_unit_test(test_block_of_one_rule_makes_attempt_blocked_for_every_rule),
        cmocka_unit_test(test_loaded_block_blocks_and_escalates_like_a_decided_one),
        cmocka_unit_test(test_loaded_block_clears_window_up_to_since),
        cmocka_unit_test(test_loaded_block_older_than_the_key_s_record_does_not_replace_it),
        cmocka_unit_test(test_unblock_forgets_block_and_escalation),
        cmocka_unit_test(test_user_named_like_an_ip_key_and_the_address_block_apart),
        cmocka_unit_test(test_keys_are_parsed_by_their_rule_name),
        cmocka_unit_test(test_blocked_key_is_blocked_until_its_end_also_after_a_later_attempt),
        cmocka_unit_test(test_unblocked_key_is_judged_again_inside_its_old_block),
        cmocka_unit_test(test_cached_block_record_expires_24h_after_the_block_ends),
        cmocka_unit_test(test_idle_keys_are_evicted_after_time_moves_on),
        cmocka_unit_test(test_evicted_key_starts_over),
        cmocka_unit_test(test_invalid_conf_is_rejected_with_reason),
        cmocka_unit_test(test_default_conf_enables_user_only),
        cmocka_unit_test(test_reason_names_window_in_ms_when_not_whole_seconds),
        cmocka_unit_test(test_block_record_expires_24h_after_block_ends),
        cmocka_unit_test(test_block_is_remembered_until_24h_after_it_ends_not_longer),
    };
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
