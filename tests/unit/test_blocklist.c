/*
 * test_blocklist.c - the API's local blocklist: put/has/del, activity exactly while
 * since <= now < until (until 0 = permanent), lazy expiry, the entries_max bound with
 * eviction of expired entries before LG_EFULL, and a multi-thread smoke test.
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

#include "core/blocklist.h"
#include "core/clock.h"
#include "core/err.h"

#define T0 1700000000000LL /* since of most test blocks */
#define DAY_MS (24LL * 3600 * 1000)

static lg_block user_block(const char *user, int64_t since_ms, int64_t until_ms)
{
    lg_block b;
    memset(&b, 0, sizeof b);
    snprintf(b.rule, sizeof b.rule, "user");
    snprintf(b.user, sizeof b.user, "%s", user);
    b.since_ms = since_ms;
    b.until_ms = until_ms;
    b.level = 1;
    snprintf(b.reason, sizeof b.reason, "5 failures in 60s");
    return b;
}

static lg_blocklist *new_list(size_t entries_max)
{
    lg_blocklist *bl = NULL;
    assert_int_equal(lg_blocklist_new(entries_max, &bl), 0);
    assert_non_null(bl);
    return bl;
}

static bool has(lg_blocklist *bl, const char *key, int64_t now_ms)
{
    return lg_blocklist_has(bl, key, strlen(key), now_ms, NULL);
}

static void test_put_block_is_found_and_copied_out(void **state)
{
    lg_blocklist *bl = new_list(16);
    lg_block b = user_block("alice", T0, T0 + 900000), out;
    assert_int_equal(lg_blocklist_put(bl, &b), 0);
    memset(&out, 0, sizeof out);
    assert_true(lg_blocklist_has(bl, "user:alice", 10, T0 + 1, &out));
    assert_string_equal(out.user, "alice");
    assert_true(out.until_ms == T0 + 900000);
    assert_false(has(bl, "user:alicE", T0 + 1));
    assert_false(has(bl, "user:alic", T0 + 1));
    assert_int_equal(lg_blocklist_count(bl), 1);
    lg_blocklist_free(bl);
}

static void test_del_removes_the_key_and_missing_keys_are_fine(void **state)
{
    lg_blocklist *bl = new_list(16);
    lg_block b = user_block("alice", T0, 0);
    assert_int_equal(lg_blocklist_put(bl, &b), 0);
    lg_blocklist_del(bl, "user:nobody", 11);
    assert_true(has(bl, "user:alice", T0));
    lg_blocklist_del(bl, "user:alice", 10);
    assert_false(has(bl, "user:alice", T0));
    assert_int_equal(lg_blocklist_count(bl), 0);
    lg_blocklist_del(bl, "user:alice", 10);
    lg_blocklist_free(bl);
}

static void test_block_is_active_at_until_minus_one_and_not_at_until(void **state)
{
    lg_blocklist *bl = new_list(16);
    lg_block b = user_block("alice", T0, T0 + 60000);
    assert_int_equal(lg_blocklist_put(bl, &b), 0);
    assert_true(has(bl, "user:alice", T0));
    assert_true(has(bl, "user:alice", T0 + 59999));
    assert_int_equal(lg_blocklist_count(bl), 1);
    assert_false(has(bl, "user:alice", T0 + 60000));
    /* the lookup that met the expired entry dropped it */
    assert_int_equal(lg_blocklist_count(bl), 0);
    assert_false(has(bl, "user:alice", T0 + 59999));
    lg_blocklist_free(bl);
}

static void test_permanent_block_never_expires(void **state)
{
    lg_blocklist *bl = new_list(16);
    lg_block b = user_block("mallory", T0, 0);
    assert_int_equal(lg_blocklist_put(bl, &b), 0);
    assert_true(has(bl, "user:mallory", T0));
    assert_true(has(bl, "user:mallory", LG_TS_MAX_MS));
    assert_int_equal(lg_blocklist_expire(bl, LG_TS_MAX_MS, 1000), 0);
    assert_int_equal(lg_blocklist_count(bl), 1);
    lg_blocklist_free(bl);
}

