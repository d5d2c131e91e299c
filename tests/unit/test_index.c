/* SPDX-License-Identifier: Apache-2.0
 * The exposure index end to end (kensa index build / stats): counts equal
 * the generator's truth on a multi-organisation dump, nothing identifying
 * in clear in the database files, the key file's rules, resume after
 * kill -9, incremental re-indexing; the range buckets behind the portal's
 * k-anonymity lookup (merged across batches, moved from the old layout). */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sqlite3.h>
#include <sodium.h>
#include "harness.h"
#include "extract/extract.h"
#include "gen_docs.h"
#include "gen_docs.h"
#include "store/store.h"

static int sh_raw(const char *cmd)
{
    char full[8192];
    snprintf(full, sizeof full, "cd %s && %s", ks_test_tmpdir(), cmd);
    return ks_test_run(full, NULL);
}

/* The build dir as an absolute path (commands run in the temp dir). */
static const char *bin(void)
{
    static char path[4096];
    if (!path[0] && !realpath(ks_test_build(), path))
        snprintf(path, sizeof path, "%s", ks_test_build());
    return path;
}

/* Writes a file under the temp dir, making its directories. */
static void put_file(const char *name, const char *text)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", name);
    sh_raw(cmd);
    ks_test_write(name, text, strlen(text));
}

static int sh(const char *cmd, char **out)
{
    char full[8192];
    snprintf(full, sizeof full, "cd %s && %s", ks_test_tmpdir(), cmd);
    return ks_test_run(full, out);
}

/* Integer after "key": in a flat JSON object (-1 when absent). */
static long long json_int(const char *js, const char *key)
{
    char k[128];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = js ? strstr(js, k) : NULL;
    return p ? strtoll(p + strlen(k), NULL, 10) : -1;
}

/* The same, 0 when absent (per-type maps list only the types seen). */
static long long json_int0(const char *js, const char *key)
{
    long long v = json_int(js, key);
    return v < 0 ? 0 : v;
}

static const char *json_str(const char *js, const char *key, char *buf, size_t cap)
{
    char k[128];
    snprintf(k, sizeof k, "\"%s\":\"", key);
    const char *p = js ? strstr(js, k) : NULL;
    buf[0] = 0;
    if (p) {
        p += strlen(k);
        size_t n = strcspn(p, "\"");
        snprintf(buf, cap, "%.*s", (int)KS_MIN(n, cap - 1), p);
    }
    return buf;
}

static bool have_extractor(const char *name)
{
    for (size_t i = 0; ks__extractors[i]; i++)
        if (!strcmp(ks__extractors[i]->name, name))
            return true;
    return false;
}

/* The formats the build can read in this tree (mail/documents/archives
 * land separately). */
static bool mime, docx;
static const char *formats(void)
{
    static char f[64];
    mime = have_extractor("mime");
    docx = have_extractor("ooxml") || have_extractor("docx");
    bool ar = have_extractor("archive");
    snprintf(f, sizeof f, "eml,txt,csv%s%s", docx ? ",docx" : "", ar ? ",zip,tgz" : "");
    return f;
}

static int build(const char *db, const char *paths, const char *extra, char **out)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/kensa index build --db %s %s %s 2>&1", bin(), db,
             extra ? extra : "", paths);
    return sh(cmd, out);
}

static char *stats(const char *db, const char *domain)
{
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/kensa index stats --db %s %s%s --json 2>&1", bin(), db,
             domain ? "--domain " : "", domain ? domain : "");
    sh(cmd, &out);
    return out;
}

/* Compares every domain of the truth file with the index; returns the
 * number of domains checked. */
