/*
 * api_body.h - the request bodies of POST /v1/login and /v1/attempts as a fixed set of
 * fields, read by a fast parser for the common flat shape with jansson as the fallback.
 *
 * The fast parser accepts only a flat object of plain ASCII strings (no escapes),
 * true/false/null and integers of at most 18 digits, with distinct keys; anything else
 * (escapes, UTF-8, nesting, reals, duplicates, bad syntax) is left to jansson, so errors
 * and edge cases keep jansson's strict semantics and line/column messages.
 */
#ifndef LG_ROLES_API_BODY_H
#define LG_ROLES_API_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Members a body may have for the fast parser (more: jansson). */
#define LG_API_BODY_MEMBERS_MAX 8

typedef enum {
    LG_API_V_ABSENT = 0,
    LG_API_V_STRING,
    LG_API_V_TRUE,
    LG_API_V_FALSE,
    LG_API_V_INTEGER,
    LG_API_V_OTHER /* null, real, object, array */
} lg_api_vkind;

typedef struct lg_api_value {
    lg_api_vkind kind;
    const char *s; /* STRING: NUL-terminated, len bytes */
    size_t len;
    int64_t i; /* INTEGER */
} lg_api_value;

typedef enum {
    LG_API_F_USER,
    LG_API_F_IP,
    LG_API_F_OK,
    LG_API_F_TS,
    LG_API_F_PASSWORD,
    LG_API_F_COUNT
} lg_api_field;

typedef struct lg_api_body {
    lg_api_value v[LG_API_F_COUNT];
    json_t *root; /* jansson's tree when it parsed the body, else NULL */
} lg_api_body;

/* Fast path: parses buf[0..len) (buf[len] must be writable) into out and returns true,
 * writing a NUL after each string value in buf; returns false with buf untouched when
 * the body is not of the simple shape (the caller then uses jansson). */
bool lg_api_body_fast(char *buf, size_t len, lg_api_body *out);

/* Fills out from a jansson object (borrowed: root must outlive out). */
void lg_api_body_from_json(json_t *root, lg_api_body *out);

/*
 * The event time of a reported attempt from its "ts" field v (DESIGN.md "Trust
 * boundary"): absent, it is now_ms, the API's own clock; present, it must be an integer
 * within [now_ms - lag_max_ms, now_ms + skew_max_ms] (both ends included), so that no
 * reporter can move a detector's clock. Returns 0 and *ts_ms, or LG_EINVAL with a 400
 * detail naming the bound and its config key ("field 'ts': 400000 ms in the past, more
 * than report_lag_max_ms (300000)").
 */
int lg_api_body_ts(const lg_api_value *v, int64_t now_ms, int64_t lag_max_ms,
                   int64_t skew_max_ms, int64_t *ts_ms, char *detail, size_t detail_len);

#endif
