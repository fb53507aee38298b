/*
 * errors.h - the one table of HTTP error codes: every error response of loginguard is
 * {"error":"<code>","detail":"<sentence>"} with the status and code taken from here.
 *
 * A detail may echo client input (a field name, a JSON parser message): it is escaped as
 * a JSON string and CR/LF and other control characters are dropped, so an echoed value
 * can never split a header or a log line.
 */
#ifndef LG_HTTP_ERRORS_H
#define LG_HTTP_ERRORS_H

#include <stddef.h>

typedef enum {
    LG_HTTP_E_BAD_JSON = 0,        /* 400: body is not valid JSON (detail says where) */
    LG_HTTP_E_BAD_REQUEST,         /* 400: valid JSON, wrong or missing field */
    LG_HTTP_E_UNAUTHORIZED,        /* 401: missing, forged or expired bearer token */
    LG_HTTP_E_INVALID_CREDENTIALS, /* 401: unknown user or wrong password (one body) */
    LG_HTTP_E_FORBIDDEN,           /* 403: valid token without the needed role */
    LG_HTTP_E_NOT_FOUND,           /* 404 */
    LG_HTTP_E_METHOD_NOT_ALLOWED,  /* 405: with an Allow header */
    LG_HTTP_E_LENGTH_REQUIRED,     /* 411: POST without Content-Length, not chunked */
    LG_HTTP_E_PAYLOAD_TOO_LARGE,   /* 413: body over LG_HTTP_BODY_MAX */
    LG_HTTP_E_URI_TOO_LONG,        /* 414: path over LG_HTTP_URL_MAX */
    LG_HTTP_E_UNSUPPORTED_MEDIA,   /* 415: Content-Type is not application/json */
    LG_HTTP_E_BLOCKED,             /* 423: with Retry-After */
    LG_HTTP_E_INTERNAL,            /* 500 */
    LG_HTTP_E_OVERLOADED,          /* 503: with Retry-After */
    LG_HTTP_E_COUNT
} lg_http_err;

typedef struct lg_http_err_info {
    const char *code;   /* "bad_json" */
    unsigned status;    /* 400 */
    const char *detail; /* default sentence */
} lg_http_err_info;

/* The table row of e; never NULL (e must be < LG_HTTP_E_COUNT). */
const lg_http_err_info *lg_http_err_get(lg_http_err e);

/* Writes the JSON error body of e into buf. detail NULL uses the table's sentence.
 * Returns the length written (NUL-terminated); a detail too long for buf is cut. */
size_t lg_http_err_body(lg_http_err e, const char *detail, char *buf, size_t buf_len);

/* Appends s (len bytes) to buf as the inside of a JSON string: '"' and '\' escaped,
 * control characters (CR and LF included) dropped, invalid UTF-8 bytes replaced with
 * '?'. Never writes past buf_len - 1; returns the bytes written (NUL-terminated). */
size_t lg_http_json_escape(const char *s, size_t len, char *buf, size_t buf_len);

#endif