static int compare_truth(const char *db, const char *truth_path)
{
    char path[4096], line[2048];
    int checked = 0;
    snprintf(path, sizeof path, "%s/%s", ks_test_tmpdir(), truth_path);
    FILE *fp = fopen(path, "r");
    CHECK(fp != NULL);
    if (!fp)
        return 0;
    while (fgets(line, sizeof line, fp)) {
        char dom[128], a[64], b[64];
        json_str(line, "domain", dom, sizeof dom);
        char *js = stats(db, dom);
        CHECK(js && strstr(js, "\"found\":true"));
        CHECK_INT(json_int(js, "addresses"), json_int(line, "addresses"));
        CHECK_INT(json_int(js, "emails"), json_int(line, "addresses"));
        CHECK_INT(json_int(js, "phones"), json_int(line, "phones"));
        CHECK_INT(json_int(js, "documents"), json_int(line, "documents"));
        if (docx) {
            CHECK_INT(json_int0(js, "invoice"), json_int(line, "doc_invoice"));
            CHECK_INT(json_int0(js, "sow"), json_int(line, "doc_sow"));
            CHECK_INT(json_int0(js, "poe"), json_int(line, "doc_poe"));
            CHECK_INT(json_int0(js, "contract"), json_int(line, "doc_contract"));
            /* cards and IBANs in the invoices, through the text scanner's
             * validators (Luhn + IIN, mod-97): no other secret is made */
            CHECK_INT(json_int0(js, "pii.card"), json_int(line, "secret_pii.card"));
            CHECK_INT(json_int0(js, "pii.iban"), json_int(line, "secret_pii.iban"));
            CHECK_INT(json_int(js, "secrets"), json_int(line, "secrets"));
        }
        if (mime) {
            CHECK_INT(json_int(js, "people"), json_int(line, "people"));
            CHECK_INT(json_int(js, "org_names"), json_int(line, "org_names"));
            CHECK_INT(json_int0(js, "mail"), json_int(line, "doc_mail"));
            CHECK_STR(json_str(js, "first_seen", a, sizeof a), json_str(line, "first", b, sizeof b));
            CHECK_STR(json_str(js, "last_seen", a, sizeof a), json_str(line, "last", b, sizeof b));
        }
        free(js);
        checked++;
    }
    fclose(fp);
    return checked;
}

TEST(counts_equal_generator_truth)
{
    char cmd[1024], *out = NULL;
    const char *f = formats();
    snprintf(cmd, sizeof cmd, "%s/kensa-gen dump --out dump1 --orgs 5 --formats %s --truth truth1.jsonl",
             bin(), f);
    CHECK_INT(sh(cmd, NULL), 0);
    CHECK_INT(build("idx1.db", "dump1", NULL, &out), 0);
    free(out);
    CHECK_INT(compare_truth("idx1.db", "truth1.jsonl"), 5);
    if (!mime)
        printf("SKIP people, organisation names, mail dates: no mime extractor in this tree\n");
    if (!docx)
        printf("SKIP document types: no OOXML extractor in this tree\n");
    printf("INFO index truth compared on formats %s\n", f);
    /* a domain that is not in the index is "found": false with zeros */
    char *js = stats("idx1.db", "nowhere.example");
    CHECK(js && strstr(js, "\"found\":false") && json_int(js, "addresses") == 0);
    free(js);
}

TEST(no_identifier_in_clear)
{
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/kensa-gen dump --out dump2 --orgs 3 --formats eml,txt,csv", bin());
    CHECK_INT(sh(cmd, NULL), 0);
    CHECK_INT(build("idx2.db", "dump2", NULL, &out), 0);
    free(out);
    /* every database file, WAL included: no domain, address, phone, name */
    static const char *const needles[] = {"org01", "example", "@org", "+44", "2079", "7940", "Orgname",
                                          "Smith", "smith", "dump2"};
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
        snprintf(cmd, sizeof cmd, "cat idx2.db idx2.db-wal 2>/dev/null | grep -a -c -F '%s'", needles[i]);
        char *n = NULL;
        sh(cmd, &n);
        if (!n || atoi(n) != 0)
            fprintf(stderr, "found '%s' in the index in clear\n", needles[i]);
        CHECK(n && atoi(n) == 0);
        free(n);
    }
    /* 10 .. 15 files plainly present, and a non-empty index */
    char *js = stats("idx2.db", NULL);
    CHECK(json_int(js, "files") >= 10);
    free(js);
}

