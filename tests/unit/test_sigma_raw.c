/* SPDX-License-Identifier: Apache-2.0
 *
 * Sigma's prefilter over a W3C line's raw text (ks_event.raw, sigma_pre.c
 * plus_variants): a line whose values are its tokens, some with '+' read
 * as a space, is scanned as written instead of value by value. Every row
 * here is a way that could drop a line wrongly: a needle with a space in a
 * '+'-spelled header, a keyword with a space, a value only the decoding of
 * a '%' shows, case differences, a literal '+' kept in the stem, a '+'
 * that the value no longer has, repaired UTF-8. The findings must be the
 * ones the prefilter-less evaluation gives (sigma.prefilter=false), and
 * the ones written down.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "harness.h"
#include "kensa_int.h"

static const char log_[] =
    "#Software: Microsoft Internet Information Services 10.0\n"
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) cs(Cookie) sc-status sc-substatus sc-win32-status time-taken\n"
    /* 3: r1 (space in the needle, '+' in the line) */
    "2021-03-03 02:00:00 10.0.0.5 GET /owa/ - 443 - 10.1.0.1 Mozilla/5.0+(Windows+NT+10.0;+Win64) - - 200 0 0 1\n"
    /* 4: r2 (a keyword with spaces, other case) */
    "2021-03-03 02:00:01 10.0.0.5 GET /owa/ - 443 - 10.1.0.1 Evil+Tool+X/1.0 - - 200 0 0 1\n"
    /* 5: r3 and r8 (only the decoded query shows it) */
    "2021-03-03 02:00:02 10.0.0.5 GET /search q=%3Cscript%3Ealert(1) 443 - 10.1.0.1 curl/7.1 - - 200 0 0 1\n"
    /* 6: r4 (case) */
    "2021-03-03 02:00:03 10.0.0.5 GET /owa/auth/logon.aspx - 443 - 10.1.0.1 curl/7.1 - - 200 0 0 1\n"
    /* 7: r5 ('+' in the query, a space in the decoded one) */
    "2021-03-03 02:00:04 10.0.0.5 GET /find x=a+b 443 - 10.1.0.1 curl/7.1 - - 200 0 0 1\n"
    /* 8: r6 (a literal '+' the stem keeps) */
    "2021-03-03 02:00:05 10.0.0.5 GET /c++/x.aspx - 443 - 10.1.0.1 curl/7.1 - - 200 0 0 1\n"
    /* 9: r7 (cookie) */
    "2021-03-03 02:00:06 10.0.0.5 GET /owa/ - 443 - 10.1.0.1 curl/7.1 - sid=x+y;+path=/ 200 0 0 1\n"
    /* 10: r9 (all of two, one with a space) */
    "2021-03-03 02:00:07 10.0.0.5 GET /owa/ - 443 - 10.1.0.1 sqlmap/1.0+x+y - - 200 0 0 1\n"
    /* 11: none (r10's 'a+b' is 'a b' in the value) */
    "2021-03-03 02:00:08 10.0.0.5 GET /owa/ - 443 - 10.1.0.1 a+b - - 200 0 0 1\n"
    /* 12: r11 (UTF-8 in the referer), 13: r11 (repaired: a stray byte) */
    "2021-03-03 02:00:09 10.0.0.5 GET /owa/ - 443 - 10.1.0.1 curl/7.1 http://x/\xc3\x84rger - 200 0 0 1\n"
    "2021-03-03 02:00:10 10.0.0.5 GET /owa/ - 443 - 10.1.0.1 curl/7.1 http://x/\xc3\x84rger\xff - 200 0 0 1\n"
    /* 14: r1 (a '%' elsewhere: the line is read value by value) */
    "2021-03-03 02:00:11 10.0.0.5 GET /owa/ - 443 - 10.1.0.1 Mozilla/5.0+(Windows+NT+10.0) - a=%41 200 0 0 1\n"
    /* 15: r12 (a '+' spelled %2B: the decoded query has '+', not a space) */
    "2021-03-03 02:00:12 10.0.0.5 GET /find x=c%2B%2B+d 443 - 10.1.0.1 curl/7.1 - - 200 0 0 1\n"
    /* 16: none */
    "2021-03-03 02:00:13 10.0.0.5 GET /owa/ - 443 - 10.1.0.1 curl/7.1 - - 200 0 0 1\n";

