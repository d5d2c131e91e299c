/* SPDX-License-Identifier: Apache-2.0
 *
 * kensa-gen main: `kensa-gen demo DIR` writes every generator's demo
 * evidence under DIR; `kensa-gen NAME ARGS...` runs one generator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gen.h"

typedef struct gen {
    const char *name;
    int (*run)(int argc, char **argv);
    int (*demo)(const char *dir);
    const char *summary;
} gen;

static const gen gens[] = {
#define KS_GEN(name, run, demo, summary) {#name, run, demo, summary},
#include "generators.def"
#undef KS_GEN
};

static void usage(void)
{
    fprintf(stderr, "usage: kensa-gen demo DIR | kensa-gen NAME [args]\n\ngenerators:\n");
    for (size_t i = 0; i < sizeof gens / sizeof gens[0]; i++)
        fprintf(stderr, "  %-10s %s\n", gens[i].name, gens[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    if (!strcmp(argv[1], "demo")) {
        int rc = 0;
        if (argc < 3) {
            usage();
            return 2;
        }
        for (size_t i = 0; i < sizeof gens / sizeof gens[0]; i++) {
            if (gens[i].demo && gens[i].demo(argv[2]) != 0) {
                fprintf(stderr, "kensa-gen: demo part '%s' failed\n", gens[i].name);
                rc = 1;
            }
        }
        if (rc == 0)
            printf("demo evidence written to %s\n", argv[2]);
        return rc;
    }
    for (size_t i = 0; i < sizeof gens / sizeof gens[0]; i++)
        if (!strcmp(gens[i].name, argv[1]))
            return gens[i].run(argc - 1, argv + 1);
    usage();
    return 2;
}