TEST(key_file_rules)
{
    char cmd[1024], *out = NULL;
    put_file("k/a.txt", "x alice@k.example y\n");
    CHECK_INT(build("idx3.db", "k", NULL, &out), 0);
    free(out);
    struct stat st;
    snprintf(cmd, sizeof cmd, "%s/idx3.db.key", ks_test_tmpdir());
    CHECK(stat(cmd, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 32);
    chmod(cmd, 0644);
    char *js = stats("idx3.db", "k.example");
    CHECK(js && strstr(js, "chmod 600"));
    free(js);
    chmod(cmd, 0600);
    js = stats("idx3.db", "k.example");
    CHECK_INT(json_int(js, "addresses"), 1);
    free(js);
    /* another key: refused, the index is not split into two hash sets */
    CHECK_INT(sh("head -c 32 /dev/urandom > other.key && chmod 600 other.key", NULL), 0);
    snprintf(cmd, sizeof cmd, "%s/kensa index stats --db idx3.db --key other.key --domain k.example 2>&1",
             bin());
    CHECK(sh(cmd, &out) == 2 && out && strstr(out, "does not match"));
    free(out);
    CHECK(build("idx3.db", "k", "--key other.key", &out) == 2 && out && strstr(out, "does not match"));
    free(out);
}

/* A batch that holds only processed-file rows (an empty file, the last
 * file of a build being empty) commits: it has no count deltas (it
 * crashed in the commit). */
TEST(empty_files_only)
{
    char *out = NULL;
    put_file("e/empty.mbox", "");
    put_file("e/empty.txt", "");
    CHECK_INT(build("idx6.db", "e", "-t 1", &out), 0);
    free(out);
    char *js = stats("idx6.db", NULL);
    CHECK_INT(json_int(js, "files"), 2);
    free(js);
}

TEST(resume_after_kill_and_incremental)
{
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/kensa-gen dump --out dump4 --orgs 4 --mails 0 --notes 0 --docs 0 "
                              "--formats txt --big 1500 --truth truth4.jsonl",
             bin());
    CHECK_INT(sh(cmd, NULL), 0);
    /* start a build, kill -9 it once some batches are committed */
    pid_t pid = fork();
    if (pid == 0) {
        char db[4096];
        snprintf(db, sizeof db, "%s/idx4.db", ks_test_tmpdir());
        snprintf(cmd, sizeof cmd, "%s/dump4", ks_test_tmpdir());
        int fd = open("/dev/null", 1);
        dup2(fd, 2);
        char kensa[4096];
        snprintf(kensa, sizeof kensa, "%s/kensa", bin());
        execl(kensa, "kensa", "index", "build", "--db", db, "--batch", "1000", "-t", "1", cmd, (char *)NULL);
        _exit(127);
    }
    long long files = 0;
    for (int i = 0; i < 600 && files < 200; i++) {
        usleep(20000);
        char *js = stats("idx4.db", NULL);
        files = json_int(js, "files");
        free(js);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    char *js = stats("idx4.db", NULL);
    long long at_kill = json_int(js, "files");
    free(js);
    printf("INFO killed the build with %lld of 1500 files committed\n", at_kill);
    CHECK(at_kill > 0 && at_kill < 1500);
    /* resume: only the rest is read, and the counts are exact */
    CHECK_INT(build("idx4.db", "dump4", NULL, &out), 0);
    CHECK(out && strstr(out, "already indexed"));
    free(out);
    js = stats("idx4.db", NULL);
    CHECK_INT(json_int(js, "files"), 1500);
    free(js);
    CHECK_INT(compare_truth("idx4.db", "truth4.jsonl"), 4);
    /* incremental: a new file adds only what is new */
    const char *extra = "new contact zed.new@org01.example, +44 20 7946 0999\n";
    put_file("dump4/new/late.txt", extra);
    js = stats("idx4.db", "org01.example");
    long long before = json_int(js, "addresses");
    free(js);
    CHECK_INT(build("idx4.db", "dump4", NULL, &out), 0);
    CHECK(out && strstr(out, "indexed 1 files (1500 already indexed"));
    free(out);
    js = stats("idx4.db", "org01.example");
    CHECK_INT(json_int(js, "addresses"), before + 1);
    CHECK_INT(json_int(js, "phones"), 1);
    free(js);
}

/* One integer from an index (-1 when it cannot be read, e.g. not made yet). */
static long long sql_int(const char *db, const char *sql)
{
    char path[4096];
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    snprintf(path, sizeof path, "%s/%s", ks_test_tmpdir(), db);
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* An index's contents in a canonical order, without batch or row ids
 * (where batches end depends on timing; tests/scripts/index_same.sh). */
static char *index_dump(const char *db)
{
    static const char *const q[] = {
        "SELECT hex(o.dom_h), i.kind, hex(i.h), coalesce(i.type, ''), hex(i.enc), i.seen, i.first_ns,"
        " i.last_ns FROM items i JOIN orgs o ON o.id = i.org ORDER BY 1, 2, 3",
        "SELECT hex(o.dom_h), c.kind, c.type, c.distinct_n, c.seen, c.first_ns, c.last_ns"
        " FROM counts c JOIN orgs o ON o.id = c.org ORDER BY 1, 2, 3",
        "SELECT bucket, hex(enc) FROM rbuckets ORDER BY 1",
        "SELECT hex(path_h), size, mtime, hex(content_h) FROM files ORDER BY 1",
    };
    char path[4096];
    sqlite3 *h = NULL;
    ks_buf b = KS_BUF_INIT;
    snprintf(path, sizeof path, "%s/%s", ks_test_tmpdir(), db);
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto out;
    for (size_t i = 0; i < KS_ARRAY_LEN(q); i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, q[i], -1, &st, NULL) != SQLITE_OK)
            goto out;
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const unsigned char *t = sqlite3_column_text(st, c);
                ks__buf_adds(&b, t ? (const char *)t : "NULL");
                ks__buf_addc(&b, c + 1 < sqlite3_column_count(st) ? '\t' : '\n');
            }
        }
        sqlite3_finalize(st);
        ks__buf_adds(&b, "--\n");
    }
