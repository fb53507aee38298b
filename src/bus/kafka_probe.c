/*
 * kafka_probe.c - finds the first offset of a partition whose message timestamp is >=
 * ts_ms by reading single messages, for brokers whose ListOffsets cannot answer by
 * timestamp (librdkafka's mock cluster returns -1 for every timestamp).
 *
 * A private consumer without a group assigns the one partition at an offset, reads the
 * first message at or after it, and bisects over [lo, hi): at most
 * LG_KAFKA_PROBE_STEPS_MAX reads, ~log2(hi - lo) in practice. It assumes timestamps
 * grow with offsets (producer CreateTime, as broker time indexes also do). The last
 * message is read first: when it is older than ts_ms the answer is hi after one read,
 * which is what a real broker's -1 means. The same consumer also reads the timestamp of
 * one message by offset (lg_bus_ts_at).
 */
#include <stdio.h>

#include "bus/kafka_int.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"

static int probe_new(lg_kafka_bus *kb, rd_kafka_t **out)
{
    char err[256];
    char num[32];
    rd_kafka_conf_t *conf = lg_bus__kafka_conf_new(kb, err, sizeof err);
    rd_kafka_t *rk;

    if (conf == NULL)
        goto fail;
    snprintf(num, sizeof num, "%d", (int)kb->conf.fetch_wait_max_ms);
    if (lg_bus__kafka_conf_set(conf, "group.id", LG_KAFKA_NO_GROUP, err, sizeof err) < 0 ||
        lg_bus__kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err) < 0 ||
        lg_bus__kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err) < 0 ||
        /* queued.min.messages stays at its default: a low value makes the fetcher back
         * off for ~1 s once a fetch overfills it, which stalled every other step */
        lg_bus__kafka_conf_set(conf, "fetch.wait.max.ms", num, err, sizeof err) < 0) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_poll_set_consumer(rk);
    *out = rk;
    return 0;
fail:
    lg_log(LG_WARN, "bus", "timestamp probe consumer: %s", err);
    return LG_EIO;
}

/* Reads the first message of partition at or after offset: its offset and timestamp.
 * LG_ENOTFOUND at the end of the partition. */
static int probe_read(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t offset,
                      int64_t *msg_offset, int64_t *msg_ts)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    int64_t deadline_ns = lg_mono_ns() + (int64_t)LG_KAFKA_OP_TIMEOUT_MS * 1000000;
    rd_kafka_resp_err_t e;
    int rc = LG_ETIMEDOUT;

    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
    e = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return lg_bus__kafka_err(e);
    /* bounded by deadline_ns; messages of an earlier step are discarded by librdkafka's
     * assignment versioning, and any other partition's are skipped here */
    while (lg_mono_ns() < deadline_ns) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        if (m->partition != partition || (m->err == 0 && m->offset < offset)) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rc = LG_ENOTFOUND;
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            lg_log(LG_WARN, "bus", "probe topic=%s partition=%d offset=%lld: %s", topic,
                   (int)partition, (long long)offset, rd_kafka_message_errstr(m));
            rc = lg_bus__kafka_err(m->err);
        } else {
            *msg_offset = m->offset;
            *msg_ts = rd_kafka_message_timestamp(m, NULL);
            rc = 0;
        }
        rd_kafka_message_destroy(m);
        break;
    }
    return rc;
}

int lg_bus__kafka_probe_offset(lg_kafka_bus *kb, rd_kafka_t **probe, const char *topic,
                               int32_t partition, int64_t lo, int64_t hi, int64_t ts_ms,
                               int64_t *offset)
{
    int64_t mo = 0, mts = 0;
    int steps = 0;
    int rc;

    lg_assert(lo < hi);
    if (*probe == NULL && (rc = probe_new(kb, probe)) < 0)
        return rc;
    rc = probe_read(*probe, topic, partition, hi - 1, &mo, &mts);
    if (rc == LG_ENOTFOUND || (rc == 0 && mts < ts_ms)) {
        *offset = hi;
        rc = 0;
        goto done;
    }
    if (rc < 0)
        goto done;
    /* invariant: the answer lies in [lo, hi], and the message at hi - 1 (or the first one
     * after it) is recent enough */
    hi = hi - 1;
    while (lo < hi && steps++ < LG_KAFKA_PROBE_STEPS_MAX) {
        int64_t mid = lo + (hi - lo) / 2;
        rc = probe_read(*probe, topic, partition, mid, &mo, &mts);
        if (rc == LG_ENOTFOUND)
            break; /* the partition shrank under us: take hi */
        if (rc < 0)
            goto done;
        if (mts >= ts_ms)
            hi = mid; /* [mid, mo) holds no message: mo and mid are the same answer */
        else
            lo = mo + 1 < hi ? mo + 1 : hi; /* a timestamp going back cannot push past hi */
    }
    *offset = hi;
    rc = 0;
done:
    rd_kafka_assign(*probe, NULL);
    if (rc < 0)
        lg_log(LG_WARN, "bus", "probe topic=%s partition=%d ts=%lld: %s", topic,
               (int)partition, (long long)ts_ms, lg_strerror(rc));
    lg_log(LG_DEBUG, "bus", "probe topic=%s partition=%d ts=%lld steps=%d offset=%lld rc=%d",
           topic, (int)partition, (long long)ts_ms, steps, rc == 0 ? (long long)*offset : -1LL,
           rc);
    return rc;
}

int lg_bus__kafka_probe_ts(lg_kafka_bus *kb, rd_kafka_t **probe, const char *topic,
                           int32_t partition, int64_t offset, int64_t *ts_ms)
{
    int64_t mo = 0, mts = 0;
    int rc;

    if (*probe == NULL && (rc = probe_new(kb, probe)) < 0)
        return rc;
    rc = probe_read(*probe, topic, partition, offset, &mo, &mts);
    rd_kafka_assign(*probe, NULL);
    /* an offset below the retained start resets to the end (librdkafka's default), so
     * what comes back is a later message: not the one asked for */
    if (rc == 0 && mo != offset)
        rc = LG_ENOTFOUND;
    lg_log(LG_DEBUG, "bus", "probe topic=%s partition=%d offset=%lld ts=%lld rc=%d", topic,
           (int)partition, (long long)offset, rc == 0 ? (long long)mts : -1LL, rc);
    if (rc == 0)
        *ts_ms = mts;
    return rc;
}

void lg_bus__kafka_probe_free(rd_kafka_t *probe)
{
    if (probe == NULL)
        return;
    rd_kafka_consumer_close(probe);
    rd_kafka_destroy(probe);
}
