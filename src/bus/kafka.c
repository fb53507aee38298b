/*
 * kafka.c - the Kafka bus back-end (librdkafka): opening the bus, the topics, the
 * producer. Consumers are in kafka_consumer.c, the timestamp probe in kafka_probe.c.
 *
 * The producer is idempotent with acks=all, so a message the done callback reports as 0
 * is on every in-sync replica exactly once. Its queue is bounded (conf.producer_queue_max,
 * queue.buffering.max.messages): a full queue is back-pressure, lg_bus_publish waits up
 * to timeout_ms and then returns LG_EFULL - it never drops. One thread serves delivery
 * reports (rd_kafka_poll), so done callbacks run there. Keys are placed by librdkafka's
 * default consistent_random partitioner, the one kcat uses, so both agree on partitions.
 * lg.attempts and lg.blocks (compacted) are created at open when missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus/kafka_int.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"

/* The done callback of one message travels with it as the librdkafka msg opaque. */
typedef struct kafka_done {
    lg_bus_done_cb done;
    void *opaque;
} kafka_done;

static const lg_bus_ops kafka_ops;

int lg_bus__kafka_err(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return 0;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        return LG_EFULL;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        return LG_ETOOBIG;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return LG_ETIMEDOUT;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return LG_ENOTFOUND;
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
        return LG_EEXIST;
    case RD_KAFKA_RESP_ERR__DESTROY:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
        return LG_ECLOSED;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__STATE:
        return LG_EINVAL;
    default:
        return LG_EIO;
    }
}

/* librdkafka logs with syslog levels; its errors about brokers are operating errors. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    lg_log_level l = level <= 4 ? LG_WARN : level <= 6 ? LG_INFO : LG_DEBUG;
    lg_log(l, "kafka", "client=%s facility=%s %s", rd_kafka_name(rk), fac, buf);
}

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    /* "all brokers down" and transport errors repeat while a broker is away; librdkafka
     * already suppresses identical repeats, so one line each is what remains */
    lg_log(err == RD_KAFKA_RESP_ERR__FATAL ? LG_ERROR : LG_WARN, "kafka",
           "client=%s error=%s %s", rd_kafka_name(rk),
           rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

int lg_bus__kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                           char *err, size_t err_len)
{
    char why[256];
    if (rd_kafka_conf_set(conf, name, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        snprintf(err, err_len, "kafka setting %s='%s': %s", name, value, why);
        return LG_EINVAL;
    }
    return 0;
}

rd_kafka_conf_t *lg_bus__kafka_conf_new(const lg_kafka_bus *kb, char *err, size_t err_len)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf == NULL) {
        snprintf(err, err_len, "kafka: out of memory for a configuration");
        return NULL;
    }
    if (lg_bus__kafka_conf_set(conf, "bootstrap.servers", kb->brokers, err, err_len) < 0 ||
        lg_bus__kafka_conf_set(conf, "client.id", kb->conf.client_id[0] != '\0'
                                                      ? kb->conf.client_id
                                                      : "loginguard",
                               err, err_len) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
    return conf;
}

/* Delivery report, on the poller thread (or a thread inside rd_kafka_flush). */
static void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    lg_kafka_bus *kb = opaque;
    kafka_done *d = m->_private;
    int status = lg_bus__kafka_err(m->err);

    (void)rk;
    if (status == 0) {
        atomic_fetch_add(&kb->delivered, 1);
    } else {
        atomic_fetch_add(&kb->delivery_failed, 1);
        lg_log(LG_WARN, "bus", "delivery failed topic=%s partition=%d error=%s",
               rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err));
    }
    if (d != NULL) {
        d->done(d->opaque, status);
        free(d);
    }
}

static void *kafka_poller_main(void *arg)
{
    lg_kafka_bus *kb = arg;
    /* bounded by the stopping flag that close sets; each round waits at most
     * LG_KAFKA_POLLER_MS */
    while (!atomic_load(&kb->stopping))
        rd_kafka_poll(kb->rk, LG_KAFKA_POLLER_MS);
    return NULL;
}

/* --- topics ---------------------------------------------------------------------- */

