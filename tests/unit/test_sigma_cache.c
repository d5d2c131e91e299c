/* SPDX-License-Identifier: Apache-2.0
 *
 * Sigma's caches (issue 21: start-up beside its floor): the prefilter's
 * Vectorscan databases and the parsed rule files are kept between runs,
 * findings and load diagnostics do not change when they come from the
 * cache, a damaged entry is compiled or parsed again, an edited rule never
 * meets its old tree, and the cache keeps sigma.cache_keep entries. Runs the kensa binary over an EVTX file that
 * kensa-gen writes. Unchanged rule files are not read (their stat is the
 * one a former run hashed); any change to one is read again; a damaged
 * cache file is ignored with a warning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "kensa_int.h"

static char evtx_[1024], dir_[1024];

static const char rule_[] = "title: cache test logon\n"
                            "id: 5e1f0c9e-0000-4000-8000-00000000ca01\n"
                            "level: high\n"
                            "logsource: {product: windows, service: security}\n"
                            "detection:\n"
                            "  s:\n"
                            "    EventID: 4648\n"
                            "    TargetUserName|contains: '%s'\n"
                            "  condition: s\n";

static void setup(void)
{
    char cmd[3000];
    if (evtx_[0])
        return;
    snprintf(evtx_, sizeof evtx_, "%s/sec.evtx", ks_test_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p %s/rules", ks_test_tmpdir());
    CHECK_INT(system(cmd), 0);
    snprintf(dir_, sizeof dir_, "%s/cache", ks_test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s/kensa-gen evtx --records 2000 --out %s >/dev/null",
             ks_test_build(), evtx_);
    CHECK_INT(system(cmd), 0);
}

/* Writes rules/r.yml matching user `who` and hunts with it: findings as JSON lines. */
static char *hunt(const char *who, const char *extra)
{
    char rule[1024], cmd[4096], *out = NULL;
    snprintf(rule, sizeof rule, rule_, who);
    ks_test_write("rules/r.yml", rule, strlen(rule));
    snprintf(cmd, sizeof cmd,
             "%s/kensa hunt -q --threads 1 --no-builtin --rules %s/rules --set yara.cache_dir=%s "
             "--set detector.identity=false %s --json - %s 2>/dev/null | grep -c 5e1f0c9e",
             ks_test_build(), ks_test_tmpdir(), dir_, extra, evtx_);
    ks_test_run(cmd, &out);
    return out;
}

static size_t entries(const char *glob)
{
    char cmd[1400], *out = NULL;
    snprintf(cmd, sizeof cmd, "ls %s 2>/dev/null | grep -c '%s'", dir_, glob);
    ks_test_run(cmd, &out);
    size_t n = out ? strtoul(out, NULL, 10) : 0;
    free(out);
    return n;
}

/* The load summary and the YAML error of a broken file, cold and warm. */
static char *load_diags(void)
{
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "%s/kensa hunt --verbose --threads 1 --no-builtin --rules %s/rules "
             "--set yara.cache_dir=%s %s 2>&1 >/dev/null | grep -E 'rules loaded|broken'",
             ks_test_build(), ks_test_tmpdir(), dir_, evtx_);
    ks_test_run(cmd, &out);
    return out;
}

TEST(parsed_rules_cached)
{
    setup();
    char cmd[2400];
    static const char broken[] = "title: broken\nlogsource: {product: windows\ndetection: [\n";
    ks_test_write("rules/broken.yml", broken, sizeof broken - 1);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir_);
    CHECK_INT(system(cmd), 0);
    char *cold = hunt("grace", ""), *dcold = load_diags();
    char *warm = hunt("grace", ""), *dwarm = load_diags();
    CHECK_INT(entries("^sigma-yt-.*\\.yt$"), 1);
    CHECK(cold && strtoul(cold, NULL, 10) > 0);
    CHECK(cold && warm && strcmp(cold, warm) == 0);
    CHECK(dcold && strstr(dcold, "broken.yml") && strstr(dcold, "1 failed"));
    CHECK(dcold && dwarm && strcmp(dcold, dwarm) == 0);
    /* an edited rule is parsed again: a user nobody has finds nothing */
    char *none = hunt("nobody-at-all", "");
    CHECK(none && strtoul(none, NULL, 10) == 0);
    /* damaged entry: parsed again, same findings */
    snprintf(cmd, sizeof cmd,
             "for f in %s/sigma-yt-*.yt; do head -c 300 $f > $f.x; mv $f.x $f; done", dir_);
    CHECK_INT(system(cmd), 0);
    char *damaged = hunt("grace", ""), *ddamaged = load_diags();
    CHECK(cold && damaged && strcmp(cold, damaged) == 0);
    CHECK(dcold && ddamaged && strcmp(dcold, ddamaged) == 0);
    snprintf(cmd, sizeof cmd, "rm -f %s/rules/broken.yml", ks_test_tmpdir());
    CHECK_INT(system(cmd), 0);
    free(cold);
    free(dcold);
    free(warm);
    free(dwarm);
    free(none);
    free(damaged);
    free(ddamaged);
}

