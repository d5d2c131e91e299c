/* SPDX-License-Identifier: Apache-2.0
 *
 * Sigma correlations and the detector end to end (without an engine run):
 * rules are compiled, events fed to two worker states in shuffled order,
 * findings captured through the emit hook. Covers every correlation type,
 * group-by, aliases, sliding windows, conditions, generate, and the
 * examples of the correlation specification.
 */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "detect/sigma/sigma.h"

static ks_symtab *syms;
static size_t last_recs; /* correlation records the last run() held */

static const char mapping[] =
    "fieldmaps:\n  t:\n    prefixes: ['']\n"
    "logsources:\n  - product: test\n    fieldmap: t\n"
    "  - product: windows\n    service: security\n    fieldmap: t\n    condition:\n      Channel: Security\n";

typedef struct captured {
    int n;
    char rule[32][64];
    char detail[32][512];
    uint64_t count[32];
    int64_t first[32], last[32];
    int sev[32];
    char tech[32][32];
    char matched[32][256];
} captured;

static int capture(void *ud, const ks_finding *f)
{
    captured *c = ud;
    if (c->n >= 32)
        return KS_OK;
    snprintf(c->rule[c->n], sizeof c->rule[0], "%s", f->rule_id);
    size_t o = 0;
    for (size_t i = 0; i < f->ndetails; i++)
        o += (size_t)snprintf(c->detail[c->n] + o, sizeof c->detail[0] - o, "%s=%s;",
                              f->details[i].key, f->details[i].value);
    c->count[c->n] = f->event_count;
    c->first[c->n] = f->first;
    c->last[c->n] = f->last;
    c->sev[c->n] = f->severity;
    snprintf(c->tech[c->n], sizeof c->tech[0], "%s", f->ntechniques ? f->techniques[0] : "");
    o = 0;
    for (size_t i = 0; i < f->nmatched; i++)
        o += (size_t)snprintf(c->matched[c->n] + o, sizeof c->matched[0] - o, "%s=%s;",
                              f->matched[i].key, f->matched[i].value);
    c->n++;
    return KS_OK;
}

typedef struct tev {
    int64_t t;   /* seconds */
    const char *kv[4];
} tev;

/* Runs `rules` over events (fed alternately to two workers, in the given
 * order), returns the captured findings. */
static void run(const char *rules, const tev *evs, size_t n, captured *out)
{
    sg_ruleset *rs = NULL;
    sg_det *d = NULL;
    void *ws[2] = {NULL, NULL};
    memset(out, 0, sizeof *out);
    if (!syms)
        syms = ks__symtab_new_schema();
    sg__ruleset_new(syms, NULL, NULL, &rs);
    sg__map_load_mem(rs, mapping, sizeof mapping - 1, "m.yml");
    sg__ruleset_load_mem(rs, rules, strlen(rules), "corr.yml");
    sg__ruleset_finish(rs);
    if (rs->failed)
        fprintf(stderr, "rules: %llu failed\n", (unsigned long long)rs->failed);
    sg_det_opts o = {.prefilter = true, .emit = capture, .emit_ud = out};
    if (sg__det_new(rs, &o, &d) != KS_OK)
        return;
    for (int w = 0; w < 2; w++)
        ks_detector_sigma.worker_new(d, NULL, &ws[w]);
    for (size_t i = 0; i < n; i++) {
        ks_event ev;
        memset(&ev, 0, sizeof ev);
        ev.syms = syms;
        ks__event_reset(&ev);
        ev.time = evs[i].t * 1000000000LL;
        ev.prov.path = i % 2 ? "b.json" : "a.json";
        ev.prov.format = "json";
        ev.prov.line = i + 1;
        for (int k = 0; k < 4 && evs[i].kv[k]; k++) {
            const char *eq = strchr(evs[i].kv[k], '=');
            ks__event_add_str(&ev, evs[i].kv[k], (size_t)(eq - evs[i].kv[k]), eq + 1, strlen(eq + 1));
        }
        ks_detector_sigma.on_event(ws[i % 2], &ev);
        free(ev.fields);
    }
    for (int w = 0; w < 2; w++)
        ks_detector_sigma.worker_done(d, ws[w]);
    last_recs = sg__det_nrecs(d);
    ks_detector_sigma.finish(d);
    ks_detector_sigma.destroy(d);
}

