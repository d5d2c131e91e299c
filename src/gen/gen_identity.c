/* SPDX-License-Identifier: Apache-2.0
 *
 * Identity attack evidence in the shapes that real incidents leave and the
 * first identity analytics missed (issue 20), each next to its benign
 * look-alike, as EVTX written by evtx_writer:
 *   spray-4648.evtx      one process logging on with 30 accounts' explicit
 *                        credentials (4648), DeepBlueCLI's spray check;
 *   local-brute.evtx     a workstation's local accounts guessed from one
 *                        machine, each try logged as 4776 + 4625;
 *   openssh-brute.evtx   OpenSSH for Windows (OpenSSH/Operational, event 4)
 *                        password guessing against valid users, then one
 *                        accepted password;
 *   busy-office.evtx     a Monday morning behind one NAT: 400 users, one in
 *                        eight mistyping and fixing it within minutes, a
 *                        phone with a stale password;
 *   office-spray.evtx    the same morning with a classic spray in it: one
 *                        outside address, one wrong password for each of 40
 *                        accounts (what the bundled Sigma correlation was
 *                        for: still found, by the identity detector);
 *   benign-4648.evtx     scheduled tasks and an admin's runas (4648);
 *   benign-ssh.evtx      ssh sign-ins with a typo or two;
 *   mssql-brute.evtx     SQL Server (Application log, unnamed Data items):
 *                        one client guessing sa's password (18456), then a
 *                        list of logins once each, then sa logs in (18454);
 *   mssql-benign.evtx    a busy SQL Server: application pools logging in,
 *                        a developer's typos, a job with a stale password.
 * `kensa-gen identity --out DIR` writes them all (deterministic).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "evtx_writer.h"
#include "gen.h"

#define T0 1709535600ll /* 2024-03-04T07:00:00Z, a Monday */
#define NS 1000000000ll
#define SEC_PROVIDER "Microsoft-Windows-Security-Auditing"

typedef struct gen_ctx {
    evtx_writer *w;
    const char *computer;
    int rc;
} gen_ctx;

static void add(gen_ctx *c, uint16_t id, int64_t secs, const char *provider, const char *channel,
                const evtxw_field *f, size_t n)
{
    evtxw_record r = {id, secs * NS, 0, provider, channel, c->computer, f, n};
    if (c->rc == 0 && evtxw_add(c->w, &r) != 0)
        c->rc = -1;
}

static void logon(gen_ctx *c, int64_t t, bool ok, const char *user, const char *ip, const char *wks,
                  const char *sub)
{
    evtxw_field f[] = {
        {"SubjectUserSid", "S-1-0-0", EVTXW_SID}, {"TargetUserSid", "S-1-0-0", EVTXW_SID},
        {"TargetUserName", user, EVTXW_STR},      {"TargetDomainName", "CONTOSO", EVTXW_STR},
        {"Status", "0xc000006d", EVTXW_HEX32},    {"SubStatus", sub, EVTXW_HEX32},
        {"LogonType", "3", EVTXW_U32},            {"LogonProcessName", "NtLmSsp ", EVTXW_STR},
        {"AuthenticationPackageName", "NTLM", EVTXW_STR}, {"WorkstationName", wks, EVTXW_STR},
        {"IpAddress", ip, EVTXW_STR},             {"IpPort", "0", EVTXW_STR}};
    if (ok) { /* 4624 has no Status/SubStatus */
        evtxw_field g[10];
        memcpy(g, f, 4 * sizeof *f);
        memcpy(g + 4, f + 6, 6 * sizeof *f);
        add(c, 4624, t, SEC_PROVIDER, "Security", g, 10);
    } else {
        add(c, 4625, t, SEC_PROVIDER, "Security", f, KS_GEN_ARRAY(f));
    }
}

