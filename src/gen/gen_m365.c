/* SPDX-License-Identifier: Apache-2.0
 *
 * The mailbox-access generator (`kensa-gen m365`): a busy tenant's Entra ID
 * audit log, service-principal sign-ins and M365 unified audit log, with
 * one Midnight Blizzard path in it, plus Exchange on-premises evidence of a
 * Hafnium-style export. Ground truth goes to a JSON lines file outside the
 * hunted tree.
 *
 * Benign: every user's Outlook desktop syncs its Inbox daily and OWA/Outlook
 * bind a few messages many times a day; a backup application with
 * full_access_as_app (granted before the logs start) reads every mailbox
 * daily from one address; administrators rotate the backup app's secret,
 * create an HR application with a directory role, add it an owner and
 * consent to basic scopes; an inbox rule files newsletters.
 *
 * Malicious (day 8): credentials added to a legacy test application that
 * another tenant owns and is made multi-tenant, full_access_as_app granted
 * to it, its service principal signing in from new addresses, then Bind
 * reads of three executives' mailboxes — part of the Message-IDs of a
 * `kensa-gen mailbox` (messages.tsv) among thousands of others — a Sync of
 * the CEO's Inbox, a search, and forwarding to an outside address. On
 * premises: New-MailboxExportRequest to a web folder (MSExchange
 * Management EVTX and the ECP server log), the .pst downloaded through IIS
 * and 7-Zip run by w3wp.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "gen.h"
#include "evtx_writer.h"

#define DAY 86400
#define T0 1704067200 /* 2024-01-01T00:00:00Z */

#define EVIL_APP "8f3a9c2e-51d4-4b7a-9e6f-2c1d0b9a8e77"
#define EVIL_SP "c0ffee00-1234-4abc-8def-0123456789ab"
#define EVIL_TENANT "9d7c6b5a-0000-4e3f-a2b1-c0d9e8f7a6b5"
#define TENANT "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
#define BACKUP_APP "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
#define BACKUP_SP "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
#define HR_APP "6a7b8c9d-0e1f-4a2b-b3c4-d5e6f7a8b9c0"
#define OUTLOOK "d3590ed6-52b3-4102-aeff-aad2292ab01c"
#define OWA "00000002-0000-0ff1-ce00-000000000000"

static const char *const execs[] = {"ceo@corp-example.com", "cfo@corp-example.com", "legal@corp-example.com"};

typedef struct m365_opts {
    const char *out, *mailbox, *truth;
    unsigned users, days;
    uint64_t seed;
    unsigned read_every;   /* the attacker reads every Nth message of messages.tsv */
    int benign;            /* the tenant's normal days only (no attack, no on-premises part) */
} m365_opts;

typedef struct gctx {
    gen_rng r;
    FILE *audit, *audit_la, *sp, *ual, *truth, *signin;
    uint64_t seq;
    char **ids;            /* Message-IDs of messages.tsv */
    size_t nids;
} gctx;

static void user_name(unsigned i, char *buf, size_t cap)
{
    if (i < 3)
        snprintf(buf, cap, "%s", execs[i]);
    else
        snprintf(buf, cap, "user%03u@corp-example.com", i);
}

/* ---- Entra audit (Graph shape; the rotation in the Log Analytics shape) ------------- */

typedef struct mprop {
    const char *name, *value; /* value written as a JSON string of JSON text */
} mprop;

