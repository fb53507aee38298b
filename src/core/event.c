/*
 * event.c - the JSON codec of attempts and blocks, and the field validators.
 *
 * Decoding an attempt first tries the fast scanner (event_fast.c); lines outside its
 * narrow shape go to jansson (JSON_REJECT_DUPLICATES), which writes every JSON error.
 * Both paths meet in lg_attempt__from_fields, the one place a field's meaning and its
 * error text are decided. Encoding is hand-written: a fixed field order (DESIGN.md), no
 * allocation, strings escaped for JSON (quote, backslash, control bytes as \u00XX).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/addr.h"
#include "core/err.h"
#include "core/event_fast.h"
#include "core/lgassert.h"

const char *const lg_attempt__field_names[LG_ATTEMPT__F_COUNT] = {
    [LG_ATTEMPT__F_V] = "v",       [LG_ATTEMPT__F_ID] = "id",
    [LG_ATTEMPT__F_TS] = "ts",     [LG_ATTEMPT__F_USER] = "user",
    [LG_ATTEMPT__F_IP] = "ip",     [LG_ATTEMPT__F_OK] = "ok",
    [LG_ATTEMPT__F_OUTCOME] = "outcome", [LG_ATTEMPT__F_SRC] = "src",
};

static const char *const type_names[] = {
    [LG_JT_ABSENT] = "nothing", [LG_JT_STRING] = "a string",
    [LG_JT_INTEGER] = "an integer", [LG_JT_REAL] = "a real number",
    [LG_JT_TRUE] = "true",      [LG_JT_FALSE] = "false",
    [LG_JT_NULL] = "null",      [LG_JT_OBJECT] = "an object",
    [LG_JT_ARRAY] = "an array",
};

/* Reasons are short; a field name and a reason fit easily. */
#define REASON_MAX 128

static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (err == NULL || err_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* ---- validators ------------------------------------------------------------------ */

/* Is s[0..len) valid UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF) without control characters (C0, DEL, C1)? */
static bool text_valid(const char *s, size_t len, char *err, size_t err_len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c >= 0x20 && c < 0x7f) {
            i++;
            continue;
        }
        if (c < 0x80) {
            set_err(err, err_len, "control character U+%04X at byte %zu", c, i);
            return false;
        }
        size_t n;
        uint32_t cp, min;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else if (c == 0xc0 || c == 0xc1) {
            set_err(err, err_len, "invalid UTF-8 at byte %zu: overlong encoding", i);
            return false;
        } else {
            set_err(err, err_len, "invalid UTF-8 at byte %zu: unexpected byte 0x%02x", i, c);
            return false;
        }
        if (len - i <= n) {
            set_err(err, err_len, "invalid UTF-8 at byte %zu: truncated sequence", i);
            return false;
        }
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                set_err(err, err_len, "invalid UTF-8 at byte %zu: bad continuation byte",
                        i + k);
                return false;
            }
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min) {
            set_err(err, err_len, "invalid UTF-8 at byte %zu: overlong encoding", i);
            return false;
        }
        if (cp >= 0xd800 && cp <= 0xdfff) {
            set_err(err, err_len, "invalid UTF-8 at byte %zu: surrogate U+%04X", i,
                    (unsigned)cp);
            return false;
        }
        if (cp > 0x10ffff) {
            set_err(err, err_len, "invalid UTF-8 at byte %zu: code point above U+10FFFF", i);
            return false;
        }
        if (cp <= 0x9f) {
            set_err(err, err_len, "control character U+%04X at byte %zu", (unsigned)cp, i);
            return false;
        }
        i += n + 1;
    }
    return true;
}

bool lg_user_valid(const char *user, size_t len, char *err, size_t err_len)
{
    if (len == 0) {
        set_err(err, err_len, "empty");
        return false;
    }
    if (len > LG_USER_MAX) {
        set_err(err, err_len, "longer than %d bytes", LG_USER_MAX);
        return false;
    }
    return text_valid(user, len, err, err_len);
}

