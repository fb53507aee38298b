/*
 * detector_full.c - what the detector tells about its full tables (engine.h: a full
 * window table evicts the least recently active keys, a full block table the records
 * that matter least): per-rule counters for /metrics, and a warning in the log at most
 * every LG_DETECTOR_FULL_LOG_MS with what happened since the previous one.
 *
 * The counters survive engine resets (a rebalance builds a new engine): the retired
 * engine's counts join `base`. The detector thread writes the snapshot after each batch,
 * under stats_mu; scrapes read it from the HTTP threads.
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"
#include "http/metrics.h"
#include "roles/detector_int.h"

static uint64_t *counter_of(lg_engine_rule_stats *r, lg_detector_full_what what)
{
    lg_assert(what < LG_DETECTOR_FULL_WHATS);
    if (what == LG_DETECTOR_FULL_KEYS_EVICTED)
        return &r->keys_evicted_full;
    if (what == LG_DETECTOR_FULL_BLOCKS_EVICTED)
        return &r->blocks_evicted_full;
    return &r->keys_full;
}

/* s = base + the engine's counts now (rules are the enabled ones, in the same order). */
static void full_sum(lg_engine_stats *base, lg_engine *e, lg_engine_stats *s)
{
    lg_engine_stats_get(e, s);
    for (size_t i = 0; i < s->n_rules; i++) {
        for (int w = 0; w < LG_DETECTOR_FULL_WHATS; w++)
            *counter_of(&s->rule[i], w) += *counter_of(&base->rule[i], w);
    }
}

void lg_detector__full_engine_retired(lg_detector *d)
{
    lg_engine_stats s;

    full_sum(&d->full.base, d->engine, &s);
    d->full.base = s;
}

static uint32_t keys_max_of(const lg_detector *d, const char *rule)
{
    const lg_engine_conf *ec = &d->cfg->engine;

    for (size_t i = 0; i < ec->n_rules; i++) {
        if (strcmp(ec->rules[i].name, rule) == 0)
            return ec->rules[i].keys_max;
    }
    return 0;
}

void lg_detector__full_update(lg_detector *d)
{
    lg_detector_full *f = &d->full;
    lg_engine_stats s;
    int64_t now = lg_mono_ns();
    bool logged = false;

    full_sum(&f->base, d->engine, &s);
    pthread_mutex_lock(&d->stats_mu);
    f->now = s;
    pthread_mutex_unlock(&d->stats_mu);
    if (now < f->log_next_ns)
        return; /* the next line reports these too */
    for (size_t i = 0; i < s.n_rules; i++) {
        lg_engine_rule_stats *r = &s.rule[i], *was = &f->logged.rule[i];
        uint64_t keys = r->keys_evicted_full - was->keys_evicted_full;
        uint64_t blocks = r->blocks_evicted_full - was->blocks_evicted_full;
        uint64_t kept = r->keys_full - was->keys_full;

        if (keys == 0 && blocks == 0 && kept == 0)
            continue;
        lg_log(LG_WARN, "detector", "rule=%s table full: keys_max=%u evicted_keys=%llu "
               "evicted_blocks=%llu not_kept=%llu (least recently active keys, block records "
               "that mattered least; not kept: new keys as recent as every other, blocks "
               "with no room)", r->name, keys_max_of(d, r->name), (unsigned long long)keys,
               (unsigned long long)blocks, (unsigned long long)kept);
        logged = true;
    }
    if (logged)
        f->log_next_ns = now + (int64_t)LG_DETECTOR_FULL_LOG_MS * 1000000;
    f->logged = s;
}

static double series_value(void *opaque)
{
    lg_detector_full_series *se = opaque;
    lg_detector *d = se->d;
    uint64_t v;

    pthread_mutex_lock(&d->stats_mu);
    v = *counter_of(&d->full.now.rule[se->rule], se->what);
    pthread_mutex_unlock(&d->stats_mu);
    return (double)v;
}

int lg_detector_metrics_add(lg_detector *d, lg_metrics *m)
{
    static const char *const names[LG_DETECTOR_FULL_WHATS] = {
        "lg_engine_keys_evicted_total", "lg_engine_blocks_evicted_total",
        "lg_engine_keys_full_total"};
    static const char *const helps[LG_DETECTOR_FULL_WHATS] = {
        "window states evicted from a full key table to make room for new keys, by rule",
        "block records evicted from a full block table for new ones, by rule",
        "what a full table could not keep (a new key's failure, a block), by rule"};
    const lg_engine_conf *ec = &d->cfg->engine;
    char labels[LG_METRICS_LABELS_MAX];
    size_t rule = 0, n = 0;

    lg_assert(d != NULL && m != NULL);
    for (size_t i = 0; i < ec->n_rules; i++) {
        if (!ec->rules[i].enabled)
            continue; /* the engine's rules: the enabled ones, in this order */
        snprintf(labels, sizeof labels, "rule=\"%s\"", ec->rules[i].name);
        for (int w = 0; w < LG_DETECTOR_FULL_WHATS; w++) {
            lg_detector_full_series *se = &d->full.series[n++];

            *se = (lg_detector_full_series){d, rule, w};
            if (lg_metrics_counter_fn_new(m, names[w], helps[w], labels, series_value, se) != 0)
                return LG_EFULL;
        }
        rule++;
    }
    return 0;
}
