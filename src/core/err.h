/*
 * err.h - the one error idiom of loginguard.
 *
 * A function that can fail returns int: 0 (LG_OK) on success, a negative LG_E* on
 * failure. Foreign codes (errno, SQLITE_*, libpq, rd_kafka_resp_err_t) are translated
 * into these once, at the module boundary. lg_strerror() gives a static text.
 */
#ifndef LG_ERR_H
#define LG_ERR_H

enum {
    LG_OK = 0,
    LG_EINVAL = -1,     /* bad input: malformed event, bad argument, bad config */
    LG_ENOMEM = -2,     /* allocation failed */
    LG_EFULL = -3,      /* a bound was reached: queue, table, pool (back-pressure) */
    LG_EIO = -4,        /* I/O, database or broker failure */
    LG_ENOTFOUND = -5,  /* no such user, key, topic, ... */
    LG_EEXIST = -6,     /* already exists */
    LG_ECLOSED = -7,    /* the object is shutting down or closed */
    LG_ETIMEDOUT = -8,  /* a wait ran out */
    LG_ETOOBIG = -9,    /* input larger than its named bound */
    LG_EAUTH = -10,     /* authentication or signature check failed */
    LG_EEXPIRED = -11,  /* token expired */
};

/* Static text for an LG_E* code; never NULL. */
const char *lg_strerror(int rc);

#endif
