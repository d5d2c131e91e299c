/* SPDX-License-Identifier: Apache-2.0
 *
 * Sigma engine: every modifier, value form and condition form, as a table
 * of (detection, event, expected) rows (yara test-rules.c spirit), plus
 * rule collections, filters and load-failure classification.
 *
 * Events are built directly as ks_event values: "Field=value" makes a
 * string, "Field=#123" an integer, "Field=@2021-03-02T04:05:06Z" a time.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "detect/sigma/sigma.h"
#include "detect/sigma/sigma_pre.h"

static ks_symtab *syms;

static const char test_mapping[] =
    "fieldmaps:\n"
    "  t:\n"
    "    prefixes: ['', 'Event.EventData.']\n"
    "    fields:\n"
    "      EventID: [Event.System.EventID, EventID]\n"
    "logsources:\n"
    "  - product: test\n"
    "    fieldmap: t\n"
    "  - product: test\n"
    "    service: sec\n"
    "    fieldmap: t\n"
    "    condition:\n"
    "      Channel: Security\n";

typedef struct diags {
    int n;
    int fail[64];
    char msg[64][256];
} diags;

static void on_diag(void *ud, ks_diag_level lvl, const char *path, uint32_t line, int fail,
                    const char *msg)
{
    diags *d = ud;
    (void)lvl, (void)path, (void)line;
    if (d && d->n < 64) {
        d->fail[d->n] = fail;
        snprintf(d->msg[d->n], sizeof d->msg[0], "%s", msg);
        d->n++;
    }
    if (getenv("SIGMA_TEST_VERBOSE"))
        fprintf(stderr, "diag %s:%u [%s] %s\n", path, line, sg__fail_name(fail), msg);
}

static sg_ruleset *ruleset(const char *yaml, diags *d, const char *const *ph, size_t nph)
{
    sg_ruleset *rs = NULL;
    if (!syms)
        syms = ks__symtab_new_schema();
    if (sg__ruleset_new(syms, on_diag, d, &rs) != KS_OK)
        return NULL;
    rs->placeholders = ph;
    rs->nplaceholders = nph;
    sg__map_load_mem(rs, test_mapping, sizeof test_mapping - 1, "test-mapping.yml");
    sg__ruleset_load_mem(rs, yaml, strlen(yaml), "test.yml");
    sg__ruleset_finish(rs);
    return rs;
}

/* Event from "k=v" specs (NULL-terminated). */
static void event_build(ks_event *ev, va_list ap)
{
    static ks_arena *arena;
    if (!arena)
        arena = ks__arena_new(4096, 0);
    memset(ev, 0, sizeof *ev);
    ev->syms = syms;
    ev->arena = arena;
    ks__event_reset(ev);
    ev->prov.path = "mem";
    ev->prov.format = "test";
    const char *spec;
    while ((spec = va_arg(ap, const char *)) != NULL) {
        const char *eq = strchr(spec, '=');
        ks_value v = {.type = KS_VSTR};
        if (eq[1] == '#') {
            v.type = KS_VINT;
            v.u.i = strtoll(eq + 2, NULL, 10);
        } else if (eq[1] == '@') {
            v.type = KS_VTIME;
            ks_time_parse(eq + 2, strlen(eq + 2), &v.u.t);
            if (strncmp(spec, "_time", 5) == 0) {
                ev->time = v.u.t;
                continue;
            }
        } else if (eq[1] == '~') {
            v.type = KS_VNULL;
        } else {
            v.u.s.p = eq + 1;
            v.u.s.n = strlen(eq + 1);
        }
        ks__event_add_named(ev, spec, (size_t)(eq - spec), &v);
    }
}

static void event_free(ks_event *ev)
{
    free(ev->fields);
}

/* Does the first detection rule of `rule` match the event? -1 = load error. */
static int rule_matches(const char *const *ph, size_t nph, const char *detection, ...)
{
    char yaml[8192];
    snprintf(yaml, sizeof yaml, "title: t\nid: r1\nlogsource:\n  product: test\ndetection:\n%s",
             detection);
    diags d = {0};
    sg_ruleset *rs = ruleset(yaml, &d, ph, nph);
    int res = -1;
    if (rs && rs->loaded == 1) {
        ks_event ev;
        va_list ap;
        va_start(ap, detection);
        event_build(&ev, ap);
        va_end(ap);
        sg_scratch sc;
        sg__scratch_init(&sc, rs);
        sg__scratch_event(&sc, &ev);
        res = sg__rule_eval(rs->rules[0], &ev, &sc);
        sg__scratch_release(&sc);
        event_free(&ev);
    } else if (d.n) {
        fprintf(stderr, "load: %s\n", d.msg[0]);
    }
    sg__ruleset_free(rs);
    return res;
}

#define M(det, ...) rule_matches(NULL, 0, det, __VA_ARGS__, NULL)

TEST(equality_case_and_types)
{
    const char *d = "  sel:\n    Image: 'C:\\Windows\\System32\\cmd.exe'\n  condition: sel\n";
    CHECK_INT(M(d, "Image=c:\\windows\\system32\\CMD.EXE"), 1);
    CHECK_INT(M(d, "Image=C:\\Windows\\System32\\cmd.exe.bak"), 0);
    CHECK_INT(M(d, "Other=C:\\Windows\\System32\\cmd.exe"), 0);
    /* prefix from the field map */
    CHECK_INT(M(d, "Event.EventData.Image=C:\\Windows\\System32\\cmd.exe"), 1);
    /* numbers match ints and their text */
    const char *n = "  sel:\n    EventID: 4688\n  condition: sel\n";
    CHECK_INT(M(n, "EventID=#4688"), 1);
    CHECK_INT(M(n, "Event.System.EventID=#4688"), 1);
    CHECK_INT(M(n, "EventID=4688"), 1);
    CHECK_INT(M(n, "EventID=#46880"), 0);
    /* cased */
    const char *c = "  sel:\n    User|cased: Admin\n  condition: sel\n";
    CHECK_INT(M(c, "User=Admin"), 1);
    CHECK_INT(M(c, "User=admin"), 0);
    /* booleans */
    CHECK_INT(M("  sel:\n    Flag: true\n  condition: sel\n", "Flag=true"), 1);
}

