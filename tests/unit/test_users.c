/*
 * test_users.c - argon2id users on the real SQLite store (a temp file): right password
 * gives the role, wrong password and unknown user are both LG_EAUTH after exactly one
 * argon2id verification each (the dummy hash, seen through lg_users_stats_get), names
 * and passwords are checked at their limits, and hash strings carry the configured cost.
 *
 * Cost is t=1, m=64 KiB here (fast); one test builds the production cost to check that
 * the dummy hash is made with it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/users.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/limits.h"
#include "store/store.h"

#define FAST_T 1
#define FAST_M_KIB 64

typedef struct fixture {
    char dir[512];
    char db[600];
    lg_store *store;
    lg_users *users;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    const char *base = getenv("LG_TMPDIR");
    if (base == NULL || *base == '\0')
        base = "/tmp";
    (void)mkdir(base, 0700); /* CTest names a dir under the build tree; it may not exist */
    snprintf(f->dir, sizeof f->dir, "%s/test_users.XXXXXX", base);
    if (mkdtemp(f->dir) == NULL)
        goto fail;
    snprintf(f->db, sizeof f->db, "%s/users.db", f->dir);
    char err[256] = "";
    if (lg_store_open(f->db, &f->store, err, sizeof err) != 0) {
        fprintf(stderr, "store open failed: %s\n", err);
        goto fail;
    }
    lg_pwhash_conf conf = {.opslimit = FAST_T, .memlimit_kib = FAST_M_KIB};
    if (lg_users_new(&conf, &f->users) != 0)
        goto fail;
    *state = f;
    return 0;
fail:
    lg_store_close(f->store);
    free(f);
    return -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char path[700];
    lg_users_free(f->users);
    lg_store_close(f->store);
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(path, sizeof path, "%s%s", f->db, suffixes[i]);
        (void)unlink(path);
    }
    (void)rmdir(f->dir);
    free(f);
    return 0;
}

static int add(fixture *f, const char *name, const char *pw, lg_role role)
{
    return lg_users_add(f->users, f->store, name, pw, strlen(pw), role);
}

static int verify(fixture *f, const char *name, const char *pw, lg_role *role)
{
    return lg_users_verify(f->users, f->store, name, pw, strlen(pw), role);
}

static void test_added_user_verifies_with_right_password_and_gets_role(void **state)
{
    fixture *f = *state;
    lg_role role = (lg_role)-1;
    assert_int_equal(add(f, "alice", "correct horse", LG_ROLE_USER), 0);
    assert_int_equal(add(f, "root", "battery staple", LG_ROLE_ADMIN), 0);
    assert_int_equal(verify(f, "alice", "correct horse", &role), 0);
    assert_int_equal(role, LG_ROLE_USER);
    assert_int_equal(verify(f, "root", "battery staple", &role), 0);
    assert_int_equal(role, LG_ROLE_ADMIN);
}

static void test_wrong_password_is_rejected_and_role_untouched(void **state)
{
    fixture *f = *state;
    lg_role role = (lg_role)42;
    assert_int_equal(add(f, "alice", "correct horse", LG_ROLE_ADMIN), 0);
    assert_int_equal(verify(f, "alice", "correct horsE", &role), LG_EAUTH);
    assert_int_equal(verify(f, "alice", "correct hors", &role), LG_EAUTH);
    assert_int_equal(verify(f, "alice", "root", &role), LG_EAUTH);
    assert_int_equal(verify(f, "root", "correct horse", &role), LG_EAUTH); /* other name */
    assert_int_equal(role, 42); /* out-param written only on success */
}

static void test_unknown_user_is_rejected(void **state)
{
    fixture *f = *state;
    lg_role role;
    assert_int_equal(verify(f, "nobody", "whatever", &role), LG_EAUTH);
    assert_int_equal(verify(f, "", "whatever", &role), LG_EAUTH); /* cannot exist */
}

/* The timing defense, observed directly: an unknown user and a wrong password each cost
 * exactly one argon2id verification; only the unknown user's ran against the dummy. */