TEST(prefilter_databases_cached)
{
    setup();
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir_);
    CHECK_INT(system(cmd), 0);
    char *cold = hunt("grace", ""), *warm = hunt("grace", "");
    CHECK(cold && strtoul(cold, NULL, 10) > 0);
    CHECK(cold && warm && strcmp(cold, warm) == 0);
    CHECK_INT(entries("^sigma-pre-.*\\.hs$"), 1);
    /* damaged: compiled again, same findings */
    snprintf(cmd, sizeof cmd, "for f in %s/sigma-pre-*.hs; do head -c 30 $f > $f.x; mv $f.x $f; done",
             dir_);
    CHECK_INT(system(cmd), 0);
    char *damaged = hunt("grace", "");
    CHECK(cold && damaged && strcmp(cold, damaged) == 0);
    /* other rules: another entry, their own findings; bounded by sigma.cache_keep */
    char *other = hunt("frank", "--set sigma.cache_keep=1");
    CHECK(other && strtoul(other, NULL, 10) > 0);
    CHECK_INT(entries("^sigma-pre-.*\\.hs$"), 1);
    /* off: nothing written */
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir_);
    CHECK_INT(system(cmd), 0);
    char *off = hunt("grace", "--set sigma.cache=false");
    CHECK(cold && off && strcmp(cold, off) == 0);
    CHECK_INT(entries("^sigma-pre-"), 0);
    free(cold);
    free(warm);
    free(damaged);
    free(other);
    free(off);
}

/* The --verbose line of the rule cache and the warnings, of one run. */
static char *cache_diags(void)
{
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "%s/kensa hunt --verbose --threads 1 --no-builtin --rules %s/rules "
             "--set yara.cache_dir=%s --set detector.identity=false %s 2>&1 >/dev/null | "
             "grep -E 'rule cache'",
             ks_test_build(), ks_test_tmpdir(), dir_, evtx_);
    ks_test_run(cmd, &out);
    return out;
}