static void audit(gctx *g, int64_t t, const char *activity, const char *actor, const char *ip,
                  const char *tid, const char *tname, const char *ttype, const mprop *mp, size_t nmp,
                  const char *tid2)
{
    char ts[64];
    gen_time(t, ts, sizeof ts);
    fprintf(g->audit,
            "{\"id\":\"Directory_%08llx\",\"category\":\"ApplicationManagement\",\"result\":\"success\","
            "\"activityDisplayName\":\"%s\",\"activityDateTime\":\"%s\",\"loggedByService\":\"Core Directory\","
            "\"initiatedBy\":{\"user\":{\"userPrincipalName\":\"%s\",\"ipAddress\":\"%s\"}},"
            "\"targetResources\":[{\"id\":\"%s\",\"displayName\":\"%s\",\"type\":\"%s\",\"modifiedProperties\":[",
            (unsigned long long)++g->seq, activity, ts, actor, ip, tid, tname, ttype);
    for (size_t i = 0; i < nmp; i++)
        fprintf(g->audit, "%s{\"displayName\":\"%s\",\"oldValue\":null,\"newValue\":\"\\\"%s\\\"\"}",
                i ? "," : "", mp[i].name, mp[i].value);
    fputs("]}", g->audit);
    if (tid2)
        fprintf(g->audit, ",{\"id\":\"%s\",\"type\":\"ServicePrincipal\",\"modifiedProperties\":[]}", tid2);
    fputs("]}\n", g->audit);
}

/* A credential rotation as Log Analytics exports it (JSON kept in strings). */
static void audit_la_rotation(gctx *g, int64_t t, const char *obj, const char *name)
{
    char ts[64];
    gen_time(t, ts, sizeof ts);
    fprintf(g->audit_la,
            "{\"TenantId\":\"" TENANT "\",\"TimeGenerated\":\"%s\",\"OperationName\":\"Update application "
            "\xe2\x80\x93 Certificates and secrets management \",\"Category\":\"ApplicationManagement\","
            "\"Id\":\"Directory_la_%08llx\",\"Result\":\"success\",\"Type\":\"AuditLogs\","
            "\"InitiatedBy\":\"{\\\"user\\\":{\\\"userPrincipalName\\\":\\\"it-admin@corp-example.com\\\","
            "\\\"ipAddress\\\":\\\"10.0.0.12\\\"}}\",\"TargetResources\":\"[{\\\"id\\\":\\\"%s\\\","
            "\\\"displayName\\\":\\\"%s\\\",\\\"type\\\":\\\"Application\\\",\\\"modifiedProperties\\\":"
            "[{\\\"displayName\\\":\\\"KeyDescription\\\",\\\"oldValue\\\":\\\"[]\\\",\\\"newValue\\\":"
            "\\\"[KeyIdentifier=rotated]\\\"}]}]\"}\n",
            ts, (unsigned long long)++g->seq, obj, name);
}

static void sp_signin(gctx *g, int64_t t, const char *app, const char *sp, const char *name,
                      const char *ip, const char *owner)
{
    char ts[64];
    gen_time(t, ts, sizeof ts);
    fprintf(g->sp,
            "{\"id\":\"sp-%08llx\",\"createdDateTime\":\"%s\",\"appId\":\"%s\",\"servicePrincipalId\":\"%s\","
            "\"servicePrincipalName\":\"%s\",\"ipAddress\":\"%s\",\"tenantId\":\"" TENANT "\","
            "\"appOwnerTenantId\":\"%s\",\"resourceDisplayName\":\"Office 365 Exchange Online\","
            "\"status\":{\"errorCode\":0}}\n",
            (unsigned long long)++g->seq, ts, app, sp, name, ip, owner);
}

/* An interactive sign-in (Graph shape). */
static void signin(gctx *g, int64_t t, const char *user, const char *ip, int code, bool single)
{
    char ts[64];
    gen_time(t, ts, sizeof ts);
    fprintf(g->signin,
            "{\"id\":\"si-%08llx\",\"createdDateTime\":\"%s\",\"userPrincipalName\":\"%s\","
            "\"appDisplayName\":\"Office 365 Exchange Online\",\"ipAddress\":\"%s\",\"clientAppUsed\":\"Browser\","
            "\"userAgent\":\"Mozilla/5.0\",\"tenantId\":\"" TENANT "\",\"authenticationRequirement\":\"%s\","
            "\"status\":{\"errorCode\":%d}}\n",
            (unsigned long long)++g->seq, ts, user, ip, single ? "singleFactorAuthentication" : "multiFactorAuthentication",
            code);
}