static void ntlm(gen_ctx *c, int64_t t, const char *user, const char *wks, const char *status)
{
    evtxw_field f[] = {{"PackageName", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0", EVTXW_STR},
                       {"TargetUserName", user, EVTXW_STR},
                       {"Workstation", wks, EVTXW_STR},
                       {"Status", status, EVTXW_HEX32}};
    add(c, 4776, t, SEC_PROVIDER, "Security", f, KS_GEN_ARRAY(f));
}

static void explicit_logon(gen_ctx *c, int64_t t, const char *subject, const char *user,
                           const char *server, const char *process)
{
    evtxw_field f[] = {{"SubjectUserSid", "S-1-5-21-1-2-3-1104", EVTXW_SID},
                       {"SubjectUserName", subject, EVTXW_STR},
                       {"SubjectDomainName", "CONTOSO", EVTXW_STR},
                       {"SubjectLogonId", "0x3e7", EVTXW_HEX32},
                       {"TargetUserName", user, EVTXW_STR},
                       {"TargetDomainName", "CONTOSO", EVTXW_STR},
                       {"TargetServerName", server, EVTXW_STR},
                       {"TargetInfo", server, EVTXW_STR},
                       {"ProcessId", "0x1a2c", EVTXW_HEX32},
                       {"ProcessName", process, EVTXW_STR},
                       {"IpAddress", "-", EVTXW_STR},
                       {"IpPort", "-", EVTXW_STR}};
    add(c, 4648, t, SEC_PROVIDER, "Security", f, KS_GEN_ARRAY(f));
}

static void sshd(gen_ctx *c, int64_t t, const char *payload)
{
    evtxw_field f[] = {{"process", "sshd", EVTXW_STR}, {"payload", payload, EVTXW_STR}};
    add(c, 4, t, "OpenSSH", "OpenSSH/Operational", f, KS_GEN_ARRAY(f));
}

/* SQL Server's 18456 / 18454: unnamed Data items (login, " Reason: ...",
 * " [CLIENT: ip]"), as the MSSQLSERVER provider writes them. */
static void sql_login(gen_ctx *c, int64_t t, const char *user, const char *reason, const char *ip)
{
    char client[64], why[160];
    snprintf(client, sizeof client, " [CLIENT: %s]", ip);
    snprintf(why, sizeof why, " Reason: %s", reason ? reason : "");
    evtxw_field f[] = {{NULL, user, EVTXW_STR}, {NULL, why, EVTXW_STR}, {NULL, client, EVTXW_STR}};
    if (reason)
        add(c, 18456, t, "MSSQLSERVER", "Application", f, 3);
    else
        add(c, 18454, t, "MSSQLSERVER", "Application", (evtxw_field[]){f[0], f[2]}, 2);
}

#define SQL_BADPW "Password did not match that for the login provided."
#define SQL_NOLOGIN "Could not find a login matching the name provided."

static const char *const staff[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace",
                                    "heidi", "ivan", "judy", "mallory", "oscar", "peggy", "trent",
                                    "victor", "walter", "wendy", "yves", "zoe", "quentin"};

/* ---- the files ------------------------------------------------------------------- */

static void spray_4648(gen_ctx *c)
{
    char user[32];
    /* ordinary explicit logons on the same machine: a mapped drive */
    for (int i = 0; i < 40; i++)
        explicit_logon(c, T0 + i * 600, "bob", "bob-adm", "FS01.contoso.local",
                       "C:\\Windows\\System32\\net.exe");
    /* the spray: one process, 30 accounts, 2 seconds apart */
    for (int i = 0; i < 30; i++) {
        snprintf(user, sizeof user, "%s%s", staff[i % 20], i >= 20 ? "-adm" : "");
        explicit_logon(c, T0 + 3 * 3600 + i * 2, "bob", user, "DC01.contoso.local",
                       "C:\\Users\\bob\\AppData\\Local\\Temp\\sp.exe");
    }
}

static void local_brute(gen_ctx *c)
{
    static const char *const local[] = {"administrator", "admin", "guest", "support"};
    /* a few normal logons to the file share from the office */
    for (int i = 0; i < 20; i++) {
        ntlm(c, T0 + i * 900, staff[i % 20], "WKS-FIN-07", "0x0");
        logon(c, T0 + i * 900, true, staff[i % 20], "10.1.2.7", "WKS-FIN-07", "0x0");
    }
    /* three tries at each local account, each logged twice */
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 4; i++) {
            int64_t t = T0 + 4 * 3600 + k * 120 + i * 20;
            ntlm(c, t, local[i], "KALI", "0xc000006a");
            logon(c, t, false, local[i], "10.1.9.66", "KALI", i == 3 ? "0xc0000064" : "0xc000006a");
        }
}