out:
    sqlite3_close(h);
    return b.p;
}

/* One mbox is one file: a build killed inside it keeps the messages its
 * committed batches wrote (the file's progress row), and the resumed
 * build writes only the rest: the index ends up the same as one built
 * without a kill. */
TEST(resume_after_kill_inside_one_mbox)
{
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/kensa-gen mailbox --out mbox5 --size 6M >/dev/null && "
                              "head -c 32 /dev/urandom > k5.key && chmod 600 k5.key",
             bin());
    CHECK_INT(sh(cmd, NULL), 0);
    CHECK_INT(build("idx5a.db", "mbox5/mailbox.mbox", "--key k5.key -t 1", &out), 0);
    free(out);
    long long msgs = sql_int("idx5a.db", "SELECT seen FROM counts WHERE kind = 7 AND type = 'mbox'");
    pid_t pid = fork();
    if (pid == 0) {
        /* the same spelling of the path as build(): documents keep it (sealed) */
        char kensa[4096];
        snprintf(kensa, sizeof kensa, "%s/kensa", bin());
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        if (chdir(ks_test_tmpdir()) == 0)
            execl(kensa, "kensa", "index", "build", "--db", "idx5b.db", "--key", "k5.key", "--batch", "300", "-t",
                  "1", "mbox5/mailbox.mbox", (char *)NULL);
        _exit(127);
    }
    long long units = 0;
    for (int i = 0; i < 3000 && units <= 0; i++) {
        usleep(5000);
        units = sql_int("idx5b.db", "SELECT units FROM progress");
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    units = sql_int("idx5b.db", "SELECT units FROM progress");
    printf("INFO killed the build with %lld of %lld messages committed\n", units, msgs);
    CHECK(units > 0 && units < msgs);
    CHECK_INT(sql_int("idx5b.db", "SELECT count(*) FROM files"), 0);
    /* resume: the rest of the mbox only, and the same index as without the kill */
    CHECK_INT(build("idx5b.db", "mbox5/mailbox.mbox", "--key k5.key -t 1", &out), 0);
    free(out);
    CHECK_INT(sql_int("idx5b.db", "SELECT count(*) FROM progress"), 0);
    CHECK_INT(sql_int("idx5b.db", "SELECT count(*) FROM files"), 1);
    char *a = index_dump("idx5a.db"), *b = index_dump("idx5b.db");
    CHECK(a && b && strlen(a) > 1000);
    CHECK(a && b && !strcmp(a, b));
    if (a && b && strcmp(a, b)) { /* for the diff */
        ks_test_write("idx5a.dump", a, strlen(a));
        ks_test_write("idx5b.dump", b, strlen(b));
        printf("INFO dumps differ: %s/idx5a.dump %s/idx5b.dump\n", ks_test_tmpdir(), ks_test_tmpdir());
    }
    free(a);
    free(b);
}

/* ---- the k-anonymity range buckets (store level) ------------------------------------ */

