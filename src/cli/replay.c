/*
 * replay.c - `loginguard replay [FILE|-]`: judges attempts read as JSON lines with the
 * same engine as the detector and prints each block decided, in decision order.
 *
 * One pass, bounded memory: lines come through a fixed buffer (replay_lines.c), each is
 * decoded (lg_attempt_decode, REPLAY mode), judged (lg_engine_judge) and forgotten;
 * blocks go to a 1 MiB stdout buffer. With --db, judged attempts are also handed in
 * batches to a writer thread (replay_writer.c) that stores them in order, one
 * transaction per batch; attempts without an id get "L<line>-<hash of the line>", the
 * same on every run, so a replay cut short by a crash can simply be run again.
 * Replay has no wall clock, so the stream is its own: a line whose ts jumps more than
 * --max-jump ahead of the newest ts kept so far is a bad line, not a new clock.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/replay.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/engine.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"

/* --set overrides on one command line */
#define LG_REPLAY_SETS_MAX 64
/* progress on stderr this often, checked every LG_REPLAY_TICK_LINES lines */
#define LG_REPLAY_PROGRESS_NS (2LL * 1000 * 1000 * 1000)
#define LG_REPLAY_TICK_LINES 16384
/* stderr buffer when it is not a terminal: bad-line reports can be millions */
#define LG_REPLAY_ERR_BUF (1u << 16)

typedef struct replay_opts {
    const char *input;  /* NULL or "-" = stdin */
    const char *config;
    const char *db;
    bool strict, quiet, progress;
    int64_t max_jump_ms; /* --max-jump */
    const char *sets[LG_REPLAY_SETS_MAX];
    size_t n_sets;
} replay_opts;

typedef struct replay {
    lg_engine *engine;
    lg_replay_lines *lines;
    lg_replay_writer *writer; /* NULL without --db */
    lg_replay_batch *batch;   /* the chunk being decoded: the writer's, or own_batch */
    lg_replay_batch *own_batch;
    int block_rc;             /* first failure to add a block to the batch */
    const replay_opts *opts;
    uint64_t n_lines, n_bad;
    bool have_newest;  /* newest_ts_ms is set: a valid line was kept */
    int64_t newest_ts_ms; /* the largest ts kept so far: the stream's clock */
    int64_t t0_ns, progress_ns;
} replay;

/* static: stdio flushes them at exit(), after lg_cmd_replay has returned */
static char out_buf[LG_REPLAY_OUT_BUF];
static char err_buf[LG_REPLAY_ERR_BUF];

static void usage(FILE *out)
{
    fprintf(out,
        "usage: loginguard replay [FILE|-] [--config F] [--db PATH] [--strict] [--quiet]\n"
        "                         [--progress] [--max-jump DUR] [--set KEY=VALUE]...\n\n"
        "Judges login attempts read as JSON lines (FILE, or stdin when FILE is - or absent)\n"
        "with the detection rules and prints each block decided as one JSON line on stdout,\n"
        "in decision order. A line: {\"ts\":<ms>,\"user\":\"alice\",\"ok\":false} with optional\n"
        "\"ip\" and \"id\"; \"outcome\" is ignored (it is decided here). A malformed line is\n"
        "reported on stderr as `line N: reason` and skipped; blank lines are skipped. A\n"
        "summary goes to stderr at the end.\n\n"
        "  --config F        configuration file (see loginguard config --help)\n"
        "  --db PATH         also record every attempt and block in this audit store, %d\n"
        "                    attempts per transaction; running the same input again after\n"
        "                    a crash completes it without duplicates\n"
        "  --strict          stop at the first malformed line (exit 1)\n"
        "  --max-jump DUR    a line whose ts is more than DUR ahead of the newest ts so far\n"
        "                    is malformed (replay has no wall clock: one far-future ts\n"
        "                    would otherwise end every window); ms, or 500ms, 60s, 15m,\n"
        "                    2h, 1d (default 1d)\n"
        "  --quiet           no summary and no progress on stderr\n"
        "  --progress        progress on stderr every 2 s (default when stderr is a tty)\n"
        "  --set KEY=VALUE   override a configuration key, e.g. rule.user.threshold=3\n"
        "  -h, --help        this text\n\n"
        "exit status: 0 done, 1 stopped by --strict or failed (read or store error),\n"
        "2 usage error (unknown flag, unreadable file, bad configuration)\n",
        LG_STORE_BATCH_MAX);
}

