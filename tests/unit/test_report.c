/* SPDX-License-Identifier: Apache-2.0
 * Reports people read (issue 19): the terminal summary stays within 40
 * lines whatever the number of findings (a generated run of 20,000
 * findings over 300 rules, and the EVTX attack samples with the SigmaHQ
 * Windows rules when the corpus is there); grouping collapses one rule
 * from one source within the window but never two identities (secret or
 * personal-data hashes); one event hit by several rules is shown once;
 * --min-level, the rule status filters and --since/--until apply to every
 * finding, file findings by the file's times. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "engine/engine_int.h"

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

static int kensa(const char *args, char **out)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s/kensa %s 2>/dev/null", ks_test_build(), args);
    return ks_test_run(cmd, out);
}

/* A saved run (kensa.finding/1 lines) of n findings over nrules rules,
 * 40 hosts, 25 accounts, 12 techniques, spread over 2 days: each rule
 * fires from one source. */
static const char *generated_run(const char *name, int n, int nrules)
{
    static const char *const techs[] = {"T1059.001", "T1003.001", "T1110.003", "T1021.002", "T1547.001",
                                        "T1505.003", "T1071.004", "T1190", "T1548.002", "T1070.001",
                                        "T1552.001", "T9999"};
    static const char *const sev[] = {"info", "low", "medium", "high", "critical"};
    char path[512];
    snprintf(path, sizeof path, "%s/%s", ks_test_tmpdir(), name);
    FILE *fp = fopen(path, "w");
    for (int i = 0; fp && i < n; i++) {
        int r = (int)((unsigned)i * 2654435761u % (unsigned)nrules);
        long sec = 1700000000L + (long)((unsigned)i * 40503u % 172800u);
        char t[64];
        ks_time_format((int64_t)sec * 1000000000, t, sizeof t);
        fprintf(fp,
                "{\"schema\":\"kensa.finding/1\",\"rule_id\":\"gen.rule.%d\",\"title\":\"Generated rule %d "
                "with a long enough title\",\"detector\":\"sigma\",\"severity\":\"%s\",\"techniques\":[\"%s\"],"
                "\"first\":\"%s\",\"last\":\"%s\",\"event_count\":1,\"evidence\":[{\"path\":\"/evidence/host%d/"
                "Security.evtx\",\"format\":\"evtx\",\"record\":%d,\"host\":\"HOST%02d\",\"user\":\"user%d\","
                "\"source\":\"10.0.%d.%d\"}],\"matched\":{\"CommandLine\":\"cmd.exe /c whoami %d\"},"
                "\"details\":{\"status\":\"test\"}}\n",
                r, r, sev[r % 5], techs[r % 12], t, t, r % 40, i + 1, r % 40, r % 25, r % 7, r % 200, i);
    }
    if (fp)
        fclose(fp);
    return ks_test_strdup(path);
}

TEST(summary_bounded_on_a_generated_run)
{
    char args[1024], *out = NULL;
    const char *run = generated_run("big.jsonl", 20000, 300);
    snprintf(args, sizeof args, "report %s", run);
    CHECK_INT(kensa(args, &out), 1);
    size_t lines = count_lines(out);
    printf("  generated run: 20000 findings -> %zu terminal lines (limit 40)\n", lines);
    CHECK(lines <= 40);
    CHECK(out && strstr(out, "20000 findings"));
    CHECK(out && strstr(out, "and 294 more rules"));
    CHECK(out && strstr(out, "after grouping"));
    CHECK(out && strstr(out, "hosts") && strstr(out, "HOST"));
    CHECK(out && strstr(out, "credential-access"));
    CHECK(out && strstr(out, "Most severe"));
    free(out);
    /* every grouped finding listed on request */
    snprintf(args, sizeof args, "report --list all --group-window 0 %s", run);
    CHECK_INT(kensa(args, &out), 1);
    CHECK(count_lines(out) > 10000 * 3);
    free(out);
}

TEST(summary_bounded_on_the_evtx_corpus)
{
    const char *c = ks_test_corpus();
    char args[2048], *out = NULL;
    if (!c) {
        ks_test_skip("corpus", "summary_bounded_on_the_evtx_corpus: no ../shared/corpus");
        return;
    }
    snprintf(args, sizeof args, "hunt --threads 2 --rules '%s/sigma/rules/windows' '%s/evtx-attack-samples'", c, c);
    CHECK_INT(kensa(args, &out), 1);
    size_t lines = count_lines(out);
    unsigned long n = out ? strtoul(out, NULL, 10) : 0;
    printf("  EVTX attack samples + SigmaHQ windows rules: %lu findings -> %zu terminal lines (limit 40)\n", n,
           lines);
    CHECK(n >= 1000);
    CHECK(lines <= 40);
    free(out);
}

