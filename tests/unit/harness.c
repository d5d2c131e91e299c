/* SPDX-License-Identifier: Apache-2.0
 * Test runner: see harness.h. */
#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define MAX_TESTS 1024

static struct { const char *name; ks_test_fn fn; } tests[MAX_TESTS];
static int ntests;
int ks_test_failed_checks;
int ks_test_checks;
static const char *current;  /* name of the running test */
static int skipped_now;      /* the running test called ks_test_skip */
static char tmpdir[256];
static char **owned;        /* strings handed to tests, freed at exit */
static size_t nowned;

char *ks_test_strdup(const char *s)
{
    char **no = realloc(owned, (nowned + 1) * sizeof *no);
    char *d = strdup(s);
    if (!no || !d)
        exit(2);
    owned = no;
    owned[nowned++] = d;
    return d;
}

void ks_test_register(const char *name, ks_test_fn fn)
{
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

const char *ks_test_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/kensa-test-XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return tmpdir;
}

const char *ks_test_write(const char *name, const void *data, size_t n)
{
    char buf[4096];
    FILE *fp;
    snprintf(buf, sizeof buf, "%s/%s", ks_test_tmpdir(), name);
    char *path = ks_test_strdup(buf);
    fp = fopen(path, "wb");
    if (!fp || fwrite(data, 1, n, fp) != n) {
        perror(path);
        exit(2);
    }
    fclose(fp);
    return path;
}

size_t ks_test_count(const char *hay, const char *needle)
{
    size_t n = 0, len = strlen(needle), left = hay ? strlen(hay) : 0;
    const char *p = hay;
    while (len && left >= len) {
        const char *q = memchr(p, needle[0], left - len + 1);
        if (!q)
            break;
        left -= (size_t)(q - p);
        p = q;
        if (memcmp(p, needle, len) == 0)
            n++;
        p++;
        left--;
    }
    return n;
}

char *ks_test_read(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long len;
    if (!fp)
        return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)len + 1)) != NULL) {
        *n = fread(buf, 1, (size_t)len, fp);
        buf[*n] = 0;
    }
    fclose(fp);
    return buf;
}

const char *ks_test_corpus(void)
{
    static const char *cands[] = {"../shared/corpus", "../../shared/corpus"};
    const char *env = getenv("KENSA_CORPUS");
    struct stat st;
    if (env)
        return stat(env, &st) == 0 ? env : NULL;
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
        if (stat(cands[i], &st) == 0 && S_ISDIR(st.st_mode))
            return cands[i];
    return NULL;
}

const char *ks_test_build(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

int ks_test_run(const char *cmd, char **out)
{
    FILE *fp = popen(cmd, "r");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int st;
    if (!fp)
        return -1;
    for (;;) {
        if (cap - n < 4096) {
            char *nb = realloc(buf, cap ? cap * 2 : 8192);
            if (!nb)
                break;
            buf = nb;
            cap = cap ? cap * 2 : 8192;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, fp);
        if (r == 0)
            break;
        n += r;
    }
    if (buf)
        buf[n] = 0;
    st = pclose(fp);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void ks_test_skip(const char *tag, const char *fmt, ...)
{
    va_list ap;
    printf("SKIP [%s] %s: ", tag, current ? current : "?");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    skipped_now = 1;
}

static void cleanup(void)
{
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    if (tmpdir[0] && !getenv("KS_TEST_KEEP")) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, skipped = 0;
    const char *only = argc > 1 ? argv[1] : NULL;
    atexit(cleanup);
    for (int i = 0; i < ntests; i++) {
        if (only && strcmp(only, tests[i].name) != 0)
            continue;
        int before = ks_test_failed_checks;
        current = tests[i].name;
        ks_test_checks = 0;
        skipped_now = 0;
        tests[i].fn();
        fflush(stdout);
        if (ks_test_failed_checks != before) {
            failed++;
            fprintf(stderr, "FAIL %s\n", tests[i].name);
        } else if (skipped_now) {
            skipped++;
        } else if (ks_test_checks == 0) {
            /* returned without checking anything: that is not a pass */
            failed++;
            fprintf(stderr, "FAIL %s: no CHECK ran (call ks_test_skip when it cannot run)\n",
                    tests[i].name);
        } else {
            passed++;
        }
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