static void test_block_with_since_in_the_future_is_not_active_yet(void **state)
{
    lg_blocklist *bl = new_list(16);
    lg_block b = user_block("bob", T0 + 1000, T0 + 2000);
    assert_int_equal(lg_blocklist_put(bl, &b), 0);
    assert_false(has(bl, "user:bob", T0 + 999));
    assert_int_equal(lg_blocklist_count(bl), 1); /* kept: it is not expired */
    assert_true(has(bl, "user:bob", T0 + 1000));
    lg_blocklist_free(bl);
}

static void test_put_replaces_the_block_under_the_same_key(void **state)
{
    lg_blocklist *bl = new_list(16);
    lg_block b = user_block("alice", T0, T0 + 1000), out;
    assert_int_equal(lg_blocklist_put(bl, &b), 0);
    b = user_block("alice", T0 + 5000, T0 + 9000);
    b.level = 2;
    assert_int_equal(lg_blocklist_put(bl, &b), 0);
    assert_int_equal(lg_blocklist_count(bl), 1);
    assert_false(has(bl, "user:alice", T0 + 500));
    assert_true(lg_blocklist_has(bl, "user:alice", 10, T0 + 5000, &out));
    assert_int_equal(out.level, 2);
    lg_blocklist_free(bl);
}

static void test_keys_of_each_rule_live_apart(void **state)
{
    lg_blocklist *bl = new_list(16);
    lg_block u = user_block("203.0.113.7", T0, 0);
    lg_block ip = user_block("", T0, 0);
    snprintf(ip.rule, sizeof ip.rule, "ip");
    snprintf(ip.ip, sizeof ip.ip, "203.0.113.9");
    lg_block ui = user_block("carol", T0, 0);
    snprintf(ui.rule, sizeof ui.rule, "user_ip");
    snprintf(ui.ip, sizeof ui.ip, "::1");
    assert_int_equal(lg_blocklist_put(bl, &u), 0);
    assert_int_equal(lg_blocklist_put(bl, &ip), 0);
    assert_int_equal(lg_blocklist_put(bl, &ui), 0);
    assert_true(has(bl, "user:203.0.113.7", T0));
    assert_false(has(bl, "ip:203.0.113.7", T0));
    assert_true(has(bl, "ip:203.0.113.9", T0));
    assert_false(has(bl, "user:203.0.113.9", T0));
    assert_true(has(bl, "user_ip:carol|::1", T0));
    assert_false(has(bl, "user:carol", T0));
    assert_int_equal(lg_blocklist_count(bl), 3);
    lg_blocklist_free(bl);
}

static void test_user_named_like_an_address_and_the_address_are_two_entries(void **state)
{
    lg_blocklist *bl = new_list(16);
    lg_block odd = user_block("ip:192.0.2.77", T0, 0), addr = user_block("", T0, T0 + 1000);
    lg_block out;

    snprintf(addr.rule, sizeof addr.rule, "ip");
    snprintf(addr.ip, sizeof addr.ip, "192.0.2.77");
    assert_int_equal(lg_blocklist_put(bl, &odd), 0);
    assert_int_equal(lg_blocklist_put(bl, &addr), 0);
    assert_int_equal(lg_blocklist_count(bl), 2);
    assert_true(lg_blocklist_has(bl, "ip:192.0.2.77", 13, T0, &out));
    assert_string_equal(out.rule, "ip");
    assert_true(lg_blocklist_has(bl, "user:ip:192.0.2.77", 18, T0, &out));
    assert_string_equal(out.rule, "user");
    /* unblocking the user leaves the address blocked, and the other way round */
    lg_blocklist_del(bl, "user:ip:192.0.2.77", 18);
    assert_true(has(bl, "ip:192.0.2.77", T0));
    assert_int_equal(lg_blocklist_put(bl, &odd), 0);
    lg_blocklist_del(bl, "ip:192.0.2.77", 13);
    assert_true(has(bl, "user:ip:192.0.2.77", T0));
    assert_false(has(bl, "ip:192.0.2.77", T0));
    lg_blocklist_free(bl);
}

