/*
 * test_engine_random.c - the engine against a deliberately naive reference on random
 * streams: every outcome, every block and the counters must be identical.
 *
 * The reference follows the plain statement of engine.h with none of the engine's
 * machinery: per rule and key string it keeps every counted failure in a plain array,
 * the largest counted failure (newest) and the last clear (floor); a failure counts iff
 * ts > floor and ts > newest - window_ms; after it, the failures still inside
 * (newest - window_ms, newest] are sorted and rescanned for `threshold` of them spanning
 * strictly less than window_ms. Idle keys (max(newest, floor) window_ms or more behind
 * the clock) and block records 24 h past their end are dropped when next looked at.
 * Streams: few keys so blocks are frequent, in-order and late events, successes, jumps
 * of more than a window and of about a day, unblocks and loaded blocks, single and batch
 * judging, several thresholds, windows and durations (0 = permanent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/engine.h"
#include "core/err.h"

#define DAY_MS (24LL * 3600 * 1000)
#define REF_KEYS 64
#define REF_TS_MAX 256 /* counted failures kept per key: > LG_THRESHOLD_MAX in a window */
#define BATCH_MAX 64

/* --- deterministic randomness ------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int64_t rnd_below(int64_t n) /* 0 .. n-1, n >= 1 */
{
    return (int64_t)(rnd() % (uint64_t)n);
}

static bool chance(int percent_x10) /* per mille */
{
    return rnd_below(1000) < percent_x10;
}

/* --- the reference --------------------------------------------------------------------- */

typedef struct ref_win {
    bool used;
    char key[LG_KEY_MAX + 8];
    bool has_fail, has_floor;
    int64_t newest, floor;
    int64_t ts[REF_TS_MAX];
    size_t n;
} ref_win;

typedef struct ref_blk {
    bool used;
    char key[LG_KEY_MAX + 8];
    int64_t since, until;
    uint32_t level;
} ref_blk;

typedef struct ref_rule {
    lg_rule_conf c;
    ref_win win[REF_KEYS];
    ref_blk blk[REF_KEYS];
} ref_rule;

typedef struct ref {
    ref_rule rules[LG_RULES_MAX];
    size_t n_rules;
    bool have_now;
    int64_t now;
    lg_engine_stats st;
} ref;

static void ref_init(ref *r, const lg_engine_conf *c)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < c->n_rules; i++) {
        if (c->rules[i].enabled)
            r->rules[r->n_rules++].c = c->rules[i];
    }
}

/* The rule's key of an attempt, or false when the rule does not apply to it. */
static bool ref_key(const ref_rule *rr, const char *user, const char *ip, char *out, size_t len)
{
    switch (rr->c.key) {
    case LG_RULE_KEY_USER:
        snprintf(out, len, "%s", user);
        return true;
    case LG_RULE_KEY_IP:
        snprintf(out, len, "%s", ip);
        return ip[0] != '\0';
    case LG_RULE_KEY_USER_IP:
        snprintf(out, len, "%s|%s", user, ip);
        return ip[0] != '\0';
    }
    return false;
}

static int64_t ref_last(const ref_win *w)
{
    if (w->has_fail && w->has_floor)
        return w->newest > w->floor ? w->newest : w->floor;
    return w->has_fail ? w->newest : w->floor;
}

static ref_win *ref_win_get(ref *r, ref_rule *rr, const char *key)
{
    ref_win *free_slot = NULL;

    for (size_t i = 0; i < REF_KEYS; i++) {
        ref_win *w = &rr->win[i];
        if (w->used && strcmp(w->key, key) == 0) {
            if (r->have_now && r->now - ref_last(w) >= rr->c.window_ms)
                w->used = false; /* idle: as if never seen */
            else
                return w;
        }
        if (!w->used && free_slot == NULL)
            free_slot = w;
    }
    assert_non_null(free_slot);
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->used = true;
    snprintf(free_slot->key, sizeof free_slot->key, "%s", key);
    return free_slot;
}

