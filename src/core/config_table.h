/*
 * config_table.h - the one table behind lg_config (for config.c and config_table.c only).
 *
 * Each entry names a key (section, name), where it lives in lg_config (or, for section
 * "rule", in each lg_rule_conf of [rule NAME]), its type, its default, its inclusive
 * range and a one-line doc. The loader, the printer and docs/CONFIG.md all walk it, so
 * a key added here is parsed, validated, printed and documented at once.
 */
#ifndef LG_CONFIG_TABLE_H
#define LG_CONFIG_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    LG_CONF_U32 = 0, /* uint32_t */
    LG_CONF_I32,     /* int32_t */
    LG_CONF_I16,     /* int16_t */
    LG_CONF_I64,     /* int64_t */
    LG_CONF_BOOL,    /* bool: true|false|yes|no|on|off|1|0 */
    LG_CONF_STR,     /* char[size], NUL-terminated; min..max is its length in bytes */
    LG_CONF_ENUM,    /* an int-sized enum whose value indexes names[] */
} lg_conf_type;

enum {
    LG_CONF_MS = 1 << 0,       /* milliseconds: also accepts 500ms, 60s, 15m, 2h, 1d */
    LG_CONF_SECRET = 1 << 1,   /* never printed nor echoed in an error */
    LG_CONF_EMPTY_OK = 1 << 2, /* STR: "" is allowed besides min..max bytes */
    LG_CONF_DEF_EXT = 1 << 3,  /* default comes from lg_engine/bus_conf_default */
};

/* Extra check for a string value: true when valid, else the reason goes to why. */
typedef bool (*lg_conf_check_fn)(const char *value, char *why, size_t why_len);

typedef struct lg_conf_entry {
    const char *section;  /* "bus", ...; "rule" = every [rule NAME] section */
    const char *name;
    lg_conf_type type;
    unsigned flags;
    size_t offset;        /* in lg_config; in lg_rule_conf for section "rule" */
    size_t size;          /* LG_CONF_STR: the buffer, NUL included */
    int64_t min, max;     /* inclusive */
    int64_t def_num;      /* numbers, bools, enums (unless LG_CONF_DEF_EXT) */
    const char *def_str;  /* strings */
    const char *const *names; /* LG_CONF_ENUM: NULL-terminated, indexed by value */
    lg_conf_check_fn check;   /* LG_CONF_STR, optional */
    const char *doc;
} lg_conf_entry;

extern const lg_conf_entry lg_conf__table[];
extern const size_t lg_conf__table_len;

/* What a secret prints as; refused as a value so that a pasted dump fails loudly. */
#define LG_CONF_REDACTED "<redacted>"

struct lg_config;

/* Is e a key of every [rule NAME] section? */
bool lg_conf__is_rule(const lg_conf_entry *e);

/* Where e lives in cfg: in cfg itself, or in rule number rule (>= 0) for a rule entry.
 * Like strchr, returns a writable pointer for a const cfg: callers that only print
 * must not write through it. */
void *lg_conf__field(const struct lg_config *cfg, const lg_conf_entry *e, int rule);

/* Sections in print order; "rule" stands for every rule of the engine. */
extern const char *const lg_conf__sections[];

/* Environment variables mapped onto keys ("bus.url"); NULL-terminated. */
typedef struct lg_conf_env {
    const char *var;
    const char *key;
} lg_conf_env;
extern const lg_conf_env lg_conf__env[];

#endif