static bool kafka_topic_exists(const struct rd_kafka_metadata *md, const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, name) == 0 &&
            md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return true;
    }
    return false;
}

static int kafka_topics_create(lg_kafka_bus *kb, rd_kafka_NewTopic_t **nt, size_t n,
                               char *err, size_t err_len)
{
    char why[256];
    rd_kafka_AdminOptions_t *opts;
    rd_kafka_queue_t *q;
    rd_kafka_event_t *ev;
    const rd_kafka_CreateTopics_result_t *res;
    const rd_kafka_topic_result_t **tr;
    size_t n_tr = 0;
    int rc = 0;

    opts = rd_kafka_AdminOptions_new(kb->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    q = rd_kafka_queue_new(kb->rk);
    if (opts == NULL || q == NULL) {
        snprintf(err, err_len, "kafka: out of memory creating topics");
        rc = LG_ENOMEM;
        goto done;
    }
    rd_kafka_AdminOptions_set_operation_timeout(opts, LG_KAFKA_OP_TIMEOUT_MS, why,
                                                sizeof why);
    rd_kafka_AdminOptions_set_request_timeout(opts, LG_KAFKA_OP_TIMEOUT_MS, why, sizeof why);
    rd_kafka_CreateTopics(kb->rk, nt, n, opts, q);
    ev = rd_kafka_queue_poll(q, LG_KAFKA_OP_TIMEOUT_MS + 1000);
    if (ev == NULL) {
        snprintf(err, err_len, "kafka %s: creating topics timed out", kb->brokers);
        rc = LG_ETIMEDOUT;
        goto done;
    }
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, err_len, "kafka %s: creating topics: %s", kb->brokers,
                 rd_kafka_event_error_string(ev));
        rc = lg_bus__kafka_err(rd_kafka_event_error(ev));
        rd_kafka_event_destroy(ev);
        goto done;
    }
    res = rd_kafka_event_CreateTopics_result(ev);
    tr = res != NULL ? rd_kafka_CreateTopics_result_topics(res, &n_tr) : NULL;
    for (size_t i = 0; i < n_tr; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            lg_log(LG_INFO, "bus", "created topic=%s", rd_kafka_topic_result_name(tr[i]));
        } else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            snprintf(err, err_len, "kafka %s: creating topic '%s': %s", kb->brokers,
                     rd_kafka_topic_result_name(tr[i]), rd_kafka_topic_result_error_string(tr[i]));
            rc = lg_bus__kafka_err(e);
            break;
        }
    }
    rd_kafka_event_destroy(ev);
done:
    if (q != NULL)
        rd_kafka_queue_destroy(q);
    if (opts != NULL)
        rd_kafka_AdminOptions_destroy(opts);
    return rc;
}

/* Creates lg.attempts and lg.blocks (compacted: the latest block per key is the state)
 * when the cluster does not have them; reaching the cluster is checked on the way. */
static int kafka_topics_ensure(lg_kafka_bus *kb, char *err, size_t err_len)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_NewTopic_t *nt[2] = {NULL, NULL};
    size_t n = 0;
    char why[256];
    rd_kafka_resp_err_t e;
    int rc = 0;

    e = rd_kafka_metadata(kb->rk, 1, NULL, &md, LG_KAFKA_OP_TIMEOUT_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, err_len, "kafka %s: no broker answered within %d ms: %s", kb->brokers,
                 LG_KAFKA_OP_TIMEOUT_MS, rd_kafka_err2str(e));
        return lg_bus__kafka_err(e);
    }
    if (!kafka_topic_exists(md, LG_TOPIC_ATTEMPTS)) {
        nt[n] = rd_kafka_NewTopic_new(LG_TOPIC_ATTEMPTS, kb->conf.attempts_partitions,
                                      kb->conf.replication, why, sizeof why);
        if (nt[n++] == NULL)
            goto fail_newtopic;
    }
    if (!kafka_topic_exists(md, LG_TOPIC_BLOCKS)) {
        nt[n] = rd_kafka_NewTopic_new(LG_TOPIC_BLOCKS, kb->conf.blocks_partitions,
                                      kb->conf.replication, why, sizeof why);
        if (nt[n] == NULL)
            goto fail_newtopic;
        rd_kafka_NewTopic_set_config(nt[n++], "cleanup.policy", "compact");
    }
    rd_kafka_metadata_destroy(md);
    md = NULL;
    if (n > 0)
        rc = kafka_topics_create(kb, nt, n, err, err_len);
    goto done;

