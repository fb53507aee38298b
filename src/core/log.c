/* log.c - stderr logger; one fprintf per line so concurrent lines do not interleave. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static lg_log_level log_level = LG_INFO;
static int log_level_from_env_done;

static void log_level_from_env(void)
{
    const char *v = getenv("LG_LOG_LEVEL");
    log_level_from_env_done = 1;
    if (v == NULL)
        return;
    if (strcmp(v, "debug") == 0) log_level = LG_DEBUG;
    else if (strcmp(v, "info") == 0) log_level = LG_INFO;
    else if (strcmp(v, "warn") == 0) log_level = LG_WARN;
    else if (strcmp(v, "error") == 0) log_level = LG_ERROR;
}

void lg_log_set_level(lg_log_level level)
{
    log_level_from_env_done = 1;
    log_level = level;
}

lg_log_level lg_log_get_level(void)
{
    if (!log_level_from_env_done)
        log_level_from_env();
    return log_level;
}

void lg_log(lg_log_level level, const char *where, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    char msg[1024];
    char stamp[32];
    struct timespec now;
    struct tm tm;
    va_list ap;

    if (level > lg_log_get_level())
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", stamp, now.tv_nsec / 1000000L, names[level],
            where, msg);
}
