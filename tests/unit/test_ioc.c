/* SPDX-License-Identifier: Apache-2.0
 *
 * The IOC file detector end to end (mode=files): hash lists in their three
 * shapes (hash;description, plain, sha256sum) and FireEye's CSV, file name
 * regexes with scores and false-positive regexes, literal C2 domains found
 * across read-chunk boundaries (Vectorscan streaming), STIX 2.1 bundles,
 * malformed lines reported with their line number, hashes not computed
 * when no hash list is loaded, and kensa's bundled SUNBURST/Exchange lists.
 * With ../shared/corpus: signature-base's IOC lists load (LOAD line).
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include "core/source.h"
#include "detect/fileinfo.h"
#include "harness.h"
#include "kensa/kensa.h"

typedef struct diags {
    int n_error, n_warn;
    char warn_at[4096]; /* "file:line|" of warnings */
    char info[2048];
} diags;

static void on_diag(void *ud, const ks_diag *d)
{
    diags *g = ud;
    if (d->level == KS_DIAG_ERROR)
        g->n_error++;
    if (d->level == KS_DIAG_WARN) {
        g->n_warn++;
        size_t l = strlen(g->warn_at);
        const char *b = d->loc.path ? strrchr(d->loc.path, '/') : NULL;
        snprintf(g->warn_at + l, sizeof g->warn_at - l, "%s:%llu|", b ? b + 1 : "",
                 (unsigned long long)d->loc.line);
    }
    if (d->level == KS_DIAG_INFO && d->component && !strcmp(d->component, "ioc")) {
        size_t l = strlen(g->info);
        snprintf(g->info + l, sizeof g->info - l, "%s|", d->msg);
    }
}

static char *path_in(const char *rel)
{
    size_t n = strlen(ks_test_tmpdir()) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", ks_test_tmpdir(), rel);
    return p;
}

static void mkdir_p(const char *rel)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", ks_test_tmpdir(), rel);
    if (system(cmd) != 0)
        fprintf(stderr, "mkdir failed: %s\n", rel);
}

static ks_engine *run(const char *const *iocs, bool builtin, const char *data, diags *g)
{
    ks_engine *e = NULL;
    memset(g, 0, sizeof *g);
    if (ks_engine_new(&e) != KS_OK)
        return NULL;
    ks_engine_set(e, "mode", "files");
    ks_engine_set(e, "rules_dir", "rules");
    ks_engine_set(e, "detector.yara", "false");
    ks_engine_set(e, "builtin", builtin ? "true" : "false");
    for (int i = 0; iocs && iocs[i]; i++)
        ks_engine_set(e, "ioc", iocs[i]);
    ks_engine_add_path(e, data);
    ks_engine_on_diag(e, on_diag, g);
    if (ks_engine_run(e) != KS_OK) {
        ks_engine_free(e);
        return NULL;
    }
    return e;
}

static const ks_finding *find(const ks_engine *e, const char *rule, const char *path_part)
{
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        if (strncmp(f->rule_id, rule, strlen(rule)) == 0 && f->nevidence &&
            strstr(f->evidence[0].path, path_part))
            return f;
    }
    return NULL;
}

static size_t count(const ks_engine *e, const char *rule)
{
    size_t n = 0;
    for (size_t i = 0; i < ks_engine_nfindings(e); i++)
        if (!strncmp(ks_engine_finding(e, i)->rule_id, rule, strlen(rule)))
            n++;
    return n;
}

static const char *detail(const ks_finding *f, const char *key)
{
    for (size_t i = 0; i < f->ndetails; i++)
        if (!strcmp(f->details[i].key, key))
            return f->details[i].value;
    return NULL;
}

