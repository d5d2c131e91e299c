/* SPDX-License-Identifier: Apache-2.0
 *
 * The secrets / personal-data detector through the kensa command, as a
 * responder uses it: planted secrets and personal data in generated files
 * (values built here, checksums computed here), then
 *  - every secret is one finding with all its locations and the SHA-256 of
 *    its exact bytes; every personal-data finding lists the SHA-256 of each
 *    normalised value it counts (`kensa hunt --json -`);
 *  - no clear value appears in any output format (terminal, JSON lines,
 *    CSV, HTML, OCSF) nor in the diagnostics, unless --reveal is given,
 *    which prints them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <openssl/sha.h>
#include "harness.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void sha_hex(const char *s, char out[65])
{
    uint8_t d[32];
    SHA256((const unsigned char *)s, strlen(s), d);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* A GitHub token with a correct checksum, from a seed. */
static void github_token(char out[41], unsigned seed)
{
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    memcpy(out, "ghp_", 4);
    for (int i = 0; i < 30; i++) {
        seed = seed * 1103515245u + 12345u;
        out[4 + i] = b62[(seed >> 16) % 62];
    }
    uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)out + 4, 30);
    for (int i = 5; i >= 0; i--) {
        out[34 + i] = b62[crc % 62];
        crc /= 62;
    }
    out[40] = 0;
}

typedef struct planted {
    const char *clear;   /* as written in the evidence */
    const char *norm;    /* what the hash is of */
} planted;

static char gh[41];
static planted secrets_[] = {
    {"1tUm636uS1yOEcfP5pvfqJ/ml36mF7AkyHsEU0IU", NULL},
    {"Winter2024!BlueHarbor", NULL},
    {"Qx7-pL2m9zRt", NULL},
    {gh, NULL},
};
static planted pii_[] = {
    {"Jane.Doe@Example.org", "jane.doe@example.org"},
    {"4539 1488 0343 6467", "4539148803436467"},
    {"DE44 5001 0517 5407 3249 31", "DE44500105175407324931"},
    {"+1 415-555-2671", "+14155552671"},
    {"536-22-8726", "536228726"},
};

static const char *evidence_dir(void)
{
    static char dir[1024];
    if (dir[0])
        return dir;
    github_token(gh, 42);
    snprintf(dir, sizeof dir, "%s/ev", ks_test_tmpdir());
    char text[4096];
    snprintf(text, sizeof text, "mkdir -p %s/sub", dir);
    if (system(text) != 0)
        return dir;
    snprintf(text, sizeof text,
             "From the ops wiki\n"
             "aws_access_key_id = AKIAQYLPMN5HHHFPZAM2\n"
             "aws_secret_access_key = %s\n"
             "vpn password: %s\n"
             "mongodb://admin:%s@mongo.internal:27017/admin\n"
             "export GH_TOKEN=%s\n"
             "Customer %s, card %s, IBAN %s, phone %s, SSN %s\n",
             secrets_[0].clear, secrets_[1].clear, secrets_[2].clear, secrets_[3].clear,
             pii_[0].clear, pii_[1].clear, pii_[2].clear, pii_[3].clear, pii_[4].clear);
    ks_test_write("ev/wiki.txt", text, strlen(text));
    /* the same AWS secret elsewhere: still one finding */
    snprintf(text, sizeof text, "[prod]\naws_secret_access_key=%s\n", secrets_[0].clear);
    ks_test_write("ev/sub/credentials", text, strlen(text));
    return dir;
}

static char *hunt(const char *flags)
{
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/kensa hunt --no-color --threads 2 %s %s 2>&1", ks_test_build(),
             flags, evidence_dir());
    ks_test_run(cmd, &out);
    return out ? out : ks_test_strdup("");
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

TEST(json_carries_hashes_and_one_finding_per_secret)
{
    char *out = hunt("--json -");
    char hex[65], key[128];
    for (size_t i = 0; i < NELEM(secrets_); i++) {
        sha_hex(secrets_[i].clear, hex);
        snprintf(key, sizeof key, "\"secret_sha256\":\"%s\"", hex);
        if (count(out, key) != 1)
            fprintf(stderr, "secret %zu: %zu findings\n", i, count(out, key));
        CHECK_INT(count(out, key), 1);
    }
    /* the AWS secret: two files, one finding, both locations */
    CHECK(strstr(out, "\"locations\":\"2\"") != NULL);
    CHECK(strstr(out, "\"aws.account_id\":\"") != NULL);
    for (size_t i = 0; i < NELEM(pii_); i++) {
        sha_hex(pii_[i].norm, hex);
        snprintf(key, sizeof key, "\"value_sha256\":\"%s\"", hex);
        if (!strstr(out, key))
            fprintf(stderr, "no value_sha256 for %s\n", pii_[i].norm);
        CHECK(strstr(out, key) != NULL);
    }
    free(out);
}

/* Every output, and the verbose diagnostics, without --reveal. */
TEST(no_clear_value_in_any_output)
{
    char flags[2048], *out;
    const char *tmp = ks_test_tmpdir();
    snprintf(flags, sizeof flags,
             "--verbose --json %s/o.jsonl --csv %s/o.csv --html %s/o.html --ocsf %s/o.ocsf", tmp,
             tmp, tmp, tmp);
    out = hunt(flags); /* terminal + diagnostics */
    const char *files[] = {"o.jsonl", "o.csv", "o.html", "o.ocsf"};
    size_t leaks = 0, checked = 0;
    for (size_t f = 0; f <= NELEM(files); f++) {
        char *text = out;
        if (f < NELEM(files)) {
            char cmd[1200];
            snprintf(cmd, sizeof cmd, "cat %s/%s", tmp, files[f]);
            text = NULL;
            ks_test_run(cmd, &text);
            if (!text)
                continue;
        }
        checked++;
        for (size_t i = 0; i < NELEM(secrets_); i++)
            if (strstr(text, secrets_[i].clear)) {
                fprintf(stderr, "clear secret %zu in %s\n", i, f < 4 ? files[f] : "terminal");
                leaks++;
            }
        for (size_t i = 0; i < NELEM(pii_); i++)
            if (strstr(text, pii_[i].clear) || strstr(text, pii_[i].norm)) {
                fprintf(stderr, "clear value %s in %s\n", pii_[i].norm, f < 4 ? files[f] : "terminal");
                leaks++;
            }
        if (text != out)
            free(text);
    }
    printf("INFO %zu outputs checked for %zu planted values: %zu leaks\n", checked,
           NELEM(secrets_) + NELEM(pii_), leaks);
    CHECK_INT(checked, 5);
    CHECK_INT(leaks, 0);
    free(out);
}

TEST(reveal_prints_values)
{
    char *out = hunt("--reveal --json -");
    for (size_t i = 0; i < NELEM(secrets_); i++)
        CHECK(strstr(out, secrets_[i].clear) != NULL);
    for (size_t i = 0; i < NELEM(pii_); i++)
        CHECK(strstr(out, pii_[i].norm) != NULL);
    free(out);
}