static void test_block_without_its_key_field_is_refused(void **state)
{
    lg_blocklist *bl = new_list(16);
    lg_block b = user_block("", T0, 0);
    assert_int_equal(lg_blocklist_put(bl, &b), LG_EINVAL);
    assert_int_equal(lg_blocklist_count(bl), 0);
    lg_blocklist_free(bl);
}

static void test_full_table_refuses_with_efull_and_counts_it(void **state)
{
    enum { MAX = 8 };
    lg_blocklist *bl = new_list(MAX);
    char user[16];
    for (int i = 0; i < MAX; i++) { /* up to MAX - 1, then MAX */
        snprintf(user, sizeof user, "u%d", i);
        lg_block b = user_block(user, T0, 0);
        assert_int_equal(lg_blocklist_put(bl, &b), 0);
    }
    assert_int_equal(lg_blocklist_count(bl), MAX);
    lg_block extra = user_block("one-too-many", T0, 0); /* MAX + 1 */
    assert_int_equal(lg_blocklist_put(bl, &extra), LG_EFULL);
    assert_int_equal(lg_blocklist_refused(bl), 1);
    assert_false(has(bl, "user:one-too-many", T0));
    /* replacing a present key needs no new slot */
    lg_block again = user_block("u3", T0 + 1, 0);
    assert_int_equal(lg_blocklist_put(bl, &again), 0);
    /* a tombstone frees a slot */
    lg_blocklist_del(bl, "user:u0", 7);
    assert_int_equal(lg_blocklist_put(bl, &extra), 0);
    assert_int_equal(lg_blocklist_count(bl), MAX);
    lg_blocklist_free(bl);
}

static void test_full_table_evicts_expired_blocks_before_refusing(void **state)
{
    enum { MAX = 4 };
    lg_blocklist *bl = new_list(MAX);
    int64_t past = lg_now_ms() - DAY_MS; /* put evicts against the wall clock */
    char user[16];
    for (int i = 0; i < MAX; i++) {
        snprintf(user, sizeof user, "old%d", i);
        lg_block b = user_block(user, past, past + 1000);
        assert_int_equal(lg_blocklist_put(bl, &b), 0);
    }
    lg_block fresh = user_block("fresh", past, 0);
    assert_int_equal(lg_blocklist_put(bl, &fresh), 0);
    assert_int_equal(lg_blocklist_count(bl), 1);
    assert_int_equal(lg_blocklist_refused(bl), 0);
    assert_true(has(bl, "user:fresh", lg_now_ms()));
    lg_blocklist_free(bl);
}

static void test_full_table_of_active_blocks_evicts_the_one_ending_soonest(void **state)
{
    enum { MAX = 8 };
    lg_blocklist *bl = new_list(MAX);
    int64_t now = lg_now_ms(); /* put sweeps against the wall clock: none has expired */
    char user[16];

    for (int i = 0; i < MAX; i++) {
        snprintf(user, sizeof user, "u%d", i);
        /* u3 ends soonest; u0 is permanent */
        int64_t until = i == 0 ? 0 : now + (i == 3 ? 1 : 10 + i) * 60000;
        lg_block b = user_block(user, now, until);
        assert_int_equal(lg_blocklist_put(bl, &b), 0);
    }
    lg_block fresh = user_block("fresh", now, now + 15 * 60000);
    assert_int_equal(lg_blocklist_put(bl, &fresh), 0);
    assert_int_equal(lg_blocklist_count(bl), MAX);
    assert_int_equal(lg_blocklist_evicted(bl), 1);
    assert_int_equal(lg_blocklist_refused(bl), 0);
    assert_true(has(bl, "user:fresh", now));
    assert_false(has(bl, "user:u3", now));
    assert_true(has(bl, "user:u0", now));
    assert_true(has(bl, "user:u1", now));
    lg_blocklist_free(bl);
}

