/*
 * kafka_consumer.c - Kafka consumers of the bus: one rd_kafka_t each, offsets committed
 * by hand (enable.auto.commit=false) after the owner has processed a message.
 *
 * With a group, partitions come and go through the rebalance callback, which librdkafka
 * runs inside rd_kafka_consumer_poll, hence inside lg_bus_poll on the owner's thread:
 * the owner's assigned() may call committed / offset_for_time / seek / seek_time, and the
 * seeks are written into the assignment before it is applied, so no message of a new
 * partition is returned from anywhere but where the owner wants. Without a group the
 * consumer assigns itself every partition of the topic at creation.
 * enable.partition.eof marks each partition that reached its end: caught_up (sticky) and
 * at_end (until a message of that partition is returned again).
 *
 *   consumer_new ──(group)──► JOINING ──rebalance ASSIGN: assigned(), assign──► ASSIGNED
 *        │                       ▲                                                │
 *        │                       └────── rebalance REVOKE: revoked(), unassign ───┘
 *        └──(no group: assign every partition)──► ASSIGNED
 *   consumer_free: rd_kafka_consumer_close (a last revoke) ──► destroyed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/kafka_int.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"

typedef struct kafka_consumer {
    lg_bus_consumer base;
    lg_kafka_bus *kb;
    rd_kafka_t *rk;
    char topic[LG_TOPIC_MAX + 1];
    char group[LG_TOPIC_MAX * 2 + 1];
    bool grouped;
    lg_bus_start start;
    lg_bus_rebalance_cb rebalance;
    bool ever_assigned;
    bool assigned[LG_BUS_PARTITIONS_MAX];
    bool eof[LG_BUS_PARTITIONS_MAX];    /* sticky once the end was reached: caught_up */
    bool at_end[LG_BUS_PARTITIONS_MAX]; /* at the end now: EOF, no message of it since */
    /* inside the assign callback: the list about to be assigned (seeks edit it) */
    rd_kafka_topic_partition_list_t *pending;
    /* messages returned by the last poll, destroyed at the next one */
    rd_kafka_message_t **held;
    size_t n_held, held_cap;
    rd_kafka_t *probe; /* kafka_probe.c, created on first need */
} kafka_consumer;

static bool kc_partition_ok(int32_t partition)
{
    return partition >= 0 && partition < LG_BUS_PARTITIONS_MAX;
}

static void kc_log_partitions(const kafka_consumer *c, const char *what,
                              const rd_kafka_topic_partition_list_t *parts)
{
    char buf[512];
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < parts->cnt && used < sizeof buf; i++) {
        int w = snprintf(buf + used, sizeof buf - used, "%s%d", i > 0 ? "," : "",
                         (int)parts->elems[i].partition);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    lg_log(LG_INFO, "bus", "consumer topic=%s group=%s %s partitions=%s", c->topic,
           c->grouped ? c->group : "-", what, buf);
}

/* The start offset for a partition that has no seek of its own. */
static int64_t kc_start_offset(const kafka_consumer *c)
{
    switch (c->start) {
    case LG_BUS_FROM_BEGINNING: return RD_KAFKA_OFFSET_BEGINNING;
    case LG_BUS_FROM_END: return RD_KAFKA_OFFSET_END;
    case LG_BUS_FROM_COMMITTED:
    default: return c->grouped ? RD_KAFKA_OFFSET_INVALID : RD_KAFKA_OFFSET_BEGINNING;
    }
}

static size_t kc_ids(const kafka_consumer *c, const rd_kafka_topic_partition_list_t *parts,
                     int32_t *ids)
{
    size_t n = 0;
    for (int i = 0; i < parts->cnt; i++) {
        if (strcmp(parts->elems[i].topic, c->topic) == 0 &&
            kc_partition_ok(parts->elems[i].partition))
            ids[n++] = parts->elems[i].partition;
    }
    return n;
}

static void kc_apply(kafka_consumer *c, rd_kafka_topic_partition_list_t *parts, bool add)
{
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(c->rk), "COOPERATIVE") == 0;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_error_t *error = NULL;

    if (cooperative)
        error = add ? rd_kafka_incremental_assign(c->rk, parts)
                    : rd_kafka_incremental_unassign(c->rk, parts);
    else
        e = rd_kafka_assign(c->rk, add ? parts : NULL);
    if (error != NULL) {
        lg_log(LG_ERROR, "bus", "consumer topic=%s %s: %s", c->topic,
               add ? "assign" : "unassign", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        lg_log(LG_ERROR, "bus", "consumer topic=%s %s: %s", c->topic,
               add ? "assign" : "unassign", rd_kafka_err2str(e));
    }
}