static ref_blk *ref_blk_get(ref *r, ref_rule *rr, const char *key)
{
    for (size_t i = 0; i < REF_KEYS; i++) {
        ref_blk *b = &rr->blk[i];
        if (!b->used || strcmp(b->key, key) != 0)
            continue;
        if (b->until != 0 && r->have_now && r->now - b->until >= DAY_MS) {
            b->used = false; /* kept only 24 h past its end */
            return NULL;
        }
        return b;
    }
    return NULL;
}

static ref_blk *ref_blk_put(ref_rule *rr, const char *key)
{
    ref_blk *free_slot = NULL;

    for (size_t i = 0; i < REF_KEYS; i++) {
        if (rr->blk[i].used && strcmp(rr->blk[i].key, key) == 0)
            return &rr->blk[i];
        if (!rr->blk[i].used && free_slot == NULL)
            free_slot = &rr->blk[i];
    }
    assert_non_null(free_slot);
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->used = true;
    snprintf(free_slot->key, sizeof free_slot->key, "%s", key);
    return free_slot;
}

static void ref_clear(ref *r, ref_rule *rr, const char *key, int64_t ts)
{
    ref_win *w = ref_win_get(r, rr, key);
    size_t k = 0;

    if (!w->has_floor || ts > w->floor)
        w->floor = ts;
    w->has_floor = true;
    for (size_t i = 0; i < w->n; i++) {
        if (w->ts[i] > w->floor)
            w->ts[k++] = w->ts[i];
    }
    w->n = k;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t ref_duration(int64_t block_for, uint32_t level)
{
    if (block_for == 0)
        return 0;
    if (level - 1 >= 30) /* 2^30 ms alone exceeds a day */
        return DAY_MS;
    int64_t d = block_for << (level - 1);
    return d < DAY_MS ? d : DAY_MS;
}

/* A failure for rule rr; true and *b filled when it completes a block. */
static bool ref_fail(ref *r, ref_rule *rr, const char *key, int64_t ts, int64_t *since)
{
    ref_win *w = ref_win_get(r, rr, key);
    int64_t win = rr->c.window_ms;

    if ((w->has_floor && ts <= w->floor) || (w->has_fail && ts <= w->newest - win)) {
        r->st.late_dropped++;
        return false;
    }
    assert_true(w->n < REF_TS_MAX);
    w->ts[w->n++] = ts;
    if (!w->has_fail || ts > w->newest)
        w->newest = ts;
    w->has_fail = true;
    /* failures at or below newest - window can never be inside the window again */
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (w->ts[i] > w->newest - win)
            w->ts[k++] = w->ts[i];
    }
    w->n = k;
    int64_t sorted[REF_TS_MAX];
    memcpy(sorted, w->ts, w->n * sizeof sorted[0]);
    qsort(sorted, w->n, sizeof sorted[0], cmp_i64);
    for (size_t i = 0; i + rr->c.threshold <= w->n; i++) {
        int64_t first = sorted[i], last = sorted[i + rr->c.threshold - 1];
        if (last - first < win) {
            *since = last;
            return true;
        }
    }
    return false;
}

