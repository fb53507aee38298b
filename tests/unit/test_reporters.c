/*
 * test_reporters.c - reporter keys: their format (prefix + 256 bits in base64url), their
 * hash (BLAKE2b-256 of the text, checked against a vector from Python's hashlib), the
 * name rule at its bounds, and the API's cache: lookups, refresh picking up added and
 * deleted keys, last uses written once per refresh (never per check) and carried across
 * a refresh, a failing store keeping the table, and the refresher thread on its own.
 * Store files go in $LG_TMPDIR (else /tmp) and are removed by each test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/reporters.h"
#include "auth/reporters_cache.h"
#include "core/clock.h"
#include "core/err.h"
#include "store/store.h"

#define NOW 1700000000000LL

/* --- key format and hashing ------------------------------------------------------- */

static void test_new_key_is_the_prefix_and_43_base64url_chars_and_never_repeats(void **state)
{
    char a[LG_REPORTER_KEY_LEN + 1], b[LG_REPORTER_KEY_LEN + 1];
    unsigned char ha[LG_STORE_KEY_HASH_LEN], hb[LG_STORE_KEY_HASH_LEN], again[LG_STORE_KEY_HASH_LEN];
    (void)state;

    assert_int_equal(lg_reporters_key_new(a, sizeof a, ha), 0);
    assert_int_equal(lg_reporters_key_new(b, sizeof b, hb), 0);
    assert_int_equal(strlen(a), 47);
    assert_memory_equal(a, "lgk_", 4);
    assert_true(strspn(a + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                43);
    assert_true(lg_reporters_key_wellformed(a, strlen(a)));
    assert_string_not_equal(a, b);
    assert_memory_not_equal(ha, hb, sizeof ha);
    lg_reporters_hash(a, strlen(a), again);
    assert_memory_equal(ha, again, sizeof ha); /* the hash handed back is the key's */
}

static void test_hash_is_blake2b_256_of_the_whole_key_text(void **state)
{
    /* hashlib.blake2b(b"lgk_" + b"A" * 43, digest_size=32).hexdigest() */
    static const char want_hex[] =
        "c25b153d66ceea2278bb7d2d7de1db22dc9becc40d7b5e942ce8f41c375e34b0";
    char key[LG_REPORTER_KEY_LEN + 1];
    unsigned char h[LG_STORE_KEY_HASH_LEN];
    char hex[2 * LG_STORE_KEY_HASH_LEN + 1];
    (void)state;

    memcpy(key, "lgk_", 4);
    memset(key + 4, 'A', 43);
    key[47] = '\0';
    lg_reporters_hash(key, 47, h);
    for (size_t i = 0; i < sizeof h; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    assert_string_equal(hex, want_hex);
}

static void test_wellformed_refuses_other_prefixes_lengths_and_alphabets(void **state)
{
    char key[LG_REPORTER_KEY_LEN + 2];
    (void)state;

    memcpy(key, "lgk_", 4);
    memset(key + 4, 'z', 44);
    assert_true(lg_reporters_key_wellformed(key, 47));
    assert_false(lg_reporters_key_wellformed(key, 46));
    assert_false(lg_reporters_key_wellformed(key, 48));
    assert_false(lg_reporters_key_wellformed(key, 0));
    assert_false(lg_reporters_key_wellformed(NULL, 47));
    key[10] = '+'; /* standard base64, not base64url */
    assert_false(lg_reporters_key_wellformed(key, 47));
    key[10] = '=';
    assert_false(lg_reporters_key_wellformed(key, 47));
    key[10] = 'z';
    key[0] = 'L';
    assert_false(lg_reporters_key_wellformed(key, 47));
}

static void test_names_are_1_to_64_bytes_of_letters_digits_dot_dash_underscore(void **state)
{
    char name[LG_REPORTER_NAME_MAX + 2], why[128] = "";
    (void)state;

    memset(name, 'a', sizeof name);
    assert_true(lg_reporters_name_valid(name, LG_REPORTER_NAME_MAX, why, sizeof why));
    assert_false(lg_reporters_name_valid(name, LG_REPORTER_NAME_MAX + 1, why, sizeof why));
    assert_non_null(strstr(why, "64"));
    assert_false(lg_reporters_name_valid(name, 0, why, sizeof why));
    assert_true(lg_reporters_name_valid("web-1.eu_west", 13, NULL, 0));
    assert_false(lg_reporters_name_valid("web 1", 5, why, sizeof why));
    assert_false(lg_reporters_name_valid("caf\xc3\xa9", 5, why, sizeof why));
    assert_false(lg_reporters_name_valid("a/b", 3, NULL, 0));
    assert_false(lg_reporters_name_valid("a\nb", 3, NULL, 0));
}

/* --- the cache ---------------------------------------------------------------------- */

typedef struct fixture {
    char path[512];
    lg_store *store;
    lg_reporters_cache *cache;
} fixture;

static void remove_db(const char *path)
{
    char side[600];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static lg_store *open_ok(const char *path)
{
    lg_store *s = NULL;
    char err[512] = "";
    if (lg_store_open(path, &s, err, sizeof err) != 0)
        fail_msg("open '%s': %s", path, err);
    return s;
}

static int setup(void **state)
{
    static unsigned counter;
    const char *dir = getenv("LG_TMPDIR");
    fixture *f = calloc(1, sizeof *f);

    if (f == NULL)
        return -1;
    if (dir == NULL || *dir == '\0' || (mkdir(dir, 0755) != 0 && errno != EEXIST))
        dir = "/tmp";
    snprintf(f->path, sizeof f->path, "%s/test_reporters_%ld_%u.db", dir, (long)getpid(),
             counter++);
    remove_db(f->path);
    f->store = open_ok(f->path);
    if (lg_reporters_cache_new(&f->cache) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    lg_reporters_cache_free(f->cache);
    lg_store_close(f->store);
    remove_db(f->path);
    free(f);
    return 0;
}

/* Adds a key named name to s; its text goes to key (LG_REPORTER_KEY_LEN + 1 bytes). */
static void key_add(lg_store *s, const char *name, char *key)
{
    lg_reporter_key_rec k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "%s", name);
    k.created_ms = NOW;
    assert_int_equal(lg_reporters_key_new(key, LG_REPORTER_KEY_LEN + 1, k.hash), 0);
    assert_int_equal(lg_store_key_put(s, &k, NULL), 0);
}

static bool check(lg_reporters_cache *c, const char *key, int64_t now, char *name)
{
    return lg_reporters_cache_check(c, key, strlen(key), now, name, name ? 64 + 1 : 0);
}

typedef struct uses {
    char names[8][LG_REPORTER_NAME_MAX + 1];
    int64_t last_used[8];
    size_t n;
} uses;

static void on_key(void *opaque, const lg_reporter_key_rec *k)
{
    uses *u = opaque;
    if (u->n < 8) {
        snprintf(u->names[u->n], sizeof u->names[0], "%s", k->name);
        u->last_used[u->n++] = k->last_used_ms;
    }
}

/* last_used of the key named name as the store has it (-1: no such key) */
static int64_t stored_use(lg_store *s, const char *name)
{
    uses u = {0};
    assert_int_equal(lg_store_keys_each(s, on_key, &u), 0);
    for (size_t i = 0; i < u.n; i++)
        if (strcmp(u.names[i], name) == 0)
            return u.last_used[i];
    return -1;
}

static void test_empty_cache_accepts_no_key(void **state)
{
    fixture *f = *state;
    char key[LG_REPORTER_KEY_LEN + 1];
    unsigned char h[LG_STORE_KEY_HASH_LEN];

    assert_int_equal(lg_reporters_key_new(key, sizeof key, h), 0);
    assert_false(check(f->cache, key, NOW, NULL));
    assert_int_equal(lg_reporters_cache_refresh(f->cache, f->store), 0);
    assert_false(check(f->cache, key, NOW, NULL));
    assert_int_equal(lg_reporters_cache_count(f->cache), 0);
}

static void test_stored_key_is_accepted_and_named_and_a_near_miss_is_not(void **state)
{
    fixture *f = *state;
    char key[LG_REPORTER_KEY_LEN + 1], other[LG_REPORTER_KEY_LEN + 1], name[65] = "";

    key_add(f->store, "web-1", key);
    key_add(f->store, "web-2", other);
    assert_false(check(f->cache, key, NOW, name)); /* not loaded yet */
    assert_int_equal(lg_reporters_cache_refresh(f->cache, f->store), 0);
    assert_int_equal(lg_reporters_cache_count(f->cache), 2);
    assert_true(check(f->cache, key, NOW, name));
    assert_string_equal(name, "web-1");
    assert_true(check(f->cache, other, NOW, name));
    assert_string_equal(name, "web-2");
    key[46] = key[46] == 'A' ? 'B' : 'A'; /* one character off */
    assert_false(check(f->cache, key, NOW, name));
    assert_false(lg_reporters_cache_check(f->cache, other, 46, NOW, NULL, 0)); /* truncated */
}

static void test_refresh_picks_up_added_and_deleted_keys(void **state)
{
    fixture *f = *state;
    char first[LG_REPORTER_KEY_LEN + 1], second[LG_REPORTER_KEY_LEN + 1];

    key_add(f->store, "first", first);
    assert_int_equal(lg_reporters_cache_refresh(f->cache, f->store), 0);
    assert_true(check(f->cache, first, NOW, NULL));
    key_add(f->store, "second", second);
    assert_false(check(f->cache, second, NOW, NULL));
    assert_int_equal(lg_reporters_cache_refresh(f->cache, f->store), 0);
    assert_true(check(f->cache, second, NOW, NULL));
    assert_int_equal(lg_store_key_del(f->store, "first", NULL), 0);
    assert_true(check(f->cache, first, NOW, NULL)); /* until the next refresh */
    assert_int_equal(lg_reporters_cache_refresh(f->cache, f->store), 0);
    assert_false(check(f->cache, first, NOW, NULL));
    assert_true(check(f->cache, second, NOW, NULL));
    assert_int_equal(lg_reporters_cache_count(f->cache), 1);
}

static void test_a_name_given_a_new_key_refuses_the_old_one(void **state)
{
    fixture *f = *state;
    char old[LG_REPORTER_KEY_LEN + 1], fresh[LG_REPORTER_KEY_LEN + 1];

    key_add(f->store, "rotated", old);
    assert_int_equal(lg_reporters_cache_refresh(f->cache, f->store), 0);
    assert_int_equal(lg_store_key_del(f->store, "rotated", NULL), 0);
    key_add(f->store, "rotated", fresh);
    assert_int_equal(lg_reporters_cache_refresh(f->cache, f->store), 0);
    assert_false(check(f->cache, old, NOW, NULL));
    assert_true(check(f->cache, fresh, NOW, NULL));
}

static void test_uses_reach_the_store_on_the_next_refresh_and_not_before(void **state)
{
    fixture *f = *state;
    char key[LG_REPORTER_KEY_LEN + 1], idle[LG_REPORTER_KEY_LEN + 1];

    key_add(f->store, "busy", key);
    key_add(f->store, "idle", idle);
    assert_int_equal(lg_reporters_cache_refresh(f->cache, f->store), 0);
    for (int i = 0; i < 100; i++)
        assert_true(check(f->cache, key, NOW + i, NULL));
    assert_int_equal(stored_use(f->store, "busy"), 0); /* no store write per check */
    assert_int_equal(lg_reporters_cache_refresh(f->cache, f->store), 0);
    /* noted once per LG_REPORTER_TOUCH_MS: the first of the 100 checks */
    assert_int_equal(stored_use(f->store, "busy"), NOW);
    assert_int_equal(stored_use(f->store, "idle"), 0);
    assert_true(check(f->cache, key, NOW + LG_REPORTER_TOUCH_MS, NULL));
    assert_int_equal(lg_reporters_cache_refresh(f->cache, f->store), 0);
    assert_int_equal(stored_use(f->store, "busy"), NOW + LG_REPORTER_TOUCH_MS);
}

static void test_a_use_noted_before_a_refresh_survives_a_failed_write(void **state)
{
    fixture *f = *state;
    char key[LG_REPORTER_KEY_LEN + 1];
    sqlite3 *db;

    key_add(f->store, "k", key);
    assert_int_equal(lg_reporters_cache_refresh(f->cache, f->store), 0);
    assert_true(check(f->cache, key, NOW, NULL));
    /* another process makes the table unreadable: refresh fails, the table stays */
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE reporter_keys RENAME TO rk_away", NULL,
                                  NULL, NULL), SQLITE_OK);
    assert_int_not_equal(lg_reporters_cache_refresh(f->cache, f->store), 0);
    assert_true(check(f->cache, key, NOW + 1, NULL));
    assert_int_equal(lg_reporters_cache_count(f->cache), 1);
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE rk_away RENAME TO reporter_keys", NULL,
                                  NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    /* the use noted before the failure is still pending, and now written */
    assert_int_equal(lg_reporters_cache_refresh(f->cache, f->store), 0);
    assert_int_equal(stored_use(f->store, "k"), NOW);
}

static void test_many_keys_are_all_found_and_an_unknown_one_is_not(void **state)
{
    fixture *f = *state;
    enum { N = 300 };
    static char keys[N][LG_REPORTER_KEY_LEN + 1];
    char name[65], unknown[LG_REPORTER_KEY_LEN + 1];
    unsigned char h[LG_STORE_KEY_HASH_LEN];

    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "reporter-%03d", i);
        key_add(f->store, name, keys[i]);
    }
    assert_int_equal(lg_reporters_cache_refresh(f->cache, f->store), 0);
    assert_int_equal(lg_reporters_cache_count(f->cache), N);
    for (int i = 0; i < N; i++) {
        char want[65];
        snprintf(want, sizeof want, "reporter-%03d", i);
        assert_true(check(f->cache, keys[i], NOW, name));
        assert_string_equal(name, want);
    }
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(lg_reporters_key_new(unknown, sizeof unknown, h), 0);
        assert_false(check(f->cache, unknown, NOW, NULL));
    }
}