static void kc_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kafka_consumer *c = opaque;
    int32_t ids[LG_BUS_PARTITIONS_MAX];
    size_t n = kc_ids(c, parts, ids);

    lg_assert(rk == c->rk);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        kc_log_partitions(c, "assigned", parts);
        for (int i = 0; i < parts->cnt; i++)
            parts->elems[i].offset = kc_start_offset(c);
        for (size_t i = 0; i < n; i++) {
            c->assigned[ids[i]] = true;
            c->eof[ids[i]] = c->at_end[ids[i]] = false;
        }
        c->ever_assigned = true;
        c->pending = parts;
        if (c->rebalance.assigned != NULL)
            c->rebalance.assigned(c->rebalance.opaque, &c->base, ids, n);
        c->pending = NULL;
        kc_apply(c, parts, true);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        kc_log_partitions(c, "revoked", parts);
        if (c->rebalance.revoked != NULL)
            c->rebalance.revoked(c->rebalance.opaque, &c->base, ids, n);
        for (size_t i = 0; i < n; i++) {
            c->assigned[ids[i]] = false;
            c->eof[ids[i]] = c->at_end[ids[i]] = false;
        }
        kc_apply(c, parts, false);
    } else {
        lg_log(LG_ERROR, "bus", "consumer topic=%s rebalance error: %s", c->topic,
               rd_kafka_err2str(err));
        for (size_t i = 0; i < LG_BUS_PARTITIONS_MAX; i++)
            c->assigned[i] = c->eof[i] = c->at_end[i] = false;
        rd_kafka_assign(c->rk, NULL);
    }
}

/* Without a group: every partition of the topic, from the start position. FROM_END is
 * resolved to the high watermarks now, so "published after subscribing" is exact. */
static int kc_assign_all(kafka_consumer *c, char *err, size_t err_len)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, c->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t e;
    int cnt, rc = 0;

    if (rkt == NULL) {
        snprintf(err, err_len, "topic '%s': %s", c->topic, rd_kafka_err2str(rd_kafka_last_error()));
        return LG_EINVAL;
    }
    e = rd_kafka_metadata(c->rk, 0, rkt, &md, LG_KAFKA_OP_TIMEOUT_MS);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && (md->topic_cnt != 1 || md->topics[0].err != 0))
        e = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, err_len, "topic '%s' on %s: %s", c->topic, c->kb->brokers,
                 rd_kafka_err2str(e));
        rc = lg_bus__kafka_err(e);
        goto done;
    }
    cnt = md->topics[0].partition_cnt;
    if (cnt <= 0 || cnt > LG_BUS_PARTITIONS_MAX) {
        snprintf(err, err_len, "topic '%s' has %d partitions, expected 1..%d", c->topic, cnt,
                 LG_BUS_PARTITIONS_MAX);
        rc = LG_EINVAL;
        goto done;
    }
    parts = rd_kafka_topic_partition_list_new(cnt);
    for (int32_t p = 0; p < cnt; p++) {
        int64_t lo = 0, hi = 0;
        int64_t off = kc_start_offset(c);
        if (c->start == LG_BUS_FROM_END) {
            e = rd_kafka_query_watermark_offsets(c->rk, c->topic, p, &lo, &hi,
                                                 LG_KAFKA_OP_TIMEOUT_MS);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
                snprintf(err, err_len, "topic '%s' partition %d: end offset: %s", c->topic,
                         (int)p, rd_kafka_err2str(e));
                rc = lg_bus__kafka_err(e);
                goto done;
            }
            off = hi;
        }
        rd_kafka_topic_partition_list_add(parts, c->topic, p)->offset = off;
        c->assigned[p] = true;
    }
    e = rd_kafka_assign(c->rk, parts);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, err_len, "topic '%s': assign: %s", c->topic, rd_kafka_err2str(e));
        rc = lg_bus__kafka_err(e);
        goto done;
    }
    c->ever_assigned = true;
    kc_log_partitions(c, "assigned", parts);
