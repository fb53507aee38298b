/*
 * test_gate.c - the admission gate: at most threshold checks per window whatever the
 * concurrency, the pending block after the threshold-th failure (and its end), stamps
 * strictly increasing per user, reset on success with the tie rule, reported attempts,
 * unblock (forget), bucket eviction and the ungated fallback, and a threaded burst.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/gate.h"

#define T0 1700000000000LL
#define WINDOW 60000
#define BLOCK_FOR (15 * 60000)

static lg_gate *gate_make(uint32_t threshold, size_t entries_max)
{
    lg_gate_conf c = {.threshold = threshold,
                      .window_ms = WINDOW,
                      .block_for_ms = BLOCK_FOR,
                      .reset_on_success = true,
                      .entries_max = entries_max};
    lg_gate *g = NULL;

    assert_int_equal(lg_gate_new(&c, &g), 0);
    return g;
}

#define U(s) (s), strlen(s)

static void fail_once(lg_gate *g, const char *user, int64_t now, int64_t *ts)
{
    int64_t until = -1;

    assert_int_equal(lg_gate_admit(g, U(user), now, &until), LG_GATE_ADMIT);
    assert_true(lg_gate_complete(g, U(user), false, now, ts, &until));
}

static void test_conf_bounds(void **state)
{
    lg_gate_conf c = {.threshold = LG_GATE_FAILS_MAX + 1, .window_ms = WINDOW};
    lg_gate *g = NULL;

    (void)state;
    assert_int_equal(lg_gate_new(&c, &g), LG_EINVAL);
    c.threshold = 0;
    assert_int_equal(lg_gate_new(&c, &g), LG_EINVAL);
    c.threshold = 5;
    c.window_ms = 0;
    assert_int_equal(lg_gate_new(&c, &g), LG_EINVAL);
    lg_gate_free(NULL);
}

/* 5 admitted at once, the 6th refused while they are in flight, without any failure */
static void test_inflight_counts(void **state)
{
    lg_gate *g = gate_make(5, 0);
    int64_t until = 0, ts;

    (void)state;
    for (int i = 0; i < 5; i++)
        assert_int_equal(lg_gate_admit(g, U("alice"), T0, &until), LG_GATE_ADMIT);
    assert_int_equal(lg_gate_admit(g, U("alice"), T0, &until), LG_GATE_REFUSE);
    assert_true(until > T0 && until <= T0 + 1000); /* ask again soon: nothing decided */
    /* other users are not affected */
    assert_int_equal(lg_gate_admit(g, U("bob"), T0, &until), LG_GATE_ADMIT);
    lg_gate_release(g, U("bob"));
    /* one check done right: the slot returns, the window is reset */
    assert_true(lg_gate_complete(g, U("alice"), true, T0 + 1, &ts, &until));
    assert_int_equal(lg_gate_admit(g, U("alice"), T0 + 1, &until), LG_GATE_ADMIT);
    lg_gate_release(g, U("alice"));
    for (int i = 0; i < 4; i++)
        lg_gate_release(g, U("alice"));
    assert_int_equal(lg_gate_admit(g, U("alice"), T0 + 2, &until), LG_GATE_ADMIT);
    lg_gate_release(g, U("alice"));
    lg_gate_free(g);
}

/* the 5th failure decides the pending block: the right password is refused after it,
 * until since + block_for; the block starts at the 5th failure's stamp */
static void test_pending_block(void **state)
{
    lg_gate *g = gate_make(5, 0);
    int64_t until = 0, ts[5];

    (void)state;
    for (int i = 0; i < 5; i++)
        fail_once(g, "alice", T0 + i * 1000, &ts[i]);
    assert_int_equal(ts[4], T0 + 4000);
    assert_int_equal(lg_gate_admit(g, U("alice"), T0 + 5000, &until), LG_GATE_REFUSE);
    assert_int_equal(until, ts[4] + BLOCK_FOR);
    assert_int_equal(lg_gate_admit(g, U("alice"), ts[4] + BLOCK_FOR - 1, &until),
                     LG_GATE_REFUSE);
    /* the block's first duration is over: admitted again, with a clean window */
    assert_int_equal(lg_gate_admit(g, U("alice"), ts[4] + BLOCK_FOR, &until), LG_GATE_ADMIT);
    lg_gate_release(g, U("alice"));
    lg_gate_free(g);
}

