/*
 * config.c - loads, sets and prints lg_config by walking the one table of
 * config_table.c: defaults, then an INI file (libinih), then the environment, then
 * command-line overrides, each value checked against its entry's type and range.
 * Printing (INI and Markdown) is in config_print.c.
 *
 * libinih is told to stop at the first error, take values verbatim (no inline `;`
 * comments, no multi-line values) so that what `loginguard config` prints loads back
 * unchanged. Its line buffer is fixed at build time (200 bytes in Debian's libinih), so
 * our reader refuses longer lines instead of letting inih split them silently.
 */
#include "core/config.h"

#include <errno.h>
/* Debian's libinih is built with INI_HANDLER_LINENO=1: the handler gets the line number
 * (tests/unit/test_config.c checks FILE:LINE in messages, so a mismatch cannot pass). */
#define INI_HANDLER_LINENO 1
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config_table.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"

/* bounds the duplicate-key table of one load; config_table.c has ~30 entries */
#define LG_CONF_ENTRIES_MAX 64
/* bytes of a rejected value echoed in an error message */
#define LG_CONF_ECHO_MAX 48

typedef struct lg_conf_target {
    const lg_conf_entry *e;
    int rule;             /* index in cfg->engine.rules, or -1 */
    const char *section;  /* the section as the user wrote it, for messages */
} lg_conf_target;

typedef struct lg_conf_load {
    lg_config work;
    FILE *fp;
    const char *path;
    int lineno;           /* lines read so far by reader() */
    int rc;               /* first error, already described in err */
    char *err;
    size_t err_len;
    int seen[LG_CONF_ENTRIES_MAX][LG_RULES_MAX]; /* line a key was set on, 0 = unset */
} lg_conf_load;

/* --- table access ---------------------------------------------------------------- */

static void num_set(const lg_conf_entry *e, void *field, int64_t v)
{
    lg_assert(v >= e->min);
    lg_assert(v <= e->max);
    switch (e->type) {
    case LG_CONF_U32: *(uint32_t *)field = (uint32_t)v; return;
    case LG_CONF_I32: *(int32_t *)field = (int32_t)v; return;
    case LG_CONF_I16: *(int16_t *)field = (int16_t)v; return;
    case LG_CONF_I64: *(int64_t *)field = v; return;
    case LG_CONF_BOOL: *(bool *)field = v != 0; return;
    case LG_CONF_ENUM: *(int *)field = (int)v; return;
    case LG_CONF_STR: break;
    }
    lg_assert(!"num_set on a string entry");
}

/* A table entry whose range does not fit its C type is a programmer error. */
static void entry_assert(const lg_conf_entry *e)
{
    lg_assert(e->min <= e->max);
    switch (e->type) {
    case LG_CONF_U32: lg_assert(e->min >= 0 && e->max <= UINT32_MAX); break;
    case LG_CONF_I32: lg_assert(e->min >= INT32_MIN && e->max <= INT32_MAX); break;
    case LG_CONF_I16: lg_assert(e->min >= INT16_MIN && e->max <= INT16_MAX); break;
    case LG_CONF_BOOL: lg_assert(e->min == 0 && e->max == 1); break;
    case LG_CONF_STR: lg_assert(e->size > 0 && e->max < (int64_t)e->size); break;
    case LG_CONF_ENUM: lg_assert(e->names != NULL && e->names[e->max] != NULL); break;
    case LG_CONF_I64: break;
    }
}

static const lg_conf_entry *entry_find(const char *section, const char *name, size_t *idx)
{
    for (size_t i = 0; i < lg_conf__table_len; i++) {
        const lg_conf_entry *e = &lg_conf__table[i];
        if (strcmp(e->section, section) == 0 && strcmp(e->name, name) == 0) {
            if (idx != NULL)
                *idx = i;
            return e;
        }
    }
    return NULL;
}

lg_rule_conf *lg_config_rule(lg_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->engine.n_rules; i++) {
        if (strcmp(cfg->engine.rules[i].name, name) == 0)
            return &cfg->engine.rules[i];
    }
    return NULL;
}

/* --- values ---------------------------------------------------------------------- */

