/*
 * test_addr.c - client addresses (core/addr.h): one canonical text per address, IPv6
 * networks for IP-keyed rules, CIDR lists and the client X-Forwarded-For names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/addr.h"
#include "core/err.h"

static void assert_canon(const char *in, const char *want)
{
    char out[LG_IP_MAX + 1];
    int n = lg_addr_canon(in, strlen(in), out);

    if (n < 0)
        fail_msg("'%s' refused, expected '%s'", in, want);
    assert_string_equal(out, want);
    assert_int_equal(n, (int)strlen(want));
}

static void assert_refused(const char *in, size_t len)
{
    char out[LG_IP_MAX + 1] = "untouched";

    if (lg_addr_canon(in, len, out) != LG_EINVAL)
        fail_msg("'%.*s' accepted as '%s'", (int)len, in, out);
    assert_string_equal(out, "untouched");
}

static void test_six_spellings_of_one_ipv6_address_have_one_text(void **state)
{
    static const char *const spellings[] = {
        "2001:db8::1",   "2001:DB8::1",     "2001:0db8::1",
        "2001:db8:0:0::1", "2001:db8:0000:0000:0000:0000:0000:0001", "2001:db8::0:1",
        "2001:DB8:0::1",
    };

    (void)state;
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++)
        assert_canon(spellings[i], "2001:db8::1");
}

static void test_ipv4_mapped_address_is_its_ipv4_address(void **state)
{
    lg_addr a;

    (void)state;
    assert_canon("::ffff:192.0.2.1", "192.0.2.1");
    assert_canon("::FFFF:c000:0201", "192.0.2.1");
    assert_canon("0:0:0:0:0:ffff:192.0.2.1", "192.0.2.1");
    assert_int_equal(lg_addr_parse("::ffff:192.0.2.1", 16, &a), 0);
    assert_false(a.v6);
    /* other embeddings are IPv6 addresses of their own */
    assert_canon("::192.0.2.1", "::192.0.2.1");
    assert_canon("64:ff9b::192.0.2.1", "64:ff9b::c000:201");
}

