/*
 * loadgen_report.c - the summary of a load generator run: status counts, errors,
 * achieved rate, latency percentiles and the generator's own CPU per request.
 *
 * Text goes to stdout for people; --json prints one JSON object instead, the form that
 * scripts and bench/ parse (its keys are listed in `loginguard loadgen --help`).
 */
#include <jansson.h>
#include <stdio.h>

#include "cli/loadgen.h"
#include "cli/loadgen_workload.h"
#include "core/lgassert.h"

static const char *scenario_name(lg_loadgen_scenario s)
{
    return s == LG_LOADGEN_RANDOM ? "random" : s == LG_LOADGEN_BRUTEFORCE ? "bruteforce"
                                                                          : "stuffing";
}

static json_t *hist_json(const lg_loadgen_hist *h, const char *from)
{
    return json_pack("{s:s, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I}", "from", from,
                     "count", (json_int_t)h->total,
                     "min", (json_int_t)(h->total ? h->min_us : 0),
                     "mean", lg_loadgen_hist_mean(h),
                     "p50", (json_int_t)lg_loadgen_hist_percentile(h, 50),
                     "p90", (json_int_t)lg_loadgen_hist_percentile(h, 90),
                     "p99", (json_int_t)lg_loadgen_hist_percentile(h, 99),
                     "p999", (json_int_t)lg_loadgen_hist_percentile(h, 99.9),
                     "max", (json_int_t)h->max_us,
                     "overflow", (json_int_t)h->overflow);
}

static void report_json(const lg_loadgen_conf *conf, const lg_loadgen_stats *s,
                        double elapsed_s, double cpu_user_s, double cpu_sys_s)
{
    json_t *status = json_object();
    for (int code = 100; code < 600; code++) {
        if (s->status[code] == 0)
            continue;
        char key[16];
        snprintf(key, sizeof key, "%d", code);
        json_object_set_new(status, key, json_integer((json_int_t)s->status[code]));
    }
    double done = (double)s->sent;
    json_t *root = json_pack(
        "{s:s, s:s, s:s, s:I, s:i, s:i, s:f, s:f, s:I, s:i,"
        " s:f, s:I, s:I, s:I, s:f, s:o,"
        " s:{s:I, s:I, s:I, s:I, s:I},"
        " s:o, s:o, s:I, s:{s:I, s:I}, s:{s:f, s:f, s:f}}",
        "url", conf->url, "path", lg_loadgen_workload_path(conf->workload),
        "scenario", scenario_name(conf->scenario), "seed", (json_int_t)conf->seed,
        "threads", conf->threads, "connections", conf->connections,
        "rate_target", conf->rate, "duration_s", conf->duration_s,
        "requests_target", (json_int_t)conf->requests, "timeout_ms", conf->timeout_ms,
        "elapsed_s", elapsed_s, "requests", (json_int_t)s->sent,
        "responses", (json_int_t)s->responses, "unsent", (json_int_t)s->unsent,
        "rate", elapsed_s > 0 ? done / elapsed_s : 0.0, "status", status,
        "errors", "total", (json_int_t)lg_loadgen_stats_errors(s),
        "connect", (json_int_t)s->err_connect, "reset", (json_int_t)s->err_reset,
        "timeout", (json_int_t)s->err_timeout, "parse", (json_int_t)s->err_parse,
        "latency_us", hist_json(&s->latency, conf->rate > 0 ? "scheduled" : "sent"),
        "service_us", hist_json(&s->service, "sent"), "connects", (json_int_t)s->connects,
        "bytes", "out", (json_int_t)s->bytes_out, "in", (json_int_t)s->bytes_in,
        "cpu", "user_s", cpu_user_s, "sys_s", cpu_sys_s,
        "us_per_request", done > 0 ? (cpu_user_s + cpu_sys_s) * 1e6 / done : 0.0);
    lg_assert(root != NULL); /* only allocation can fail here */
    json_dumpf(root, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(root);
}

static void print_hist(const char *what, const lg_loadgen_hist *h)
{
    printf("  %-34s min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
           what, (double)(h->total ? h->min_us : 0) / 1000.0,
           (double)lg_loadgen_hist_percentile(h, 50) / 1000.0,
           (double)lg_loadgen_hist_percentile(h, 90) / 1000.0,
           (double)lg_loadgen_hist_percentile(h, 99) / 1000.0,
           (double)lg_loadgen_hist_percentile(h, 99.9) / 1000.0, (double)h->max_us / 1000.0,
           lg_loadgen_hist_mean(h) / 1000.0);
}

static void report_text(const lg_loadgen_conf *conf, const lg_loadgen_stats *s,
                        double elapsed_s, double cpu_user_s, double cpu_sys_s)
{
    double done = (double)s->sent;
    printf("loadgen: %s%s scenario=%s threads=%d connections=%d seed=%llu\n", conf->url,
           lg_loadgen_workload_path(conf->workload), scenario_name(conf->scenario),
           conf->threads, conf->connections, (unsigned long long)conf->seed);
    if (conf->rate > 0)
        printf("  target rate %.1f/s", conf->rate);
    else
        printf("  target rate unlimited");
    printf(", achieved %.1f/s: %llu requests in %.2f s, %llu responses",
           elapsed_s > 0 ? done / elapsed_s : 0.0, (unsigned long long)s->sent, elapsed_s,
           (unsigned long long)s->responses);
    if (s->unsent)
        printf(", %llu scheduled but never sent (no free connection)",
               (unsigned long long)s->unsent);
    printf("\n  status:");
    /* the API's answers always, others when they occurred */
    for (int code = 100; code < 600; code++) {
        bool usual = conf->endpoint == LG_LOADGEN_LOGIN
                         ? code == 200 || code == 401 || code == 423 || code == 503
                         : code == 202 || code == 423 || code == 503;
        if (s->status[code] || usual)
            printf(" %d: %llu,", code, (unsigned long long)s->status[code]);
    }
    printf(" errors: %llu\n", (unsigned long long)lg_loadgen_stats_errors(s));
    printf("  errors: connect %llu, reset %llu, timeout %llu, malformed %llu "
           "(connections opened: %llu)\n",
           (unsigned long long)s->err_connect, (unsigned long long)s->err_reset,
           (unsigned long long)s->err_timeout, (unsigned long long)s->err_parse,
           (unsigned long long)s->connects);
    print_hist(conf->rate > 0 ? "latency ms (from scheduled send):" : "latency ms:",
               &s->latency);
    if (conf->rate > 0)
        print_hist("service ms (from actual send):", &s->service);
    printf("  loadgen cpu: user %.2f s, sys %.2f s = %.2f us/request\n", cpu_user_s,
           cpu_sys_s, done > 0 ? (cpu_user_s + cpu_sys_s) * 1e6 / done : 0.0);
}

void lg_loadgen_report(const lg_loadgen_conf *conf, const lg_loadgen_stats *s,
                       double elapsed_s, double cpu_user_s, double cpu_sys_s)
{
    lg_assert(conf != NULL);
    lg_assert(s != NULL);
    if (conf->json)
        report_json(conf, s, elapsed_s, cpu_user_s, cpu_sys_s);
    else
        report_text(conf, s, elapsed_s, cpu_user_s, cpu_sys_s);
    fflush(stdout);
}