typedef struct range_hits {
    const uint8_t *want;
    int found, total;
    uint8_t last[32];
    bool sorted;
} range_hits;

static int on_range_hash(void *ud, const uint8_t sha[32])
{
    range_hits *h = ud;
    if (h->total && memcmp(h->last, sha, 32) >= 0)
        h->sorted = false;
    memcpy(h->last, sha, 32);
    h->total++;
    h->found += !memcmp(sha, h->want, 32);
    return 0;
}

/* How often the store's range answer for addr's bucket holds addr's hash,
 * and how many hashes the bucket holds (-1: the lookup failed); from the
 * in-memory copy m when given. */
static int range_count_in(ks_store *s, ks_srange_mem *m, const char *addr, int *total)
{
    uint8_t sha[32];
    crypto_hash_sha256(sha, (const unsigned char *)addr, strlen(addr));
    range_hits h = {.want = sha, .sorted = true};
    uint32_t b = ks__store_bucket(sha);
    if ((m ? ks__srange_lookup(m, s, b, on_range_hash, &h) : ks__store_range(s, b, on_range_hash, &h)) != KS_OK ||
        !h.sorted)
        return -1;
    if (total)
        *total = h.total;
    return h.found;
}

static int range_count(ks_store *s, const char *addr, int *total)
{
    return range_count_in(s, NULL, addr, total);
}

static int put_addr(ks_store *s, const char *addr)
{
    ks_sput p = {.domain = strchr(addr, '@') + 1, .kind = KS_SK_ADDRESS, .value = addr,
                 .nvalue = strlen(addr), .seal = true, .time = KS_TIME_NONE};
    return ks__store_put(s, &p);
}

/* A git repository's history is indexed like any document: an address and
 * a phone number only in a file committed and then deleted count for their
 * domain. A history blob is an in-memory file with no stat (the build
 * crashed on the first blob of any repository). */
TEST(git_history_indexed)
{
    char repo[600], *out = NULL;
    snprintf(repo, sizeof repo, "%s/gitdump/service", ks_test_tmpdir());
    CHECK_INT(gen_git_history(repo, "tok\nOWNER=dev.lead@gitorg.example\nOPS_PHONE=+44 20 7946 0321"), 0);
    CHECK_INT(build("idx6.db", "gitdump", NULL, &out), 0);
    free(out);
    char *js = stats("idx6.db", "gitorg.example");
    CHECK(js && strstr(js, "\"found\":true"));
    CHECK_INT(json_int(js, "addresses"), 1);
    CHECK_INT(json_int(js, "phones"), 1);
    free(js);
    /* a second run finds the blobs already indexed: nothing counted twice */
    CHECK_INT(build("idx6.db", "gitdump", NULL, &out), 0);
    const char *k = out ? strstr(out, "files (") : NULL;
    CHECK(k && atoi(k + 7) > 0);
    free(out);
    js = stats("idx6.db", "gitorg.example");
    CHECK_INT(json_int(js, "addresses"), 1);
    CHECK_INT(json_int(js, "documents"), 1);
    free(js);
}

