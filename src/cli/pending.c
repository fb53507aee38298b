/* pending.c - DEVELOPMENT ONLY, deleted before release: weak placeholders so the binary
 * links while sub-commands are being written in parallel. */
#include <stdio.h>

#include "cli/commands.h"

#define LG_PENDING(fn)                                                   \
    __attribute__((weak)) int fn(int argc, char **argv)                  \
    {                                                                    \
        (void)argc;                                                      \
        fprintf(stderr, "loginguard %s: not built yet\n", argv[0]);      \
        return 1;                                                        \
    }

LG_PENDING(lg_cmd_run)
LG_PENDING(lg_cmd_replay)
LG_PENDING(lg_cmd_gen)
LG_PENDING(lg_cmd_api)
LG_PENDING(lg_cmd_detector)
LG_PENDING(lg_cmd_loadgen)
LG_PENDING(lg_cmd_users)
LG_PENDING(lg_cmd_audit)
LG_PENDING(lg_cmd_config)