done:
    if (parts != NULL)
        rd_kafka_topic_partition_list_destroy(parts);
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

static rd_kafka_conf_t *kc_conf_new(kafka_consumer *c, char *err, size_t err_len)
{
    char num[32];
    rd_kafka_conf_t *conf = lg_bus__kafka_conf_new(c->kb, err, err_len);
    const lg_bus_conf *bc = &c->kb->conf;

    if (conf == NULL)
        return NULL;
    if (c->grouped) {
        snprintf(num, sizeof num, "%d", (int)bc->session_timeout_ms);
        if (lg_bus__kafka_conf_set(conf, "group.id", c->group, err, err_len) < 0 ||
            lg_bus__kafka_conf_set(conf, "session.timeout.ms", num, err, err_len) < 0 ||
            lg_bus__kafka_conf_set(conf, "heartbeat.interval.ms", LG_KAFKA_HEARTBEAT_MS, err,
                                   err_len) < 0)
            goto fail;
        rd_kafka_conf_set_rebalance_cb(conf, kc_rebalance_cb);
    } else if (lg_bus__kafka_conf_set(conf, "group.id", LG_KAFKA_NO_GROUP, err, err_len) < 0) {
        goto fail; /* librdkafka's assign needs some group.id even if none is joined */
    }
    snprintf(num, sizeof num, "%d", (int)bc->fetch_wait_max_ms);
    if (lg_bus__kafka_conf_set(conf, "enable.auto.commit", "false", err, err_len) < 0 ||
        lg_bus__kafka_conf_set(conf, "enable.auto.offset.store", "false", err, err_len) < 0 ||
        lg_bus__kafka_conf_set(conf, "enable.partition.eof", "true", err, err_len) < 0 ||
        lg_bus__kafka_conf_set(conf, "fetch.wait.max.ms", num, err, err_len) < 0 ||
        lg_bus__kafka_conf_set(conf, "auto.offset.reset",
                               c->start == LG_BUS_FROM_END ? "latest" : "earliest", err,
                               err_len) < 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, c);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

int lg_bus__kafka_consumer_new(lg_bus *bus, const lg_bus_sub *sub, lg_bus_consumer **out,
                               char *err, size_t err_len)
{
    lg_kafka_bus *kb = (lg_kafka_bus *)bus;
    kafka_consumer *c;
    rd_kafka_conf_t *conf;
    rd_kafka_topic_partition_list_t *topics;
    rd_kafka_resp_err_t e;
    char why[512];
    int rc;

    if (strlen(sub->topic) > LG_TOPIC_MAX ||
        (sub->group != NULL && strlen(sub->group) >= sizeof ((kafka_consumer *)0)->group)) {
        snprintf(err, err_len, "topic or group name too long ('%s')", sub->topic);
        return LG_ETOOBIG;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, err_len, "kafka consumer: out of memory");
        return LG_ENOMEM;
    }
    c->base.ops = bus->ops;
    c->kb = kb;
    c->start = sub->start;
    c->rebalance = sub->rebalance;
    c->grouped = sub->group != NULL;
    snprintf(c->topic, sizeof c->topic, "%s", sub->topic);
    if (c->grouped)
        snprintf(c->group, sizeof c->group, "%s", sub->group);
    conf = kc_conf_new(c, err, err_len);
    if (conf == NULL) {
        rc = LG_EINVAL;
        goto fail_free;
    }
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (c->rk == NULL) {
        snprintf(err, err_len, "kafka consumer of '%s': %s", c->topic, why);
        rd_kafka_conf_destroy(conf);
        rc = LG_EINVAL;
        goto fail_free;
    }
    rd_kafka_poll_set_consumer(c->rk);
    if (c->grouped) {
        topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, c->topic, RD_KAFKA_PARTITION_UA);
        e = rd_kafka_subscribe(c->rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, err_len, "kafka subscribe to '%s': %s", c->topic,
                     rd_kafka_err2str(e));
            rc = lg_bus__kafka_err(e);
            goto fail_destroy;
        }
    } else {
        rc = kc_assign_all(c, err, err_len);
        if (rc < 0)
            goto fail_destroy;
    }
    *out = &c->base;
    return 0;

fail_destroy:
    rd_kafka_destroy(c->rk);
