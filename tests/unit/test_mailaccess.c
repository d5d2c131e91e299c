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
