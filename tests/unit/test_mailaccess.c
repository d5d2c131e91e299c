/* SPDX-License-Identifier: Apache-2.0
 *
 * Mailbox access through the kensa command, as the checks of issue 23 use
 * it (`kensa hunt --json - DIR` over audit JSON lines and a mail store):
 *  - an application granted full_access_as_app and given new credentials
 *    (Graph directoryAudits shape) that then reads mail (M365
 *    MailItemsAccessed, AuditData flattened) is a medium+ finding naming
 *    full_access_as_app, MailItemsAccessed and its AppId;
 *  - each secret in a message it read is a finding carrying the secret's
 *    secret_sha256 and the AppId; a secret in a message nobody suspicious
 *    read is only the secrets detector's ordinary finding;
 *  - the same with the Log Analytics / Sentinel shapes (JSON in strings);
 *  - the Mordor Golden SAML audit events (../shared/corpus) as a positive.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include "harness.h"

#define APP "8e2f1c3a-1b2c-4d5e-9f10-aa11bb22cc33"
#define SP_OBJ "4b1e0c6f-0000-4000-8000-00000000abcd"
#define AWS_SECRET "1tUm636uS1yOEcfP5pvfqJ/ml36mF7AkyHsEU0IU"
#define VPN_PASSWORD "Qx7-pL2m9zRt"

static void sha_hex(const char *s, char out[65])
{
    uint8_t d[32];
    SHA256((const unsigned char *)s, strlen(s), d);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static const char *audit_graph =
    "{\"id\":\"Directory_1\",\"category\":\"ApplicationManagement\",\"result\":\"success\","
    "\"activityDisplayName\":\"Add service principal credentials\",\"activityDateTime\":\"2024-01-12T09:00:00Z\","
    "\"initiatedBy\":{\"user\":{\"userPrincipalName\":\"admin@corp-example.com\",\"ipAddress\":\"203.0.113.9\"}},"
    "\"targetResources\":[{\"id\":\"" SP_OBJ "\",\"displayName\":\"legacy-test-app\",\"type\":\"ServicePrincipal\","
    "\"modifiedProperties\":[{\"displayName\":\"KeyDescription\",\"oldValue\":\"[]\",\"newValue\":\"[\\\"[KeyIdentifier=1,KeyType=Password]\\\"]\"}]}]}\n"
    "{\"id\":\"Directory_2\",\"category\":\"ApplicationManagement\",\"result\":\"success\","
    "\"activityDisplayName\":\"Add app role assignment to service principal\",\"activityDateTime\":\"2024-01-12T09:05:00Z\","
    "\"initiatedBy\":{\"user\":{\"userPrincipalName\":\"admin@corp-example.com\",\"ipAddress\":\"203.0.113.9\"}},"
    "\"targetResources\":[{\"id\":\"1111\",\"displayName\":\"Office 365 Exchange Online\",\"type\":\"ServicePrincipal\","
    "\"modifiedProperties\":[{\"displayName\":\"AppRole.Value\",\"newValue\":\"\\\"full_access_as_app\\\"\"},"
    "{\"displayName\":\"ServicePrincipal.ObjectID\",\"newValue\":\"\\\"" SP_OBJ "\\\"\"},"
    "{\"displayName\":\"ServicePrincipal.DisplayName\",\"newValue\":\"\\\"legacy-test-app\\\"\"},"
    "{\"displayName\":\"ServicePrincipal.AppId\",\"newValue\":\"\\\"" APP "\\\"\"}]}]}\n";

static const char *access_native =
    "{\"CreationTime\":\"2024-01-12T10:00:00\",\"Id\":\"r1\",\"Operation\":\"MailItemsAccessed\",\"Workload\":\"Exchange\","
    "\"UserId\":\"ceo@corp-example.com\",\"MailboxOwnerUPN\":\"ceo@corp-example.com\",\"AppId\":\"" APP "\","
    "\"ClientIPAddress\":\"198.51.100.7\",\"ResultStatus\":\"Succeeded\","
    "\"OperationProperties\":[{\"Name\":\"MailAccessType\",\"Value\":\"Bind\"},{\"Name\":\"IsThrottled\",\"Value\":\"False\"}],"
    "\"Folders\":[{\"Path\":\"\\\\Inbox\",\"FolderItems\":[{\"InternetMessageId\":\"<read-1@corp-example.com>\"},"
    "{\"InternetMessageId\":\"<read-2@corp-example.com>\"}]}]}\n";

/* The same read in Sentinel's OfficeActivity shape (JSON in strings). */
static const char *access_sentinel =
    "{\"TimeGenerated\":\"2024-01-12T10:00:00Z\",\"Operation\":\"MailItemsAccessed\",\"OfficeWorkload\":\"Exchange\","
    "\"UserId\":\"ceo@corp-example.com\",\"MailboxOwnerUPN\":\"ceo@corp-example.com\",\"AppId\":\"00000003-0000-0000-c000-000000000000\","
    "\"ClientAppId\":\"" APP "\",\"Client_IPAddress\":\"198.51.100.7\",\"ResultStatus\":\"Succeeded\","
    "\"OperationProperties\":\"[{\\\"Name\\\":\\\"MailAccessType\\\",\\\"Value\\\":\\\"Bind\\\"}]\","
    "\"Folders\":\"[{\\\"FolderItems\\\":[{\\\"InternetMessageId\\\":\\\"<read-1@corp-example.com>\\\"},"
    "{\\\"InternetMessageId\\\":\\\"<read-2@corp-example.com>\\\"}],\\\"Path\\\":\\\"\\\\\\\\Inbox\\\"}]\","
    "\"Type\":\"OfficeActivity\"}\n";

