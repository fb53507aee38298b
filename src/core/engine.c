/*
 * engine.c - the detection engine: rules over exact sliding windows (window.c), last
 * blocks with escalation (blocktab.c), keys as keyed 128-bit fingerprints (keyhash.c).
 *
 * One attempt: advance the engine clock to max(clock, ts) (unless the caller drives the
 * clock: lg_engine_clock_set); if an alive block of any
 * enabled rule applying to the attempt covers ts, the outcome is BLOCKED and nothing is
 * counted; else a success clears each applying rule's window (reset_on_success) and a
 * failure is counted by each, possibly completing a block. A blocked key's window entry
 * caches its block (window.h, LG_WINDOW_HINT_CACHED), so that the attempts of an attack,
 * refused for the whole block, skip the block table. Then each table's sweeper
 * looks at LG_ENGINE_SWEEP_SLOTS slots, so eviction costs O(1) per attempt.
 *
 * lg_engine_judge_batch gives the same outcomes as judging one at a time, but hashes
 * LG_ENGINE_PIPE attempts ahead and prefetches their table slots, so that the cache
 * misses of consecutive keys overlap instead of adding up.
 */
#include "core/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/blocktab.h"
#include "core/err.h"
#include "core/keyhash.h"
#include "core/lgassert.h"
#include "core/window.h"

/* each table's sweeper looks at SWEEP_SLOTS slots every SWEEP_EVERY attempts (2 per
 * attempt, in fewer calls): a pass over a full default table (1.2 M slots) takes 600 k
 * attempts, while inserts needing room sweep more themselves. Runs of 64 slots (3 KiB of
 * window entries) are long enough for the hardware prefetcher to stream them; runs of
 * 16 missed the cache on nearly every entry. */
#define LG_ENGINE_SWEEP_EVERY 32
#define LG_ENGINE_SWEEP_SLOTS 64
/* batch look-ahead: attempts hashed and prefetched before they are judged */
#define LG_ENGINE_PIPE 16

enum { KT_USER = 1u << LG_RULE_KEY_USER, KT_IP = 1u << LG_RULE_KEY_IP,
       KT_USER_IP = 1u << LG_RULE_KEY_USER_IP };

/* A key slot: what one or more rules key an attempt by. Rules of one key type share a
 * slot, and so do IP-keyed rules only when they group IPv6 by the same prefix. */
typedef struct key_slot {
    lg_rule_key key;
    uint32_t ipv6_prefix; /* rules keyed on the address; 0 for rule key user */
} key_slot;

typedef struct lg_rule {
    lg_rule_conf conf;
    unsigned slot; /* index of its key in lg_keys.h */
    char reason[LG_REASON_MAX + 1];
    size_t name_len, reason_len; /* block_fill copies them on every block */
    uint64_t keys_full;          /* this rule's part of lg_engine_stats.keys_full */
    lg_window win;
    lg_blocktab blocks;
} lg_rule;

/* The fingerprints of one attempt's keys, one per key slot that applies to it; in a
 * batch, also the window entries its rules found a few attempts ahead (candidates that
 * judging re-checks, since the attempts between may have changed the tables). */
typedef struct lg_keys {
    lg_keyhash h[LG_RULES_MAX]; /* by key slot */
    unsigned have;     /* bit s: h[s] is set (slot s applies) */
    unsigned went_set; /* bit i: went[i] is rule i's entry as found ahead */
    unsigned blk_pf;   /* bit i: rule i's block table slot is being prefetched */
    lg_wentry *went[LG_RULES_MAX];
} lg_keys;

struct lg_engine {
    lg_rule rules[LG_RULES_MAX]; /* enabled rules only, in configuration order */
    size_t n_rules;
    unsigned key_types; /* KT_* bits used by some enabled rule */
    key_slot slots[LG_RULES_MAX];
    size_t n_slots;
    lg_keyhash_secret secret;
    /* the eviction clock: largest ts judged (INT64_MIN before any), or the caller's once
     * clock_external (lg_engine_clock_set) */
    int64_t now_ms;
    bool clock_external;
    uint32_t sweep_tick;
    lg_engine_stats st;
};

/* --- configuration -------------------------------------------------------------- */

