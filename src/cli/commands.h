/*
 * commands.h - one function per sub-command; each lives in src/cli/<name>.c.
 * Each gets argv with argv[0] = the sub-command's name, parses its own flags
 * (getopt_long, --help on every command) and returns the process exit status.
 */
#ifndef LG_COMMANDS_H
#define LG_COMMANDS_H

int lg_cmd_run(int argc, char **argv);
int lg_cmd_replay(int argc, char **argv);
int lg_cmd_gen(int argc, char **argv);
int lg_cmd_api(int argc, char **argv);
int lg_cmd_detector(int argc, char **argv);
int lg_cmd_loadgen(int argc, char **argv);
int lg_cmd_users(int argc, char **argv);
int lg_cmd_keys(int argc, char **argv);
int lg_cmd_audit(int argc, char **argv);
int lg_cmd_config(int argc, char **argv);

#endif
