/*
 * loadgen.c - `loginguard loadgen`: the seed's producer of random logins as an HTTP/1.1
 * load generator.
 *
 * Parses flags and the URL, loads the id and password lists, checks that the target
 * accepts a connection, then runs --threads workers (loadgen_worker.c), each with its
 * own epoll loop and share of the connections, rate and request quota. This thread
 * prints a progress line every second from the workers' snapshots and, at the end, the
 * merged report. SIGINT/SIGTERM stop sending; requests in flight are still awaited.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/loadgen.h"
#include "cli/loadgen_workload.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/lgassert.h"

#define EXIT_RAN 0
#define EXIT_NOCONNECT 1
#define EXIT_USAGE 2

/* the main thread wakes this often to watch for signals and finished workers */
#define POLL_NS (20LL * 1000 * 1000)

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: loginguard loadgen --url URL [options]\n"
        "\n"
        "Drives the login API with the seed's random logins over keep-alive HTTP/1.1\n"
        "connections and reports status counts and latency percentiles.\n"
        "\n"
        "  --url URL            target, http://HOST[:PORT] (http only)\n"
        "  --rate R             requests/s over all threads; 0 = as fast as possible (default 0)\n"
        "  --duration S         seconds to send for (default 10 unless --requests is given)\n"
        "  --requests N         stop after N requests (with --duration: whichever comes first)\n"
        "  --connections C      keep-alive connections, one request in flight each (default 64)\n"
        "  --threads T          threads, each with an epoll loop and C/T connections (default 1)\n"
        "  --users F            JSON array of user ids (default data/ids.json, in the working\n"
        "                       directory or else in ../data beside the binary)\n"
        "  --passwords F        JSON array of passwords (default data/passwords.json, found\n"
        "                       the same way; login only)\n"
        "  --scenario S         random: random id + random password from random ip (default)\n"
        "                       bruteforce: 3 ids hammered with wrong passwords, 1/4 random\n"
        "                       stuffing: one ip walking through the ids, 1/10 random\n"
        "  --endpoint E         login: POST /v1/login {user,password,ip} (default)\n"
        "                       attempts: POST /v1/attempts {user,ip,ok}, no password hashing\n"
        "  --key KEY            attempts: send \"Authorization: Bearer KEY\", a reporter key\n"
        "                       (loginguard keys add) or an admin token; default: the\n"
        "                       environment's LG_REPORTER_KEY (which keeps it out of ps)\n"
        "  --timeout S          seconds to wait for a connect or a response (default 10)\n"
        "  --seed N             random seed (default: from the clock; printed in the report)\n"
        "  --json               print the report as one JSON object on stdout\n"
        "  --quiet              no progress line on stderr\n"
        "  --help               this text\n"
        "\n"
        "With --rate, sending is open-loop: request k is due at start + k/R whatever the\n"
        "server does, and latency is measured from that due time (no coordinated omission);\n"
        "service time is measured from the actual write. Requests due when no connection is\n"
        "free are reported as unsent.\n"
        "\n"
        "JSON keys: url path scenario seed threads connections rate_target duration_s\n"
        "requests_target timeout_ms elapsed_s requests responses unsent rate\n"
        "status{CODE:n} errors{total,connect,reset,timeout,parse}\n"
        "latency_us/service_us{from,count,min,mean,p50,p90,p99,p999,max,overflow}\n"
        "connects bytes{out,in} cpu{user_s,sys_s,us_per_request}\n"
        "\n"
        "exit status: 0 ran (whatever the statuses), 1 could not connect, 2 usage error\n");
}

static int bad_value(const char *flag, const char *value, const char *want)
{
    fprintf(stderr, "loginguard loadgen: invalid value '%s' for %s (%s)\n", value, flag, want);
    return LG_EINVAL;
}

static int parse_double(const char *flag, const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min || v > max) {
        char want[64];
        snprintf(want, sizeof want, "a number from %g to %g", min, max);
        return bad_value(flag, s, want);
    }
    *out = v;
    return 0;
}

static int parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max,
                     uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
        char want[64];
        snprintf(want, sizeof want, "an integer from %llu to %llu", (unsigned long long)min,
                 (unsigned long long)max);
        return bad_value(flag, s, want);
    }
    *out = v;
    return 0;
}

