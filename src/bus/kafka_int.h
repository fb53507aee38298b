/*
 * kafka_int.h - what the files of the Kafka bus back-end share (kafka.c: bus, producer,
 * topics; kafka_consumer.c: consumers, rebalances, offsets; kafka_probe.c: offset for a
 * timestamp when the broker cannot answer it). Not for use outside src/bus/kafka_*.c.
 *
 * Tuning that is not a configuration key is named here, with the reason for its value.
 */
#ifndef LG_BUS_KAFKA_INT_H
#define LG_BUS_KAFKA_INT_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "bus/bus.h"

/* metadata, admin, committed, offsets-for-times, seek: long enough for a leader election
 * on a real cluster, short enough that a dead cluster is reported, not waited on. */
#define LG_KAFKA_OP_TIMEOUT_MS 10000
/* 500 ms heartbeats with session.timeout.ms 6000: a dead peer is noticed in ~6 s. */
#define LG_KAFKA_HEARTBEAT_MS "500"
/* small batching delay: latency of a login event matters more than batch size. */
#define LG_KAFKA_LINGER_MS "5"
/* publish retries on a full producer queue sleep this long between attempts. */
#define LG_KAFKA_FULL_RETRY_US 1000
/* the delivery-report thread wakes at least this often to notice close. */
#define LG_KAFKA_POLLER_MS 100
/* bisection steps of the timestamp probe: 64 halvings cover any int64 offset range. */
#define LG_KAFKA_PROBE_STEPS_MAX 64
/* group.id of consumers without a group: they assign partitions themselves and never
 * join nor commit, but librdkafka refuses rd_kafka_assign without some group.id */
#define LG_KAFKA_NO_GROUP "lg-no-group"
/* "bootstrap.servers" list as given after kafka:// */
#define LG_KAFKA_BROKERS_MAX 1024

typedef struct lg_kafka_bus {
    lg_bus base;
    lg_bus_conf conf;
    char brokers[LG_KAFKA_BROKERS_MAX + 1];
    rd_kafka_t *rk; /* the producer; also runs the admin requests */
    pthread_t poller;
    atomic_bool stopping;
    atomic_bool closed;
    atomic_uint_fast64_t published, publish_full, delivered, delivery_failed;
} lg_kafka_bus;

/* Translates a librdkafka error into an LG_E* (the one place that does). */
int lg_bus__kafka_err(rd_kafka_resp_err_t err);

/* A configuration with what every handle of this bus shares: bootstrap.servers,
 * client.id, logging into lg_log. NULL on failure (reason in err). */
rd_kafka_conf_t *lg_bus__kafka_conf_new(const lg_kafka_bus *kb, char *err, size_t err_len);

/* rd_kafka_conf_set with a message naming the key: 0 or LG_EINVAL. */
int lg_bus__kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                           char *err, size_t err_len);

/* The consumer ops (kafka_consumer.c). */
int lg_bus__kafka_consumer_new(lg_bus *bus, const lg_bus_sub *sub, lg_bus_consumer **out,
                               char *err, size_t err_len);
void lg_bus__kafka_consumer_free(lg_bus_consumer *c);
int lg_bus__kafka_poll(lg_bus_consumer *c, lg_bus_msg *msgs, size_t cap, size_t *n,
                       int timeout_ms);
int lg_bus__kafka_commit(lg_bus_consumer *c, int32_t partition, int64_t next_offset);
int lg_bus__kafka_committed(lg_bus_consumer *c, int32_t partition, int64_t *next_offset);
int lg_bus__kafka_seek_time(lg_bus_consumer *c, int32_t partition, int64_t ts_ms);
bool lg_bus__kafka_caught_up(lg_bus_consumer *c);
int lg_bus__kafka_offset_for_time(lg_bus_consumer *c, int32_t partition, int64_t ts_ms,
                                  int64_t *offset);
int lg_bus__kafka_seek(lg_bus_consumer *c, int32_t partition, int64_t offset);
bool lg_bus__kafka_at_end(lg_bus_consumer *c, int32_t partition);
int lg_bus__kafka_ts_at(lg_bus_consumer *c, int32_t partition, int64_t offset,
                        int64_t *ts_ms);

/*
 * The timestamp probe (kafka_probe.c): the first offset in [lo, hi) whose message has
 * timestamp >= ts_ms, found by bisection with a private group-less consumer that reads
 * one message per step (assumes timestamps grow with offsets, as broker time indexes
 * do). hi when none. *probe is created on first use and freed by
 * lg_bus__kafka_probe_free.
 */
int lg_bus__kafka_probe_offset(lg_kafka_bus *kb, rd_kafka_t **probe, const char *topic,
                               int32_t partition, int64_t lo, int64_t hi, int64_t ts_ms,
                               int64_t *offset);
/* The timestamp of the message at exactly offset, read with the same private consumer;
 * LG_ENOTFOUND when the first message at or after offset is not at offset (or there is
 * none). */
int lg_bus__kafka_probe_ts(lg_kafka_bus *kb, rd_kafka_t **probe, const char *topic,
                           int32_t partition, int64_t offset, int64_t *ts_ms);
void lg_bus__kafka_probe_free(rd_kafka_t *probe);

#endif