static bool check_within(lg_reporters_cache *c, const char *key, bool want, int64_t ms)
{
    int64_t deadline = lg_mono_ns() + ms * 1000000;
    while (lg_mono_ns() < deadline) {
        if (check(c, key, lg_now_ms(), NULL) == want)
            return true;
        nanosleep(&(struct timespec){0, 20 * 1000000}, NULL);
    }
    return false;
}

static void test_started_cache_refreshes_itself_and_writes_uses_when_freed(void **state)
{
    fixture *f = *state;
    char loaded[LG_REPORTER_KEY_LEN + 1], later[LG_REPORTER_KEY_LEN + 1], err[256] = "";
    int64_t t0 = lg_now_ms();

    key_add(f->store, "loaded", loaded);
    assert_int_equal(lg_reporters_cache_start(f->cache, f->path, err, sizeof err), 0);
    /* loaded at start, before any request could come */
    assert_true(check(f->cache, loaded, lg_now_ms(), NULL));
    key_add(f->store, "later", later);
    assert_true(check_within(f->cache, later, true, 2 * LG_REPORTER_REFRESH_MS));
    assert_int_equal(lg_store_key_del(f->store, "loaded", NULL), 0);
    assert_true(check_within(f->cache, loaded, false, 2 * LG_REPORTER_REFRESH_MS));
    lg_reporters_cache_free(f->cache);
    f->cache = NULL;
    assert_true(stored_use(f->store, "later") >= t0);
}