static lg_outcome ref_judge(ref *r, const lg_attempt *a, lg_block *out, size_t *n_out)
{
    char key[LG_KEY_MAX + 8];

    *n_out = 0;
    if (!r->have_now || a->ts_ms > r->now)
        r->now = a->ts_ms;
    r->have_now = true;
    r->st.attempts++;
    for (size_t i = 0; i < r->n_rules; i++) {
        ref_rule *rr = &r->rules[i];
        ref_blk *b;
        if (ref_key(rr, a->user, a->ip, key, sizeof key) &&
            (b = ref_blk_get(r, rr, key)) != NULL && a->ts_ms >= b->since &&
            (b->until == 0 || a->ts_ms < b->until)) {
            r->st.blocked++;
            return LG_OUTCOME_BLOCKED;
        }
    }
    if (a->ok) {
        r->st.ok++;
        for (size_t i = 0; i < r->n_rules; i++) {
            ref_rule *rr = &r->rules[i];
            if (rr->c.reset_on_success && ref_key(rr, a->user, a->ip, key, sizeof key))
                ref_clear(r, rr, key, a->ts_ms);
        }
        return LG_OUTCOME_OK;
    }
    r->st.fail++;
    for (size_t i = 0; i < r->n_rules; i++) {
        ref_rule *rr = &r->rules[i];
        int64_t since;
        if (!ref_key(rr, a->user, a->ip, key, sizeof key) || !ref_fail(r, rr, key, a->ts_ms, &since))
            continue;
        ref_blk *prev = ref_blk_get(r, rr, key);
        uint32_t level = prev != NULL && since - prev->since < DAY_MS ? prev->level + 1 : 1;
        int64_t d = ref_duration(rr->c.block_for_ms, level);
        ref_blk *nb = ref_blk_put(rr, key);
        nb->since = since;
        nb->until = d == 0 ? 0 : since + d;
        nb->level = level;
        ref_clear(r, rr, key, since);
        r->st.blocks++;

        lg_block *o = &out[(*n_out)++];
        memset(o, 0, sizeof *o);
        snprintf(o->rule, sizeof o->rule, "%s", rr->c.name);
        if (rr->c.key != LG_RULE_KEY_IP)
            snprintf(o->user, sizeof o->user, "%s", a->user);
        if (rr->c.key != LG_RULE_KEY_USER)
            snprintf(o->ip, sizeof o->ip, "%s", a->ip);
        o->since_ms = nb->since;
        o->until_ms = nb->until;
        o->level = level;
        if (rr->c.window_ms % 1000 == 0)
            snprintf(o->reason, sizeof o->reason, "%u failures in %llds", rr->c.threshold,
                     (long long)(rr->c.window_ms / 1000));
        else
            snprintf(o->reason, sizeof o->reason, "%u failures in %lldms", rr->c.threshold,
                     (long long)rr->c.window_ms);
    }
    return LG_OUTCOME_FAIL;
}

/* Unblock by published key "<rule>:<rule's key>": that rule's block only. */
static int ref_unblock(ref *r, const char *pkey)
{
    for (size_t i = 0; i < r->n_rules; i++) {
        ref_rule *rr = &r->rules[i];
        size_t nl = strlen(rr->c.name);
        ref_blk *b;

        if (strncmp(pkey, rr->c.name, nl) != 0 || pkey[nl] != ':')
            continue;
        if ((b = ref_blk_get(r, rr, pkey + nl + 1)) == NULL)
            return LG_ENOTFOUND;
        b->used = false;
        return 0;
    }
    return LG_ENOTFOUND;
}

static int ref_load(ref *r, const lg_block *b)
{
    char key[LG_KEY_MAX + 8];

    for (size_t i = 0; i < r->n_rules; i++) {
        ref_rule *rr = &r->rules[i];
        if (strcmp(rr->c.name, b->rule) != 0)
            continue;
        assert_true(ref_key(rr, b->user, b->ip, key, sizeof key));
        /* a block older than the key's alive record is history already passed */
        ref_blk *cur = ref_blk_get(r, rr, key);
        if (cur != NULL && cur->since > b->since_ms)
            return 0;
        ref_blk *nb = ref_blk_put(rr, key);
        nb->since = b->since_ms;
        nb->until = b->until_ms;
        nb->level = b->level;
        ref_clear(r, rr, key, b->since_ms);
        return 0;
    }
    return LG_ENOTFOUND;
}

/* --- streams ------------------------------------------------------------------------ */

typedef struct scenario {
    const char *name;
    lg_engine_conf conf;
    int n_users, n_ips;
    int64_t step_ms;    /* typical clock step */
    int small_permille; /* events after a step of at most step_ms */
    int ok_permille;    /* successes */
    int op_permille;    /* unblocks and loaded blocks between events */
    int64_t quantum_ms; /* ts rounded down to a multiple: equal timestamps happen */
    bool batch;
    int events;
} scenario;

static const char *users[] = {"alice", "bob", "carol", "dave", "erin", "frank"};
static const char *ips[] = {"192.0.2.1", "192.0.2.2", "2001:db8::7", "198.51.100.4"};

