/*
 * event_fast.h - private to the event codec (event.c, event_fast.c, its test and bench).
 *
 * Both decoders of an attempt (the hand-written fast scanner and jansson) reduce the
 * JSON object to the same lg_attempt__fields: for each known key, its JSON type and raw
 * value. One shared function then validates those fields and fills the lg_attempt, so
 * the two paths cannot disagree on what a field means or on the error message: they can
 * only disagree on the JSON itself, which the fast scanner avoids by giving up
 * (LG_ATTEMPT__FALLBACK) on anything outside a narrow, plainly valid shape.
 */
#ifndef LG_EVENT_FAST_H
#define LG_EVENT_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

typedef enum {
    LG_ATTEMPT__F_V = 0,
    LG_ATTEMPT__F_ID,
    LG_ATTEMPT__F_TS,
    LG_ATTEMPT__F_USER,
    LG_ATTEMPT__F_IP,
    LG_ATTEMPT__F_OK,
    LG_ATTEMPT__F_OUTCOME,
    LG_ATTEMPT__F_SRC,
    LG_ATTEMPT__F_COUNT,
} lg_attempt__field_id;

typedef enum {
    LG_JT_ABSENT = 0,
    LG_JT_STRING,
    LG_JT_INTEGER,
    LG_JT_REAL,
    LG_JT_TRUE,
    LG_JT_FALSE,
    LG_JT_NULL,
    LG_JT_OBJECT,
    LG_JT_ARRAY,
} lg_json_type;

typedef struct lg_attempt__field {
    lg_json_type type;
    const char *str; /* LG_JT_STRING: str_len bytes, borrowed from the parser */
    size_t str_len;
    int64_t num;     /* LG_JT_INTEGER */
} lg_attempt__field;

typedef struct lg_attempt__fields {
    lg_attempt__field f[LG_ATTEMPT__F_COUNT];
} lg_attempt__fields;

/* The fast scanner's "not my shape" answer; never returned by lg_attempt_decode. */
#define LG_ATTEMPT__FALLBACK 1

/* Key names indexed by lg_attempt__field_id. */
extern const char *const lg_attempt__field_names[LG_ATTEMPT__F_COUNT];

/* Scans json as one object of known keys with simple values (see event_fast.c). Returns
 * 0 with *out filled, or LG_ATTEMPT__FALLBACK (out then undefined). */
int lg_attempt__scan_fast(const char *json, size_t len, lg_attempt__fields *out);

/* Validates fields for mode and fills *out (written only on success); the one place
 * where the meaning of each field is decided. */
int lg_attempt__from_fields(const lg_attempt__fields *fields, lg_attempt_mode mode,
                            lg_attempt *out, char *err, size_t err_len);

/* The two paths separately, for the differential test and the benchmark. _fast returns
 * LG_ATTEMPT__FALLBACK where lg_attempt_decode would go on to jansson. */
int lg_attempt__decode_fast(const char *json, size_t len, lg_attempt_mode mode,
                            lg_attempt *out, char *err, size_t err_len);
int lg_attempt__decode_jansson(const char *json, size_t len, lg_attempt_mode mode,
                               lg_attempt *out, char *err, size_t err_len);

#endif
