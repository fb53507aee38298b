/*
 * errors.c - the table of HTTP error codes and the escaping of echoed text.
 *
 * Bodies are built by hand (no JSON library): they are on the hot path of refused
 * requests (423 at tens of thousands per second) and their shape is fixed.
 */
#include "http/errors.h"

#include <stdbool.h>
#include <string.h>

#include "core/lgassert.h"

static const lg_http_err_info table[LG_HTTP_E_COUNT] = {
    [LG_HTTP_E_BAD_JSON] = {"bad_json", 400, "the request body is not valid JSON"},
    [LG_HTTP_E_BAD_REQUEST] = {"bad_request", 400, "the request is missing a field"},
    [LG_HTTP_E_UNAUTHORIZED] = {"unauthorized", 401,
                                "a valid 'Authorization: Bearer <token>' header is required"},
    [LG_HTTP_E_INVALID_CREDENTIALS] = {"invalid_credentials", 401,
                                       "unknown user or wrong password"},
    [LG_HTTP_E_FORBIDDEN] = {"forbidden", 403, "this needs an admin token"},
    [LG_HTTP_E_NOT_FOUND] = {"not_found", 404, "no such resource"},
    [LG_HTTP_E_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405,
                                      "this method is not allowed on this resource"},
    [LG_HTTP_E_LENGTH_REQUIRED] = {"length_required", 411,
                                   "a request body needs Content-Length or chunked encoding"},
    [LG_HTTP_E_PAYLOAD_TOO_LARGE] = {"payload_too_large", 413,
                                     "the request body is larger than 4096 bytes"},
    [LG_HTTP_E_URI_TOO_LONG] = {"uri_too_long", 414, "the request path is too long"},
    [LG_HTTP_E_UNSUPPORTED_MEDIA] = {"unsupported_media_type", 415,
                                     "the request body must be Content-Type: application/json"},
    [LG_HTTP_E_BLOCKED] = {"blocked", 423, "too many failed attempts; retry later"},
    [LG_HTTP_E_INTERNAL] = {"internal", 500, "internal error"},
    [LG_HTTP_E_OVERLOADED] = {"overloaded", 503, "the server is overloaded; retry later"},
};

const lg_http_err_info *lg_http_err_get(lg_http_err e)
{
    lg_assert((unsigned)e < LG_HTTP_E_COUNT);
    lg_assert(table[e].code != NULL);
    return &table[e];
}

/* Length of the valid UTF-8 sequence starting at s (at most len bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
    size_t n;
    unsigned c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    }
    /* overlong 3/4-byte forms, surrogates and > U+10FFFF */
    if (c == 0xe0 && s[1] < 0xa0)
        return 0;
    if (c == 0xed && s[1] > 0x9f)
        return 0;
    if (c == 0xf0 && s[1] < 0x90)
        return 0;
    if (c == 0xf4 && s[1] > 0x8f)
        return 0;
    return n;
}

size_t lg_http_json_escape(const char *s, size_t len, char *buf, size_t buf_len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;

    lg_assert(buf != NULL && buf_len > 0);
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len(p + i, len - i);
        bool esc = (p[i] == '"' || p[i] == '\\');

        if (n == 0) { /* invalid byte: shown as '?' so the body stays valid UTF-8 */
            if (o + 1 >= buf_len)
                break;
            buf[o++] = '?';
            i++;
            continue;
        }
        if (n == 1 && (p[i] < 0x20 || p[i] == 0x7f)) { /* CR, LF, tabs, ...: dropped */
            i++;
            continue;
        }
        if (o + n + (esc ? 1 : 0) >= buf_len)
            break;
        if (esc)
            buf[o++] = '\\';
        memcpy(buf + o, p + i, n);
        o += n;
        i += n;
    }
    buf[o] = '\0';
    return o;
}

size_t lg_http_err_body(lg_http_err e, const char *detail, char *buf, size_t buf_len)
{
    const lg_http_err_info *info = lg_http_err_get(e);
    static const char head1[] = "{\"error\":\"", head2[] = "\",\"detail\":\"", tail[] = "\"}";
    size_t code_len = strlen(info->code);
    size_t o;

    lg_assert(buf_len >= 64);
    if (detail == NULL)
        detail = info->detail;
    /* pieces copied, not snprintf'd: every 423 of a blocked user comes through here */
    lg_assert(sizeof head1 - 1 + code_len + sizeof head2 - 1 + sizeof tail < buf_len);
    memcpy(buf, head1, sizeof head1 - 1);
    o = sizeof head1 - 1;
    memcpy(buf + o, info->code, code_len);
    o += code_len;
    memcpy(buf + o, head2, sizeof head2 - 1);
    o += sizeof head2 - 1;
    /* leave room for the closing quote and brace */
    o += lg_http_json_escape(detail, strlen(detail), buf + o, buf_len - o - (sizeof tail - 1));
    memcpy(buf + o, tail, sizeof tail);
    return o + sizeof tail - 1;
}