/* Parses argv into o. Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, replay_opts *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"db", required_argument, NULL, 'd'},
        {"strict", no_argument, NULL, 's'},       {"quiet", no_argument, NULL, 'q'},
        {"progress", no_argument, NULL, 'p'},     {"set", required_argument, NULL, 'S'},
        {"max-jump", required_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof *o);
    o->progress = isatty(STDERR_FILENO);
    o->max_jump_ms = LG_REPLAY_MAX_JUMP_DEFAULT_MS;
    optind = 0; /* glibc: full re-initialisation, so tests may call commands twice */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case 'd': o->db = optarg; break;
        case 's': o->strict = true; break;
        case 'q': o->quiet = true; break;
        case 'p': o->progress = true; break;
        case 'j':
            if (lg_config_ms_parse(optarg, &o->max_jump_ms) != 0 || o->max_jump_ms < 1 ||
                o->max_jump_ms > LG_TS_MAX_MS) {
                fprintf(stderr, "loginguard replay: invalid --max-jump '%.32s': must be "
                        "1..%lld ms, or a number with a unit (500ms, 60s, 15m, 2h, 1d)\n",
                        optarg, LG_TS_MAX_MS);
                return 2;
            }
            break;
        case 'S':
            if (o->n_sets == LG_REPLAY_SETS_MAX) {
                fprintf(stderr, "loginguard replay: more than %d --set options\n",
                        LG_REPLAY_SETS_MAX);
                return 2;
            }
            o->sets[o->n_sets++] = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "loginguard replay: one input file at most, got '%s' and '%s'\n",
                argv[optind], argv[optind + 1]);
        return 2;
    }
    if (optind < argc)
        o->input = argv[optind];
    if (o->quiet)
        o->progress = false;
    return -1;
}

/* Defaults, --config, environment, then each --set KEY=VALUE. */
static int load_config(const replay_opts *o, lg_config *cfg)
{
    char err[512];

    if (lg_config_load(cfg, o->config, err, sizeof err) != 0) {
        fprintf(stderr, "loginguard replay: %s\n", err);
        return LG_EINVAL;
    }
    for (size_t i = 0; i < o->n_sets; i++) {
        if (lg_config_set_kv(cfg, o->sets[i], err, sizeof err) != 0) {
            fprintf(stderr, "loginguard replay: %s\n", err);
            return LG_EINVAL;
        }
    }
    lg_log_set_level(cfg->log_level);
    return 0;
}

/* "L<lineno>-<16 hex>": the same line at the same place always gets the same id, so a
 * second run over the same input stores nothing twice. The line number is zero-padded
 * to 12 digits so that ids sort in input order and the store's id index grows at its
 * end. SipHash under a fixed key is a checksum here, not a secret. */
static void line_id(const char *line, size_t len, uint64_t lineno, char id[LG_ID_MAX + 1])
{
    static const unsigned char key[crypto_shorthash_KEYBYTES] = "loginguard-lines";
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v = 0;

    crypto_shorthash(h, (const unsigned char *)line, len, key);
    for (size_t i = 0; i < sizeof h; i++)
        v = v << 8 | h[i];
    snprintf(id, LG_ID_MAX + 1, "L%012llu-%016llx", (unsigned long long)lineno,
             (unsigned long long)v);
}

static bool is_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return false;
    }
    return true;
}

static void bad_line(replay *r, uint64_t lineno, const char *why)
{
    r->n_bad++;
    fprintf(stderr, "line %llu: %s\n", (unsigned long long)lineno, why);
}

static void print_stats(replay *r, const char *what)
{
    lg_engine_stats st;
    double secs = (double)(lg_mono_ns() - r->t0_ns) / 1e9;
    double rate;

    lg_engine_stats_get(r->engine, &st);
    rate = secs > 0 ? (double)st.attempts / secs : 0;
    fprintf(stderr, "replay%s: %llu lines, %llu attempts (ok %llu, fail %llu, blocked %llu), "
            "%llu bad lines, %llu blocks, %llu late dropped, %.3f s, %.0f events/s",
            what, (unsigned long long)r->n_lines, (unsigned long long)st.attempts,
            (unsigned long long)st.ok, (unsigned long long)st.fail,
            (unsigned long long)st.blocked, (unsigned long long)r->n_bad,
            (unsigned long long)st.blocks, (unsigned long long)st.late_dropped, secs, rate);
    /* full tables (engine.h): what was evicted to make room, and what could not be kept */
    for (size_t i = 0; i < st.n_rules; i++) {
        const lg_engine_rule_stats *rs = &st.rule[i];
        if (rs->keys_evicted_full != 0 || rs->blocks_evicted_full != 0 || rs->keys_full != 0)
            fprintf(stderr, ", rule %s table full: %llu keys and %llu block records evicted, "
                    "%llu not kept", rs->name, (unsigned long long)rs->keys_evicted_full,
                    (unsigned long long)rs->blocks_evicted_full,
                    (unsigned long long)rs->keys_full);
    }
    if (r->writer != NULL) {
        lg_replay_writer_stats ws;
        lg_replay_writer_stats_get(r->writer, &ws);
        fprintf(stderr, ", stored %llu attempts (%llu new) and %llu blocks in %llu batches",
                (unsigned long long)ws.attempts, (unsigned long long)ws.inserted,
                (unsigned long long)ws.blocks, (unsigned long long)ws.batches);
    }
    fputc('\n', stderr);
}