static int find(const captured *c, const char *rule)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->rule[i], rule) == 0)
            return i;
    return -1;
}

static int count_rule(const captured *c, const char *rule)
{
    int k = 0;
    for (int i = 0; i < c->n; i++)
        k += strcmp(c->rule[i], rule) == 0;
    return k;
}

#define FAIL_RULE "title: failed\nname: failed\nid: f-1\nlogsource: {product: test}\n" \
                  "detection:\n  s:\n    EventID: 4625\n  condition: s\n"

TEST(event_count_sliding_window_unordered)
{
    const char *rules = FAIL_RULE
        "---\ntitle: brute\nid: c-brute\nlevel: high\ncorrelation:\n  type: event_count\n"
        "  rules: [failed]\n  group-by: [User]\n  timespan: 10m\n  condition: {gte: 3}\n";
    /* three failures for bob at 09:58, 10:01, 10:05 (straddle the hour),
     * shuffled; alice only twice */
    tev evs[] = {
        {36300, {"EventID=4625", "User=bob"}},  {35880, {"EventID=4625", "User=bob"}},
        {36000, {"EventID=4625", "User=alice"}}, {36060, {"EventID=4625", "User=bob"}},
        {39000, {"EventID=4625", "User=alice"}}, {36000, {"EventID=4624", "User=bob"}},
    };
    captured c;
    run(rules, evs, sizeof evs / sizeof evs[0], &c);
    CHECK_INT(count_rule(&c, "c-brute"), 1);
    CHECK_INT(count_rule(&c, "f-1"), 0); /* base rule only feeds the correlation */
    int i = find(&c, "c-brute");
    CHECK(i >= 0);
    if (i >= 0) {
        CHECK(strstr(c.detail[i], "group=User=bob") != NULL);
        CHECK_INT(c.count[i], 3);
        CHECK_INT(c.first[i], 35880 * 1000000000LL);
        CHECK_INT(c.last[i], 36300 * 1000000000LL);
        CHECK_INT(c.sev[i], KS_SEV_HIGH);
    }
    /* the same events too far apart: nothing */
    tev far[] = {{0, {"EventID=4625", "User=bob"}}, {700, {"EventID=4625", "User=bob"}},
                 {1400, {"EventID=4625", "User=bob"}}};
    run(rules, far, 3, &c);
    CHECK_INT(count_rule(&c, "c-brute"), 0);
}

TEST(value_count_password_spray)
{
    const char *rules = FAIL_RULE
        "---\ntitle: spray\nid: c-spray\ncorrelation:\n  type: value_count\n"
        "  rules: [failed]\n  group-by: [IpAddress]\n  timespan: 30m\n"
        "  condition:\n    field: User\n    gte: 4\n";
    tev evs[] = {
        {100, {"EventID=4625", "User=u1", "IpAddress=10.0.0.5"}},
        {90, {"EventID=4625", "User=u2", "IpAddress=10.0.0.5"}},
        {400, {"EventID=4625", "User=u3", "IpAddress=10.0.0.5"}},
        {200, {"EventID=4625", "User=u2", "IpAddress=10.0.0.5"}},
        {300, {"EventID=4625", "User=u4", "IpAddress=10.0.0.5"}},
        /* a busy NAT with one user mistyping many times */
        {100, {"EventID=4625", "User=x", "IpAddress=10.9.9.9"}},
        {110, {"EventID=4625", "User=x", "IpAddress=10.9.9.9"}},
        {120, {"EventID=4625", "User=x", "IpAddress=10.9.9.9"}},
        {130, {"EventID=4625", "User=x", "IpAddress=10.9.9.9"}},
        {140, {"EventID=4625", "User=y", "IpAddress=10.9.9.9"}},
    };
    captured c;
    run(rules, evs, sizeof evs / sizeof evs[0], &c);
    CHECK_INT(count_rule(&c, "c-spray"), 1);
    int i = find(&c, "c-spray");
    if (i >= 0) {
        CHECK(strstr(c.detail[i], "IpAddress=10.0.0.5") != NULL);
        CHECK(strstr(c.detail[i], "distinct values=4") != NULL);
        CHECK(strstr(c.detail[i], "u1") && strstr(c.detail[i], "u4"));
    }
}