bool lg_src_valid(const char *src, size_t len, char *err, size_t err_len)
{
    if (len == 0) {
        set_err(err, err_len, "empty");
        return false;
    }
    if (len > LG_SRC_MAX) {
        set_err(err, err_len, "longer than %d bytes", LG_SRC_MAX);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) {
            set_err(err, err_len, "byte %zu (0x%02x) is not one of A-Z a-z 0-9 . _ -", i, c);
            return false;
        }
    }
    return true;
}

/* Exactly what glibc inet_pton(AF_INET) accepts - four decimal octets 0..255 without
 * leading zeros, separated by dots - without the copy to a NUL-terminated buffer that
 * inet_pton needs: this runs once per replayed line. test_event.c checks the two agree. */
static bool ipv4_valid(const char *ip, size_t len)
{
    unsigned octets = 0, val = 0, digits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = ip[i];
        if (c >= '0' && c <= '9') {
            if (digits > 0 && val == 0)
                return false; /* leading zero */
            val = val * 10 + (unsigned)(c - '0');
            if (val > 255)
                return false;
            digits++;
        } else if (c == '.' && digits > 0 && octets < 3) {
            octets++;
            val = 0;
            digits = 0;
        } else {
            return false;
        }
    }
    return octets == 3 && digits > 0;
}

bool lg_ip_valid(const char *ip, size_t len, char *err, size_t err_len)
{
    char buf[LG_IP_MAX + 1];
    unsigned char addr[16];

    if (len == 0) {
        set_err(err, err_len, "empty");
        return false;
    }
    if (len > LG_IP_MAX) {
        set_err(err, err_len, "longer than %d bytes", LG_IP_MAX);
        return false;
    }
    bool ok;
    if (memchr(ip, ':', len) == NULL) {
        ok = ipv4_valid(ip, len);
    } else {
        memcpy(buf, ip, len);
        buf[len] = '\0';
        /* an embedded NUL would make inet_pton judge only a prefix */
        ok = strlen(buf) == len && inet_pton(AF_INET6, buf, addr) == 1;
    }
    if (!ok)
        set_err(err, err_len, "not a valid IPv4 or IPv6 address");
    return ok;
}

const char *lg_outcome_name(lg_outcome o)
{
    switch (o) {
    case LG_OUTCOME_OK: return "ok";
    case LG_OUTCOME_FAIL: return "fail";
    case LG_OUTCOME_BLOCKED: return "blocked";
    }
    return "invalid";
}

/* ---- attempt decoding ------------------------------------------------------------- */

static int field_missing(const char *name, char *err, size_t err_len)
{
    set_err(err, err_len, "missing field '%s'", name);
    return LG_EINVAL;
}

static int field_type(const char *name, const char *want, lg_json_type got, char *err,
                      size_t err_len)
{
    set_err(err, err_len, "field '%s': expected %s, got %s", name, want, type_names[got]);
    return LG_EINVAL;
}

static int field_bad(const char *name, const char *why, char *err, size_t err_len)
{
    set_err(err, err_len, "field '%s': %s", name, why);
    return LG_EINVAL;
}

static int check_ts(const char *name, const lg_attempt__field *f, char *err, size_t err_len)
{
    if (f->type != LG_JT_INTEGER)
        return field_type(name, "an integer", f->type, err, err_len);
    if (f->num < 0 || f->num > LG_TS_MAX_MS) {
        set_err(err, err_len, "field '%s': %" PRId64 " out of range 0..%lld", name, f->num,
                LG_TS_MAX_MS);
        return LG_EINVAL;
    }
    return 0;
}

typedef bool (*str_validator)(const char *s, size_t len, char *err, size_t err_len);

/* A string field judged by valid(), whose reason is prefixed with the field name. */
static int check_str(const char *name, const lg_attempt__field *f, str_validator valid,
                     char *err, size_t err_len)
{
    char why[REASON_MAX];
    if (f->type != LG_JT_STRING)
        return field_type(name, "a string", f->type, err, err_len);
    if (!valid(f->str, f->str_len, why, sizeof why))
        return field_bad(name, why, err, err_len);
    return 0;
}