static void rule_default(lg_rule_conf *r, const char *name, lg_rule_key key, bool enabled,
                         uint32_t threshold, bool reset_on_success)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->key = key;
    r->enabled = enabled;
    r->threshold = threshold;
    r->window_ms = 60000;
    r->block_for_ms = 15 * 60 * 1000;
    r->reset_on_success = reset_on_success;
    r->keys_max = LG_KEYS_MAX_DEFAULT;
    r->ipv6_prefix = LG_IPV6_PREFIX_DEFAULT;
}

void lg_engine_conf_default(lg_engine_conf *conf)
{
    memset(conf, 0, sizeof *conf);
    rule_default(&conf->rules[0], "user", LG_RULE_KEY_USER, true, 5, true);
    /* an address's successes must not excuse its failures against other users */
    rule_default(&conf->rules[1], "ip", LG_RULE_KEY_IP, false, 20, false);
    rule_default(&conf->rules[2], "user_ip", LG_RULE_KEY_USER_IP, false, 5, true);
    conf->n_rules = 3;
    conf->huge_pages = true;
}

static bool name_valid(const char *name)
{
    size_t len = strnlen(name, LG_RULE_NAME_MAX + 1);

    if (len == 0 || len > LG_RULE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int conf_check(const lg_engine_conf *conf, char *err, size_t err_len)
{
    if (conf->n_rules > LG_RULES_MAX) {
        snprintf(err, err_len, "too many rules: %zu (at most %d)", conf->n_rules,
                 LG_RULES_MAX);
        return LG_EINVAL;
    }
    for (size_t i = 0; i < conf->n_rules; i++) {
        const lg_rule_conf *r = &conf->rules[i];

        if (!name_valid(r->name)) {
            snprintf(err, err_len, "rule %zu: name '%.*s' must be 1..%d characters of "
                     "[A-Za-z0-9_-]", i + 1, LG_RULE_NAME_MAX, r->name, LG_RULE_NAME_MAX);
            return LG_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(conf->rules[j].name, r->name) == 0) {
                snprintf(err, err_len, "rule '%s': name used twice", r->name);
                return LG_EINVAL;
            }
        }
        if (r->key != LG_RULE_KEY_USER && r->key != LG_RULE_KEY_IP &&
            r->key != LG_RULE_KEY_USER_IP) {
            snprintf(err, err_len, "rule '%s': unknown key type %d", r->name, (int)r->key);
            return LG_EINVAL;
        }
        if (r->threshold < 1 || r->threshold > LG_THRESHOLD_MAX) {
            snprintf(err, err_len, "rule '%s': threshold %u out of range 1..%d", r->name,
                     r->threshold, LG_THRESHOLD_MAX);
            return LG_EINVAL;
        }
        if (r->window_ms < 1 || r->window_ms > LG_WINDOW_MS_MAX) {
            snprintf(err, err_len, "rule '%s': window_ms %lld out of range 1..%lld",
                     r->name, (long long)r->window_ms, (long long)LG_WINDOW_MS_MAX);
            return LG_EINVAL;
        }
        if (r->block_for_ms < 0 || r->block_for_ms > LG_BLOCK_CAP_MS) {
            snprintf(err, err_len, "rule '%s': block_for_ms %lld out of range 0..%lld",
                     r->name, (long long)r->block_for_ms, (long long)LG_BLOCK_CAP_MS);
            return LG_EINVAL;
        }
        if (r->key != LG_RULE_KEY_USER && (r->ipv6_prefix < 1 || r->ipv6_prefix > 128)) {
            snprintf(err, err_len, "rule '%s': ipv6_prefix %u out of range 1..128", r->name,
                     r->ipv6_prefix);
            return LG_EINVAL;
        }
        if (r->keys_max < 1 || r->keys_max > LG_KEYS_MAX_CAP) {
            snprintf(err, err_len, "rule '%s': keys_max %u out of range 1..%u", r->name,
                     r->keys_max, (unsigned)LG_KEYS_MAX_CAP);
            return LG_EINVAL;
        }
    }
    return 0;
}

/* "5 failures in 60s", or in ms when the window is not whole seconds. */
static void reason_format(const lg_rule_conf *r, char *buf, size_t len)
{
    if (r->window_ms % 1000 == 0)
        snprintf(buf, len, "%u failures in %llds", r->threshold,
                 (long long)(r->window_ms / 1000));
    else
        snprintf(buf, len, "%u failures in %lldms", r->threshold, (long long)r->window_ms);
}

/* The slot of rule r's key, added when no earlier rule keys the same way. */
static unsigned slot_of(lg_engine *e, const lg_rule_conf *r)
{
    key_slot want = {r->key, r->key == LG_RULE_KEY_USER ? 0 : r->ipv6_prefix};

    for (size_t s = 0; s < e->n_slots; s++) {
        if (e->slots[s].key == want.key && e->slots[s].ipv6_prefix == want.ipv6_prefix)
            return (unsigned)s;
    }
    lg_assert(e->n_slots < LG_RULES_MAX);
    e->slots[e->n_slots] = want;
    return (unsigned)e->n_slots++;
}

int lg_engine_new(const lg_engine_conf *conf, lg_engine **out, char *err, size_t err_len)
{
    lg_engine *e;
    int rc;

    lg_assert(conf != NULL);
    lg_assert(out != NULL);
    rc = conf_check(conf, err, err_len);
    if (rc != 0)
        return rc;
    e = calloc(1, sizeof *e);
    if (e == NULL) {
        snprintf(err, err_len, "engine: out of memory");
        return LG_ENOMEM;
    }
    e->now_ms = INT64_MIN;
    rc = lg_keyhash_secret_random(&e->secret);
    if (rc != 0) {
        snprintf(err, err_len, "engine: libsodium failed to initialise");
        goto fail_free;
    }
    for (size_t i = 0; i < conf->n_rules; i++) {
        const lg_rule_conf *rc_conf = &conf->rules[i];
        lg_rule *r = &e->rules[e->n_rules];

        if (!rc_conf->enabled)
            continue;
        r->conf = *rc_conf;
        reason_format(rc_conf, r->reason, sizeof r->reason);
        r->name_len = strnlen(r->conf.name, sizeof r->conf.name);
        r->reason_len = strnlen(r->reason, sizeof r->reason);
        lg_assert(r->name_len < sizeof((lg_block *)0)->rule &&
                  r->reason_len < sizeof((lg_block *)0)->reason);
        rc = lg_window_init(&r->win, rc_conf->threshold, rc_conf->window_ms,
                            rc_conf->keys_max, conf->huge_pages);
        if (rc != 0) {
            snprintf(err, err_len, "rule '%s': cannot allocate %u keys: %s", rc_conf->name,
                     rc_conf->keys_max, lg_strerror(rc));
            goto fail_free;
        }
        rc = lg_blocktab_init(&r->blocks, rc_conf->keys_max, conf->huge_pages);
        if (rc != 0) {
            lg_window_destroy(&r->win);
            snprintf(err, err_len, "rule '%s': cannot allocate its block table: %s",
                     rc_conf->name, lg_strerror(rc));
            goto fail_free;
        }
        e->key_types |= 1u << rc_conf->key;
        r->slot = slot_of(e, rc_conf);
        e->n_rules++;
    }
    *out = e;
    return 0;

fail_free:
    lg_engine_free(e);
    return rc;
}

void lg_engine_free(lg_engine *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n_rules; i++) {
        lg_window_destroy(&e->rules[i].win);
        lg_blocktab_destroy(&e->rules[i].blocks);
    }
    free(e);
}