TEST(range_buckets)
{
    char db[4096], err[512], a[2][64], other[64];
    ks_store *s = NULL;
    uint8_t sha[32];
    /* two addresses in one bucket, so a later batch merges into a stored one */
    static uint32_t seen_bucket[4096];
    int found = 0;
    for (unsigned i = 0; i < 4096 && !found; i++) {
        char t[64];
        snprintf(t, sizeof t, "u%u@r.example", i);
        crypto_hash_sha256(sha, (const unsigned char *)t, strlen(t));
        seen_bucket[i] = ks__store_bucket(sha);
        for (unsigned j = 0; j < i; j++) {
            if (seen_bucket[j] == seen_bucket[i]) {
                snprintf(a[0], sizeof a[0], "u%u@r.example", j);
                snprintf(a[1], sizeof a[1], "%s", t);
                found = 1;
                break;
            }
        }
    }
    CHECK(found);
    snprintf(other, sizeof other, "someone@r.example");
    snprintf(db, sizeof db, "%s/range.db", ks_test_tmpdir());
    CHECK_INT(ks__store_open(db, NULL, KS_STORE_WRITE | KS_STORE_CREATE, &s, err, sizeof err), KS_OK);
    if (!s)
        return;
    CHECK_INT(put_addr(s, a[0]), KS_OK);
    CHECK_INT(put_addr(s, a[0]), KS_OK);
    CHECK_INT(put_addr(s, other), KS_OK);
    CHECK_INT(ks__store_commit(s), KS_OK);
    int total = 0;
    CHECK_INT(range_count(s, a[0], &total), 1);
    CHECK_INT(total, 1);
    CHECK_INT(range_count(s, a[1], NULL), 0);
    /* second batch: the bucket's new address merged in, the old one once */
    CHECK_INT(put_addr(s, a[1]), KS_OK);
    CHECK_INT(put_addr(s, a[0]), KS_OK);
    CHECK_INT(ks__store_commit(s), KS_OK);
    CHECK_INT(range_count(s, a[0], &total), 1);
    CHECK_INT(total, 2);
    CHECK_INT(range_count(s, a[1], NULL), 1);
    CHECK_INT(range_count(s, other, NULL), 1);
    /* the in-memory copy: the same answers; a sync reads only what later
     * batches changed; over its cap it stays unloaded (KS_ENOTFOUND) */
    ks_srange_mem *m = ks__srange_new(1 << 20);
    size_t changed = 0;
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_INT(range_count_in(s, m, a[0], NULL), -1);
    CHECK_INT(ks__srange_sync(m, s, &changed), KS_OK);
    CHECK_INT((long long)changed, 2);
    CHECK_INT(range_count_in(s, m, a[0], &total), 1);
    CHECK_INT(total, 2);
    CHECK_INT(range_count_in(s, m, a[1], NULL), 1);
    CHECK_INT(range_count_in(s, m, other, NULL), 1);
    CHECK_INT(range_count_in(s, m, "nobody@r.example", &total), 0);
    CHECK_INT(ks__srange_sync(m, s, &changed), KS_OK);
    CHECK_INT((long long)changed, 0);
    CHECK_INT(put_addr(s, "late@r.example"), KS_OK);
    CHECK_INT(ks__store_commit(s), KS_OK);
    CHECK_INT(range_count_in(s, m, "late@r.example", NULL), 0); /* not synced yet */
    CHECK_INT(ks__srange_sync(m, s, &changed), KS_OK);
    CHECK_INT((long long)changed, 1);
    CHECK_INT(range_count_in(s, m, "late@r.example", NULL), 1);
    ks__srange_drop(m);
    CHECK_INT(range_count_in(s, m, a[0], NULL), -1);
    ks__srange_free(m);
    m = ks__srange_new(64);
    CHECK_INT(ks__srange_sync(m, s, NULL), KS_ELIMIT);
    CHECK_INT(range_count_in(s, m, a[0], NULL), -1);
    ks__srange_free(m);
    /* an index from before the buckets (one `ranges` row per address) is
     * moved into buckets when opened for writing */
    sqlite3 *q = ks__store_db(s);
    CHECK_INT(sqlite3_exec(q, "DELETE FROM rbuckets; CREATE TABLE ranges(bucket INTEGER, h BLOB, enc BLOB,"
                              " PRIMARY KEY(bucket, h)) WITHOUT ROWID", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 3; i++) {
        const char *v = i < 2 ? a[i] : other;
        ks_buf enc = KS_BUF_INIT;
        sqlite3_stmt *st = NULL;
        crypto_hash_sha256(sha, (const unsigned char *)v, strlen(v));
        CHECK_INT(ks__store_seal(s, sha, 32, &enc), KS_OK);
        CHECK_INT(sqlite3_prepare_v2(q, "INSERT INTO ranges VALUES(?1, ?2, ?3)", -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_int64(st, 1, ks__store_bucket(sha));
        sqlite3_bind_blob(st, 2, sha, 32, SQLITE_STATIC); /* any distinct key */
        sqlite3_bind_blob(st, 3, enc.p, (int)enc.n, SQLITE_STATIC);
        CHECK_INT(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
        ks__buf_release(&enc);
    }
    CHECK_INT(range_count(s, a[0], NULL), 0);
    CHECK_INT(range_count(s, "late@r.example", NULL), 0);
    ks__store_close(s);
    s = NULL;
    CHECK_INT(ks__store_open(db, NULL, KS_STORE_WRITE, &s, err, sizeof err), KS_OK);
    if (!s)
        return;
    CHECK_INT(range_count(s, a[0], &total), 1);
    CHECK_INT(total, 2);
    CHECK_INT(range_count(s, a[1], NULL), 1);
    CHECK_INT(range_count(s, other, NULL), 1);
    CHECK(sqlite3_exec(ks__store_db(s), "SELECT 1 FROM ranges", NULL, NULL, NULL) != SQLITE_OK);
    ks__store_close(s);
}

/* Fresh counts of a domain (kind, type) since a batch, as exposure reads them. */
static uint64_t fresh_of(ks_store *s, const char *dom, int64_t since, unsigned kind, const char *type)
{
    ks_sexposure x;
    uint64_t n = 0;
    if (ks__store_exposure(s, dom, since, &x) != KS_OK)
        return (uint64_t)-1;
    for (size_t i = 0; i < x.ncounts; i++)
        if (x.counts[i].kind == kind && !strcmp(x.counts[i].type, type))
            n = x.counts[i].fresh;
    ks__sexposure_release(&x);
    return n;
}

static int put_secret(ks_store *s, const char *dom, const char *type, const char *v)
{
    ks_sput p = {.domain = dom, .kind = KS_SK_SECRET, .type = type, .value = v, .nvalue = strlen(v),
                 .seal = true, .time = KS_TIME_NONE};
    return ks__store_put(s, &p);
}

/* Items new since a batch (the portal's "new"): counted from the per-batch
 * fresh table a build writes, and from the items themselves in an index
 * an older kensa built (it has the items_fresh index instead): both
 * answer the same. */
TEST(fresh_since_batch)
{
    char db[4096], err[512];
    ks_store *s = NULL;
    snprintf(db, sizeof db, "%s/fresh.db", ks_test_tmpdir());
    CHECK_INT(ks__store_open(db, NULL, KS_STORE_WRITE | KS_STORE_CREATE, &s, err, sizeof err), KS_OK);
    if (!s)
        return;
    CHECK_INT(put_addr(s, "a@f.example"), KS_OK);
    CHECK_INT(put_secret(s, "f.example", "aws.access_key", "AKIA1"), KS_OK);
    CHECK_INT(ks__store_commit(s), KS_OK);
    int64_t b1 = ks__store_last_batch(s);
    CHECK_INT(put_addr(s, "a@f.example"), KS_OK); /* seen again: not new */
    CHECK_INT(put_addr(s, "b@f.example"), KS_OK);
    CHECK_INT(put_addr(s, "c@f.example"), KS_OK);
    CHECK_INT(put_secret(s, "f.example", "aws.access_key", "AKIA2"), KS_OK);
    CHECK_INT(put_secret(s, "f.example", "github.token", "ghp_1"), KS_OK);
    CHECK_INT(ks__store_commit(s), KS_OK);
    int64_t b2 = ks__store_last_batch(s);
    CHECK_INT(put_addr(s, "d@f.example"), KS_OK);
    CHECK_INT(ks__store_commit(s), KS_OK);
    for (int legacy = 0; legacy < 2; legacy++) {
        CHECK_INT((long long)fresh_of(s, "f.example", b1, KS_SK_ADDRESS, ""), 3);
        CHECK_INT((long long)fresh_of(s, "f.example", b2, KS_SK_ADDRESS, ""), 1);
        CHECK_INT((long long)fresh_of(s, "f.example", b1, KS_SK_SECRET, "aws.access_key"), 1);
        CHECK_INT((long long)fresh_of(s, "f.example", b1, KS_SK_SECRET, "github.token"), 1);
        CHECK_INT((long long)fresh_of(s, "f.example", b2, KS_SK_SECRET, "github.token"), 0);
        if (legacy)
            break;
        /* what an older kensa leaves: the index, rows of the fresh table
         * missing for its batches */
        CHECK_INT(sqlite3_exec(ks__store_db(s), "CREATE INDEX items_fresh ON items(org, first_batch);"
                                                "DELETE FROM fresh", NULL, NULL, NULL), SQLITE_OK);
        ks__store_close(s);
        s = NULL;
        CHECK_INT(ks__store_open(db, NULL, KS_STORE_READ, &s, err, sizeof err), KS_OK);
        if (!s)
            return;
    }
    ks__store_close(s);
}