static void rule_set(lg_rule_conf *r, const char *name, lg_rule_key key, uint32_t threshold,
                     int64_t window_ms, int64_t block_for_ms, bool reset)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->key = key;
    r->enabled = true;
    r->threshold = threshold;
    r->window_ms = window_ms;
    r->block_for_ms = block_for_ms;
    r->reset_on_success = reset;
    r->keys_max = 512;
    r->ipv6_prefix = 128; /* the reference keys an address by its text (all canonical) */
}

static void make_attempt(const scenario *sc, int64_t *clock, int64_t max_window, int64_t max_block,
                         lg_attempt *a)
{
    int64_t r = rnd_below(1000);

    if (r < sc->small_permille)
        *clock += rnd_below(sc->step_ms + 1);
    else if (r < 900)
        *clock += rnd_below(max_window + 1) / 4;
    else if (r < 970)
        *clock += max_window + rnd_below(2 * max_window + 1);
    else if (r < 995)
        *clock += rnd_below(max_block * 2 + 2);
    else
        *clock += DAY_MS - 50 * sc->step_ms + rnd_below(100 * sc->step_ms + 1);

    memset(a, 0, sizeof *a);
    r = rnd_below(1000);
    if (r < 750)
        a->ts_ms = *clock;
    else if (r < 950)
        a->ts_ms = *clock - rnd_below(max_window * 3 / 2 + 1);
    else
        a->ts_ms = *clock - rnd_below(max_window * 5 + 1);
    if (sc->quantum_ms > 1)
        a->ts_ms -= a->ts_ms % sc->quantum_ms;
    snprintf(a->user, sizeof a->user, "%s", users[rnd_below(sc->n_users)]);
    a->user_len = (uint32_t)strlen(a->user);
    if (!chance(200))
        snprintf(a->ip, sizeof a->ip, "%s", ips[rnd_below(sc->n_ips)]);
    a->ok = chance(sc->ok_permille);
    a->outcome = (lg_outcome)rnd_below(3); /* ignored on input */
}

static void expect_same_blocks(const lg_block *want, size_t n_want, const lg_block *got,
                               size_t n_got, int event)
{
    if (n_want != n_got)
        fail_msg("event %d: reference decided %zu blocks, engine %zu", event, n_want, n_got);
    for (size_t i = 0; i < n_want; i++) {
        const lg_block *w = &want[i], *g = &got[i];
        if (strcmp(w->rule, g->rule) != 0 || strcmp(w->user, g->user) != 0 ||
            strcmp(w->ip, g->ip) != 0 || w->since_ms != g->since_ms ||
            w->until_ms != g->until_ms || w->level != g->level ||
            strcmp(w->reason, g->reason) != 0)
            fail_msg("event %d block %zu: want %s %s|%s %lld..%lld L%u '%s', got %s %s|%s "
                     "%lld..%lld L%u '%s'", event, i, w->rule, w->user, w->ip,
                     (long long)w->since_ms, (long long)w->until_ms, w->level, w->reason,
                     g->rule, g->user, g->ip, (long long)g->since_ms, (long long)g->until_ms,
                     g->level, g->reason);
    }
}

/* What the streams reached: the test demands they reach it. */
static uint32_t level_max;
static uint64_t capped;

static void note_blocks(const lg_block *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i].level > level_max)
            level_max = b[i].level;
        if (b[i].until_ms != 0 && b[i].until_ms - b[i].since_ms == DAY_MS)
            capped++;
    }
}

typedef struct batch_blocks {
    lg_block b[BATCH_MAX * LG_RULES_MAX];
    size_t idx[BATCH_MAX * LG_RULES_MAX];
    size_t n;
} batch_blocks;

static void on_block(void *opaque, size_t index, const lg_block *b)
{
    batch_blocks *bb = opaque;
    assert_true(bb->n < BATCH_MAX * LG_RULES_MAX);
    bb->b[bb->n] = *b;
    bb->idx[bb->n++] = index;
}