/* --- keys ------------------------------------------------------------------------- */

/* The text rule slot sl keys an address by: its network (core/addr.h) for IPv6, the
 * address itself for IPv4. ip is an attempt's canonical address or a key's network text;
 * text that is neither is hashed as it is (no attempt has it: such a key finds nothing). */
static size_t slot_ip(const key_slot *sl, const char *ip, size_t ip_len,
                      char net[static LG_IP_MAX + 1], const char **out)
{
    int n;

    lg_assert(sl->key != LG_RULE_KEY_USER);
    if (memchr(ip, ':', ip_len) == NULL ||
        (n = lg_addr_net(ip, ip_len, sl->ipv6_prefix, net)) < 0) {
        *out = ip;
        return ip_len;
    }
    *out = net;
    return (size_t)n;
}

static void keys_compute(const lg_engine *e, const lg_attempt *a, lg_keys *k)
{
    size_t ip_len;

    k->have = 0;
    k->went_set = 0;
    k->blk_pf = 0;
    ip_len = (e->key_types & (KT_IP | KT_USER_IP)) ? strnlen(a->ip, sizeof a->ip) : 0;
    for (size_t s = 0; s < e->n_slots; s++) {
        const key_slot *sl = &e->slots[s];
        char net[LG_IP_MAX + 1], buf[LG_KEY_MAX + 1];
        const char *ip;
        size_t len;

        if (sl->key == LG_RULE_KEY_USER) {
            k->h[s] = lg_keyhash_of(&e->secret, a->user, a->user_len);
            k->have |= 1u << s;
            continue;
        }
        if (ip_len == 0)
            continue; /* rules keyed on the address do not apply */
        len = slot_ip(sl, a->ip, ip_len, net, &ip);
        if (sl->key == LG_RULE_KEY_IP) {
            k->h[s] = lg_keyhash_of(&e->secret, ip, len);
        } else {
            /* "user|ip": an address holds no '|', so the last one splits them unambiguously */
            lg_assert(a->user_len <= LG_USER_MAX);
            lg_assert(len <= LG_IP_MAX);
            memcpy(buf, a->user, a->user_len);
            buf[a->user_len] = '|';
            memcpy(buf + a->user_len + 1, ip, len);
            k->h[s] = lg_keyhash_of(&e->secret, buf, (size_t)a->user_len + 1 + len);
        }
        k->have |= 1u << s;
    }
}

