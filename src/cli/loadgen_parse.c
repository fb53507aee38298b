/*
 * loadgen_parse.c - incremental HTTP/1.1 response parser (states in loadgen_parse.h).
 *
 *   STATUS --line--> HEADERS --empty line--> BODY | CHUNK_SIZE | UNTIL_EOF | DONE
 *   (1xx: HEADERS --empty line--> STATUS again)
 *   CHUNK_SIZE --n>0--> CHUNK_DATA --n bytes--> CHUNK_END --CRLF--> CHUNK_SIZE
 *   CHUNK_SIZE --0--> TRAILERS --empty line--> DONE;  BODY --length bytes--> DONE
 *   UNTIL_EOF --lg_loadgen_parse_eof--> DONE;  any --malformed--> ERROR
 *
 * Lines end in CRLF or a bare LF (RFC 9112 2.2 allows a recipient to accept LF).
 */
#include "cli/loadgen_parse.h"

#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/lgassert.h"

void lg_loadgen_parse_init(lg_loadgen_parse *p)
{
    lg_assert(p != NULL);
    p->state = LG_LOADGEN_PARSE_STATUS;
    p->status = 0;
    p->keep_alive = true;
    p->chunked = false;
    p->have_length = false;
    p->headers = 0;
    p->length = 0;
    p->remaining = 0;
    p->body_bytes = 0;
    p->error = NULL;
    p->line_len = 0;
}

bool lg_loadgen_parse_done(const lg_loadgen_parse *p)
{
    return p->state == LG_LOADGEN_PARSE_DONE;
}

static int fail(lg_loadgen_parse *p, const char *why)
{
    p->state = LG_LOADGEN_PARSE_ERROR;
    p->error = why;
    return LG_EINVAL;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims optional whitespace around [*s, *s + *len). */
static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_ows(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_ows((*s)[*len - 1]))
        (*len)--;
}

static bool token_eq(const char *s, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(s, want, len) == 0;
}

/* Decimal digits only, at most LG_LOADGEN_BODY_MAX. */
static int parse_length(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 19)
        return LG_EINVAL;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return LG_EINVAL;
        v = v * 10 + (s[i] - '0');
        if (v > LG_LOADGEN_BODY_MAX)
            return LG_ETOOBIG;
    }
    *out = v;
    return 0;
}

static int on_status_line(lg_loadgen_parse *p, const char *s, size_t len)
{
    /* "HTTP/1.x SSS" then end of line or " reason" */
    if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') ||
        s[8] != ' ')
        return fail(p, "malformed status line");
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (s[i] < '0' || s[i] > '9')
            return fail(p, "malformed status code");
        status = status * 10 + (s[i] - '0');
    }
    if (status < 100 || status > 599)
        return fail(p, "status code out of range");
    if (len > 12 && s[12] != ' ')
        return fail(p, "malformed status line");
    p->status = status;
    p->keep_alive = s[7] == '1'; /* HTTP/1.0 closes unless it says keep-alive */
    p->state = LG_LOADGEN_PARSE_HEADERS;
    return 0;
}

static int on_connection(lg_loadgen_parse *p, const char *v, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && v[j] != ',')
            j++;
        const char *tok = v + i;
        size_t tlen = j - i;
        trim(&tok, &tlen);
        if (token_eq(tok, tlen, "close"))
            p->keep_alive = false;
        else if (token_eq(tok, tlen, "keep-alive"))
            p->keep_alive = true;
        i = j + 1;
    }
    return 0;
}

static int on_transfer_encoding(lg_loadgen_parse *p, const char *v, size_t len)
{
    /* only the last coding frames the body; it must be chunked (RFC 9112 6.3) */
    size_t start = len;
    while (start > 0 && v[start - 1] != ',')
        start--;
    const char *last = v + start;
    size_t llen = len - start;
    trim(&last, &llen);
    if (!token_eq(last, llen, "chunked"))
        return fail(p, "unsupported transfer-encoding (only chunked is)");
    p->chunked = true;
    return 0;
}

static int on_header_line(lg_loadgen_parse *p, const char *s, size_t len)
{
    if (++p->headers > LG_LOADGEN_HEADERS_MAX)
        return fail(p, "too many header lines");
    if (is_ows(s[0]))
        return fail(p, "obsolete header line folding");
    const char *colon = memchr(s, ':', len);
    if (colon == NULL || colon == s)
        return fail(p, "header line without a name");
    size_t nlen = (size_t)(colon - s);
    for (size_t i = 0; i < nlen; i++) {
        if (is_ows(s[i]))
            return fail(p, "whitespace in a header name");
    }
    const char *v = colon + 1;
    size_t vlen = len - nlen - 1;
    trim(&v, &vlen);
    if (p->state == LG_LOADGEN_PARSE_TRAILERS)
        return 0; /* trailers never frame anything */
    if (token_eq(s, nlen, "content-length")) {
        int64_t n;
        int rc = parse_length(v, vlen, &n);
        if (rc == LG_ETOOBIG)
            return fail(p, "content-length over the body limit");
        if (rc != 0)
            return fail(p, "malformed content-length");
        if (p->have_length && p->length != n)
            return fail(p, "conflicting content-length headers");
        p->have_length = true;
        p->length = n;
        return 0;
    }
    if (token_eq(s, nlen, "transfer-encoding"))
        return on_transfer_encoding(p, v, vlen);
    if (token_eq(s, nlen, "connection"))
        return on_connection(p, v, vlen);
    return 0;
}

