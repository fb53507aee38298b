/*
 * addr.h - client addresses: one canonical text per address, the network an IP-keyed rule
 * keys an IPv6 address by, CIDR lists ([http] trusted_proxies, admin_networks) and the
 * client named by X-Forwarded-For.
 *
 * Canonical text is inet_pton then inet_ntop (glibc), with an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) written as its IPv4 address: "2001:DB8:0::1" -> "2001:db8::1",
 * "::ffff:192.0.2.1" -> "192.0.2.1". The network text of an IPv6 address for a prefix p
 * is its first p bits as "<canonical>/<p>" ("2001:db8::/64"), the bare address for
 * p = 128; an IPv4 address is its own network text. Every text fits LG_IP_MAX.
 *
 * Nothing here allocates: lookups run once per request.
 */
#ifndef LG_ADDR_H
#define LG_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

/* An address in network byte order: IPv4 in b[0..3] (v6 false), else all 16 bytes.
 * A mapped IPv6 address is always held as IPv4. */
typedef struct lg_addr {
    uint8_t b[16];
    bool v6;
} lg_addr;

/* A network: its first len bits (0..32 or 0..128) are those of net, the others 0. */
typedef struct lg_cidr {
    lg_addr net;
    uint8_t len;
} lg_cidr;

typedef struct lg_cidr_list {
    size_t n;
    lg_cidr e[LG_CIDR_LIST_MAX];
} lg_cidr_list;

/* Parses len bytes (need not be NUL-terminated) of strict address text: exactly what
 * inet_pton(AF_INET or AF_INET6) accepts, so no spaces, brackets, ports or zone ids.
 * Returns 0 and *out, or LG_EINVAL. */
int lg_addr_parse(const char *s, size_t len, lg_addr *out);

/* Writes the canonical text of a into out (NUL-terminated); returns its length. */
size_t lg_addr_format(const lg_addr *a, char out[static LG_IP_MAX + 1]);

/* lg_addr_parse then lg_addr_format: the canonical text of s, its length, or LG_EINVAL
 * (out untouched). */
int lg_addr_canon(const char *s, size_t len, char out[static LG_IP_MAX + 1]);

/*
 * The network text of s for prefix (1..128): s is an address, or an IPv6 network text
 * ("2001:db8::/64", as this function writes it), whose network is then taken at the
 * shorter of its own length and prefix, so the function is idempotent. An IPv4 address
 * is written unchanged (canonical). Returns the length written into out, or LG_EINVAL
 * (out untouched) for anything else, an IPv4 network included.
 */
int lg_addr_net(const char *s, size_t len, uint32_t prefix, char out[static LG_IP_MAX + 1]);

/* Is s an address or an IPv6 network text (what lg_addr_net accepts)? Otherwise writes
 * the reason into err (may be NULL). The shape of the event field validators. */
bool lg_addr_net_valid(const char *s, size_t len, char *err, size_t err_len);

/*
 * Parses a CIDR list: entries separated by commas, spaces around them ignored, each
 * "ADDR/LEN" or a bare ADDR (/32, /128); host bits must be 0; an IPv4-mapped network
 * (::ffff:0:0/96 and longer) is its IPv4 network. "" or only spaces: the empty list.
 * At most LG_CIDR_LIST_MAX entries. On error returns LG_EINVAL and writes a reason naming
 * the entry into err ("entry '10.0.0.0/33': prefix length above 32"); *out is then
 * unspecified.
 */
int lg_addr_cidr_list_parse(const char *s, lg_cidr_list *out, char *err, size_t err_len);

/* Is a in one of l's networks? IPv4 addresses match only IPv4 networks (a mapped
 * address is IPv4, lg_addr_parse). */
bool lg_addr_cidr_list_has(const lg_cidr_list *l, const lg_addr *a);

/*
 * The client of a request that came from peer with X-Forwarded-For values
 * xff[0..n_xff) (several headers, in the order received, are one list): peer itself when
 * it is not in trusted or no entry is given; else, walking the entries right to left
 * (skipping empty ones), the first that is not in trusted; the left-most when all are.
 * An entry may have spaces around it, be an IPv6 address in brackets with or without a
 * port ("[2001:db8::1]:443") or an IPv4 address with a port ("192.0.2.1:80").
 * Returns 0 with *out the client; LG_EINVAL when the entry where the client stands (the
 * first right of which all are trusted) is not an address: *out is then peer (the
 * caller counts and logs it). Never reads past the values' NULs.
 */
int lg_addr_xff_client(const lg_addr *peer, const char *const *xff, size_t n_xff,
                       const lg_cidr_list *trusted, lg_addr *out);

#endif
