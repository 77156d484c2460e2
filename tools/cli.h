/* Shared helpers of the groot command-line tools (public API only). */
#ifndef GROOT_CLI_H
#define GROOT_CLI_H

#include "groot.h"

/* Each subcommand: argv[0] is the subcommand's name. Returns the exit code. */
int cmd_forward(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_preprocess_image(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* Returns the value of option `name` at argv[*i] ("--name VALUE" or
 * "--name=VALUE"), advancing *i past it; NULL if argv[*i] is not that option.
 * A missing value prints an error and sets *bad. */
const char *cli_opt(int argc, char **argv, int *i, const char *name, int *bad);
/* Parses a whole decimal number; prints an error naming opt when it is not one. */
int cli_parse_long(const char *opt, const char *s, long min, long max, long *out);
/* Prints "groot <cmd>: <what>: <status name>: <message of handle>" to stderr. */
void cli_report(const char *cmd, const char *what, groot_status st, const void *handle);
double cli_now_ms(void);

#endif