static void maybe_progress(replay *r)
{
    int64_t now = lg_mono_ns();

    if (now < r->progress_ns)
        return;
    r->progress_ns = now + LG_REPLAY_PROGRESS_NS;
    print_stats(r, " progress");
    fflush(stderr);
}

/* Called by lg_engine_judge_batch for each block, in decision order. */
static void on_block(void *opaque, size_t index, const lg_block *b)
{
    replay *r = opaque;
    char out[LG_EVENT_JSON_MAX + 1];
    int n = lg_block_encode(b, out, sizeof out - 1);

    (void)index;
    lg_assert(n > 0);
    out[n] = '\n';
    fwrite(out, 1, (size_t)n + 1, stdout);
    if (r->writer != NULL && r->block_rc == 0) {
        r->block_rc = lg_replay_batch_add_block(r->writer, r->batch, b);
        lg_assert(r->block_rc != LG_EFULL); /* blocks_max = enabled rules x batch size */
    }
}

/* Judges the decoded chunk (the current batch) in one call, prints its blocks and, with
 * --db, hands it to the writer with those blocks. 0 or a negative LG_E* (reported). */
static int chunk_judge(replay *r)
{
    lg_replay_batch *b = r->batch;
    int rc;

    if (b->n_attempts > 0) {
        rc = lg_engine_judge_batch(r->engine, b->attempts, b->n_attempts, on_block, r);
        if (rc == 0)
            rc = r->block_rc;
        if (rc != 0) {
            fprintf(stderr, "loginguard replay: judging lines up to %llu: %s\n",
                    (unsigned long long)r->n_lines, lg_strerror(rc));
            return rc;
        }
    }
    if (r->writer == NULL) {
        b->n_attempts = 0;
        return 0;
    }
    lg_replay_writer_submit(r->writer, b);
    r->batch = lg_replay_writer_batch(r->writer);
    return r->batch != NULL ? 0 : LG_EIO; /* the writer's error is reported at finish */
}

/* Decodes one non-blank line into the chunk. 0 (also for a skipped bad line), 1 to stop
 * (--strict), or a negative LG_E* for a failure of the engine or the store. */
static int replay_line(replay *r, const char *line, size_t len, uint64_t lineno)
{
    lg_attempt *a = &r->batch->attempts[r->batch->n_attempts];
    char err[256];

    if (lg_attempt_decode(line, len, LG_ATTEMPT_REPLAY, a, err, sizeof err) != 0) {
        bad_line(r, lineno, err);
        return r->opts->strict ? 1 : 0;
    }
    /* both ts in [0, LG_TS_MAX_MS]: the difference cannot overflow */
    if (r->have_newest && a->ts_ms - r->newest_ts_ms > r->opts->max_jump_ms) {
        snprintf(err, sizeof err, "field 'ts': jumps %lld ms ahead of the stream (more than "
                 "--max-jump %lld)", (long long)(a->ts_ms - r->newest_ts_ms),
                 (long long)r->opts->max_jump_ms);
        bad_line(r, lineno, err);
        return r->opts->strict ? 1 : 0;
    }
    if (!r->have_newest || a->ts_ms > r->newest_ts_ms) {
        r->newest_ts_ms = a->ts_ms;
        r->have_newest = true;
    }
    if (a->src[0] == '\0')
        memcpy(a->src, "replay", sizeof "replay");
    if (r->writer != NULL && a->id[0] == '\0')
        line_id(line, len, lineno, a->id);
    if (++r->batch->n_attempts == LG_STORE_BATCH_MAX)
        return chunk_judge(r);
    return 0;
}

