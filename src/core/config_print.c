/*
 * config_print.c - writes lg_config out: as an INI file that lg_config_load_file reads
 * back unchanged (`loginguard config`), and the table as Markdown (docs/CONFIG.md).
 * Each key comes with its doc, type, default and range, all taken from config_table.c.
 */
#include "core/config.h"

#include <stdlib.h>
#include <string.h>

#include "core/config_table.h"
#include "core/lgassert.h"

static int64_t num_get(const lg_conf_entry *e, const void *field)
{
    switch (e->type) {
    case LG_CONF_U32: return *(const uint32_t *)field;
    case LG_CONF_I32: return *(const int32_t *)field;
    case LG_CONF_I16: return *(const int16_t *)field;
    case LG_CONF_I64: return *(const int64_t *)field;
    case LG_CONF_BOOL: return *(const bool *)field;
    case LG_CONF_ENUM: return *(const int *)field;
    case LG_CONF_STR: break;
    }
    lg_assert(!"num_get on a string entry");
    return 0;
}


/* A value as the printer writes it, which lg_config_load_file reads back. */
static void value_format(const lg_conf_entry *e, const void *field, char *buf, size_t len)
{
    if (e->type == LG_CONF_STR) {
        const char *s = field;
        size_t n = strlen(s);
        bool quote = n > 0 && (s[0] == ' ' || s[0] == '"' || s[n - 1] == ' ');
        snprintf(buf, len, quote ? "\"%s\"" : "%s", s);
    } else if (e->type == LG_CONF_BOOL) {
        snprintf(buf, len, "%s", *(const bool *)field ? "true" : "false");
    } else if (e->type == LG_CONF_ENUM) {
        snprintf(buf, len, "%s", e->names[num_get(e, field)]);
    } else {
        snprintf(buf, len, "%lld", (long long)num_get(e, field));
    }
}


static const char *type_name(const lg_conf_entry *e)
{
    if (e->flags & LG_CONF_MS)
        return "ms";
    switch (e->type) {
    case LG_CONF_U32: return "uint";
    case LG_CONF_I32:
    case LG_CONF_I16:
    case LG_CONF_I64: return "int";
    case LG_CONF_BOOL: return "bool";
    case LG_CONF_STR: return "string";
    case LG_CONF_ENUM: return "enum";
    }
    return "?";
}

static void range_format(const lg_conf_entry *e, char *buf, size_t len)
{
    if (e->type == LG_CONF_BOOL) {
        snprintf(buf, len, "true|false");
    } else if (e->type == LG_CONF_ENUM) {
        size_t used = 0;
        buf[0] = '\0';
        for (int64_t i = 0; i <= e->max && used < len; i++) {
            int n = snprintf(buf + used, len - used, "%s%s", i ? "|" : "", e->names[i]);
            if (n < 0)
                break;
            used += (size_t)n;
        }
    } else if (e->type == LG_CONF_STR) {
        if (e->flags & LG_CONF_EMPTY_OK)
            snprintf(buf, len, "empty or %lld..%lld bytes", (long long)e->min,
                     (long long)e->max);
        else
            snprintf(buf, len, "%lld..%lld bytes", (long long)e->min, (long long)e->max);
    } else {
        snprintf(buf, len, "%lld..%lld", (long long)e->min, (long long)e->max);
    }
}

static void default_format(const lg_config *def, const lg_conf_entry *e, int rule, char *buf,
                           size_t len)
{
    if (e->flags & LG_CONF_SECRET) {
        snprintf(buf, len, "%s", "empty");
        return;
    }
    value_format(e, lg_conf__field(def, e, rule), buf, len);
    if (buf[0] == '\0')
        snprintf(buf, len, "empty");
}

static void entry_print(const lg_config *cfg, const lg_config *def, const lg_conf_entry *e,
                        int rule, int def_rule, FILE *out)
{
    char value[LG_URL_MAX + 8];
    char dflt[LG_URL_MAX + 8];
    char range[128];

    if (def_rule >= 0 || !lg_conf__is_rule(e))
        default_format(def, e, def_rule, dflt, sizeof dflt);
    else
        snprintf(dflt, sizeof dflt, "none");
    range_format(e, range, sizeof range);
    if ((e->flags & LG_CONF_SECRET) && ((const char *)lg_conf__field(cfg, e, rule))[0] != '\0')
        snprintf(value, sizeof value, "%s", LG_CONF_REDACTED);
    else
        value_format(e, lg_conf__field(cfg, e, rule), value, sizeof value);
    fprintf(out, "# %s (%s, default %s, %s)\n%s = %s\n", e->doc, type_name(e), dflt, range,
            e->name, value);
}

