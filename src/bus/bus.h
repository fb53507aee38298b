/*
 * bus.h - the log that roles meet on: topics of keyed messages, split in partitions,
 * read by consumers that commit offsets after processing.
 *
 * Two back-ends implement it behind a table of function pointers (lg_bus_ops):
 *   embedded.c  in-process, bounded queues, one partition per topic, every consumer
 *               sees every message (each consumer is its own group); the default;
 *   kafka.c     librdkafka: partitions, consumer groups, offsets, rebalances.
 * Callers use only this header; lg_bus_open() picks the back-end from the URL
 * ("embedded" or "kafka://host:port[,host:port...]").
 *
 * Topics: LG_TOPIC_ATTEMPTS (key = user, so one user's attempts stay ordered on one
 * partition) and LG_TOPIC_BLOCKS (key = lg_block_key(), compacted; NULL value = unblock).
 *
 * Delivery: lg_bus_publish() either takes the message (0) or refuses it with LG_EFULL
 * (back-pressure: a bounded queue is full) - never drops it silently. The optional
 * done callback reports when the message is durably accepted (Kafka: acked by all
 * in-sync replicas; embedded: appended to the topic), or failed.
 */
#ifndef LG_BUS_H
#define LG_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

#define LG_TOPIC_ATTEMPTS "lg.attempts"
#define LG_TOPIC_BLOCKS "lg.blocks"

typedef struct lg_bus lg_bus;
typedef struct lg_bus_consumer lg_bus_consumer;

typedef struct lg_bus_conf {
    /* embedded: messages a topic holds before publishers get LG_EFULL */
    uint32_t queue_max;            /* default LG_BUS_QUEUE_MAX_DEFAULT */
    /* kafka: created when missing */
    int32_t attempts_partitions;   /* default 6 */
    int32_t blocks_partitions;     /* default 3 */
    int16_t replication;           /* default 1 (3 in a real cluster) */
    int32_t fetch_wait_max_ms;     /* default 10: low latency for lg.blocks */
    int32_t session_timeout_ms;    /* default 6000: fast failover */
    uint32_t producer_queue_max;   /* librdkafka queue.buffering.max.messages, default 100000 */
    char client_id[LG_SRC_MAX + 1];
} lg_bus_conf;

void lg_bus_conf_default(lg_bus_conf *conf);

/* A received message. Pointers stay valid until the next lg_bus_poll on the same
 * consumer or its free. value == NULL means a tombstone (unblock on lg.blocks). */
typedef struct lg_bus_msg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t ts_ms;       /* broker/append timestamp */
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
} lg_bus_msg;

/* Called once per message from a bus thread. status 0 = durably accepted, else LG_E*.
 * Must not block. */
typedef void (*lg_bus_done_cb)(void *opaque, int status);

typedef enum {
    LG_BUS_FROM_COMMITTED = 0, /* the group's committed offset, else the beginning */
    LG_BUS_FROM_BEGINNING = 1, /* everything still retained */
    LG_BUS_FROM_END = 2,       /* only messages published after subscribing */
} lg_bus_start;

/* Partition ownership changes (consumer groups). Called from inside lg_bus_poll on the
 * polling thread, so the owner may seek and rebuild state before any message of the
 * new partitions is returned. The embedded bus assigns partition 0 once, at the first
 * poll. */
typedef struct lg_bus_rebalance_cb {
    void (*assigned)(void *opaque, lg_bus_consumer *c, const int32_t *partitions, size_t n);
    void (*revoked)(void *opaque, lg_bus_consumer *c, const int32_t *partitions, size_t n);
    void *opaque;
} lg_bus_rebalance_cb;

typedef struct lg_bus_sub {
    const char *topic;
    const char *group;            /* consumer group id; NULL = read every partition alone */
    lg_bus_start start;
    lg_bus_rebalance_cb rebalance; /* optional (all NULL) */
} lg_bus_sub;

typedef struct lg_bus_stats {
    uint64_t published, publish_full, delivered, delivery_failed;
    uint64_t queued;    /* messages waiting in the producer queue / embedded topic */
} lg_bus_stats;

/* Opens a bus. url: "embedded" (or NULL) or "kafka://h:p[,h:p...]". Kafka: creates the
 * two topics when missing. err gets a reason on failure. */
int lg_bus_open(const char *url, const lg_bus_conf *conf, lg_bus **out, char *err,
                size_t err_len);
/* Flushes what is queued (bounded by LG_BUS_CLOSE_FLUSH_MS) and frees. NULL is a no-op.
 * Every consumer must be freed first. */
void lg_bus_close(lg_bus *bus);

/* Publishes one message. value NULL = tombstone. done may be NULL. Copies key and value.
 * Returns 0 when taken, LG_EFULL when the bounded queue stayed full for timeout_ms
 * (0 = do not wait), LG_ETOOBIG over LG_BUS_MSG_MAX, LG_ECLOSED, LG_EIO. */
int lg_bus_publish(lg_bus *bus, const char *topic, const void *key, size_t key_len,
                   const void *value, size_t value_len, int timeout_ms,
                   lg_bus_done_cb done, void *opaque);

/* Waits until everything published so far is delivered, or timeout_ms. */
int lg_bus_flush(lg_bus *bus, int timeout_ms);

void lg_bus_stats_get(lg_bus *bus, lg_bus_stats *out);

int lg_bus_consumer_new(lg_bus *bus, const lg_bus_sub *sub, lg_bus_consumer **out,
                        char *err, size_t err_len);
