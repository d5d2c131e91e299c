/* SPDX-License-Identifier: Apache-2.0
 *
 * Entra ID sign-in log generator. Writes records in the shapes responders
 * get: the portal's JSON array (camelCase), Graph's {"value": [...]}, Log
 * Analytics' PascalCase rows, or JSON lines. The demo has benign office
 * traffic, a low-and-slow password spray from rotating residential
 * addresses against a legacy tenant, and the spray's success: a
 * single-factor sign-in to a test account, then IMAP access.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "gen.h"

enum shape { SH_PORTAL, SH_GRAPH, SH_LA, SH_JSONL };

typedef struct signin {
    int64_t t;
    const char *user;
    const char *ip;
    int code;               /* 0 success, 50126 bad password, ... */
    const char *app;        /* clientAppUsed */
    bool single;            /* authenticationRequirement single factor */
    const char *ua;
} signin;

#define NUSERS 17 /* ordinary accounts; the last entry is the legacy admin */
static const char *const users[] = {
    "alice@contoso.com", "bob@contoso.com", "carol@contoso.com", "dave@contoso.com",
    "erin@contoso.com", "frank@contoso.com", "grace@contoso.com", "heidi@contoso.com",
    "ivan@contoso.com", "judy@contoso.com", "mallory@contoso.com", "oscar@contoso.com",
    "peggy@contoso.com", "trent@contoso.com", "victor@contoso.com", "walter@contoso.com",
    "svc-backup@contoso.com", "testadmin@contoso-legacy.onmicrosoft.com"};

static void write_record(FILE *fp, const signin *s, enum shape sh, uint64_t id)
{
    char t[64];
    gen_time(s->t, t, sizeof t);
    const char *reason = s->code == 0 ? "" : s->code == 50126 ? "Invalid username or password." : "Error";
    const char *req = s->single ? "singleFactorAuthentication" : "multiFactorAuthentication";
    const char *ok = s->code == 0 ? "true" : "false";
    if (sh == SH_LA) {
        fprintf(fp,
                "{\"TimeGenerated\":\"%s\",\"OperationName\":\"Sign-in activity\",\"Id\":\"%016llx\","
                "\"UserPrincipalName\":\"%s\",\"IPAddress\":\"%s\",\"ResultType\":\"%d\","
                "\"ResultDescription\":\"%s\",\"ClientAppUsed\":\"%s\","
                "\"AppDisplayName\":\"Office 365 Exchange Online\",\"AuthenticationRequirement\":\"%s\","
                "\"ConditionalAccessStatus\":\"notApplied\",\"UserAgent\":\"%s\","
                "\"AuthenticationDetails\":\"[{\\\"authenticationMethod\\\":\\\"Password\\\","
                "\\\"succeeded\\\":%s}]\"}",
                t, (unsigned long long)id, s->user, s->ip, s->code, reason, s->app, req, s->ua, ok);
        return;
    }
    fprintf(fp,
            "{\"id\":\"%016llx\",\"createdDateTime\":\"%s\",\"userPrincipalName\":\"%s\","
            "\"appDisplayName\":\"Office 365 Exchange Online\",\"ipAddress\":\"%s\","
            "\"clientAppUsed\":\"%s\",\"userAgent\":\"%s\",\"conditionalAccessStatus\":\"notApplied\","
            "\"authenticationRequirement\":\"%s\",\"status\":{\"errorCode\":%d,\"failureReason\":\"%s\"},"
            "\"authenticationDetails\":[{\"authenticationMethod\":\"Password\",\"succeeded\":%s}],"
            "\"location\":{\"city\":\"Somewhere\",\"countryOrRegion\":\"NL\"}}",
            (unsigned long long)id, t, s->user, s->ip, s->app, s->ua, req, s->code, reason, ok);
}

/* Opening and closing text of each shape around comma-separated records. */
static void shape_begin(FILE *fp, enum shape sh)
{
    if (sh == SH_PORTAL)
        fputs("[\n", fp);
    else if (sh == SH_GRAPH)
        fputs("{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns\","
              "\"value\":[\n", fp);
}

static void shape_sep(FILE *fp, enum shape sh, bool last)
{
    fputs(last || sh == SH_JSONL || sh == SH_LA ? "\n" : ",\n", fp);
}

