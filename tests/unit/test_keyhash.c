/*
 * test_keyhash.c - the keyed fingerprints of the engine's keys. SipHash: the inline code
 * run as SipHash-2-4-128 must give the reference's vectors and libsodium's answers for
 * every length and several keys (so the rounds, padding and output are right). AES (where
 * the CPU has AES-NI): the block cipher must give FIPS-197's vector, and the fingerprint
 * must be the CBC-MAC of the coding keyhash.h describes, built here a byte at a time from
 * that block cipher. Either fingerprint must depend on the secret and on every byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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

static void changes_with_every_byte_and_with_the_length(const lg_keyhash_secret *s)
{
    unsigned char in[24] = "user0000001|203.0.113.7";
    lg_keyhash base = lg_keyhash_of(s, in, sizeof in);

    assert_true(lg_keyhash_eq(base, lg_keyhash_of(s, in, sizeof in)));
    assert_false(lg_keyhash_eq(base, lg_keyhash_sip128(s, in, sizeof in, 2, 4)));
    for (size_t i = 0; i < sizeof in; i++) {
        in[i] ^= 1;
        assert_false(lg_keyhash_eq(base, lg_keyhash_of(s, in, sizeof in)));
        in[i] ^= 1;
    }
    for (size_t len = 0; len < sizeof in; len++)
        assert_false(lg_keyhash_eq(base, lg_keyhash_of(s, in, len)));
}

static void test_fingerprint_changes_with_every_byte_and_with_the_length(void **state)
{
    unsigned char k[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    lg_keyhash_secret s = lg_keyhash_secret_of(k);

    (void)state;
    changes_with_every_byte_and_with_the_length(&s);
    if (lg_keyhash_secret_aes_of(k, &s) == 0)
        changes_with_every_byte_and_with_the_length(&s);
}

/* The AES secret of k, or skip the test on a CPU without AES-NI. */
static void aes_secret_or_skip(const unsigned char k[16], lg_keyhash_secret *s)
{
    if (lg_keyhash_secret_aes_of(k, s) != 0)
        skip();
}

static void test_aes_block_matches_fips197(void **state)
{
    /* FIPS-197 appendix C.1: AES-128 */
    static const unsigned char want[16] = {0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30,
                                           0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a};
    unsigned char k[16], in[16], out[16];
    lg_keyhash_secret s;

    (void)state;
    for (int i = 0; i < 16; i++) {
        k[i] = (unsigned char)i;
        in[i] = (unsigned char)(i * 0x11);
    }
    aes_secret_or_skip(k, &s);
    lg_keyhash__aes_block(&s, in, out);
    assert_memory_equal(out, want, sizeof want);
}

/* The CBC-MAC of keyhash.h's coding, a byte at a time: block 0 is bytes 0..14 and the
 * length in byte 15, then 16 bytes a block, zero-padded. */
static lg_keyhash cbc_mac_reference(const lg_keyhash_secret *s, const unsigned char *in,
                                    size_t len)
{
    unsigned char x[16] = {0}, blk[16];
    size_t off = 0;
    lg_keyhash h;

    for (size_t b = 0; b == 0 || off < len; b++) {
        size_t room = b == 0 ? 15 : 16;

        memset(blk, 0, sizeof blk);
        for (size_t i = 0; i < room && off < len; i++)
            blk[i] = in[off++];
        if (b == 0)
            blk[15] = (unsigned char)len;
        for (size_t i = 0; i < 16; i++)
            blk[i] ^= x[i];
        lg_keyhash__aes_block(s, blk, x);
    }
    h.lo = h.hi = 0;
    for (int i = 7; i >= 0; i--) {
        h.lo = h.lo << 8 | x[i];
        h.hi = h.hi << 8 | x[8 + i];
    }
    return h;
}

static void test_aes_fingerprint_is_cbc_mac_of_length_coded_blocks(void **state)
{
    unsigned char k[16], in[LG_KEYHASH_AES_LEN_MAX + 2];
    lg_keyhash_secret s;

    (void)state;
    assert_true(sodium_init() >= 0);
    for (int key = 0; key < 4; key++) {
        randombytes_buf(k, sizeof k);
        randombytes_buf(in, sizeof in);
        aes_secret_or_skip(k, &s);
        for (size_t len = 0; len <= 80; len++) {
            /* a copy of exactly len bytes: the loads must not read past it (ASan) */
            unsigned char *exact = malloc(len ? len : 1);
            assert_non_null(exact);
            memcpy(exact, in, len);
            assert_true(lg_keyhash_eq(lg_keyhash_of(&s, exact, len),
                                      cbc_mac_reference(&s, in, len)));
            free(exact);
        }
        for (size_t len = LG_KEYHASH_AES_LEN_MAX - 17; len <= LG_KEYHASH_AES_LEN_MAX; len++)
            assert_true(lg_keyhash_eq(lg_keyhash_of(&s, in, len),
                                      cbc_mac_reference(&s, in, len)));
        /* past one length byte: SipHash under the same secret */
        assert_true(lg_keyhash_eq(lg_keyhash_of(&s, in, LG_KEYHASH_AES_LEN_MAX + 1),
                                  lg_keyhash_sip128(&s, in, LG_KEYHASH_AES_LEN_MAX + 1, 1, 3)));
    }
}

static void test_random_secret_uses_aes_where_the_cpu_has_it(void **state)
{
    unsigned char k[16] = {0};
    lg_keyhash_secret s, probe;

    (void)state;
    assert_int_equal(lg_keyhash_secret_random(&s), 0);
    assert_int_equal(s.aes != 0, lg_keyhash_secret_aes_of(k, &probe) == 0);
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
        cmocka_unit_test(test_aes_block_matches_fips197),
        cmocka_unit_test(test_aes_fingerprint_is_cbc_mac_of_length_coded_blocks),
        cmocka_unit_test(test_random_secret_uses_aes_where_the_cpu_has_it),
    };
    return cmocka_run_group_tests_name("keyhash", tests, NULL, NULL);
}