/* A free-text string field (src, reason): at most max bytes of clean UTF-8. */
static int check_text(const char *name, const lg_attempt__field *f, size_t max, char *err,
                      size_t err_len)
{
    if (f->type == LG_JT_STRING && f->str_len > max) {
        set_err(err, err_len, "field '%s': longer than %zu bytes", name, max);
        return LG_EINVAL;
    }
    return check_str(name, f, text_valid, err, err_len);
}

static int check_id(const lg_attempt__field *f, char *err, size_t err_len)
{
    if (f->type != LG_JT_STRING)
        return field_type("id", "a string", f->type, err, err_len);
    if (f->str_len == 0)
        return field_bad("id", "empty", err, err_len);
    if (f->str_len > LG_ID_MAX) {
        set_err(err, err_len, "field 'id': longer than %d bytes", LG_ID_MAX);
        return LG_EINVAL;
    }
    for (size_t i = 0; i < f->str_len; i++) {
        unsigned char c = (unsigned char)f->str[i];
        if (c < 0x20 || c > 0x7e) {
            set_err(err, err_len, "field 'id': byte %zu is not printable ASCII", i);
            return LG_EINVAL;
        }
    }
    return 0;
}

static int check_version(const lg_attempt__field *f, char *err, size_t err_len)
{
    if (f->type != LG_JT_INTEGER)
        return field_type("v", "an integer", f->type, err, err_len);
    if (f->num != 1) {
        set_err(err, err_len, "field 'v': unsupported version %" PRId64 " (expected 1)",
                f->num);
        return LG_EINVAL;
    }
    return 0;
}

static void copy_str(char *dst, const lg_attempt__field *f)
{
    memcpy(dst, f->str, f->str_len);
    dst[f->str_len] = '\0';
}

/* An address field into dst in canonical text (addr.h), so that the engine and the store
 * see one spelling of each address ("2001:DB8::1" from kcat is "2001:db8::1"); "" when
 * absent. IPv4 text that ipv4_valid accepts is its own canonical text. */
static void copy_ip(char *dst, const lg_attempt__field *f)
{
    if (f->type != LG_JT_STRING) {
        dst[0] = '\0';
    } else if (memchr(f->str, ':', f->str_len) == NULL) {
        copy_str(dst, f);
    } else {
        int n = lg_addr_canon(f->str, f->str_len, dst);
        lg_assert(n > 0); /* validated by lg_ip_valid */
    }
}

/* A string field into dst, or "" when absent. */
static void copy_opt(char *dst, const lg_attempt__field *f)
{
    if (f->type == LG_JT_STRING)
        copy_str(dst, f);
    else
        dst[0] = '\0';
}