static void openssh_brute(gen_ctx *c)
{
    char p[160];
    sshd(c, T0, "Server listening on 0.0.0.0 port 22.");
    /* the admins' own sign-ins */
    for (int i = 0; i < 10; i++) {
        snprintf(p, sizeof p, "Accepted publickey for %s from 10.1.2.%d port %d ssh2: ED25519 SHA256:x",
                 staff[i % 3], 20 + i % 3, 50000 + i);
        sshd(c, T0 + i * 1800, p);
    }
    /* guessing the passwords of three valid users, then one works */
    static const char *const victims[] = {"administrator", "alice", "bob"};
    for (int i = 0; i < 60; i++) {
        snprintf(p, sizeof p, "Failed password for %s from 203.0.113.50 port %d ssh2", victims[i % 3],
                 40000 + i);
        sshd(c, T0 + 2 * 3600 + i * 5, p);
    }
    snprintf(p, sizeof p, "Failed password for invalid user oracle from 203.0.113.50 port 40100 ssh2");
    sshd(c, T0 + 2 * 3600 + 305, p);
    snprintf(p, sizeof p, "Accepted password for bob from 203.0.113.50 port 40111 ssh2");
    sshd(c, T0 + 2 * 3600 + 320, p);
}

/* Logons relayed through a front end (RD Gateway, ADFS, OWA basic auth)
 * carry the NAT address and no workstation: the shape that puts a whole
 * office in one Sigma group. */
static void busy_office(gen_ctx *c)
{
    gen_rng r = {2024};
    char user[32];
    for (int u = 0; u < 400; u++) {
        snprintf(user, sizeof user, "user%03d", u);
        /* everybody arrives between 08:00 and 09:30 */
        int64_t t = T0 + 3600 + (int64_t)gen_below(&r, 5400);
        if (u % 8 == 0) { /* a typo fixed within three minutes */
            logon(c, t, false, user, "198.18.0.20", "-", "0xc000006a");
            t += 20 + (int64_t)gen_below(&r, 160);
        }
        logon(c, t, true, user, "198.18.0.20", "-", "0x0");
        if (u % 50 == 7) { /* after lunch, another typo, fixed */
            logon(c, t + 4 * 3600, false, user, "198.18.0.20", "-", "0xc000006a");
            logon(c, t + 4 * 3600 + 45, true, user, "198.18.0.20", "-", "0x0");
        }
    }
    /* a phone with an old password, every 15 minutes all morning */
    for (int i = 0; i < 12; i++)
        logon(c, T0 + 3600 + i * 900, false, "user123", "198.18.0.20", "-", "0xc000006a");
}

static void office_spray(gen_ctx *c)
{
    char user[32];
    busy_office(c);
    for (int i = 0; i < 40; i++) {
        snprintf(user, sizeof user, "user%03d", 200 + i * 3);
        logon(c, T0 + 2 * 3600 + i * 7, false, user, "203.0.113.66", "-", "0xc000006a");
    }
}

static void benign_4648(gen_ctx *c)
{
    static const char *const svc[] = {"svc-backup", "svc-report", "svc-sql"};
    for (int h = 0; h < 24; h++)
        for (int i = 0; i < 3; i++)
            explicit_logon(c, T0 + h * 3600 + i * 60, "SRV01$", svc[i], "localhost",
                           "C:\\Windows\\System32\\svchost.exe");
    for (int i = 0; i < 4; i++)
        explicit_logon(c, T0 + 7200 + i * 300, "carol", i % 2 ? "carol-adm" : "da-carol",
                       "DC01.contoso.local", "C:\\Windows\\System32\\runas.exe");
}

static void benign_ssh(gen_ctx *c)
{
    char p[160];
    for (int i = 0; i < 30; i++) {
        const char *u = staff[i % 6];
        if (i % 7 == 0) {
            snprintf(p, sizeof p, "Failed password for %s from 10.1.3.%d port %d ssh2", u, i, 51000 + i);
            sshd(c, T0 + i * 1200, p);
        }
        snprintf(p, sizeof p, "Accepted password for %s from 10.1.3.%d port %d ssh2", u, i, 52000 + i);
        sshd(c, T0 + i * 1200 + 15, p);
    }
}