static const struct {
    const char *id, *detection;
} rules_[] = {
    {"r1", "  s:\n    cs(User-Agent)|contains: 'Windows NT 10.0'\n  condition: s\n"},
    {"r2", "  keywords:\n    - 'evil tool x'\n  condition: keywords\n"},
    {"r3", "  s:\n    cs-uri-query-decoded|contains: '<script>'\n  condition: s\n"},
    {"r4", "  s:\n    cs-uri-stem|contains: '/OWA/AUTH/'\n  condition: s\n"},
    {"r5", "  s:\n    cs-uri-query-decoded|contains: 'x=a b'\n  condition: s\n"},
    {"r6", "  s:\n    cs-uri-stem|contains: '/c++/'\n  condition: s\n"},
    {"r7", "  s:\n    cs(Cookie)|contains: 'sid=x y'\n  condition: s\n"},
    {"r8", "  keywords:\n    - '<script>alert'\n  condition: keywords\n"},
    {"r9", "  s:\n    cs(User-Agent)|contains|all:\n      - 'sqlmap'\n      - '.0 x y'\n  condition: s\n"},
    {"r10", "  s:\n    cs(User-Agent)|contains: 'a+b'\n  condition: s\n"},
    {"r11", "  s:\n    cs(Referer)|contains: '/\xc3\x84rger'\n  condition: s\n"},
    {"r12", "  s:\n    cs-uri-query-decoded|contains: 'c++ d'\n  condition: s\n"},
};

/* "rule:line " for every Sigma finding, in rule order then line. */
static char *hunt(const char *dir, const char *log, bool prefilter)
{
    ks_engine *e = NULL;
    ks_buf out = KS_BUF_INIT;
    char cache[1100];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    ks_engine_new(&e);
    ks_engine_set(e, "builtin", "false");
    ks_engine_set(e, "rules", dir);
    ks_engine_set(e, "yara.cache_dir", cache);
    ks_engine_set(e, "sigma.prefilter", prefilter ? "true" : "false");
    ks_engine_set(e, "threads", "1");
    ks_engine_add_path(e, log);
    ks_engine_run(e);
    for (size_t r = 0; r < KS_ARRAY_LEN(rules_); r++)
        for (uint64_t line = 1; line < 40; line++)
            for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
                const ks_finding *f = ks_engine_finding(e, i);
                if (!strcmp(f->detector, "sigma") && f->nevidence && f->evidence[0].line == line &&
                    !strcmp(f->rule_id, rules_[r].id))
                    ks__buf_printf(&out, "%s:%llu ", rules_[r].id, (unsigned long long)line);
            }
    ks_engine_free(e);
    ks__buf_addc(&out, '\0');
    return out.p;
}

TEST(raw_line_prefilter_same_as_no_prefilter)
{
    char dir[1024], rule[1024], name[64], log[1100];
    snprintf(dir, sizeof dir, "%s/rawrules", ks_test_tmpdir());
    CHECK_INT(mkdir(dir, 0700), 0);
    for (size_t i = 0; i < KS_ARRAY_LEN(rules_); i++) {
        int n = snprintf(rule, sizeof rule,
                         "title: raw %s\nid: %s\nlogsource:\n  category: webserver\ndetection:\n%s"
                         "level: high\n",
                         rules_[i].id, rules_[i].id, rules_[i].detection);
        snprintf(name, sizeof name, "rawrules/%s.yml", rules_[i].id);
        ks_test_write(name, rule, (size_t)n);
    }
    snprintf(log, sizeof log, "%s", ks_test_write("u_ex210303.log", log_, sizeof log_ - 1));
    char *with = hunt(dir, log, true), *without = hunt(dir, log, false);
    static const char want[] = "r1:3 r1:14 r2:4 r3:5 r4:6 r5:7 r6:8 r7:9 r8:5 r9:10 r11:12 r11:13 "
                               "r12:15 ";
    printf("INFO raw-line prefilter: %s\nINFO without prefilter: %s\n", with ? with : "-",
           without ? without : "-");
    CHECK(with && without && !strcmp(with, without));
    CHECK_STR(with ? with : "", want);
    free(with);
    free(without);
}