TEST(wildcards_and_escapes)
{
    const char *d = "  sel:\n    F: 'a*b?c'\n  condition: sel\n";
    CHECK_INT(M(d, "F=aXYZbQc"), 1);
    CHECK_INT(M(d, "F=abQc"), 1);
    CHECK_INT(M(d, "F=abc"), 0);
    CHECK_INT(M(d, "F=aXbQcd"), 0);
    const char *e = "  sel:\n    F: 'a\\*b\\?'\n  condition: sel\n";
    CHECK_INT(M(e, "F=a*b?"), 1);
    CHECK_INT(M(e, "F=aXb?"), 0);
    const char *b = "  sel:\n    F: 'C:\\\\*'\n  condition: sel\n";
    CHECK_INT(M(b, "F=C:\\anything"), 1);
    const char *plain = "  sel:\n    F: 'C:\\Users\\x'\n  condition: sel\n"; /* \U is literal */
    CHECK_INT(M(plain, "F=c:\\users\\X"), 1);
    CHECK_INT(M("  sel:\n    F: '*'\n  condition: sel\n", "F="), 1);
    CHECK_INT(M("  sel:\n    F: '*evil*'\n  condition: sel\n", "F=so EVIL here"), 1);
    CHECK_INT(M("  sel:\n    F: '*.exe'\n  condition: sel\n", "F=a.EXE"), 1);
    CHECK_INT(M("  sel:\n    F: 'cmd*'\n  condition: sel\n", "F=CMD /c"), 1);
}

TEST(contains_startswith_endswith_all)
{
    CHECK_INT(M("  s:\n    F|contains: ell\n  condition: s\n", "F=HELLO"), 1);
    CHECK_INT(M("  s:\n    F|contains: xyz\n  condition: s\n", "F=HELLO"), 0);
    CHECK_INT(M("  s:\n    F|startswith: he\n  condition: s\n", "F=Hello"), 1);
    CHECK_INT(M("  s:\n    F|startswith: lo\n  condition: s\n", "F=Hello"), 0);
    CHECK_INT(M("  s:\n    F|endswith: LO\n  condition: s\n", "F=hello"), 1);
    CHECK_INT(M("  s:\n    F|endswith: he\n  condition: s\n", "F=hello"), 0);
    const char *all = "  s:\n    F|contains|all:\n      - ' -enc '\n      - 'hidden'\n  condition: s\n";
    CHECK_INT(M(all, "F=powershell -w hidden -enc AAA"), 1);
    CHECK_INT(M(all, "F=powershell -enc AAA"), 0);
    CHECK_INT(M("  s:\n    F|contains: 'a*c'\n  condition: s\n", "F=xxabbbcxx"), 1);
    CHECK_INT(M("  s:\n    F|contains|cased: Evil\n  condition: s\n", "F=xEVILx"), 0);
}

TEST(lists_maps_null_empty)
{
    const char *l = "  s:\n    F:\n      - a\n      - b\n  condition: s\n";
    CHECK_INT(M(l, "F=b"), 1);
    CHECK_INT(M(l, "F=c"), 0);
    const char *m = "  s:\n    F: a\n    G: b\n  condition: s\n";
    CHECK_INT(M(m, "F=a", "G=b"), 1);
    CHECK_INT(M(m, "F=a", "G=c"), 0);
    const char *lm = "  s:\n    - F: a\n    - G: b\n  condition: s\n";
    CHECK_INT(M(lm, "G=b"), 1);
    CHECK_INT(M(lm, "G=a"), 0);
    const char *nul = "  s:\n    F: null\n  condition: s\n";
    CHECK_INT(M(nul, "G=x"), 1);
    CHECK_INT(M(nul, "F=~"), 1);
    CHECK_INT(M(nul, "F=x"), 0);
    const char *emp = "  s:\n    F: ''\n  condition: s\n";
    CHECK_INT(M(emp, "F="), 1);
    CHECK_INT(M(emp, "F=x"), 0);
    CHECK_INT(M(emp, "G=x"), 0);
    const char *notnull = "  s:\n    F: null\n  condition: not s\n";
    CHECK_INT(M(notnull, "F=x"), 1);
}

TEST(keywords)
{
    const char *k = "  keywords:\n    - 'mimikatz'\n    - 'sekurlsa::*'\n  condition: keywords\n";
    CHECK_INT(M(k, "A=x", "CommandLine=run MIMIKATZ.exe"), 1);
    CHECK_INT(M(k, "B=sekurlsa::logonpasswords"), 1);
    CHECK_INT(M(k, "B=nothing"), 0);
    const char *ka = "  keywords:\n    '|all':\n      - 'alpha'\n      - 'beta'\n  condition: keywords\n";
    CHECK_INT(M(ka, "A=alpha", "B=beta"), 1);
    CHECK_INT(M(ka, "A=alpha"), 0);
    CHECK_INT(M("  kw: 'single'\n  condition: kw\n", "Z=a single word"), 1);
}

TEST(encodings_base64_utf16_windash)
{
    /* base64("whoami") = d2hvYW1p */
    CHECK_INT(M("  s:\n    F|base64: whoami\n  condition: s\n", "F=d2hvYW1p"), 1);
    CHECK_INT(M("  s:\n    F|base64|contains: whoami\n  condition: s\n", "F=xx d2hvYW1p"), 1);
    /* base64offset: the value at any alignment inside a longer encoding */
    const char *off = "  s:\n    F|base64offset|contains: http://\n  condition: s\n";
    CHECK_INT(M(off, "F=aHR0cDovL2V4YW1wbGUuY29t"), 1);     /* "http://example.com" */
    CHECK_INT(M(off, "F=IGh0dHA6Ly9leGFtcGxlLmNvbQ=="), 1); /* " http://example.com" */
    CHECK_INT(M(off, "F=ICBodHRwOi8vZXhhbXBsZS5jb20="), 1); /* "  http://example.com" */
    CHECK_INT(M(off, "F=aGVsbG8gd29ybGQ="), 0);
    /* wide + base64offset: PowerShell -enc of "IEX" (UTF-16LE) */
    const char *wide = "  s:\n    F|wide|base64offset|contains: 'IEX'\n  condition: s\n";
    CHECK_INT(M(wide, "F=powershell -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA="), 1);
    CHECK_INT(M(wide, "F=powershell -enc aGVsbG8="), 0);
    const char *le = "  s:\n    F|utf16le|base64: 'A'\n  condition: s\n";
    CHECK_INT(M(le, "F=QQA="), 1);
    const char *be = "  s:\n    F|utf16be|base64: 'A'\n  condition: s\n";
    CHECK_INT(M(be, "F=AEE="), 1);
    const char *bom = "  s:\n    F|utf16|base64: 'A'\n  condition: s\n";
    CHECK_INT(M(bom, "F=//5BAA=="), 1);
    /* windash */
    const char *wd = "  s:\n    F|windash|contains: ' -exec bypass'\n  condition: s\n";
    CHECK_INT(M(wd, "F=powershell -exec bypass"), 1);
    CHECK_INT(M(wd, "F=powershell /exec bypass"), 1);
    CHECK_INT(M(wd, "F=powershell \xe2\x80\x93" "exec bypass"), 1);
    CHECK_INT(M(wd, "F=powershell \xe2\x80\x94" "exec bypass"), 1);
    CHECK_INT(M(wd, "F=powershell \xe2\x80\x95" "exec bypass"), 1);
    CHECK_INT(M(wd, "F=powershell +exec bypass"), 0);
}