static void test_ipv4_and_short_ipv6_texts_are_kept(void **state)
{
    (void)state;
    assert_canon("192.0.2.1", "192.0.2.1");
    assert_canon("0.0.0.0", "0.0.0.0");
    assert_canon("255.255.255.255", "255.255.255.255");
    assert_canon("::1", "::1");
    assert_canon("::", "::");
    assert_canon("FE80::1", "fe80::1");
    assert_canon("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

static void test_invalid_texts_are_refused(void **state)
{
    static const char *const bad[] = {
        "",           " 192.0.2.1",    "192.0.2.1 ",  "192.0.2.1:80", "[2001:db8::1]",
        "[2001:db8::1]:443", "fe80::1%eth0", "192.0.2",   "192.0.2.256", "192.00.2.1",
        "1.2.3.4.5",  "2001:db8:::1",  "2001:db8::1::2", "12345::",   "g::1",
        "2001:db8::/64", "localhost",  "::ffff:192.0.2.1 ", "0x7f.0.0.1",
    };

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_refused(bad[i], strlen(bad[i]));
    assert_refused("192.0.2.1\0x", 11); /* a NUL must not end the text early */
    assert_refused("1111:2222:3333:4444:5555:6666:7777:8888:9999:0000", 49); /* > LG_IP_MAX */
}

static void assert_net(const char *in, uint32_t prefix, const char *want)
{
    char out[LG_IP_MAX + 1];
    int n = lg_addr_net(in, strlen(in), prefix, out);

    if (n < 0)
        fail_msg("network of '%s'/%u refused, expected '%s'", in, prefix, want);
    assert_string_equal(out, want);
    assert_int_equal(n, (int)strlen(want));
}

static void test_ipv6_network_text_for_each_prefix(void **state)
{
    (void)state;
    assert_net("2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64");
    assert_net("2001:DB8:1:2:ffff::1", 64, "2001:db8:1:2::/64");
    assert_net("2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::/48");
    assert_net("2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6");
    assert_net("2001:db8:1:2:3:4:5:6", 1, "::/1");
    assert_net("ffff:db8::1", 1, "8000::/1");
    assert_net("2001:db8::ff", 127, "2001:db8::fe/127");
    assert_net("2001:db8:1:2:3:4:5:6", 63, "2001:db8:1:2::/63");
    assert_net("2001:db8:1:3:3:4:5:6", 63, "2001:db8:1:2::/63");
    /* IPv4, mapped or not, is keyed by its address */
    assert_net("192.0.2.1", 64, "192.0.2.1");
    assert_net("::ffff:192.0.2.1", 64, "192.0.2.1");
}

static void test_network_text_is_its_own_network(void **state)
{
    char out[LG_IP_MAX + 1];

    (void)state;
    assert_net("2001:db8::/64", 64, "2001:db8::/64");
    assert_net("2001:DB8:0::/64", 64, "2001:db8::/64");
    assert_net("2001:db8::/48", 64, "2001:db8::/48"); /* the shorter length wins */
    assert_net("2001:db8:1:2::/64", 48, "2001:db8:1::/48");
    assert_net("2001:db8::1/128", 64, "2001:db8::/64");
    assert_true(lg_addr_net_valid("2001:db8::/64", 13, NULL, 0));
    assert_true(lg_addr_net_valid("192.0.2.1", 9, NULL, 0));
    static const char *const bad[] = {"10.0.0.0/8", "::ffff:192.0.2.0/120", "2001:db8::/129",
                                      "2001:db8::/", "2001:db8::/064", "/64", "2001:db8::/6x",
                                      ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (lg_addr_net(bad[i], strlen(bad[i]), 64, out) != LG_EINVAL)
            fail_msg("'%s' accepted as a network text", bad[i]);
        assert_false(lg_addr_net_valid(bad[i], strlen(bad[i]), NULL, 0));
    }
}

static lg_addr addr_of(const char *s)
{
    lg_addr a;

    if (lg_addr_parse(s, strlen(s), &a) != 0)
        fail_msg("test address '%s' refused", s);
    return a;
}

static bool list_has(const lg_cidr_list *l, const char *s)
{
    lg_addr a = addr_of(s);
    return lg_addr_cidr_list_has(l, &a);
}

static void test_cidr_list_membership_v4_v6_and_mapped(void **state)
{
    lg_cidr_list l;
    char err[160] = "";

    (void)state;
    assert_int_equal(lg_addr_cidr_list_parse(" 10.0.0.0/8,192.0.2.1 , 2001:db8::/32,::1 ,"
                                             "198.51.100.128/25",
                                             &l, err, sizeof err),
                     0);
    assert_int_equal(l.n, 5);
    assert_true(list_has(&l, "10.0.0.0"));
    assert_true(list_has(&l, "10.255.255.255"));
    assert_false(list_has(&l, "11.0.0.0"));
    assert_false(list_has(&l, "9.255.255.255"));
    assert_true(list_has(&l, "192.0.2.1"));  /* bare address: /32 */
    assert_false(list_has(&l, "192.0.2.2"));
    assert_true(list_has(&l, "2001:db8:ffff::1"));
    assert_false(list_has(&l, "2001:db9::1"));
    assert_true(list_has(&l, "::1"));        /* bare address: /128 */
    assert_false(list_has(&l, "::2"));
    assert_true(list_has(&l, "198.51.100.128"));
    assert_true(list_has(&l, "198.51.100.255"));
    assert_false(list_has(&l, "198.51.100.127"));
    /* a mapped address is IPv4: it matches the IPv4 networks, and only them */
    assert_true(list_has(&l, "::ffff:10.1.2.3"));
    assert_true(list_has(&l, "::ffff:192.0.2.1"));
    assert_false(list_has(&l, "::ffff:11.1.2.3"));
    /* the IPv4 address 10.0.0.1 and the IPv6 address ::a00:1 are different */
    assert_false(list_has(&l, "::a00:1"));
}

static void test_cidr_list_prefix_zero_and_mapped_networks(void **state)
{
    lg_cidr_list l;
    char err[160];

    (void)state;
    assert_int_equal(lg_addr_cidr_list_parse("0.0.0.0/0", &l, err, sizeof err), 0);
    assert_true(list_has(&l, "203.0.113.9"));
    assert_false(list_has(&l, "2001:db8::1"));
    assert_int_equal(lg_addr_cidr_list_parse("::/0", &l, err, sizeof err), 0);
    assert_true(list_has(&l, "2001:db8::1"));
    assert_false(list_has(&l, "203.0.113.9"));
    /* ::ffff:10.0.0.0/104 is 10.0.0.0/8 */
    assert_int_equal(lg_addr_cidr_list_parse("::ffff:10.0.0.0/104", &l, err, sizeof err), 0);
    assert_true(list_has(&l, "10.9.9.9"));
    assert_false(list_has(&l, "11.0.0.0"));
    assert_int_equal(lg_addr_cidr_list_parse("", &l, err, sizeof err), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(lg_addr_cidr_list_parse("   ", &l, err, sizeof err), 0);
    assert_int_equal(l.n, 0);
    assert_false(list_has(&l, "127.0.0.1"));
}

static void assert_list_error(const char *list, const char *want)
{
    lg_cidr_list l;
    char err[200] = "";

    if (lg_addr_cidr_list_parse(list, &l, err, sizeof err) != LG_EINVAL)
        fail_msg("list '%s' accepted", list);
    if (strcmp(err, want) != 0)
        fail_msg("list '%s': error '%s', expected '%s'", list, err, want);
}

static void test_cidr_list_errors_name_the_entry(void **state)
{
    char many[LG_CIDR_LIST_STR_MAX + 1];
    size_t n = 0;
    lg_cidr_list l;
    char err[160];

    (void)state;
    assert_list_error("10.0.0.0/33", "entry '10.0.0.0/33': prefix length above 32");
    assert_list_error("::1/129", "entry '::1/129': prefix length above 128");
    assert_list_error("127.0.0.1/8, 10.0.0.1/8",
                      "entry '127.0.0.1/8': host bits are set (the network is 127.0.0.0/8)");
    assert_list_error("10.0.0.0/8, 2001:db8::1/32",
                      "entry '2001:db8::1/32': host bits are set (the network is "
                      "2001:db8::/32)");
    assert_list_error("10.0.0.0/8, example.com", "entry 'example.com': not an IPv4 or IPv6 "
                                                 "address");
    assert_list_error("10.0.0.0/", "entry '10.0.0.0/': prefix length is not a number");
    assert_list_error("10.0.0.0/x", "entry '10.0.0.0/x': prefix length is not a number");
    assert_list_error("10.0.0.0/08", "entry '10.0.0.0/08': prefix length is not a number");
    assert_list_error("10.0.0.0/8,", "entry 2 is empty");
    assert_list_error("10.0.0.0/8,,::1", "entry 2 is empty");
    assert_list_error("::ffff:0:0/95", "entry '::ffff:0:0/95': an IPv4-mapped network needs a "
                                       "prefix length of 96..128");
    assert_list_error("[::1]", "entry '[::1]': not an IPv4 or IPv6 address");
    /* LG_CIDR_LIST_MAX entries are fine, one more is not */
    for (int i = 0; i < LG_CIDR_LIST_MAX; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "%s10.0.%d.0/24", i ? "," : "", i);
    assert_int_equal(lg_addr_cidr_list_parse(many, &l, err, sizeof err), 0);
    assert_int_equal(l.n, LG_CIDR_LIST_MAX);
    snprintf(many + n, sizeof many - n, ",10.1.0.0/24");
    assert_list_error(many, "more than 64 entries");
}

/* The client of a request from peer with the given X-Forwarded-For headers. */
static int client_of(const char *peer, const char *trusted, const char *const *xff, size_t n,
                     char out[LG_IP_MAX + 1])
{
    lg_cidr_list l;
    char err[160];
    lg_addr p = addr_of(peer), c;
    int rc;

    assert_int_equal(lg_addr_cidr_list_parse(trusted, &l, err, sizeof err), 0);
    rc = lg_addr_xff_client(&p, xff, n, &l, &c);
    lg_addr_format(&c, out);
    return rc;
}

static void assert_client(const char *peer, const char *trusted, const char *xff,
                          const char *want)
{
    char out[LG_IP_MAX + 1];
    const char *v[1] = {xff};

    if (client_of(peer, trusted, v, xff != NULL, out) != 0)
        fail_msg("XFF '%s' from %s: refused", xff, peer);
    if (strcmp(out, want) != 0)
        fail_msg("XFF '%s' from %s: client %s, expected %s", xff, peer, out, want);
}

/* {peer, trusted_proxies, X-Forwarded-For (NULL: none), client} */
typedef const char *const client_case[4];

static void assert_clients(client_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_client(cases[i][0], cases[i][1], cases[i][2], cases[i][3]);
}

static void test_xff_from_an_untrusted_peer_is_ignored(void **state)
{
    static client_case cases[] = {
        {"203.0.113.9", "127.0.0.1/32", "192.0.2.1", "203.0.113.9"},
        {"203.0.113.9", "", "192.0.2.1", "203.0.113.9"},
        {"::ffff:203.0.113.9", "127.0.0.1/32", "192.0.2.1", "203.0.113.9"},
    };

    (void)state;
    assert_clients(cases, sizeof cases / sizeof cases[0]);
}

static void test_xff_right_most_untrusted_entry_is_the_client(void **state)
{
    static client_case cases[] = {
        {"10.0.0.5", "10.0.0.0/8", "192.0.2.1", "192.0.2.1"},
        /* spoofed left entries are the client's own word: skipped */
        {"10.0.0.5", "10.0.0.0/8", "1.1.1.1, 2.2.2.2, 192.0.2.1", "192.0.2.1"},
        /* trusted hops to the right are walked past */
        {"10.0.0.5", "10.0.0.0/8", "1.1.1.1, 192.0.2.1, 10.0.0.7, 10.0.0.6", "192.0.2.1"},
        /* every entry trusted: the left-most */
        {"10.0.0.5", "10.0.0.0/8", "10.0.0.9, 10.0.0.8", "10.0.0.9"},
        /* a trusted peer without XFF is the client itself (a health check) */
        {"10.0.0.5", "10.0.0.0/8", NULL, "10.0.0.5"},
        {"10.0.0.5", "10.0.0.0/8", "", "10.0.0.5"},
        {"10.0.0.5", "10.0.0.0/8", " , ,", "10.0.0.5"},
        /* empty list elements are ignored */
        {"10.0.0.5", "10.0.0.0/8", "192.0.2.1,,  ,", "192.0.2.1"},
        /* canonical output, mapped entries are IPv4 (and judged against IPv4 CIDRs) */
        {"10.0.0.5", "10.0.0.0/8", "2001:DB8:0::1", "2001:db8::1"},
        {"10.0.0.5", "10.0.0.0/8", "::ffff:192.0.2.1", "192.0.2.1"},
        {"10.0.0.5", "10.0.0.0/8", "192.0.2.1, ::ffff:10.0.0.7", "192.0.2.1"},
        {"::1", "::1/128, 10.0.0.0/8", "192.0.2.1", "192.0.2.1"},
    };

    (void)state;
    assert_clients(cases, sizeof cases / sizeof cases[0]);
}

static void test_xff_entries_with_spaces_brackets_and_ports(void **state)
{
    static client_case cases[] = {
        {"10.0.0.5", "10.0.0.0/8", "  192.0.2.1  ", "192.0.2.1"},
        {"10.0.0.5", "10.0.0.0/8", "\t192.0.2.1", "192.0.2.1"},
        {"10.0.0.5", "10.0.0.0/8", "192.0.2.1:80", "192.0.2.1"},
        {"10.0.0.5", "10.0.0.0/8", "192.0.2.1:65535", "192.0.2.1"},
        {"10.0.0.5", "10.0.0.0/8", "[2001:db8::1]", "2001:db8::1"},
        {"10.0.0.5", "10.0.0.0/8", "[2001:db8::1]:443", "2001:db8::1"},
        {"10.0.0.5", "10.0.0.0/8", "1.1.1.1, [2001:DB8::1]:443 , 10.0.0.9:8080", "2001:db8::1"},
        {"10.0.0.5", "10.0.0.0/8", "2001:db8::1", "2001:db8::1"},
    };

    (void)state;
    assert_clients(cases, sizeof cases / sizeof cases[0]);
}

static void test_xff_garbage_where_the_client_stands_falls_back_on_the_peer(void **state)
{
    static const char *const garbage[] = {
        "unknown",         "192.0.2.1:",       "192.0.2.1:65536", "192.0.2.1:8a",
        "[2001:db8::1",    "[2001:db8::1]443", "[192.0.2.1]",     "fe80::1%eth0",
        "2001:db8::1:443x", "192.0.2.1 192.0.2.2", "[2001:db8::1]:1234567", "_hidden",
    };
    char out[LG_IP_MAX + 1];

    (void)state;
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        const char *v[1] = {garbage[i]};
        if (client_of("10.0.0.5", "10.0.0.0/8", v, 1, out) != LG_EINVAL)
            fail_msg("garbage '%s' accepted as %s", garbage[i], out);
        assert_string_equal(out, "10.0.0.5");
    }
    /* behind trusted hops too */
    const char *v[1] = {"junk, 10.0.0.7"};
    assert_int_equal(client_of("10.0.0.5", "10.0.0.0/8", v, 1, out), LG_EINVAL);
    assert_string_equal(out, "10.0.0.5");
    /* garbage left of the client is never looked at */
    assert_client("10.0.0.5", "10.0.0.0/8", "junk, 192.0.2.1", "192.0.2.1");
}

static void test_several_xff_headers_are_one_list_in_order(void **state)
{
    char out[LG_IP_MAX + 1];

    (void)state;
    const char *two[2] = {"1.1.1.1, 192.0.2.1", "10.0.0.7"};
    assert_int_equal(client_of("10.0.0.5", "10.0.0.0/8", two, 2, out), 0);
    assert_string_equal(out, "192.0.2.1");
    const char *last[2] = {"10.0.0.8", "192.0.2.2"};
    assert_int_equal(client_of("10.0.0.5", "10.0.0.0/8", last, 2, out), 0);
    assert_string_equal(out, "192.0.2.2");
    const char *all_trusted[3] = {"10.0.0.9", "", "10.0.0.8, 10.0.0.7"};
    assert_int_equal(client_of("10.0.0.5", "10.0.0.0/8", all_trusted, 3, out), 0);
    assert_string_equal(out, "10.0.0.9");
    const char *holes[3] = {"192.0.2.3", NULL, " "};
    assert_int_equal(client_of("10.0.0.5", "10.0.0.0/8", holes, 3, out), 0);
    assert_string_equal(out, "192.0.2.3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_six_spellings_of_one_ipv6_address_have_one_text),
        cmocka_unit_test(test_ipv4_mapped_address_is_its_ipv4_address),
        cmocka_unit_test(test_ipv4_and_short_ipv6_texts_are_kept),
        cmocka_unit_test(test_invalid_texts_are_refused),
        cmocka_unit_test(test_ipv6_network_text_for_each_prefix),
        cmocka_unit_test(test_network_text_is_its_own_network),
        cmocka_unit_test(test_cidr_list_membership_v4_v6_and_mapped),
        cmocka_unit_test(test_cidr_list_prefix_zero_and_mapped_networks),
        cmocka_unit_test(test_cidr_list_errors_name_the_entry),
        cmocka_unit_test(test_xff_from_an_untrusted_peer_is_ignored),
        cmocka_unit_test(test_xff_right_most_untrusted_entry_is_the_client),
        cmocka_unit_test(test_xff_entries_with_spaces_brackets_and_ports),
        cmocka_unit_test(test_xff_garbage_where_the_client_stands_falls_back_on_the_peer),
        cmocka_unit_test(test_several_xff_headers_are_one_list_in_order),
    };
    return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
