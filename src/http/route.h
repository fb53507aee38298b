/*
 * route.h - matching (method, path) against a static table of routes.
 *
 * A route's path is either exact ("/v1/login") or a prefix ending in "{}"
 * ("/v1/blocks/{}"), which matches any non-empty rest and hands it over as the one
 * parameter. A path that matches a route of another method gives 405 and the Allow
 * list; a path that matches nothing gives 404.
 */
#ifndef LG_HTTP_ROUTE_H
#define LG_HTTP_ROUTE_H

#include <stddef.h>

typedef struct lg_http_route {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* exact, or ending in "{}" */
    int id;
} lg_http_route;

typedef enum {
    LG_HTTP_MATCH_OK = 0,
    LG_HTTP_MATCH_NOT_FOUND = 1,
    LG_HTTP_MATCH_METHOD = 2, /* path known, method not: answer 405 with allow */
} lg_http_match_result;

/* "GET, DELETE": enough for every method of one path */
#define LG_HTTP_ALLOW_MAX 64

typedef struct lg_http_match {
    int id;            /* the route's id when LG_HTTP_MATCH_OK, else -1 */
    const char *param; /* the "{}" part of path (borrowed), NULL for exact routes */
    size_t param_len;
    char allow[LG_HTTP_ALLOW_MAX]; /* methods of path, for 405; "" otherwise */
} lg_http_match;

/* Matches (method, path) against table[0..n). *m is always written. */
lg_http_match_result lg_http_route_match(const lg_http_route *table, size_t n,
                                         const char *method, const char *path,
                                         lg_http_match *m);

#endif