/* ---- unified audit log -------------------------------------------------------------------- */

static void mail_read(gctx *g, int64_t t, const char *user, const char *box, const char *app,
                      const char *ip, bool sync, const char *folder, char *const *ids, size_t nids,
                      uint64_t count)
{
    char ts[64];
    gen_time(t, ts, sizeof ts);
    fprintf(g->ual,
            "{\"CreationTime\":\"%.19s\",\"Id\":\"ual-%08llx\",\"Operation\":\"MailItemsAccessed\","
            "\"OrganizationId\":\"" TENANT "\",\"RecordType\":50,\"ResultStatus\":\"Succeeded\","
            "\"Workload\":\"Exchange\",\"UserId\":\"%s\",\"MailboxOwnerUPN\":\"%s\",\"AppId\":\"%s\","
            "\"ClientAppId\":\"\",\"ClientIPAddress\":\"%s\",\"OperationCount\":%llu,"
            "\"OperationProperties\":[{\"Name\":\"MailAccessType\",\"Value\":\"%s\"},"
            "{\"Name\":\"IsThrottled\",\"Value\":\"False\"}],\"Folders\":[{\"Path\":\"\\\\%s\"",
            ts, (unsigned long long)++g->seq, user, box, app, ip, (unsigned long long)count,
            sync ? "Sync" : "Bind", folder);
    if (!sync && nids) {
        fputs(",\"FolderItems\":[", g->ual);
        for (size_t i = 0; i < nids; i++)
            fprintf(g->ual, "%s{\"InternetMessageId\":\"<%s>\"}", i ? "," : "", ids[i]);
        fputc(']', g->ual);
    }
    fputs("}]}\n", g->ual);
}

static void mail_op(gctx *g, int64_t t, const char *op, const char *user, const char *app,
                    const char *ip, const char *params)
{
    char ts[64];
    gen_time(t, ts, sizeof ts);
    fprintf(g->ual,
            "{\"CreationTime\":\"%.19s\",\"Id\":\"ual-%08llx\",\"Operation\":\"%s\",\"RecordType\":1,"
            "\"ResultStatus\":\"True\",\"Workload\":\"Exchange\",\"UserId\":\"%s\",\"AppId\":\"%s\","
            "\"ClientIP\":\"%s\",\"Parameters\":[%s]}\n",
            ts, (unsigned long long)++g->seq, op, user, app, ip, params);
}

static void truth(gctx *g, const char *analytic, const char *key, bool malicious)
{
    fprintf(g->truth, "{\"analytic\":\"%s\",\"key\":\"%s\",\"malicious\":%s}\n", analytic, key,
            malicious ? "true" : "false");
}

/* A random Message-ID nobody has in a mail store. */
static void fake_id(gctx *g, char *buf, size_t cap)
{
    snprintf(buf, cap, "%016llx@eur.prod.outlook.example", (unsigned long long)gen_next(&g->r));
}

/* ---- the tenant's normal days ------------------------------------------------------------------- */

