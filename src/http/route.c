/*
 * route.c - a linear scan over a handful of routes: cheaper than any index at this size,
 * and the table stays readable next to the handlers it names.
 */
#include "http/route.h"

#include <stdbool.h>
#include <string.h>

#include "core/lgassert.h"

/* Does path match pattern? Sets *param for "{}" patterns. */
static bool path_matches(const char *pattern, const char *path, const char **param,
                         size_t *param_len)
{
    size_t plen = strlen(pattern);

    if (plen >= 2 && strcmp(pattern + plen - 2, "{}") == 0) {
        size_t prefix = plen - 2;
        if (strncmp(path, pattern, prefix) != 0 || path[prefix] == '\0')
            return false;
        *param = path + prefix;
        *param_len = strlen(path + prefix);
        return true;
    }
    *param = NULL;
    *param_len = 0;
    return strcmp(pattern, path) == 0;
}

static void allow_add(char *allow, const char *method)
{
    size_t len = strlen(allow);
    size_t mlen = strlen(method);

    /* a method listed twice (two patterns for one path) is shown once */
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += mlen) {
        bool starts = p == allow || p[-1] == ' ';
        bool ends = p[mlen] == '\0' || p[mlen] == ',';
        if (starts && ends)
            return;
    }
    if (len + (len ? 2 : 0) + mlen + 1 > LG_HTTP_ALLOW_MAX)
        return;
    if (len > 0) {
        memcpy(allow + len, ", ", 2);
        len += 2;
    }
    memcpy(allow + len, method, mlen + 1);
}

lg_http_match_result lg_http_route_match(const lg_http_route *table, size_t n,
                                         const char *method, const char *path,
                                         lg_http_match *m)
{
    bool path_known = false;

    lg_assert(table != NULL && m != NULL);
    lg_assert(method != NULL && path != NULL);
    m->id = -1;
    m->param = NULL;
    m->param_len = 0;
    m->allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *param;
        size_t param_len;
        if (!path_matches(table[i].path, path, &param, &param_len))
            continue;
        if (strcmp(table[i].method, method) == 0) {
            m->id = table[i].id;
            m->param = param;
            m->param_len = param_len;
            m->allow[0] = '\0';
            return LG_HTTP_MATCH_OK;
        }
        path_known = true;
        allow_add(m->allow, table[i].method);
    }
    return path_known ? LG_HTTP_MATCH_METHOD : LG_HTTP_MATCH_NOT_FOUND;
}