TEST(unchanged_files_not_read)
{
    setup();
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir_);
    CHECK_INT(system(cmd), 0);
    char *cold = hunt("grace", "");
    /* the rule file new again: the hunt above may take longer than 2 s
     * (make asan on a loaded machine), after which it would be vouched for */
    snprintf(cmd, sizeof cmd, "touch %s/rules/r.yml", ks_test_tmpdir());
    CHECK_INT(system(cmd), 0);
    char *d1 = cache_diags();
    /* written within 2 s of the run: its times do not vouch for it yet */
    CHECK(d1 && strstr(d1, "0 files unchanged") && strstr(d1, "1 read"));
    CHECK_INT(system("sleep 3"), 0);
    char *d2 = cache_diags();
    /* the compiled rule set written by that run is not what this test is
     * about: without it, the trees are read unread */
    snprintf(cmd, sizeof cmd, "rm -f %s/sigma-rc-*", dir_);
    CHECK_INT(system(cmd), 0);
    char *d3 = cache_diags(), *warm = cache_diags();
    free(warm);
    warm = NULL;
    CHECK(d2 && strstr(d2, "1 read")); /* hashed now that it is older: its stat kept */
    CHECK(d3 && strstr(d3, "1 files unchanged") && strstr(d3, "0 read"));
    CHECK_INT(entries("^sigma-st-.*\\.st$"), 1);
    snprintf(cmd, sizeof cmd,
             "%s/kensa hunt -q --threads 1 --no-builtin --rules %s/rules --set yara.cache_dir=%s "
             "--set detector.identity=false --json - %s 2>/dev/null | grep -c 5e1f0c9e",
             ks_test_build(), ks_test_tmpdir(), dir_, evtx_);
    ks_test_run(cmd, &warm);
    CHECK(cold && warm && strcmp(cold, warm) == 0);
    /* same size, the old modification time put back: the change time
     * moved, so the file is read again and its new rule applies */
    snprintf(cmd, sizeof cmd, "touch -r %s/rules/r.yml %s/ref", ks_test_tmpdir(), ks_test_tmpdir());
    CHECK_INT(system(cmd), 0);
    char rule[1024];
    snprintf(rule, sizeof rule, rule_, "frank");
    ks_test_write("rules/r.yml", rule, strlen(rule));
    snprintf(cmd, sizeof cmd, "touch -r %s/ref %s/rules/r.yml", ks_test_tmpdir(), ks_test_tmpdir());
    CHECK_INT(system(cmd), 0);
    char *d4 = cache_diags(), *edited = NULL;
    CHECK(d4 && strstr(d4, "1 read"));
    snprintf(cmd, sizeof cmd,
             "%s/kensa hunt -q --threads 1 --no-builtin --rules %s/rules --set yara.cache_dir=%s "
             "--set detector.identity=false --json - %s 2>/dev/null | grep -c 5e1f0c9e",
             ks_test_build(), ks_test_tmpdir(), dir_, evtx_);
    ks_test_run(cmd, &edited);
    char *frank = hunt("frank", "--set sigma.cache=false");
    CHECK(edited && frank && strcmp(edited, frank) == 0 && strcmp(edited, cold) != 0);
    /* damaged cache files: a warning, the rules read again, same findings */
    snprintf(cmd, sizeof cmd,
             "for f in %s/sigma-yt-*.yt; do head -c 20 $f > $f.x; mv $f.x $f; done; "
             "for f in %s/sigma-st-*.st; do echo garbage > $f; done", dir_, dir_);
    CHECK_INT(system(cmd), 0);
    char *d5 = cache_diags();
    CHECK(d5 && strstr(d5, "rule cache file damaged") && strstr(d5, "1 read"));
    char *again = hunt("grace", "");
    CHECK(cold && again && strcmp(cold, again) == 0);
    free(cold);
    free(warm);
    free(edited);
    free(frank);
    free(again);
    free(d1);
    free(d2);
    free(d3);
    free(d4);
    free(d5);
}

/* ---- the compiled rule set (sigma_rcache.c) ---- */

static const char crules_[] =
    "title: cc regex\n"
    "id: 5e1f0c9e-0000-4000-8000-00000000cc01\n"
    "level: high\n"
    "logsource: {product: windows, service: security}\n"
    "detection:\n"
    "  s:\n"
    "    EventID: 4648\n"
    "    TargetUserName|re: '^(%s|bob)$'\n"
    "  condition: s\n"
    "---\n"
    "title: cc base\n"
    "id: 5e1f0c9e-0000-4000-8000-00000000cc02\n"
    "name: cc_base\n"
    "level: low\n"
    "logsource: {product: windows, service: security}\n"
    "detection:\n"
    "  s:\n"
    "    EventID: 4648\n"
    "    TargetUserName|startswith: ['gr', 'fr']\n"
    "  f:\n"
    "    TargetUserName|endswith: 'ank'\n"
    "  condition: s and not f\n"
    "---\n"
    "title: cc count\n"
    "id: 5e1f0c9e-0000-4000-8000-00000000cc03\n"
    "level: high\n"
    "correlation:\n"
    "  type: event_count\n"
    "  rules: cc_base\n"
    "  group-by: [TargetUserName]\n"
    "  timespan: 1h\n"
    "  condition: {gte: 5}\n"
    "  generate: true\n";

/* Writes crules/c.yml (regex user `who`), then hunts: the findings of the
 * cc rules, sorted, without their sequence numbers. */