static void benign(gctx *g, const m365_opts *o)
{
    char user[96], ip[32], *ids[8], idbuf[8][96];
    for (int k = 0; k < 8; k++)
        ids[k] = idbuf[k];
    for (unsigned d = 0; d < o->days; d++) {
        int64_t day = T0 + (int64_t)d * DAY;
        for (unsigned u = 0; u < o->users; u++) {
            user_name(u, user, sizeof user);
            snprintf(ip, sizeof ip, "10.1.%u.%u", u / 200, u % 200 + 20);
            signin(g, day + 7 * 3600 + 1800 + (int64_t)gen_below(&g->r, 3600), user, ip, 0, false);
            /* Outlook desktop syncs the Inbox in the morning */
            /* one draw a statement: a call's argument order is open in C */
            uint64_t nread = 20 + gen_below(&g->r, 40);
            mail_read(g, day + 8 * 3600 + (int64_t)gen_below(&g->r, 1800), user, user, OUTLOOK, ip, true,
                      "Inbox", NULL, 0, nread);
            /* binds through the day, a few messages each */
            unsigned binds = 10 + (unsigned)gen_below(&g->r, 20);
            for (unsigned b = 0; b < binds; b++) {
                size_t n = 1 + (size_t)gen_below(&g->r, 5);
                for (size_t k = 0; k < n; k++) {
                    /* the CEO's own mail store is the one given to the
                     * hunt: she reads her own messages too (not a leak) */
                    if (u == 0 && g->nids && gen_below(&g->r, 3) == 0)
                        snprintf(idbuf[k], sizeof idbuf[k], "%s", g->ids[gen_below(&g->r, g->nids)]);
                    else
                        fake_id(g, idbuf[k], sizeof idbuf[k]);
                }
                mail_read(g, day + 9 * 3600 + (int64_t)gen_below(&g->r, 9 * 3600), user, user,
                          b % 3 ? OUTLOOK : OWA, ip, false, "Inbox", ids, n, n);
            }
        }
        /* the backup application: every mailbox, every night, one address */
        for (unsigned u = 0; u < o->users; u++) {
            user_name(u, user, sizeof user);
            size_t n = 3;
            for (size_t k = 0; k < n; k++)
                fake_id(g, idbuf[k], sizeof idbuf[k]);
            mail_read(g, day + 2 * 3600 + (int64_t)u * 30, user, user, BACKUP_APP, "20.50.1.10", false,
                      "Inbox", ids, n, 30 + gen_below(&g->r, 20));
        }
        sp_signin(g, day + 2 * 3600 - 60, BACKUP_APP, BACKUP_SP, "backup-svc", "20.50.1.10", TENANT);
    }
    /* administrators at work */
    mprop hr_new[] = {{"AppId", HR_APP}, {"AvailableToOtherTenants", "false"}};
    audit(g, T0 + 3 * DAY + 10 * 3600, "Add application", "it-admin@corp-example.com", "10.0.0.12",
          "7b8c9d0e-aaaa-4bbb-8ccc-000000000001", "hr-portal", "Application", hr_new, 2, NULL);
    mprop hr_sp[] = {{"AppId", HR_APP}};
    audit(g, T0 + 3 * DAY + 10 * 3600 + 5, "Add service principal", "it-admin@corp-example.com",
          "10.0.0.12", "7b8c9d0e-aaaa-4bbb-8ccc-000000000002", "hr-portal", "ServicePrincipal", hr_sp, 1, NULL);
    mprop hr_role[] = {{"AppRole.Value", "User.Read.All"}, {"ServicePrincipal.AppId", HR_APP},
                       {"ServicePrincipal.DisplayName", "hr-portal"}};
    audit(g, T0 + 3 * DAY + 10 * 3600 + 60, "Add app role assignment to service principal",
          "it-admin@corp-example.com", "10.0.0.12", "00000003-aaaa-0000-c000-000000000000",
          "Microsoft Graph", "ServicePrincipal", hr_role, 3, NULL);
    mprop owner[] = {{"Application.DisplayName", "hr-portal"}};
    audit(g, T0 + 4 * DAY + 11 * 3600, "Add owner to application", "it-admin@corp-example.com",
          "10.0.0.12", "7b8c9d0e-aaaa-4bbb-8ccc-000000000001", "hr-portal", "Application", owner, 1, NULL);
    mprop consent[] = {{"ConsentContext.IsAdminConsent", "False"},
                       {"ConsentAction.Permissions", "Scope: openid profile User.Read"}};
    audit(g, T0 + 4 * DAY + 15 * 3600, "Consent to application", "user007@corp-example.com",
          "10.1.0.27", "7b8c9d0e-aaaa-4bbb-8ccc-000000000003", "calendar-helper", "ServicePrincipal",
          consent, 2, NULL);
    audit_la_rotation(g, T0 + 5 * DAY + 9 * 3600, "5e6f7a8b-0000-4000-8000-backupapp001", "backup-svc");
    mprop bk[] = {{"AppId", BACKUP_APP}};
    audit(g, T0 + 2 * DAY + 9 * 3600, "Update application", "it-admin@corp-example.com", "10.0.0.12",
          "5e6f7a8b-0000-4000-8000-backupapp001", "backup-svc", "Application", bk, 0, NULL);
    mail_op(g, T0 + 2 * DAY + 14 * 3600, "New-InboxRule", "user011@corp-example.com", OWA, "10.1.0.31",
            "{\"Name\":\"Name\",\"Value\":\"newsletters\"},{\"Name\":\"MoveToFolder\",\"Value\":\"News\"}");
    truth(g, "app_mail_role", HR_APP, false);
    truth(g, "app_mail_access", BACKUP_APP, false);
}

