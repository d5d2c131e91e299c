/* SPDX-License-Identifier: Apache-2.0
 *
 * The kensa command: a table of subcommands (commands.def) and help. Each
 * subcommand lives in its own file; this file only dispatches.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"


typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    const char *const *usage;
} command;

static const command commands[] = {
#define KS_CMD(name, fn, summary) {#name, fn, summary, &fn##_usage},
#include "commands.def"
#undef KS_CMD
};

static void usage(FILE *fp)
{
    fprintf(fp, "kensa %s - threat hunting and exposure assessment\n\n"
                "usage: kensa <command> [options] [paths...]\n\ncommands:\n", ks_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n'kensa help <command>' for details. Exit status: 0 nothing found, 1 findings,\n"
                "2 usage or input errors, 3 findings and input errors (docs/EXIT-STATUS.md).\n");
}

const char *const cmd_help_usage = "usage: kensa help [command]\n";

int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return KS_EXIT_CLEAN;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, argv[1]) == 0) {
            printf("kensa %s - %s\n\n%s", commands[i].name, commands[i].summary, *commands[i].usage);
            return KS_EXIT_CLEAN;
        }
    }
    cli_error("help", "no command '%s' (see 'kensa help')", argv[1]);
    return KS_EXIT_ERRORS;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return KS_EXIT_ERRORS;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return KS_EXIT_CLEAN;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
        argv[1] = (char *)(uintptr_t)"version";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, argv[1]) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "kensa: unknown command '%s' (see 'kensa help')\n", argv[1]);
    return KS_EXIT_ERRORS;
}