/* ---- grouping, through the engine's view ---------------------------------------- */

typedef struct seen {
    int n;
    char titles[8][96];
    uint64_t events[8];
    char group[8][16];
    char also[8][256];
} seen;

static int collect(void *ud, const ks_finding *f)
{
    seen *s = ud;
    if (s->n < 8) {
        snprintf(s->titles[s->n], sizeof s->titles[0], "%s", f->title);
        s->events[s->n] = f->event_count;
        s->group[s->n][0] = s->also[s->n][0] = 0;
        for (size_t i = 0; i < f->ndetails; i++) {
            if (!strcmp(f->details[i].key, "group_findings"))
                snprintf(s->group[s->n], sizeof s->group[0], "%s", f->details[i].value);
            if (!strcmp(f->details[i].key, "also_rules"))
                snprintf(s->also[s->n], sizeof s->also[0], "%s", f->details[i].value);
        }
    }
    s->n++;
    return KS_OK;
}

static void emit_at(ks_engine *e, const char *rule, const char *title, int64_t sec, uint64_t record,
                    const char *sha, ks_severity sev)
{
    ks_evidence ev = {.path = "/ev/Security.evtx", .format = "evtx", .record = record, .offset = UINT64_MAX,
                      .time = sec * 1000000000, .host = "DC01", .user = "bob"};
    ks_kv det[1] = {{"secret_sha256", sha}};
    ks_finding f = {.rule_id = rule, .title = title, .detector = "test", .severity = sev,
                    .first = sec * 1000000000, .last = sec * 1000000000, .evidence = &ev, .nevidence = 1,
                    .event_count = 1, .details = sha ? det : NULL, .ndetails = sha ? 1 : 0};
    ks__emit(e, &f);
}

TEST(grouping_by_rule_source_window_never_identities)
{
    ks_engine *e = NULL;
    seen s;
    CHECK_INT(ks_engine_new(&e), KS_OK);
    /* 5 within minutes, then one 3 hours later: two groups at 1h */
    for (int i = 0; i < 5; i++)
        emit_at(e, "r.noisy", "noisy", 1000 + i * 60, 10 + (uint64_t)i, NULL, KS_SEV_MEDIUM);
    emit_at(e, "r.noisy", "noisy", 1000 + 3 * 3600, 99, NULL, KS_SEV_HIGH);
    /* two distinct secrets of one rule and source stay two; a repeat joins */
    emit_at(e, "r.secret", "secret A", 2000, 200, "aaaa", KS_SEV_HIGH);
    emit_at(e, "r.secret", "secret B", 2001, 201, "bbbb", KS_SEV_HIGH);
    emit_at(e, "r.secret", "secret A", 2002, 202, "aaaa", KS_SEV_HIGH);
    ks__findings_sort(e);
    memset(&s, 0, sizeof s);
    CHECK_INT(ks__findings_view(e, collect, &s), KS_OK);
    CHECK_INT(s.n, 4);
    CHECK_STR(s.titles[0], "noisy");
    CHECK_INT(s.events[0], 5);
    CHECK_STR(s.group[0], "5");
    CHECK_STR(s.titles[1], "secret A");
    CHECK_STR(s.group[1], "2");
    CHECK_STR(s.titles[2], "secret B");
    CHECK_STR(s.group[2], "");
    CHECK_STR(s.titles[3], "noisy");
    /* no grouping: every finding */
    CHECK_INT(ks_engine_set(e, "group.window", "0"), KS_OK);
    memset(&s, 0, sizeof s);
    CHECK_INT(ks__findings_view(e, collect, &s), KS_OK);
    CHECK_INT(s.n, 9);
    ks_engine_free(e);
}

static int count_pairs(void *ud, const ks_finding *f)
{
    uint64_t *c = ud;
    c[0]++;
    for (size_t i = 0; i < f->ndetails; i++)
        if (!strcmp(f->details[i].key, "group_findings") && !strcmp(f->details[i].value, "2"))
            c[1]++;
    return KS_OK;
}

/* Many groups open at once: the key map grows under them (a slot pointer
 * kept across its growth once zeroed the queue and crashed the terminal
 * summary of a corpus hunt), then undated findings close them all. */
