/*
 * addr.c - canonical address text, IPv6 networks for IP-keyed rules, CIDR lists and the
 * X-Forwarded-For client (addr.h).
 *
 * One parser judges every address: lg_addr_parse is inet_pton on a NUL-terminated copy,
 * so what is an address here is exactly what glibc says it is, and lg_addr_format is
 * inet_ntop, so one address has one text. The lenient forms of X-Forwarded-For entries
 * (spaces, brackets, ports) are peeled off before that same parser sees them.
 */
#include "core/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/lgassert.h"

/* the part of an entry quoted in an error message */
#define ADDR_ECHO_MAX 64

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_space((*s)[0])) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_space((*s)[*len - 1]))
        (*len)--;
}

int lg_addr_parse(const char *s, size_t len, lg_addr *out)
{
    char buf[LG_IP_MAX + 1];
    lg_addr a;

    lg_assert(s != NULL || len == 0);
    lg_assert(out != NULL);
    if (len == 0 || len > LG_IP_MAX || memchr(s, '\0', len) != NULL)
        return LG_EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(&a, 0, sizeof a);
    if (memchr(buf, ':', len) == NULL) {
        if (inet_pton(AF_INET, buf, a.b) != 1)
            return LG_EINVAL;
    } else {
        if (inet_pton(AF_INET6, buf, a.b) != 1)
            return LG_EINVAL;
        a.v6 = true;
        /* ::ffff:a.b.c.d is the IPv4 address a.b.c.d reaching an IPv6 socket */
        if (memcmp(a.b, mapped_prefix, sizeof mapped_prefix) == 0) {
            memmove(a.b, a.b + 12, 4);
            memset(a.b + 4, 0, 12);
            a.v6 = false;
        }
    }
    *out = a;
    return 0;
}

size_t lg_addr_format(const lg_addr *a, char out[static LG_IP_MAX + 1])
{
    lg_assert(a != NULL);
    /* LG_IP_MAX + 1 is INET6_ADDRSTRLEN: inet_ntop cannot fail on it */
    if (inet_ntop(a->v6 ? AF_INET6 : AF_INET, a->b, out, LG_IP_MAX + 1) == NULL)
        lg_assert(!"inet_ntop failed on a buffer of INET6_ADDRSTRLEN");
    return strlen(out);
}

int lg_addr_canon(const char *s, size_t len, char out[static LG_IP_MAX + 1])
{
    lg_addr a;

    if (lg_addr_parse(s, len, &a) != 0)
        return LG_EINVAL;
    return (int)lg_addr_format(&a, out);
}

/* Keeps the first len bits of a, zeroes the rest. */
static void addr_mask(lg_addr *a, unsigned len)
{
    unsigned bytes = a->v6 ? 16 : 4;

    lg_assert(len <= bytes * 8);
    if (len % 8 != 0)
        a->b[len / 8] &= (uint8_t)(0xff00u >> (len % 8));
    for (unsigned i = (len + 7) / 8; i < bytes; i++)
        a->b[i] = 0;
}

/* Do a and b agree on their first len bits? */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned len)
{
    unsigned full = len / 8;

    if (memcmp(a, b, full) != 0)
        return false;
    if (len % 8 == 0)
        return true;
    uint8_t m = (uint8_t)(0xff00u >> (len % 8));
    return (a[full] & m) == (b[full] & m);
}

