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
    char *cold = hunt("grace", ""), *d1 = cache_diags();
    /* written within 2 s of the run: its times do not vouch for it yet */
    CHECK(d1 && strstr(d1, "0 files unchanged") && strstr(d1, "1 read"));
    CHECK_INT(system("sleep 3"), 0);
    char *d2 = cache_diags(), *d3 = cache_diags(), *warm = cache_diags();
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