static inline bool rule_applies(const lg_rule *r, const lg_keys *k)
{
    return (k->have & (1u << r->slot)) != 0;
}

/* Writes the block event of rule r from its record; user and ip as the rule keys them. */
static void block_fill(const lg_rule *r, const char *user, size_t user_len, const char *ip,
                       size_t ip_len, const lg_blocktab_rec *rec, lg_block *b)
{
    memset(b, 0, sizeof *b);
    memcpy(b->rule, r->conf.name, r->name_len); /* both fit: checked by lg_engine_new */
    if (r->conf.key != LG_RULE_KEY_IP) {
        lg_assert(user_len <= LG_USER_MAX);
        memcpy(b->user, user, user_len);
    }
    if (r->conf.key != LG_RULE_KEY_USER) {
        lg_assert(ip_len <= LG_IP_MAX);
        memcpy(b->ip, ip, ip_len);
    }
    b->since_ms = rec->since_ms;
    b->until_ms = rec->until_ms;
    b->level = rec->level;
    memcpy(b->reason, r->reason, r->reason_len);
}

/* --- judging ---------------------------------------------------------------------- */

/* Rule r's table had no room for something it had to keep (see lg_engine_stats). */
static void rule_full(lg_engine *e, lg_rule *r)
{
    e->st.keys_full++;
    r->keys_full++;
}

static void sweep(lg_engine *e)
{
    if (++e->sweep_tick < LG_ENGINE_SWEEP_EVERY)
        return;
    e->sweep_tick = 0;
    for (size_t i = 0; i < e->n_rules; i++) {
        lg_window_sweep(&e->rules[i].win, e->now_ms, LG_ENGINE_SWEEP_SLOTS);
        lg_blocktab_sweep(&e->rules[i].blocks, e->now_ms, LG_ENGINE_SWEEP_SLOTS);
    }
}

/* Is ts covered by an alive block of a rule applying to k? went[i] is rule i's window
 * entry for its key (found once per attempt); sets bit i of *may_exist when rule i's key
 * may have a block record (the hint for window states made next). */
static bool is_blocked(lg_engine *e, const lg_keys *k, lg_wentry *const *went,
                       int64_t ts_ms, unsigned *may_exist)
{
    *may_exist = 0;
    for (size_t i = 0; i < e->n_rules; i++) {
        lg_rule *r = &e->rules[i];
        lg_blocktab_rec rec;

        /* most keys have a window entry that knows they have no block record, and a
         * blocked key's entry knows its record */
        if (!rule_applies(r, k) || !lg_window_hint(&r->win, went[i], e->now_ms))
            continue;
        if (lg_window_block_cached(&r->win, went[i], e->now_ms, &rec.since_ms,
                                   &rec.until_ms) &&
            !lg_blocktab_dead(&r->blocks, rec.until_ms, e->now_ms)) {
            *may_exist |= 1u << i;
            if (lg_blocktab_covers(&rec, ts_ms))
                return true;
            continue;
        }
        if (!lg_blocktab_get(&r->blocks, k->h[r->slot], e->now_ms, &rec)) {
            lg_window_hint_set(went[i], false);
            continue;
        }
        *may_exist |= 1u << i;
        if (lg_blocktab_covers(&rec, ts_ms))
            return true;
    }
    return false;
}

