/*
 * api_body.c - fixed-schema reading of the login/attempts bodies (see api_body.h).
 *
 * jansson builds a tree with a malloc per value and a hash table per object; for these
 * few-field bodies that was ~6 % of a request's CPU in `loginguard run` plus its share
 * of malloc/free. The fast parser here only recognises the shape every well-behaved
 * client sends and hands everything else to jansson unchanged.
 */
#include "roles/api_body.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/event.h"
#include "core/lgassert.h"

/* digits of an integer the fast path takes: 18 always fit int64_t */
#define BODY_INT_DIGITS_MAX 18

static const char *const field_names[LG_API_F_COUNT] = {
    [LG_API_F_USER] = "user",   [LG_API_F_IP] = "ip",
    [LG_API_F_OK] = "ok",       [LG_API_F_TS] = "ts",
    [LG_API_F_PASSWORD] = "password",
};

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *buf, size_t len, size_t i)
{
    while (i < len && is_ws(buf[i]))
        i++;
    return i;
}

/* A string of printable ASCII without escapes starting at buf[i] == '"'; returns the
 * index of its closing quote, or 0 when it is not such a string. */
static size_t plain_string(const char *buf, size_t len, size_t i)
{
    for (size_t j = i + 1; j < len; j++) {
        unsigned char c = (unsigned char)buf[j];
        if (c == '"')
            return j;
        if (c < 0x20 || c >= 0x7f || c == '\\')
            return 0;
    }
    return 0;
}

static bool literal(const char *buf, size_t len, size_t i, const char *word, size_t *end)
{
    size_t n = strlen(word);

    if (len - i < n || memcmp(buf + i, word, n) != 0)
        return false;
    *end = i + n;
    return true;
}

/* -?(0|[1-9][0-9]*) not followed by a fraction or exponent, at most 18 digits */
static bool integer(const char *buf, size_t len, size_t i, int64_t *v, size_t *end)
{
    bool neg = false;
    size_t start;
    int64_t x = 0;

    if (buf[i] == '-') {
        neg = true;
        i++;
    }
    start = i;
    while (i < len && buf[i] >= '0' && buf[i] <= '9') {
        if (i - start >= BODY_INT_DIGITS_MAX)
            return false;
        x = x * 10 + (buf[i] - '0');
        i++;
    }
    if (i == start || (buf[start] == '0' && i - start > 1))
        return false;
    if (i < len && (buf[i] == '.' || buf[i] == 'e' || buf[i] == 'E'))
        return false;
    *v = neg ? -x : x;
    *end = i;
    return true;
}

