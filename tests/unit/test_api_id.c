/*
 * test_api_id.c - the prefix of an API instance's attempt ids: two instances with the
 * same name started in the same millisecond get different prefixes (the random nonce),
 * and a prefix always leaves room for the largest counter within LG_ID_MAX, however long
 * the name and however late the boot time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/event.h"
#include "core/limits.h"
#include "roles/api_id.h"

#define BOOT 1700000000000LL
#define DRAWS 64

static void test_same_name_and_boot_ms_give_different_prefixes(void **state)
{
    char p[DRAWS][LG_ID_MAX + 1];

    (void)state;
    /* 64 draws of 32 bits: all distinct unless randombytes is broken (p ~ 5e-7) */
    for (int i = 0; i < DRAWS; i++) {
        lg_api_id_prefix(p[i], "api-1", BOOT);
        for (int j = 0; j < i; j++)
            if (strcmp(p[i], p[j]) == 0)
                fail_msg("instance %d and %d share the id prefix %s", i, j, p[i]);
    }
}

static void test_prefix_is_name_boot_ms_and_8_hex_digits(void **state)
{
    char p[LG_ID_MAX + 1];
    size_t n;
    const char *nonce;

    (void)state;
    n = lg_api_id_prefix(p, "api-1", BOOT);
    assert_int_equal(n, strlen(p));
    assert_int_equal(n, strlen("api-1-1700000000000-") + LG_API_ID_NONCE_HEX + 1);
    assert_memory_equal(p, "api-1-1700000000000-", 20);
    nonce = p + 20;
    for (int i = 0; i < LG_API_ID_NONCE_HEX; i++)
        assert_non_null(strchr("0123456789abcdef", nonce[i]));
    assert_int_equal(p[n - 1], '-');
}

static void test_longest_name_and_latest_boot_still_fit_the_largest_counter(void **state)
{
    char src[LG_SRC_MAX + 1], p[LG_ID_MAX + 1], id[2 * LG_ID_MAX];
    size_t n;

    (void)state;
    memset(src, 'a', LG_SRC_MAX);
    src[LG_SRC_MAX] = '\0';
    n = lg_api_id_prefix(p, src, LG_TS_MAX_MS);
    assert_true(n + LG_API_ID_COUNTER_MAX <= LG_ID_MAX);
    assert_non_null(strstr(p, "-253402300799999-"));
    assert_int_equal(p[0], 'a'); /* the name is cut, never dropped */
    /* the id with UINT64_MAX as its counter is a valid attempt id */
    snprintf(id, sizeof id, "%s%llu", p, (unsigned long long)UINT64_MAX);
    assert_true(strlen(id) <= LG_ID_MAX);
    /* the common case keeps a usual name whole */
    n = lg_api_id_prefix(p, "eu-west-1-api-17", BOOT);
    assert_memory_equal(p, "eu-west-1-api-17-1700000000000-", 31);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_name_and_boot_ms_give_different_prefixes),
        cmocka_unit_test(test_prefix_is_name_boot_ms_and_8_hex_digits),
        cmocka_unit_test(test_longest_name_and_latest_boot_still_fit_the_largest_counter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