static char *chunt(const char *who, const char *extra, int *status)
{
    char rules[4096], cmd[4096], *out = NULL;
    if (who) {
        snprintf(rules, sizeof rules, crules_, who);
        ks_test_write("crules/c.yml", rules, strlen(rules));
    }
    snprintf(cmd, sizeof cmd,
             "%s/kensa hunt -q --threads 1 --no-builtin --rules %s/crules --set yara.cache_dir=%s "
             "--set detector.identity=false %s --json - %s 2>/dev/null > %s/c.out; echo $? > %s/c.rc; "
             "grep 00000000cc0 %s/c.out | sed -E 's/\"seq\":[0-9]+,?//' | LC_ALL=C sort",
             ks_test_build(), ks_test_tmpdir(), dir_, extra, evtx_, ks_test_tmpdir(), ks_test_tmpdir(),
             ks_test_tmpdir());
    ks_test_run(cmd, &out);
    if (status) {
        char *rc = NULL;
        snprintf(cmd, sizeof cmd, "cat %s/c.rc", ks_test_tmpdir());
        ks_test_run(cmd, &rc);
        *status = rc ? atoi(rc) : -1;
        free(rc);
    }
    return out;
}

/* The load's report of one run: summary, the broken file, the caches. */
static char *cdiags(const char *grep)
{
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "%s/kensa hunt --verbose --threads 1 --no-builtin --rules %s/crules "
             "--set yara.cache_dir=%s --set detector.identity=false %s 2>&1 >/dev/null | grep -E '%s'",
             ks_test_build(), ks_test_tmpdir(), dir_, evtx_, grep);
    ks_test_run(cmd, &out);
    return out;
}

static bool has(const char *s, const char *what)
{
    return s && strstr(s, what);
}

TEST(compiled_rules_cached)
{
    setup();
    char cmd[2400];
    static const char broken[] = "title: broken\nlogsource: {product: windows\ndetection: [\n";
    snprintf(cmd, sizeof cmd, "rm -rf %s %s/crules; mkdir -p %s/crules", dir_, ks_test_tmpdir(),
             ks_test_tmpdir());
    CHECK_INT(system(cmd), 0);
    ks_test_write("crules/broken.yml", broken, sizeof broken - 1);
    char *ref = chunt("grace", "--set sigma.cache=false", NULL);
    CHECK(ref && strstr(ref, "cc01") && strstr(ref, "cc02") && strstr(ref, "cc03"));
    char *dref = cdiags("rules loaded|broken");
    CHECK(has(dref, "broken.yml") && has(dref, "1 failed"));
    /* written within 2 s of its rule files: not kept (their times do not
     * vouch for them yet) */
    char *d0 = cdiags("rule cache");
    CHECK(!has(d0, "compiled rule cache"));
    CHECK_INT(entries("^sigma-rc-"), 0);
    CHECK_INT(system("sleep 3"), 0);
    char *d1 = cdiags("compiled rule cache"), *d2 = cdiags("compiled rule cache");
    CHECK_INT(entries("^sigma-rc-.*\\.rc$"), 1);
    CHECK(!has(d1, "compiled rule cache")); /* the run that wrote it */
    CHECK(has(d2, "compiled rule cache: 3 rules"));
    int st = -1;
    char *hit = chunt(NULL, "", &st), *dhit = cdiags("rules loaded|broken");
    CHECK_INT(st, 1); /* findings */
    CHECK(ref && hit && strcmp(ref, hit) == 0);
    CHECK(dref && dhit && strcmp(dref, dhit) == 0); /* load diagnostics replayed */
    /* damaged entries: a warning, compiled again, the same findings, and
     * the entry written again */
    static const char *const damage[] = {
        "printf 'X' | dd of=$f bs=1 seek=200 conv=notrunc 2>/dev/null", /* a byte */
        "head -c 300 $f > $f.x; mv $f.x $f",                            /* truncated */
        "echo garbage > $f",                                             /* not one */
    };
    static const char *const why[] = {"checksum", "truncated", "not a compiled rule set"};
    for (size_t i = 0; i < KS_ARRAY_LEN(damage); i++) {
        snprintf(cmd, sizeof cmd, "for f in %s/sigma-rc-*.rc; do %s; done", dir_, damage[i]);
        CHECK_INT(system(cmd), 0);
        char *dd = cdiags("compiled rule cache"), *again = chunt(NULL, "", &st), *dh = cdiags("compiled");
        CHECK(has(dd, "compiled rule cache damaged") && has(dd, why[i]));
        CHECK_INT(st, 1);
        CHECK(ref && again && strcmp(ref, again) == 0);
        CHECK(has(dh, "compiled rule cache: 3 rules") && !has(dh, "damaged"));
        free(dd);
        free(again);
        free(dh);
    }
    /* an edited rule: compiled again, its new findings (frank, not grace) */
    char *frank = chunt("frank", "", &st), *franko = chunt("frank", "--set sigma.cache=false", NULL);
    CHECK(frank && franko && strcmp(frank, franko) == 0 && strcmp(frank, ref) != 0);
    /* a rule file added: the directory's times move, compiled again */
    CHECK_INT(system("sleep 3"), 0);
    free(cdiags("compiled rule cache")); /* writes the entry of the edited rules */
    char *d3 = cdiags("compiled rule cache");
    CHECK(has(d3, "compiled rule cache: 3 rules"));
    char added[1024];
    snprintf(added, sizeof added, rule_, "grace");
    ks_test_write("crules/added.yml", added, strlen(added));
    char *d4 = cdiags("compiled rule cache|rules loaded");
    CHECK(!has(d4, "compiled rule cache:") && has(d4, "4 rules loaded"));
    snprintf(cmd, sizeof cmd, "rm -f %s/crules/added.yml", ks_test_tmpdir());
    CHECK_INT(system(cmd), 0);
    free(ref);
    free(dref);
    free(d0);
    free(d1);
    free(d2);
    free(hit);
    free(dhit);
    free(frank);
    free(franko);
    free(d3);
    free(d4);
}

