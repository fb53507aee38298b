/*
 * log.h - one call shape for every log line: lg_log(LG_WARN, "bus", "fmt", ...).
 *
 * Lines go to stderr as `ts level where message`, message in key=value style where it
 * carries data. Never log passwords or tokens; truncate user input (lg_log_trunc).
 */
#ifndef LG_LOG_H
#define LG_LOG_H

#include <stddef.h>

typedef enum { LG_ERROR = 0, LG_WARN = 1, LG_INFO = 2, LG_DEBUG = 3 } lg_log_level;

/* Lines above this level are dropped. Default LG_INFO; LG_LOG_LEVEL=debug|info|warn|error. */
void lg_log_set_level(lg_log_level level);
lg_log_level lg_log_get_level(void);

void lg_log(lg_log_level level, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