/* ---- the attack -------------------------------------------------------------------------------- */

static void attack(gctx *g, const m365_opts *o)
{
    int64_t day = T0 + 7 * DAY;
    const char *actor = "svc-test@corp-example.com";
    char user[96];
    /* the spray that found the legacy test account without MFA */
    for (unsigned u = 0; u < 12 && u < o->users; u++) {
        user_name(u + 3, user, sizeof user);
        signin(g, day + 6 * 3600 + (int64_t)u * 97, user, "185.220.101.5", 50126, false);
    }
    signin(g, day + 6 * 3600 + 1300, actor, "185.220.101.5", 50126, false);
    signin(g, day + 6 * 3600 + 1500, actor, "185.220.101.5", 0, true);
    truth(g, "session_read", actor, true);
    mail_read(g, day + 6 * 3600 + 1800, actor, actor, OWA, "185.220.101.5", false, "Inbox", NULL, 0, 5);
    mprop multi[] = {{"AvailableToOtherTenants", "true"}};
    audit(g, day + 7 * 3600 + 50 * 60, "Update application", actor, "185.220.101.5",
          "a1a1a1a1-0000-4000-8000-legacyapp001", "legacy-test-app", "Application", multi, 1, NULL);
    mprop cred[] = {{"KeyDescription", "[KeyIdentifier=9e1d,KeyType=Password,DisplayName=sync]"}};
    audit(g, day + 8 * 3600, "Add service principal credentials", actor, "185.220.101.5", EVIL_SP,
          "legacy-test-app", "ServicePrincipal", cred, 1, NULL);
    mprop role[] = {{"AppRole.Id", "dc890d15-9560-4a4c-9b7f-a736ec74ec40"},
                    {"AppRole.Value", "full_access_as_app"},
                    {"ServicePrincipal.ObjectID", EVIL_SP},
                    {"ServicePrincipal.DisplayName", "legacy-test-app"},
                    {"ServicePrincipal.AppId", EVIL_APP},
                    {"TargetId.ServicePrincipalNames", "00000002-0000-0ff1-ce00-000000000000/outlook.office365.com"}};
    audit(g, day + 8 * 3600 + 300, "Add app role assignment to service principal", actor, "185.220.101.5",
          "e1e1e1e1-0000-4000-8000-exchange0001", "Office 365 Exchange Online", "ServicePrincipal", role, 6,
          EVIL_SP);
    truth(g, "app_mail_role", EVIL_APP, true);
    truth(g, "app_mail_access", EVIL_APP, true);
    truth(g, "new_reader", EVIL_APP, true);
    truth(g, "sync", EVIL_APP, true);
    truth(g, "volume", EVIL_APP, true);
    static const char *const ips[] = {"185.220.101.5", "45.134.26.10", "91.219.236.18"};
    for (int k = 0; k < 3; k++)
        sp_signin(g, day + 8 * 3600 + 600 + k * 1800, EVIL_APP, EVIL_SP, "legacy-test-app", ips[k], EVIL_TENANT);
    /* Bind reads: every Nth message of the mail store, among many others */
    char *ids[20], idbuf[20][96];
    size_t chosen = 0;
    int64_t t = day + 9 * 3600;
    for (size_t i = 0; i < g->nids; i += o->read_every) {
        size_t n = 0;
        ids[n++] = g->ids[i];
        fprintf(g->truth, "{\"read\":\"%s\"}\n", g->ids[i]);
        chosen++;
        while (n < 10) {
            fake_id(g, idbuf[n], sizeof idbuf[n]);
            ids[n] = idbuf[n];
            n++;
        }
        mail_read(g, t, execs[0], execs[0], EVIL_APP, ips[chosen % 3], false, "Inbox", ids, n, n);
        t += 20;
    }
    for (int e = 0; e < 3; e++) {
        truth(g, "volume", execs[e], true);
        for (int b = 0; b < 120; b++) {
            size_t n = 0;
            while (n < 20) {
                fake_id(g, idbuf[n], sizeof idbuf[n]);
                ids[n] = idbuf[n];
                n++;
            }
            mail_read(g, t, execs[e], execs[e], EVIL_APP, ips[(e + b) % 3], false,
                      b % 2 ? "Inbox" : "Sent Items", ids, n, n);
            t += 15;
        }
    }
    mail_read(g, t + 60, execs[0], execs[0], EVIL_APP, ips[1], true, "Inbox", NULL, 0, 800);
    mail_op(g, t + 120, "SearchQueryInitiatedExchange", execs[0], EVIL_APP, ips[2],
            "{\"Name\":\"QueryText\",\"Value\":\"password OR vpn OR secret\"}");
    mail_op(g, t + 300, "Set-Mailbox", execs[1], OWA, ips[0],
            "{\"Name\":\"Identity\",\"Value\":\"cfo\"},{\"Name\":\"ForwardingSmtpAddress\","
            "\"Value\":\"smtp:archive-cfo@protonmail.example\"},{\"Name\":\"DeliverToMailboxAndForward\","
            "\"Value\":\"True\"}");
    truth(g, "forwarding", execs[1], true);
}