/* The application pools of a line-of-business site, all day. */
static void sql_apps(gen_ctx *c)
{
    static const char *const apps[] = {"app_web", "app_report", "app_batch"};
    for (int i = 0; i < 24 * 6; i++)
        sql_login(c, T0 + i * 600, apps[i % 3], NULL, i % 3 == 2 ? "10.1.5.12" : "10.1.5.10");
}

static void mssql_brute(gen_ctx *c)
{
    static const char *const logins[] = {"admin", "sqladmin", "backup", "test", "dbo", "root",
                                         "sqlsvc", "reports", "web", "guest", "sql", "mssql"};
    sql_apps(c);
    /* a night of guessing sa from one client, then a list of logins */
    for (int i = 0; i < 120; i++)
        sql_login(c, T0 + 19 * 3600 + i * 2, "sa", SQL_BADPW, "192.0.2.77");
    for (size_t i = 0; i < KS_GEN_ARRAY(logins); i++)
        sql_login(c, T0 + 19 * 3600 + 300 + (int64_t)i, logins[i], SQL_NOLOGIN, "192.0.2.77");
    sql_login(c, T0 + 19 * 3600 + 400, "sa", NULL, "192.0.2.77");
}

static void mssql_benign(gen_ctx *c)
{
    sql_apps(c);
    /* a developer mistypes twice, then gets in */
    for (int d = 0; d < 5; d++) {
        int64_t t = T0 + 2 * 3600 + d * 3600;
        sql_login(c, t, "dev_carol", SQL_BADPW, "10.1.7.31");
        sql_login(c, t + 30, "dev_carol", SQL_BADPW, "10.1.7.31");
        sql_login(c, t + 60, "dev_carol", NULL, "10.1.7.31");
    }
    /* a reporting job with last month's password, every 15 minutes */
    for (int i = 0; i < 12; i++)
        sql_login(c, T0 + 3600 + i * 900, "app_export", SQL_BADPW, "10.1.5.20");
    /* someone types a Windows name into SQL authentication */
    sql_login(c, T0 + 5 * 3600, "CONTOSO\\erin",
              "Attempting to use an NT account name with SQL Server Authentication.", "10.1.7.44");
}

static const struct {
    const char *file, *computer;
    void (*fill)(gen_ctx *c);
} files[] = {
    {"spray-4648.evtx", "WKS-ENG-12.contoso.local", spray_4648},
    {"local-brute.evtx", "WKS-FIN-07.contoso.local", local_brute},
    {"openssh-brute.evtx", "JUMP01.contoso.local", openssh_brute},
    {"busy-office.evtx", "DC01.contoso.local", busy_office},
    {"office-spray.evtx", "DC01.contoso.local", office_spray},
    {"benign-4648.evtx", "SRV01.contoso.local", benign_4648},
    {"benign-ssh.evtx", "JUMP02.contoso.local", benign_ssh},
    {"mssql-brute.evtx", "SQL01.contoso.local", mssql_brute},
    {"mssql-benign.evtx", "SQL02.contoso.local", mssql_benign},
};

/* The demo leaves out busy-office.evtx: office-spray.evtx holds the same
 * day plus the spray, and one hunt over both would read every office
 * logon twice (a duplicated log, not the evidence the demo shows). */
static int write_all(const char *dir, bool demo)
{
    char path[4200];
    if (gen_mkdirs(dir) != 0)
        return -1;
    for (size_t i = 0; i < KS_GEN_ARRAY(files); i++) {
        gen_ctx c = {NULL, files[i].computer, 0};
        if (demo && files[i].fill == busy_office)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, files[i].file);
        if (evtxw_open(path, &c.w) != 0)
            return -1;
        files[i].fill(&c);
        if (evtxw_close(c.w) != 0 || c.rc != 0)
            return -1;
    }
    return 0;
}

int gen_identity_demo(const char *dir)
{
    char d[4096];
    snprintf(d, sizeof d, "%s/identity", dir);
    return write_all(d, true);
}

int gen_identity_run(int argc, char **argv)
{
    const char *out = NULL;
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
    if (!out) {
        fprintf(stderr, "usage: kensa-gen identity --out DIR\n");
        return 2;
    }
    return write_all(out, false) == 0 ? 0 : 1;
}