TEST(temporal_and_ordered_with_aliases)
{
    const char *rules =
        "title: a\nname: recon\nid: ra\nlogsource: {product: test}\ndetection:\n  s: {Cmd: whoami}\n  condition: s\n"
        "---\ntitle: b\nname: dump\nid: rb\nlogsource: {product: test}\ndetection:\n  s: {Cmd: procdump}\n  condition: s\n"
        "---\ntitle: t\nid: c-temporal\ncorrelation:\n  type: temporal\n  rules: [recon, dump]\n"
        "  group-by: [host]\n  timespan: 5m\n  aliases:\n    host:\n      recon: Computer\n      dump: Hostname\n"
        "---\ntitle: o\nid: c-ordered\ncorrelation:\n  type: temporal_ordered\n  rules: [recon, dump]\n"
        "  group-by: [host]\n  timespan: 5m\n  aliases:\n    host:\n      recon: Computer\n      dump: Hostname\n";
    tev evs[] = {
        /* h1: dump then recon (temporal yes, ordered no) */
        {100, {"Cmd=procdump", "Hostname=h1"}}, {200, {"Cmd=whoami", "Computer=h1"}},
        /* h2: recon then dump (both) */
        {260, {"Cmd=procdump", "Hostname=h2"}}, {100, {"Cmd=whoami", "Computer=h2"}},
        /* h3: too far apart */
        {100, {"Cmd=whoami", "Computer=h3"}}, {1000, {"Cmd=procdump", "Hostname=h3"}},
    };
    captured c;
    run(rules, evs, sizeof evs / sizeof evs[0], &c);
    CHECK_INT(count_rule(&c, "c-temporal"), 2);
    CHECK_INT(count_rule(&c, "c-ordered"), 1);
    int i = find(&c, "c-ordered");
    CHECK(i >= 0 && strstr(c.detail[i], "host=h2"));
}

/* A temporal correlation naming a rule that never runs here (unmapped
 * logsource) cannot complete: the other rule's matches are not stored for
 * it, and what is found stays the same. */
TEST(never_complete_not_stored)
{
    const char *rules =
        "title: a\nname: recon\nid: ra\nlogsource: {product: test}\ndetection:\n  s: {Cmd: whoami}\n  condition: s\n"
        "---\ntitle: b\nname: dump\nid: rb\nlogsource: {product: test}\ndetection:\n  s: {Cmd: procdump}\n  condition: s\n"
        "---\ntitle: u\nname: elsewhere\nid: ru\nlogsource: {product: nosuchproduct}\ndetection:\n  s: {Cmd: x}\n"
        "  condition: s\n"
        "---\ntitle: t\nid: c-live\ncorrelation:\n  type: temporal\n  rules: [recon, dump]\n"
        "  group-by: [Computer]\n  timespan: 5m\n"
        "---\ntitle: n\nid: c-never\ncorrelation:\n  type: temporal\n  rules: [recon, elsewhere]\n"
        "  group-by: [Computer]\n  timespan: 5m\n"
        "---\ntitle: o\nid: c-never-ordered\ncorrelation:\n  type: temporal_ordered\n  rules: [recon, elsewhere]\n"
        "  group-by: [Computer]\n  timespan: 5m\n"
        "---\ntitle: e\nid: c-count\ncorrelation:\n  type: event_count\n  rules: [recon]\n"
        "  group-by: [Computer]\n  timespan: 5m\n  condition: {gte: 2}\n";
    tev evs[] = {{100, {"Cmd=whoami", "Computer=h1"}}, {120, {"Cmd=procdump", "Computer=h1"}},
                 {130, {"Cmd=whoami", "Computer=h1"}}};
    captured c;
    run(rules, evs, sizeof evs / sizeof evs[0], &c);
    CHECK_INT(count_rule(&c, "c-live"), 1);
    CHECK_INT(count_rule(&c, "c-count"), 1);
    CHECK_INT(count_rule(&c, "c-never"), 0);
    CHECK_INT(count_rule(&c, "c-never-ordered"), 0);
    /* recon x2 for c-live and c-count, dump x1 for c-live; none for the
     * two that cannot complete (9 before) */
    CHECK_INT(last_recs, 5);
}