/* The empty line after the headers: decide how the body is framed. */
static int on_headers_end(lg_loadgen_parse *p)
{
    if (p->status < 200) {
        if (p->status == 101)
            return fail(p, "unexpected protocol switch (101)");
        /* interim response (100 Continue, 103 Early Hints): the real one follows */
        lg_loadgen_parse_init(p);
        return 0;
    }
    if (p->chunked && p->have_length)
        return fail(p, "both content-length and chunked");
    if (p->status == 204 || p->status == 304) {
        p->state = LG_LOADGEN_PARSE_DONE;
    } else if (p->chunked) {
        p->state = LG_LOADGEN_PARSE_CHUNK_SIZE;
    } else if (p->have_length) {
        p->remaining = p->length;
        p->state = p->length ? LG_LOADGEN_PARSE_BODY : LG_LOADGEN_PARSE_DONE;
    } else {
        p->keep_alive = false;
        p->state = LG_LOADGEN_PARSE_UNTIL_EOF;
    }
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int on_chunk_size(lg_loadgen_parse *p, const char *s, size_t len)
{
    size_t i = 0;
    int64_t size = 0;
    while (i < len && hex_digit(s[i]) >= 0) {
        size = size * 16 + hex_digit(s[i]);
        if (size > LG_LOADGEN_BODY_MAX)
            return fail(p, "chunk over the body limit");
        i++;
    }
    if (i == 0)
        return fail(p, "malformed chunk size");
    while (i < len && is_ows(s[i]))
        i++;
    if (i < len && s[i] != ';')
        return fail(p, "malformed chunk size");
    if (p->body_bytes + size > LG_LOADGEN_BODY_MAX)
        return fail(p, "chunked body over the body limit");
    if (size == 0) {
        p->state = LG_LOADGEN_PARSE_TRAILERS;
    } else {
        p->remaining = size;
        p->state = LG_LOADGEN_PARSE_CHUNK_DATA;
    }
    return 0;
}

static int on_line(lg_loadgen_parse *p)
{
    size_t len = p->line_len;
    if (len > 0 && p->line[len - 1] == '\r')
        len--;
    if (memchr(p->line, '\0', len) != NULL)
        return fail(p, "NUL byte in the response head");
    const char *s = p->line;
    switch (p->state) {
    case LG_LOADGEN_PARSE_STATUS:
        return on_status_line(p, s, len);
    case LG_LOADGEN_PARSE_HEADERS:
        return len == 0 ? on_headers_end(p) : on_header_line(p, s, len);
    case LG_LOADGEN_PARSE_CHUNK_SIZE:
        return on_chunk_size(p, s, len);
    case LG_LOADGEN_PARSE_CHUNK_END:
        if (len != 0)
            return fail(p, "chunk data longer than its size");
        p->state = LG_LOADGEN_PARSE_CHUNK_SIZE;
        return 0;
    case LG_LOADGEN_PARSE_TRAILERS:
        if (len == 0) {
            p->state = LG_LOADGEN_PARSE_DONE;
            return 0;
        }
        return on_header_line(p, s, len);
    default:
        lg_assert(!"on_line called outside a line state");
        return LG_EINVAL;
    }
}

int lg_loadgen_parse_feed(lg_loadgen_parse *p, const char *buf, size_t n, size_t *used_out)
{
    lg_assert(p != NULL);
    lg_assert(buf != NULL || n == 0);
    size_t i = 0;
    /* each pass consumes at least one byte or ends the response: bounded by n */
    while (i < n && p->state != LG_LOADGEN_PARSE_DONE) {
        switch (p->state) {
        case LG_LOADGEN_PARSE_BODY:
        case LG_LOADGEN_PARSE_CHUNK_DATA: {
            size_t take = n - i;
            if ((int64_t)take > p->remaining)
                take = (size_t)p->remaining;
            i += take;
            p->remaining -= (int64_t)take;
            p->body_bytes += (int64_t)take;
            if (p->remaining == 0)
                p->state = p->state == LG_LOADGEN_PARSE_BODY ? LG_LOADGEN_PARSE_DONE
                                                             : LG_LOADGEN_PARSE_CHUNK_END;
            break;
        }
        case LG_LOADGEN_PARSE_UNTIL_EOF:
            p->body_bytes += (int64_t)(n - i);
            i = n;
            if (p->body_bytes > LG_LOADGEN_BODY_MAX)
                return fail(p, "body over the body limit");
            break;
        case LG_LOADGEN_PARSE_ERROR:
            return LG_EINVAL;
        default: {
            const char *lf = memchr(buf + i, '\n', n - i);
            size_t end = lf ? (size_t)(lf - buf) : n;
            size_t seg = end - i;
            if (p->line_len + seg >= LG_LOADGEN_LINE_MAX)
                return fail(p, "response line longer than the line limit");
            memcpy(p->line + p->line_len, buf + i, seg);
            p->line_len += seg;
            i = lf ? end + 1 : end;
            if (lf) {
                int rc = on_line(p);
                p->line_len = 0;
                if (rc != 0)
                    return rc;
            }
            break;
        }
        }
    }
    *used_out = i;
    return 0;
}

int lg_loadgen_parse_eof(lg_loadgen_parse *p)
{
    if (p->state == LG_LOADGEN_PARSE_UNTIL_EOF) {
        p->state = LG_LOADGEN_PARSE_DONE;
        return 0;
    }
    if (p->state == LG_LOADGEN_PARSE_DONE)
        return 0;
    return fail(p, "connection closed before the response was complete");
}