static void test_start_on_a_store_that_cannot_open_says_why(void **state)
{
    fixture *f = *state;
    char err[256] = "";

    assert_int_not_equal(lg_reporters_cache_start(f->cache, "/nonexistent-dir-lg/x.db", err,
                                                  sizeof err), 0);
    assert_non_null(strstr(err, "/nonexistent-dir-lg/x.db"));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_key_is_the_prefix_and_43_base64url_chars_and_never_repeats),
        cmocka_unit_test(test_hash_is_blake2b_256_of_the_whole_key_text),
        cmocka_unit_test(test_wellformed_refuses_other_prefixes_lengths_and_alphabets),
        cmocka_unit_test(test_names_are_1_to_64_bytes_of_letters_digits_dot_dash_underscore),
        T(test_empty_cache_accepts_no_key),
        T(test_stored_key_is_accepted_and_named_and_a_near_miss_is_not),
        T(test_refresh_picks_up_added_and_deleted_keys),
        T(test_a_name_given_a_new_key_refuses_the_old_one),
        T(test_uses_reach_the_store_on_the_next_refresh_and_not_before),
        T(test_a_use_noted_before_a_refresh_survives_a_failed_write),
        T(test_many_keys_are_all_found_and_an_unknown_one_is_not),
        T(test_started_cache_refreshes_itself_and_writes_uses_when_freed),
        T(test_start_on_a_store_that_cannot_open_says_why),
    };
#undef T
    return cmocka_run_group_tests_name("reporters", tests, NULL, NULL);
}