fail_newtopic:
    snprintf(err, err_len, "kafka: topic settings: %s", why);
    rc = LG_EINVAL;
done:
    for (size_t i = 0; i < 2; i++)
        if (nt[i] != NULL)
            rd_kafka_NewTopic_destroy(nt[i]);
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    return rc;
}

/* --- bus ------------------------------------------------------------------------- */

static int kafka_producer_new(lg_kafka_bus *kb, char *err, size_t err_len)
{
    char num[32];
    char why[512];
    rd_kafka_conf_t *conf = lg_bus__kafka_conf_new(kb, err, err_len);

    if (conf == NULL)
        return LG_EINVAL;
    snprintf(num, sizeof num, "%u", kb->conf.producer_queue_max);
    if (lg_bus__kafka_conf_set(conf, "enable.idempotence", "true", err, err_len) < 0 ||
        lg_bus__kafka_conf_set(conf, "acks", "all", err, err_len) < 0 ||
        lg_bus__kafka_conf_set(conf, "linger.ms", LG_KAFKA_LINGER_MS, err, err_len) < 0 ||
        lg_bus__kafka_conf_set(conf, "queue.buffering.max.messages", num, err, err_len) < 0 ||
        lg_bus__kafka_conf_set(conf, "partitioner", "consistent_random", err, err_len) < 0)
        goto fail_conf;
    rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
    rd_kafka_conf_set_opaque(conf, kb);
    kb->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (kb->rk == NULL) {
        snprintf(err, err_len, "kafka producer: %s", why);
        goto fail_conf;
    }
    return 0; /* conf is owned by rk now */

fail_conf:
    rd_kafka_conf_destroy(conf);
    return LG_EINVAL;
}

int lg_bus__kafka_open(const char *brokers, const lg_bus_conf *conf, lg_bus **out, char *err,
                       size_t err_len)
{
    lg_kafka_bus *kb;
    int rc;

    lg_assert(brokers != NULL);
    lg_assert(conf != NULL);
    if (strlen(brokers) > LG_KAFKA_BROKERS_MAX) {
        snprintf(err, err_len, "kafka broker list longer than %d bytes", LG_KAFKA_BROKERS_MAX);
        return LG_ETOOBIG;
    }
    if (conf->producer_queue_max == 0 || conf->attempts_partitions <= 0 ||
        conf->blocks_partitions <= 0 || conf->attempts_partitions > LG_BUS_PARTITIONS_MAX ||
        conf->blocks_partitions > LG_BUS_PARTITIONS_MAX || conf->replication <= 0) {
        snprintf(err, err_len, "kafka %s: producer_queue_max, partitions (1..%d) and "
                 "replication must be positive", brokers, LG_BUS_PARTITIONS_MAX);
        return LG_EINVAL;
    }
    kb = calloc(1, sizeof *kb);
    if (kb == NULL) {
        snprintf(err, err_len, "kafka: out of memory");
        return LG_ENOMEM;
    }
    kb->base.ops = &kafka_ops;
    kb->conf = *conf;
    snprintf(kb->brokers, sizeof kb->brokers, "%s", brokers);
    rc = kafka_producer_new(kb, err, err_len);
    if (rc < 0)
        goto fail_free;
    rc = kafka_topics_ensure(kb, err, err_len);
    if (rc < 0)
        goto fail_destroy;
    if (pthread_create(&kb->poller, NULL, kafka_poller_main, kb) != 0) {
        snprintf(err, err_len, "kafka: cannot start the delivery-report thread");
        rc = LG_ENOMEM;
        goto fail_destroy;
    }
    lg_log(LG_INFO, "bus", "kafka open brokers=%s producer_queue_max=%u", kb->brokers,
           kb->conf.producer_queue_max);
    *out = &kb->base;
    return 0;

fail_destroy:
    rd_kafka_destroy(kb->rk);
fail_free:
    free(kb);
    return rc;
}