/* http://HOST[:PORT][/] -> conf->addr, conf->host_header. IPv6 hosts in brackets. */
static int parse_url(const char *url, lg_loadgen_conf *conf)
{
    const char *prefix = "http://";
    if (strncmp(url, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "loginguard loadgen: invalid --url '%s' (only http://HOST[:PORT])\n",
                url);
        return LG_EINVAL;
    }
    const char *auth = url + strlen(prefix);
    size_t alen = strcspn(auth, "/");
    if ((auth[alen] == '/' && auth[alen + 1] != '\0') || alen == 0 ||
        alen >= LG_LOADGEN_HOST_MAX) {
        fprintf(stderr, "loginguard loadgen: invalid --url '%s' (a host and port, no path)\n",
                url);
        return LG_EINVAL;
    }
    char host[LG_LOADGEN_HOST_MAX];
    char port[8] = "80";
    const char *port_at = NULL;
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (close == NULL)
            return bad_value("--url", url, "unterminated [ipv6] host");
        snprintf(host, sizeof host, "%.*s", (int)(close - auth - 1), auth + 1);
        if ((size_t)(close - auth) + 1 < alen) {
            if (close[1] != ':')
                return bad_value("--url", url, "http://[ADDR]:PORT");
            port_at = close + 2;
        }
    } else {
        const char *colon = memchr(auth, ':', alen);
        snprintf(host, sizeof host, "%.*s", (int)(colon ? colon - auth : (ptrdiff_t)alen), auth);
        if (colon)
            port_at = colon + 1;
    }
    if (port_at != NULL) {
        size_t plen = (size_t)(auth + alen - port_at);
        char ptext[8];
        if (plen == 0 || plen >= sizeof ptext)
            return bad_value("--url", url, "port 1..65535");
        snprintf(ptext, sizeof ptext, "%.*s", (int)plen, port_at);
        uint64_t p;
        if (parse_u64("--url port", ptext, 1, 65535, &p) != 0)
            return LG_EINVAL;
        snprintf(port, sizeof port, "%llu", (unsigned long long)p);
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0 || res == NULL) {
        fprintf(stderr, "loginguard loadgen: cannot resolve host '%s' in --url: %s\n", host,
                gai_strerror(gai));
        return LG_EINVAL;
    }
    /* "localhost" may list ::1 first while servers here listen on 127.0.0.1 */
    const struct addrinfo *pick = res;
    for (const struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    }
    memcpy(&conf->addr, pick->ai_addr, pick->ai_addrlen);
    conf->addr_len = pick->ai_addrlen;
    freeaddrinfo(res);
    snprintf(conf->url, sizeof conf->url, "%s", url);
    if (conf->url[strlen(conf->url) - 1] == '/')
        conf->url[strlen(conf->url) - 1] = '\0';
    snprintf(conf->host_header, sizeof conf->host_header, "%.*s", (int)alen, auth);
    return 0;
}

/* One blocking connect (bounded by timeout_ms) so an unreachable target fails fast with
 * a clear message instead of a run full of connect errors. */
static int probe(const lg_loadgen_conf *conf, char *err, size_t err_len)
{
    int fd = socket(conf->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_len, "%s", strerror(errno));
        return LG_EIO;
    }
    int rc = 0;
    if (connect(fd, (const struct sockaddr *)&conf->addr, conf->addr_len) != 0) {
        if (errno != EINPROGRESS) {
            snprintf(err, err_len, "%s", strerror(errno));
            rc = LG_EIO;
            goto out;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n = poll(&p, 1, conf->timeout_ms);
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (n <= 0) {
            snprintf(err, err_len, "no answer within %d ms", conf->timeout_ms);
            rc = LG_ETIMEDOUT;
        } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
            snprintf(err, err_len, "%s", strerror(soerr ? soerr : errno));
            rc = LG_EIO;
        }
    }
out:
    close(fd);
    return rc;
}

/* A default data file: data/NAME under the working directory, else beside the binary's
 * directory (build/loginguard -> build/../data/NAME), so the demo and the benchmarks
 * find the files from anywhere. Writes the path into buf; returns buf. */
static const char *default_data(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "data/%s", name);
    if (access(buf, R_OK) == 0)
        return buf;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return buf;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return buf;
    *slash = '\0';
    char alt[PATH_MAX + 64];
    snprintf(alt, sizeof alt, "%s/../data/%s", exe, name);
    if (access(alt, R_OK) == 0 && strlen(alt) < len)
        snprintf(buf, len, "%s", alt);
    return buf;
}

/* The bearer credential into conf->key: NULL or "" is none; otherwise 1..
 * LG_LOADGEN_KEY_MAX visible ASCII bytes (it goes into a header line as is). */