static size_t judge_keyed(lg_engine *e, lg_attempt *a, const lg_keys *k, lg_block *blocks)
{
    lg_wentry *went[LG_RULES_MAX];
    size_t n_blocks = 0;
    unsigned hint;

    if (a->ts_ms > e->now_ms && !e->clock_external)
        e->now_ms = a->ts_ms;
    e->st.attempts++;
    for (size_t i = 0; i < e->n_rules; i++) {
        lg_rule *r = &e->rules[i];
        if (!rule_applies(r, k))
            went[i] = NULL;
        else if ((k->went_set >> i) & 1)
            went[i] = lg_window_recheck(&r->win, k->h[r->slot], k->went[i]);
        else
            went[i] = lg_window_find(&r->win, k->h[r->slot]);
    }
    if (a->refused || is_blocked(e, k, went, a->ts_ms, &hint)) {
        a->outcome = LG_OUTCOME_BLOCKED;
        e->st.blocked++;
    } else if (a->ok) {
        a->outcome = LG_OUTCOME_OK;
        e->st.ok++;
        for (size_t i = 0; i < e->n_rules; i++) {
            lg_rule *r = &e->rules[i];
            if (rule_applies(r, k) && r->conf.reset_on_success &&
                lg_window_clear(&r->win, k->h[r->slot], went[i], a->ts_ms, e->now_ms,
                                (hint >> i) & 1) != 0)
                rule_full(e, r); /* its floor could not be kept */
        }
    } else {
        a->outcome = LG_OUTCOME_FAIL;
        e->st.fail++;
        for (size_t i = 0; i < e->n_rules; i++) {
            lg_rule *r = &e->rules[i];
            lg_keyhash h = k->h[r->slot];
            lg_blocktab_rec rec;
            int64_t since_ms = 0;

            if (!rule_applies(r, k))
                continue;
            switch (lg_window_fail(&r->win, h, went[i], a->ts_ms, e->now_ms,
                                   (hint >> i) & 1, &since_ms)) {
            case LG_WINDOW_COUNTED:
                break;
            case LG_WINDOW_LATE:
                e->st.late_dropped++;
                break;
            case LG_WINDOW_FULL:
                rule_full(e, r);
                break;
            case LG_WINDOW_BLOCK:
                /* the fail may have made, reset or removed h's entry: find it again */
                if (lg_blocktab_decide(&r->blocks, h, since_ms, r->conf.block_for_ms,
                                       e->now_ms, &rec) != 0) {
                    rule_full(e, r); /* decided and published, but not remembered */
                    lg_window_hint_set(lg_window_find(&r->win, h), true);
                } else {
                    lg_window_block_cache(&r->win, lg_window_find(&r->win, h),
                                          rec.since_ms, rec.until_ms);
                }
                /* the block names the key as the rule sees it: an IPv6 network */
                char net[LG_IP_MAX + 1];
                const char *ip = "";
                size_t ip_len = 0;
                if (r->conf.key != LG_RULE_KEY_USER)
                    ip_len = slot_ip(&e->slots[r->slot], a->ip, strnlen(a->ip, sizeof a->ip),
                                     net, &ip);
                block_fill(r, a->user, a->user_len, ip, ip_len, &rec, &blocks[n_blocks++]);
                e->st.blocks++;
                break;
            }
        }
    }
    sweep(e);
    return n_blocks;
}

int lg_engine_judge(lg_engine *e, lg_attempt *a, lg_block *blocks, size_t blocks_cap,
                    size_t *n_blocks)
{
    lg_keys k;

    lg_assert(e != NULL && a != NULL);
    if (blocks_cap < LG_RULES_MAX || blocks == NULL)
        return LG_EINVAL;
    keys_compute(e, a, &k);
    *n_blocks = judge_keyed(e, a, &k, blocks);
    return 0;
}

