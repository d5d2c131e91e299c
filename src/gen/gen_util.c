/* SPDX-License-Identifier: Apache-2.0
 *
 * Helpers shared by the generators (and linked into the tests, which call
 * generators directly): directories, files, times.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "gen.h"

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

int gen_write(const char *dir, const char *name, const void *p, size_t n)
{
    FILE *fp = gen_open(dir, name);
    if (!fp)
        return -1;
    int rc = fwrite(p, 1, n, fp) == n ? 0 : -1;
    return fclose(fp) == 0 ? rc : -1;
}

int gen_write_text(const char *dir, const char *name, const char *text)
{
    return gen_write(dir, name, text, strlen(text));
}

void gen_time(int64_t secs, char *buf, size_t cap)
{
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