static void test_unknown_user_and_wrong_password_each_run_one_verification(void **state)
{
    fixture *f = *state;
    lg_role role;
    lg_users_stats s0, s1, s2, s3;
    assert_int_equal(add(f, "alice", "secret", LG_ROLE_USER), 0);
    lg_users_stats_get(f->users, &s0);
    assert_int_equal(s0.verifies, 0);

    assert_int_equal(verify(f, "alice", "wrong", &role), LG_EAUTH);
    lg_users_stats_get(f->users, &s1);
    assert_int_equal(s1.verifies - s0.verifies, 1);
    assert_int_equal(s1.dummy_verifies - s0.dummy_verifies, 0);

    assert_int_equal(verify(f, "mallory", "wrong", &role), LG_EAUTH);
    lg_users_stats_get(f->users, &s2);
    assert_int_equal(s2.verifies - s1.verifies, 1);
    assert_int_equal(s2.dummy_verifies - s1.dummy_verifies, 1);

    /* a name too long to exist takes the same path */
    char longname[LG_USER_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(verify(f, longname, "wrong", &role), LG_EAUTH);
    lg_users_stats_get(f->users, &s3);
    assert_int_equal(s3.verifies - s2.verifies, 1);
    assert_int_equal(s3.dummy_verifies - s2.dummy_verifies, 1);
}

/* The dummy verification must cost what a real one costs: it is made with the
 * configured t and m, here the production defaults (one ~15 ms hash). */
static void test_dummy_hash_uses_the_configured_cost(void **state)
{
    lg_users *u = NULL;
    lg_pwhash_conf conf = {.opslimit = 2, .memlimit_kib = 19456};
    assert_int_equal(lg_users_new(&conf, &u), 0);
    const char *dummy = lg_users__dummy_hash(u);
    assert_non_null(strstr(dummy, "$argon2id$v=19$m=19456,t=2,p=1$"));
    assert_false(lg_users_needs_rehash(u, dummy));
    lg_users_free(u);

    fixture *f = *state; /* and for the fast cost of the fixture */
    assert_non_null(strstr(lg_users__dummy_hash(f->users), "$argon2id$v=19$m=64,t=1,p=1$"));
}

static void test_duplicate_add_fails_with_eexist_and_keeps_the_first(void **state)
{
    fixture *f = *state;
    lg_role role;
    assert_int_equal(add(f, "alice", "first", LG_ROLE_USER), 0);
    assert_int_equal(add(f, "alice", "second", LG_ROLE_ADMIN), LG_EEXIST);
    assert_int_equal(verify(f, "alice", "first", &role), 0);
    assert_int_equal(role, LG_ROLE_USER);
    assert_int_equal(verify(f, "alice", "second", &role), LG_EAUTH);
}

static void test_invalid_names_are_rejected_at_their_limits(void **state)
{
    fixture *f = *state;
    char name[LG_USER_MAX + 2];
    memset(name, 'n', sizeof name - 1);
    name[LG_USER_MAX + 1] = '\0'; /* N+1 bytes */
    assert_int_equal(add(f, name, "pw", LG_ROLE_USER), LG_EINVAL);
    name[LG_USER_MAX] = '\0'; /* N bytes */
    assert_int_equal(add(f, name, "pw", LG_ROLE_USER), 0);
    name[LG_USER_MAX - 1] = '\0'; /* N-1 bytes */
    assert_int_equal(add(f, name, "pw", LG_ROLE_USER), 0);
    assert_int_equal(add(f, "", "pw", LG_ROLE_USER), LG_EINVAL);
    assert_int_equal(add(f, "a\nb", "pw", LG_ROLE_USER), LG_EINVAL);  /* control char */
    assert_int_equal(add(f, "a\x7f", "pw", LG_ROLE_USER), LG_EINVAL); /* DEL */
    assert_int_equal(add(f, "\xff\xfe", "pw", LG_ROLE_USER), LG_EINVAL); /* not UTF-8 */
    assert_int_equal(add(f, "j\xc3\xa9r\xc3\xb4me", "pw", LG_ROLE_USER), 0); /* UTF-8 */
    assert_int_equal(lg_users_add(f->users, f->store, NULL, "pw", 2, LG_ROLE_USER), LG_EINVAL);
    assert_int_equal(add(f, "bob", "pw", (lg_role)7), LG_EINVAL);
}

static void test_password_length_is_checked_at_its_limits(void **state)
{
    fixture *f = *state;
    lg_role role;
    char *pw = malloc(LG_PASSWORD_MAX + 1);
    assert_non_null(pw);
    memset(pw, 'p', LG_PASSWORD_MAX + 1);
    assert_int_equal(lg_users_add(f->users, f->store, "a", pw, LG_PASSWORD_MAX + 1,
                                  LG_ROLE_USER), LG_EINVAL);
    assert_int_equal(lg_users_add(f->users, f->store, "a", pw, LG_PASSWORD_MAX, LG_ROLE_USER), 0);
    assert_int_equal(lg_users_add(f->users, f->store, "b", pw, LG_PASSWORD_MAX - 1,
                                  LG_ROLE_USER), 0);
    assert_int_equal(lg_users_add(f->users, f->store, "c", pw, 0, LG_ROLE_USER), LG_EINVAL);
    assert_int_equal(lg_users_add(f->users, f->store, "d", pw, 1, LG_ROLE_USER), 0);

    assert_int_equal(lg_users_verify(f->users, f->store, "a", pw, LG_PASSWORD_MAX, &role), 0);
    assert_int_equal(lg_users_verify(f->users, f->store, "a", pw, LG_PASSWORD_MAX + 1, &role),
                     LG_EAUTH);
    assert_int_equal(lg_users_verify(f->users, f->store, "a", pw, LG_PASSWORD_MAX - 1, &role),
                     LG_EAUTH);
    assert_int_equal(lg_users_verify(f->users, f->store, "d", pw, 0, &role), LG_EAUTH);
    assert_int_equal(lg_users_verify(f->users, f->store, "d", pw, 1, &role), 0);
    /* embedded NUL bytes are part of the password, not its end */
    assert_int_equal(lg_users_add(f->users, f->store, "z", "a\0b", 3, LG_ROLE_USER), 0);
    assert_int_equal(lg_users_verify(f->users, f->store, "z", "a\0b", 3, &role), 0);
    assert_int_equal(lg_users_verify(f->users, f->store, "z", "a\0c", 3, &role), LG_EAUTH);
    assert_int_equal(lg_users_verify(f->users, f->store, "z", "a", 1, &role), LG_EAUTH);
    free(pw);
}

static void test_stored_record_carries_argon2id_string_role_and_creation_time(void **state)
{
    fixture *f = *state;
    int64_t before = lg_now_ms();
    /* spaces and '!' are outside the hash string's base64 alphabet, so the password can
     * only appear in it if it was stored in clear ("pw" did appear, by chance, in 1 run
     * of ~256: the salt's last base64 character is 'w' in 1 case of 4) */
    assert_int_equal(add(f, "alice", "p w!", LG_ROLE_ADMIN), 0);
    int64_t after = lg_now_ms();
    lg_user_rec rec;
    assert_int_equal(lg_store_user_get(f->store, "alice", &rec), 0);
    assert_string_equal(rec.name, "alice");
    assert_int_equal(rec.role, LG_ROLE_ADMIN);
    assert_true(rec.created_ms >= before && rec.created_ms <= after);
    assert_int_equal(strncmp(rec.pwhash, "$argon2id$v=19$m=64,t=1,p=1$", 28), 0);
    assert_null(strstr(rec.pwhash, "p w!")); /* a salted hash, not the password */
}

static void test_hash_encodes_configured_cost_with_a_fresh_salt(void **state)
{
    fixture *f = *state;
    char a[LG_PWHASH_MAX + 1], b[LG_PWHASH_MAX + 1];
    assert_int_equal(lg_users_hash(f->users, "pw", 2, a), 0);
    assert_int_equal(lg_users_hash(f->users, "pw", 2, b), 0);
    assert_int_equal(strncmp(a, "$argon2id$", 10), 0);
    assert_non_null(strstr(a, "$m=64,t=1,p=1$"));
    assert_string_not_equal(a, b);

    lg_users *u = NULL;
    lg_pwhash_conf conf = {.opslimit = 3, .memlimit_kib = 128};
    assert_int_equal(lg_users_new(&conf, &u), 0);
    assert_int_equal(lg_users_hash(u, "pw", 2, a), 0);
    assert_non_null(strstr(a, "$argon2id$v=19$m=128,t=3,p=1$"));
    lg_users_free(u);
}

static void test_needs_rehash_when_the_cost_changes(void **state)
{
    fixture *f = *state;
    char h[LG_PWHASH_MAX + 1];
    assert_int_equal(lg_users_hash(f->users, "pw", 2, h), 0);
    assert_false(lg_users_needs_rehash(f->users, h));
    lg_users *u = NULL;
    lg_pwhash_conf conf = {.opslimit = 2, .memlimit_kib = FAST_M_KIB};
    assert_int_equal(lg_users_new(&conf, &u), 0);
    assert_true(lg_users_needs_rehash(u, h));
    lg_users_free(u);
    assert_true(lg_users_needs_rehash(f->users, "$2y$10$notargon"));
}

static void test_cost_outside_libsodium_range_is_refused(void **state)
{
    lg_users *u = NULL;
    lg_pwhash_conf conf = {.opslimit = 0, .memlimit_kib = FAST_M_KIB};
    assert_int_equal(lg_users_new(&conf, &u), LG_EINVAL);
    conf = (lg_pwhash_conf){.opslimit = 1, .memlimit_kib = 7}; /* minimum is 8 KiB */
    assert_int_equal(lg_users_new(&conf, &u), LG_EINVAL);
    assert_null(u);
    conf = (lg_pwhash_conf){.opslimit = 1, .memlimit_kib = 8};
    assert_int_equal(lg_users_new(&conf, &u), 0);
    lg_users_free(u);
    lg_users_free(NULL);
}

static void test_deleted_user_is_unknown(void **state)
{
    fixture *f = *state;
    lg_role role;
    lg_users_stats s0, s1;
    assert_int_equal(add(f, "alice", "pw", LG_ROLE_USER), 0);
    assert_int_equal(lg_store_user_del(f->store, "alice"), 0);
    lg_users_stats_get(f->users, &s0);
    assert_int_equal(verify(f, "alice", "pw", &role), LG_EAUTH);
    lg_users_stats_get(f->users, &s1);
    assert_int_equal(s1.dummy_verifies - s0.dummy_verifies, 1);
    assert_int_equal(add(f, "alice", "pw2", LG_ROLE_USER), 0); /* the name is free again */
    assert_int_equal(verify(f, "alice", "pw2", &role), 0);
}

typedef struct verifier {
    fixture *f;
    int ok, auth_failed, other; /* checked by the main thread: cmocka asserts only there */
} verifier;

/* One thread, its own store handle (users.h: one lg_store per thread), one shared
 * lg_users: right, wrong and unknown logins in a loop. */
static void *verifier_thread(void *opaque)
{
    verifier *v = opaque;
    lg_store *s = NULL;
    char err[256];
    if (lg_store_open(v->f->db, &s, err, sizeof err) != 0) {
        v->other++;
        return NULL;
    }
    for (int i = 0; i < 20; i++) {
        lg_role role;
        const char *pw = i % 2 == 0 ? "secret" : "wrong";
        const char *name = i % 4 == 3 ? "ghost" : "alice";
        int rc = lg_users_verify(v->f->users, s, name, pw, strlen(pw), &role);
        if (rc == 0 && role == LG_ROLE_ADMIN)
            v->ok++;
        else if (rc == LG_EAUTH)
            v->auth_failed++;
        else
            v->other++;
    }
    lg_store_close(s);
    return NULL;
}

static void test_concurrent_verifies_with_one_store_per_thread_agree(void **state)
{
    enum { THREADS = 4 };
    fixture *f = *state;
    assert_int_equal(add(f, "alice", "secret", LG_ROLE_ADMIN), 0);
    verifier v[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        v[i] = (verifier){.f = f};
        assert_int_equal(pthread_create(&t[i], NULL, verifier_thread, &v[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    lg_users_stats st;
    lg_users_stats_get(f->users, &st);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(v[i].other, 0);
        assert_int_equal(v[i].ok, 10);          /* i = 0, 2 mod 4: alice, right password */
        assert_int_equal(v[i].auth_failed, 10); /* alice wrong (i = 1), ghost (i = 3) */
    }
    assert_int_equal(st.verifies, THREADS * 20);
    assert_int_equal(st.dummy_verifies, THREADS * 5);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_added_user_verifies_with_right_password_and_gets_role),
        T(test_wrong_password_is_rejected_and_role_untouched),
        T(test_unknown_user_is_rejected),
        T(test_unknown_user_and_wrong_password_each_run_one_verification),
        T(test_dummy_hash_uses_the_configured_cost),
        T(test_duplicate_add_fails_with_eexist_and_keeps_the_first),
        T(test_invalid_names_are_rejected_at_their_limits),
        T(test_password_length_is_checked_at_its_limits),
        T(test_stored_record_carries_argon2id_string_role_and_creation_time),
        T(test_hash_encodes_configured_cost_with_a_fresh_salt),
        T(test_needs_rehash_when_the_cost_changes),
        T(test_cost_outside_libsodium_range_is_refused),
        T(test_deleted_user_is_unknown),
        T(test_concurrent_verifies_with_one_store_per_thread_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
