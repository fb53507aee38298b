/*
 * bus.c - picks the bus back-end from a URL and forwards the public calls to it.
 */
#include "bus/bus.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/lgassert.h"

void lg_bus_conf_default(lg_bus_conf *conf)
{
    memset(conf, 0, sizeof *conf);
    conf->queue_max = LG_BUS_QUEUE_MAX_DEFAULT;
    conf->attempts_partitions = 6;
    conf->blocks_partitions = 3;
    conf->replication = 1;
    conf->fetch_wait_max_ms = 10;
    conf->session_timeout_ms = 6000;
    conf->producer_queue_max = 100000;
    snprintf(conf->client_id, sizeof conf->client_id, "loginguard");
}

int lg_bus_open(const char *url, const lg_bus_conf *conf, lg_bus **out, char *err,
                size_t err_len)
{
    static const char kafka_scheme[] = "kafka://";
    lg_bus_conf defaults;

    if (conf == NULL) {
        lg_bus_conf_default(&defaults);
        conf = &defaults;
    }
    if (url == NULL || strcmp(url, "embedded") == 0 || strcmp(url, "embedded:") == 0)
        return lg_bus__embedded_open(conf, out, err, err_len);
    if (strncmp(url, kafka_scheme, sizeof kafka_scheme - 1) == 0) {
        const char *brokers = url + sizeof kafka_scheme - 1;
        if (*brokers == '\0') {
            snprintf(err, err_len, "bus url '%s': no broker after kafka://", url);
            return LG_EINVAL;
        }
        return lg_bus__kafka_open(brokers, conf, out, err, err_len);
    }
    snprintf(err, err_len, "bus url '%s': expected 'embedded' or 'kafka://host:port[,...]'",
             url);
    return LG_EINVAL;
}

void lg_bus_close(lg_bus *bus)
{
    if (bus != NULL)
        bus->ops->close(bus);
}

int lg_bus_publish(lg_bus *bus, const char *topic, const void *key, size_t key_len,
                   const void *value, size_t value_len, int timeout_ms, lg_bus_done_cb done,
                   void *opaque)
{
    lg_assert(bus != NULL);
    lg_assert(topic != NULL);
    if (key_len + value_len > LG_BUS_MSG_MAX)
        return LG_ETOOBIG;
    return bus->ops->publish(bus, topic, key, key_len, value, value_len, timeout_ms, done,
                             opaque);
}

int lg_bus_flush(lg_bus *bus, int timeout_ms)
{
    return bus->ops->flush(bus, timeout_ms);
}

void lg_bus_stats_get(lg_bus *bus, lg_bus_stats *out)
{
    bus->ops->stats(bus, out);
}

int lg_bus_consumer_new(lg_bus *bus, const lg_bus_sub *sub, lg_bus_consumer **out, char *err,
                        size_t err_len)
{
    lg_assert(sub != NULL && sub->topic != NULL);
    return bus->ops->consumer_new(bus, sub, out, err, err_len);
}

void lg_bus_consumer_free(lg_bus_consumer *c)
{
    if (c != NULL)
        c->ops->consumer_free(c);
}

int lg_bus_poll(lg_bus_consumer *c, lg_bus_msg *msgs, size_t cap, size_t *n, int timeout_ms)
{
    lg_assert(cap > 0);
    return c->ops->poll(c, msgs, cap, n, timeout_ms);
}

int lg_bus_commit(lg_bus_consumer *c, int32_t partition, int64_t next_offset)
{
    return c->ops->commit(c, partition, next_offset);
}

int lg_bus_committed(lg_bus_consumer *c, int32_t partition, int64_t *next_offset)
{
    return c->ops->committed(c, partition, next_offset);
}

int lg_bus_seek_time(lg_bus_consumer *c, int32_t partition, int64_t ts_ms)
{
    return c->ops->seek_time(c, partition, ts_ms);
}

bool lg_bus_caught_up(lg_bus_consumer *c)
{
    return c->ops->caught_up(c);
}

int lg_bus_offset_for_time(lg_bus_consumer *c, int32_t partition, int64_t ts_ms,
                           int64_t *offset)
{
    if (c->ops->offset_for_time == NULL)
        return LG_EINVAL;
    return c->ops->offset_for_time(c, partition, ts_ms, offset);
}

int lg_bus_seek(lg_bus_consumer *c, int32_t partition, int64_t offset)
{
    if (c->ops->seek == NULL)
        return LG_EINVAL;
    return c->ops->seek(c, partition, offset);
}

bool lg_bus_at_end(lg_bus_consumer *c, int32_t partition)
{
    if (c->ops->at_end == NULL)
        return false;
    return c->ops->at_end(c, partition);
}

int lg_bus_ts_at(lg_bus_consumer *c, int32_t partition, int64_t offset, int64_t *ts_ms)
{
    if (c->ops->ts_at == NULL)
        return LG_EINVAL;
    return c->ops->ts_at(c, partition, offset, ts_ms);
}