/* An operator action now and then: unblock a key or load a block, on both sides. */
static void random_op(const scenario *sc, ref *r, lg_engine *e, int64_t clock, int64_t max_window)
{
    char key[LG_BLOCK_KEY_MAX + 1];
    const char *user = users[rnd_below(sc->n_users)];
    const char *ip = ips[rnd_below(sc->n_ips)];
    const ref_rule *rr = &r->rules[rnd_below((int64_t)r->n_rules)];

    if (chance(500)) {
        char rkey[LG_KEY_MAX + 1];

        assert_true(ref_key(rr, user, ip, rkey, sizeof rkey));
        snprintf(key, sizeof key, "%s:%s", rr->c.name, rkey);
        int want = ref_unblock(r, key);
        assert_int_equal(lg_engine_unblock(e, key, strlen(key)), want);
        return;
    }
    lg_block b;
    memset(&b, 0, sizeof b);
    snprintf(b.rule, sizeof b.rule, "%s", chance(50) ? "unknown" : rr->c.name);
    if (rr->c.key != LG_RULE_KEY_IP)
        snprintf(b.user, sizeof b.user, "%s", user);
    if (rr->c.key != LG_RULE_KEY_USER)
        snprintf(b.ip, sizeof b.ip, "%s", ip);
    b.since_ms = clock - rnd_below(2 * max_window + 1);
    b.until_ms = chance(200) ? 0 : b.since_ms + 1 + rnd_below(3 * max_window + 1);
    b.level = 1 + (uint32_t)rnd_below(6);
    int want = ref_load(r, &b);
    assert_int_equal(lg_engine_load_block(e, &b), want);
}

static void run(const scenario *sc, uint64_t seed)
{
    static ref r; /* large: keep it off the stack */
    lg_engine *e = NULL;
    char err[256];
    int64_t clock = 1700000000000LL, max_window = 1, max_block = 1;
    lg_attempt batch[BATCH_MAX], mirror[BATCH_MAX];
    lg_block want[LG_RULES_MAX], got[LG_RULES_MAX];
    static batch_blocks bb;

    rng_state = seed;
    level_max = 0;
    capped = 0;
    if (lg_engine_new(&sc->conf, &e, err, sizeof err) != 0)
        fail_msg("%s: %s", sc->name, err);
    ref_init(&r, &sc->conf);
    for (size_t i = 0; i < r.n_rules; i++) {
        if (r.rules[i].c.window_ms > max_window)
            max_window = r.rules[i].c.window_ms;
        if (r.rules[i].c.block_for_ms > max_block)
            max_block = r.rules[i].c.block_for_ms;
    }
    for (int ev = 0; ev < sc->events;) {
        if (chance(sc->op_permille))
            random_op(sc, &r, e, clock, max_window);
        if (!sc->batch) {
            lg_attempt a;
            size_t n_want, n_got;
            make_attempt(sc, &clock, max_window, max_block, &a);
            lg_outcome o = ref_judge(&r, &a, want, &n_want);
            assert_int_equal(lg_engine_judge(e, &a, got, LG_RULES_MAX, &n_got), 0);
            if (a.outcome != o)
                fail_msg("%s event %d (%s %s ts %lld ok %d): reference %d, engine %d",
                         sc->name, ev, a.user, a.ip, (long long)a.ts_ms, a.ok, o, a.outcome);
            expect_same_blocks(want, n_want, got, n_got, ev);
            note_blocks(got, n_got);
            ev++;
            continue;
        }
        size_t n = 1 + (size_t)rnd_below(BATCH_MAX);
        for (size_t i = 0; i < n; i++)
            make_attempt(sc, &clock, max_window, max_block, &batch[i]);
        memcpy(mirror, batch, sizeof batch);
        bb.n = 0;
        assert_int_equal(lg_engine_judge_batch(e, batch, n, on_block, &bb), 0);
        size_t at = 0;
        for (size_t i = 0; i < n; i++, ev++) {
            size_t n_want, n_got = 0;
            lg_outcome o = ref_judge(&r, &mirror[i], want, &n_want);
            if (batch[i].outcome != o)
                fail_msg("%s event %d: reference %d, engine %d", sc->name, ev, o,
                         batch[i].outcome);
            while (at + n_got < bb.n && bb.idx[at + n_got] == i)
                n_got++;
            expect_same_blocks(want, n_want, &bb.b[at], n_got, ev);
            note_blocks(&bb.b[at], n_got);
            at += n_got;
        }
        assert_int_equal(at, bb.n);
    }
    lg_engine_stats s;
    lg_engine_stats_get(e, &s);
    assert_int_equal(s.attempts, r.st.attempts);
    assert_int_equal(s.ok, r.st.ok);
    assert_int_equal(s.fail, r.st.fail);
    assert_int_equal(s.blocked, r.st.blocked);
    assert_int_equal(s.late_dropped, r.st.late_dropped);
    assert_int_equal(s.blocks, r.st.blocks);
    assert_int_equal(s.keys_full, 0);
    print_message("%s: %llu attempts, %llu blocks, %llu blocked, %llu late, %llu evicted, "
                  "level max %u, %llu capped\n",
                  sc->name, (unsigned long long)s.attempts, (unsigned long long)s.blocks,
                  (unsigned long long)s.blocked, (unsigned long long)s.late_dropped,
                  (unsigned long long)s.keys_evicted, level_max, (unsigned long long)capped);
    for (size_t i = 0; i < r.n_rules; i++)
        print_message("  rule %s key %d: %u in %lld ms, block %lld ms, reset %d\n",
                      r.rules[i].c.name, (int)r.rules[i].c.key, r.rules[i].c.threshold,
                      (long long)r.rules[i].c.window_ms, (long long)r.rules[i].c.block_for_ms,
                      r.rules[i].c.reset_on_success);
    /* the stream must exercise what it claims to */
    assert_true(s.blocks >= 20);
    assert_true(s.blocked >= 20);
    assert_true(s.late_dropped >= 20);
    lg_engine_free(e);
}