static int parse_key(const char *key, const char *from, lg_loadgen_conf *conf)
{
    size_t len = key != NULL ? strlen(key) : 0;

    conf->key[0] = '\0';
    if (len == 0)
        return 0;
    if (len > LG_LOADGEN_KEY_MAX) {
        fprintf(stderr, "loginguard loadgen: %s is longer than %d bytes\n", from,
                LG_LOADGEN_KEY_MAX);
        return LG_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c <= 0x20 || c >= 0x7f) { /* no CR/LF, space or control: one header line */
            fprintf(stderr, "loginguard loadgen: %s holds a byte 0x%02x that cannot go "
                            "into a header (visible ASCII only)\n", from, c);
            return LG_EINVAL;
        }
    }
    memcpy(conf->key, key, len + 1);
    return 0;
}

typedef struct opts {
    const char *key; /* --key */
    const char *users;
    const char *passwords;
    bool have_duration;
    bool have_requests;
    bool have_seed;
    bool defaults; /* --users or --passwords left at data/... */
} opts;

enum { OPT_URL = 1, OPT_RATE, OPT_DURATION, OPT_REQUESTS, OPT_CONNECTIONS, OPT_THREADS,
       OPT_USERS, OPT_PASSWORDS, OPT_SCENARIO, OPT_ENDPOINT, OPT_TIMEOUT, OPT_SEED, OPT_JSON,
       OPT_QUIET, OPT_KEY, OPT_HELP };

static const struct option long_opts[] = {
    {"url", required_argument, NULL, OPT_URL},
    {"rate", required_argument, NULL, OPT_RATE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"users", required_argument, NULL, OPT_USERS},
    {"passwords", required_argument, NULL, OPT_PASSWORDS},
    {"scenario", required_argument, NULL, OPT_SCENARIO},
    {"endpoint", required_argument, NULL, OPT_ENDPOINT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"seed", required_argument, NULL, OPT_SEED},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"key", required_argument, NULL, OPT_KEY},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Returns 0, 1 for --help, or LG_EINVAL (message printed). */
static int parse_args(int argc, char **argv, lg_loadgen_conf *conf, opts *o)
{
    const char *url = NULL;
    uint64_t u;
    double d;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case OPT_URL: url = optarg; break;
        case OPT_RATE: rc = parse_double("--rate", optarg, 0, 1e9, &conf->rate); break;
        case OPT_DURATION:
            rc = parse_double("--duration", optarg, 0.001, LG_LOADGEN_DURATION_S_MAX,
                              &conf->duration_s);
            o->have_duration = true;
            break;
        case OPT_REQUESTS:
            rc = parse_u64("--requests", optarg, 1, UINT64_MAX / 2, &conf->requests);
            o->have_requests = true;
            break;
        case OPT_CONNECTIONS:
            rc = parse_u64("--connections", optarg, 1, LG_LOADGEN_CONNS_MAX, &u);
            conf->connections = (int)u;
            break;
        case OPT_THREADS:
            rc = parse_u64("--threads", optarg, 1, LG_LOADGEN_THREADS_MAX, &u);
            conf->threads = (int)u;
            break;
        case OPT_USERS: o->users = optarg; break;
        case OPT_PASSWORDS: o->passwords = optarg; break;
        case OPT_SCENARIO:
            if (strcmp(optarg, "random") == 0)
                conf->scenario = LG_LOADGEN_RANDOM;
            else if (strcmp(optarg, "bruteforce") == 0)
                conf->scenario = LG_LOADGEN_BRUTEFORCE;
            else if (strcmp(optarg, "stuffing") == 0)
                conf->scenario = LG_LOADGEN_STUFFING;
            else
                rc = bad_value("--scenario", optarg, "random, bruteforce or stuffing");
            break;
        case OPT_ENDPOINT:
            if (strcmp(optarg, "login") == 0)
                conf->endpoint = LG_LOADGEN_LOGIN;
            else if (strcmp(optarg, "attempts") == 0)
                conf->endpoint = LG_LOADGEN_ATTEMPTS;
            else
                rc = bad_value("--endpoint", optarg, "login or attempts");
            break;
        case OPT_TIMEOUT:
            rc = parse_double("--timeout", optarg, 0.001, LG_LOADGEN_TIMEOUT_S_MAX, &d);
            conf->timeout_ms = (int)ceil(d * 1000);
            break;
        case OPT_SEED:
            rc = parse_u64("--seed", optarg, 0, INT64_MAX, &conf->seed); /* a JSON integer */
            o->have_seed = true;
            break;
        case OPT_JSON: conf->json = true; break;
        case OPT_QUIET: conf->quiet = true; break;
        case OPT_KEY: o->key = optarg; break;
        case OPT_HELP: usage(stdout); return 1;
        default:
            fprintf(stderr, "loginguard loadgen: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            return LG_EINVAL;
        }
        if (rc != 0)
            return rc;
    }
    if (optind < argc) {
        fprintf(stderr, "loginguard loadgen: unexpected argument '%s'\n", argv[optind]);
        return LG_EINVAL;
    }
    if (url == NULL) {
        fprintf(stderr, "loginguard loadgen: --url is required (loginguard loadgen --help)\n");
        return LG_EINVAL;
    }
    if (conf->threads > conf->connections) {
        fprintf(stderr, "loginguard loadgen: --threads %d exceeds --connections %d "
                        "(each thread needs a connection)\n", conf->threads, conf->connections);
        return LG_EINVAL;
    }
    if (!o->have_duration && !o->have_requests)
        conf->duration_s = 10;
    if (o->key != NULL && conf->endpoint != LG_LOADGEN_ATTEMPTS) {
        fprintf(stderr, "loginguard loadgen: --key applies to --endpoint attempts only "
                        "(/v1/login is public)\n");
        return LG_EINVAL;
    }
    if (parse_key(o->key != NULL ? o->key : getenv("LG_REPORTER_KEY"),
                  o->key != NULL ? "--key" : "LG_REPORTER_KEY", conf) != 0)
        return LG_EINVAL;
    if (conf->endpoint == LG_LOADGEN_ATTEMPTS && conf->key[0] == '\0')
        fprintf(stderr, "loginguard loadgen: no --key nor LG_REPORTER_KEY: the API answers "
                        "401 to unauthenticated reports\n");
    return parse_url(url, conf);
}