TEST(regex_flags)
{
    CHECK_INT(M("  s:\n    F|re: '^ab+c$'\n  condition: s\n", "F=abbbc"), 1);
    CHECK_INT(M("  s:\n    F|re: '^ab+c$'\n  condition: s\n", "F=ABBBC"), 0); /* case-sensitive */
    CHECK_INT(M("  s:\n    F|re|i: '^ab+c$'\n  condition: s\n", "F=ABBBC"), 1);
    CHECK_INT(M("  s:\n    F|re: '^two$'\n  condition: s\n", "F=one\ntwo"), 0);
    CHECK_INT(M("  s:\n    F|re|m: '^two$'\n  condition: s\n", "F=one\ntwo"), 1);
    CHECK_INT(M("  s:\n    F|re: 'one.two'\n  condition: s\n", "F=one\ntwo"), 0);
    CHECK_INT(M("  s:\n    F|re|s: 'one.two'\n  condition: s\n", "F=one\ntwo"), 1);
    CHECK_INT(M("  s:\n    F|re: '\\d{4}'\n  condition: s\n", "F=#4688"), 1);
    CHECK_INT(M("  s:\n    F|re: '(unclosed'\n  condition: s\n", "F=x"), -1);
}

TEST(cidr_exists_fieldref_neq_compare)
{
    const char *c4 = "  s:\n    ip|cidr: 10.0.0.0/8\n  condition: s\n";
    CHECK_INT(M(c4, "ip=10.1.2.3"), 1);
    CHECK_INT(M(c4, "ip=11.1.2.3"), 0);
    CHECK_INT(M(c4, "ip=::ffff:10.9.9.9"), 1);
    CHECK_INT(M(c4, "ip=not an ip"), 0);
    const char *c6 = "  s:\n    ip|cidr: 'fe80::/10'\n  condition: s\n";
    CHECK_INT(M(c6, "ip=fe80::1"), 1);
    CHECK_INT(M(c6, "ip=2001:db8::1"), 0);
    CHECK_INT(M("  s:\n    ip|cidr: '10.0.0.0/33'\n  condition: s\n", "ip=x"), -1);
    const char *ex = "  s:\n    F|exists: true\n  condition: s\n";
    CHECK_INT(M(ex, "F="), 1);
    CHECK_INT(M(ex, "G=x"), 0);
    const char *nex = "  s:\n    F|exists: false\n  condition: s\n";
    CHECK_INT(M(nex, "G=x"), 1);
    CHECK_INT(M(nex, "F=x"), 0);
    const char *fr = "  s:\n    A|fieldref: B\n  condition: s\n";
    CHECK_INT(M(fr, "A=Bob", "B=bob"), 1);
    CHECK_INT(M(fr, "A=Bob", "B=alice"), 0);
    CHECK_INT(M(fr, "A=Bob"), 0);
    CHECK_INT(M("  s:\n    A|fieldref|startswith: B\n  condition: s\n", "A=bobby", "B=bob"), 1);
    CHECK_INT(M("  s:\n    A|fieldref|endswith: B\n  condition: s\n", "A=bobby", "B=bby"), 1);
    CHECK_INT(M("  s:\n    A|fieldref|contains: B\n  condition: s\n", "A=bobby", "B=ob"), 1);
    CHECK_INT(M("  s:\n    A|fieldref: B\n  condition: s\n", "A=#5", "B=#5"), 1);
    const char *neq = "  s:\n    F|neq: x\n  condition: s\n";
    CHECK_INT(M(neq, "F=y"), 1);
    CHECK_INT(M(neq, "F=X"), 0);
    CHECK_INT(M(neq, "G=y"), 0);
    CHECK_INT(M("  s:\n    N|gt: 10\n  condition: s\n", "N=#11"), 1);
    CHECK_INT(M("  s:\n    N|gt: 10\n  condition: s\n", "N=#10"), 0);
    CHECK_INT(M("  s:\n    N|gte: 10\n  condition: s\n", "N=#10"), 1);
    CHECK_INT(M("  s:\n    N|lt: 10\n  condition: s\n", "N=9.5"), 1);
    CHECK_INT(M("  s:\n    N|lte: 10\n  condition: s\n", "N=#11"), 0);
    CHECK_INT(M("  s:\n    N|lte: 10\n  condition: s\n", "N=abc"), 0);
    CHECK_INT(M("  s:\n    N|gt: ten\n  condition: s\n", "N=#1"), -1);
}

TEST(time_parts)
{
    /* 2021-03-02 was a Tuesday in ISO week 9 */
    const char *t = "T=@2021-03-02T04:05:06Z";
    CHECK_INT(M("  s:\n    T|minute: 5\n  condition: s\n", t), 1);
    CHECK_INT(M("  s:\n    T|hour: 4\n  condition: s\n", t), 1);
    CHECK_INT(M("  s:\n    T|hour: 5\n  condition: s\n", t), 0);
    CHECK_INT(M("  s:\n    T|day: 2\n  condition: s\n", t), 1);
    CHECK_INT(M("  s:\n    T|week: 9\n  condition: s\n", t), 1);
    CHECK_INT(M("  s:\n    T|month: 3\n  condition: s\n", t), 1);
    CHECK_INT(M("  s:\n    T|year: 2021\n  condition: s\n", t), 1);
    CHECK_INT(M("  s:\n    T|year: 2021\n  condition: s\n", "T=2021-12-31 23:59:59"), 1);
    CHECK_INT(M("  s:\n    T|hour:\n      - 22\n      - 23\n  condition: s\n", "T=2021-12-31 23:59:59"), 1);
}

TEST(expand_placeholders)
{
    const char *ph[] = {"admins=Administrator,root", "empty="};
    const char *d = "  s:\n    User|expand: '%admins%'\n  condition: s\n";
    CHECK_INT(rule_matches(ph, 2, d, "User=root", NULL), 1);
    CHECK_INT(rule_matches(ph, 2, d, "User=administrator", NULL), 1);
    CHECK_INT(rule_matches(ph, 2, d, "User=bob", NULL), 0);
    /* an undefined placeholder matches nothing */
    CHECK_INT(rule_matches(ph, 2, "  s:\n    User|expand: '%nope%'\n  condition: s\n", "User=%nope%",
                           NULL), 0);
    CHECK_INT(rule_matches(ph, 2, "  s:\n    P|expand: 'C:\\%admins%\\x'\n  condition: s\n",
                           "P=c:\\root\\x", NULL), 1);
}

