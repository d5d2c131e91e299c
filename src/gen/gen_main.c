/* SPDX-License-Identifier: Apache-2.0
 *
 * kensa-gen main: `kensa-gen demo DIR` writes every generator's demo
 * evidence under DIR; `kensa-gen NAME ARGS...` runs one generator.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

int gen_mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n >= sizeof tmp)
        return -1;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == 0) {
            char c = tmp[i];
            tmp[i] = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                fprintf(stderr, "kensa-gen: cannot create %s: %s\n", tmp, strerror(errno));
                return -1;
            }
            tmp[i] = c;
        }
    }
    return 0;
}

FILE *gen_open(const char *dir, const char *name)
{
    char path[4096];
    if (gen_mkdirs(dir) != 0)
        return NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    if (!fp)
        fprintf(stderr, "kensa-gen: cannot write %s: %s\n", path, strerror(errno));
    return fp;
}

void gen_time(int64_t secs, char *buf, size_t cap)
{
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

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