TEST(thousands_of_open_groups)
{
    ks_engine *e = NULL;
    enum { N = 4000 }; /* 8,000 findings: under the engine's per-rule cap */
    uint64_t c[2] = {0, 0};
    CHECK_INT(ks_engine_new(&e), KS_OK);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) {
            char sha[32];
            snprintf(sha, sizeof sha, "%08x", (unsigned)i);
            emit_at(e, "r.many", "many", 1000 + round * 1800 + i, 1 + (uint64_t)(round * N + i), sha,
                    KS_SEV_MEDIUM);
        }
    ks_finding undated = {.rule_id = "r.file", .title = "file", .detector = "test", .severity = KS_SEV_LOW,
                          .first = KS_TIME_NONE, .last = KS_TIME_NONE};
    ks__emit(e, &undated);
    ks__findings_sort(e);
    CHECK_INT(ks__findings_view(e, count_pairs, c), KS_OK);
    CHECK_INT(c[0], N + 1); /* every secret once, with its repeat; the file */
    CHECK_INT(c[1], N);
    ks_engine_free(e);
}

TEST(one_event_several_rules_shown_once)
{
    ks_engine *e = NULL;
    seen s;
    CHECK_INT(ks_engine_new(&e), KS_OK);
    emit_at(e, "r.a", "rule A", 5000, 7, NULL, KS_SEV_MEDIUM);
    emit_at(e, "r.b", "rule B", 5000, 7, NULL, KS_SEV_HIGH);
    emit_at(e, "r.c", "rule C", 5000, 8, NULL, KS_SEV_LOW); /* another record */
    ks__findings_sort(e);
    memset(&s, 0, sizeof s);
    CHECK_INT(ks__findings_view(e, collect, &s), KS_OK);
    CHECK_INT(s.n, 2);
    CHECK_STR(s.titles[0], "rule B");
    CHECK(strstr(s.also[0], "r.a (rule A)") != NULL);
    CHECK_STR(s.titles[1], "rule C");
    ks_engine_free(e);
}

/* ---- triage filters at emission --------------------------------------------------- */

static void emit_file(ks_engine *e, const char *rule, int64_t mtime_sec, ks_severity sev, const char *status)
{
    ks_evidence ev = {.path = "/srv/www/shell.aspx", .format = "file", .offset = 0,
                      .time = mtime_sec * 1000000000};
    ks_kv det[1] = {{"status", status}};
    ks_finding f = {.rule_id = rule, .title = rule, .detector = "test", .severity = sev,
                    .first = mtime_sec * 1000000000, .last = mtime_sec * 1000000000, .evidence = &ev,
                    .nevidence = 1, .event_count = 1, .details = status ? det : NULL, .ndetails = status ? 1 : 0};
    ks__emit(e, &f);
}

TEST(filters_apply_to_every_finding)
{
    ks_engine *e = NULL;
    CHECK_INT(ks_engine_new(&e), KS_OK);
    CHECK_INT(ks_engine_set(e, "since", "2024-01-01"), KS_OK);
    CHECK_INT(ks_engine_set(e, "until", "2024-12-31"), KS_OK);
    CHECK_INT(ks_engine_set(e, "findings.min_level", "medium"), KS_OK);
    CHECK_INT(ks_engine_set(e, "findings.exclude_status", "experimental"), KS_OK);
    ks__findings_config(e);
    emit_file(e, "old file", 1600000000, KS_SEV_HIGH, NULL);      /* 2020: before since */
    emit_file(e, "in range", 1710000000, KS_SEV_HIGH, NULL);      /* 2024-03 */
    emit_file(e, "low", 1710000000, KS_SEV_LOW, NULL);            /* under min level */
    emit_file(e, "experimental", 1710000000, KS_SEV_HIGH, "experimental");
    emit_file(e, "stable", 1710000000, KS_SEV_CRITICAL, "stable");
    emit_file(e, "future", 1800000000, KS_SEV_HIGH, NULL);        /* 2027: after until */
    const ks_stats *st = ks_engine_stats(e);
    CHECK_INT(st->findings, 2);
    CHECK_INT(st->findings_filtered, 4);
    CHECK_INT(ks_engine_nfindings(e), 2);
    ks_engine_free(e);
    /* an include list keeps only those statuses (findings without one stay) */
    CHECK_INT(ks_engine_new(&e), KS_OK);
    CHECK_INT(ks_engine_set(e, "findings.status", "stable"), KS_OK);
    ks__findings_config(e);
    emit_file(e, "test status", 1710000000, KS_SEV_HIGH, "test");
    emit_file(e, "stable", 1710000000, KS_SEV_HIGH, "stable");
    emit_file(e, "no status", 1710000000, KS_SEV_HIGH, NULL);
    CHECK_INT(ks_engine_stats(e)->findings, 2);
    ks_engine_free(e);
}