TEST(value_sum_avg_percentile_and_ranges)
{
    const char *rules =
        "title: up\nname: upload\nid: up\nlogsource: {product: test}\ndetection:\n  s: {Op: put}\n  condition: s\n"
        "---\ntitle: sum\nid: c-sum\ncorrelation:\n  type: value_sum\n  rules: [upload]\n  group-by: [Src]\n"
        "  timespan: 1h\n  condition:\n    field: Bytes\n    gt: 1000\n"
        "---\ntitle: avg\nid: c-avg\ncorrelation:\n  type: value_avg\n  rules: [upload]\n  group-by: [Src]\n"
        "  timespan: 1h\n  condition:\n    field: Bytes\n    gte: 400\n    lte: 600\n"
        "---\ntitle: pct\nid: c-pct\ncorrelation:\n  type: value_percentile\n  rules: [upload]\n  group-by: [Src]\n"
        "  timespan: 1h\n  condition:\n    field: Name\n    lte: 20\n";
    tev evs[] = {
        {10, {"Op=put", "Src=a", "Bytes=500", "Name=x"}}, {20, {"Op=put", "Src=a", "Bytes=600", "Name=x"}},
        {30, {"Op=put", "Src=a", "Bytes=400", "Name=x"}}, {40, {"Op=put", "Src=a", "Bytes=500", "Name=x"}},
        {50, {"Op=put", "Src=a", "Bytes=500", "Name=rare"}},
        {10, {"Op=put", "Src=b", "Bytes=10", "Name=y"}},  {20, {"Op=put", "Src=b", "Bytes=20", "Name=y"}},
    };
    captured c;
    run(rules, evs, sizeof evs / sizeof evs[0], &c);
    CHECK_INT(count_rule(&c, "c-sum"), 1);        /* a: 2500 > 1000; b: 30 */
    CHECK_INT(count_rule(&c, "c-avg"), 1);        /* a: avg 500 in [400, 600] */
    CHECK_INT(count_rule(&c, "c-pct"), 1);        /* a: "rare" is 20% */
    int i = find(&c, "c-sum");
    CHECK(i >= 0 && strstr(c.detail[i], "Src=a") && strstr(c.detail[i], "sum=2500"));
}

TEST(generate_and_eq_neq)
{
    const char *rules = FAIL_RULE
        "---\ntitle: exact\nid: c-eq\ncorrelation:\n  type: event_count\n  rules: [failed]\n"
        "  group-by: [User]\n  timespan: 1h\n  generate: true\n  condition: {eq: 2}\n";
    tev evs[] = {{1, {"EventID=4625", "User=a"}}, {2, {"EventID=4625", "User=a"}},
                 {3, {"EventID=4625", "User=b"}}};
    captured c;
    run(rules, evs, 3, &c);
    CHECK_INT(count_rule(&c, "f-1"), 3); /* generate: base rule reports too */
    CHECK_INT(count_rule(&c, "c-eq"), 1);
    const char *neq = FAIL_RULE
        "---\ntitle: neq\nid: c-neq\ncorrelation:\n  type: event_count\n  rules: [failed]\n"
        "  group-by: [User]\n  timespan: 1h\n  condition: {neq: 1}\n";
    run(neq, evs, 3, &c);
    CHECK_INT(count_rule(&c, "c-neq"), 1);
}

