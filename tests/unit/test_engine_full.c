/*
 * test_engine_full.c - full tables (keys_max) as an attacker fills them: junk keys must
 * not stop the blocking of other keys. The window table evicts the least recently active
 * keys (whole 64 ms slices of last activity for a 60 s window), the block table the
 * records expired the longest ago, then those ending soonest; permanent blocks never.
 * Evictions are counted, bounded in memory, and the same for every hash secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/engine.h"
#include "core/err.h"

/* a multiple of 2^18 ms: slices of the window (2^6) and of block ends (2^18) align */
#define T0 (1700000000000LL - 1700000000000LL % (1LL << 18))
#define MIN_MS (60LL * 1000)
#define KEYS 64

typedef struct fx {
    lg_engine *e;
    lg_block blocks[LG_RULES_MAX];
    size_t n_blocks;
} fx;

static lg_engine_conf conf_small(uint32_t threshold, int64_t block_for_ms)
{
    lg_engine_conf c;

    lg_engine_conf_default(&c);
    c.rules[0].threshold = threshold;
    c.rules[0].block_for_ms = block_for_ms;
    c.rules[0].keys_max = KEYS;
    return c;
}

static void fx_open(fx *f, const lg_engine_conf *c)
{
    char err[256] = "";

    memset(f, 0, sizeof *f);
    if (lg_engine_new(c, &f->e, err, sizeof err) != 0)
        fail_msg("lg_engine_new: %s", err);
}

static lg_outcome attempt(fx *f, const char *user, int64_t ts_ms, bool ok)
{
    lg_attempt a;

    memset(&a, 0, sizeof a);
    a.user_len = (uint32_t)snprintf(a.user, sizeof a.user, "%s", user);
    a.ts_ms = ts_ms;
    a.ok = ok;
    assert_int_equal(lg_engine_judge(f->e, &a, f->blocks, LG_RULES_MAX, &f->n_blocks), 0);
    return a.outcome;
}

static lg_outcome fail_at(fx *f, const char *user, int64_t ts_ms)
{
    return attempt(f, user, ts_ms, false);
}

static lg_engine_stats stats(const fx *f)
{
    lg_engine_stats s;
    lg_engine_stats_get(f->e, &s);
    return s;
}

/* n junk keys "<prefix><i>", one failure each, at ts0 + i * step_ms */
static void junk(fx *f, const char *prefix, int n, int64_t ts0, int64_t step_ms)
{
    char user[32];

    for (int i = 0; i < n; i++) {
        snprintf(user, sizeof user, "%s%d", prefix, i);
        assert_int_equal(fail_at(f, user, ts0 + i * step_ms), LG_OUTCOME_FAIL);
        assert_int_equal(f->n_blocks, 0);
    }
}

/* An engine of threshold t whose table is full: KEYS junk keys "u<i>", one failure each
 * at T0 + i * step_ms. */
static void fx_open_full(fx *f, uint32_t threshold, int64_t step_ms)
{
    lg_engine_conf c = conf_small(threshold, 15 * MIN_MS);

    fx_open(f, &c);
    junk(f, "u", KEYS, T0, step_ms);
}

/* --- the window table ------------------------------------------------------------- */