/* ---- Exchange on-premises ----------------------------------------------------------------------- */

static int onprem(const m365_opts *o, gctx *g)
{
    char dir[4096], path[4200], ts[64];
    int rc = 0;
    snprintf(dir, sizeof dir, "%s/onprem", o->out);
    if (gen_mkdirs(dir) != 0)
        return -1;
    int64_t t = T0 + 8 * DAY + 2 * 3600;
    /* MSExchange Management: cmdlet log events (one benign, one export) */
    snprintf(path, sizeof path, "%s/MSExchange Management.evtx", dir);
    evtx_writer *w = NULL;
    if (evtxw_open(path, &w) != 0)
        return -1;
    evtxw_field get[] = {{"Data", "Get-Mailbox", EVTXW_STR}, {"Data", "-ResultSize 'Unlimited'", EVTXW_STR},
                         {"Data", "CORP\\exadmin", EVTXW_STR}};
    evtxw_field exp[] = {{"Data", "New-MailboxExportRequest", EVTXW_STR},
                         {"Data", "-Mailbox 'ceo' -FilePath '\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\ceo.pst'", EVTXW_STR},
                         {"Data", "NT AUTHORITY\\SYSTEM", EVTXW_STR}};
    evtxw_record r1 = {.event_id = 1, .time = (t - 3600) * 1000000000LL, .level = 4,
                       .provider = "MSExchange CmdletLogs", .channel = "MSExchange Management",
                       .computer = "EXCH01.corp-example.local", .data = get, .ndata = 3};
    evtxw_record r2 = r1;
    r2.time = t * 1000000000LL;
    r2.data = exp;
    rc |= evtxw_add(w, &r1);
    rc |= evtxw_add(w, &r2);
    rc |= evtxw_close(w);
    truth(g, "export_request", "ceo.pst", true);
    /* the ECP server log: an administrator's export to the file share */
    FILE *fp = gen_open(dir, "ECPServer20240109-1.LOG");
    if (!fp)
        return -1;
    gen_time(t - 7200, ts, sizeof ts);
    fprintf(fp, "#Software: Microsoft Exchange Server\n#Version: 15.01.2375.007\n#Log-type: ECP Server Logs\n"
                "#Date: %s\n#Fields: DateTime,ServerName,Message\n"
                "%s,EXCH01,\"ActivityContext: Cmd=Get-Mailbox -Identity leaver\"\n"
                "%s,EXCH01,\"ActivityContext: Cmd=New-MailboxExportRequest -Mailbox leaver -FilePath \\\\fs01\\exports\\leaver.pst\"\n",
            ts, ts, ts);
    fclose(fp);
    truth(g, "export_request", "leaver.pst", true);
    /* IIS: the .pst pulled from the web folder among ordinary requests */
    snprintf(path, sizeof path, "%s/inetpub/logs/LogFiles/W3SVC1", dir);
    if (gen_mkdirs(path) != 0 || !(fp = gen_open(path, "u_ex240109.log")))
        return -1;
    fputs("#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2024-01-09 00:00:00\n"
          "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
          "sc-status sc-substatus sc-win32-status sc-bytes time-taken\n", fp);
    for (int i = 0; i < 200; i++) {
        int64_t s = t - 3600 + i * 17;
        fprintf(fp, "2024-01-09 %02d:%02d:%02d 10.0.0.5 GET /owa/ - 443 user%03d@corp-example.com 10.1.0.%d "
                    "Mozilla/5.0 200 0 0 %d %d\n",
                (int)(s / 3600 % 24), (int)(s / 60 % 60), (int)(s % 60), i % 40, 20 + i % 40,
                20000 + i * 13, 40 + i % 9);
    }
    fprintf(fp, "2024-01-09 03:10:00 10.0.0.5 GET /OAB/1f6c/oab.xml - 443 - 10.1.0.22 Outlook 200 0 0 12000000 90\n"
                "2024-01-09 03:20:11 10.0.0.5 GET /aspnet_client/ceo.pst - 443 - 91.219.236.18 "
                "curl/8.4.0 200 0 0 734003200 81234\n");
    fclose(fp);
    truth(g, "export_download", "/aspnet_client/ceo.pst", true);
    /* Sysmon: 7-Zip started by w3wp.exe */
    if (!(fp = gen_open(dir, "sysmon.json")))
        return -1;
    gen_time(t + 900, ts, sizeof ts);
    fprintf(fp, "{\"EventID\":1,\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"Hostname\":\"EXCH01\","
                "\"UtcTime\":\"%s\",\"Image\":\"C:\\\\Program Files\\\\7-Zip\\\\7z.exe\","
                "\"CommandLine\":\"7z.exe a C:\\\\inetpub\\\\wwwroot\\\\aspnet_client\\\\m.7z C:\\\\exports\\\\*.pst\","
                "\"ParentImage\":\"C:\\\\Windows\\\\System32\\\\inetsrv\\\\w3wp.exe\",\"User\":\"NT AUTHORITY\\\\SYSTEM\"}\n"
                "{\"EventID\":1,\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"Hostname\":\"EXCH01\","
                "\"UtcTime\":\"%s\",\"Image\":\"C:\\\\Program Files\\\\7-Zip\\\\7z.exe\","
                "\"CommandLine\":\"7z.exe a D:\\\\backup\\\\logs.7z D:\\\\logs\","
                "\"ParentImage\":\"C:\\\\Windows\\\\explorer.exe\",\"User\":\"CORP\\\\exadmin\"}\n",
            ts, ts);
    fclose(fp);
    truth(g, "archiver", "7z.exe", true);
    return rc ? -1 : 0;
}