static const char *mbox =
    "From a@corp-example.com Fri Jan 12 08:00:00 2024\n"
    "From: Bob Chen <bob.chen@corp-example.com>\nTo: ceo@corp-example.com\nSubject: prod access\n"
    "Date: Fri, 12 Jan 2024 08:00:00 +0000\nMessage-ID: <read-1@corp-example.com>\n\n"
    "aws_access_key_id = AKIAQYLPMN5HHHFPZAM2\naws_secret_access_key = " AWS_SECRET "\n\n"
    "From a@corp-example.com Fri Jan 12 08:10:00 2024\n"
    "From: Bob Chen <bob.chen@corp-example.com>\nTo: ceo@corp-example.com\nSubject: vpn\n"
    "Date: Fri, 12 Jan 2024 08:10:00 +0000\nMessage-ID: <unread-1@corp-example.com>\n\n"
    "vpn password: " VPN_PASSWORD "\n\n"
    "From a@corp-example.com Fri Jan 12 08:20:00 2024\n"
    "From: Bob Chen <bob.chen@corp-example.com>\nTo: ceo@corp-example.com\nSubject: lunch\n"
    "Date: Fri, 12 Jan 2024 08:20:00 +0000\nMessage-ID: <read-2@corp-example.com>\n\nSee you at noon.\n";

static char *hunt_dir(const char *dir, const char *flags)
{
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/kensa hunt --no-color %s --json - %s 2>/dev/null", ks_test_build(), flags, dir);
    ks_test_run(cmd, &out);
    return out ? out : ks_test_strdup("");
}

/* Lines of out holding every needle. */
static int lines_with(const char *out, const char *a, const char *b, const char *c)
{
    int n = 0;
    for (const char *p = out; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char *line = strndup(p, len);
        if (line && strstr(line, a) && (!b || strstr(line, b)) && (!c || strstr(line, c)))
            n++;
        free(line);
        p = e ? e + 1 : NULL;
    }
    return n;
}

static const char *scenario(const char *name, const char *access)
{
    char path[2048];
    snprintf(path, sizeof path, "mkdir -p %s/%s/mail", ks_test_tmpdir(), name);
    if (system(path) != 0)
        return "/nonexistent";
    snprintf(path, sizeof path, "%s/audit.jsonl", name);
    ks_test_write(path, audit_graph, strlen(audit_graph));
    snprintf(path, sizeof path, "%s/ual.jsonl", name);
    ks_test_write(path, access, strlen(access));
    snprintf(path, sizeof path, "%s/mail/inbox.mbox", name);
    ks_test_write(path, mbox, strlen(mbox));
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", ks_test_tmpdir(), name);
    return dir;
}