/* a check admitted before the 5th failure completed, finishing after it: refused */
static void test_complete_after_block(void **state)
{
    lg_gate *g = gate_make(2, 0);
    int64_t until = 0, ts;

    (void)state;
    assert_int_equal(lg_gate_admit(g, U("a"), T0, &until), LG_GATE_ADMIT);
    assert_int_equal(lg_gate_admit(g, U("a"), T0, &until), LG_GATE_ADMIT);
    assert_true(lg_gate_report(g, U("a"), false, T0, T0, &until)); /* a reporter's failure */
    assert_true(lg_gate_complete(g, U("a"), false, T0 + 1, &ts, &until)); /* 2nd: blocks */
    assert_false(lg_gate_complete(g, U("a"), true, T0 + 2, &ts, &until)); /* right pw */
    assert_int_equal(until, T0 + 1 + BLOCK_FOR);
    lg_gate_free(g);
}

/* failures spanning a whole window do not block, as in the detector (strictly less) */
static void test_window_exact(void **state)
{
    lg_gate *g = gate_make(3, 0);
    int64_t until = 0, ts;

    (void)state;
    fail_once(g, "a", T0, &ts);
    fail_once(g, "a", T0 + 1, &ts);
    fail_once(g, "a", T0 + WINDOW, &ts); /* span = window: no block */
    /* T0 + 1 .. T0 + WINDOW + 1 spans a window again: still no block */
    fail_once(g, "a", T0 + WINDOW + 1, &ts);
    assert_int_equal(lg_gate_admit(g, U("a"), T0 + WINDOW + 2, &until), LG_GATE_ADMIT);
    assert_true(lg_gate_complete(g, U("a"), false, T0 + WINDOW + 2, &ts, &until)); /* blocks */
    assert_int_equal(lg_gate_admit(g, U("a"), T0 + WINDOW + 3, &until), LG_GATE_REFUSE);
    assert_int_equal(until, T0 + WINDOW + 2 + BLOCK_FOR);
    lg_gate_free(g);
}

/* stamps increase strictly per user, also when the clock stands still or goes back */
static void test_stamps_increase(void **state)
{
    lg_gate *g = gate_make(16, 0);
    int64_t until = 0, prev = 0, ts;

    (void)state;
    for (int i = 0; i < 10; i++) {
        int64_t now = T0 - (i % 3); /* the wall clock steps back now and then */
        assert_int_equal(lg_gate_admit(g, U("a"), now, &until), LG_GATE_ADMIT);
        assert_true(lg_gate_complete(g, U("a"), true, now, &ts, &until));
        assert_true(ts > prev);
        prev = ts;
    }
    lg_gate_free(g);
}

/* a reported success clears failures at or before its ts (the tie goes to the success),
 * also when they are reported after it; a later failure counts */
static void test_report_tie(void **state)
{
    lg_gate *g = gate_make(2, 0);
    int64_t until = 0;

    (void)state;
    assert_true(lg_gate_report(g, U("a"), true, T0 + 10, T0 + 10, &until));
    assert_true(lg_gate_report(g, U("a"), false, T0 + 10, T0 + 11, &until)); /* tie */
    assert_true(lg_gate_report(g, U("a"), false, T0 + 5, T0 + 11, &until));  /* late */
    assert_int_equal(lg_gate_admit(g, U("a"), T0 + 12, &until), LG_GATE_ADMIT);
    lg_gate_release(g, U("a"));
    assert_true(lg_gate_report(g, U("a"), false, T0 + 11, T0 + 12, &until));
    assert_true(lg_gate_report(g, U("a"), false, T0 + 12, T0 + 12, &until)); /* blocks */
    assert_false(lg_gate_report(g, U("a"), true, T0 + 13, T0 + 13, &until));
    /* an old failure from before the block stands (the detector judges it) */
    assert_true(lg_gate_report(g, U("a"), false, T0 + 1, T0 + 13, &until));
    lg_gate_free(g);
}

