/*
 * cli_store.c - the configuration and store of a store-backed command (cli_store.h).
 */
#include "cli/cli_store.h"

#include <stdio.h>

#include "core/lgassert.h"

#define CLI_ERR_MAX 512

int lg_cli_store_open(const char *what, const char *config_path, const char *db,
                      lg_config *cfg, lg_store **out)
{
    char err[CLI_ERR_MAX];
    lg_store *s = NULL;

    lg_assert(what != NULL && cfg != NULL && out != NULL);
    /* defaults, file, environment: a bad value in any is a configuration error (2), as
     * in the other commands */
    if (lg_config_load(cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "loginguard %s: %s\n", what, err);
        return 2;
    }
    if (db == NULL)
        db = cfg->store_url;
    if (lg_store_open(db, &s, err, sizeof err) != 0) {
        fprintf(stderr, "loginguard %s: cannot open store '%s': %s\n", what, db, err);
        lg_store_close(s);
        return 1;
    }
    *out = s;
    return 0;
}