TEST(conditions)
{
    const char *base = "  sel1:\n    A: 1\n  sel2:\n    B: 2\n  filter_x:\n    C: 3\n  _hidden:\n    D: 4\n";
    char d[512];
#define COND(c, ...) (snprintf(d, sizeof d, "%s  condition: %s\n", base, c), M(d, __VA_ARGS__))
    CHECK_INT(COND("sel1 and sel2", "A=1", "B=2"), 1);
    CHECK_INT(COND("sel1 and sel2", "A=1"), 0);
    CHECK_INT(COND("sel1 or sel2", "B=2"), 1);
    CHECK_INT(COND("sel1 and not filter_x", "A=1", "C=3"), 0);
    CHECK_INT(COND("sel1 and not filter_x", "A=1"), 1);
    CHECK_INT(COND("(sel1 or sel2) and not filter_x", "B=2"), 1);
    CHECK_INT(COND("not (sel1 or sel2)", "C=3"), 1);
    CHECK_INT(COND("sel1 or sel2 and filter_x", "A=1"), 1); /* and binds tighter */
    CHECK_INT(COND("(sel1 or sel2) and filter_x", "A=1"), 0);
    CHECK_INT(COND("1 of sel*", "B=2"), 1);
    CHECK_INT(COND("all of sel*", "B=2"), 0);
    CHECK_INT(COND("all of sel*", "A=1", "B=2"), 1);
    CHECK_INT(COND("1 of them", "C=3"), 1);
    CHECK_INT(COND("1 of them", "D=4"), 0); /* _hidden is not in them */
    CHECK_INT(COND("all of them", "A=1", "B=2", "C=3"), 1);
    CHECK_INT(COND("all of them", "A=1", "B=2"), 0);
    CHECK_INT(COND("any of sel*", "A=1"), 1);
    CHECK_INT(COND("1 of sel* and not 1 of filter*", "A=1", "C=3"), 0);
    CHECK_INT(COND("not not sel1", "A=1"), 1);
    CHECK_INT(COND("_hidden", "D=4"), 1);
    /* errors */
    CHECK_INT(COND("sel1 and", "A=1"), -1);
    CHECK_INT(COND("sel3", "A=1"), -1);
    CHECK_INT(COND("(sel1", "A=1"), -1);
    CHECK_INT(COND("sel1 sel2", "A=1"), -1);
    CHECK_INT(COND("1 of nothing*", "A=1"), -1);
    CHECK_INT(COND("sel1 | count() > 5", "A=1"), -1);
#undef COND
    /* a list of conditions is an OR */
    CHECK_INT(M("  a:\n    A: 1\n  b:\n    B: 1\n  condition:\n    - a\n    - b\n", "B=1"), 1);
}

TEST(logsource_condition_applies)
{
    char yaml[] = "title: t\nlogsource:\n  product: test\n  service: sec\n"
                  "detection:\n  s:\n    EventID: 4625\n  condition: s\n";
    sg_ruleset *rs = ruleset(yaml, NULL, NULL, 0);
    CHECK(rs && rs->loaded == 1 && rs->rules[0]->ls);
    ks_event ev;
    sg_scratch sc;
    sg__scratch_init(&sc, rs);
    va_list dummy;
    (void)dummy;
    const char *specs[][3] = {{"Channel=Security", "EventID=#4625", NULL},
                              {"Channel=System", "EventID=#4625", NULL}};
    for (int i = 0; i < 2; i++) {
        memset(&ev, 0, sizeof ev);
        ev.syms = syms;
        ks__event_reset(&ev);
        for (int k = 0; specs[i][k]; k++) {
            const char *eq = strchr(specs[i][k], '=');
            ks_value v = {.type = KS_VSTR};
            if (eq[1] == '#') {
                v.type = KS_VINT;
                v.u.i = atoi(eq + 2) > 0 ? strtoll(eq + 2, NULL, 10) : 0;
            } else {
                v.u.s.p = eq + 1;
                v.u.s.n = strlen(eq + 1);
            }
            ks__event_add_named(&ev, specs[i][k], (size_t)(eq - specs[i][k]), &v);
        }
        sg__scratch_event(&sc, &ev);
        CHECK_INT(sg__rule_eval(rs->rules[0], &ev, &sc), i == 0);
        free(ev.fields);
    }
    sg__scratch_release(&sc);
    sg__ruleset_free(rs);
    /* unmapped logsource: loaded but not mapped */
    rs = ruleset("title: t\nlogsource:\n  product: nowhere\ndetection:\n  s:\n    A: 1\n  condition: s\n",
                 NULL, NULL, 0);
    CHECK(rs && rs->loaded == 1 && rs->rules[0]->ls == NULL && rs->unmapped == 1);
    sg__ruleset_free(rs);
}

