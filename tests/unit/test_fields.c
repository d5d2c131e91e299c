/* SPDX-License-Identifier: Apache-2.0
 * The field schema (src/lib/engine/fields.def): the table is well formed,
 * every source's names resolve to the canonical fields (EVTX, Winlogbeat
 * JSON, Entra, M365, W3C), through ks_engine_read_file as a program would
 * see them, and findings carry the context (host, channel, event id,
 * record id, user, source address). */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "kensa_int.h"

TEST(table_is_well_formed)
{
    int n = 0;
    for (int f = 0; f < KS_F_COUNT; f++, n++) {
        const char *name = ks__field_name(f);
        CHECK(name && name[0]);
        CHECK_INT(ks__field_find(name), f);
    }
    CHECK(n >= 40);
    CHECK(ks__field_name(KS_F_COUNT) == NULL);
    CHECK_INT(ks__field_find("no.such.field"), -1);
    /* each name classifies (a canonical name to its own field first) */
    ks_symtab *t = ks__symtab_new_schema();
    for (int f = 0; f < KS_F_COUNT; f++) {
        const char *name = ks__field_name(f);
        ks_sym s = ks_symtab_intern(t, name, strlen(name));
        CHECK_INT(ks__field_of_sym(t, s), f);
    }
    /* "@Leaf" rows match behind every Windows prefix */
    static const char *const user[] = {"TargetUserName", "Event.EventData.TargetUserName",
                                       "winlog.event_data.TargetUserName", "EventData.TargetUserName",
                                       "event_data.TargetUserName", "Event.UserData.LogonFailure.TargetUserName"};
    for (size_t i = 0; i < sizeof user / sizeof user[0]; i++) {
        ks_sym s = ks_symtab_intern(t, user[i], strlen(user[i]));
        CHECK(ks__field_sym_is(t, s, KS_F_TARGET_USER));
    }
    /* a name may serve two fields: c-ip is the web client and the source */
    ks_sym cip = ks_symtab_intern(t, "c-ip", 4);
    CHECK(ks__field_sym_is(t, cip, KS_F_SOURCE_IP) && ks__field_sym_is(t, cip, KS_F_CLIENT_IP));
    ks__symtab_free(t);
}

typedef struct seen {
    int n;
    char host[64], channel[64], id[32], rec[64], user[64], target[64], source[64];
} seen;

static void copy(char *dst, size_t cap, const ks_event *ev, const char *canon)
{
    const ks_value *v = ks_event_get_path(ev, canon);
    if (v)
        ks_value_format(v, dst, cap);
}

static int first_event(void *ud, const ks_event *ev)
{
    seen *s = ud;
    if (s->n++)
        return 1;
    copy(s->host, sizeof s->host, ev, "host.name");
    copy(s->channel, sizeof s->channel, ev, "log.channel");
    copy(s->id, sizeof s->id, ev, "event.code");
    copy(s->rec, sizeof s->rec, ev, "event.record_id");
    copy(s->user, sizeof s->user, ev, "user.name");
    copy(s->target, sizeof s->target, ev, "user.target.name");
    copy(s->source, sizeof s->source, ev, "source.ip");
    return 0;
}

static seen read_first(const char *path, const char *format)
{
    seen s;
    ks_engine *e = NULL;
    memset(&s, 0, sizeof s);
    CHECK_INT(ks_engine_new(&e), KS_OK);
    CHECK_INT(ks_engine_read_file(e, path, format, first_event, &s), KS_OK);
    ks_engine_free(e);
    return s;
}