fail_free:
    free(c);
    return rc;
}

static void kc_release_held(kafka_consumer *c)
{
    for (size_t i = 0; i < c->n_held; i++)
        rd_kafka_message_destroy(c->held[i]);
    c->n_held = 0;
}

void lg_bus__kafka_consumer_free(lg_bus_consumer *base)
{
    kafka_consumer *c = (kafka_consumer *)base;
    rd_kafka_resp_err_t e;

    kc_release_held(c);
    /* leaves the group now (a last revoke runs the owner's revoked()), so the others
     * take over at once instead of after session.timeout.ms */
    e = rd_kafka_consumer_close(c->rk);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        lg_log(LG_WARN, "bus", "consumer topic=%s close: %s", c->topic, rd_kafka_err2str(e));
    rd_kafka_destroy(c->rk);
    lg_bus__kafka_probe_free(c->probe);
    free(c->held);
    free(c);
}

int lg_bus__kafka_poll(lg_bus_consumer *base, lg_bus_msg *msgs, size_t cap, size_t *n,
                       int timeout_ms)
{
    kafka_consumer *c = (kafka_consumer *)base;
    size_t got = 0;
    int wait_ms = timeout_ms;

    kc_release_held(c);
    if (cap > c->held_cap) {
        rd_kafka_message_t **h = realloc(c->held, cap * sizeof *h);
        if (h == NULL)
            return LG_ENOMEM;
        c->held = h;
        c->held_cap = cap;
    }
    /* bounded by cap messages; only the first call waits, the rest take what is queued */
    while (got < cap) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, wait_ms);
        if (m == NULL)
            break;
        wait_ms = 0;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (kc_partition_ok(m->partition))
                c->eof[m->partition] = c->at_end[m->partition] = true;
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            lg_log(LG_WARN, "bus", "consumer topic=%s partition=%d: %s", c->topic,
                   (int)m->partition, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (kc_partition_ok(m->partition))
            c->at_end[m->partition] = false;
        c->held[c->n_held++] = m;
        msgs[got] = (lg_bus_msg){
            .topic = c->topic,
            .partition = m->partition,
            .offset = m->offset,
            .ts_ms = rd_kafka_message_timestamp(m, NULL),
            .key = m->key,
            .key_len = m->key_len,
            .value = m->payload,
            .value_len = m->payload != NULL ? m->len : 0,
        };
        got++;
    }
    *n = got;
    return 0;
}

static rd_kafka_topic_partition_list_t *kc_one(const kafka_consumer *c, int32_t partition,
                                               int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, c->topic, partition)->offset = offset;
    return l;
}

int lg_bus__kafka_commit(lg_bus_consumer *base, int32_t partition, int64_t next_offset)
{
    kafka_consumer *c = (kafka_consumer *)base;
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t e;

    if (!c->grouped || next_offset < 0)
        return LG_EINVAL;
    l = kc_one(c, partition, next_offset);
    e = rd_kafka_commit(c->rk, l, 0);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        e = l->elems[0].err;
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        lg_log(LG_WARN, "bus", "commit topic=%s partition=%d offset=%lld: %s", c->topic,
               (int)partition, (long long)next_offset, rd_kafka_err2str(e));
        return lg_bus__kafka_err(e);
    }
    return 0;
}

int lg_bus__kafka_committed(lg_bus_consumer *base, int32_t partition, int64_t *next_offset)
{
    kafka_consumer *c = (kafka_consumer *)base;
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t e;
    int64_t off;

    if (!c->grouped) {
        *next_offset = -1;
        return 0;
    }
    l = kc_one(c, partition, RD_KAFKA_OFFSET_INVALID);
    e = rd_kafka_committed(c->rk, l, LG_KAFKA_OP_TIMEOUT_MS);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        e = l->elems[0].err;
    off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        lg_log(LG_WARN, "bus", "committed topic=%s partition=%d: %s", c->topic,
               (int)partition, rd_kafka_err2str(e));
        return lg_bus__kafka_err(e);
    }
    *next_offset = off >= 0 ? off : -1;
    return 0;
}