static scenario base(const char *name, int events, int64_t step_ms, bool batch)
{
    scenario sc;
    memset(&sc, 0, sizeof sc);
    sc.name = name;
    sc.events = events;
    sc.step_ms = step_ms;
    sc.batch = batch;
    sc.n_users = 6;
    sc.n_ips = 4;
    sc.small_permille = 550;
    sc.ok_permille = 120;
    sc.op_permille = 8;
    return sc;
}

static void test_default_user_rule_matches_reference(void **state)
{
    scenario sc = base("user 5/60s/15min", 20000, 3000, false);
    (void)state;
    rule_set(&sc.conf.rules[0], "user", LG_RULE_KEY_USER, 5, 60000, 15 * 60000, true);
    sc.conf.n_rules = 1;
    run(&sc, 0x1234567ULL);
}

static void test_threshold_1_permanent_blocks_match_reference(void **state)
{
    scenario sc = base("user 1/1s/permanent", 15000, 200, true);
    (void)state;
    sc.op_permille = 300; /* unblocks keep permanent blocks from freezing everything */
    rule_set(&sc.conf.rules[0], "user", LG_RULE_KEY_USER, 1, 1000, 0, true);
    sc.conf.n_rules = 1;
    run(&sc, 0xfeedULL);
}

static void test_three_rules_match_reference(void **state)
{
    scenario sc = base("user+ip+user_ip", 20000, 300, false);
    (void)state;
    sc.quantum_ms = 100;
    rule_set(&sc.conf.rules[0], "user", LG_RULE_KEY_USER, 3, 1500, 7000, true);
    rule_set(&sc.conf.rules[1], "ip", LG_RULE_KEY_IP, 4, 2000, 3000, false);
    rule_set(&sc.conf.rules[2], "user_ip", LG_RULE_KEY_USER_IP, 2, 999, 5000, true);
    sc.conf.n_rules = 3;
    run(&sc, 0xabcdef01ULL);
}

