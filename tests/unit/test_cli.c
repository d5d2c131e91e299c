/* SPDX-License-Identifier: Apache-2.0
 * The kensa command end to end: exit statuses, flags, outputs, walking
 * (symlinks, loops, special files), the demo evidence. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"

static int kensa(const char *args, char **out)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/kensa %s 2>&1", ks_test_build(), args);
    return ks_test_run(cmd, out);
}

TEST(usage_errors_exit_2)
{
    char *out = NULL;
    CHECK_INT(kensa("", &out), 2);
    free(out);
    CHECK_INT(kensa("nosuchcmd", &out), 2);
    CHECK(out && strstr(out, "unknown command"));
    free(out);
    CHECK_INT(kensa("hunt --bogus x", &out), 2);
    CHECK(out && strstr(out, "unknown option '--bogus'"));
    free(out);
    CHECK_INT(kensa("hunt --since yesterday x", &out), 2);
    CHECK(out && strstr(out, "not a time"));
    free(out);
    CHECK_INT(kensa("hunt", &out), 2);
    CHECK(out && strstr(out, "no evidence paths"));
    free(out);
    CHECK_INT(kensa("version", &out), 0);
    CHECK(out && strstr(out, "kensa 0."));
    free(out);
    CHECK_INT(kensa("help hunt", &out), 0);
    free(out);
    CHECK_INT(kensa("formats", &out), 0);
    CHECK(out && strstr(out, "json") && strstr(out, "jsonl"));
    free(out);
}

TEST(exit_status_clean_findings_errors)
{
    char *out = NULL, args[1024];
    const char *benign = ks_test_write("benign.jsonl", "{\"x\":1}\n", 8);
    snprintf(args, sizeof args, "hunt -q %s", benign);
    CHECK_INT(kensa(args, &out), 0);
    free(out);
    const char *bad = "{\"createdDateTime\":\"2024-02-01T10:00:00Z\",\"userPrincipalName\":\"a@x.com\","
                      "\"status\":{\"errorCode\":0},\"authenticationRequirement\":\"singleFactorAuthentication\"}\n";
    const char *p = ks_test_write("sf.jsonl", bad, strlen(bad));
    snprintf(args, sizeof args, "hunt -q %s", p);
    CHECK_INT(kensa(args, &out), 1);
    free(out);
    snprintf(args, sizeof args, "hunt -q %s /nonexistent/evidence", p);
    CHECK_INT(kensa(args, &out), 3);
    CHECK(out && strstr(out, "/nonexistent/evidence") && strstr(out, "cannot access"));
    free(out);
    snprintf(args, sizeof args, "hunt -q %s /nonexistent/evidence", benign);
    CHECK_INT(kensa(args, &out), 2);
    free(out);
}

TEST(json_and_csv_outputs)
{
    char *out = NULL, args[2048], jpath[512], cpath[512], cmd[1200];
    const char *bad = "{\"createdDateTime\":\"2024-02-01T10:00:00Z\",\"userPrincipalName\":\"a\\\"b@x.com\","
                      "\"status\":{\"errorCode\":0},\"authenticationRequirement\":\"singleFactorAuthentication\"}\n";
    const char *p = ks_test_write("sf2.jsonl", bad, strlen(bad));
    snprintf(jpath, sizeof jpath, "%s/out.jsonl", ks_test_tmpdir());
    snprintf(cpath, sizeof cpath, "%s/out.csv", ks_test_tmpdir());
    snprintf(args, sizeof args, "hunt -q --json %s --csv %s %s", jpath, cpath, p);
    CHECK_INT(kensa(args, &out), 1);
    free(out);
    snprintf(cmd, sizeof cmd, "jq -r '[.schema,.rule_id,.severity,.evidence[0].line,.matched.account,.first] | @tsv' %s", jpath);
    CHECK_INT(ks_test_run(cmd, &out), 0);
    CHECK(out && strstr(out, "kensa.finding/1\tkensa.identity.no_mfa\tmedium\t1\ta\"b@x.com\t2024-02-01T10:00:00Z"));
    free(out);
    snprintf(cmd, sizeof cmd, "head -1 %s", cpath);
    ks_test_run(cmd, &out);
    CHECK(out && !strncmp(out, "first,last,severity,rule_id", 27));
    free(out);
    /* --json - puts JSON on stdout and the summary on stderr */
    snprintf(cmd, sizeof cmd, "%s/kensa hunt --json - %s 2>/dev/null | jq -c .rule_id", ks_test_build(), p);
    ks_test_run(cmd, &out);
    CHECK(out && strstr(out, "\"kensa.identity.no_mfa\""));
    free(out);
}