/* A prefix length: 1..3 decimal digits without a leading zero ("0" itself is fine). */
static bool prefix_parse(const char *s, size_t len, unsigned *out)
{
    unsigned v = 0;

    if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* --- networks of IP-keyed rules --------------------------------------------------- */

/* s as an address or "<IPv6>/<len>": the address (not masked) and the length (128 for a
 * bare IPv6 address, 32 for IPv4). */
static int net_parse(const char *s, size_t len, lg_addr *a, unsigned *net_len)
{
    const char *slash = memchr(s, '/', len);
    size_t addr_len = slash != NULL ? (size_t)(slash - s) : len;

    if (lg_addr_parse(s, addr_len, a) != 0)
        return LG_EINVAL;
    *net_len = a->v6 ? 128 : 32;
    if (slash == NULL)
        return 0;
    /* IPv4 is keyed by the address alone; a mapped network was IPv6 text */
    if (!a->v6 || !prefix_parse(slash + 1, len - addr_len - 1, net_len) || *net_len > 128)
        return LG_EINVAL;
    return 0;
}

int lg_addr_net(const char *s, size_t len, uint32_t prefix, char out[static LG_IP_MAX + 1])
{
    char text[LG_IP_MAX + 1];
    lg_addr a;
    unsigned net_len;
    size_t n;

    lg_assert(prefix >= 1 && prefix <= 128);
    if (len == 0 || net_parse(s, len, &a, &net_len) != 0)
        return LG_EINVAL;
    if (!a.v6)
        return (int)lg_addr_format(&a, out);
    if (prefix < net_len)
        net_len = prefix;
    addr_mask(&a, net_len);
    n = lg_addr_format(&a, text);
    if (net_len == 128) {
        memcpy(out, text, n + 1);
        return (int)n;
    }
    /* "<39 bytes at most>/<3 digits>" fits LG_IP_MAX: a mapped address, the one longer
     * IPv6 text, is held as IPv4 */
    int w = snprintf(out, LG_IP_MAX + 1, "%s/%u", text, net_len);
    lg_assert(w > 0 && w <= LG_IP_MAX);
    return w;
}

bool lg_addr_net_valid(const char *s, size_t len, char *err, size_t err_len)
{
    lg_addr a;
    unsigned net_len;

    if (len > 0 && net_parse(s, len, &a, &net_len) == 0)
        return true;
    if (err != NULL && err_len > 0)
        snprintf(err, err_len, "not a valid IPv4 or IPv6 address or IPv6 network");
    return false;
}

/* --- CIDR lists ------------------------------------------------------------------- */

/* One entry "ADDR[/LEN]", trimmed and non-empty, into *out; the reason into why. */
static bool cidr_parse(const char *s, size_t len, lg_cidr *out, char *why, size_t why_len)
{
    const char *slash = memchr(s, '/', len);
    size_t addr_len = slash != NULL ? (size_t)(slash - s) : len;
    bool v6_text = memchr(s, ':', addr_len) != NULL;
    unsigned net_len, max;
    lg_addr a, masked;

    if (lg_addr_parse(s, addr_len, &a) != 0) {
        snprintf(why, why_len, "not an IPv4 or IPv6 address");
        return false;
    }
    max = v6_text ? 128 : 32;
    net_len = max;
    if (slash != NULL && !prefix_parse(slash + 1, len - addr_len - 1, &net_len)) {
        snprintf(why, why_len, "prefix length is not a number");
        return false;
    }
    if (net_len > max) {
        snprintf(why, why_len, "prefix length above %u", max);
        return false;
    }
    if (v6_text && !a.v6) { /* mapped: its IPv4 network, the last 32 bits */
        if (net_len < 96) {
            snprintf(why, why_len, "an IPv4-mapped network needs a prefix length of 96..128");
            return false;
        }
        net_len -= 96;
    }
    masked = a;
    addr_mask(&masked, net_len);
    if (memcmp(masked.b, a.b, sizeof a.b) != 0) {
        char text[LG_IP_MAX + 1];
        lg_addr_format(&masked, text);
        snprintf(why, why_len, "host bits are set (the network is %s/%u)", text, net_len);
        return false;
    }
    out->net = masked;
    out->len = (uint8_t)net_len;
    return true;
}

int lg_addr_cidr_list_parse(const char *s, lg_cidr_list *out, char *err, size_t err_len)
{
    size_t len, pos = 0, all_len;
    const char *all = s;

    lg_assert(s != NULL && out != NULL);
    len = strlen(s);
    out->n = 0;
    all_len = len;
    trim(&all, &all_len);
    if (all_len == 0)
        return 0;
    for (;;) { /* one entry per pass; ends at the last one: bounded by len */
        const char *comma = memchr(s + pos, ',', len - pos);
        size_t end = comma != NULL ? (size_t)(comma - s) : len;
        const char *e = s + pos;
        size_t elen = end - pos;
        char why[128];

        trim(&e, &elen);
        if (elen == 0) {
            snprintf(err, err_len, "entry %zu is empty", out->n + 1);
            return LG_EINVAL;
        }
        if (out->n == LG_CIDR_LIST_MAX) {
            snprintf(err, err_len, "more than %d entries", LG_CIDR_LIST_MAX);
            return LG_EINVAL;
        }
        if (!cidr_parse(e, elen, &out->e[out->n], why, sizeof why)) {
            snprintf(err, err_len, "entry '%.*s': %s",
                     (int)(elen < ADDR_ECHO_MAX ? elen : ADDR_ECHO_MAX), e, why);
            return LG_EINVAL;
        }
        out->n++;
        if (comma == NULL)
            return 0;
        pos = end + 1;
    }
}

bool lg_addr_cidr_list_has(const lg_cidr_list *l, const lg_addr *a)
{
    lg_assert(l != NULL && a != NULL);
    lg_assert(l->n <= LG_CIDR_LIST_MAX);
    for (size_t i = 0; i < l->n; i++) {
        const lg_cidr *c = &l->e[i];
        if (c->net.v6 == a->v6 && prefix_eq(c->net.b, a->b, c->len))
            return true;
    }
    return false;
}

/* --- X-Forwarded-For -------------------------------------------------------------- */

/* ":PORT" with PORT 0..65535 in 1..5 digits. */
static bool port_valid(const char *s, size_t len)
{
    unsigned v = 0;

    if (len < 2 || len > 6 || s[0] != ':')
        return false;
    for (size_t i = 1; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v <= 65535;
}

/* One list element: 0 and *out, LG_ENOTFOUND when empty (RFC 9110 5.6.1: empty elements
 * are ignored), LG_EINVAL when it is not an address in one of the forms of addr.h. */
static int xff_entry_parse(const char *s, size_t len, lg_addr *out)
{
    trim(&s, &len);
    if (len == 0)
        return LG_ENOTFOUND;
    if (s[0] == '[') { /* "[IPv6]" or "[IPv6]:port" */
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return LG_EINVAL;
        size_t addr_len = (size_t)(close - s) - 1, rest = len - addr_len - 2;
        if (memchr(s + 1, ':', addr_len) == NULL || (rest > 0 && !port_valid(close + 1, rest)))
            return LG_EINVAL;
        return lg_addr_parse(s + 1, addr_len, out);
    }
    const char *colon = memchr(s, ':', len);
    if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)) == NULL) {
        /* one colon: "IPv4:port" (a bare IPv6 address has at least two) */
        if (!port_valid(colon, len - (size_t)(colon - s)))
            return LG_EINVAL;
        len = (size_t)(colon - s);
    }
    return lg_addr_parse(s, len, out);
}