static void prefetch_meta(const lg_engine *e, const lg_keys *k)
{
    for (size_t i = 0; i < e->n_rules; i++) {
        const lg_rule *r = &e->rules[i];
        if (!rule_applies(r, k))
            continue;
        lg_keytab_prefetch_meta(&r->win.tab, k->h[r->slot]);
    }
}

static void prefetch_entry(const lg_engine *e, const lg_keys *k)
{
    for (size_t i = 0; i < e->n_rules; i++) {
        const lg_rule *r = &e->rules[i];
        if (!rule_applies(r, k))
            continue;
        /* a key new to the window table will need the block table looked up */
        if (!lg_keytab_prefetch_entry(&r->win.tab, k->h[r->slot], true) &&
            r->blocks.tab.count > 0) /* the wide table is rarely used: not prefetched */
            lg_keytab_prefetch_meta(&r->blocks.tab, k->h[r->slot]);
    }
}

/* The window entries are in cache by now: find them, and where the hint says a block
 * record may exist, start loading the block table's metadata. */
static void prefetch_block_meta(const lg_engine *e, lg_keys *k)
{
    for (size_t i = 0; i < e->n_rules; i++) {
        const lg_rule *r = &e->rules[i];
        if (!rule_applies(r, k))
            continue;
        int64_t since_ms, until_ms;

        k->went[i] = lg_window_find(&r->win, k->h[r->slot]);
        k->went_set |= 1u << i;
        if (r->blocks.tab.count > 0 && lg_window_hint(&r->win, k->went[i], e->now_ms) &&
            !lg_window_block_cached(&r->win, k->went[i], e->now_ms, &since_ms, &until_ms)) {
            lg_keytab_prefetch_meta(&r->blocks.tab, k->h[r->slot]);
            k->blk_pf |= 1u << i;
        }
    }
}

static void prefetch_block_entry(const lg_engine *e, const lg_keys *k)
{
    for (size_t i = 0; i < e->n_rules; i++) {
        const lg_rule *r = &e->rules[i];
        if ((k->blk_pf >> i) & 1)
            (void)lg_keytab_prefetch_entry(&r->blocks.tab, k->h[r->slot], false);
    }
}

int lg_engine_judge_batch(lg_engine *e, lg_attempt *a, size_t n, lg_engine_block_cb cb,
                          void *opaque)
{
    /* stage 1 (i + PIPE): hash, prefetch window metadata; stage 2 (i + PIPE/2): read
     * tags, prefetch the window entry; stage 3 (i + PIPE/4): find the entry, prefetch
     * block metadata where needed; stage 4 (i + PIPE/8): block entry; stage 5 (i):
     * judge. Keys are pure functions of the attempt, so reusing them is exact; entries
     * found ahead are re-checked; prefetches are only hints. */
    lg_keys ring[LG_ENGINE_PIPE];
    lg_block blocks[LG_RULES_MAX];
    size_t head = n < LG_ENGINE_PIPE ? n : LG_ENGINE_PIPE;

    lg_assert(e != NULL);
    lg_assert(a != NULL || n == 0);
    for (size_t j = 0; j < head; j++) {
        keys_compute(e, &a[j], &ring[j]);
        prefetch_meta(e, &ring[j]);
    }
    for (size_t i = 0; i < n; i++) {
        lg_keys *k = &ring[i % LG_ENGINE_PIPE];

        if (i + LG_ENGINE_PIPE / 2 < n)
            prefetch_entry(e, &ring[(i + LG_ENGINE_PIPE / 2) % LG_ENGINE_PIPE]);
        if (i + LG_ENGINE_PIPE / 4 < n)
            prefetch_block_meta(e, &ring[(i + LG_ENGINE_PIPE / 4) % LG_ENGINE_PIPE]);
        if (i + LG_ENGINE_PIPE / 8 < n)
            prefetch_block_entry(e, &ring[(i + LG_ENGINE_PIPE / 8) % LG_ENGINE_PIPE]);
        size_t nb = judge_keyed(e, &a[i], k, blocks);
        for (size_t b = 0; b < nb && cb != NULL; b++)
            cb(opaque, i, &blocks[b]);
        if (i + LG_ENGINE_PIPE < n) {
            keys_compute(e, &a[i + LG_ENGINE_PIPE], k);
            prefetch_meta(e, k);
        }
    }
    return 0;
}