TEST(min_level_on_the_command_line)
{
    char args[1024], *out = NULL;
    const char *run = generated_run("small.jsonl", 500, 10);
    snprintf(args, sizeof args, "report --min-level critical %s", run);
    CHECK_INT(kensa(args, &out), 1);
    /* only the critical rules' findings are left; the rest are counted */
    CHECK(out && strstr(out, "high 0, medium 0, low 0, info 0)"));
    const char *fl = out ? strstr(out, "findings filtered") : NULL;
    while (fl && fl > out && fl[-1] != ';')
        fl--;
    unsigned long kept = out ? strtoul(out, NULL, 10) : 0, filtered = fl ? strtoul(fl + 1, NULL, 10) : 0;
    CHECK(kept > 0 && filtered > 0);
    CHECK_INT(kept + filtered, 500);
    free(out);
}

/* ---- formats: CSV timeline columns, Hayabusa profile, OCSF tactic/device ------- */

static const char *const secret_line =
    "{\"schema\":\"kensa.finding/1\",\"rule_id\":\"kensa.secret.stripe-key\",\"title\":\"Stripe secret key\","
    "\"detector\":\"secrets\",\"severity\":\"critical\",\"techniques\":[\"T1552.001\"],"
    "\"first\":\"2024-01-01T00:00:00Z\",\"last\":\"2024-01-01T00:00:00Z\",\"event_count\":1,"
    "\"evidence\":[{\"path\":\"/mail/m1.eml\",\"format\":\"file\",\"offset\":773}],\"matched\":{\"secret\":"
    "\"sk_l...p7dc\"},\"details\":{\"secret_sha256\":\"abababab\"},\"values\":[{\"type\":\"stripe.key\","
    "\"value_sha256\":\"abababab\",\"redacted\":\"sk_l...p7dc\",\"count\":2}]}\n";

TEST(csv_ocsf_carry_context_tactics_device_and_redacted_values)
{
    char args[2048], path[3][512], *s = NULL, *out = NULL;
    size_t len = 0;
    const char *run = generated_run("fmt.jsonl", 30, 5);
    FILE *fp = fopen(run, "a");
    if (fp) {
        fputs(secret_line, fp);
        fclose(fp);
    }
    static const char *const names[] = {"t.csv", "t.ocsf", "h.csv"};
    for (int i = 0; i < 3; i++)
        snprintf(path[i], sizeof path[i], "%s/%s", ks_test_tmpdir(), names[i]);
    snprintf(args, sizeof args, "report -q %s --csv %s --ocsf %s", run, path[0], path[1]);
    CHECK_INT(kensa(args, &out), 1);
    free(out);
    s = ks_test_read(path[0], &len);
    const char *hd = "first,last,severity,rule_id,title,techniques,tactics,event_count,host,channel,"
                     "event_id,record_id,user,source,path,record,line,offset,values,matched,details\n";
    CHECK(s && !strncmp(s, hd, strlen(hd)));
    CHECK(s && strstr(s, ",HOST0") && strstr(s, "execution") && strstr(s, "credential-access"));
    CHECK(s && strstr(s, "stripe.key sk_l...p7dc x2"));
    free(s);
    s = ks_test_read(path[1], &len);
    CHECK(s && strstr(s, "\"tactic\":{\"name\":\"Credential Access\",\"uid\":\"TA0006\"}"));
    CHECK(s && strstr(s, "\"sub_technique\":{\"uid\":\"T1552.001\"}"));
    CHECK(s && strstr(s, "\"device\":{\"type_id\":0,\"type\":\"Unknown\",\"hostname\":\"HOST0"));
    free(s);
    snprintf(args, sizeof args, "report -q %s --csv-format hayabusa --csv %s", run, path[2]);
    CHECK_INT(kensa(args, &out), 1);
    free(out);
    s = ks_test_read(path[2], &len);
    const char *hb = "Timestamp,RuleTitle,Level,Computer,Channel,EventID,RecordID,Details,ExtraFieldInfo\n";
    CHECK(s && !strncmp(s, hb, strlen(hb)));
    CHECK(s && strstr(s, "2024-01-01 00:00:00.000 +00:00,Stripe secret key,crit,,,,,secret: sk_l...p7dc,"
                         "secret_sha256: abababab \xc2\xa6 stripe.key sk_l...p7dc x2\n"));
    CHECK(s && strstr(s, "CommandLine: cmd.exe /c whoami"));
    free(s);
}