static void test_full_table_refuses_a_block_ending_before_every_other(void **state)
{
    enum { MAX = 4 };
    lg_blocklist *bl = new_list(MAX);
    int64_t now = lg_now_ms();
    char user[16];

    for (int i = 0; i < MAX; i++) {
        snprintf(user, sizeof user, "u%d", i);
        lg_block b = user_block(user, now, i == 0 ? 0 : now + 3600000);
        assert_int_equal(lg_blocklist_put(bl, &b), 0);
    }
    lg_block brief = user_block("brief", now, now + 60000);
    assert_int_equal(lg_blocklist_put(bl, &brief), LG_EFULL);
    assert_int_equal(lg_blocklist_refused(bl), 1);
    assert_int_equal(lg_blocklist_evicted(bl), 0);
    /* a permanent block ends after every timed one: one of those makes room */
    lg_block forever = user_block("forever", now, 0);
    assert_int_equal(lg_blocklist_put(bl, &forever), 0);
    assert_int_equal(lg_blocklist_evicted(bl), 1);
    assert_true(has(bl, "user:u0", now));
    assert_true(has(bl, "user:forever", now));
    lg_blocklist_free(bl);
}

static void test_expire_drops_only_expired_blocks(void **state)
{
    lg_blocklist *bl = new_list(1024);
    char user[16];
    for (int i = 0; i < 300; i++) {
        snprintf(user, sizeof user, "u%d", i);
        /* thirds: expired at T0 + 10, permanent, active until T0 + 20 */
        int64_t until = i % 3 == 0 ? T0 + 10 : i % 3 == 1 ? 0 : T0 + 20;
        lg_block b = user_block(user, T0, until);
        assert_int_equal(lg_blocklist_put(bl, &b), 0);
    }
    assert_int_equal(lg_blocklist_expire(bl, T0 + 10, 100000), 100);
    assert_int_equal(lg_blocklist_count(bl), 200);
    assert_true(has(bl, "user:u1", T0 + 10));
    assert_true(has(bl, "user:u2", T0 + 10));
    lg_blocklist_free(bl);
}

static void count_cb(void *opaque, const lg_block *b)
{
    size_t *n = opaque;
    assert_true(b->user[0] == 'a'); /* only the active ones */
    (*n)++;
}

static void test_each_active_visits_only_active_blocks(void **state)
{
    lg_blocklist *bl = new_list(64);
    lg_block blocks[] = {
        user_block("a1", T0, 0), user_block("a2", T0, T0 + 100),
        user_block("x-expired", T0 - 100, T0), user_block("x-future", T0 + 1, 0),
    };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        assert_int_equal(lg_blocklist_put(bl, &blocks[i]), 0);
    size_t n = 0;
    lg_blocklist_each_active(bl, T0, count_cb, &n);
    assert_int_equal(n, 2);
    lg_blocklist_free(bl);
}

static void test_new_rejects_a_zero_or_oversized_bound(void **state)
{
    lg_blocklist *bl = NULL;
    assert_int_equal(lg_blocklist_new(0, &bl), LG_EINVAL);
    assert_int_equal(lg_blocklist_new((size_t)LG_KEYS_MAX_CAP + 1, &bl), LG_EINVAL);
    assert_null(bl);
    assert_int_equal(lg_blocklist_new(1, &bl), 0);
    lg_blocklist_free(bl);
    lg_blocklist_free(NULL);
}

/* ---- concurrency ------------------------------------------------------------------ */

#define SMOKE_KEYS 512
#define SMOKE_OPS 40000
#define SMOKE_WRITERS 2
#define SMOKE_READERS 2

typedef struct smoke {
    lg_blocklist *bl;
    unsigned seed;
    atomic_int errors;
} smoke;

static void *smoke_writer(void *arg)
{
    smoke *s = arg;
    unsigned x = s->seed;
    char user[16];
    for (int i = 0; i < SMOKE_OPS; i++) {
        x = x * 1103515245u + 12345u;
        snprintf(user, sizeof user, "k%u", (x >> 8) % SMOKE_KEYS);
        if ((x >> 20) % 8 == 0) { /* rare enough that the bound is reached */
            char key[24];
            snprintf(key, sizeof key, "user:%s", user);
            lg_blocklist_del(s->bl, key, strlen(key));
        } else {
            lg_block b = user_block(user, T0, (x >> 24) % 4 ? 0 : T0 + 1000);
            int rc = lg_blocklist_put(s->bl, &b);
            if (rc != 0 && rc != LG_EFULL)
                atomic_fetch_add(&s->errors, 1);
        }
    }
    return NULL;
}