/* --- blocks from outside ---------------------------------------------------------- */

static lg_rule *rule_by_name(lg_engine *e, const char *name)
{
    for (size_t i = 0; i < e->n_rules; i++) {
        if (strncmp(e->rules[i].conf.name, name, sizeof e->rules[i].conf.name) == 0)
            return &e->rules[i];
    }
    return NULL;
}

int lg_engine_load_block(lg_engine *e, const lg_block *b)
{
    lg_rule *r;
    lg_attempt a;
    lg_keys k;
    lg_blocktab_rec rec;
    size_t user_len, ip_len;
    int rc;

    lg_assert(e != NULL && b != NULL);
    r = rule_by_name(e, b->rule);
    if (r == NULL)
        return LG_ENOTFOUND; /* unknown or disabled rule */
    user_len = strnlen(b->user, sizeof b->user);
    ip_len = strnlen(b->ip, sizeof b->ip);
    if (user_len > LG_USER_MAX || ip_len > LG_IP_MAX || b->level < 1 ||
        (r->conf.key != LG_RULE_KEY_IP && user_len == 0) ||
        (r->conf.key != LG_RULE_KEY_USER && ip_len == 0))
        return LG_EINVAL;
    memset(&a, 0, sizeof a);
    memcpy(a.user, b->user, user_len);
    a.user_len = (uint32_t)user_len;
    memcpy(a.ip, b->ip, ip_len);
    keys_compute(e, &a, &k);
    lg_assert(rule_applies(r, &k));
    /* a block older than the key's record is history this engine is already past (a
     * detector reading its own block back after deciding the next, escalated one, in the
     * same catch-up batch): replacing the record would shorten the newer block and lower
     * the next level */
    if (lg_blocktab_get(&r->blocks, k.h[r->slot], e->now_ms, &rec) &&
        rec.since_ms > b->since_ms)
        return 0;
    rec.since_ms = b->since_ms;
    rec.until_ms = b->until_ms;
    rec.level = b->level;
    rc = lg_blocktab_put(&r->blocks, k.h[r->slot], &rec, e->now_ms);
    if (rc != 0) {
        rule_full(e, r);
        return rc;
    }
    /* as if decided here: the window is cleared up to since */
    lg_keyhash h = k.h[r->slot];
    if (lg_window_clear(&r->win, h, lg_window_find(&r->win, h), b->since_ms, e->now_ms,
                        true) != 0)
        rule_full(e, r);
    lg_window_hint_set(lg_window_find(&r->win, h), true);
    return 0;
}

/* A key as lg_block_key() forms it, read back: "<rule>:" names the rule (a rule name
 * holds no ':'), the rest is that rule's key: the user, the address (or network), or
 * "<user>|<ip>" split at the last '|' (an address or network text holds none). */
typedef struct key_view {
    lg_rule *r;
    const char *user, *ip; /* borrowed from the key */
    size_t user_len, ip_len;
} key_view;

static bool key_view_parse(lg_engine *e, const char *key, size_t len, key_view *v)
{
    const char *colon = memchr(key, ':', len < LG_RULE_NAME_MAX + 1 ? len : LG_RULE_NAME_MAX + 1);
    const char *rest, *bar = NULL;
    size_t rest_len;

    if (colon == NULL)
        return false;
    *v = (key_view){NULL, "", "", 0, 0};
    for (size_t i = 0; i < e->n_rules && v->r == NULL; i++) {
        if (e->rules[i].name_len == (size_t)(colon - key) &&
            memcmp(e->rules[i].conf.name, key, e->rules[i].name_len) == 0)
            v->r = &e->rules[i];
    }
    if (v->r == NULL)
        return false; /* a rule that is off here, or no rule at all */
    rest = colon + 1;
    rest_len = len - (size_t)(rest - key);
    switch (v->r->conf.key) {
    case LG_RULE_KEY_USER:
        v->user = rest;
        v->user_len = rest_len;
        break;
    case LG_RULE_KEY_IP:
        v->ip = rest;
        v->ip_len = rest_len;
        break;
    case LG_RULE_KEY_USER_IP:
        for (size_t i = rest_len; i > 0 && bar == NULL; i--) {
            if (rest[i - 1] == '|')
                bar = rest + i - 1;
        }
        if (bar == NULL)
            return false;
        v->user = rest;
        v->user_len = (size_t)(bar - rest);
        v->ip = bar + 1;
        v->ip_len = rest_len - v->user_len - 1;
        break;
    }
    return (v->r->conf.key == LG_RULE_KEY_IP || (v->user_len >= 1 && v->user_len <= LG_USER_MAX)) &&
           (v->r->conf.key == LG_RULE_KEY_USER || (v->ip_len >= 1 && v->ip_len <= LG_IP_MAX));
}