static void kafka_close(lg_bus *bus)
{
    lg_kafka_bus *kb = (lg_kafka_bus *)bus;
    rd_kafka_resp_err_t e;

    atomic_store(&kb->closed, true);
    e = rd_kafka_flush(kb->rk, LG_BUS_CLOSE_FLUSH_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        lg_log(LG_ERROR, "bus", "kafka close: %d messages not delivered within %d ms, "
               "purged", rd_kafka_outq_len(kb->rk), LG_BUS_CLOSE_FLUSH_MS);
        /* purged messages get a delivery report (LG_ECLOSED), so every done callback
         * still runs exactly once */
        rd_kafka_purge(kb->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(kb->rk, LG_KAFKA_POLLER_MS);
    }
    atomic_store(&kb->stopping, true);
    pthread_join(kb->poller, NULL);
    rd_kafka_poll(kb->rk, 0);
    rd_kafka_destroy(kb->rk);
    free(kb);
}

static int kafka_publish(lg_bus *bus, const char *topic, const void *key, size_t key_len,
                         const void *value, size_t value_len, int timeout_ms,
                         lg_bus_done_cb done, void *opaque)
{
    lg_kafka_bus *kb = (lg_kafka_bus *)bus;
    kafka_done *d = NULL;
    int64_t deadline_ns = lg_mono_ns() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000;
    size_t vlen = value != NULL ? value_len : 0; /* NULL value: a tombstone */
    rd_kafka_resp_err_t e;

    if (atomic_load(&kb->closed))
        return LG_ECLOSED;
    if (done != NULL) {
        d = malloc(sizeof *d);
        if (d == NULL)
            return LG_ENOMEM;
        d->done = done;
        d->opaque = opaque;
    }
    /* bounded by deadline_ns: each round sleeps LG_KAFKA_FULL_RETRY_US */
    for (;;) {
        e = rd_kafka_producev(kb->rk, RD_KAFKA_V_TOPIC(topic),
                              RD_KAFKA_V_KEY((void *)key, key_len),
                              RD_KAFKA_V_VALUE((void *)value, vlen),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(d),
                              RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || lg_mono_ns() >= deadline_ns)
            break;
        /* the poller thread drains delivery reports meanwhile; wait for room */
        nanosleep(&(struct timespec){0, LG_KAFKA_FULL_RETRY_US * 1000L}, NULL);
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        free(d);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            atomic_fetch_add(&kb->publish_full, 1);
        else
            lg_log(LG_WARN, "bus", "publish topic=%s: %s", topic, rd_kafka_err2str(e));
        return lg_bus__kafka_err(e);
    }
    atomic_fetch_add(&kb->published, 1);
    return 0;
}

static int kafka_flush(lg_bus *bus, int timeout_ms)
{
    lg_kafka_bus *kb = (lg_kafka_bus *)bus;
    return lg_bus__kafka_err(rd_kafka_flush(kb->rk, timeout_ms));
}

static void kafka_stats(lg_bus *bus, lg_bus_stats *out)
{
    lg_kafka_bus *kb = (lg_kafka_bus *)bus;
    out->published = atomic_load(&kb->published);
    out->publish_full = atomic_load(&kb->publish_full);
    out->delivered = atomic_load(&kb->delivered);
    out->delivery_failed = atomic_load(&kb->delivery_failed);
    out->queued = (uint64_t)rd_kafka_outq_len(kb->rk);
}

static const lg_bus_ops kafka_ops = {
    .name = "kafka",
    .close = kafka_close,
    .publish = kafka_publish,
    .flush = kafka_flush,
    .stats = kafka_stats,
    .consumer_new = lg_bus__kafka_consumer_new,
    .consumer_free = lg_bus__kafka_consumer_free,
    .poll = lg_bus__kafka_poll,
    .commit = lg_bus__kafka_commit,
    .committed = lg_bus__kafka_committed,
    .seek_time = lg_bus__kafka_seek_time,
    .caught_up = lg_bus__kafka_caught_up,
    .offset_for_time = lg_bus__kafka_offset_for_time,
    .seek = lg_bus__kafka_seek,
    .at_end = lg_bus__kafka_at_end,
    .ts_at = lg_bus__kafka_ts_at,
};