int lg_addr_xff_client(const lg_addr *peer, const char *const *xff, size_t n_xff,
                       const lg_cidr_list *trusted, lg_addr *out)
{
    lg_addr cand, leftmost;
    bool any = false;

    lg_assert(peer != NULL && trusted != NULL && out != NULL);
    lg_assert(xff != NULL || n_xff == 0);
    if (!lg_addr_cidr_list_has(trusted, peer)) {
        *out = *peer;
        return 0;
    }
    /* right to left: each trusted proxy appended the address it saw; the first address
     * no trusted proxy vouches for is the client, what lies left of it is its word */
    for (size_t i = n_xff; i > 0; i--) {
        const char *v = xff[i - 1];
        size_t end;

        if (v == NULL)
            continue;
        end = strlen(v);
        for (;;) { /* one element per pass, right to left: bounded by the value */
            size_t start = end;
            while (start > 0 && v[start - 1] != ',')
                start--;
            int rc = xff_entry_parse(v + start, end - start, &cand);
            if (rc == 0) {
                if (!lg_addr_cidr_list_has(trusted, &cand)) {
                    *out = cand;
                    return 0;
                }
                leftmost = cand;
                any = true;
            } else if (rc == LG_EINVAL) {
                *out = *peer;
                return LG_EINVAL;
            }
            if (start == 0)
                break;
            end = start - 1;
        }
    }
    *out = any ? leftmost : *peer;
    return 0;
}