int lg_attempt__from_fields(const lg_attempt__fields *fields, lg_attempt_mode mode,
                            lg_attempt *out, char *err, size_t err_len)
{
    const lg_attempt__field *f = fields->f;
    bool wire = mode == LG_ATTEMPT_WIRE;
    int rc;

    lg_assert(mode == LG_ATTEMPT_WIRE || mode == LG_ATTEMPT_REPLAY);
    /* Every field is checked before anything is written to *out. Checked in the order
     * of the wire format, so the first bad field is the one reported. */
    if (f[LG_ATTEMPT__F_V].type != LG_JT_ABSENT) {
        if ((rc = check_version(&f[LG_ATTEMPT__F_V], err, err_len)) != 0)
            return rc;
    } else if (wire) {
        return field_missing("v", err, err_len);
    }
    if (f[LG_ATTEMPT__F_ID].type != LG_JT_ABSENT) {
        if ((rc = check_id(&f[LG_ATTEMPT__F_ID], err, err_len)) != 0)
            return rc;
    } else if (wire) {
        return field_missing("id", err, err_len);
    }
    if (f[LG_ATTEMPT__F_TS].type == LG_JT_ABSENT)
        return field_missing("ts", err, err_len);
    if ((rc = check_ts("ts", &f[LG_ATTEMPT__F_TS], err, err_len)) != 0)
        return rc;
    if (f[LG_ATTEMPT__F_USER].type == LG_JT_ABSENT)
        return field_missing("user", err, err_len);
    if ((rc = check_str("user", &f[LG_ATTEMPT__F_USER], lg_user_valid, err, err_len)) != 0)
        return rc;
    if (f[LG_ATTEMPT__F_IP].type != LG_JT_ABSENT) {
        if ((rc = check_str("ip", &f[LG_ATTEMPT__F_IP], lg_ip_valid, err, err_len)) != 0)
            return rc;
    } else if (wire) {
        return field_missing("ip", err, err_len);
    }
    lg_json_type ok = f[LG_ATTEMPT__F_OK].type;
    if (ok == LG_JT_ABSENT)
        return field_missing("ok", err, err_len);
    if (ok != LG_JT_TRUE && ok != LG_JT_FALSE)
        return field_type("ok", "true or false", ok, err, err_len);
    lg_outcome outcome = ok == LG_JT_TRUE ? LG_OUTCOME_OK : LG_OUTCOME_FAIL;
    /* outcomes are decided by whoever judges: an input value only says whether the
     * attempt was refused where it entered ("blocked"); replay ignores any other value,
     * whatever its type, the bus format must be one of the three */
    const lg_attempt__field *oc = &f[LG_ATTEMPT__F_OUTCOME];
    bool refused = oc->type == LG_JT_STRING && oc->str_len == 7 &&
                   memcmp(oc->str, "blocked", 7) == 0;
    if (wire && oc->type != LG_JT_ABSENT) {
        if (oc->type != LG_JT_STRING)
            return field_type("outcome", "a string", oc->type, err, err_len);
        if (oc->str_len == 2 && memcmp(oc->str, "ok", 2) == 0)
            outcome = LG_OUTCOME_OK;
        else if (oc->str_len == 4 && memcmp(oc->str, "fail", 4) == 0)
            outcome = LG_OUTCOME_FAIL;
        else if (refused)
            outcome = LG_OUTCOME_BLOCKED;
        else
            return field_bad("outcome", "expected \"ok\", \"fail\" or \"blocked\"", err,
                             err_len);
    }
    if (f[LG_ATTEMPT__F_SRC].type != LG_JT_ABSENT &&
        (rc = check_text("src", &f[LG_ATTEMPT__F_SRC], LG_SRC_MAX, err, err_len)) != 0)
        return rc;

    copy_opt(out->id, &f[LG_ATTEMPT__F_ID]);
    out->ts_ms = f[LG_ATTEMPT__F_TS].num;
    copy_str(out->user, &f[LG_ATTEMPT__F_USER]);
    out->user_len = (uint32_t)f[LG_ATTEMPT__F_USER].str_len;
    copy_ip(out->ip, &f[LG_ATTEMPT__F_IP]);
    out->ok = ok == LG_JT_TRUE;
    out->outcome = outcome;
    out->refused = refused;
    copy_opt(out->src, &f[LG_ATTEMPT__F_SRC]);
    return 0;
}

/* Maps a jansson value (or NULL = key absent) onto the shared field form. */
static void field_from_json(lg_attempt__field *f, json_t *v)
{
    f->type = LG_JT_ABSENT;
    if (v == NULL)
        return;
    switch (json_typeof(v)) {
    case JSON_STRING:
        f->type = LG_JT_STRING;
        f->str = json_string_value(v);
        f->str_len = json_string_length(v);
        break;
    case JSON_INTEGER:
        f->type = LG_JT_INTEGER;
        f->num = (int64_t)json_integer_value(v);
        break;
    case JSON_REAL: f->type = LG_JT_REAL; break;
    case JSON_TRUE: f->type = LG_JT_TRUE; break;
    case JSON_FALSE: f->type = LG_JT_FALSE; break;
    case JSON_NULL: f->type = LG_JT_NULL; break;
    case JSON_OBJECT: f->type = LG_JT_OBJECT; break;
    case JSON_ARRAY: f->type = LG_JT_ARRAY; break;
    }
}

