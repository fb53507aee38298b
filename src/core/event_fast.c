/*
 * event_fast.c - a hand-written scanner for the common shape of an attempt line.
 *
 * jansson costs ~1.8 us per parse (research/libs.md §2), too slow for a replay of
 * millions of lines. Nearly every real line is one flat object of known keys whose
 * strings are printable ASCII without escapes, whose numbers are small non-negative
 * integers and whose booleans are true/false. This scanner accepts exactly that shape
 * and answers LG_ATTEMPT__FALLBACK for anything else (escapes, non-ASCII, unknown or
 * repeated keys, floats, signs, null, nesting, odd whitespace, trailing bytes), so that
 * jansson - strict, and the author of every JSON error message - decides those lines.
 * Anything accepted here is valid JSON that jansson would read to the same values; the
 * differential test in tests/unit/test_event.c checks it on mutated inputs.
 */
#include <string.h>

#include "core/err.h"
#include "core/event_fast.h"

/* 18 decimal digits always fit in int64_t; longer numbers go to jansson, which knows
 * about "too big integer". */
#define FAST_DIGITS_MAX 18

static inline bool is_ws(char c)
{
    /* exactly JSON's four whitespace bytes, as jansson's lexer skips them */
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

/* Which known key is k[0..len)? -1 for any other key. */
static int key_id(const char *k, size_t len)
{
    switch (len) {
    case 1:
        return k[0] == 'v' ? LG_ATTEMPT__F_V : -1;
    case 2:
        if (k[0] == 'i' && k[1] == 'd')
            return LG_ATTEMPT__F_ID;
        if (k[0] == 't' && k[1] == 's')
            return LG_ATTEMPT__F_TS;
        if (k[0] == 'i' && k[1] == 'p')
            return LG_ATTEMPT__F_IP;
        if (k[0] == 'o' && k[1] == 'k')
            return LG_ATTEMPT__F_OK;
        return -1;
    case 3:
        return memcmp(k, "src", 3) == 0 ? LG_ATTEMPT__F_SRC : -1;
    case 4:
        return memcmp(k, "user", 4) == 0 ? LG_ATTEMPT__F_USER : -1;
    case 7:
        return memcmp(k, "outcome", 7) == 0 ? LG_ATTEMPT__F_OUTCOME : -1;
    default:
        return -1;
    }
}

/* Scans a string body after its opening quote. Returns the closing quote, or NULL when
 * the body holds anything but printable ASCII without backslashes (or is unterminated):
 * escapes, control bytes, DEL and non-ASCII are jansson's business. A plain loop: the
 * strings are short (ids, users, addresses), where memchr's setup costs more than it
 * saves. */
static inline const char *scan_plain_string(const char *p, const char *end)
{
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p;
        if ((unsigned char)(c - 0x20) > 0x7e - 0x20 || c == '\\')
            return NULL;
    }
    return NULL;
}

int lg_attempt__scan_fast(const char *json, size_t len, lg_attempt__fields *out)
{
    const char *p = json, *end = json + len;
    unsigned seen = 0;

    for (int i = 0; i < LG_ATTEMPT__F_COUNT; i++)
        out->f[i].type = LG_JT_ABSENT;
    p = skip_ws(p, end);
    if (p == end || *p != '{')
        return LG_ATTEMPT__FALLBACK;
    p = skip_ws(p + 1, end);
    /* at most one pass per known key: a repeated or unknown key falls back, so the loop
     * runs at most LG_ATTEMPT__F_COUNT times */
    for (;;) {
        if (p == end || *p != '"')
            return LG_ATTEMPT__FALLBACK; /* includes the empty object and "{...,}" */
        const char *k = p + 1;
        const char *kq = scan_plain_string(k, end);
        if (kq == NULL)
            return LG_ATTEMPT__FALLBACK;
        int id = key_id(k, (size_t)(kq - k));
        if (id < 0 || (seen & (1u << id)))
            return LG_ATTEMPT__FALLBACK;
        seen |= 1u << id;
        p = skip_ws(kq + 1, end);
        if (p == end || *p != ':')
            return LG_ATTEMPT__FALLBACK;
        p = skip_ws(p + 1, end);
        if (p == end)
            return LG_ATTEMPT__FALLBACK;

        lg_attempt__field *f = &out->f[id];
        char c = *p;
        if (c == '"') {
            const char *q = scan_plain_string(p + 1, end);
            if (q == NULL)
                return LG_ATTEMPT__FALLBACK;
            f->type = LG_JT_STRING;
            f->str = p + 1;
            f->str_len = (size_t)(q - (p + 1));
            p = q + 1;
        } else if (c >= '0' && c <= '9') {
            /* JSON forbids leading zeros: "0" alone, else [1-9][0-9]* */
            const char *d = p;
            int64_t v = 0;
            while (d < end && *d >= '0' && *d <= '9' && d - p < FAST_DIGITS_MAX) {
                v = v * 10 + (*d - '0');
                d++;
            }
            if ((d < end && *d >= '0' && *d <= '9') || (c == '0' && d - p > 1))
                return LG_ATTEMPT__FALLBACK; /* a 19th digit, or a leading zero */
            /* '.', 'e', '-' and the like after the digits fail the separator check
             * below and fall back: reals are jansson's */
            f->type = LG_JT_INTEGER;
            f->num = v;
            p = d;
        } else if (c == 't' && end - p >= 4 && memcmp(p, "true", 4) == 0) {
            f->type = LG_JT_TRUE;
            p += 4;
        } else if (c == 'f' && end - p >= 5 && memcmp(p, "false", 5) == 0) {
            f->type = LG_JT_FALSE;
            p += 5;
        } else {
            return LG_ATTEMPT__FALLBACK; /* null, '-', nesting, garbage */
        }

        p = skip_ws(p, end);
        if (p == end)
            return LG_ATTEMPT__FALLBACK;
        if (*p == '}')
            break;
        if (*p != ',')
            return LG_ATTEMPT__FALLBACK;
        p = skip_ws(p + 1, end);
    }
    /* jansson rejects trailing data after the object; only whitespace may follow */
    p = skip_ws(p + 1, end);
    return p == end ? 0 : LG_ATTEMPT__FALLBACK;
}

int lg_attempt__decode_fast(const char *json, size_t len, lg_attempt_mode mode,
                            lg_attempt *out, char *err, size_t err_len)
{
    lg_attempt__fields fields;
    if (len > LG_EVENT_JSON_MAX)
        return LG_ATTEMPT__FALLBACK; /* the size error has one author: event.c */
    if (lg_attempt__scan_fast(json, len, &fields) != 0)
        return LG_ATTEMPT__FALLBACK;
    return lg_attempt__from_fields(&fields, mode, out, err, err_len);
}