static void *smoke_reader(void *arg)
{
    smoke *s = arg;
    lg_block out;
    char user[16], key[24];
    for (int i = 0; i < SMOKE_OPS; i++) {
        /* a key no writer touches must always be seen, with its own fields */
        if (!lg_blocklist_has(s->bl, "user:steady", 11, T0, &out) || strcmp(out.user, "steady") != 0)
            atomic_fetch_add(&s->errors, 1);
        snprintf(user, sizeof user, "k%d", i % SMOKE_KEYS);
        snprintf(key, sizeof key, "user:%s", user);
        if (lg_blocklist_has(s->bl, key, strlen(key), T0 + 10, &out) &&
            strcmp(out.user, user) != 0)
            atomic_fetch_add(&s->errors, 1);
    }
    return NULL;
}

static void test_concurrent_readers_and_writers_keep_the_table_consistent(void **state)
{
    smoke s = {.bl = new_list(SMOKE_KEYS / 2 + 1), .seed = 1};
    atomic_init(&s.errors, 0);
    lg_block steady = user_block("steady", T0, 0);
    assert_int_equal(lg_blocklist_put(s.bl, &steady), 0);

    pthread_t th[SMOKE_WRITERS + SMOKE_READERS];
    smoke per[SMOKE_WRITERS];
    for (int i = 0; i < SMOKE_WRITERS; i++) {
        per[i] = (smoke){.bl = s.bl, .seed = 7u + (unsigned)i * 7919u};
        atomic_init(&per[i].errors, 0);
        assert_int_equal(pthread_create(&th[i], NULL, smoke_writer, &per[i]), 0);
    }
    for (int i = 0; i < SMOKE_READERS; i++)
        assert_int_equal(pthread_create(&th[SMOKE_WRITERS + i], NULL, smoke_reader, &s), 0);
    for (int i = 0; i < SMOKE_WRITERS + SMOKE_READERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);

    assert_int_equal(atomic_load(&s.errors), 0);
    for (int i = 0; i < SMOKE_WRITERS; i++)
        assert_int_equal(atomic_load(&per[i].errors), 0);
    /* the count matches what lookups find, and the bound held */
    size_t found = has(s.bl, "user:steady", T0);
    char key[24];
    for (int k = 0; k < SMOKE_KEYS; k++) {
        snprintf(key, sizeof key, "user:k%d", k);
        found += has(s.bl, key, T0);
    }
    assert_int_equal(lg_blocklist_count(s.bl), found);
    assert_true(found <= SMOKE_KEYS / 2 + 1);
    assert_true(lg_blocklist_refused(s.bl) > 0); /* the bound was actually reached */
    lg_blocklist_free(s.bl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_block_is_found_and_copied_out),
        cmocka_unit_test(test_del_removes_the_key_and_missing_keys_are_fine),
        cmocka_unit_test(test_block_is_active_at_until_minus_one_and_not_at_until),
        cmocka_unit_test(test_permanent_block_never_expires),
        cmocka_unit_test(test_block_with_since_in_the_future_is_not_active_yet),
        cmocka_unit_test(test_put_replaces_the_block_under_the_same_key),
        cmocka_unit_test(test_keys_of_each_rule_live_apart),
        cmocka_unit_test(test_user_named_like_an_address_and_the_address_are_two_entries),
        cmocka_unit_test(test_block_without_its_key_field_is_refused),
        cmocka_unit_test(test_full_table_refuses_with_efull_and_counts_it),
        cmocka_unit_test(test_full_table_evicts_expired_blocks_before_refusing),
        cmocka_unit_test(test_full_table_of_active_blocks_evicts_the_one_ending_soonest),
        cmocka_unit_test(test_full_table_refuses_a_block_ending_before_every_other),
        cmocka_unit_test(test_expire_drops_only_expired_blocks),
        cmocka_unit_test(test_each_active_visits_only_active_blocks),
        cmocka_unit_test(test_new_rejects_a_zero_or_oversized_bound),
        cmocka_unit_test(test_concurrent_readers_and_writers_keep_the_table_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