static void test_three_rules_in_batches_match_reference(void **state)
{
    scenario sc = base("user+ip+user_ip batch", 20000, 300, true);
    (void)state;
    rule_set(&sc.conf.rules[0], "user", LG_RULE_KEY_USER, 3, 1500, 7000, true);
    rule_set(&sc.conf.rules[1], "ip", LG_RULE_KEY_IP, 4, 2000, 3000, false);
    rule_set(&sc.conf.rules[2], "user_ip", LG_RULE_KEY_USER_IP, 2, 999, 5000, true);
    sc.conf.n_rules = 3;
    run(&sc, 0x77777ULL);
}

static void test_threshold_64_matches_reference(void **state)
{
    scenario sc = base("user 64/10s", 15000, 10, false);
    (void)state;
    sc.n_users = 1;
    sc.small_permille = 985;
    sc.ok_permille = 5;
    rule_set(&sc.conf.rules[0], "user", LG_RULE_KEY_USER, 64, 10000, 20000, true);
    sc.conf.n_rules = 1;
    run(&sc, 0x64646464ULL);
}

static void test_escalation_to_cap_matches_reference(void **state)
{
    scenario sc = base("user 3/5s/6h + user_slow 8/60s/permanent", 15000, 800, true);
    (void)state;
    sc.n_users = 3;
    sc.small_permille = 900;
    sc.op_permille = 100; /* loaded blocks with short ends and high levels escalate */
    rule_set(&sc.conf.rules[0], "user", LG_RULE_KEY_USER, 3, 5000, 6 * 3600 * 1000LL, true);
    rule_set(&sc.conf.rules[1], "user_slow", LG_RULE_KEY_USER, 8, 60000, 0, false);
    sc.conf.n_rules = 2;
    run(&sc, 0x5eedULL);
    assert_true(level_max >= 4);
    assert_true(capped >= 5);
}

static void test_reset_off_and_odd_windows_match_reference(void **state)
{
    scenario sc = base("user 4/1234ms reset off + ip 2/500ms", 15000, 150, false);
    (void)state;
    sc.quantum_ms = 10;
    rule_set(&sc.conf.rules[0], "user", LG_RULE_KEY_USER, 4, 1234, 1000, false);
    rule_set(&sc.conf.rules[1], "ip", LG_RULE_KEY_IP, 2, 500, 1, true);
    sc.conf.n_rules = 2;
    run(&sc, 0x0dd5ULL);
}

static void test_random_rules_match_reference(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        scenario sc = base("random rules", 5000, 1 + (int64_t)(seed * 97 % 700), seed % 2);
        sc.op_permille = 300;
        sc.quantum_ms = (int64_t)(seed % 3) * 20;
        rng_state = seed * 0x9E3779B97F4A7C15ULL;
        sc.conf.n_rules = 3;
        static const char *names[] = {"user", "ip", "user_ip"};
        for (size_t i = 0; i < 3; i++) {
            static const int64_t blocks[] = {0, 1, 999, 4000, 60000, 3600000};
            rule_set(&sc.conf.rules[i], names[i], (lg_rule_key)i,
                     1 + (uint32_t)rnd_below(8), 100 + rnd_below(4000),
                     /* permanent only on rule user, or blocked addresses freeze all */
                     blocks[i == 0 ? rnd_below(6) : 1 + rnd_below(5)], chance(500));
            sc.conf.rules[i].enabled = i == 0 || chance(600);
        }
        run(&sc, seed * 0x51ED270B27ULL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_user_rule_matches_reference),
        cmocka_unit_test(test_threshold_1_permanent_blocks_match_reference),
        cmocka_unit_test(test_three_rules_match_reference),
        cmocka_unit_test(test_three_rules_in_batches_match_reference),
        cmocka_unit_test(test_threshold_64_matches_reference),
        cmocka_unit_test(test_escalation_to_cap_matches_reference),
        cmocka_unit_test(test_reset_off_and_odd_windows_match_reference),
        cmocka_unit_test(test_random_rules_match_reference),
    };
    return cmocka_run_group_tests_name("engine_random", tests, NULL, NULL);
}