/* ---- messages.tsv ------------------------------------------------------------------------------- */

static int load_ids(gctx *g, const char *mailbox)
{
    char path[4096], line[8192];
    size_t cap = 0;
    if (!mailbox)
        return 0;
    snprintf(path, sizeof path, "%s/messages.tsv", mailbox);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "kensa-gen m365: cannot read %s\n", path);
        return -1;
    }
    while (fgets(line, sizeof line, fp)) {
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        if (g->nids == cap) {
            cap = cap ? cap * 2 : 256;
            char **n = realloc(g->ids, cap * sizeof *n);
            if (!n)
                break;
            g->ids = n;
        }
        if (!(g->ids[g->nids] = strdup(line)))
            break;
        g->nids++;
    }
    fclose(fp);
    return 0;
}

static int m365_write(const m365_opts *o)
{
    gctx g = {.r = {o->seed ? o->seed : 0x23}};
    int rc = -1;
    char truth_path[4200];
    if (load_ids(&g, o->mailbox) != 0)
        goto out;
    if (o->truth)
        snprintf(truth_path, sizeof truth_path, "%s", o->truth);
    else
        snprintf(truth_path, sizeof truth_path, "%s.truth.jsonl", o->out);
    if (!(g.audit = gen_open(o->out, "entra_directory_audits.jsonl")) ||
        !(g.audit_la = gen_open(o->out, "entra_auditlogs_la.jsonl")) ||
        !(g.sp = gen_open(o->out, "entra_sp_signins.jsonl")) || !(g.ual = gen_open(o->out, "m365_ual.jsonl")) ||
        !(g.signin = gen_open(o->out, "entra_signins.jsonl")) || !(g.truth = fopen(truth_path, "w")))
        goto out;
    benign(&g, o);
    rc = 0;
    if (!o->benign) {
        attack(&g, o);
        rc = onprem(o, &g);
    }
out:;
    FILE *fps[] = {g.audit, g.audit_la, g.sp, g.ual, g.truth, g.signin};
    for (size_t i = 0; i < sizeof fps / sizeof fps[0]; i++)
        if (fps[i] && fclose(fps[i]) != 0)
            rc = -1;
    for (size_t i = 0; i < g.nids; i++)
        free(g.ids[i]);
    free(g.ids);
    return rc;
}