TEST(sources_resolve_to_canonical_fields)
{
    char cmd[1024];
    /* EVTX, made by kensa-gen */
    snprintf(cmd, sizeof cmd, "%s/kensa-gen evtx --records 20 --out %s/f.evtx >/dev/null", ks_test_build(),
             ks_test_tmpdir());
    CHECK_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/f.evtx", ks_test_tmpdir());
    seen s = read_first(cmd, "evtx");
    CHECK_STR(s.host, "DC01.contoso.local");
    CHECK_STR(s.channel, "Security");
    CHECK_STR(s.id, "4648");
    CHECK_STR(s.rec, "1");
    CHECK_STR(s.user, "svc-sql");
    CHECK_STR(s.target, "grace");
    CHECK_STR(s.source, "10.2.248.101");
    /* A file named through a symbolic link is read (the caller named it);
     * a dangling link is an error that says so. */
    snprintf(cmd, sizeof cmd, "ln -sf f.evtx %s/link.evtx && ln -sf missing.evtx %s/dangling.evtx", ks_test_tmpdir(),
             ks_test_tmpdir());
    CHECK_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/link.evtx", ks_test_tmpdir());
    s = read_first(cmd, "evtx");
    CHECK_STR(s.id, "4648");
    ks_engine *e = NULL;
    CHECK_INT(ks_engine_new(&e), KS_OK);
    snprintf(cmd, sizeof cmd, "%s/dangling.evtx", ks_test_tmpdir());
    CHECK_INT(ks_engine_read_file(e, cmd, "evtx", first_event, &s), KS_ENOTFOUND);
    CHECK(strstr(ks_engine_errmsg(e), "symbolic link to a file that cannot be reached"));
    ks_engine_free(e);
    /* Winlogbeat (ECS) JSON */
    static const char wlb[] =
        "{\"@timestamp\":\"2024-02-01T10:00:00Z\",\"winlog\":{\"computer_name\":\"WS7.corp\",\"channel\":"
        "\"Security\",\"event_id\":4625,\"record_id\":991,\"event_data\":{\"TargetUserName\":\"ann\","
        "\"IpAddress\":\"203.0.113.5\",\"SubjectUserName\":\"-\"}}}\n";
    s = read_first(ks_test_write("wlb.json", wlb, sizeof wlb - 1), NULL);
    CHECK_STR(s.host, "WS7.corp");
    CHECK_STR(s.channel, "Security");
    CHECK_STR(s.id, "4625");
    CHECK_STR(s.rec, "991");
    CHECK_STR(s.target, "ann");
    CHECK_STR(s.source, "203.0.113.5");
    /* Entra sign-in (Azure Monitor diagnostics shape) */
    static const char entra[] =
        "{\"time\":\"2024-02-01T10:00:00Z\",\"category\":\"SignInLogs\",\"properties\":{\"id\":\"5f1c-77\","
        "\"userPrincipalName\":\"bob@contoso.com\",\"ipAddress\":\"198.51.100.9\",\"status\":{\"errorCode\":50126}}}\n";
    s = read_first(ks_test_write("entra.json", entra, sizeof entra - 1), NULL);
    CHECK_STR(s.channel, "SignInLogs");
    CHECK_STR(s.rec, "5f1c-77");
    CHECK_STR(s.user, "bob@contoso.com");
    CHECK_STR(s.source, "198.51.100.9");
    /* M365 unified audit log */
    static const char m365[] = "{\"CreationTime\":\"2024-02-01T10:00:00\",\"Id\":\"a1-b2\",\"Workload\":"
                               "\"AzureActiveDirectory\",\"Operation\":\"UserLoginFailed\",\"UserId\":\"eve@contoso.com\","
                               "\"ClientIP\":\"192.0.2.44\"}\n";
    s = read_first(ks_test_write("m365.json", m365, sizeof m365 - 1), NULL);
    CHECK_STR(s.channel, "AzureActiveDirectory");
    CHECK_STR(s.rec, "a1-b2");
    CHECK_STR(s.user, "eve@contoso.com");
    CHECK_STR(s.source, "192.0.2.44");
    /* IIS W3C */
    static const char w3c[] = "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
                              "#Fields: date time s-computername cs-method cs-uri-stem cs-uri-query c-ip cs-username sc-status\n"
                              "2024-02-01 10:00:00 EXCH01 GET /owa/auth/x.aspx - 192.0.2.7 CONTOSO\\bob 200\n";
    s = read_first(ks_test_write("u_ex240201.log", w3c, sizeof w3c - 1), NULL);
    CHECK_STR(s.host, "EXCH01");
    CHECK_STR(s.user, "CONTOSO\\bob");
    CHECK_STR(s.source, "192.0.2.7");
}

/* A Sigma finding's evidence carries the record's context. */
/* Export header names (the csv input) find their field whatever the
 * spelling, and each family's own name comes back out. */
TEST(export_headers_resolve)
{
    static const char *const src[] = {"exchange", "w3c", "export", NULL};
    static const struct {
        const char *header;
        int f;
    } rows[] = {
        {"Client IP", KS_F_SOURCE_IP},      {"c_ip", KS_F_SOURCE_IP},
        {"c-ip", KS_F_SOURCE_IP},           {"Client IP Address", KS_F_SOURCE_IP},
        {"cs_uri_stem", KS_F_URL_PATH},     {"Url Stem", KS_F_URL_PATH},
        {"URL Path", KS_F_URL_PATH},        {"cs_uri_query", KS_F_URL_QUERY},
        {"Query", KS_F_URL_QUERY},          {"Http Status", KS_F_HTTP_STATUS},
        {"cs_User_Agent", KS_F_USER_AGENT}, {"Anchor Mailbox", KS_F_ANCHOR_MAILBOX},
        {"owner", -1},                      {"", -1},
    };
    for (size_t i = 0; i < KS_ARRAY_LEN(rows); i++) {
        const char *s = NULL;
        int f = ks__field_of_header(rows[i].header, strlen(rows[i].header), src, &s);
        if (f != rows[i].f)
            printf("  header '%s' -> %d, want %d\n", rows[i].header, f, rows[i].f);
        CHECK_INT(f, rows[i].f);
    }
    CHECK(!strcmp(ks__field_alt(KS_F_URL_PATH, "exchange"), "UrlStem"));
    CHECK(!strcmp(ks__field_alt(KS_F_URL_PATH, "w3c"), "cs-uri-stem-decoded"));
    CHECK(ks__field_alt(KS_F_ANCHOR_MAILBOX, "w3c") == NULL);
}