int lg_bus__kafka_seek(lg_bus_consumer *base, int32_t partition, int64_t offset)
{
    kafka_consumer *c = (kafka_consumer *)base;
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_error_t *error;
    rd_kafka_resp_err_t e;

    if (!kc_partition_ok(partition) || offset < 0)
        return LG_EINVAL;
    if (c->pending != NULL) {
        /* inside assigned(): the assignment is not applied yet, so set where it starts */
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(c->pending, c->topic, partition);
        if (tp == NULL)
            return LG_ENOTFOUND;
        tp->offset = offset;
        c->eof[partition] = c->at_end[partition] = false;
        return 0;
    }
    if (!c->assigned[partition])
        return LG_ENOTFOUND;
    l = kc_one(c, partition, offset);
    error = rd_kafka_seek_partitions(c->rk, l, LG_KAFKA_OP_TIMEOUT_MS);
    e = error != NULL ? rd_kafka_error_code(error) : l->elems[0].err;
    if (error != NULL)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        lg_log(LG_WARN, "bus", "seek topic=%s partition=%d offset=%lld: %s", c->topic,
               (int)partition, (long long)offset, rd_kafka_err2str(e));
        return lg_bus__kafka_err(e);
    }
    c->eof[partition] = c->at_end[partition] = false;
    return 0;
}

/*
 * The broker's time index answers first (ListOffsets by timestamp). "No such offset"
 * (-1) means either that every message is older than ts_ms or, on librdkafka's mock
 * cluster, that it does not implement timestamps; the probe tells them apart by reading
 * the last message, and bisects when that one is recent.
 */
int lg_bus__kafka_offset_for_time(lg_bus_consumer *base, int32_t partition, int64_t ts_ms,
                                  int64_t *offset)
{
    kafka_consumer *c = (kafka_consumer *)base;
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t e;
    int64_t off, lo = 0, hi = 0;

    if (!kc_partition_ok(partition))
        return LG_EINVAL;
    l = kc_one(c, partition, ts_ms < 0 ? 0 : ts_ms);
    e = rd_kafka_offsets_for_times(c->rk, l, LG_KAFKA_OP_TIMEOUT_MS);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        e = l->elems[0].err;
    off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        lg_log(LG_WARN, "bus", "offset for time topic=%s partition=%d ts=%lld: %s", c->topic,
               (int)partition, (long long)ts_ms, rd_kafka_err2str(e));
        return lg_bus__kafka_err(e);
    }
    if (off >= 0) {
        *offset = off;
        return 0;
    }
    e = rd_kafka_query_watermark_offsets(c->rk, c->topic, partition, &lo, &hi,
                                         LG_KAFKA_OP_TIMEOUT_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        lg_log(LG_WARN, "bus", "watermarks topic=%s partition=%d: %s", c->topic,
               (int)partition, rd_kafka_err2str(e));
        return lg_bus__kafka_err(e);
    }
    if (lo >= hi) {
        *offset = hi;
        return 0;
    }
    return lg_bus__kafka_probe_offset(c->kb, &c->probe, c->topic, partition, lo, hi, ts_ms,
                                      offset);
}

int lg_bus__kafka_ts_at(lg_bus_consumer *base, int32_t partition, int64_t offset,
                        int64_t *ts_ms)
{
    kafka_consumer *c = (kafka_consumer *)base;

    if (!kc_partition_ok(partition) || offset < 0)
        return LG_EINVAL;
    return lg_bus__kafka_probe_ts(c->kb, &c->probe, c->topic, partition, offset, ts_ms);
}

int lg_bus__kafka_seek_time(lg_bus_consumer *base, int32_t partition, int64_t ts_ms)
{
    int64_t off;
    int rc = lg_bus__kafka_offset_for_time(base, partition, ts_ms, &off);
    if (rc < 0)
        return rc;
    return lg_bus__kafka_seek(base, partition, off);
}

bool lg_bus__kafka_caught_up(lg_bus_consumer *base)
{
    kafka_consumer *c = (kafka_consumer *)base;
    if (!c->ever_assigned)
        return false;
    for (size_t p = 0; p < LG_BUS_PARTITIONS_MAX; p++) {
        if (c->assigned[p] && !c->eof[p])
            return false;
    }
    return true;
}

bool lg_bus__kafka_at_end(lg_bus_consumer *base, int32_t partition)
{
    kafka_consumer *c = (kafka_consumer *)base;
    return kc_partition_ok(partition) && c->assigned[partition] && c->at_end[partition];
}
