/*
 * cli_store.h - how the store-backed commands (users, keys) find and open their store:
 * --db / --store when given, else the configuration's [store] url (defaults, then
 * --config FILE, then LG_STORE_URL), with their exit statuses for each failure.
 */
#ifndef LG_CLI_STORE_H
#define LG_CLI_STORE_H

#include "core/config.h"
#include "store/store.h"

/* Loads the configuration (config_path may be NULL) into cfg and opens the store: db
 * when not NULL, else cfg->store_url. Returns 0 and *out (close it with lg_store_close),
 * or the exit status after saying why on stderr as "loginguard <what>: ...": 2 for a
 * configuration error, 1 when the store cannot be opened. */
int lg_cli_store_open(const char *what, const char *config_path, const char *db,
                      lg_config *cfg, lg_store **out);

#endif