static lg_keyhash key_view_hash(const lg_engine *e, const key_view *v)
{
    lg_attempt a;
    lg_keys k;

    memset(&a, 0, sizeof a);
    memcpy(a.user, v->user, v->user_len);
    a.user_len = (uint32_t)v->user_len;
    memcpy(a.ip, v->ip, v->ip_len);
    keys_compute(e, &a, &k);
    lg_assert(rule_applies(v->r, &k));
    return k.h[v->r->slot];
}

int lg_engine_unblock(lg_engine *e, const char *key, size_t key_len)
{
    key_view v;

    lg_assert(e != NULL && key != NULL);
    if (!key_view_parse(e, key, key_len, &v))
        return LG_ENOTFOUND;
    lg_keyhash h = key_view_hash(e, &v);
    /* the window entry may have cached the record: it no longer exists */
    lg_window_hint_set(lg_window_find(&v.r->win, h), false);
    return lg_blocktab_forget(&v.r->blocks, h, e->now_ms) ? 0 : LG_ENOTFOUND;
}

bool lg_engine_blocked(lg_engine *e, const char *key, size_t key_len, int64_t now_ms,
                       lg_block *out)
{
    key_view v;
    lg_blocktab_rec rec;

    lg_assert(e != NULL && key != NULL);
    if (!key_view_parse(e, key, key_len, &v))
        return false;
    if (!lg_blocktab_get(&v.r->blocks, key_view_hash(e, &v), e->now_ms, &rec) ||
        !lg_blocktab_covers(&rec, now_ms))
        return false;
    if (out != NULL)
        block_fill(v.r, v.user, v.user_len, v.ip, v.ip_len, &rec, out);
    return true;
}

void lg_engine_stats_get(const lg_engine *e, lg_engine_stats *out)
{
    lg_engine_stats s = e->st;

    s.keys_tracked = s.keys_evicted = s.blocks_tracked = 0;
    s.keys_evicted_full = s.blocks_evicted_full = 0;
    s.bytes = sizeof *e;
    s.bytes_blocks = 0;
    s.n_rules = e->n_rules;
    for (size_t i = 0; i < e->n_rules; i++) {
        const lg_rule *r = &e->rules[i];
        lg_engine_rule_stats *rs = &s.rule[i];

        memcpy(rs->name, r->conf.name, sizeof rs->name);
        rs->keys_evicted_full = r->win.evicted_full;
        rs->blocks_evicted_full = r->blocks.evicted;
        rs->keys_full = r->keys_full;
        s.keys_evicted_full += rs->keys_evicted_full;
        s.blocks_evicted_full += rs->blocks_evicted_full;
        s.keys_tracked += r->win.tab.count;
        s.keys_evicted += r->win.evicted;
        s.blocks_tracked += lg_blocktab_count(&r->blocks);
        s.bytes += lg_keytab_bytes(&r->win.tab) + lg_blocktab_bytes(&r->blocks);
        s.bytes_blocks += lg_blocktab_bytes(&r->blocks);
    }
    *out = s;
}

void lg_engine_clock_set(lg_engine *e, int64_t clock_ms)
{
    lg_assert(e != NULL);
    e->clock_external = true;
    if (clock_ms > e->now_ms)
        e->now_ms = clock_ms;
}

int64_t lg_engine_clock(const lg_engine *e)
{
    return e->now_ms;
}
