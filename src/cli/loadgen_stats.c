/*
 * loadgen_stats.c - the load generator's counters: each worker thread keeps its own
 * (no atomics on the request path); the progress line and the report merge them.
 */
#include <string.h>

#include "cli/loadgen.h"
#include "core/lgassert.h"

void lg_loadgen_stats_init(lg_loadgen_stats *s)
{
    lg_assert(s != NULL);
    memset(s, 0, sizeof *s);
    lg_loadgen_hist_init(&s->latency);
    lg_loadgen_hist_init(&s->service);
}

void lg_loadgen_stats_merge(lg_loadgen_stats *dst, const lg_loadgen_stats *src)
{
    lg_assert(dst != NULL);
    lg_assert(src != NULL);
    dst->sent += src->sent;
    dst->unsent += src->unsent;
    dst->responses += src->responses;
    for (size_t i = 0; i < sizeof dst->status / sizeof dst->status[0]; i++)
        dst->status[i] += src->status[i];
    dst->err_connect += src->err_connect;
    dst->err_reset += src->err_reset;
    dst->err_timeout += src->err_timeout;
    dst->err_parse += src->err_parse;
    dst->connects += src->connects;
    dst->bytes_out += src->bytes_out;
    dst->bytes_in += src->bytes_in;
    lg_loadgen_hist_merge(&dst->latency, &src->latency);
    lg_loadgen_hist_merge(&dst->service, &src->service);
}

uint64_t lg_loadgen_stats_errors(const lg_loadgen_stats *s)
{
    return s->err_connect + s->err_reset + s->err_timeout + s->err_parse;
}