bool lg_api_body_fast(char *buf, size_t len, lg_api_body *out)
{
    size_t key_at[LG_API_BODY_MEMBERS_MAX], key_len[LG_API_BODY_MEMBERS_MAX];
    size_t str_end[LG_API_BODY_MEMBERS_MAX];
    lg_api_body b;
    size_t n = 0, n_str = 0, i;

    lg_assert(buf != NULL && out != NULL);
    memset(&b, 0, sizeof b);
    i = skip_ws(buf, len, 0);
    if (i >= len || buf[i] != '{')
        return false;
    i = skip_ws(buf, len, i + 1);
    if (i < len && buf[i] == '}') {
        i++;
        goto tail;
    }
    for (;;) {
        size_t kq, vend;
        lg_api_value v = {0};
        int f = -1;

        if (i >= len || buf[i] != '"' || n == LG_API_BODY_MEMBERS_MAX)
            return false;
        kq = plain_string(buf, len, i);
        if (kq == 0)
            return false;
        key_at[n] = i + 1;
        key_len[n] = kq - i - 1;
        for (size_t k = 0; k < n; k++) /* jansson is asked to reject duplicates */
            if (key_len[k] == key_len[n] && memcmp(buf + key_at[k], buf + key_at[n],
                                                   key_len[n]) == 0)
                return false;
        i = skip_ws(buf, len, kq + 1);
        if (i >= len || buf[i] != ':')
            return false;
        i = skip_ws(buf, len, i + 1);
        if (i >= len)
            return false;
        if (buf[i] == '"') {
            vend = plain_string(buf, len, i);
            if (vend == 0)
                return false;
            v.kind = LG_API_V_STRING;
            v.s = buf + i + 1;
            v.len = vend - i - 1;
            str_end[n_str++] = vend;
            vend++;
        } else if (literal(buf, len, i, "true", &vend)) {
            v.kind = LG_API_V_TRUE;
        } else if (literal(buf, len, i, "false", &vend)) {
            v.kind = LG_API_V_FALSE;
        } else if (literal(buf, len, i, "null", &vend)) {
            v.kind = LG_API_V_OTHER;
        } else if (integer(buf, len, i, &v.i, &vend)) {
            v.kind = LG_API_V_INTEGER;
        } else {
            return false;
        }
        for (int k = 0; k < LG_API_F_COUNT; k++) {
            if (strlen(field_names[k]) == key_len[n] &&
                memcmp(field_names[k], buf + key_at[n], key_len[n]) == 0)
                f = k;
        }
        if (f >= 0)
            b.v[f] = v;
        n++;
        i = skip_ws(buf, len, vend);
        if (i < len && buf[i] == ',') {
            i = skip_ws(buf, len, i + 1);
            continue;
        }
        if (i < len && buf[i] == '}') {
            i++;
            break;
        }
        return false;
    }
tail:
    if (skip_ws(buf, len, i) != len)
        return false;
    /* accepted: terminate the string values in place (their closing quotes) */
    for (size_t k = 0; k < n_str; k++)
        buf[str_end[k]] = '\0';
    *out = b;
    return true;
}

void lg_api_body_from_json(json_t *root, lg_api_body *out)
{
    memset(out, 0, sizeof *out);
    out->root = root;
    for (int k = 0; k < LG_API_F_COUNT; k++) {
        json_t *j = json_object_get(root, field_names[k]);
        lg_api_value *v = &out->v[k];

        if (j == NULL)
            v->kind = LG_API_V_ABSENT;
        else if (json_is_string(j)) {
            v->kind = LG_API_V_STRING;
            v->s = json_string_value(j);
            v->len = json_string_length(j);
        } else if (json_is_true(j))
            v->kind = LG_API_V_TRUE;
        else if (json_is_false(j))
            v->kind = LG_API_V_FALSE;
        else if (json_is_integer(j)) {
            v->kind = LG_API_V_INTEGER;
            v->i = (int64_t)json_integer_value(j);
        } else
            v->kind = LG_API_V_OTHER;
    }
}

int lg_api_body_ts(const lg_api_value *v, int64_t now_ms, int64_t lag_max_ms,
                   int64_t skew_max_ms, int64_t *ts_ms, char *detail, size_t detail_len)
{
    lg_assert(lag_max_ms >= 0 && skew_max_ms >= 0);
    if (v->kind == LG_API_V_ABSENT) {
        *ts_ms = now_ms;
        return 0;
    }
    if (v->kind != LG_API_V_INTEGER || v->i < 1 || v->i > LG_TS_MAX_MS) {
        snprintf(detail, detail_len, "field 'ts': must be milliseconds since the epoch");
        return LG_EINVAL;
    }
    /* both in [1, LG_TS_MAX_MS] (2^48): the differences cannot overflow */
    if (now_ms - v->i > lag_max_ms) {
        snprintf(detail, detail_len, "field 'ts': %lld ms in the past, more than "
                 "report_lag_max_ms (%lld)", (long long)(now_ms - v->i), (long long)lag_max_ms);
        return LG_EINVAL;
    }
    if (v->i - now_ms > skew_max_ms) {
        snprintf(detail, detail_len, "field 'ts': %lld ms in the future, more than "
                 "clock_skew_max_ms (%lld)", (long long)(v->i - now_ms), (long long)skew_max_ms);
        return LG_EINVAL;
    }
    *ts_ms = v->i;
    return 0;
}
