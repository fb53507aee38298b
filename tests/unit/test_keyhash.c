/*
 * test_keyhash.c - the inline SipHash behind the engine's key fingerprints: the same code
 * run as SipHash-2-4-128 must give the reference's vectors and libsodium's answers for
 * every length and several keys (so the rounds, padding and output are right); the
 * fingerprint itself (SipHash-1-3-128) must depend on the secret and on every byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/keyhash.h"

static void sip24_bytes(const unsigned char k[16], const unsigned char *in, size_t len,
                        unsigned char out[16])
{
    lg_keyhash_secret s = lg_keyhash_secret_of(k);
    lg_keyhash h = lg_keyhash_sip128(&s, in, len, 2, 4);

    for (int i = 0; i < 8; i++) {
        out[i] = (unsigned char)(h.lo >> (8 * i));
        out[8 + i] = (unsigned char)(h.hi >> (8 * i));
    }
}

static void test_sip24_128_matches_reference_vectors(void **state)
{
    /* vectors_sip128[0] and [15] of the SipHash reference: key 00..0f, input 00..len-1 */
    static const unsigned char v0[16] = {0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
                                         0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93};
    unsigned char k[16], in[64], out[16];

    (void)state;
    for (int i = 0; i < 16; i++)
        k[i] = (unsigned char)i;
    for (int i = 0; i < 64; i++)
        in[i] = (unsigned char)i;
    sip24_bytes(k, in, 0, out);
    assert_memory_equal(out, v0, sizeof v0);
}

static void test_sip24_128_matches_libsodium_for_every_length_up_to_64(void **state)
{
    unsigned char k[16], in[64], out[16], want[crypto_shorthash_siphashx24_BYTES];

    (void)state;
    assert_true(sodium_init() >= 0);
    for (int key = 0; key < 8; key++) {
        randombytes_buf(k, sizeof k);
        randombytes_buf(in, sizeof in);
        for (size_t len = 0; len <= sizeof in; len++) {
            crypto_shorthash_siphashx24(want, in, len, k);
            sip24_bytes(k, in, len, out);
            assert_memory_equal(out, want, sizeof want);
        }
    }
}

static void test_fingerprint_changes_with_every_byte_and_with_the_length(void **state)
{
    unsigned char k[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    unsigned char in[24] = "user0000001|203.0.113.7";
    lg_keyhash_secret s = lg_keyhash_secret_of(k);
    lg_keyhash base = lg_keyhash_of(&s, in, sizeof in);

    (void)state;
    assert_true(lg_keyhash_eq(base, lg_keyhash_of(&s, in, sizeof in)));
    assert_false(lg_keyhash_eq(base, lg_keyhash_sip128(&s, in, sizeof in, 2, 4)));
    for (size_t i = 0; i < sizeof in; i++) {
        in[i] ^= 1;
        assert_false(lg_keyhash_eq(base, lg_keyhash_of(&s, in, sizeof in)));
        in[i] ^= 1;
    }
    for (size_t len = 0; len < sizeof in; len++)
        assert_false(lg_keyhash_eq(base, lg_keyhash_of(&s, in, len)));
}

static void test_fingerprint_depends_on_the_secret(void **state)
{
    lg_keyhash_secret a, b;

    (void)state;
    assert_int_equal(lg_keyhash_secret_random(&a), 0);
    assert_int_equal(lg_keyhash_secret_random(&b), 0);
    assert_false(a.k0 == b.k0 && a.k1 == b.k1);
    assert_false(lg_keyhash_eq(lg_keyhash_of(&a, "alice", 5), lg_keyhash_of(&b, "alice", 5)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sip24_128_matches_reference_vectors),
        cmocka_unit_test(test_sip24_128_matches_libsodium_for_every_length_up_to_64),
        cmocka_unit_test(test_fingerprint_changes_with_every_byte_and_with_the_length),
        cmocka_unit_test(test_fingerprint_depends_on_the_secret),
    };
    return cmocka_run_group_tests_name("keyhash", tests, NULL, NULL);
}