/* Integer with an optional unit for milliseconds. false when not a number. */
static bool parse_int(const char *v, bool ms, int64_t *out)
{
    static const struct { const char *unit; int64_t mult; } units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
    };
    char *end;
    long long x;

    errno = 0;
    x = strtoll(v, &end, 10);
    if (end == v || errno == ERANGE)
        return false;
    if (*end == '\0') {
        *out = x;
        return true;
    }
    if (!ms)
        return false;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) != 0)
            continue;
        if (x > INT64_MAX / units[i].mult || x < INT64_MIN / units[i].mult)
            return false;
        *out = x * units[i].mult;
        return true;
    }
    return false;
}

int lg_config_ms_parse(const char *text, int64_t *out_ms)
{
    int64_t x;

    if (!parse_int(text, true, &x))
        return LG_EINVAL;
    *out_ms = x;
    return 0;
}

static bool parse_bool(const char *v, int64_t *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return true;
        }
    }
    return false;
}

static void enum_list(const lg_conf_entry *e, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; e->names[i] != NULL && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", e->names[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* Parses value for e and stores it in field; field is untouched on failure and why
 * says what is wrong (without the key: the caller names it). */
static int value_parse(const lg_conf_entry *e, const char *value, void *field, char *why,
                       size_t why_len)
{
    int64_t x = 0;

    switch (e->type) {
    case LG_CONF_BOOL:
        if (!parse_bool(value, &x)) {
            snprintf(why, why_len, "must be true or false");
            return LG_EINVAL;
        }
        break;
    case LG_CONF_ENUM: {
        bool found = false;
        for (int64_t i = 0; i <= e->max && !found; i++) {
            if (strcasecmp(value, e->names[i]) == 0) {
                x = i;
                found = true;
            }
        }
        if (!found) {
            char list[128];
            enum_list(e, list, sizeof list);
            snprintf(why, why_len, "must be one of %s", list);
            return LG_EINVAL;
        }
        break;
    }
    case LG_CONF_STR: {
        size_t len = strlen(value);
        if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
            value++; /* one pair of quotes keeps leading or trailing spaces */
            len -= 2;
        }
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)value[i];
            if (c < 0x20 || c == 0x7f) {
                snprintf(why, why_len, "contains a control character");
                return LG_EINVAL;
            }
        }
        if ((e->flags & LG_CONF_SECRET) && len == strlen(LG_CONF_REDACTED) &&
            memcmp(value, LG_CONF_REDACTED, len) == 0) {
            snprintf(why, why_len, "'%s' is what `loginguard config` prints in place of the "
                     "secret; set the real one (or LG_JWT_SECRET)", LG_CONF_REDACTED);
            return LG_EINVAL;
        }
        if (len == 0 && (e->flags & LG_CONF_EMPTY_OK)) {
            ((char *)field)[0] = '\0';
            return 0;
        }
        if ((int64_t)len > e->max) {
            snprintf(why, why_len, "longer than %lld bytes", (long long)e->max);
            return LG_EINVAL;
        }
        if ((int64_t)len < e->min) {
            if (e->min == 1)
                snprintf(why, why_len, "must not be empty");
            else
                snprintf(why, why_len, "shorter than %lld bytes%s", (long long)e->min,
                         (e->flags & LG_CONF_EMPTY_OK) ? " (or empty)" : "");
            return LG_EINVAL;
        }
        char tmp[LG_URL_MAX + 1];
        lg_assert(len < sizeof tmp);
        memcpy(tmp, value, len);
        tmp[len] = '\0';
        if (e->check != NULL && !e->check(tmp, why, why_len))
            return LG_EINVAL;
        memcpy(field, tmp, len + 1);
        return 0;
    }
    case LG_CONF_U32:
    case LG_CONF_I32:
    case LG_CONF_I16:
    case LG_CONF_I64:
        if (!parse_int(value, (e->flags & LG_CONF_MS) != 0, &x) || x < e->min || x > e->max) {
            snprintf(why, why_len, "must be %lld..%lld", (long long)e->min, (long long)e->max);
            return LG_EINVAL;
        }
        break;
    }
    num_set(e, field, x);
    return 0;
}