TEST(walk_symlinks_loops_specials)
{
    char dir[512], cmd[4096], *out = NULL;
    snprintf(dir, sizeof dir, "%s/tree", ks_test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/a/b && printf '{\"x\":1}\\n' > %s/a/b/e.json && ln -s .. %s/a/b/up && "
             "ln -s /etc/passwd %s/a/link && mkfifo %s/a/fifo", dir, dir, dir, dir, dir);
    CHECK_INT(system(cmd), 0);
    char args[1024];
    snprintf(args, sizeof args, "hunt -v %s", dir);
    CHECK_INT(kensa(args, &out), 0);
    CHECK(out && strstr(out, "symbolic link not followed"));
    CHECK(out && strstr(out, "special file"));
    CHECK(out && strstr(out, "1 events"));
    free(out);
    snprintf(args, sizeof args, "hunt --follow-symlinks %s", dir);
    int rc = kensa(args, &out);
    CHECK(rc == 0 || rc == 2);
    CHECK(out && strstr(out, "loop"));
    free(out);
    /* Everything excluded: the run read nothing and says so (issue 14). */
    snprintf(args, sizeof args, "hunt -q --exclude '*.json' %s", dir);
    CHECK_INT(kensa(args, &out), 2);
    CHECK(out && strstr(out, "nothing was read: the 1 file found was skipped"));
    free(out);
}

TEST(unreadable_directory_reported)
{
    char dir[512], cmd[4096], *out = NULL, args[600], cwd[1024];
    snprintf(dir, sizeof dir, "%s/locked", ks_test_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p %s/in && printf '{\"x\":1}' > %s/ok.json && chmod 000 %s/in && chmod 755 %s",
             dir, dir, dir, ks_test_tmpdir());
    CHECK_INT(system(cmd), 0);
    if (geteuid() == 0) {
        /* root reads everything: drop to nobody so permissions apply. */
        if (system("command -v setpriv >/dev/null") != 0 || !getcwd(cwd, sizeof cwd)) {
            ks_test_skip("tool", "root without setpriv");
            return;
        }
        /* run a copy from the (world-readable) temp dir: the checkout may
         * sit under a directory nobody cannot enter */
        snprintf(cmd, sizeof cmd, "cp %s/%s/kensa %s/kensa-copy && chmod 755 %s/kensa-copy",
                 ks_test_build()[0] == '/' ? "" : cwd, ks_test_build(), ks_test_tmpdir(), ks_test_tmpdir());
        CHECK_INT(system(cmd), 0);
        snprintf(cmd, sizeof cmd, "setpriv --reuid=65534 --regid=65534 --clear-groups %s/kensa-copy hunt %s 2>&1",
                 ks_test_tmpdir(), dir);
        CHECK_INT(ks_test_run(cmd, &out), 2);
    } else {
        snprintf(args, sizeof args, "hunt %s", dir);
        CHECK_INT(kensa(args, &out), 2);
    }
    CHECK(out && strstr(out, "Permission denied") && strstr(out, "locked/in"));
    CHECK(out && strstr(out, "1 events")); /* the rest was still read */
    free(out);
    snprintf(cmd, sizeof cmd, "chmod 755 %s/in", dir);
    CHECK_INT(system(cmd), 0);
}

TEST(demo_end_to_end)
{
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/kensa-gen demo %s/demo >/dev/null && %s/kensa hunt --no-color %s/demo 2>&1",
             ks_test_build(), ks_test_tmpdir(), ks_test_build(), ks_test_tmpdir());
    int rc = ks_test_run(cmd, &out);
    CHECK(rc == 1);
    CHECK(out && strstr(out, "testadmin@contoso-legacy.onmicrosoft.com"));
    CHECK(out && strstr(out, "Password spray followed by a successful sign-in"));
    CHECK(out && strstr(out, "critical"));
    free(out);
}

TEST(html_report_escapes_evidence)
{
    char *out = NULL, args[2048], hpath[512], cmd[1200];
    const char *bad = "{\"createdDateTime\":\"2024-02-01T10:00:00Z\",\"userPrincipalName\":\"<script>alert(1)</script>@x.com\","
                      "\"status\":{\"errorCode\":0},\"authenticationRequirement\":\"singleFactorAuthentication\"}\n";
    const char *p = ks_test_write("xss.jsonl", bad, strlen(bad));
    snprintf(hpath, sizeof hpath, "%s/report.html", ks_test_tmpdir());
    snprintf(args, sizeof args, "hunt -q --html %s %s", hpath, p);
    CHECK_INT(kensa(args, &out), 1);
    free(out);
    snprintf(cmd, sizeof cmd, "cat %s", hpath);
    ks_test_run(cmd, &out);
    CHECK(out && strstr(out, "&lt;script&gt;alert(1)&lt;/script&gt;@x.com"));
    CHECK(out && !strstr(out, "<script>alert"));
    /* self-contained: techniques named inline, no link out of the file */
    CHECK(out && strstr(out, "T1078.004") && !strstr(out, "https://") && !strstr(out, "http://"));
    free(out);
}

/* No silent reassurance (issue 14): a file whose name claims a format its
 * content is not gets a warning naming it; a run that recognised nothing
 * is an error (exit 2); what no reader claimed is counted by type. */