static void test_brute_force_on_a_fresh_key_blocks_after_junk_fills_the_table(void **state)
{
    fx f;
    lg_engine_conf c = conf_small(5, 15 * MIN_MS);

    (void)state;
    fx_open(&f, &c);
    junk(&f, "junk", 1000, T0, 1);
    lg_engine_stats s0 = stats(&f);
    assert_true(s0.keys_evicted_full >= 1000 - KEYS);
    for (int i = 0; i < 5; i++)
        assert_int_equal(fail_at(&f, "victim", T0 + 1000 + i), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_string_equal(f.blocks[0].user, "victim");
    assert_int_equal(fail_at(&f, "victim", T0 + 1005), LG_OUTCOME_BLOCKED);
    lg_engine_stats s = stats(&f);
    assert_int_equal(s.keys_full, 0);
    assert_int_equal(s.n_rules, 1);
    assert_string_equal(s.rule[0].name, "user");
    assert_true(s.rule[0].keys_evicted_full == s.keys_evicted_full);
    /* memory stays what keys_max bought: the slack for evicted states is in place */
    assert_true(s.bytes == s0.bytes);
    assert_true(s.keys_tracked <= KEYS + KEYS / 4);
    lg_engine_free(f.e);
}

static void test_full_table_evicts_the_least_recently_active_key(void **state)
{
    fx f;
    const int64_t t1 = T0 + KEYS * 100;

    (void)state;
    fx_open_full(&f, 2, 100); /* one key per slice */
    assert_int_equal(stats(&f).keys_evicted_full, 0);
    /* N + 1: the new key evicts the oldest, u0, and only it */
    assert_int_equal(fail_at(&f, "new", t1), LG_OUTCOME_FAIL);
    assert_int_equal(stats(&f).keys_evicted_full, 1);
    assert_int_equal(fail_at(&f, "new", t1 + 1), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    /* u1 kept its failure: one more blocks it; u0 starts over */
    assert_int_equal(fail_at(&f, "u1", t1 + 2), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_int_equal(fail_at(&f, "u0", t1 + 3), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 0);
    assert_int_equal(stats(&f).keys_full, 0);
    lg_engine_free(f.e);
}

static void test_table_of_keys_max_keys_evicts_nothing(void **state)
{
    fx f;

    (void)state;
    fx_open_full(&f, 2, 100); /* N keys: nothing evicted, all counted */
    for (int i = 0; i < KEYS; i++) {
        char user[16];
        snprintf(user, sizeof user, "u%d", i);
        assert_int_equal(fail_at(&f, user, T0 + KEYS * 100 + i), LG_OUTCOME_FAIL);
        assert_int_equal(f.n_blocks, 1);
    }
    assert_int_equal(stats(&f).keys_evicted_full, 0);
    lg_engine_free(f.e);
}

static void test_a_key_active_between_junk_keys_keeps_its_window(void **state)
{
    fx f;
    char prefix[16];

    (void)state;
    fx_open_full(&f, 5, 100);
    /* a brute force with fewer than keys_max junk keys between its failures */
    for (int i = 0; i < 5; i++) {
        int64_t t = T0 + KEYS * 100 + i * 4000;
        assert_int_equal(fail_at(&f, "victim", t), LG_OUTCOME_FAIL);
        assert_int_equal(f.n_blocks, i == 4 ? 1 : 0);
        snprintf(prefix, sizeof prefix, "j%d-", i);
        junk(&f, prefix, KEYS / 2, t + 100, 100);
    }
    assert_true(stats(&f).keys_evicted_full > 0);
    lg_engine_free(f.e);
}

static void test_new_key_as_recent_as_every_state_is_refused_and_counted(void **state)
{
    fx f;

    (void)state;
    fx_open_full(&f, 2, 0); /* every state in one slice */
    assert_int_equal(fail_at(&f, "late", T0 + 1), LG_OUTCOME_FAIL);
    assert_int_equal(fail_at(&f, "late", T0 + 2), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 0); /* not counted: nothing older to evict */
    assert_int_equal(stats(&f).keys_full, 2);
    assert_int_equal(stats(&f).rule[0].keys_full, 2);
    /* a key of a later slice evicts them */
    assert_int_equal(fail_at(&f, "next", T0 + 64), LG_OUTCOME_FAIL);
    assert_int_equal(fail_at(&f, "next", T0 + 65), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_int_equal(stats(&f).keys_evicted_full, KEYS);
    lg_engine_free(f.e);
}

/* --- the block table -------------------------------------------------------------- */

static void test_full_block_table_forgets_the_block_expired_longest_ago(void **state)
{
    fx f;
    lg_engine_conf c = conf_small(1, MIN_MS); /* one failure blocks, for a minute */
    char user[16];

    (void)state;
    fx_open(&f, &c);
    for (int i = 0; i < KEYS; i++) { /* ends 10 min apart: one per slice of ends */
        snprintf(user, sizeof user, "u%d", i);
        assert_int_equal(fail_at(&f, user, T0 + i * 10 * MIN_MS), LG_OUTCOME_FAIL);
        assert_int_equal(f.n_blocks, 1);
    }
    int64_t t = T0 + KEYS * 10 * MIN_MS; /* all expired, all kept for escalation */
    assert_int_equal(stats(&f).blocks_tracked, KEYS);
    assert_int_equal(fail_at(&f, "new", t), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_int_equal(stats(&f).blocks_evicted_full, 1);
    assert_int_equal(stats(&f).keys_full, 0);
    assert_int_equal(fail_at(&f, "new", t + 1), LG_OUTCOME_BLOCKED); /* remembered */
    /* u0's record went first: it starts over at level 1, u63 escalates */
    assert_int_equal(fail_at(&f, "u0", t + 2), LG_OUTCOME_FAIL);
    assert_int_equal(f.blocks[0].level, 1);
    assert_int_equal(fail_at(&f, "u63", t + 3), LG_OUTCOME_FAIL);
    assert_int_equal(f.blocks[0].level, 2);
    lg_engine_free(f.e);
}

static void test_full_block_table_of_active_blocks_forgets_the_one_ending_soonest(void **state)
{
    fx f;
    lg_engine_conf c = conf_small(1, 24 * 60 * MIN_MS);
    char user[16];

    (void)state;
    fx_open(&f, &c);
    for (int i = 0; i < KEYS; i++) {
        snprintf(user, sizeof user, "u%d", i);
        assert_int_equal(fail_at(&f, user, T0 + i * 10 * MIN_MS), LG_OUTCOME_FAIL);
    }
    int64_t t = T0 + KEYS * 10 * MIN_MS; /* every block still active */
    assert_int_equal(fail_at(&f, "new", t), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_int_equal(fail_at(&f, "new", t + 1), LG_OUTCOME_BLOCKED);
    assert_int_equal(fail_at(&f, "u0", t + 2), LG_OUTCOME_FAIL); /* ended soonest */
    assert_int_equal(fail_at(&f, "u2", t + 3), LG_OUTCOME_BLOCKED);
    assert_int_equal(fail_at(&f, "u63", t + 4), LG_OUTCOME_BLOCKED);
    lg_engine_free(f.e);
}

static void test_permanent_blocks_are_never_evicted(void **state)
{
    fx f;
    lg_engine_conf c = conf_small(1, 0);
    char user[16];

    (void)state;
    fx_open(&f, &c);
    for (int i = 0; i < KEYS; i++) {
        snprintf(user, sizeof user, "u%d", i);
        assert_int_equal(fail_at(&f, user, T0 + i * MIN_MS), LG_OUTCOME_FAIL);
    }
    int64_t t = T0 + KEYS * MIN_MS;
    /* the new block stands (it is published) but is not remembered */
    assert_int_equal(fail_at(&f, "new", t), LG_OUTCOME_FAIL);
    assert_int_equal(f.n_blocks, 1);
    assert_int_equal(stats(&f).keys_full, 1);
    assert_int_equal(stats(&f).blocks_evicted_full, 0);
    for (int i = 0; i < KEYS; i++) {
        snprintf(user, sizeof user, "u%d", i);
        assert_int_equal(fail_at(&f, user, t + 1 + i), LG_OUTCOME_BLOCKED);
    }
    /* an unblock makes room again */
    assert_int_equal(lg_engine_unblock(f.e, "user:u5", 7), 0);
    assert_int_equal(fail_at(&f, "new", t + 100), LG_OUTCOME_FAIL);
    assert_int_equal(fail_at(&f, "new", t + 101), LG_OUTCOME_BLOCKED);
    lg_engine_free(f.e);
}

/* --- determinism -------------------------------------------------------------------- */

typedef struct seen {
    char lines[4096][256];
    size_t n;
} seen;

static void record(seen *s, const lg_block *b)
{
    assert_true(s->n < sizeof s->lines / sizeof s->lines[0]);
    snprintf(s->lines[s->n++], sizeof s->lines[0], "%s %s %lld %lld %u", b->rule, b->user,
             (long long)b->since_ms, (long long)b->until_ms, b->level);
}

static void on_block(void *opaque, size_t index, const lg_block *b)
{
    (void)index;
    record(opaque, b);
}

/* A stream that keeps the table full: junk keys, and brute forces of a few users among
 * them, some fast enough to block, some evicted between their failures. */
static void stream(lg_attempt *a, size_t n)
{
    uint64_t x = 0x1234567ULL;

    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        memset(&a[i], 0, sizeof a[i]);
        if ((x >> 60) < 3)
            a[i].user_len = (uint32_t)snprintf(a[i].user, sizeof a[i].user, "bf%u",
                                               (unsigned)((x >> 40) % 8));
        else
            a[i].user_len = (uint32_t)snprintf(a[i].user, sizeof a[i].user, "junk%zu", i);
        a[i].ts_ms = T0 + (int64_t)i * 3;
        a[i].ok = (x >> 20) % 50 == 0;
    }
}

static void run_stream(const lg_attempt *in, size_t n, bool batch, seen *out)
{
    lg_engine_conf c = conf_small(5, 1000);
    lg_attempt *a = malloc(n * sizeof *a);
    fx f;

    assert_non_null(a);
    memcpy(a, in, n * sizeof *a);
    fx_open(&f, &c);
    if (batch) {
        assert_int_equal(lg_engine_judge_batch(f.e, a, n, on_block, out), 0);
    } else {
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(lg_engine_judge(f.e, &a[i], f.blocks, LG_RULES_MAX, &f.n_blocks),
                             0);
            for (size_t b = 0; b < f.n_blocks; b++)
                record(out, &f.blocks[b]);
        }
    }
    assert_true(stats(&f).keys_evicted_full > 0);
    lg_engine_free(f.e);
    free(a);
}

static void test_evictions_depend_on_the_attempts_only(void **state)
{
    enum { N = 20000 };
    lg_attempt *a = malloc(N * sizeof *a);
    seen *s[3];

    (void)state;
    assert_non_null(a);
    stream(a, N);
    /* three engines, three random hash secrets, single calls and batches */
    for (int i = 0; i < 3; i++) {
        s[i] = calloc(1, sizeof *s[i]);
        assert_non_null(s[i]);
        run_stream(a, N, i == 2, s[i]);
    }
    assert_true(s[0]->n > 10);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(s[i]->n, s[0]->n);
        for (size_t j = 0; j < s[0]->n; j++)
            assert_string_equal(s[i]->lines[j], s[0]->lines[j]);
    }
    for (int i = 0; i < 3; i++)
        free(s[i]);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_brute_force_on_a_fresh_key_blocks_after_junk_fills_the_table),
        cmocka_unit_test(test_full_table_evicts_the_least_recently_active_key),
        cmocka_unit_test(test_table_of_keys_max_keys_evicts_nothing),
        cmocka_unit_test(test_a_key_active_between_junk_keys_keeps_its_window),
        cmocka_unit_test(test_new_key_as_recent_as_every_state_is_refused_and_counted),
        cmocka_unit_test(test_full_block_table_forgets_the_block_expired_longest_ago),
        cmocka_unit_test(test_full_block_table_of_active_blocks_forgets_the_one_ending_soonest),
        cmocka_unit_test(test_permanent_blocks_are_never_evicted),
        cmocka_unit_test(test_evictions_depend_on_the_attempts_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
