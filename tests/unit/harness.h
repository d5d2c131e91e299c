/* SPDX-License-Identifier: Apache-2.0
 *
 * A tiny unit-test harness (yara test-rules.c spirit): TEST(name) registers a
 * function, CHECK* macros print file:line on failure and keep going, main()
 * (harness.c) runs every test and prints "N passed, N failed, N skipped".
 *
 * A test passes only when it ran at least one CHECK and none failed: a test
 * that returns early without checking anything fails ("no CHECK ran"), so
 * it cannot pass by doing nothing. A test that cannot run calls
 * ks_test_skip() and returns; tests/run.sh fails the suite on a skip whose
 * tag is not expected in this environment (tests/expected-skips).
 *
 * Test data: ks_test_tmpdir() gives a fresh directory per test binary;
 * ks_test_corpus() returns the ../shared/corpus path or NULL (skip cleanly).
 */
#ifndef KS_TEST_HARNESS_H
#define KS_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <inttypes.h>

typedef void (*ks_test_fn)(void);
void ks_test_register(const char *name, ks_test_fn fn);
extern int ks_test_failed_checks;
extern int ks_test_checks; /* CHECKs run by the current test */

/* Marks the running test skipped and says why on a line
 * "SKIP [tag] test: why". tag names the missing thing, from
 * tests/expected-skips ("corpus": ../shared/corpus absent, "npm", "tool",
 * ...). Failed CHECKs before the skip still fail the test. Return after. */
void ks_test_skip(const char *tag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* KS_TEST_ASAN: built with AddressSanitizer. Its quarantine keeps freed
 * memory resident and its redzones and shadow inflate every allocation, so
 * a bound on peak RSS measures ASan, not kensa: such checks skip (tag
 * asan-rss, expected under `make asan`) and keep their other checks. */
#if defined(__SANITIZE_ADDRESS__)
#define KS_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KS_TEST_ASAN 1
#endif
#endif
#ifndef KS_TEST_ASAN
#define KS_TEST_ASAN 0
#endif

#define TEST(name)                                                         \
    static void test_##name(void);                                         \
    __attribute__((constructor)) static void register_##name(void)         \
    {                                                                      \
        ks_test_register(#name, test_##name);                              \
    }                                                                      \
    static void test_##name(void)

#define CHECK(cond)                                                        \
    do {                                                                   \
        ks_test_checks++;                                                  \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                      \
            ks_test_failed_checks++;                                       \
        }                                                                  \
    } while (0)

#define CHECK_INT(a, b)                                                    \
    do {                                                                   \
        ks_test_checks++;                                                  \
        long long va_ = (long long)(a), vb_ = (long long)(b);              \
        if (va_ != vb_) {                                                  \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n",    \
                    __FILE__, __LINE__, #a, va_, #b, vb_);                 \
            ks_test_failed_checks++;                                       \
        }                                                                  \
    } while (0)

#define CHECK_STR(a, b)                                                    \
    do {                                                                   \
        ks_test_checks++;                                                  \
        const char *sa_ = (a), *sb_ = (b);                                 \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                       \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n",      \
                    __FILE__, __LINE__, #a, sa_ ? sa_ : "(null)",          \
                    sb_ ? sb_ : "(null)");                                 \
            ks_test_failed_checks++;                                       \
        }                                                                  \
    } while (0)

/* Fresh per-process temp dir (removed at exit unless KS_TEST_KEEP=1). */
const char *ks_test_tmpdir(void);
/* A copy of s that lives until the test binary exits. */
char *ks_test_strdup(const char *s);
/* Writes a file under the temp dir; returns its path (valid until exit). */
const char *ks_test_write(const char *name, const void *data, size_t n);
/* The whole file, NUL-terminated, malloc'd (free it); NULL if unreadable. */
char *ks_test_read(const char *path, size_t *n);
/* ../shared/corpus (or $KENSA_CORPUS) when it exists, else NULL. */
const char *ks_test_corpus(void);
/* Path of the build dir (binaries: kensa, kensa-gen), from $BUILD or "build". */
const char *ks_test_build(void);
/* Runs a shell command, captures stdout into a malloc'd string (may be NULL);
 * returns the exit status (or -1). */
int ks_test_run(const char *cmd, char **out);
/* How many times needle occurs in the NUL-terminated hay (overlaps
 * counted). Linear under the sanitizers too: a strstr() loop is not, as
 * their strstr checks the whole rest of the haystack at every call. */
size_t ks_test_count(const char *hay, const char *needle);

#endif