static void digest(const EVP_MD *md, const char *s, char *hex)
{
    unsigned char d[64];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), d, &n, md, NULL);
    for (unsigned i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static const char bad1[] = "kensa test malware one\n";
static const char bad2[] = "kensa test malware two\n";
static const char bad3[] = "kensa test malware three\n";
static const char bad4[] = "kensa test malware four\n";
static const char good[] = "an ordinary file\n";

TEST(hash_lists_all_shapes)
{
    char h1[129], h2[129], h3[129], h4[129], list[2048];
    digest(EVP_sha256(), bad1, h1);
    digest(EVP_md5(), bad2, h2);
    digest(EVP_sha1(), bad3, h3);
    digest(EVP_sha256(), bad4, h4);
    mkdir_p("h/data");
    ks_test_write("h/data/one.bin", bad1, sizeof bad1 - 1);
    ks_test_write("h/data/two.bin", bad2, sizeof bad2 - 1);
    ks_test_write("h/data/three.bin", bad3, sizeof bad3 - 1);
    ks_test_write("h/data/four.bin", bad4, sizeof bad4 - 1);
    ks_test_write("h/data/good.txt", good, sizeof good - 1);
    int n = snprintf(list, sizeof list,
                     "# Test campaign\n%s;Test malware one\n\n%s\n%s  three.bin\nnot a hash line\n", h1,
                     h2, h3);
    ks_test_write("h/hash-list.txt", list, (size_t)n);
    n = snprintf(list, sizeof list,
                 "SHA256,SHA1,MD5,FILENAME,Malware Family\n%s,,,four.bin,TESTFAMILY\n", h4);
    ks_test_write("h/release.csv", list, (size_t)n);
    char *l1 = path_in("h/hash-list.txt"), *l2 = path_in("h/release.csv"), *data = path_in("h/data");
    const char *iocs[] = {l1, l2, NULL};
    diags g;
    ks_engine *e = run(iocs, false, data, &g);
    CHECK(e != NULL);
    if (e) {
        const ks_finding *f = find(e, "ioc:hash:sha256", "one.bin");
        CHECK(f != NULL);
        if (f) {
            CHECK(strstr(f->title, "Test malware one") != NULL);
            CHECK(f->severity == KS_SEV_CRITICAL);
            CHECK(detail(f, "mtime") != NULL);
        }
        CHECK(find(e, "ioc:hash:md5", "two.bin") != NULL);
        CHECK(find(e, "ioc:hash:sha1", "three.bin") != NULL);
        f = find(e, "ioc:hash:sha256", "four.bin");
        CHECK(f != NULL);
        if (f)
            CHECK(strstr(f->title, "TESTFAMILY") != NULL);
        CHECK(find(e, "ioc:", "good.txt") == NULL);
        CHECK(strstr(g.warn_at, "hash-list.txt:6|") != NULL);
        ks_engine_free(e);
    }
    free(l1);
    free(l2);
    free(data);
}

/* One read serves every file detector: digests recorded in the file's
 * ks_file.fh are not computed again. The file is gone before the second
 * ask, so any read then fails. */
TEST(digests_shared_between_detectors)
{
    const char *p = ks_test_write("shared.bin", "kensa shared digest\n", 20);
    char err[256], want[65], got[65];
    ks_source *src = NULL;
    ks_fread rd = {0};
    ks_fhash fh = {0}, out;
    CHECK_INT(ks__source_open(AT_FDCWD, p, p, &src, err, sizeof err), KS_OK);
    CHECK_INT(ks__fread_init(&rd), KS_OK);
    if (!src || !rd.buf)
        goto out;
    ks_file f = {.path = p, .name = "shared.bin", .src = src, .fh = &fh};
    CHECK_INT(ks__file_read(&rd, &f, KS_FH_SHA256 | KS_FH_MD5, NULL, NULL, &out, err, sizeof err),
              KS_OK);
    CHECK_INT(fh.have, KS_FH_SHA256 | KS_FH_MD5);
    /* emptied under its mapping: a read now would see no byte of it */
    CHECK(truncate(p, 0) == 0);
    memset(&out, 0, sizeof out);
    CHECK_INT(ks__file_read(&rd, &f, KS_FH_SHA256, NULL, NULL, &out, err, sizeof err), KS_OK);
    CHECK((out.have & KS_FH_SHA256) != 0);
    digest(EVP_sha256(), "kensa shared digest\n", want);
    ks__hex(out.sha256, 32, got);
    CHECK(strcmp(got, want) == 0);
    CHECK_INT(ks__source_shrunk(src), UINT64_MAX); /* taken, not read */
    /* a digest not there yet needs a read: it meets the shrunk file (zero
     * pages, core/sigbus.c) and gives no digest of bytes that are gone */
    memset(&out, 0, sizeof out);
    CHECK_INT(ks__file_read(&rd, &f, KS_FH_SHA1, NULL, NULL, &out, err, sizeof err), KS_OK);
    CHECK_INT(ks__source_shrunk(src), 0);
    CHECK_INT(out.have & KS_FH_SHA1, 0);
    CHECK_INT(fh.have, KS_FH_SHA256 | KS_FH_MD5);
out:
    ks__fread_release(&rd);
    ks__source_close(src);
}

TEST(filename_regex_scores_and_fp)
{
    static const char list[] =
        "# Test web shells\n"
        "\\\\evil\\.aspx$;90;\\\\safe\\\\\n"
        "\\\\owa\\\\auth\\\\(?!logon)[a-z]+\\.aspx$;70\n"
        "\\\\ignored\\.txt$;-10\n"
        "bad regex (;50\n";
    mkdir_p("n/data/web");
    mkdir_p("n/data/safe");
    mkdir_p("n/data/owa/auth");
    ks_test_write("n/data/web/evil.aspx", "x", 1);
    ks_test_write("n/data/safe/evil.aspx", "x", 1);
    ks_test_write("n/data/owa/auth/logon.aspx", "x", 1);
    ks_test_write("n/data/owa/auth/shelly.aspx", "x", 1);
    ks_test_write("n/data/ignored.txt", "x", 1);
    ks_test_write("n/filename-iocs.txt", list, sizeof list - 1);
    char *l = path_in("n/filename-iocs.txt"), *data = path_in("n/data");
    const char *iocs[] = {l, NULL};
    diags g;
    ks_engine *e = run(iocs, false, data, &g);
    CHECK(e != NULL);
    if (e) {
        const ks_finding *f = find(e, "ioc:filename", "web/evil.aspx");
        CHECK(f != NULL);
        if (f) {
            CHECK(f->severity == KS_SEV_CRITICAL);
            CHECK(strstr(f->title, "Test web shells") != NULL);
            /* No hash list loaded: no hashing at all. */
            CHECK(detail(f, "sha256") == NULL);
        }
        CHECK(find(e, "ioc:filename", "safe/evil.aspx") == NULL);
        CHECK(find(e, "ioc:filename", "auth/shelly.aspx") != NULL); /* PCRE2 fallback */
        CHECK(find(e, "ioc:filename", "auth/logon.aspx") == NULL);
        CHECK(find(e, "ioc:filename", "ignored.txt") == NULL);
        CHECK(strstr(g.warn_at, "filename-iocs.txt:5|") != NULL);
        ks_engine_free(e);
    }
    free(l);
    free(data);
}

TEST(literals_across_chunks)
{
    /* The domain straddles the 1 MiB read boundary, in a file read through
     * its mapping (in slices) and in one streamed with pread() (past
     * KS_FREAD_MAP_MAX), where the same bytes hash the same. */
    size_t n = (size_t)KS_FREAD_MAP_MAX + ((size_t)1 << 20) + 3;
    char *big = malloc(n);
    memset(big, 'a', n);
    for (size_t i = 0; i < n; i += 80)
        big[i] = '\n';
    memcpy(big + (1 << 20) - 5, "AVSVMCLOUD.com", 14);
    mkdir_p("l/data");
    ks_test_write("l/data/proxy.log", big, (size_t)3 << 20);
    ks_test_write("l/data/proxy-big.log", big, n);
    ks_test_write("l/data/clean.log", big, 1000);
    char *data = path_in("l/data");
    diags g;
    ks_engine *e = run(NULL, true, data, &g);
    CHECK(e != NULL);
    if (e) {
        const char *logs[] = {"proxy.log", "proxy-big.log"};
        for (int i = 0; i < 2; i++) {
            const ks_finding *f = find(e, "ioc:literal", logs[i]);
            CHECK(f != NULL);
            if (f) {
                CHECK_INT(f->evidence[0].offset, (1 << 20) - 5);
                CHECK(f->nmatched == 1 && !strcmp(f->matched[0].value, "avsvmcloud.com"));
            }
        }
        CHECK(find(e, "ioc:literal", "clean.log") == NULL);
        ks_engine_free(e);
    }
    /* streamed or mapped, the digests are those of the content */
    char *bp = path_in("l/data/proxy-big.log"), err[256];
    ks_source *src = NULL;
    ks_fread rd = {0};
    ks_fhash out;
    CHECK_INT(ks__source_open(AT_FDCWD, bp, bp, &src, err, sizeof err), KS_OK);
    CHECK_INT(ks__fread_init(&rd), KS_OK);
    if (src && rd.buf) {
        ks_file f = {.path = bp, .name = "proxy-big.log", .src = src};
        CHECK(ks__file_streamed(&f));
        CHECK_INT(ks__file_read(&rd, &f, KS_FH_SHA256, NULL, NULL, &out, err, sizeof err), KS_OK);
        uint8_t want[32];
        unsigned wl = 0;
        EVP_Digest(big, n, want, &wl, EVP_sha256(), NULL);
        CHECK(out.nread == n && (out.have & KS_FH_SHA256) && !memcmp(out.sha256, want, 32));
    }
    ks__fread_release(&rd);
    ks__source_close(src);
    free(bp);
    free(big);
    free(data);
}

TEST(stix_bundle)
{
    char h[129], bundle[4096];
    digest(EVP_sha256(), bad1, h);
    int n = snprintf(bundle, sizeof bundle,
        "{\"type\": \"bundle\", \"id\": \"bundle--1\", \"objects\": [\n"
        " {\"type\": \"identity\", \"name\": \"not an indicator\"},\n"
        " {\"type\": \"indicator\", \"spec_version\": \"2.1\", \"name\": \"Test STIX hash\",\n"
        "  \"pattern\": \"[file:hashes.'SHA-256' = '%s']\", \"pattern_type\": \"stix\",\n"
        "  \"external_references\": [{\"source_name\": \"x\", \"name\": \"nested\"}]},\n"
        " {\"type\": \"indicator\", \"name\": \"Test STIX name\",\n"
        "  \"pattern\": \"[file:name = 'update.aspx'] OR [domain-name:value = 'evil-c2.example']\"}\n"
        "]}\n", h);
    mkdir_p("s/data");
    ks_test_write("s/bundle.json", bundle, (size_t)n);
    ks_test_write("s/data/x.bin", bad1, sizeof bad1 - 1);
    ks_test_write("s/data/update.aspx", "nothing", 7);
    ks_test_write("s/data/notupdate.aspx", "nothing", 7);
    ks_test_write("s/data/cfg.ini", "host=EVIL-C2.example\n", 21);
    char *b = path_in("s/bundle.json"), *data = path_in("s/data");
    const char *iocs[] = {b, NULL};
    diags g;
    ks_engine *e = run(iocs, false, data, &g);
    CHECK(e != NULL);
    if (e) {
        const ks_finding *f = find(e, "ioc:hash:sha256", "x.bin");
        CHECK(f != NULL);
        if (f)
            CHECK(strstr(f->title, "Test STIX hash") != NULL);
        CHECK(find(e, "ioc:filename", "/update.aspx") != NULL);
        CHECK(find(e, "ioc:filename", "notupdate.aspx") == NULL);
        CHECK(find(e, "ioc:literal", "cfg.ini") != NULL);
        CHECK_INT(g.n_warn, 0);
        ks_engine_free(e);
    }
    free(b);
    free(data);
}

TEST(bundled_lists)
{
    mkdir_p("b/inetpub/wwwroot/aspnet_client");
    ks_test_write("b/inetpub/wwwroot/aspnet_client/errorEE.aspx", "x", 1);
    ks_test_write("b/inetpub/wwwroot/aspnet_client/other.txt", "x", 1);
    char *data = path_in("b");
    diags g;
    ks_engine *e = run(NULL, true, data, &g);
    CHECK(e != NULL);
    if (e) {
        CHECK(find(e, "ioc:filename", "errorEE.aspx") != NULL);
        CHECK_INT(count(e, "ioc:filename"), 1); /* one finding per file */
        CHECK(find(e, "ioc:", "other.txt") == NULL);
        CHECK_INT(g.n_error, 0);
        CHECK_INT(g.n_warn, 0);
        ks_engine_free(e);
    }
    free(data);
}

TEST(corpus_lists_load)
{
    const char *corpus = ks_test_corpus();
    if (!corpus) {
        ks_test_skip("corpus", "../shared/corpus not found");
        return;
    }
    char iocs_dir[1024], release[1024];
    snprintf(iocs_dir, sizeof iocs_dir, "%s/signature-base/iocs", corpus);
    snprintf(release, sizeof release, "%s/sunburst-countermeasures/indicator_release", corpus);
    const char *iocs[] = {iocs_dir, release, NULL};
    mkdir_p("c/empty");
    ks_test_write("c/empty/plain.txt", "nothing to see\n", 15); /* a run that reads nothing is an error */
    char *data = path_in("c/empty");
    diags g;
    ks_engine *e = run(iocs, true, data, &g);
    CHECK(e != NULL);
    if (e) {
        printf("LOAD signature-base iocs + FireEye indicator release: %s (%d warnings)\n", g.info,
               g.n_warn);
        CHECK_INT(g.n_error, 0);
        CHECK(strstr(g.info, " hashes") != NULL);
        ks_engine_free(e);
    }
    free(data);
}