TEST(collections_and_filters)
{
    const char *y =
        "action: global\n"
        "title: base\n"
        "logsource:\n  product: test\n"
        "detection:\n  g:\n    G: 1\n  condition: g and s\n"
        "---\n"
        "id: c1\ndetection:\n  s:\n    S: a\n"
        "---\n"
        "action: repeat\nid: c2\ndetection:\n  s:\n    S: b\n"
        "---\n"
        "action: reset\n"
        "---\n"
        "title: alone\nid: c3\nlogsource:\n  product: test\ndetection:\n  x:\n    X: 1\n  condition: x\n"
        "---\n"
        "title: filter dc\nid: f1\nlogsource:\n  product: test\n"
        "filter:\n  rules:\n    - c3\n  sel:\n    Host|startswith: DC\n  condition: not sel\n";
    diags d = {0};
    sg_ruleset *rs = ruleset(y, &d, NULL, 0);
    CHECK(rs != NULL);
    CHECK_INT(rs->loaded, 4);
    CHECK_INT(rs->failed, 0);
    sg_rule *c1 = sg__rule_find(rs, "c1"), *c2 = sg__rule_find(rs, "c2"), *c3 = sg__rule_find(rs, "c3");
    CHECK(c1 && c2 && c3);
    CHECK(c1 && strcmp(c1->title, "base") == 0);
    CHECK(c3 && c3->nfilters == 1);
    ks_event ev;
    sg_scratch sc;
    sg__scratch_init(&sc, rs);
    struct {
        sg_rule *r;
        const char *a, *b;
        int want;
    } rows[] = {
        {c1, "G=1", "S=a", 1}, {c1, "G=1", "S=b", 0}, {c2, "G=1", "S=b", 1},
        {c2, "G=2", "S=b", 0}, {c3, "X=1", "Host=WS01", 1}, {c3, "X=1", "Host=DC01", 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (!rows[i].r)
            continue;
        memset(&ev, 0, sizeof ev);
        ev.syms = syms;
        ks__event_reset(&ev);
        ks__event_add_str(&ev, rows[i].a, 1, rows[i].a + 2, strlen(rows[i].a + 2));
        const char *eq = strchr(rows[i].b, '=');
        ks__event_add_str(&ev, rows[i].b, (size_t)(eq - rows[i].b), eq + 1, strlen(eq + 1));
        sg__scratch_event(&sc, &ev);
        CHECK_INT(sg__rule_eval(rows[i].r, &ev, &sc), rows[i].want);
        free(ev.fields);
    }
    sg__scratch_release(&sc);
    sg__ruleset_free(rs);
}

TEST(metadata_and_techniques)
{
    const char *y = "title: Meta\nid: 11111111-2222-3333-4444-555555555555\nstatus: test\n"
                    "level: high\ndescription: d\nauthor: me\ndate: 2024-01-01\n"
                    "tags:\n  - attack.execution\n  - attack.t1059.001\n  - attack.T1003\n"
                    "falsepositives:\n  - admins\nfields:\n  - CommandLine\n"
                    "logsource:\n  product: test\ndetection:\n  s:\n    A: 1\n  condition: s\n";
    sg_ruleset *rs = ruleset(y, NULL, NULL, 0);
    CHECK(rs && rs->loaded == 1);
    if (rs && rs->loaded == 1) {
        sg_rule *r = rs->rules[0];
        CHECK_STR(r->id, "11111111-2222-3333-4444-555555555555");
        CHECK_INT(r->sev, KS_SEV_HIGH);
        CHECK_INT(r->ntech, 2);
        CHECK_STR(r->techniques[0], "T1059.001");
        CHECK_STR(r->techniques[1], "T1003");
        CHECK_INT(r->ntags, 3);
        CHECK_INT(r->nfp, 1);
        CHECK_INT(r->nfields, 1);
        CHECK_STR(r->status, "test");
    }
    sg__ruleset_free(rs);
}

TEST(load_failures_classified)
{
    struct {
        const char *yaml;
        int fail;
    } rows[] = {
        {"title: x\nlogsource: {product: test}\ndetection:\n  s:\n    A|nope: 1\n  condition: s\n",
         SG_FAIL_MODIFIER},
        {"title: x\nlogsource: {product: test}\ndetection:\n  s:\n    A: 1\n  condition: s and\n",
         SG_FAIL_CONDITION},
        {"title: x\nlogsource: {product: test}\ndetection:\n  s:\n    A: 1\n  condition: s | count() > 3\n",
         SG_FAIL_AGGREGATION},
        {"title: x\nlogsource: {product: test}\ndetection:\n  s:\n    A|re: '(('\n  condition: s\n",
         SG_FAIL_VALUE},
        {"title: x\nlogsource: {product: test}\n", SG_FAIL_SCHEMA},
        {"title: x\nlogsource: {product: test}\ndetection:\n  s:\n    A: 1\n", SG_FAIL_SCHEMA},
        {"title: x\n  bad: [yaml\n", SG_FAIL_YAML},
        {"title: x\ncorrelation:\n  type: nope\n", SG_FAIL_CORRELATION},
        {"title: x\ncorrelation:\n  type: event_count\n  rules: [missing]\n  timespan: 1h\n"
         "  condition: {gte: 2}\n",
         SG_FAIL_REFERENCE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        diags d = {0};
        sg_ruleset *rs = ruleset(rows[i].yaml, &d, NULL, 0);
        CHECK(rs != NULL);
        if (!rs)
            continue;
        CHECK_INT(rs->loaded, 0);
        CHECK_INT(rs->failed, 1);
        CHECK_INT(rs->fails[rows[i].fail], 1);
        CHECK(d.n >= 1);
        if (rs->fails[rows[i].fail] != 1)
            fprintf(stderr, "row %zu: %s\n", i, d.n ? d.msg[0] : "(no diag)");
        sg__ruleset_free(rs);
    }
    /* one bad rule does not stop the next document */
    diags d = {0};
    sg_ruleset *rs = ruleset("title: bad\ndetection:\n  condition: x\n---\ntitle: good\nlogsource: "
                             "{product: test}\ndetection:\n  s: {A: 1}\n  condition: s\n",
                             &d, NULL, 0);
    CHECK(rs && rs->loaded == 1 && rs->failed == 1);
    sg__ruleset_free(rs);
}

/* ---- prefilter: candidates are a superset of matches -------------------------------- */

/* rs loaded from y (nrules rules) with its prefilter and a workspace; NULL
 * (checks failed) when any part is missing. */
static sg_ruleset *with_prefilter(const char *y, size_t nrules, unsigned flags, sg_pre **pre,
                                  sg_pre_ws **pw)
{
    sg_ruleset *rs = ruleset(y, NULL, NULL, 0);
    *pre = NULL;
    *pw = NULL;
    CHECK(rs && rs->loaded == nrules);
    if (rs && rs->loaded == nrules) {
        CHECK_INT(sg__pre_build(rs->rules, rs->nrules, flags, NULL, pre), KS_OK);
        CHECK_INT(sg__pre_ws_new(*pre, pw), KS_OK);
    }
    if (!*pw) {
        sg__pre_free(*pre);
        sg__ruleset_free(rs);
        return NULL;
    }
    return rs;
}

TEST(prefilter_never_misses)
{
    const char *y =
        "title: a\nid: a\nlogsource: {product: test}\ndetection:\n  s:\n    F|contains: mimikatz\n  condition: s\n"
        "---\ntitle: b\nid: b\nlogsource: {product: test}\ndetection:\n  s:\n    F|endswith: '\\cmd.exe'\n"
        "  t:\n    G: 'x*'\n  condition: s or t\n"
        "---\ntitle: c\nid: c\nlogsource: {product: test}\ndetection:\n  s:\n    F|re: 'ab+c'\n  condition: s\n"
        "---\ntitle: d\nid: d\nlogsource: {product: test}\ndetection:\n  s:\n    F|wide|base64offset|contains: 'IEX'\n"
        "  condition: s\n"
        "---\ntitle: e\nid: e\nlogsource: {product: test}\ndetection:\n  s:\n    F: 'abc*defgh'\n  f:\n    F: abc\n"
        "  condition: s and not f\n";
    sg_pre *pre;
    sg_pre_ws *pw;
    sg_ruleset *rs = with_prefilter(y, 5, SG_PRE_ON | SG_PRE_PATTERNS, &pre, &pw);
    if (!rs)
        return;
    uint32_t nn, na;
    sg__pre_stats(pre, &nn, &na);
    CHECK_INT(na, 2); /* the regex rule and b (its `x*` is too short a needle) */
    const char *vals[] = {"run MimiKatz now", "C:\\x\\CMD.EXE", "zzabbbc", "SQBFAFgA", "ABC123DEFGH", "none"};
    const char *gvals[] = {"y", "y", "y", "y", "y", "xylophone"};
    sg_scratch sc;
    sg__scratch_init(&sc, rs);
    for (size_t i = 0; i < 6; i++) {
        ks_event ev;
        memset(&ev, 0, sizeof ev);
        ev.syms = syms;
        ks__event_reset(&ev);
        ks__event_add_str(&ev, "F", 1, vals[i], strlen(vals[i]));
        ks__event_add_str(&ev, "G", 1, gvals[i], strlen(gvals[i]));
        sg__scratch_event(&sc, &ev);
        const uint32_t *cand;
        size_t n = sg__pre_candidates(pre, pw, &ev, &sc, &cand);
        for (size_t r = 0; r < rs->nrules; r++) {
            bool m = sg__rule_eval(rs->rules[r], &ev, &sc);
            bool listed = false;
            for (size_t k = 0; k < n; k++)
                listed |= cand[k] == r;
            if (m && !listed)
                fprintf(stderr, "prefilter missed rule %zu on event %zu\n", r, i);
            CHECK(!m || listed);
        }
        CHECK(n < rs->nrules); /* and it does filter */
        free(ev.fields);
    }
    sg__scratch_release(&sc);
    sg__pre_ws_free(pw);
    sg__pre_free(pre);
    sg__ruleset_free(rs);
}

/* Key gates skip only evaluations that would be false: every rule, every
 * event, the same answer as evaluating it, and some are skipped. The rules
 * require their key in lists, through or/and/1 of/not, with numbers, case,
 * wildcards, |all and a field that repeats (unnamed EVTX <Data>). */
TEST(gates_skip_only_false_rules)
{
    const char *y =
        "title: a\nid: a\nlogsource: {product: test}\ndetection:\n  s: {E: [4624, 4625], T: 3}\n  condition: s\n"
        "---\ntitle: b\nid: b\nlogsource: {product: test}\ndetection:\n  s: {E: 4624, T: 10}\n"
        "  t: {E: 4776}\n  condition: s or t\n"
        "---\ntitle: c\nid: c\nlogsource: {product: test}\ndetection:\n  s: {E: 4624}\n  f: {T: 3}\n"
        "  condition: s and not f\n"
        "---\ntitle: d\nid: d\nlogsource: {product: test}\ndetection:\n  s: {T: 3}\n  k: {E: 1102}\n"
        "  condition: s or not k\n"
        "---\ntitle: e\nid: e\nlogsource: {product: test}\ndetection:\n  s1: {E: 4624, P: Security}\n"
        "  s2: {E: 1102, P: 'Microsoft*'}\n  condition: 1 of s*\n"
        "---\ntitle: f\nid: f\nlogsource: {product: test}\ndetection:\n  s: {E: 4624, T: 3}\n  t: {E: 4625}\n"
        "  condition: s and t\n"
        "---\ntitle: g\nid: g\nlogsource: {product: test}\ndetection:\n  s:\n    P: [AbC, x]\n    E: 4624\n"
        "  condition: s\n"
        "---\ntitle: h\nid: h\nlogsource: {product: test}\ndetection:\n  s:\n    T|all: [3, 10]\n"
        "    E: 4648\n  condition: s\n";
    sg_pre *pre;
    sg_pre_ws *pw;
    sg_gates *g = NULL;
    sg_ruleset *rs = with_prefilter(y, 8, SG_PRE_ON, &pre, &pw);
    if (!rs)
        return;
    CHECK_INT(sg__gates_build(rs->rules, rs->nrules, &g), KS_OK);
    CHECK(g != NULL);
    const char *es[] = {"E=#4624", "E=4624", "E=#4625", "E=#4776", "E=#1102", "E=#4648", "E=04624", "E=x", NULL};
    const char *ts[] = {"T=#3", "T=10", "T=3", NULL};
    const char *ps[] = {"P=Security", "P=SECURITY", "P=abc", "P=Microsoft-Windows-Eventlog", NULL};
    sg_scratch sc;
    sg__scratch_init(&sc, rs);
    int skipped = 0, hits = 0;
    for (size_t e = 0; e < KS_ARRAY_LEN(es); e++)
        for (size_t t = 0; t < KS_ARRAY_LEN(ts); t++)
            for (size_t q = 0; q < KS_ARRAY_LEN(ps); q++)
                for (int twice = 0; twice < 2; twice++) {
                    ks_event ev;
                    memset(&ev, 0, sizeof ev);
                    ev.syms = syms;
                    ks__event_reset(&ev);
                    const char *spec[] = {es[e], ts[t], ps[q], twice ? es[(e + 3) % 8] : NULL};
                    for (size_t i = 0; i < KS_ARRAY_LEN(spec); i++) {
                        if (!spec[i])
                            continue;
                        const char *v = spec[i] + 2;
                        ks_value x = {.type = KS_VSTR};
                        if (*v == '#')
                            x.type = KS_VINT, x.u.i = strtoll(v + 1, NULL, 10);
                        else
                            x.u.s.p = v, x.u.s.n = strlen(v);
                        ks__event_add_named(&ev, spec[i], 1, &x);
                    }
                    sg__scratch_event(&sc, &ev);
                    sg_gate_key key;
                    sg__gates_event(&key);
                    for (uint32_t r = 0; r < rs->nrules; r++) {
                        bool pass = sg__gate_pass(g, r, &sc, &key);
                        bool m = sg__rule_eval(rs->rules[r], &ev, &sc);
                        if (m && !pass)
                            fprintf(stderr, "gate dropped rule %s on %s %s %s %s\n", rs->rules[r]->id,
                                    spec[0], spec[1] ? spec[1] : "", spec[2] ? spec[2] : "",
                                    spec[3] ? spec[3] : "");
                        CHECK(pass || !m);
                        skipped += !pass;
                        hits += m;
                    }
                    free(ev.fields);
                }
    CHECK(skipped > 100); /* and it does gate */
    CHECK(hits > 20);
    sg__scratch_release(&sc);
    sg__gates_free(g);
    sg__pre_ws_free(pw);
    sg__pre_free(pre);
    sg__ruleset_free(rs);
}

/* Keyword values first look for their literal in the event's text, which
 * the prefilter built (sc->text): the same answers as matching every field
 * without it, in any case, in any field, with wildcards, under `not`. */
TEST(keywords_with_prefilter_text_same_answers)
{
    const char *y =
        "title: a\nid: a\nlogsource: {product: test}\ndetection:\n  m:\n    M: GET\n"
        "  k:\n    - '={{'\n    - 'freemarker.template'\n    - 'sekurlsa::*'\n    - '*lsa*dump'\n"
        "  condition: m and k\n"
        "---\ntitle: b\nid: b\nlogsource: {product: test}\ndetection:\n  m:\n    M: GET\n"
        "  k:\n    - 'evil'\n  condition: m and not k\n"
        "---\ntitle: c\nid: c\nlogsource: {product: test}\ndetection:\n  k:\n    '|all':\n"
        "      - 'alpha'\n      - 'beta'\n  condition: k\n";
    sg_pre *pre;
    sg_pre_ws *pw;
    sg_ruleset *rs = with_prefilter(y, 3, SG_PRE_ON, &pre, &pw);
    if (!rs)
        return;
    const char *qs[] = {"a={{7*7}}", "x=1", "FreeMarker.Template.utility", "SEKURLSA::logon",
                        "LSA secrets DUMP", "dump lsa", "eViL", "alpha", "beta alpha", "GET"};
    sg_scratch sc;
    sg__scratch_init(&sc, rs);
    int texts = 0, hits = 0;
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
        for (int where = 0; where < 2; where++) {
            ks_event ev;
            memset(&ev, 0, sizeof ev);
            ev.syms = syms;
            ks__event_reset(&ev);
            ks__event_add_str(&ev, "M", 1, "GET", 3);
            ks__event_add_str(&ev, "N", 1, "other", 5);
            ks__event_add_str(&ev, where ? "Q" : "U", 1, qs[i], strlen(qs[i]));
            bool plain[3];
            sg__scratch_event(&sc, &ev); /* no prefilter: every field matched */
            for (size_t r = 0; r < 3; r++)
                plain[r] = sg__rule_eval(rs->rules[r], &ev, &sc);
            sg__scratch_event(&sc, &ev);
            const uint32_t *cand;
            (void)sg__pre_candidates(pre, pw, &ev, &sc, &cand);
            texts += sc.text != NULL;
            for (size_t r = 0; r < 3; r++) {
                bool m = sg__rule_eval(rs->rules[r], &ev, &sc);
                hits += m;
                if (m != plain[r])
                    fprintf(stderr, "rule %zu on '%s': %d with the text, %d without\n", r, qs[i], m,
                            plain[r]);
                CHECK(m == plain[r]);
            }
            free(ev.fields);
        }
    }
    CHECK(texts > 0);   /* the text path ran */
    CHECK_INT(hits, 2 * (4 + 9 + 1)); /* a: four of the values, b: all but eViL, c: "beta alpha" */
    sg__scratch_release(&sc);
    sg__pre_ws_free(pw);
    sg__pre_free(pre);
    sg__ruleset_free(rs);
}

/* ---- directories and `kensa rules check` -------------------------------------------- */

TEST(load_directory_tree_and_rules_check)
{
    char dir[512], cmd[4096];
    snprintf(dir, sizeof dir, "%s/rt", ks_test_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p %s/a/b %s/mappings %s/.hidden", dir, dir, dir);
    CHECK_INT(system(cmd), 0);
    static const char good[] = "title: g\nlogsource: {product: test}\ndetection:\n  s: {A: 1}\n  condition: s\n";
    static const char two[] = "title: g2\nlogsource: {product: test}\ndetection:\n  s: {A: 1}\n  condition: s\n"
                              "---\ntitle: g3\nlogsource: {product: nowhere}\ndetection:\n  s: {A: 1}\n  condition: s\n";
    static const char bad[] = "title: b\nlogsource: {product: test}\ndetection:\n  s: {A|bogus: 1}\n  condition: s\n";
    ks_test_write("rt/a/one.yml", good, sizeof good - 1);
    ks_test_write("rt/a/b/two.yaml", two, sizeof two - 1);
    ks_test_write("rt/a/b/bad.yml", bad, sizeof bad - 1);
    ks_test_write("rt/a/readme.txt", "not a rule", 10);
    ks_test_write("rt/mappings/m.yml", test_mapping, sizeof test_mapping - 1);
    ks_test_write("rt/.hidden/h.yml", good, sizeof good - 1);
    diags d = {0};
    sg_ruleset *rs = NULL;
    if (!syms)
        syms = ks__symtab_new_schema();
    CHECK_INT(sg__ruleset_new(syms, on_diag, &d, &rs), KS_OK);
    char maps[600];
    snprintf(maps, sizeof maps, "%s/mappings", dir);
    CHECK_INT(sg__ruleset_load_mappings(rs, maps), KS_OK);
    CHECK_INT(sg__ruleset_load_path(rs, dir), KS_OK);
    sg__ruleset_finish(rs);
    CHECK_INT(rs->files, 3);   /* mappings/ and .hidden/ skipped, .txt ignored */
    CHECK_INT(rs->loaded, 3);
    CHECK_INT(rs->failed, 1);
    CHECK_INT(rs->unmapped, 1);
    CHECK_INT(rs->fails[SG_FAIL_MODIFIER], 1);
    sg__ruleset_free(rs);
    /* the CLI says the same */
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/kensa rules check --mappings %s %s 2>&1", ks_test_build(), maps, dir);
    int st = ks_test_run(cmd, &out);
    CHECK(out && strstr(out, "4 rules: 3 loaded") != NULL);
    CHECK(out && strstr(out, "bad.yml:4 [unknown modifier]") != NULL);
    CHECK(out && strstr(out, "1 unmapped") != NULL);
    CHECK(st != 0); /* a failure means exit status 2 */
    free(out);
}

TEST(regex_backtracking_is_bounded)
{
    /* (a+)+$ against a long run of a's followed by b: exponential without limits */
    char v[80];
    memset(v, 'a', sizeof v - 2);
    v[sizeof v - 2] = 'b';
    v[sizeof v - 1] = 0;
    char spec[100];
    snprintf(spec, sizeof spec, "F=%s", v);
    uint64_t t0 = ks__now_ns();
    CHECK_INT(M("  s:\n    F|re: '^(a+)+$'\n  condition: s\n", spec), 0);
    CHECK(ks__now_ns() - t0 < 5000000000ull);
}

TEST(regex_required_literals)
{
    struct {
        const char *re;
        const char *lit; /* NULL: none */
    } rows[] = {
        {"ipconfig\\\\s+/all", "ipconfig"},
        {"(?i)\\\\.exe[\\\"']?\\\\s+werfaultsecure\\\\.exe", "werfaultsecure.exe"},
        {"shutdown\\\\s+/r /f /t 00", "/r /f /t 00"},
        {"net\\\\s+config|route\\\\s+print", NULL},      /* top-level alternation */
        {"(foo|bar)bazz", "bazz"},
        {"abcd?ef", "abc"},                             /* d is optional */
        {"x[abc]+yyyy", "yyyy"},
        {"\\\\d{2,10}zzz", "zzz"},
        {"(?x) a b c d", NULL},                         /* extended mode: give up */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 "title: t\nlogsource: {product: test}\ndetection:\n  s:\n    F|re: \"%s\"\n  condition: s\n",
                 rows[i].re);
        sg_ruleset *rs = ruleset(yaml, NULL, NULL, 0);
        CHECK(rs && rs->loaded == 1);
        if (!rs || rs->loaded != 1) {
            fprintf(stderr, "row %zu did not load\n", i);
            sg__ruleset_free(rs);
            continue;
        }
        const sg_val *v = &rs->rules[0]->searches[0].groups[0].items[0].vals[0];
        if (rows[i].lit) {
            CHECK(v->relit != NULL);
            if (v->relit && strcmp(v->relit, rows[i].lit) != 0)
                fprintf(stderr, "row %zu: literal '%s', expected '%s'\n", i, v->relit, rows[i].lit);
            CHECK(v->relit && strcmp(v->relit, rows[i].lit) == 0);
        } else {
            CHECK(v->relit == NULL);
        }
        sg__ruleset_free(rs);
    }
}

TEST(repeated_fields_any_occurrence)
{
    /* EVTX unnamed <Data> elements: Event.EventData.Data three times */
    const char *d = "  s:\n    Data|contains: 'HostApplication=powershell'\n  condition: s\n";
    CHECK_INT(M(d, "Event.EventData.Data=Available", "Event.EventData.Data=None",
                "Event.EventData.Data=NewEngineState\n\tHostApplication=powershell -enc x"), 1);
    CHECK_INT(M(d, "Event.EventData.Data=Available", "Event.EventData.Data=None"), 0);
    const char *all = "  s:\n    Data|contains|all: ['Available', 'None']\n  condition: s\n";
    CHECK_INT(M(all, "Data=Available", "Data=None"), 1);
    CHECK_INT(M(all, "Data=Available", "Data=Other"), 0);
    CHECK_INT(M("  s:\n    Data: 'None'\n  condition: not s\n", "Data=Available", "Data=None"), 0);
}

/* One ks_event refilled per record, as the engine does: the scratch index
 * (and the logsource lookups of the memo key) is reused while the layout
 * holds (same names in order) and rebuilt when it changes; every answer,
 * logsource conditions and repeated fields included, is the one a fresh
 * scratch and prefilter workspace give. */
TEST(index_reused_per_layout_same_answers)
{
    const char *y =
        "title: a\nid: a\nlogsource: {product: test, service: sec}\ndetection:\n  s: {EventID: 4625}\n"
        "  condition: s\n"
        "---\ntitle: b\nid: b\nlogsource: {product: test}\ndetection:\n  s:\n    A|contains: evil\n"
        "  condition: s\n"
        "---\ntitle: c\nid: c\nlogsource: {product: test}\ndetection:\n  s: {A: quiet}\n  f: {EventID: 1}\n"
        "  condition: s and not f\n";
    const char *recs[][4] = {
        {"Channel=Security", "EventID=#4625", "A=evil one", NULL},
        {"Channel=Security", "EventID=#4625", "B=evil one", NULL}, /* another name */
        {"Channel=System", "EventID=#4625", "A=quiet", NULL},   /* same layout, other values */
        {"Channel=Security", "EventID=#4625", "A=quiet", NULL},
        {"EventID=#4625", "Channel=Security", "A=x", NULL},     /* the names in another order */
        {"EventID=#1", "A=quiet", NULL, NULL},                  /* fewer fields */
        {"A=quiet", "A=evil", "EventID=#4625", "Channel=Security"}, /* a repeated name */
        {"A=quiet", "A=calm", "EventID=#4625", "Channel=Security"},
        {"Channel=Security", "EventID=#4625", "A=evil one", NULL},
    };
    sg_pre *pre, *pre2;
    sg_pre_ws *pw, *pw2;
    sg_ruleset *rs = with_prefilter(y, 3, SG_PRE_ON, &pre, &pw);
    if (!rs)
        return;
    sg_ruleset *rs2 = with_prefilter(y, 3, SG_PRE_ON, &pre2, &pw2);
    if (!rs2) {
        sg__pre_ws_free(pw), sg__pre_free(pre), sg__ruleset_free(rs);
        return;
    }
    sg_scratch sc;
    sg__scratch_init(&sc, rs);
    ks_event ev;
    memset(&ev, 0, sizeof ev);
    ev.syms = syms;
    int hits = 0;
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < KS_ARRAY_LEN(recs); i++) {
            ks__event_reset(&ev); /* the fields array stays */
            for (int k = 0; k < 4 && recs[i][k]; k++) {
                const char *eq = strchr(recs[i][k], '=');
                ks_value v = {.type = KS_VSTR};
                if (eq[1] == '#')
                    v.type = KS_VINT, v.u.i = strtoll(eq + 2, NULL, 10);
                else
                    v.u.s.p = eq + 1, v.u.s.n = strlen(eq + 1);
                ks__event_add_named(&ev, recs[i][k], (size_t)(eq - recs[i][k]), &v);
            }
            sg__scratch_event(&sc, &ev);
            const uint32_t *cand;
            size_t n = sg__pre_candidates(pre, pw, &ev, &sc, &cand);
            bool got[3] = {false, false, false};
            for (size_t k = 0; k < n; k++)
                got[cand[k]] = sg__rule_eval(rs->rules[cand[k]], &ev, &sc);
            /* the reference: a fresh scratch and workspace for this record */
            sg_scratch fresh;
            sg_pre_ws *fw = NULL;
            sg__scratch_init(&fresh, rs2);
            CHECK_INT(sg__pre_ws_new(pre2, &fw), KS_OK);
            sg__scratch_event(&fresh, &ev);
            n = fw ? sg__pre_candidates(pre2, fw, &ev, &fresh, &cand) : 0;
            bool want[3] = {false, false, false};
            for (size_t k = 0; k < n; k++)
                want[cand[k]] = sg__rule_eval(rs2->rules[cand[k]], &ev, &fresh);
            for (int r = 0; r < 3; r++) {
                if (got[r] != want[r])
                    fprintf(stderr, "record %zu pass %d rule %d: %d, fresh %d\n", i, pass, r, got[r], want[r]);
                CHECK_INT(got[r], want[r]);
                hits += want[r];
            }
            sg__pre_ws_free(fw);
            sg__scratch_release(&fresh);
        }
    CHECK_INT(hits, 3 * 14); /* a: 0, 1, 3, 4, 6, 7, 8; b: 0, 6, 8; c: 2, 3, 6, 7 */
    CHECK(sc.idx_build < 3 * KS_ARRAY_LEN(recs)); /* and it was reused */
    free(ev.fields);
    sg__scratch_release(&sc);
    sg__pre_ws_free(pw);
    sg__pre_free(pre);
    sg__ruleset_free(rs);
    sg__pre_ws_free(pw2);
    sg__pre_free(pre2);
    sg__ruleset_free(rs2);
}
