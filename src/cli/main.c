/*
 * main.c - `loginguard <command> [args]`: dispatches to one function per sub-command.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

#define LG_VERSION "0.1.0"

typedef struct lg_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} lg_command;

static const lg_command commands[] = {
    {"run", lg_cmd_run, "every role in one process: embedded bus, SQLite, HTTP API"},
    {"replay", lg_cmd_replay, "judge attempts from JSON lines; print each block decided"},
    {"gen", lg_cmd_gen, "write random login attempts as JSON lines (the seed's producer)"},
    {"api", lg_cmd_api, "the login API role as its own process (--bus kafka://...)"},
    {"detector", lg_cmd_detector, "the detector role as its own process (--bus kafka://...)"},
    {"loadgen", lg_cmd_loadgen, "drive the HTTP API with random logins; report latency"},
    {"users", lg_cmd_users, "add, list or delete API users (argon2id passwords)"},
    {"keys", lg_cmd_keys, "add, list or delete reporter keys (callers of /v1/attempts)"},
    {"audit", lg_cmd_audit, "list a user's attempts and blocks from the audit store"},
    {"config", lg_cmd_config, "print the effective configuration"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: loginguard <command> [options]   (loginguard <command> --help)\n\n"
                 "streaming brute-force defense for login endpoints\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("loginguard %s\n", LG_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "loginguard: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
