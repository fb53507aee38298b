/*
 * config.c - `loginguard config`: prints the effective configuration (defaults, then
 * --config F, then the environment, then --set overrides) as a loadable INI file, or
 * with --markdown the reference of every key (docs/CONFIG.md is this output).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/config.h"
#include "core/err.h"

/* --set overrides on one command line */
#define LG_CONFIG_SETS_MAX 64

static void usage(FILE *out)
{
    fprintf(out,
        "usage: loginguard config [--config F] [--set KEY=VALUE]... [--markdown]\n\n"
        "Prints the effective configuration: the defaults, then the file given with\n"
        "--config, then the environment (LG_JWT_SECRET, LG_BUS_URL, LG_STORE_URL,\n"
        "LG_LOG_LEVEL), then each --set. The output is an INI file that --config loads\n"
        "back (a secret is printed as <redacted> and must be set again). Each key comes\n"
        "with its doc, default and range; an invalid value is reported with its FILE:LINE.\n\n"
        "  --config F        configuration file to check and print\n"
        "  --set KEY=VALUE   override a key: section.key or rule.NAME.key\n"
        "                    (e.g. rule.user.threshold=3, http.port=9090)\n"
        "  --markdown        print the reference of every key as Markdown instead\n"
        "  -h, --help        this text\n\n"
        "exit status: 0 valid, 2 usage error or invalid configuration\n");
}

int lg_cmd_config(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 'S'},
        {"markdown", no_argument, NULL, 'm'},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *sets[LG_CONFIG_SETS_MAX];
    size_t n_sets = 0;
    const char *path = NULL;
    bool markdown = false;
    lg_config *cfg;
    char err[512];
    int status = 2;
    int c;

    optind = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'm': markdown = true; break;
        case 'S':
            if (n_sets == LG_CONFIG_SETS_MAX) {
                fprintf(stderr, "loginguard config: more than %d --set options\n",
                        LG_CONFIG_SETS_MAX);
                return 2;
            }
            sets[n_sets++] = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "loginguard config: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (markdown) {
        lg_config_print_markdown(stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    cfg = malloc(sizeof *cfg);
    if (cfg == NULL)
        return 1;
    if (lg_config_load(cfg, path, err, sizeof err) != 0) {
        fprintf(stderr, "loginguard config: %s\n", err);
        goto done;
    }
    for (size_t i = 0; i < n_sets; i++) {
        if (lg_config_set_kv(cfg, sets[i], err, sizeof err) != 0) {
            fprintf(stderr, "loginguard config: %s\n", err);
            goto done;
        }
    }
    lg_config_print(cfg, stdout);
    status = fflush(stdout) == 0 ? 0 : 1;
done:
    free(cfg);
    return status;
}