static void check_scenario(const char *dir, const char *threads)
{
    char aws[65], vpn[65];
    sha_hex(AWS_SECRET, aws);
    sha_hex(VPN_PASSWORD, vpn);
    char *out = hunt_dir(dir, threads);
    /* the grant and the access, medium+ and named */
    int grant = lines_with(out, "\"rule_id\":\"kensa.mail.app_mail_role\"", "full_access_as_app", APP);
    int access = lines_with(out, "\"rule_id\":\"kensa.mail.app_mail_access\"", "MailItemsAccessed", APP);
    CHECK_INT(grant, 1);
    CHECK_INT(access, 1);
    CHECK_INT(lines_with(out, "kensa.mail.app_mail_access", "\"severity\":\"low\"", NULL) +
                  lines_with(out, "kensa.mail.app_mail_access", "\"severity\":\"info\"", NULL), 0);
    CHECK_INT(lines_with(out, "kensa.mail.app_mail_role", "\"severity\":\"high\"", NULL) +
                  lines_with(out, "kensa.mail.app_mail_role", "\"severity\":\"critical\"", NULL), 1);
    /* the join: the AWS secret in read-1, read by the app; nothing for the
     * unread message's password beyond the ordinary secret finding */
    CHECK_INT(lines_with(out, "kensa.mail.secret_read", aws, APP), 1);
    CHECK_INT(lines_with(out, "kensa.mail.secret_read", "read-1@corp-example.com", "prod access"), 2);
    CHECK_INT(lines_with(out, "kensa.mail.secret_read", vpn, NULL), 0);
    CHECK_INT(lines_with(out, "kensa.mail.secret_read", "unread-1", NULL), 0);
    CHECK_INT(lines_with(out, "\"detector\":\"secrets\"", vpn, NULL), 1);
    CHECK(lines_with(out, "kensa.mail.secret_read", "\"folder\":\"\\\\Inbox\"", "bob.chen@corp-example.com") >= 1);
    /* nothing in clear */
    CHECK(!strstr(out, AWS_SECRET));
    CHECK(!strstr(out, VPN_PASSWORD));
    free(out);
}

TEST(graph_shape_and_native_ual)
{
    check_scenario(scenario("native", access_native), "--threads 1");
}

TEST(log_analytics_and_sentinel_shapes_threads)
{
    check_scenario(scenario("sentinel", access_sentinel), "--threads 4");
}

TEST(join_order_independent)
{
    /* the mailbox sorted before the audit log, and after */
    const char *dir = scenario("order", access_native);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mv %s/mail %s/0mail && mkdir -p %s/zz && mv %s/*.jsonl %s/zz/", dir, dir, dir, dir, dir);
    CHECK_INT(system(cmd), 0);
    check_scenario(dir, "--threads 3");
}

TEST(mordor_golden_saml)
{
    const char *corpus = ks_test_corpus();
    if (!corpus) {
        ks_test_skip("corpus", "../shared/corpus not found");
        return;
    }
    char dir[1024], cmd[4096];
    snprintf(dir, sizeof dir, "%s/mordor", ks_test_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s/otrf-security-datasets/extracted/AADAuditEvents/AADAuditEvents.json "
             "%s/otrf-security-datasets/extracted/OfficeActivityEvents/OfficeActivityEvents.json %s/",
             dir, corpus, corpus, dir);
    if (system(cmd) != 0) {
        ks_test_skip("corpus", "Golden SAML extracts missing");
        return;
    }
    char *out = hunt_dir(dir, "");
    /* Mail.ReadWrite for all users, the app's credentials, and the mail
     * access of the app (tied by time: the audit names the object only) */
    CHECK_INT(lines_with(out, "kensa.mail.app_mail_role", "Mail.ReadWrite", NULL), 1);
    CHECK(lines_with(out, "kensa.mail.app_credentials", "SimuLandApp", NULL) >= 1);
    CHECK_INT(lines_with(out, "kensa.mail.app_mail_access", "5a95e683-08ad-424e-a441-1d1aec52c02c", "MailItemsAccessed"), 1);
    free(out);
}