/* A damaged entry whose checksum was made to match again (what a hostile
 * file would do): every byte flipped somewhere must be refused or read as
 * some rule set, never crash kensa. */
TEST(compiled_rules_hostile)
{
    setup();
    char cmd[2400], path[1400], *name = NULL;
    snprintf(cmd, sizeof cmd, "rm -rf %s %s/crules; mkdir -p %s/crules", dir_, ks_test_tmpdir(),
             ks_test_tmpdir());
    CHECK_INT(system(cmd), 0);
    free(chunt("grace", "", NULL));
    CHECK_INT(system("sleep 3"), 0);
    char *ref = chunt(NULL, "", NULL);
    snprintf(cmd, sizeof cmd, "ls %s | grep '^sigma-rc-' | tr -d '\\n'", dir_);
    ks_test_run(cmd, &name);
    CHECK(name && name[0]);
    if (!name || !name[0])
        return;
    snprintf(path, sizeof path, "%s/%s", dir_, name);
    size_t n = 0;
    FILE *fp = fopen(path, "rb");
    uint8_t *orig = malloc(1 << 20), *b = malloc(1 << 20);
    CHECK(fp && orig && b);
    if (fp) {
        n = fread(orig, 1, 1 << 20, fp);
        fclose(fp);
    }
    CHECK(n > 100 && n < (1 << 20));
    const size_t head = 8 + 4 + 8;
    uint32_t seed = 12345;
    for (int round = 0; round < 48 && n > head + 1; round++) {
        memcpy(b, orig, n);
        for (int k = 0; k < 1 + round % 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = head + (seed >> 8) % (n - head);
            b[at] ^= (uint8_t)(1u << ((seed >> 3) % 8));
            if (round % 4 == 0)
                b[at] = 0xff; /* counts and lengths at their largest */
        }
        uint32_t crc = ks__crc32(0, b + head, n - head);
        memcpy(b + 8, &crc, 4);
        fp = fopen(path, "wb");
        CHECK(fp && fwrite(b, 1, n, fp) == n);
        if (fp)
            fclose(fp);
        int st = -1;
        char *out = chunt(NULL, "", &st);
        CHECK(st == 0 || st == 1); /* no crash, no failed run: findings or none */
        free(out);
        /* the run may have written a good entry: the next round starts
         * from the original again */
        snprintf(cmd, sizeof cmd, "rm -f %s/sigma-rc-*", dir_);
        CHECK_INT(system(cmd), 0);
    }
    /* and the original still reads */
    fp = fopen(path, "wb");
    CHECK(fp && fwrite(orig, 1, n, fp) == n);
    if (fp)
        fclose(fp);
    char *back = chunt(NULL, "", NULL);
    CHECK(ref && back && strcmp(ref, back) == 0);
    free(ref);
    free(back);
    free(name);
    free(orig);
    free(b);
}
