/*
 * store.c - picks the store back-end from a URL and forwards the public calls to it.
 */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/lgassert.h"

int lg_store_open(const char *url, lg_store **out, char *err, size_t err_len)
{
    static const char sqlite_scheme[] = "sqlite:";

    if (url == NULL || *url == '\0') {
        snprintf(err, err_len, "store url is empty");
        return LG_EINVAL;
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        snprintf(err, err_len, "store url '%s': the PostgreSQL back-end is not built yet", url);
        return LG_EINVAL;
    }
    if (strncmp(url, sqlite_scheme, sizeof sqlite_scheme - 1) == 0)
        url += sizeof sqlite_scheme - 1;
    return lg_store__sqlite_open(url, out, err, err_len);
}

void lg_store_close(lg_store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

int lg_store_put(lg_store *s, const lg_attempt *attempts, size_t n_attempts,
                 const lg_block *blocks, size_t n_blocks, size_t *inserted)
{
    lg_assert(s != NULL);
    lg_assert(n_attempts == 0 || attempts != NULL);
    lg_assert(n_blocks == 0 || blocks != NULL);
    return s->ops->put(s, attempts, n_attempts, blocks, n_blocks, inserted);
}

int lg_store_unblock_put(lg_store *s, const char *key, int64_t ts_ms)
{
    return s->ops->unblock_put(s, key, ts_ms);
}

int lg_store_audit(lg_store *s, const char *user, size_t limit, lg_store_attempt_cb attempt_cb,
                   lg_store_block_cb block_cb, void *opaque)
{
    return s->ops->audit(s, user, limit, attempt_cb, block_cb, opaque);
}

int lg_store_attempts_each(lg_store *s, lg_store_attempt_cb cb, void *opaque)
{
    return s->ops->attempts_each(s, cb, opaque);
}

int lg_store_blocks_each(lg_store *s, lg_store_block_cb cb, void *opaque)
{
    return s->ops->blocks_each(s, cb, opaque);
}

int lg_store_counts_get(lg_store *s, lg_store_counts *out)
{
    return s->ops->counts(s, out);
}

int lg_store_user_put(lg_store *s, const lg_user_rec *u)
{
    return s->ops->user_put(s, u);
}

int lg_store_user_get(lg_store *s, const char *name, lg_user_rec *out)
{
    return s->ops->user_get(s, name, out);
}

int lg_store_user_del(lg_store *s, const char *name)
{
    return s->ops->user_del(s, name);
}

int lg_store_users_each(lg_store *s, lg_store_user_cb cb, void *opaque)
{
    return s->ops->users_each(s, cb, opaque);
}

int lg_store_key_put(lg_store *s, const lg_reporter_key_rec *k, const lg_action_rec *act)
{
    lg_assert(k != NULL);
    return s->ops->key_put(s, k, act);
}

int lg_store_key_del(lg_store *s, const char *name, const lg_action_rec *act)
{
    lg_assert(name != NULL);
    return s->ops->key_del(s, name, act);
}

int lg_store_keys_each(lg_store *s, lg_store_key_cb cb, void *opaque)
{
    return s->ops->keys_each(s, cb, opaque);
}

int lg_store_keys_touch(lg_store *s, const lg_reporter_key_rec *keys, size_t n)
{
    lg_assert(n == 0 || keys != NULL);
    return s->ops->keys_touch(s, keys, n);
}

int lg_store_action_put(lg_store *s, const lg_action_rec *act)
{
    lg_assert(act != NULL);
    return s->ops->action_put(s, act);
}

int lg_store_actions_each(lg_store *s, size_t limit, lg_store_action_cb cb, void *opaque)
{
    return s->ops->actions_each(s, limit, cb, opaque);
}