TEST(findings_carry_context)
{
    static const char rule[] = "title: failed logon\nid: 00000000-0000-0000-0000-0000000000f1\n"
                               "logsource:\n  product: windows\n  service: security\n"
                               "detection:\n  sel:\n    EventID: 4625\n  condition: sel\nlevel: low\n";
    static const char wlb[] =
        "{\"@timestamp\":\"2024-02-01T10:00:00Z\",\"winlog\":{\"computer_name\":\"WS7.corp\",\"channel\":"
        "\"Security\",\"event_id\":4625,\"record_id\":991,\"event_data\":{\"TargetUserName\":\"ann\","
        "\"IpAddress\":\"203.0.113.5\"}}}\n";
    ks_engine *e = NULL;
    CHECK_INT(ks_engine_new(&e), KS_OK);
    CHECK_INT(ks_engine_set(e, "builtin", "false"), KS_OK);
    CHECK_INT(ks_engine_set(e, "threads", "1"), KS_OK);
    CHECK_INT(ks_engine_set(e, "rules", ks_test_write("r.yml", rule, sizeof rule - 1)), KS_OK);
    CHECK_INT(ks_engine_add_path(e, ks_test_write("ctx.json", wlb, sizeof wlb - 1)), KS_OK);
    CHECK_INT(ks_engine_run(e), KS_OK);
    const ks_finding *f = NULL;
    for (size_t i = 0; i < ks_engine_nfindings(e); i++)
        if (!strcmp(ks_engine_finding(e, i)->detector, "sigma"))
            f = ks_engine_finding(e, i);
    CHECK(f && f->nevidence == 1);
    if (f && f->nevidence) {
        const ks_evidence *ev = &f->evidence[0];
        CHECK_STR(ev->host, "WS7.corp");
        CHECK_STR(ev->channel, "Security");
        CHECK_STR(ev->event_id, "4625");
        CHECK_STR(ev->record_id, "991");
        CHECK_STR(ev->target_user, "ann");
        CHECK_STR(ev->source, "203.0.113.5");
    }
    ks_engine_free(e);
}

/* ks__event_have answers as ks_event_get would, per event, while it works
 * once per field layout: layouts that come back, a new alias registered
 * between two events of one layout, a canonical name whose alternate is
 * null in one event and not in the next. */
TEST(event_have_same_as_get)
{
    ks_symtab *t = ks__symtab_new_schema();
    struct ks_evindex *x = ks__evindex_new();
    ks_event ev;
    memset(&ev, 0, sizeof ev);
    ev.syms = t;
    ev.index = x;
    const char *names[] = {"A", "B", "Short", "host.name", "Nope"};
    ks_sym q[5];
    for (int i = 0; i < 5; i++)
        q[i] = ks_symtab_intern(t, names[i], strlen(names[i]));
    ks_evhave h = {.names = q, .n = 5};
    /* layouts: fields present (value "x" or null "~") */
    const char *const layouts[][4] = {{"A", "C", NULL},
                                      {"B", "Event.EventData.Short", NULL},
                                      {"A", "C", NULL},
                                      {"Computer", "A", NULL},
                                      {"Computer~", "A", NULL},
                                      {"B", "Event.EventData.Short", NULL},
                                      {"B", "Event.EventData.Short", NULL}};
    int checked = 0;
    for (int round = 0; round < 2; round++)
        for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
            if (round == 1 && l == 6) { /* an alias appears between two events of one layout */
                ks_sym a = ks_symtab_intern(t, "Short", 5);
                ks_sym target = ks_symtab_intern(t, "Event.EventData.Short", 21);
                ks__symtab_set_alias(t, a, target);
            }
            ks__event_reset(&ev);
            for (int f = 0; f < 4 && layouts[l][f]; f++) {
                const char *n = layouts[l][f];
                size_t len = strcspn(n, "~");
                ks_value v = {.type = n[len] == '~' ? KS_VNULL : KS_VSTR};
                v.u.s.p = "x";
                v.u.s.n = v.type == KS_VSTR;
                ks__event_add_named(&ev, n, len, &v);
            }
            ks__event_finish(&ev);
            uint64_t bits = ks__event_have(&ev, &h);
            for (int i = 0; i < 5; i++) {
                bool want = ks_event_get(&ev, q[i]) != NULL;
                if (want != !!(bits >> i & 1))
                    fprintf(stderr, "round %d layout %zu name %s: get %d, have %d\n", round, l, names[i], want,
                            !want);
                CHECK(want == !!(bits >> i & 1));
                checked++;
            }
        }
    CHECK_INT(checked, 70);
    free(ev.fields);
    ks__evindex_free(x);
    ks__symtab_free(t);
}
