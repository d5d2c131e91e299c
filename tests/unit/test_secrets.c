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
 *    which prints them;
 *  - the compiled rules are cached between runs (bounded, damage-proof);
 *  - --verify checks credentials against a fixture server on 127.0.0.1
 *    (AWS STS signature V4, GitHub /user, Slack auth.test): off by
 *    default, rate-limited, canary-token accounts never contacted.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include <microhttpd.h>
#include <openssl/sha.h>
#include "harness.h"
#include "detect/secrets_verify.h"
#include "detect/textscan.h"

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

TEST(json_carries_hashes_and_one_finding_per_secret)
{
    char *out = hunt("--json -");
    char hex[65], key[128];
    for (size_t i = 0; i < NELEM(secrets_); i++) {
        sha_hex(secrets_[i].clear, hex);
        snprintf(key, sizeof key, "\"secret_sha256\":\"%s\"", hex);
        if (ks_test_count(out, key) != 1)
            fprintf(stderr, "secret %zu: %zu findings\n", i, ks_test_count(out, key));
        CHECK_INT(ks_test_count(out, key), 1);
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
    /* the value revealed is the one secret_sha256 is of: a URL's
     * percent-encoded password is shown decoded */
    char cmd[2048], hex[65], want[160];
    const char *t = "backup share ftp://backup:Pq7%40x%21k9@ftp.corp.example/dumps\n";
    snprintf(cmd, sizeof cmd, "%s/kensa hunt --no-color --reveal --json - %s 2>&1", ks_test_build(),
             ks_test_write("rev-ftp.txt", t, strlen(t)));
    out = NULL;
    ks_test_run(cmd, &out);
    sha_hex("Pq7@x!k9", hex);
    snprintf(want, sizeof want, "\"secret_sha256\":\"%s\"", hex);
    CHECK(out && strstr(out, want) != NULL);
    CHECK(out && strstr(out, "\"secret\":\"Pq7@x!k9\"") != NULL);
    free(out);
}

/* A mailbox or an archive bigger than walk.max_size is still read by the
 * secrets detector (a mailbox export is routinely GBs: it is read message
 * by message); a plain file over the cap is skipped with a warning naming
 * it, never silently (issue 16). */
TEST(big_mailbox_read_over_max_size)
{
    char dir[1100], cmd[4096], text[2048], hex[65], key[128], *out = NULL;
    ks_buf mbox = KS_BUF_INIT;
    evidence_dir(); /* the token */
    snprintf(dir, sizeof dir, "%s/big", ks_test_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    CHECK(system(cmd) == 0);
    for (int i = 0; i < 40; i++) {
        ks__buf_printf(&mbox, "From ops@corp.example Mon Jan  1 00:00:00 2024\n"
                              "From: ops@corp.example\nTo: dev@corp.example\nSubject: m%d\n"
                              "Message-ID: <big-%d@corp.example>\n\n", i, i);
        for (int k = 0; k < 60; k++)
            ks__buf_adds(&mbox, "the quarterly report is attached for your review\n");
        if (i == 37)
            ks__buf_printf(&mbox, "export GH_TOKEN=%s\n", gh);
        ks__buf_adds(&mbox, "\n");
    }
    CHECK(mbox.n > 64 * 1024);
    ks_test_write("big/export.mbox", mbox.p, mbox.n);
    /* the same mailbox in a tar, and a plain text file over the cap */
    snprintf(cmd, sizeof cmd, "cd %s && tar -cf export.tar export.mbox", dir);
    CHECK(system(cmd) == 0);
    snprintf(text, sizeof text, "GH_TOKEN=%s\n", gh);
    ks_buf plain = KS_BUF_INIT;
    for (int k = 0; k < 2000; k++)
        ks__buf_adds(&plain, "plain log line, nothing to see here at all\n");
    ks__buf_adds(&plain, text);
    ks_test_write("big/huge.log", plain.p, plain.n);
    /* findings to a file: on one pipe, stdout's JSON could split a warning */
    char jpath[1200], *js = NULL;
    snprintf(jpath, sizeof jpath, "%s/big.jsonl", ks_test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "%s/kensa hunt --no-color --threads 2 --max-size 32K --force --json %s %s 2>&1",
             ks_test_build(), jpath, dir);
    ks_test_run(cmd, &out);
    out = out ? out : ks_test_strdup("");
    size_t jn = 0;
    js = ks_test_read(jpath, &jn);
    js = js ? js : ks_test_strdup("");
    sha_hex(gh, hex);
    snprintf(key, sizeof key, "\"secret_sha256\":\"%s\"", hex);
    CHECK_INT(ks_test_count(js, key), 1);
    /* found in the mbox and in the tar's member, not in the skipped log */
    CHECK(strstr(js, "export.mbox!message 38") != NULL);
    CHECK(strstr(js, "export.tar!export.mbox!message 38") != NULL);
    CHECK(strstr(js, "\"locations\":\"2\"") != NULL);
    CHECK(strstr(out, "huge.log: [walk]") && strstr(out, "larger than walk.max_size") &&
          strstr(out, "not given to the file detectors (secrets"));
    CHECK(!strstr(out, "export.mbox: [walk]") || strstr(out, "read piece by piece by secrets"));
    if (!strstr(js, "export.tar!export.mbox!message 38"))
        fprintf(stderr, "%s\n", out);
    ks__buf_release(&mbox);
    ks__buf_release(&plain);
    free(out);
    free(js);
}

/* A key found only under an examples/ or tests/ directory is reported with
 * the place said and less confidence, not dropped; the same kind of key
 * elsewhere is not marked. */
TEST(example_tree_marked_not_dropped)
{
    char dir[1100], cmd[4096], text[256], a[41], b[41], *out = NULL;
    github_token(a, 7);
    github_token(b, 8);
    snprintf(dir, sizeof dir, "%s/trees", ks_test_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p %s/app/examples", dir);
    CHECK(system(cmd) == 0);
    snprintf(text, sizeof text, "export GH_TOKEN=%s\n", a);
    ks_test_write("trees/app/examples/deploy.sh", text, strlen(text));
    snprintf(text, sizeof text, "export GH_TOKEN=%s\n", b);
    ks_test_write("trees/app/deploy.sh", text, strlen(text));
    snprintf(cmd, sizeof cmd, "%s/kensa hunt --no-color --threads 1 --json - %s 2>&1",
             ks_test_build(), dir);
    ks_test_run(cmd, &out);
    out = out ? out : ks_test_strdup("");
    CHECK_INT(ks_test_count(out, "\"secret_sha256\""), 2);
    CHECK_INT(ks_test_count(out, "\"location_kind\":\"example or test files only\""), 1);
    char *ex = strstr(out, "examples/deploy.sh");
    char *line = ex;
    while (line && line > out && line[-1] != '\n')
        line--;
    CHECK(line && strstr(line, "location_kind") && strstr(line, "location_kind") < strchr(line, '\n'));
    free(out);
}

/* A CSV table without a log's columns or a time (a customer export) is
 * data: its personal data is reported. A CSV sign-in log naming the same
 * people is a log: not (secrets.pii_in_logs turns that on). */
TEST(pii_in_csv_tables_not_in_csv_logs)
{
    char dir[1100], cmd[4096], row[256], *out = NULL;
    snprintf(dir, sizeof dir, "%s/csvs", ks_test_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    CHECK(system(cmd) == 0);
    ks_buf table = KS_BUF_INIT, log = KS_BUF_INIT;
    ks__buf_adds(&table, "id,first_name,last_name,email,phone\n");
    ks__buf_adds(&log, "Date (UTC),Username,IP address,Status,Sign-in error code\n");
    for (int i = 0; i < 40; i++) {
        snprintf(row, sizeof row, "%d,Ann,Lee%d,ann.lee%d@globex.example.com,+44 20 7946 %04d\n", i, i, i, 100 + i);
        ks__buf_adds(&table, row);
        snprintf(row, sizeof row, "2024-06-01T08:%02d:00Z,ann.lee%d@globex.example.com,203.0.113.9,Success,0\n",
                 i, i);
        ks__buf_adds(&log, row);
    }
    ks_test_write("csvs/customers.csv", table.p, table.n);
    ks_test_write("csvs/InteractiveSignIns.csv", log.p, log.n);
    ks__buf_release(&table);
    ks__buf_release(&log);
    /* the same for JSON: a document with no time field (a service-account
     * key file) is data; records with one (sign-ins) are a log */
    static const char sa[] = "{\n  \"type\": \"service_account\",\n  \"project_id\": \"etl-prod\",\n"
                             "  \"client_email\": \"etl-runner@etl-prod.iam.gserviceaccount.com\",\n"
                             "  \"client_id\": \"104417651924839176622\"\n}\n";
    static const char jl[] = "{\"createdDateTime\":\"2024-06-01T08:00:00Z\",\"userPrincipalName\":\"bob@globex.example.com\"}\n"
                             "{\"createdDateTime\":\"2024-06-01T08:01:00Z\",\"userPrincipalName\":\"eve@globex.example.com\"}\n";
    ks_test_write("csvs/etl-prod-3f2a.json", sa, sizeof sa - 1);
    ks_test_write("csvs/signins.json", jl, sizeof jl - 1);
    snprintf(cmd, sizeof cmd, "%s/kensa hunt --no-color --threads 1 --json - %s 2>&1", ks_test_build(), dir);
    ks_test_run(cmd, &out);
    out = out ? out : ks_test_strdup("");
    CHECK_INT(ks_test_count(out, "\"rule_id\":\"kensa.pii.personal_data\""), 2);
    CHECK(strstr(out, "Personal data in file: 40 email, 40 phone") != NULL);
    CHECK(strstr(out, "customers.csv") != NULL);
    CHECK(strstr(out, "etl-prod-3f2a.json") != NULL);
    free(out);
}

/* Every value counted is listed by its digest: a table of 2,500 addresses
 * gives findings of 1,000 values at most, in parts, none left out. */
TEST(pii_parts_list_every_value)
{
    ks_buf b = KS_BUF_INIT;
    ks__buf_adds(&b, "id,name,email\n");
    for (int i = 0; i < 2500; i++)
        ks__buf_printf(&b, "%d,P %d,person%d@bigcorp.example.com\n", i, i, i);
    const char *path = ks_test_write("customers-big.csv", b.p, b.n);
    ks__buf_release(&b);
    char cmd[2048], *out = NULL, hex[65], key[128];
    snprintf(cmd, sizeof cmd, "%s/kensa hunt --no-color --threads 1 --json - %s 2>&1", ks_test_build(), path);
    ks_test_run(cmd, &out);
    out = out ? out : ks_test_strdup("");
    CHECK_INT(ks_test_count(out, "\"rule_id\":\"kensa.pii.personal_data\""), 3);
    CHECK_INT(ks_test_count(out, "\"value_sha256\""), 2500);
    CHECK(strstr(out, "(part 3)") != NULL && strstr(out, "\"continued\":\"in the next part\"") != NULL);
    sha_hex("person2499@bigcorp.example.com", hex);
    snprintf(key, sizeof key, "\"value_sha256\":\"%s\"", hex);
    CHECK(strstr(out, key) != NULL);
    free(out);
}

/* A secret mailed 40 times lists 32 Message-IDs: the 32 smallest, the
 * same with one thread or four (they were the first 32 read). */
static char *message_ids_of(const char *mbox, int threads)
{
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/kensa hunt --no-color --threads %d --json - %s 2>&1", ks_test_build(),
             threads, mbox);
    ks_test_run(cmd, &out);
    char *m = out ? strstr(out, "\"message_ids\":\"") : NULL;
    char *r = NULL;
    if (m) {
        m += strlen("\"message_ids\":\"");
        char *q = strchr(m, '"');
        r = ks_test_strdup("");
        if (q) {
            *q = 0;
            r = ks_test_strdup(m);
        }
    }
    free(out);
    return r;
}

TEST(message_ids_capped_in_order)
{
    ks_buf b = KS_BUF_INIT;
    for (int i = 39; i >= 0; i--)
        ks__buf_printf(&b, "From x@example.com Mon Jun  1 10:00:00 2024\nFrom: x@example.com\nTo: y@example.com\n"
                           "Subject: key %d\nMessage-ID: <m%02d@example.com>\n\nsk_live_51HqLyjWDarjtT1zdp7dcXs9Ez2bRpTYgCrHq9fRcXk0\n"
                           "%0*d\n\n", i, i, 20000 + i * 997, 0); /* bodies of different sizes */
    const char *path = ks_test_write("ids.mbox", b.p, b.n);
    ks__buf_release(&b);
    char *one = message_ids_of(path, 1), *four = message_ids_of(path, 4);
    CHECK(one && four && !strcmp(one, four));
    CHECK(one && strstr(one, "m00@example.com") && strstr(one, "m31@example.com") && !strstr(one, "m32@"));
}

/* The compiled rules are cached: the second hunt loads them (its info
 * diagnostic says so) and finds the same secrets; a damaged entry is
 * compiled again; the cache keeps secrets.cache_keep entries. The rules'
 * pattern analysis (secinfo-) is kept the same way. */
static size_t cache_entries(const char *dir, const char *prefix)
{
    char cmd[1200], *out = NULL;
    snprintf(cmd, sizeof cmd, "ls %s | grep -c '^%s-.*\\.hs$'", dir, prefix);
    ks_test_run(cmd, &out);
    size_t n = out ? strtoul(out, NULL, 10) : 0;
    free(out);
    return n;
}

TEST(compiled_rules_cached)
{
    char dir[1024], flags[2048], cmd[4096];
    snprintf(dir, sizeof dir, "%s/tscache", ks_test_tmpdir());
    snprintf(flags, sizeof flags,
             "--verbose --json - --set detector.yara=false --set yara.cache_dir=%s", dir);
    char *cold = hunt(flags), *warm = hunt(flags);
    CHECK(strstr(cold, "(compiled cache)") == NULL);
    CHECK(strstr(warm, "(compiled cache)") != NULL);
    CHECK(ks_test_count(cold, "\"secret_sha256\"") >= NELEM(secrets_));
    CHECK_INT(ks_test_count(warm, "\"secret_sha256\""), ks_test_count(cold, "\"secret_sha256\""));
    CHECK_INT(ks_test_count(warm, "\"value_sha256\""), ks_test_count(cold, "\"value_sha256\""));
    CHECK_INT(cache_entries(dir, "secrets"), 1);
    CHECK_INT(cache_entries(dir, "secinfo"), 1);
    /* a damaged entry: compiled again, same findings, entry rewritten */
    snprintf(cmd, sizeof cmd, "for f in %s/secrets-*.hs %s/secinfo-*.hs; do head -c 40 $f > $f.x; mv $f.x $f; done",
             dir, dir);
    CHECK_INT(system(cmd), 0);
    char *damaged = hunt(flags), *again = hunt(flags);
    CHECK(strstr(damaged, "(compiled cache)") == NULL);
    CHECK_INT(ks_test_count(damaged, "\"secret_sha256\""), ks_test_count(cold, "\"secret_sha256\""));
    CHECK_INT(ks_test_count(damaged, "\"value_sha256\""), ks_test_count(cold, "\"value_sha256\""));
    CHECK(strstr(again, "(compiled cache)") != NULL);
    CHECK_INT(ks_test_count(again, "\"secret_sha256\""), ks_test_count(cold, "\"secret_sha256\""));
    /* bounded: two more rule sets, one entry kept */
    for (int i = 0; i < 2; i++) {
        char rule[512], path[64], *out;
        snprintf(rule, sizeof rule,
                 "rules:\n- id: test.cache.%d\n  name: cache test\n  type: test.token\n"
                 "  severity: low\n  pattern: 'cachetest%d-[0-9a-f]{12}'\n",
                 i, i);
        snprintf(path, sizeof path, "cache-rule-%d.yml", i);
        ks_test_write(path, rule, strlen(rule));
        snprintf(cmd, sizeof cmd, "%s --set secrets.cache_keep=1 --secrets-rules %s/%s", flags,
                 ks_test_tmpdir(), path);
        out = hunt(cmd);
        free(out);
    }
    CHECK_INT(cache_entries(dir, "secrets"), 1);
    CHECK_INT(cache_entries(dir, "secinfo"), 1);
    free(cold);
    free(warm);
    free(damaged);
    free(again);
}

/* ==== --verify against a loopback fixture ====================================== */

/* AWS's published Signature V4 example (IAM ListUsers, 2015-08-30). */
TEST(sigv4_matches_aws_example)
{
    char sig[65];
    const char *hdr = "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
                      "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n";
    CHECK_INT(ks__sigv4("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830T123600Z",
                        "us-east-1", "iam", "GET", "/", "Action=ListUsers&Version=2010-05-08",
                        hdr, "content-type;host;x-amz-date", "", 0, sig),
              0);
    CHECK_STR(sig, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

#define LIVE_KEY "AKIABZPUZDIKABNFUWS2"   /* account 123456789012 */
#define DEAD_KEY "AKIADCH6YDSYQA6DYPB4"   /* account 210987654321 */
#define CANARY_KEY "AKIAOODU5DHTQBNFUWS2" /* account 992382622183 (Thinkst) */
#define OWN_CANARY_KEY DEAD_KEY           /* listed by the test's own canary file */
#define SLACK_LIVE "xoxb-263718394051-2963017485920-Kq8sL2mZp4Xw9TbR6vNy3Jd1"

static atomic_int sts_hits, gh_hits, slack_hits, canary_hits;
static char gh_live[41], gh_dead[41];

static enum MHD_Result fixture(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **ptr)
{
    static int started;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *body = "{}";
    unsigned status = 404;
    char buf[512];
    (void)cls, (void)method, (void)version, (void)upload;
    if (!*ptr) { /* first call: headers only */
        *ptr = &started;
        return MHD_YES;
    }
    if (*upload_size) { /* the POST body: consumed */
        *upload_size = 0;
        return MHD_YES;
    }
    auth = auth ? auth : "";
    if (!strcmp(url, "/sts")) {
        atomic_fetch_add(&sts_hits, 1);
        if (strstr(auth, CANARY_KEY) || strstr(auth, "AKIAQYLPMN5HHHFPZAM2"))
            atomic_fetch_add(&canary_hits, 1);
        bool signed_ok = !strncmp(auth, "AWS4-HMAC-SHA256 Credential=", 28) &&
                         strstr(auth, "/us-east-1/sts/aws4_request, SignedHeaders="
                                      "content-type;host;x-amz-date, Signature=") &&
                         MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Date");
        if (signed_ok && strstr(auth, "Credential=" LIVE_KEY "/")) {
            status = 200;
            body = "<GetCallerIdentityResponse><GetCallerIdentityResult>"
                   "<Arn>arn:aws:iam::123456789012:user/fixture</Arn>"
                   "<Account>123456789012</Account></GetCallerIdentityResult>"
                   "</GetCallerIdentityResponse>";
        } else {
            status = 403;
            body = "<ErrorResponse><Error><Code>InvalidClientTokenId</Code></Error>"
                   "</ErrorResponse>";
        }
    } else if (!strcmp(url, "/user")) {
        atomic_fetch_add(&gh_hits, 1);
        snprintf(buf, sizeof buf, "token %s", gh_live);
        status = strcmp(auth, buf) ? 401 : 200;
        body = status == 200 ? "{\"login\": \"fixture-user\", \"id\": 1}"
                             : "{\"message\": \"Bad credentials\"}";
    } else if (!strcmp(url, "/auth.test")) {
        atomic_fetch_add(&slack_hits, 1);
        status = 200;
        body = !strcmp(auth, "Bearer " SLACK_LIVE) ? "{\"ok\":true,\"team\":\"fixture-team\"}"
                                                  : "{\"ok\":false,\"error\":\"invalid_auth\"}";
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* The value of "key":"..." in the finding line holding needle. */
static bool finding_has(const char *out, const char *needle, const char *kv)
{
    const char *line = strstr(out, needle);
    if (!line)
        return false;
    while (line > out && line[-1] != '\n')
        line--;
    const char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    char *l = strndup(line, n);
    bool ok = l && strstr(l, kv) != NULL;
    free(l);
    return ok;
}

TEST(verify_against_fixture)
{
    /* the fixture's tokens before its threads start: they read them, and
     * the hunt's requests are the only order between (TSan cannot see it) */
    github_token(gh_live, 7);
    github_token(gh_dead, 8);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, fixture,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    CHECK(d != NULL);
    if (!d)
        return;
    unsigned port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    const char *tmp = ks_test_tmpdir();
    char text[4096], dir[1024], flags[3000], canary[1200], acct[24];
    snprintf(dir, sizeof dir, "%s/verify-ev", tmp);
    snprintf(text, sizeof text, "mkdir -p %s", dir);
    CHECK_INT(system(text), 0);
    snprintf(text, sizeof text,
             "aws_access_key_id = %s\naws_secret_access_key = 9tUm636uS1yOEcfP5pvfqJ/ml36mF7AkyHsE"
             "U0IU\n\n"
             "[old]\naws_access_key_id = %s\naws_secret_access_key = Kq8m2Zt5Ll0pYvB3nX7cR1sD9fG4hJ6kW2eT8uA0\n\n"
             "[trap]\naws_access_key_id = %s\naws_secret_access_key = Zp3xN8vQ2mL6kT9rB1cF5gH7jW0yD4sE2aU6iO8e\n\n"
             "GITHUB_TOKEN=%s\nOLD_GITHUB_TOKEN=%s\nSLACK_BOT_TOKEN=%s\n",
             LIVE_KEY, DEAD_KEY, CANARY_KEY, gh_live, gh_dead, SLACK_LIVE);
    ks_test_write("verify-ev/creds.txt", text, strlen(text));
    snprintf(flags, sizeof flags,
             "--json - --set detector.yara=false --set secrets.pii=false "
             "--set secrets.verify_aws_url=http://127.0.0.1:%u/sts "
             "--set secrets.verify_github_url=http://127.0.0.1:%u/user "
             "--set secrets.verify_slack_url=http://127.0.0.1:%u/auth.test",
             port, port, port);

    /* off by default: nothing sent, nothing verified */
    char cmd[4400], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/kensa hunt --no-color %s %s 2>&1", ks_test_build(), flags, dir);
    ks_test_run(cmd, &out);
    CHECK_INT(atomic_load(&sts_hits) + atomic_load(&gh_hits) + atomic_load(&slack_hits), 0);
    CHECK(out && !strstr(out, "verified-live"));
    free(out);

    /* --verify at 2 requests/s: 2 AWS pairs, 2 GitHub tokens, 1 Slack
     * token asked (the canary pair never), so at least 2 s */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    snprintf(cmd, sizeof cmd, "%s/kensa hunt --no-color --verify --set secrets.verify_rate=2 %s %s 2>&1",
             ks_test_build(), flags, dir);
    ks_test_run(cmd, &out);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    out = out ? out : ks_test_strdup("");
    printf("INFO --verify: sts %d github %d slack %d canary %d requests in %.1f s\n",
           atomic_load(&sts_hits), atomic_load(&gh_hits), atomic_load(&slack_hits),
           atomic_load(&canary_hits), dt);
    CHECK_INT(atomic_load(&sts_hits), 2);
    CHECK_INT(atomic_load(&gh_hits), 2);
    CHECK_INT(atomic_load(&slack_hits), 1);
    CHECK_INT(atomic_load(&canary_hits), 0);
    CHECK(dt >= 2.0);
    char hex[65];
    sha_hex("9tUm636uS1yOEcfP5pvfqJ/ml36mF7AkyHsEU0IU", hex);
    CHECK(finding_has(out, hex, "\"validation\":\"verified-live\""));
    CHECK(finding_has(out, hex, "arn:aws:iam::123456789012:user/fixture"));
    sha_hex("Kq8m2Zt5Ll0pYvB3nX7cR1sD9fG4hJ6kW2eT8uA0", hex);
    CHECK(finding_has(out, hex, "\"validation\":\"rejected-online\""));
    sha_hex("Zp3xN8vQ2mL6kT9rB1cF5gH7jW0yD4sE2aU6iO8e", hex);
    CHECK(finding_has(out, hex, "\"validation\":\"canary\""));
    sha_hex(gh_live, hex);
    CHECK(finding_has(out, hex, "login fixture-user"));
    sha_hex(gh_dead, hex);
    CHECK(finding_has(out, hex, "\"validation\":\"rejected-online\""));
    sha_hex(SLACK_LIVE, hex);
    CHECK(finding_has(out, hex, "team fixture-team"));
    CHECK(!strstr(out, gh_live) && !strstr(out, SLACK_LIVE)); /* still no clear values */
    free(out);

    /* a replaced canary list: the test's own account is spared too */
    CHECK(ks__aws_account(OWN_CANARY_KEY, acct));
    snprintf(canary, sizeof canary, "# test list\n%s\n992382622183\n", acct);
    ks_test_write("verify-canary.txt", canary, strlen(canary));
    atomic_store(&sts_hits, 0);
    snprintf(cmd, sizeof cmd,
             "%s/kensa hunt --no-color --verify --set secrets.verify_rate=50 "
             "--set secrets.canary_accounts=%s/verify-canary.txt %s %s 2>&1",
             ks_test_build(), tmp, flags, dir);
    ks_test_run(cmd, &out);
    CHECK_INT(atomic_load(&sts_hits), 1);
    sha_hex("Kq8m2Zt5Ll0pYvB3nX7cR1sD9fG4hJ6kW2eT8uA0", hex);
    CHECK(out && finding_has(out, hex, "\"validation\":\"canary\""));
    free(out);
    MHD_stop_daemon(d);
}
