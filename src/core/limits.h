/*
 * limits.h - every hard bound of loginguard, named, with the reason for its value.
 *
 * Configuration may lower a bound but never raise it past the cap here (config.c checks
 * each entry's min/max against these). Relations between bounds are _Static_asserts.
 */
#ifndef LG_LIMITS_H
#define LG_LIMITS_H

/* --- events ---------------------------------------------------------------------- */
/* user ids: 1..128 bytes of UTF-8 (DESIGN.md "limits"). */
#define LG_USER_MAX 128
/* attempt ids: a UUID is 36; leave room for "<src>-<counter>" style ids. */
#define LG_ID_MAX 64
/* INET6_ADDRSTRLEN is 46 including the NUL; the longest valid text form is 45 bytes. */
#define LG_IP_MAX 45
/* name of the producing instance ("api-1"); operators choose it, keep it short. */
#define LG_SRC_MAX 64
/* rule names ("user", "ip", "user_ip"). */
#define LG_RULE_NAME_MAX 32
/* human reason text in a block ("5 failures in 60s"). */
#define LG_REASON_MAX 96
/* one encoded event; the largest attempt (all fields at max, escaped) fits well below. */
#define LG_EVENT_JSON_MAX 2048
/* a rule's key: user (128) + '|' + ip (45) for rule user_ip. */
#define LG_KEY_MAX (LG_USER_MAX + 1 + LG_IP_MAX)

/* --- detection ------------------------------------------------------------------- */
/* failures needed to block; the window ring holds threshold-1 timestamps per key. */
#define LG_THRESHOLD_MAX 64
/* a window longer than a day is a different product (use the audit store). */
#define LG_WINDOW_MS_MAX (24LL * 3600 * 1000)
/* escalation: durations double up to this cap (DESIGN.md "Duration"). */
#define LG_BLOCK_CAP_MS (24LL * 3600 * 1000)
/* escalation memory: a previous block counts if it began less than this before. */
#define LG_ESCALATION_MS (24LL * 3600 * 1000)
/* keys tracked per rule: bounds the window table; 1 Mi active keys is ~64 MiB. */
#define LG_KEYS_MAX_DEFAULT (1u << 20)
#define LG_KEYS_MAX_CAP (1u << 26)
/* rules in one engine: user, ip, user_ip and room for a few more. */
#define LG_RULES_MAX 8

/* --- bus ------------------------------------------------------------------------- */
/* embedded topic queue depth (messages) before publishers get back-pressure. */
#define LG_BUS_QUEUE_MAX_DEFAULT 65536
#define LG_BUS_QUEUE_MAX_CAP (1 << 22)
/* one bus message (key + value); events are far smaller. */
#define LG_BUS_MSG_MAX 4096
/* consumers per topic on the embedded bus (detector, audit, analytics, notifier, api...). */
#define LG_BUS_CONSUMERS_MAX 16
/* partitions per topic. */
#define LG_BUS_PARTITIONS_MAX 256
/* a topic name. */
#define LG_TOPIC_MAX 64
/* topics on one embedded bus: lg.attempts, lg.blocks and room for a few more. */
#define LG_BUS_TOPICS_MAX 16

/* --- store ----------------------------------------------------------------------- */
/* rows per audit transaction: amortises fsync; a crash loses no committed batch. */
#define LG_STORE_BATCH_MAX 4096
/* rows returned by one audit query. */
#define LG_AUDIT_ROWS_MAX 100000

/* --- reporters and operator actions --------------------------------------------- */
/* a reporter key's name ("haproxy-1"): ASCII [A-Za-z0-9._-], short enough for a column */
#define LG_REPORTER_NAME_MAX 64
/* reporter keys one store holds: reporters are services (a few dozen); each API keeps
 * all of them in memory, in a table of twice this many slots at most */
#define LG_REPORTER_KEYS_MAX 4096
/* how often each API re-reads the keys from the store: a deleted key stops working and
 * a new one starts within about this (plus one store read) */
#define LG_REPORTER_REFRESH_MS 1000
/* a key's last use is noted in memory at most once per this, so the I/O threads do not
 * all write one cache line per request; `keys list` shows seconds anyway */