/* Parses json strictly into an object, or writes "invalid JSON at byte N: ..." where N is
 * jansson's position: the bytes read when it gave up, so the offending byte counted from
 * 1 (or the length, at end of input). Input bytes quoted in jansson's text are made
 * printable, since the message reaches logs. */
static json_t *load_object(const char *json, size_t len, char *err, size_t err_len)
{
    json_error_t jerr;
    /* JSON_ALLOW_NUL: a \u0000 is reported by the field validators, naming the field */
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (root == NULL) {
        for (char *c = jerr.text; *c != '\0'; c++) {
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                *c = '?';
        }
        set_err(err, err_len, "invalid JSON at byte %d: %s", jerr.position, jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        set_err(err, err_len, "expected a JSON object, got %s",
                json_is_array(root) ? "an array" : "a scalar");
        json_decref(root);
        return NULL;
    }
    return root;
}

int lg_attempt__decode_jansson(const char *json, size_t len, lg_attempt_mode mode,
                               lg_attempt *out, char *err, size_t err_len)
{
    lg_attempt__fields fields;
    json_t *root = load_object(json, len, err, err_len);
    if (root == NULL)
        return LG_EINVAL;
    for (int i = 0; i < LG_ATTEMPT__F_COUNT; i++)
        field_from_json(&fields.f[i], json_object_get(root, lg_attempt__field_names[i]));
    int rc = lg_attempt__from_fields(&fields, mode, out, err, err_len);
    json_decref(root);
    return rc;
}

int lg_attempt_decode(const char *json, size_t len, lg_attempt_mode mode, lg_attempt *out,
                      char *err, size_t err_len)
{
    lg_assert(json != NULL || len == 0);
    lg_assert(out != NULL);
    if (len > LG_EVENT_JSON_MAX) {
        set_err(err, err_len, "event of %zu bytes is longer than %d bytes", len,
                LG_EVENT_JSON_MAX);
        return LG_ETOOBIG;
    }
    int rc = lg_attempt__decode_fast(json, len, mode, out, err, err_len);
    if (rc != LG_ATTEMPT__FALLBACK)
        return rc;
    return lg_attempt__decode_jansson(json, len, mode, out, err, err_len);
}

/* ---- encoding --------------------------------------------------------------------- */

/* A bounded writer: every put checks room; overflow is sticky and reported at the end. */
typedef struct out_buf {
    char *p, *end; /* end leaves room for the NUL */
    bool overflow;
} out_buf;

static void put_raw(out_buf *w, const char *s, size_t n)
{
    if ((size_t)(w->end - w->p) < n) {
        w->overflow = true;
        return;
    }
    memcpy(w->p, s, n);
    w->p += n;
}

#define PUT_LIT(w, lit) put_raw((w), (lit), sizeof(lit) - 1)

static void put_i64(out_buf *w, int64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        tmp[--i] = '-';
    put_raw(w, tmp + i, sizeof tmp - i);
}

/* A JSON string: quote and backslash escaped, bytes below 0x20 as \u00XX, the rest
 * (valid UTF-8 by the validators) copied as is, in runs. */
static void put_str(out_buf *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    PUT_LIT(w, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put_raw(w, s + run, i - run);
        run = i + 1;
        if (c == '"') {
            PUT_LIT(w, "\\\"");
        } else if (c == '\\') {
            PUT_LIT(w, "\\\\");
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put_raw(w, esc, sizeof esc);
        }
    }
    put_raw(w, s + run, n - run);
    PUT_LIT(w, "\"");
}

static void put_cstr(out_buf *w, const char *s, size_t max)
{
    put_str(w, s, strnlen(s, max));
}

static int out_finish(out_buf *w, char *buf)
{
    if (w->overflow)
        return LG_ETOOBIG;
    *w->p = '\0';
    return (int)(w->p - buf);
}

int lg_attempt_encode(const lg_attempt *a, char *buf, size_t buf_len)
{
    lg_assert(a != NULL);
    lg_assert(a->user_len <= LG_USER_MAX);
    lg_assert(a->user[a->user_len] == '\0');
    lg_assert(a->outcome == LG_OUTCOME_OK || a->outcome == LG_OUTCOME_FAIL ||
              a->outcome == LG_OUTCOME_BLOCKED);
    if (buf_len == 0)
        return LG_ETOOBIG;
    out_buf w = {buf, buf + buf_len - 1, false};

    PUT_LIT(&w, "{\"v\":1");
    /* id and ip may be absent in replay input; the field is omitted, not sent empty */
    if (a->id[0] != '\0') {
        PUT_LIT(&w, ",\"id\":");
        put_cstr(&w, a->id, LG_ID_MAX);
    }
    PUT_LIT(&w, ",\"ts\":");
    put_i64(&w, a->ts_ms);
    PUT_LIT(&w, ",\"user\":");
    put_str(&w, a->user, a->user_len);
    if (a->ip[0] != '\0') {
        PUT_LIT(&w, ",\"ip\":");
        put_cstr(&w, a->ip, LG_IP_MAX);
    }
    if (a->ok)
        PUT_LIT(&w, ",\"ok\":true,\"outcome\":\"");
    else
        PUT_LIT(&w, ",\"ok\":false,\"outcome\":\"");
    const char *oc = lg_outcome_name(a->outcome);
    put_raw(&w, oc, strlen(oc));
    PUT_LIT(&w, "\"");
    if (a->src[0] != '\0') {
        PUT_LIT(&w, ",\"src\":");
        put_cstr(&w, a->src, LG_SRC_MAX);
    }
    PUT_LIT(&w, "}");
    return out_finish(&w, buf);
}

int lg_block_encode(const lg_block *b, char *buf, size_t buf_len)
{
    lg_assert(b != NULL);
    lg_assert(b->user[0] != '\0' || b->ip[0] != '\0');
    if (buf_len == 0)
        return LG_ETOOBIG;
    out_buf w = {buf, buf + buf_len - 1, false};

    PUT_LIT(&w, "{\"v\":1");
    if (b->user[0] != '\0') {
        PUT_LIT(&w, ",\"user\":");
        put_cstr(&w, b->user, LG_USER_MAX);
    }
    if (b->ip[0] != '\0') {
        PUT_LIT(&w, ",\"ip\":");
        put_cstr(&w, b->ip, LG_IP_MAX);
    }
    PUT_LIT(&w, ",\"since\":");
    put_i64(&w, b->since_ms);
    PUT_LIT(&w, ",\"until\":");
    put_i64(&w, b->until_ms);
    PUT_LIT(&w, ",\"level\":");
    put_i64(&w, b->level);
    PUT_LIT(&w, ",\"reason\":");
    put_cstr(&w, b->reason, LG_REASON_MAX);
    PUT_LIT(&w, ",\"rule\":");
    put_cstr(&w, b->rule, LG_RULE_NAME_MAX);
    PUT_LIT(&w, "}");
    return out_finish(&w, buf);
}

/* ---- blocks ----------------------------------------------------------------------- */

enum { B_V, B_RULE, B_USER, B_IP, B_SINCE, B_UNTIL, B_LEVEL, B_REASON, B_COUNT };
static const char *const block_names[B_COUNT] = {
    "v", "rule", "user", "ip", "since", "until", "level", "reason",
};

static int check_rule(const lg_attempt__field *f, char *err, size_t err_len)
{
    if (f->type != LG_JT_STRING)
        return field_type("rule", "a string", f->type, err, err_len);
    if (f->str_len == 0 || f->str_len > LG_RULE_NAME_MAX) {
        set_err(err, err_len, "field 'rule': expected 1..%d bytes", LG_RULE_NAME_MAX);
        return LG_EINVAL;
    }
    for (size_t i = 0; i < f->str_len; i++) {
        char c = f->str[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return field_bad("rule", "expected only a-z, 0-9 and '_'", err, err_len);
    }
    return 0;
}

/* Which of user and ip must a block of this rule carry? The three built-in rules are
 * exact; a rule of another name needs at least one of them. */
static int block_check_keys(const lg_attempt__field *f, char *err, size_t err_len)
{
    const lg_attempt__field *rule = &f[B_RULE];
    bool is_user = rule->str_len == 4 && memcmp(rule->str, "user", 4) == 0;
    bool is_ip = rule->str_len == 2 && memcmp(rule->str, "ip", 2) == 0;
    bool is_user_ip = rule->str_len == 7 && memcmp(rule->str, "user_ip", 7) == 0;
    bool has_user = f[B_USER].type != LG_JT_ABSENT, has_ip = f[B_IP].type != LG_JT_ABSENT;
    int rc;

    if ((is_user || is_user_ip) && !has_user)
        return field_missing("user", err, err_len);
    if ((is_ip || is_user_ip) && !has_ip)
        return field_missing("ip", err, err_len);
    if (!has_user && !has_ip) {
        set_err(err, err_len, "missing field 'user' or 'ip'");
        return LG_EINVAL;
    }
    if (has_user && (rc = check_str("user", &f[B_USER], lg_user_valid, err, err_len)) != 0)
        return rc;
    /* an IP-keyed rule's key: an address, or an IPv6 network ("2001:db8::/64") */
    if (has_ip && (rc = check_str("ip", &f[B_IP], lg_addr_net_valid, err, err_len)) != 0)
        return rc;
    return 0;
}

static int block_from_fields(const lg_attempt__field *f, lg_block *out, char *err,
                             size_t err_len)
{
    lg_block b;
    int rc;

    memset(&b, 0, sizeof b);
    for (int i = B_V; i <= B_LEVEL; i++) {
        if (i != B_USER && i != B_IP && f[i].type == LG_JT_ABSENT)
            return field_missing(block_names[i], err, err_len);
    }
    if ((rc = check_version(&f[B_V], err, err_len)) != 0)
        return rc;
    if ((rc = check_rule(&f[B_RULE], err, err_len)) != 0)
        return rc;
    if ((rc = block_check_keys(f, err, err_len)) != 0)
        return rc;
    if ((rc = check_ts("since", &f[B_SINCE], err, err_len)) != 0)
        return rc;
    if ((rc = check_ts("until", &f[B_UNTIL], err, err_len)) != 0)
        return rc;
    if (f[B_UNTIL].num != 0 && f[B_UNTIL].num <= f[B_SINCE].num)
        return field_bad("until", "expected 0 (permanent) or a time after 'since'", err,
                         err_len);
    if (f[B_LEVEL].type != LG_JT_INTEGER)
        return field_type("level", "an integer", f[B_LEVEL].type, err, err_len);
    if (f[B_LEVEL].num < 1 || f[B_LEVEL].num > UINT32_MAX)
        return field_bad("level", "out of range 1..4294967295", err, err_len);
    if (f[B_REASON].type != LG_JT_ABSENT) {
        if ((rc = check_text("reason", &f[B_REASON], LG_REASON_MAX, err, err_len)) != 0)
            return rc;
        copy_str(b.reason, &f[B_REASON]);
    }
    copy_str(b.rule, &f[B_RULE]);
    if (f[B_USER].type != LG_JT_ABSENT)
        copy_str(b.user, &f[B_USER]);
    if (f[B_IP].type != LG_JT_ABSENT &&
        lg_addr_net(f[B_IP].str, f[B_IP].str_len, 128, b.ip) < 0) /* canonical text */
        lg_assert(!"lg_addr_net refused what lg_addr_net_valid accepted");
    b.since_ms = f[B_SINCE].num;
    b.until_ms = f[B_UNTIL].num;
    b.level = (uint32_t)f[B_LEVEL].num;
    *out = b;
    return 0;
}

int lg_block_decode(const char *json, size_t len, lg_block *out, char *err, size_t err_len)
{
    lg_attempt__field f[B_COUNT];

    lg_assert(json != NULL || len == 0);
    lg_assert(out != NULL);
    if (len > LG_EVENT_JSON_MAX) {
        set_err(err, err_len, "event of %zu bytes is longer than %d bytes", len,
                LG_EVENT_JSON_MAX);
        return LG_ETOOBIG;
    }
    json_t *root = load_object(json, len, err, err_len);
    if (root == NULL)
        return LG_EINVAL;
    for (int i = 0; i < B_COUNT; i++)
        field_from_json(&f[i], json_object_get(root, block_names[i]));
    int rc = block_from_fields(f, out, err, err_len);
    json_decref(root);
    return rc;
}

int lg_block_key(const lg_block *b, char *buf, size_t buf_len)
{
    lg_assert(b != NULL);
    lg_assert(buf != NULL);
    int n;
    bool has_user = b->user[0] != '\0', has_ip = b->ip[0] != '\0';

    /* "<rule>:" first for every rule, rule user included: a rule name holds no ':', so
     * the prefix alone says whose key it is, whatever bytes the user name has */
    if (strcmp(b->rule, "user") == 0) {
        if (!has_user)
            return LG_EINVAL;
        n = snprintf(buf, buf_len, "user:%s", b->user);
    } else if (strcmp(b->rule, "ip") == 0) {
        if (!has_ip)
            return LG_EINVAL;
        n = snprintf(buf, buf_len, "ip:%s", b->ip);
    } else if (strcmp(b->rule, "user_ip") == 0) {
        if (!has_user || !has_ip)
            return LG_EINVAL;
        n = snprintf(buf, buf_len, "user_ip:%s|%s", b->user, b->ip);
    } else {
        if (!has_user && !has_ip)
            return LG_EINVAL;
        n = snprintf(buf, buf_len, "%s:%s%s%s", b->rule, b->user,
                     has_user && has_ip ? "|" : "", b->ip);
    }
    if (n < 0 || (size_t)n >= buf_len)
        return LG_ETOOBIG;
    return n;
}

/* The rules whose keys lg.blocks has carried with a "<rule>:" prefix (rule user's only
 * since keys got namespaces; ip and user_ip's always). */
static bool known_prefix(const char *key, size_t len)
{
    static const char *const rules[] = {"user", "ip", "user_ip"};

    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        size_t rl = strlen(rules[i]);
        if (len > rl && memcmp(key, rules[i], rl) == 0 && key[rl] == ':')
            return true;
    }
    return false;
}

int lg_block_key_upgrade(const char *key, size_t len, char *buf, size_t buf_len)
{
    static const char user_pfx[] = "user:";
    size_t pfx = 0;

    lg_assert(key != NULL || len == 0);
    lg_assert(buf != NULL);
    if (len == 0)
        return LG_EINVAL;
    /* A key without a known "<rule>:" prefix was written before keys had namespaces: the
     * bare user of rule user. The one case this cannot tell apart is a legacy key of a
     * user literally named "user:...", "ip:..." or "user_ip:...": it reads as that
     * rule's namespaced key. Under the old format such a user already shared the key
     * of that rule's block, so the old topic could not tell them apart either. */
    if (!known_prefix(key, len)) {
        if (len > LG_USER_MAX)
            return LG_EINVAL;
        pfx = sizeof user_pfx - 1;
    }
    if (pfx + len >= buf_len)
        return LG_ETOOBIG;
    memmove(buf + pfx, key, len); /* first: key may be buf */
    memcpy(buf, user_pfx, pfx);
    buf[pfx + len] = '\0';
    return (int)(pfx + len);
}