/* A rejected value made safe to echo: secrets hidden, control bytes replaced, cut. */
static void value_echo(const lg_conf_entry *e, const char *value, char *buf, size_t len)
{
    size_t i = 0;

    if (e != NULL && (e->flags & LG_CONF_SECRET)) {
        snprintf(buf, len, "%s", LG_CONF_REDACTED);
        return;
    }
    for (; value[i] != '\0' && i < LG_CONF_ECHO_MAX && i + 4 < len; i++) {
        unsigned char c = (unsigned char)value[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (value[i] != '\0' && i + 4 <= len) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
}

/* --- sections and keys ------------------------------------------------------------ */

static void sections_list(const lg_config *cfg, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; lg_conf__sections[i] != NULL && used < len; i++) {
        int n;
        if (strcmp(lg_conf__sections[i], "rule") != 0) {
            n = snprintf(buf + used, len - used, ", [%s]", lg_conf__sections[i]);
        } else {
            n = snprintf(buf + used, len - used, "[rule ");
            for (size_t r = 0; r < cfg->engine.n_rules && n >= 0 && used + (size_t)n < len; r++)
                n += snprintf(buf + used + n, len - used - (size_t)n, "%s%s", r ? "|" : "",
                              cfg->engine.rules[r].name);
            if (n >= 0 && used + (size_t)n < len)
                n += snprintf(buf + used + n, len - used - (size_t)n, "]");
        }
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* Maps a section as written ("bus", " rule user ") to a table section and rule index.
 * On failure writes the complete message (with where) into err. */
static int section_resolve(const lg_config *cfg, const char *written, const char *where,
                           const char **section, int *rule, char *err, size_t err_len)
{
    char name[64];
    size_t len;
    char list[256];

    while (*written == ' ' || *written == '\t')
        written++;
    len = strlen(written);
    while (len > 0 && (written[len - 1] == ' ' || written[len - 1] == '\t'))
        len--;
    if (len >= sizeof name)
        len = sizeof name - 1;
    memcpy(name, written, len);
    name[len] = '\0';

    if (strncmp(name, "rule", 4) == 0 && (name[4] == ' ' || name[4] == '\t')) {
        const char *r = name + 5;
        while (*r == ' ' || *r == '\t')
            r++;
        for (size_t i = 0; i < cfg->engine.n_rules; i++) {
            if (strcmp(cfg->engine.rules[i].name, r) == 0) {
                *section = "rule";
                *rule = (int)i;
                return 0;
            }
        }
        sections_list(cfg, list, sizeof list);
        snprintf(err, err_len, "unknown rule '%s' (%s): expected %s", r, where, list);
        return LG_EINVAL;
    }
    for (size_t i = 0; lg_conf__sections[i] != NULL; i++) {
        if (strcmp(lg_conf__sections[i], "rule") != 0 &&
            strcmp(lg_conf__sections[i], name) == 0) {
            *section = lg_conf__sections[i];
            *rule = -1;
            return 0;
        }
    }
    sections_list(cfg, list, sizeof list);
    snprintf(err, err_len, "unknown section [%s] (%s): expected %s", name, where, list);
    return LG_EINVAL;
}

/* Sets section/name to value in cfg; on failure err gets the full message:
 * "invalid window_ms '0' for rule 'user' (loginguard.conf:14): must be 1..86400000". */
static int key_set(lg_config *cfg, const char *section, int rule, const char *name,
                   const char *value, const char *where, size_t *entry_idx, char *err,
                   size_t err_len)
{
    const lg_conf_entry *e = entry_find(section, name, entry_idx);
    char why[256];
    char echo[LG_CONF_ECHO_MAX + 8];
    char scope[LG_RULE_NAME_MAX + 32];

    if (rule >= 0)
        snprintf(scope, sizeof scope, "for rule '%s'", cfg->engine.rules[rule].name);
    else
        snprintf(scope, sizeof scope, "in [%s]", section);
    if (e == NULL) {
        value_echo(NULL, name, echo, sizeof echo);
        snprintf(err, err_len, "unknown key '%s' %s (%s)", echo, scope, where);
        return LG_EINVAL;
    }
    if (value_parse(e, value, lg_conf__field(cfg, e, rule), why, sizeof why) != 0) {
        value_echo(e, value, echo, sizeof echo);
        snprintf(err, err_len, "invalid %s '%s' %s (%s): %s", name, echo, scope, where, why);
        return LG_EINVAL;
    }
    return 0;
}

/* --- loading ---------------------------------------------------------------------- */

/* fgets for inih that counts lines, refuses lines inih would split, and checks section
 * headers here so that an empty unknown section is an error too. */
static char *load_reader(char *str, int num, void *stream)
{
    lg_conf_load *ld = stream;
    char where[512];
    const char *p;

    if (ld->rc != 0 || fgets(str, num, ld->fp) == NULL)
        return NULL;
    ld->lineno++;
    snprintf(where, sizeof where, "%s:%d", ld->path, ld->lineno);
    if (strchr(str, '\n') == NULL) {
        int c = getc(ld->fp);
        if (c != EOF && c != '\n') {
            snprintf(ld->err, ld->err_len, "line longer than %d bytes (%s)", num - 1, where);
            ld->rc = LG_ETOOBIG;
            return NULL;
        }
    }
    p = str;
    if (ld->lineno == 1 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '[') {
        const char *end = strchr(p, ']');
        char name[64];
        const char *section;
        int rule;
        size_t len;

        if (end == NULL)
            return str; /* inih reports the syntax error */
        len = (size_t)(end - p - 1);
        if (len >= sizeof name)
            len = sizeof name - 1;
        memcpy(name, p + 1, len);
        name[len] = '\0';
        if (section_resolve(&ld->work, name, where, &section, &rule, ld->err, ld->err_len)) {
            ld->rc = LG_EINVAL;
            return NULL;
        }
    }
    return str;
}

static int load_handler(void *user, const char *section_written, const char *name,
                        const char *value, int lineno)
{
    lg_conf_load *ld = user;
    char where[512];
    const char *section;
    int rule;
    size_t idx = 0;

    snprintf(where, sizeof where, "%s:%d", ld->path, lineno);
    if (section_written[0] == '\0') {
        snprintf(ld->err, ld->err_len, "key '%s' outside any section (%s)", name, where);
        ld->rc = LG_EINVAL;
        return 0;
    }
    ld->rc = section_resolve(&ld->work, section_written, where, &section, &rule, ld->err,
                             ld->err_len);
    if (ld->rc != 0)
        return 0;
    ld->rc = key_set(&ld->work, section, rule, name, value, where, &idx, ld->err, ld->err_len);
    if (ld->rc != 0)
        return 0;
    lg_assert(idx < LG_CONF_ENTRIES_MAX);
    int slot = rule < 0 ? 0 : rule;
    if (ld->seen[idx][slot] != 0) {
        snprintf(ld->err, ld->err_len, "duplicate key '%s' in [%s] (%s): first set on line %d",
                 name, section_written, where, ld->seen[idx][slot]);
        ld->rc = LG_EINVAL;
        return 0;
    }
    ld->seen[idx][slot] = lineno;
    return 1;
}

void lg_config_default(lg_config *cfg)
{
    lg_assert(cfg != NULL);
    lg_assert(lg_conf__table_len <= LG_CONF_ENTRIES_MAX);
    memset(cfg, 0, sizeof *cfg);
    lg_engine_conf_default(&cfg->engine);
    lg_bus_conf_default(&cfg->bus);
    for (size_t i = 0; i < lg_conf__table_len; i++) {
        const lg_conf_entry *e = &lg_conf__table[i];
        entry_assert(e);
        if (e->flags & LG_CONF_DEF_EXT)
            continue;
        lg_assert(!lg_conf__is_rule(e));
        if (e->type == LG_CONF_STR) {
            lg_assert(e->def_str != NULL && strlen(e->def_str) < e->size);
            memcpy(lg_conf__field(cfg, e, -1), e->def_str, strlen(e->def_str) + 1);
        } else {
            num_set(e, lg_conf__field(cfg, e, -1), e->def_num);
        }
    }
}

int lg_config_load_file(lg_config *cfg, const char *path, char *err, size_t err_len)
{
    lg_conf_load *ld;
    int rc;

    lg_assert(cfg != NULL);
    if (path == NULL)
        return 0;
    ld = calloc(1, sizeof *ld);
    if (ld == NULL) {
        snprintf(err, err_len, "loading config '%s': out of memory", path);
        return LG_ENOMEM;
    }
    ld->fp = fopen(path, "r");
    if (ld->fp == NULL) {
        snprintf(err, err_len, "cannot open config '%s': %s", path, strerror(errno));
        rc = LG_EIO;
        goto fail_free;
    }
    ld->work = *cfg;
    ld->path = path;
    ld->err = err;
    ld->err_len = err_len;
    /* process-wide libinih switches (Debian builds them as variables); the same for
     * every load, so setting them again is harmless */
    ini_stop_on_first_error = true;
    ini_allow_multiline = false;
    ini_allow_inline_comments = false;
    rc = ini_parse_stream(load_reader, ld, load_handler, ld);
    if (ld->rc != 0) {
        rc = ld->rc;
    } else if (ferror(ld->fp)) {
        snprintf(err, err_len, "cannot read config '%s': %s", path, strerror(errno));
        rc = LG_EIO;
    } else if (rc > 0) {
        snprintf(err, err_len, "syntax error (%s:%d): expected [section], name = value or a "
                 "comment (# or ;)", path, rc);
        rc = LG_EINVAL;
    } else if (rc < 0) {
        snprintf(err, err_len, "cannot parse config '%s': out of memory", path);
        rc = LG_ENOMEM;
    } else {
        *cfg = ld->work;
    }
    fclose(ld->fp);
fail_free:
    free(ld);
    return rc;
}

/* Sets "section.name" or "rule.NAME.name"; where names the source in messages. */
static int dotted_set(lg_config *cfg, const char *dotted_key, const char *value,
                      const char *where, char *err, size_t err_len)
{
    char section[64 + LG_RULE_NAME_MAX];
    const char *dot = strchr(dotted_key, '.');
    const char *table_section;
    int rule;
    size_t len;

    if (dot != NULL && strncmp(dotted_key, "rule.", 5) == 0)
        dot = strchr(dotted_key + 5, '.');
    if (dot == NULL) {
        snprintf(err, err_len, "invalid key '%.64s' (%s): expected section.name or "
                 "rule.NAME.name", dotted_key, where);
        return LG_EINVAL;
    }
    len = (size_t)(dot - dotted_key);
    if (len >= sizeof section) {
        snprintf(err, err_len, "unknown section in key '%.64s' (%s)", dotted_key, where);
        return LG_EINVAL;
    }
    memcpy(section, dotted_key, len);
    section[len] = '\0';
    if (strncmp(section, "rule.", 5) == 0)
        section[4] = ' '; /* "rule.user" is written [rule user] in a file */
    if (section_resolve(cfg, section, where, &table_section, &rule, err, err_len))
        return LG_EINVAL;
    return key_set(cfg, table_section, rule, dot + 1, value, where, NULL, err, err_len);
}

int lg_config_set(lg_config *cfg, const char *dotted_key, const char *value, char *err,
                  size_t err_len)
{
    lg_assert(cfg != NULL);
    lg_assert(dotted_key != NULL && value != NULL);
    return dotted_set(cfg, dotted_key, value, "command line", err, err_len);
}

int lg_config_set_kv(lg_config *cfg, const char *key_eq_value, char *err, size_t err_len)
{
    const char *eq = strchr(key_eq_value, '=');
    char key[128];
    size_t len = eq != NULL ? (size_t)(eq - key_eq_value) : 0;

    if (eq == NULL || len >= sizeof key) {
        snprintf(err, err_len, "invalid override '%.64s' (command line): expected KEY=VALUE",
                 key_eq_value);
        return LG_EINVAL;
    }
    memcpy(key, key_eq_value, len);
    key[len] = '\0';
    return lg_config_set(cfg, key, eq + 1, err, err_len);
}

/* Applies one variable of lg_conf__env when it is set. */
static int env_set(lg_config *cfg, const lg_conf_env *env, char *err, size_t err_len)
{
    const char *v = getenv(env->var);
    char where[64];

    if (v == NULL)
        return 0;
    snprintf(where, sizeof where, "environment %s", env->var);
    return dotted_set(cfg, env->key, v, where, err, err_len);
}

int lg_config_env_apply(lg_config *cfg, char *err, size_t err_len)
{
    lg_config work = *cfg;

    for (size_t i = 0; lg_conf__env[i].var != NULL; i++) {
        if (env_set(&work, &lg_conf__env[i], err, err_len) != 0)
            return LG_EINVAL;
    }
    *cfg = work;
    return 0;
}

void lg_config_load_env(lg_config *cfg)
{
    /* one variable at a time, so that one bad variable does not discard the others */
    for (size_t i = 0; lg_conf__env[i].var != NULL; i++) {
        char err[512];
        if (env_set(cfg, &lg_conf__env[i], err, sizeof err) != 0)
            lg_log(LG_ERROR, "config", "%s", err);
    }
}

int lg_config_load(lg_config *cfg, const char *path, char *err, size_t err_len)
{
    lg_config work;
    int rc;

    lg_config_default(&work);
    *cfg = work;
    rc = lg_config_load_file(&work, path, err, err_len);
    if (rc == 0)
        rc = lg_config_env_apply(&work, err, err_len);
    if (rc == 0)
        *cfg = work;
    return rc;
}