#define LG_REPORTER_TOUCH_MS 1000
/* who did an operator action, "kind:name": "jwt:" + a user, "key:" + a reporter name,
 * "cli:" + a login name (truncated to fit) */
#define LG_ACTOR_MAX 192
/* an action's name ("unblock", "key_add", "key_delete") */
#define LG_ACTION_NAME_MAX 32
/* what it acted on: a user, a block key or a reporter name */
#define LG_ACTION_TARGET_MAX LG_KEY_MAX
/* free text about it ("was_blocked=true") */
#define LG_ACTION_DETAIL_MAX 256

/* --- replay ---------------------------------------------------------------------- */
/* one input line; longer lines are reported and skipped without being buffered. */
#define LG_LINE_MAX 65536
/* replay --max-jump: a ts further than this ahead of the newest one so far is a bad line,
 * not a new clock (replay has no wall clock to bound it by); a day passes any real gap in
 * a login stream's busy hours yet stops a year-9999 typo or forgery. */
#define LG_REPLAY_MAX_JUMP_DEFAULT_MS (24LL * 3600 * 1000)

/* --- http ------------------------------------------------------------------------ */
#define LG_HTTP_BODY_MAX 4096          /* DESIGN.md: bodies over 4 KiB get 413 */
#define LG_HTTP_URL_MAX 2048
/* per-connection memory of libmicrohttpd (request line, headers, response head): a
 * request line and headers up to LG_HTTP_HEADERS_SERVED bytes are served, over it
 * they get 431 (near the limit, a closed connection). libmicrohttpd zeroes the whole
 * pool after every request: 32 KiB cost ~10 % of the server's CPU at full load. */
#define LG_HTTP_CONN_MEMORY 8192
#define LG_HTTP_HEADERS_SERVED 6144
#define LG_HTTP_CONNS_MAX_DEFAULT 10000
#define LG_HTTP_TIMEOUT_S_DEFAULT 10
#define LG_PASSWORD_MAX 1024
#define LG_JWT_MAX 2048
#define LG_WORKER_QUEUE_MAX_DEFAULT 1024

/* --- worker pool ----------------------------------------------------------------- */
/* worker threads: argon2id at m=19 MiB costs threads x 19 MiB; 256 is ~5 GiB already. */
#define LG_POOL_THREADS_MAX 256
/* jobs waiting in one pool; beyond ~1 Mi the wait itself is the outage (shed instead). */
#define LG_POOL_QUEUE_MAX_CAP (1u << 20)

/* a CIDR list of the configuration ("10.0.0.0/8, 2001:db8::/32, ..."): text and entries */
#define LG_CIDR_LIST_STR_MAX 1024
#define LG_CIDR_LIST_MAX 64
/* IP-keyed rules key an IPv6 address by its /64, the smallest block one site is given */
#define LG_IPV6_PREFIX_DEFAULT 64
/* [time]: a reporter's ts at most this old, and no ts past now + skew */
#define LG_REPORT_LAG_MAX_MS_DEFAULT 300000
#define LG_CLOCK_SKEW_MAX_MS_DEFAULT 5000
#define LG_TIME_BOUND_MS_CAP (7LL * 86400 * 1000)

_Static_assert(LG_KEY_MAX < LG_EVENT_JSON_MAX, "a key must fit in an event");
_Static_assert(LG_EVENT_JSON_MAX <= LG_BUS_MSG_MAX, "an event must fit in a bus message");
_Static_assert(LG_KEYS_MAX_DEFAULT <= LG_KEYS_MAX_CAP, "default within cap");
_Static_assert(LG_WORKER_QUEUE_MAX_DEFAULT <= LG_POOL_QUEUE_MAX_CAP, "default within cap");
_Static_assert(LG_ACTOR_MAX >= 4 + LG_USER_MAX, "an actor holds \"jwt:\" and any user");
_Static_assert(LG_ACTION_TARGET_MAX >= LG_REPORTER_NAME_MAX, "a target holds a key name");

#endif