/* ---- the generated tenant: precision and recall per analytic, the exact join ---- */

/* The value of "key":"..." after `from` in line (up to the closing quote),
 * into out; false when absent. */
static bool json_str(const char *line, const char *from, const char *key, char *out, size_t cap)
{
    const char *p = from ? strstr(line, from) : line;
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    if (!p || !(p = strstr(p, pat)))
        return false;
    p += strlen(pat);
    size_t n = 0;
    while (p[n] && p[n] != '"' && n + 1 < cap)
        n++;
    memcpy(out, p, n);
    out[n] = 0;
    return true;
}

typedef struct set {
    char **v;
    size_t n, cap;
} set;

static bool set_has(const set *s, const char *v)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], v))
            return true;
    return false;
}

static void set_add(set *s, const char *v)
{
    if (set_has(s, v))
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = strdup(v);
}

static void set_free(set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Each line of a file to fn. */
static void each_line(const char *path, void (*fn)(void *, const char *), void *ud)
{
    size_t n = 0;
    char *all = ks_test_read(path, &n);
    for (char *p = all; p && *p;) {
        char *e = strchr(p, '\n');
        if (e)
            *e = 0;
        fn(ud, p);
        p = e ? e + 1 : NULL;
    }
    free(all);
}

typedef struct gen_truth {
    set malicious[16], benign[16];   /* per analytic */
    set read;                        /* Message-IDs the attacker read */
} gen_truth;

static const char *const analytics[] = {"app_mail_role", "app_mail_access", "new_reader", "sync", "volume",
                                        "forwarding", "export_request", "export_download", "archiver",
                                        "session_read"};
#define NANALYTICS (sizeof analytics / sizeof analytics[0])

static int analytic_ix(const char *a)
{
    for (size_t i = 0; i < NANALYTICS; i++)
        if (!strcmp(analytics[i], a))
            return (int)i;
    return -1;
}

static void truth_line(void *ud, const char *line)
{
    gen_truth *t = ud;
    char a[64], key[256];
    if (json_str(line, NULL, "read", key, sizeof key)) {
        set_add(&t->read, key);
        return;
    }
    if (!json_str(line, NULL, "analytic", a, sizeof a) || !json_str(line, NULL, "key", key, sizeof key))
        return;
    int i = analytic_ix(a);
    if (i >= 0)
        set_add(strstr(line, "\"malicious\":true") ? &t->malicious[i] : &t->benign[i], key);
}

typedef struct got {
    set reported[16];   /* per analytic: the keys findings name */
    set pairs;          /* the join: "sha256 message-id" */
    set secrets;        /* every secret_sha256 the secrets detector reported */
    int medium_plus[16];
} got;

static void finding_line(void *ud, const char *line)
{
    got *g = ud;
    char rule[128], v[512];
    if (!json_str(line, NULL, "rule_id", rule, sizeof rule))
        return;
    if (strstr(line, "\"detector\":\"secrets\"") && json_str(line, "\"details\"", "secret_sha256", v, sizeof v))
        set_add(&g->secrets, v);
    if (strncmp(rule, "kensa.mail.", 11) != 0)
        return;
    if (!strcmp(rule, "kensa.mail.secret_read")) {
        char sha[80], id[400], pair[512];
        if (json_str(line, "\"matched\"", "secret_sha256", sha, sizeof sha) &&
            json_str(line, "\"matched\"", "message_id", id, sizeof id)) {
            snprintf(pair, sizeof pair, "%s %s", sha, id);
            set_add(&g->pairs, pair);
        }
        return;
    }
    int i = analytic_ix(rule + 11);
    if (i < 0)
        return;
    bool med = !strstr(line, "\"severity\":\"low\"") && !strstr(line, "\"severity\":\"info\"");
    /* the key a finding names: the command or file (on-premises), else
     * the app, else the mailbox or account */
    if (json_str(line, "\"matched\"", "command", v, sizeof v) ||
        (strcmp(rule, "kensa.mail.forwarding") != 0 && json_str(line, "\"matched\"", "app_id", v, sizeof v)) ||
        json_str(line, "\"matched\"", "mailbox", v, sizeof v) ||
        json_str(line, "\"matched\"", "user", v, sizeof v) ||
        json_str(line, "\"matched\"", "account", v, sizeof v))
        set_add(&g->reported[i], v);
    else
        set_add(&g->reported[i], rule);
    g->medium_plus[i] += med;
}

/* Does reported key r stand for truth key k (equal, or k inside r)? */
static bool names(const char *r, const char *k)
{
    return !strcmp(r, k) || strstr(r, k) != NULL;
}

typedef struct mail_truth {
    set expected;       /* "sha256 outer-message-id" the join must report */
    set all_pairs;      /* every secret pair planted (read or not) */
    const set *read;
} mail_truth;

static void mail_truth_line(void *ud, const char *line)
{
    mail_truth *m = ud;
    char type[64], sha[80], id[400], pair[512];
    if (!json_str(line, NULL, "type", type, sizeof type) || !strncmp(type, "pii.", 4) ||
        !json_str(line, NULL, "sha256", sha, sizeof sha) || !json_str(line, NULL, "message_id", id, sizeof id))
        return;
    /* a forwarded message inner-N is read with its outer gen-N.* */
    const char *outer = id;
    char prefix[64];
    if (!strncmp(id, "inner-", 6)) {
        snprintf(prefix, sizeof prefix, "gen-%.6s.", id + 6);
        outer = NULL;
        for (size_t i = 0; i < m->read->n && !outer; i++)
            if (!strncmp(m->read->v[i], prefix, strlen(prefix)))
                outer = m->read->v[i];
        if (!outer)
            return;
    }
    snprintf(pair, sizeof pair, "%s %s", sha, outer);
    set_add(&m->all_pairs, pair);
    if (set_has(m->read, outer))
        set_add(&m->expected, pair);
}

TEST(generated_tenant_precision_recall_and_exact_join)
{
    char cmd[16384], dir[1024];
    snprintf(dir, sizeof dir, "%s/gen", ks_test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "%s/kensa-gen mailbox --out %s/hunt/mail --messages 240 --eml 8 --truth %s/mail-truth.jsonl >/dev/null && "
             "%s/kensa-gen m365 --out %s/hunt/audit --mailbox %s/hunt/mail --truth %s/audit-truth.jsonl >/dev/null && "
             "%s/kensa hunt --no-color --threads 3 --json %s/out.jsonl %s/hunt >/dev/null 2>&1; test -s %s/out.jsonl",
             ks_test_build(), dir, dir, ks_test_build(), dir, dir, dir, ks_test_build(), dir, dir, dir);
    CHECK_INT(system(cmd), 0);
    gen_truth t = {0};
    got g = {0};
    char path[2200];
    snprintf(path, sizeof path, "%s/audit-truth.jsonl", dir);
    each_line(path, truth_line, &t);
    snprintf(path, sizeof path, "%s/out.jsonl", dir);
    each_line(path, finding_line, &g);
    /* per analytic: recall over the malicious keys, precision over what it reported */
    for (size_t i = 0; i < NANALYTICS; i++) {
        size_t tp = 0, fp = 0, found = 0;
        for (size_t k = 0; k < t.malicious[i].n; k++) {
            bool hit = false;
            for (size_t r = 0; r < g.reported[i].n && !hit; r++)
                hit = names(g.reported[i].v[r], t.malicious[i].v[k]);
            found += hit;
        }
        for (size_t r = 0; r < g.reported[i].n; r++) {
            bool hit = false;
            for (size_t k = 0; k < t.malicious[i].n && !hit; k++)
                hit = names(g.reported[i].v[r], t.malicious[i].v[k]);
            hit ? tp++ : fp++;
        }
        double recall = t.malicious[i].n ? (double)found / (double)t.malicious[i].n : 1.0;
        double precision = tp + fp ? (double)tp / (double)(tp + fp) : 1.0;
        printf("RECALL mailaccess %-16s recall %.3f (%zu/%zu)  precision %.3f (%zu reported, %zu false)\n",
               analytics[i], recall, found, t.malicious[i].n, precision, tp + fp, fp);
        CHECK(t.malicious[i].n > 0);
        CHECK(recall >= 0.999);
        CHECK(precision >= 0.999);
    }
    CHECK(g.medium_plus[analytic_ix("app_mail_role")] >= 1);
    CHECK(g.medium_plus[analytic_ix("app_mail_access")] >= 1);
    /* the join, exactly: every planted secret in a message the app read
     * (that the secrets detector can see at all), and nothing else */
    mail_truth m = {.read = &t.read};
    snprintf(path, sizeof path, "%s/mail-truth.jsonl", dir);
    each_line(path, mail_truth_line, &m);
    size_t expected = 0, missing = 0, extra = 0, undetectable = 0;
    for (size_t i = 0; i < m.expected.n; i++) {
        char sha[80];
        snprintf(sha, sizeof sha, "%.64s", m.expected.v[i]);
        if (!set_has(&g.secrets, sha)) {
            undetectable++;
            continue;
        }
        expected++;
        missing += !set_has(&g.pairs, m.expected.v[i]);
    }
    for (size_t i = 0; i < g.pairs.n; i++)
        extra += !set_has(&m.expected, g.pairs.v[i]);
    printf("RECALL mailaccess join: %zu pairs expected (%zu more the scanner does not see), %zu reported, "
           "%zu missing, %zu extra; %zu messages read of the store\n",
           expected, undetectable, g.pairs.n, missing, extra, t.read.n);
    CHECK(expected >= 20);
    CHECK(undetectable <= m.expected.n / 10);
    CHECK_INT(missing, 0);
    CHECK_INT(extra, 0);
    /* secrets in unread messages are never reported as read */
    CHECK(m.all_pairs.n > m.expected.n);
    for (size_t i = 0; i < NANALYTICS; i++) {
        set_free(&t.malicious[i]);
        set_free(&t.benign[i]);
        set_free(&g.reported[i]);
    }
    set_free(&t.read);
    set_free(&g.pairs);
    set_free(&g.secrets);
    set_free(&m.expected);
    set_free(&m.all_pairs);
}

TEST(generated_benign_tenant_is_quiet)
{
    char cmd[8192], dir[1024], *out = NULL;
    snprintf(dir, sizeof dir, "%s/benign", ks_test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "%s/kensa-gen mailbox --out %s/hunt/mail --messages 64 --eml 0 --truth %s/mt.jsonl >/dev/null && "
             "%s/kensa-gen m365 --benign --out %s/hunt/audit --mailbox %s/hunt/mail --truth %s/at.jsonl >/dev/null && "
             "%s/kensa hunt --no-color --threads 2 --json - %s/hunt 2>/dev/null",
             ks_test_build(), dir, dir, ks_test_build(), dir, dir, dir, ks_test_build(), dir);
    ks_test_run(cmd, &out);
    out = out ? out : ks_test_strdup("");
    int mail = lines_with(out, "\"detector\":\"mailaccess\"", NULL, NULL);
    int loud = mail - lines_with(out, "\"detector\":\"mailaccess\"", "\"severity\":\"low\"", NULL) -
               lines_with(out, "\"detector\":\"mailaccess\"", "\"severity\":\"info\"", NULL);
    printf("FP mailaccess benign tenant (40 users, 10 days, backup app, admin app changes): %d findings, "
           "%d at medium or above\n", mail, loud);
    CHECK_INT(loud, 0);
    CHECK_INT(lines_with(out, "kensa.mail.secret_read", NULL, NULL), 0);
    CHECK_INT(lines_with(out, "kensa.mail.pii_read", NULL, NULL), 0);
    CHECK(lines_with(out, "\"detector\":\"secrets\"", NULL, NULL) >= 10);
    free(out);
}