/* The specification's examples (sigma-correlation-rules-specification.md). */
TEST(spec_examples)
{
    /* "Many failed logins" (event_count by User) over the spec's failed_login
     * rule, with the windows/security logsource */
    const char *rules =
        "title: Many failed logins\nid: 0e95725d-7320-415d-80f7-004da920fc11\ncorrelation:\n"
        "  type: event_count\n  rules:\n    - failed_login\n  group-by:\n    - User\n"
        "  timespan: 1h\n  condition:\n    gte: 10\n"
        "---\ntitle: Single failed login\nid: 53ba33fd-3a50-4468-a5ef-c583635cfa92\nname: failed_login\n"
        "logsource:\n  product: windows\n  service: security\ndetection:\n  selection:\n"
        "    EventID:\n      - 529\n      - 4625\n  condition: selection\n";
    tev evs[12];
    for (int i = 0; i < 12; i++) {
        evs[i].t = 1000 + i * 60;
        evs[i].kv[0] = i % 2 ? "EventID=529" : "EventID=4625";
        evs[i].kv[1] = "User=admin";
        evs[i].kv[2] = i == 11 ? "Channel=System" : "Channel=Security";
        evs[i].kv[3] = NULL;
    }
    captured c;
    run(rules, evs, 12, &c);
    int i = find(&c, "0e95725d-7320-415d-80f7-004da920fc11");
    CHECK(i >= 0);
    if (i >= 0)
        CHECK_INT(c.count[i], 11); /* the System-channel event is not a security logon */
}

TEST(bad_correlations)
{
    const char *bad[] = {
        "title: x\ncorrelation:\n  type: value_count\n  rules: [a]\n  timespan: 1h\n  condition: {gte: 1}\n",
        "title: x\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: forever\n  condition: {gte: 1}\n",
        "title: x\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1h\n",
        "title: x\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1h\n  condition: {about: 1}\n",
        "title: x\ncorrelation:\n  type: event_count\n  timespan: 1h\n  condition: {gte: 1}\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sg_ruleset *rs = NULL;
        if (!syms)
            syms = ks__symtab_new_schema();
        sg__ruleset_new(syms, NULL, NULL, &rs);
        sg__ruleset_load_mem(rs, bad[i], strlen(bad[i]), "bad.yml");
        CHECK_INT(rs->failed, 1);
        CHECK_INT(rs->fails[SG_FAIL_CORRELATION], 1);
        sg__ruleset_free(rs);
    }
}

/* The specification's closing example, verbatim in structure: a chained
 * correlation (temporal_ordered over an event_count correlation and a
 * detection), in one multi-document file. */
