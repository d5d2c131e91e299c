/* SPDX-License-Identifier: Apache-2.0
 *
 * The kensa command: a table of subcommands (commands.def) and help. Each
 * subcommand lives in its own file; this file dispatches and answers help:
 * `kensa help X` and `kensa X [SUB] --help` print the same text, and
 * `kensa help options` prints the option registry (the source of
 * docs/CONFIG.md's table: `kensa help options --markdown`).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
#define KS_HUNT_FLAGS(name)
#include "commands.def"
#undef KS_HUNT_FLAGS
#undef KS_CMD
};

static const char *const hunt_flag_cmds[] = {
#define KS_CMD(name, fn, summary)
#define KS_HUNT_FLAGS(name) #name,
#include "commands.def"
#undef KS_HUNT_FLAGS
#undef KS_CMD
};

static void usage(FILE *fp)
{
    fprintf(fp, "kensa %s - threat hunting and exposure assessment\n\n"
                "usage: kensa <command> [options] [paths...]\n\ncommands:\n", ks_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n'kensa help <command>' or 'kensa <command> --help' for details;\n"
                "'kensa help options' for every option. Exit status: 0 nothing found,\n"
                "1 findings, 2 usage or input errors, 3 findings and input errors\n"
                "(docs/EXIT-STATUS.md).\n");
}

/* ---- the option registry as help text or as docs/CONFIG.md's table ------------- */

static void print_options(FILE *fp, bool markdown)
{
    if (markdown)
        fputs("| key | type | default | range | flag | meaning |\n|---|---|---|---|---|---|\n", fp);
    for (size_t i = 0; ks_option_at(i); i++) {
        const ks_option *o = ks_option_at(i);
        const char *type = ks_option_type_name(o->type);
        char flag[64] = "";
        if (o->flag && o->short_flag)
            snprintf(flag, sizeof flag, "-%c, --%s", o->short_flag, o->flag);
        else if (o->flag)
            snprintf(flag, sizeof flag, "--%s", o->flag);
        if (markdown) {
            /* '|' inside a cell would end it */
            fprintf(fp, "| `%s` | %s | %s%s%s | ", o->key, type, o->dflt[0] ? "`" : "",
                    o->dflt[0] ? o->dflt : "—", o->dflt[0] ? "`" : "");
            for (const char *r = o->range; *r; r++) {
                if (*r == '|')
                    fputs(", ", fp);
                else
                    fputc(*r, fp);
            }
            fprintf(fp, " | %s%s%s | %s |\n", flag[0] ? "`" : "", flag, flag[0] ? "`" : "", o->doc);
        } else {
            fprintf(fp, "  %-34s %s", o->key, o->doc);
            fprintf(fp, "\n  %-34s %s%s%s%s%s%s%s\n", "", type, o->dflt[0] ? ", default " : "", o->dflt,
                    o->range[0] ? ", " : "", o->range, flag[0] ? ", flag " : "", flag);
        }
    }
}

static bool takes_hunt_flags(const char *name)
{
    for (size_t i = 0; i < sizeof hunt_flag_cmds / sizeof hunt_flag_cmds[0]; i++)
        if (!strcmp(hunt_flag_cmds[i], name))
            return true;
    return false;
}

int cli_help(const char *name, FILE *fp)
{
    if (!strcmp(name, "options")) {
        fputs("kensa options: KEY (type, default, range, flag) and what it does.\n"
              "Set with --set KEY=VALUE, a flag, or a config file (docs/CONFIG.md).\n\n",
              fp);
        print_options(fp, false);
        return KS_EXIT_CLEAN;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            fprintf(fp, "kensa %s - %s\n\n%s", commands[i].name, commands[i].summary, *commands[i].usage);
            if (takes_hunt_flags(name))
                cli_print_flags(fp);
            return KS_EXIT_CLEAN;
        }
    }
    cli_error("help", "no command '%s' (see 'kensa help')", name);
    return KS_EXIT_ERRORS;
}

const char *const cmd_help_usage =
    "usage: kensa help [COMMAND]\n"
    "       kensa help options [--markdown]\n\n"
    "COMMAND's full help (the same as 'kensa COMMAND --help'); 'options' lists\n"
    "every option of the registry (--markdown: docs/CONFIG.md's table).\n";

int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return KS_EXIT_CLEAN;
    }
    if (!strcmp(argv[1], "options") && argc > 2 && !strcmp(argv[2], "--markdown")) {
        print_options(stdout, true);
        return KS_EXIT_CLEAN;
    }
    return cli_help(argv[1], stdout);
}

/* Does argv (up to "--") ask for help? */
static bool wants_help(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return false;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    /* With TZ unset glibc stats /etc/localtime again on every mktime;
     * libarchive calls mktime for each zip member's time (3 % of reading a
     * mailbox with docx attachments). The same zone, named once. */
    if (!getenv("TZ"))
        setenv("TZ", ":/etc/localtime", 0);
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
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, argv[1]) == 0) {
            if (wants_help(argc, argv) && commands[i].fn != cmd_help)
                return cli_help(argv[1], stdout);
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "kensa: unknown command '%s' (see 'kensa help')\n", argv[1]);
    return KS_EXIT_ERRORS;
}