int gen_m365_run(int argc, char **argv)
{
    m365_opts o = {.users = 40, .days = 10, .read_every = 3};
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--benign"))
            o.benign = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--benign")) {
            i--;
            continue;
        }
        if (!strcmp(argv[i], "--out"))
            o.out = argv[i + 1];
        else if (!strcmp(argv[i], "--mailbox"))
            o.mailbox = argv[i + 1];
        else if (!strcmp(argv[i], "--truth"))
            o.truth = argv[i + 1];
        else if (!strcmp(argv[i], "--users"))
            o.users = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--days"))
            o.days = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--read-every"))
            o.read_every = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--seed"))
            o.seed = strtoull(argv[i + 1], NULL, 10);
    }
    if (!o.out || o.users < 4 || o.days < 9 || !o.read_every) {
        fprintf(stderr, "usage: kensa-gen m365 --out DIR [--mailbox MAILDIR] [--truth FILE] [--users N>=4] "
                        "[--days N>=9] [--read-every K] [--seed S] [--benign]\n");
        return 2;
    }
    return m365_write(&o) == 0 ? 0 : 1;
}

int gen_m365_demo(const char *dir)
{
    char out[4096], mail[4096], truth[4096];
    snprintf(out, sizeof out, "%s/m365", dir);
    snprintf(mail, sizeof mail, "%s/mail", dir);
    snprintf(truth, sizeof truth, "%s.m365-truth.jsonl", dir);
    m365_opts o = {.out = out, .mailbox = mail, .truth = truth, .users = 12, .days = 9, .read_every = 4};
    return m365_write(&o);
}