static void merge_snapshots(lg_loadgen_worker *ws, int n, lg_loadgen_stats *out)
{
    lg_loadgen_stats_init(out);
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&ws[i].mu);
        lg_loadgen_stats_merge(out, &ws[i].snapshot);
        pthread_mutex_unlock(&ws[i].mu);
    }
}

static void progress(lg_loadgen_worker *ws, int n, lg_loadgen_stats *scratch, double elapsed,
                     uint64_t *prev_sent)
{
    merge_snapshots(ws, n, scratch);
    fprintf(stderr, "loadgen: %6.1f s  requests %llu  rate %.0f/s  errors %llu  p99 %.3f ms\n",
            elapsed, (unsigned long long)scratch->sent,
            (double)(scratch->sent - *prev_sent), /* snapshots are ~1 s apart */
            (unsigned long long)lg_loadgen_stats_errors(scratch),
            (double)lg_loadgen_hist_percentile(&scratch->latency, 99) / 1000.0);
    *prev_sent = scratch->sent;
}

static bool all_done(lg_loadgen_worker *ws, int n)
{
    for (int i = 0; i < n; i++) {
        if (!atomic_load(&ws[i].done))
            return false;
    }
    return true;
}

/* Starts the workers, watches them, joins them and prints the report. */
static int run(lg_loadgen_conf *conf)
{
    int rc = EXIT_RAN;
    atomic_bool stop = false;
    lg_loadgen_worker *ws = calloc((size_t)conf->threads, sizeof *ws);
    lg_loadgen_stats *total = malloc(sizeof *total);
    if (ws == NULL || total == NULL) {
        fprintf(stderr, "loginguard loadgen: out of memory\n");
        rc = EXIT_NOCONNECT;
        goto out;
    }
    int64_t start = lg_mono_ns();
    int64_t end = conf->duration_s > 0 ? start + (int64_t)(conf->duration_s * 1e9) : INT64_MAX;
    for (int i = 0; i < conf->threads; i++) {
        lg_loadgen_worker *w = &ws[i];
        w->conf = conf;
        w->index = i;
        /* split connections and the quota so the shares add up exactly */
        w->connections = conf->connections / conf->threads +
                         (i < conf->connections % conf->threads);
        w->requests = conf->requests ? conf->requests / (uint64_t)conf->threads +
                                           ((uint64_t)i < conf->requests % (uint64_t)conf->threads)
                                     : 0;
        w->rate = conf->rate / conf->threads;
        /* paced threads take turns (thread i is offset by i/R) instead of all sending
         * at the same instants */
        w->start_ns = conf->rate > 0 ? start + (int64_t)(i * 1e9 / conf->rate) : start;
        w->end_ns = end;
        w->stop = &stop;
        lg_loadgen_stats_init(&w->stats);
        lg_loadgen_stats_init(&w->snapshot);
        pthread_mutex_init(&w->mu, NULL);
    }
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* workers inherit a mask without SIGINT/SIGTERM: the handler runs on this thread */
    sigset_t block, orig;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &orig);
    int started = 0;
    for (; started < conf->threads; started++) {
        if (ws[started].requests == 0 && conf->requests) {
            atomic_store(&ws[started].done, true); /* fewer requests than threads */
            continue;
        }
        int err = pthread_create(&ws[started].thread, NULL, lg_loadgen_worker_run,
                                 &ws[started]);
        if (err != 0) {
            fprintf(stderr, "loginguard loadgen: cannot start thread %d: %s\n", started,
                    strerror(err));
            atomic_store(&stop, true);
            atomic_store(&ws[started].done, true);
            rc = EXIT_NOCONNECT;
            break;
        }
        ws[started].started = true;
    }
    pthread_sigmask(SIG_SETMASK, &orig, NULL);

    int64_t next_progress = start + 1000000000LL;
    uint64_t prev_sent = 0;
    /* bounded: workers end by themselves at end/quota plus one request timeout */
    while (!all_done(ws, started)) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = POLL_NS};
        nanosleep(&ts, NULL);
        if (got_signal)
            atomic_store(&stop, true);
        int64_t now = lg_mono_ns();
        if (!conf->quiet && now >= next_progress) {
            progress(ws, started, total, (double)(now - start) / 1e9, &prev_sent);
            next_progress += 1000000000LL;
        }
    }
    lg_loadgen_stats_init(total);
    int64_t finish = start;
    for (int i = 0; i < conf->threads; i++) {
        if (ws[i].started) {
            pthread_join(ws[i].thread, NULL);
            finish = ws[i].finish_ns > finish ? ws[i].finish_ns : finish;
        }
        if (ws[i].rc != 0)
            rc = EXIT_NOCONNECT;
        lg_loadgen_stats_merge(total, &ws[i].stats);
        pthread_mutex_destroy(&ws[i].mu);
    }
    double elapsed = (double)(finish - start) / 1e9;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    lg_loadgen_report(conf, total, elapsed,
                      (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
                      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    if (total->connects == 0) {
        fprintf(stderr, "loginguard loadgen: no connection to '%s' succeeded\n", conf->url);
        rc = EXIT_NOCONNECT;
    }
out:
    free(total);
    free(ws);
    return rc;
}

int lg_cmd_loadgen(int argc, char **argv)
{
    lg_loadgen_conf conf = {
        .connections = 64,
        .threads = 1,
        .timeout_ms = 10000,
        .scenario = LG_LOADGEN_RANDOM,
        .endpoint = LG_LOADGEN_LOGIN,
    };
    opts o = {0};
    int rc = parse_args(argc, argv, &conf, &o);
    if (rc == 1)
        return EXIT_RAN;
    if (rc != 0)
        return EXIT_USAGE;
    if (!o.have_seed)
        conf.seed = ((uint64_t)lg_mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL)) &
                    (uint64_t)INT64_MAX; /* printed as a JSON integer */
    char users_buf[PATH_MAX + 64], passwords_buf[PATH_MAX + 64];
    if (o.users == NULL) {
        o.users = default_data("ids.json", users_buf, sizeof users_buf);
        o.defaults = true;
    }
    if (o.passwords == NULL && conf.endpoint == LG_LOADGEN_LOGIN) {
        o.passwords = default_data("passwords.json", passwords_buf, sizeof passwords_buf);
        o.defaults = true;
    }

    char err[512];
    lg_loadgen_workload *wl = NULL;
    if (lg_loadgen_workload_new(o.users, conf.endpoint == LG_LOADGEN_LOGIN ? o.passwords : NULL,
                                conf.scenario, conf.endpoint, conf.seed, &wl, err,
                                sizeof err) != 0) {
        fprintf(stderr, "loginguard loadgen: %s%s\n", err,
                o.defaults ? " (default data files: data/ under the working directory or "
                             "beside the binary's directory; or pass --users and --passwords)"
                           : "");
        return EXIT_USAGE;
    }
    conf.workload = wl;
    if (probe(&conf, err, sizeof err) != 0) {
        fprintf(stderr, "loginguard loadgen: cannot connect to '%s': %s\n", conf.host_header,
                err);
        lg_loadgen_workload_free(wl);
        return EXIT_NOCONNECT;
    }
    rc = run(&conf);
    lg_loadgen_workload_free(wl);
    return rc;
}