static void test_forget(void **state)
{
    lg_gate *g = gate_make(2, 0);
    int64_t until = 0, ts;

    (void)state;
    fail_once(g, "a", T0, &ts);
    fail_once(g, "a", T0 + 1, &ts);
    assert_int_equal(lg_gate_admit(g, U("a"), T0 + 2, &until), LG_GATE_REFUSE);
    lg_gate_forget(g, U("a"));
    assert_int_equal(lg_gate_admit(g, U("a"), T0 + 3, &until), LG_GATE_ADMIT);
    assert_true(lg_gate_complete(g, U("a"), false, T0 + 3, &ts, &until));
    assert_int_equal(lg_gate_admit(g, U("a"), T0 + 4, &until), LG_GATE_ADMIT); /* 1 of 2 */
    lg_gate_release(g, U("a"));
    lg_gate_free(g);
}

/* one bucket of LG_GATE_WAYS: new users evict the least recently active idle-less one;
 * when every way has a check in flight, a new user goes ungated */
static void test_full_bucket(void **state)
{
    lg_gate *g = gate_make(5, 1); /* one bucket */
    lg_gate_stats st;
    int64_t until = 0, ts;
    char name[16];

    (void)state;
    for (int i = 0; i < LG_GATE_WAYS; i++) {
        snprintf(name, sizeof name, "u%d", i);
        fail_once(g, name, T0 + i, &ts);
    }
    /* all ways hold a recent failure: the oldest (u0) is evicted for a newcomer */
    assert_int_equal(lg_gate_admit(g, U("new"), T0 + 100, &until), LG_GATE_ADMIT);
    lg_gate_stats_get(g, &st);
    assert_int_equal(st.evicted, 1);
    lg_gate_release(g, U("new"));
    /* every way in flight: ungated */
    for (int i = 1; i < LG_GATE_WAYS; i++) {
        snprintf(name, sizeof name, "u%d", i);
        assert_int_equal(lg_gate_admit(g, U(name), T0 + 200, &until), LG_GATE_ADMIT);
    }
    assert_int_equal(lg_gate_admit(g, U("new"), T0 + 200, &until), LG_GATE_ADMIT);
    assert_int_equal(lg_gate_admit(g, U("other"), T0 + 200, &until), LG_GATE_OFF);
    lg_gate_stats_get(g, &st);
    assert_int_equal(st.ungated, 1);
    lg_gate_free(g);
}

typedef struct burst_arg {
    lg_gate *g;
    _Atomic int verified;
    _Atomic int go;
} burst_arg;

static void *burst_thread(void *p)
{
    burst_arg *b = p;
    int64_t until, ts;

    while (!atomic_load(&b->go))
        ;
    for (int i = 0; i < 50; i++) {
        if (lg_gate_admit(b->g, U("victim"), T0 + i, &until) != LG_GATE_ADMIT)
            continue;
        atomic_fetch_add(&b->verified, 1);
        lg_gate_complete(b->g, U("victim"), false, T0 + i, &ts, &until);
    }
    return NULL;
}

/* 8 threads x 50 wrong passwords: exactly threshold checks */
static void test_threads_burst(void **state)
{
    burst_arg b = {.g = gate_make(5, 0)};
    pthread_t t[8];

    (void)state;
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, burst_thread, &b), 0);
    atomic_store(&b.go, 1);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&b.verified), 5);
    lg_gate_free(b.g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_bounds),     cmocka_unit_test(test_inflight_counts),
        cmocka_unit_test(test_pending_block),   cmocka_unit_test(test_complete_after_block),
        cmocka_unit_test(test_window_exact),    cmocka_unit_test(test_stamps_increase),
        cmocka_unit_test(test_report_tie),      cmocka_unit_test(test_forget),
        cmocka_unit_test(test_full_bucket),     cmocka_unit_test(test_threads_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