void lg_config_print(const lg_config *cfg, FILE *out)
{
    lg_config *def = malloc(sizeof *def);

    lg_assert(cfg != NULL);
    if (def == NULL) {
        fprintf(out, "# out of memory\n");
        return;
    }
    lg_config_default(def);
    fprintf(out, "# loginguard: effective configuration (defaults < --config file < "
                 "environment < flags)\n# loadable with --config; secrets are printed as "
                 "%s and must be set again\n", LG_CONF_REDACTED);
    for (size_t s = 0; lg_conf__sections[s] != NULL; s++) {
        const char *section = lg_conf__sections[s];
        bool rules = strcmp(section, "rule") == 0;
        size_t n = rules ? cfg->engine.n_rules : 1;

        for (size_t r = 0; r < n; r++) {
            int def_rule = -1;
            if (rules) {
                const lg_rule_conf *dr =
                    lg_config_rule(def, cfg->engine.rules[r].name);
                def_rule = dr ? (int)(dr - def->engine.rules) : -1;
                fprintf(out, "\n[rule %s]\n", cfg->engine.rules[r].name);
            } else {
                fprintf(out, "\n[%s]\n", section);
            }
            for (size_t i = 0; i < lg_conf__table_len; i++) {
                const lg_conf_entry *e = &lg_conf__table[i];
                if (strcmp(e->section, section) == 0)
                    entry_print(cfg, def, e, rules ? (int)r : -1, def_rule, out);
            }
        }
    }
    free(def);
}

void lg_config_print_markdown(FILE *out)
{
    lg_config *def = malloc(sizeof *def);

    if (def == NULL) {
        fprintf(out, "out of memory\n");
        return;
    }
    lg_config_default(def);
    fprintf(out,
            "# Configuration\n\n"
            "<!-- generated by `loginguard config --markdown` from src/core/config_table.c;"
            " do not edit -->\n\n"
            "Every key has a type, a default and an inclusive range; a value outside it, an "
            "unknown\nsection or key, or a key set twice is an error naming the key, the "
            "value, `FILE:LINE`\nand the allowed range, e.g. `invalid window_ms '0' for rule "
            "'user' (loginguard.conf:14):\nmust be 1..86400000`. Ranges never exceed the hard "
            "caps of `src/core/limits.h`.\n\n"
            "Precedence: defaults, then the file given with `--config F` (INI), then the "
            "environment,\nthen command-line flags (`--set section.key=value`, rules as "
            "`rule.NAME.key`).\n`loginguard config [--config F]` prints the effective values "
            "as a loadable file.\n\n"
            "File syntax: `[section]` headers, `key = value` lines, comments on their own "
            "line starting\nwith `#` or `;`. Values are taken verbatim (no inline comments); "
            "one pair of double\nquotes keeps leading or trailing spaces. `ms` values also "
            "accept a unit: `500ms`, `60s`,\n`15m`, `2h`, `1d`. Booleans: true/false, yes/no, "
            "on/off, 1/0. A line holds at most\n199 bytes (libinih's line buffer); longer "
            "values (a long broker list) go in the\nenvironment.\n");
    for (size_t s = 0; lg_conf__sections[s] != NULL; s++) {
        const char *section = lg_conf__sections[s];
        bool rules = strcmp(section, "rule") == 0;

        if (rules)
            fprintf(out, "\n## [rule NAME]\n\nRules: ");
        else
            fprintf(out, "\n## [%s]\n\n", section);
        for (size_t r = 0; rules && r < def->engine.n_rules; r++)
            fprintf(out, "%s`[rule %s]`", r ? ", " : "", def->engine.rules[r].name);
        if (rules)
            fprintf(out, ". Each block names its rule.\n\n");
        fprintf(out, "| key | type | default | range | description |\n|---|---|---|---|---|\n");
        for (size_t i = 0; i < lg_conf__table_len; i++) {
            const lg_conf_entry *e = &lg_conf__table[i];
            char dflt[256];
            char range[128];

            if (strcmp(e->section, section) != 0)
                continue;
            range_format(e, range, sizeof range);
            fprintf(out, "| `%s` | %s | ", e->name, type_name(e));
            if (rules) {
                for (size_t r = 0; r < def->engine.n_rules; r++) {
                    default_format(def, e, (int)r, dflt, sizeof dflt);
                    fprintf(out, "%s%s: `%s`", r ? ", " : "", def->engine.rules[r].name, dflt);
                }
            } else {
                default_format(def, e, -1, dflt, sizeof dflt);
                fprintf(out, "`%s`", dflt);
            }
            fputs(" | ", out);
            for (const char *c = range; *c != '\0'; c++) {
                if (*c == '|')
                    fputc('\\', out); /* a bare | would end the table cell */
                fputc(*c, out);
            }
            fprintf(out, " | %s |\n", e->doc);
        }
    }
    fprintf(out, "\n## Environment\n\n| variable | key |\n|---|---|\n");
    for (size_t i = 0; lg_conf__env[i].var != NULL; i++)
        fprintf(out, "| `%s` | `%s` |\n", lg_conf__env[i].var, lg_conf__env[i].key);
    free(def);
}