TEST(names_that_lie_and_nothing_recognised)
{
    char *out = NULL, args[2048], dir[512];
    uint8_t rnd[2048];
    snprintf(dir, sizeof dir, "mkdir -p %s/lie %s/mix %s/void", ks_test_tmpdir(), ks_test_tmpdir(), ks_test_tmpdir());
    CHECK_INT(system(dir), 0);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof rnd; i++) { /* xorshift: binary, reproducible */
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        rnd[i] = (uint8_t)x;
    }
    rnd[0] = 0x8f; /* not '{' or '[' whatever the generator gives */
    const char *rj = ks_test_write("lie/random.json", (const char *)rnd, sizeof rnd);
    snprintf(args, sizeof args, "hunt -q %s", rj);
    CHECK_INT(kensa(args, &out), 2);
    CHECK(out && strstr(out, "random.json offset 0: [claims] the name says .json but the content is not JSON (binary"));
    CHECK(out && strstr(out, "nothing was recognised") && strstr(out, "1 .json binary"));
    free(out);

    /* Beside a file that is read, lies are warnings and the run is clean. */
    const char *txt = "hello, this is a text file\n";
    ks_test_write("mix/system.evtx", txt, strlen(txt));
    ks_test_write("mix/mail.eml", txt, strlen(txt));
    ks_test_write("mix/box.pst", txt, strlen(txt));
    ks_test_write("mix/a.zip", (const char *)rnd, 512);
    ks_test_write("mix/notes.txt", txt, strlen(txt));
    ks_test_write("mix/empty.json", "", 0);
    ks_test_write("mix/plain.gz", txt, strlen(txt));
    ks_test_write("mix/ok.jsonl", "{\"x\":1}\n", 8);
    snprintf(dir, sizeof dir, "%s/mix", ks_test_tmpdir());
    snprintf(args, sizeof args, "hunt --threads 2 %s", dir);
    CHECK_INT(kensa(args, &out), 0);
    CHECK(out && strstr(out, "system.evtx offset 0: [claims] the name says .evtx but the content is not a Windows "
                             "event log (EVTX) (text, starting 68 65 6c"));
    CHECK(out && strstr(out, "mail.eml offset 0: [claims]") && strstr(out, "box.pst offset 0: [claims]"));
    CHECK(out && strstr(out, "a.zip offset 0: [claims] the name says .zip but the content is not a zip archive (binary"));
    CHECK(out && strstr(out, "empty.json offset 0: [claims] the name says .json but the file is empty"));
    CHECK(out && strstr(out, "plain.gz offset 0: [claims] the name says .gz but the content is not gzip"));
    CHECK(out && !strstr(out, "notes.txt offset") && !strstr(out, "ok.jsonl offset"));
    CHECK(out && !strstr(out, "nothing was recognised"));
    CHECK(out && strstr(out, "7 files no reader claimed: ") && strstr(out, "1 .evtx text") &&
          strstr(out, "1 .json empty") && strstr(out, "1 .zip binary") && strstr(out, "1 .txt text"));
    free(out);

    /* Nothing to read at all, in either mode. */
    snprintf(args, sizeof args, "hunt -q %s/void", ks_test_tmpdir());
    CHECK_INT(kensa(args, &out), 2);
    CHECK(out && strstr(out, "nothing was read: the paths given hold no files"));
    free(out);
    snprintf(args, sizeof args, "scan -q --no-builtin --ioc %s %s/void", rj, ks_test_tmpdir());
    CHECK(kensa(args, &out) == 2);
    free(out);
}

/* The heavy libraries are bound on first use (scripts/lazylibs.sh): not
 * loaded by a run that needs none of them, loaded when a PDF is read, and
 * the PDF's findings are there. Nothing to check where kensa links them at
 * start (LAZY=0, not x86-64). */
TEST(heavy_libraries_bound_on_first_use)
{
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "readelf -d %s/kensa | grep -c 'libpoppler-glib'", ks_test_build());
    ks_test_run(cmd, &out);
    int linked = out && atoi(out) > 0;
    free(out);
    if (linked) { /* make asan/tsan link kensa directly (LAZY=0) */
        ks_test_skip("lazy-off", "kensa is linked without lazy binding (LAZY=0)");
        return;
    }
    snprintf(cmd, sizeof cmd, "LD_DEBUG=files %s/kensa --version 2>&1 | grep -c 'file=libpoppler-glib'",
             ks_test_build());
    ks_test_run(cmd, &out);
    CHECK(out && atoi(out) == 0);
    free(out);
    snprintf(cmd, sizeof cmd, "%s/kensa-gen docs --out %s/docs >/dev/null 2>&1", ks_test_build(), ks_test_tmpdir());
    CHECK_INT(ks_test_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd,
             "LD_DEBUG=files LD_DEBUG_OUTPUT=%s/ld %s/kensa scan -q --threads 2 --json - %s/docs/sow.pdf 2>/dev/null"
             " | grep -c 'sow.pdf'; cat %s/ld.* | grep -c 'file=libpoppler-glib.so.* dynamically loaded'",
             ks_test_tmpdir(), ks_test_build(), ks_test_tmpdir(), ks_test_tmpdir());
    ks_test_run(cmd, &out);
    int findings = -1, loaded = -1;
    CHECK(out && sscanf(out, "%d %d", &findings, &loaded) == 2);
    CHECK(findings > 0);
    CHECK_INT(loaded, 1);
    free(out);
}