TEST(spec_chained_failed_then_success)
{
    const char *rules =
        "title: Correlation - Multiple Failed Logins Followed by Successful Login\n"
        "id: b180ead8-d58f-40b2-ae54-c8940995b9b6\nstatus: experimental\nlevel: high\n"
        "correlation:\n  type: temporal_ordered\n  rules:\n    - multiple_failed_login\n"
        "    - successful_login\n  group-by:\n    - User\n  timespan: 10m\n"
        "---\ntitle: Multiple failed logons\nid: a8418a5a-5fc4-46b5-b23b-6c73beb19d41\n"
        "name: multiple_failed_login\ncorrelation:\n  type: event_count\n  rules:\n    - failed_login\n"
        "  group-by:\n    - User\n  timespan: 10m\n  condition:\n    gte: 10\n"
        "---\ntitle: Single failed login\nid: 53ba33fd-3a50-4468-a5ef-c583635cfa92\nname: failed_login\n"
        "logsource:\n  product: windows\n  service: security\ndetection:\n  selection:\n"
        "    EventID:\n      - 529\n      - 4625\n  condition: selection\n"
        "---\ntitle: Successful login\nid: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8\nname: successful_login\n"
        "logsource:\n  product: windows\n  service: security\ndetection:\n  selection:\n"
        "    EventID:\n      - 528\n      - 4624\n  condition: selection\n";
    tev evs[26];
    size_t n = 0;
    /* admin: 12 failures then a success, inside 10 minutes */
    for (int i = 0; i < 12; i++)
        evs[n++] = (tev){100 + i * 10, {"EventID=4625", "User=admin", "Channel=Security"}};
    evs[n++] = (tev){260, {"EventID=4624", "User=admin", "Channel=Security"}};
    /* bob: success first, then 12 failures: not the ordered pattern */
    evs[n++] = (tev){90, {"EventID=4624", "User=bob", "Channel=Security"}};
    for (int i = 0; i < 12; i++)
        evs[n++] = (tev){100 + i * 10, {"EventID=4625", "User=bob", "Channel=Security"}};
    captured c;
    run(rules, evs, n, &c);
    CHECK_INT(count_rule(&c, "b180ead8-d58f-40b2-ae54-c8940995b9b6"), 1);
    int i = find(&c, "b180ead8-d58f-40b2-ae54-c8940995b9b6");
    CHECK(i >= 0 && strstr(c.detail[i], "User=admin") != NULL);
    /* the inner correlation only feeds the outer one (no generate) */
    CHECK_INT(count_rule(&c, "a8418a5a-5fc4-46b5-b23b-6c73beb19d41"), 0);
    CHECK_INT(count_rule(&c, "53ba33fd-3a50-4468-a5ef-c583635cfa92"), 0);
    /* a cycle is refused */
    sg_ruleset *rs = NULL;
    sg__ruleset_new(syms, NULL, NULL, &rs);
    const char *cyc = "title: a\nname: a\ncorrelation:\n  type: event_count\n  rules: [b]\n  timespan: 1h\n"
                      "  condition: {gte: 1}\n---\ntitle: b\nname: b\ncorrelation:\n  type: event_count\n"
                      "  rules: [a]\n  timespan: 1h\n  condition: {gte: 1}\n";
    sg__ruleset_load_mem(rs, cyc, strlen(cyc), "cyc.yml");
    sg__ruleset_finish(rs);
    CHECK_INT(rs->failed, 2);
    CHECK_INT(rs->fails[SG_FAIL_REFERENCE], 2);
    sg__ruleset_free(rs);
}

TEST(detection_findings_carry_rule_data)
{
    const char *rules =
        "title: Whoami run\nid: 9d0c7c1e-0000-4000-8000-000000000001\nlevel: critical\n"
        "tags: [attack.discovery, attack.t1033]\nlogsource: {product: test}\n"
        "detection:\n  s:\n    Image|endswith: '\\whoami.exe'\n    User: admin\n  condition: s\n";
    tev evs[] = {{5, {"Image=C:\\Windows\\System32\\whoami.exe", "User=admin", "Other=x"}},
                 {6, {"Image=C:\\Windows\\System32\\calc.exe", "User=admin"}}};
    captured c;
    run(rules, evs, 2, &c);
    CHECK_INT(c.n, 1);
    CHECK_STR(c.rule[0], "9d0c7c1e-0000-4000-8000-000000000001");
    CHECK_INT(c.sev[0], KS_SEV_CRITICAL);
    CHECK_STR(c.tech[0], "T1033");
    CHECK_INT(c.first[0], 5000000000LL);
    CHECK(strstr(c.matched[0], "Image=C:\\Windows\\System32\\whoami.exe;") != NULL);
    CHECK(strstr(c.matched[0], "User=admin;") != NULL);
    CHECK(strstr(c.detail[0], "rule_file=corr.yml") != NULL);
}