static void shape_end(FILE *fp, enum shape sh)
{
    if (sh == SH_PORTAL)
        fputs("]\n", fp);
    else if (sh == SH_GRAPH)
        fputs("]}\n", fp);
}

static int cmp_time(const void *a, const void *b)
{
    const signin *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

#define DEMO_START 1706745600 /* 2024-02-01T00:00:00Z */

int gen_entra_demo(const char *dir)
{
    signin v[512];
    size_t n = 0;
    gen_rng r = {0x6b656e7361ull};
    char path[4096];
    static char ips[64][32];
    /* Benign: office users with MFA from the office NAT, a few typos. */
    for (int d = 0; d < 5; d++) {
        for (size_t u = 0; u < 16 && n < 200; u++) {
            signin s = {DEMO_START + d * 86400 + 8 * 3600 + (int64_t)gen_below(&r, 3600), users[u],
                        "203.0.113.10", 0, "Browser", false,
                        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edge/120.0"};
            if (gen_below(&r, 10) == 0) {
                signin typo = s;
                typo.code = 50126;
                typo.t -= 30;
                v[n++] = typo;
            }
            v[n++] = s;
        }
    }
    /* The spray: 60 residential addresses, one or two tries each, over two
     * days, across the accounts; few attempts per account. */
    for (int i = 0; i < 60; i++) {
        snprintf(ips[i], sizeof ips[i], "198.51.100.%d", 10 + i);
        for (int k = 0; k < 2 && n < 480; k++) {
            signin s = {DEMO_START + 2 * 86400 + i * 2400 + k * 600, users[gen_below(&r, NUSERS + 1)],
                        ips[i], 50126, "Other clients", true, "python-requests/2.31"};
            v[n++] = s;
        }
    }
    /* The success: the legacy test tenant's admin, no MFA, then IMAP. */
    signin ok = {DEMO_START + 2 * 86400 + 60 * 2400 + 120, users[NUSERS], ips[59], 0, "Other clients",
                 true, "python-requests/2.31"};
    v[n++] = ok;
    signin imap = ok;
    imap.t += 600;
    imap.app = "IMAP4";
    v[n++] = imap;
    qsort(v, n, sizeof v[0], cmp_time);
    snprintf(path, sizeof path, "%s/identity", dir);
    FILE *fp = gen_open(path, "entra-signins.json");
    if (!fp)
        return -1;
    shape_begin(fp, SH_PORTAL);
    for (size_t i = 0; i < n; i++) {
        write_record(fp, &v[i], SH_PORTAL, i + 1);
        shape_sep(fp, SH_PORTAL, i + 1 == n);
    }
    shape_end(fp, SH_PORTAL);
    return fclose(fp) == 0 ? 0 : -1;
}

int gen_entra_run(int argc, char **argv)
{
    uint64_t records = 1000;
    const char *out = "-";
    enum shape sh = SH_JSONL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--records"))
            records = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
        else if (!strcmp(argv[i], "--shape"))
            sh = !strcmp(argv[i + 1], "portal") ? SH_PORTAL
                 : !strcmp(argv[i + 1], "graph") ? SH_GRAPH
                 : !strcmp(argv[i + 1], "la")    ? SH_LA
                                                 : SH_JSONL;
    }
    FILE *fp = strcmp(out, "-") ? fopen(out, "w") : stdout;
    if (!fp) {
        perror(out);
        return 1;
    }
    gen_rng r = {42};
    shape_begin(fp, sh);
    for (uint64_t i = 0; i < records; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "192.0.2.%u", (unsigned)gen_below(&r, 250) + 1);
        /* one draw a statement: an initialiser list's order is open in C */
        const char *user = users[gen_below(&r, NUSERS)];
        int err = gen_below(&r, 20) == 0 ? 50126 : 0;
        bool flag = gen_below(&r, 50) == 0;
        signin s = {DEMO_START + (int64_t)(i / 10), user, ip, err, "Browser", flag, "Mozilla/5.0"};
        write_record(fp, &s, sh, i + 1);
        shape_sep(fp, sh, i + 1 == records);
    }
    shape_end(fp, sh);
    if (fp != stdout)
        fclose(fp);
    return 0;
}