/* The main loop. Returns the exit status. */
static int replay_all(replay *r)
{
    const char *line;
    size_t len;
    uint64_t lineno = 0;
    int rc;

    /* bounded by the input */
    for (;;) {
        rc = lg_replay_lines_next(r->lines, &line, &len, &lineno);
        if (rc == 0)
            return chunk_judge(r) == 0 ? 0 : 1;
        if (rc == LG_EIO) {
            fprintf(stderr, "loginguard replay: read error after line %llu: %s\n",
                    (unsigned long long)lineno, strerror(errno));
            return 1;
        }
        r->n_lines++;
        if (r->n_lines % LG_REPLAY_TICK_LINES == 0 && r->opts->progress)
            maybe_progress(r);
        if (rc == LG_ETOOBIG) {
            char why[64];
            snprintf(why, sizeof why, "longer than %d bytes", LG_LINE_MAX);
            bad_line(r, lineno, why);
            if (r->opts->strict) {
                (void)chunk_judge(r); /* the lines before it still count */
                return 1;
            }
            continue;
        }
        if (len > 0 && line[len - 1] == '\r')
            len--;
        if (is_blank(line, len))
            continue;
        rc = replay_line(r, line, len, lineno);
        if (rc > 0)
            (void)chunk_judge(r); /* --strict: the lines before it still count */
        if (rc != 0)
            return 1;
    }
}

static int open_input(const char *path, int *fd)
{
    if (path == NULL || strcmp(path, "-") == 0) {
        *fd = STDIN_FILENO;
        return 0;
    }
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        fprintf(stderr, "loginguard replay: cannot open '%s': %s\n", path, strerror(errno));
        return LG_EIO;
    }
    return 0;
}

/* Opens the store and starts its writer. Returns 0 or the exit status. */
static int open_writer(replay *r, const lg_config *cfg, const char *db)
{
    lg_store *store = NULL;
    size_t enabled = 0;
    char err[512];
    int rc;

    for (size_t i = 0; i < cfg->engine.n_rules; i++)
        enabled += cfg->engine.rules[i].enabled;
    if (lg_store_open(db, &store, err, sizeof err) != 0) {
        fprintf(stderr, "loginguard replay: %s\n", err);
        return 2;
    }
    rc = lg_replay_writer_new(store, (enabled ? enabled : 1) * LG_STORE_BATCH_MAX, &r->writer);
    if (rc != 0) {
        lg_store_close(store);
        fprintf(stderr, "loginguard replay: store writer: %s\n", lg_strerror(rc));
        return 1;
    }
    r->batch = lg_replay_writer_batch(r->writer);
    lg_assert(r->batch != NULL);
    return 0;
}

int lg_cmd_replay(int argc, char **argv)
{
    replay_opts opts;
    replay r = {0};
    lg_config *cfg = NULL;
    char err[512];
    int fd = -1;
    int status;
    int rc;

    status = parse_args(argc, argv, &opts);
    if (status >= 0)
        return status;
    r.opts = &opts;
    status = 2;
    if (!isatty(STDERR_FILENO))
        setvbuf(stderr, err_buf, _IOFBF, sizeof err_buf);
    cfg = malloc(sizeof *cfg);
    if (cfg == NULL || sodium_init() < 0)
        goto done;
    if (load_config(&opts, cfg) != 0)
        goto done;
    if (lg_engine_new(&cfg->engine, &r.engine, err, sizeof err) != 0) {
        fprintf(stderr, "loginguard replay: %s\n", err);
        goto done;
    }
    if (open_input(opts.input, &fd) != 0)
        goto done;
    if (lg_replay_lines_new(fd, &r.lines) != 0) {
        status = 1;
        goto done;
    }
    if (opts.db != NULL && (status = open_writer(&r, cfg, opts.db)) != 0)
        goto done;
    if (opts.db == NULL) {
        r.own_batch = calloc(1, sizeof *r.own_batch);
        if (r.own_batch == NULL) {
            status = 1;
            goto done;
        }
        r.batch = r.own_batch;
    }
    setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);
    r.t0_ns = lg_mono_ns();
    r.progress_ns = r.t0_ns + LG_REPLAY_PROGRESS_NS;

    status = replay_all(&r);

    if (r.writer != NULL) {
        if (r.batch != NULL) /* emptied by the last chunk_judge: back to the pool */
            lg_replay_writer_submit(r.writer, r.batch);
        r.batch = NULL;
        rc = lg_replay_writer_finish(r.writer, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "loginguard replay: %s\n", err);
            status = 1;
        }
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "loginguard replay: writing stdout: %s\n", strerror(errno));
        status = 1;
    }
    if (!opts.quiet)
        print_stats(&r, "");
done:
    fflush(stderr);
    lg_replay_writer_free(r.writer);
    lg_replay_lines_free(r.lines);
    lg_engine_free(r.engine);
    free(r.own_batch);
    if (fd > STDIN_FILENO)
        close(fd);
    free(cfg);
    return status;
}