/* Leaves the group (revoking its partitions) and frees. NULL is a no-op. */
void lg_bus_consumer_free(lg_bus_consumer *c);

/* Returns up to cap messages in *n (0 on timeout). Rebalance callbacks run inside.
 * Messages of one partition come in offset order. */
int lg_bus_poll(lg_bus_consumer *c, lg_bus_msg *msgs, size_t cap, size_t *n,
                int timeout_ms);

/* Commits: the next offset to read on partition is next_offset (last processed + 1).
 * Synchronous: returns once the commit is stored. */
int lg_bus_commit(lg_bus_consumer *c, int32_t partition, int64_t next_offset);

/* The group's committed next offset for partition; -1 when none. */
int lg_bus_committed(lg_bus_consumer *c, int32_t partition, int64_t *next_offset);

/* Moves partition's read position to the first message with timestamp >= ts_ms (the end
 * when there is none). Used by detectors to rebuild windows on assignment. */
int lg_bus_seek_time(lg_bus_consumer *c, int32_t partition, int64_t ts_ms);

/* True once the consumer has read every assigned partition up to the end it had when
 * the consumer was created or the partition assigned (api readiness on lg.blocks). */
bool lg_bus_caught_up(lg_bus_consumer *c);

/* The offset of the first message of partition with timestamp >= ts_ms (the end offset
 * when there is none), without moving the read position. With lg_bus_seek, lets a
 * detector rebuild from min(that offset, committed) so it never skips an unprocessed
 * message. Optional: LG_EINVAL from a back-end that lacks it. */
int lg_bus_offset_for_time(lg_bus_consumer *c, int32_t partition, int64_t ts_ms,
                           int64_t *offset);

/* Moves partition's read position to offset (an assigned partition; called from an
 * assigned callback it takes effect before any message of it is returned). Optional:
 * LG_EINVAL from a back-end that lacks it. */
int lg_bus_seek(lg_bus_consumer *c, int32_t partition, int64_t offset);

/* True when the last poll left nothing more to read on partition (an assigned one) right
 * now: Kafka: the partition's end was reached (PARTITION_EOF) and no message of it was
 * returned since; embedded: the read position is the tail. Unlike lg_bus_caught_up it
 * turns false again once new messages are read. A detector uses it to leave partitions
 * with nothing pending out of its event-time low watermark. Optional: false from a
 * back-end that lacks it (every partition then counts as having more to read). */
bool lg_bus_at_end(lg_bus_consumer *c, int32_t partition);

/* The timestamp (the one lg_bus_offset_for_time indexes: Kafka message time) of the
 * message at exactly offset on partition, without moving the read position. A detector
 * anchors its rebuild on the last committed attempt with it. LG_ENOTFOUND when no
 * message is there (gone to retention, not written yet, not a message). Optional:
 * LG_EINVAL from a back-end that lacks it. */
int lg_bus_ts_at(lg_bus_consumer *c, int32_t partition, int64_t offset, int64_t *ts_ms);

/* Back-end interface, for embedded.c and kafka.c only. */
typedef struct lg_bus_ops {
    const char *name;
    void (*close)(lg_bus *bus);
    int (*publish)(lg_bus *bus, const char *topic, const void *key, size_t key_len,
                   const void *value, size_t value_len, int timeout_ms, lg_bus_done_cb done,
                   void *opaque);
    int (*flush)(lg_bus *bus, int timeout_ms);
    void (*stats)(lg_bus *bus, lg_bus_stats *out);
    int (*consumer_new)(lg_bus *bus, const lg_bus_sub *sub, lg_bus_consumer **out, char *err,
                        size_t err_len);
    void (*consumer_free)(lg_bus_consumer *c);
    int (*poll)(lg_bus_consumer *c, lg_bus_msg *msgs, size_t cap, size_t *n, int timeout_ms);
    int (*commit)(lg_bus_consumer *c, int32_t partition, int64_t next_offset);
    int (*committed)(lg_bus_consumer *c, int32_t partition, int64_t *next_offset);
    int (*seek_time)(lg_bus_consumer *c, int32_t partition, int64_t ts_ms);
    bool (*caught_up)(lg_bus_consumer *c);
    /* optional (NULL: lg_bus_offset_for_time / lg_bus_seek return LG_EINVAL) */
    int (*offset_for_time)(lg_bus_consumer *c, int32_t partition, int64_t ts_ms,
                           int64_t *offset);
    int (*seek)(lg_bus_consumer *c, int32_t partition, int64_t offset);
    bool (*at_end)(lg_bus_consumer *c, int32_t partition); /* optional: NULL = false */
    /* optional (NULL: lg_bus_ts_at returns LG_EINVAL) */
    int (*ts_at)(lg_bus_consumer *c, int32_t partition, int64_t offset, int64_t *ts_ms);
} lg_bus_ops;

/* Every back-end's lg_bus and lg_bus_consumer begin with these headers. */
struct lg_bus {
    const lg_bus_ops *ops;
};
struct lg_bus_consumer {
    const lg_bus_ops *ops;
};

#define LG_BUS_CLOSE_FLUSH_MS 10000

/* Back-end constructors (called by lg_bus_open only). */
int lg_bus__embedded_open(const lg_bus_conf *conf, lg_bus **out, char *err, size_t err_len);
int lg_bus__kafka_open(const char *brokers, const lg_bus_conf *conf, lg_bus **out, char *err,
                       size_t err_len);

#endif
