/* SPDX-License-Identifier: Apache-2.0
 *
 * EVTX generator: Security logs with logons, failures and Kerberos/NTLM
 * events in the shapes Windows writes, via evtx_writer. `kensa-gen evtx
 * --records N --out FILE` for tests and benchmarks (deterministic); the
 * demo writes a domain controller's Security.evtx with a password spray
 * (4625 / 4771 across many accounts from one workstation) among ordinary
 * logons, ending in a successful network logon.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "evtx_writer.h"
#include "gen.h"

static const char *const accounts[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace",
                                       "heidi", "ivan", "judy", "mallory", "oscar", "peggy",
                                       "trent", "victor", "walter", "svc-sql", "testadmin"};

/* One Security event of kind id (4624, 4625, 4771, 4776, 4648). */
static int write_event(evtx_writer *w, uint16_t id, int64_t t, const char *user, const char *ip,
                       const char *wks, uint32_t logon_type, const char *status)
{
    char lt[16];
    snprintf(lt, sizeof lt, "%u", logon_type);
    evtxw_field f[12];
    size_t n = 0;
    if (id == 4624 || id == 4625) {
        f[n++] = (evtxw_field){"SubjectUserSid", "S-1-0-0", EVTXW_SID};
        f[n++] = (evtxw_field){"TargetUserSid", "S-1-0-0", EVTXW_SID};
        f[n++] = (evtxw_field){"TargetUserName", user, EVTXW_STR};
        f[n++] = (evtxw_field){"TargetDomainName", "CONTOSO", EVTXW_STR};
        if (id == 4625) {
            f[n++] = (evtxw_field){"Status", "0xc000006d", EVTXW_HEX32};
            f[n++] = (evtxw_field){"SubStatus", status, EVTXW_HEX32};
        }
        f[n++] = (evtxw_field){"LogonType", lt, EVTXW_U32};
        f[n++] = (evtxw_field){"LogonProcessName", "NtLmSsp ", EVTXW_STR};
        f[n++] = (evtxw_field){"AuthenticationPackageName", "NTLM", EVTXW_STR};
        f[n++] = (evtxw_field){"WorkstationName", wks, EVTXW_STR};
        f[n++] = (evtxw_field){"IpAddress", ip, EVTXW_STR};
        f[n++] = (evtxw_field){"IpPort", "0", EVTXW_STR};
    } else if (id == 4771) {
        f[n++] = (evtxw_field){"TargetUserName", user, EVTXW_STR};
        f[n++] = (evtxw_field){"ServiceName", "krbtgt/CONTOSO", EVTXW_STR};
        f[n++] = (evtxw_field){"TicketOptions", "0x40810010", EVTXW_HEX32};
        f[n++] = (evtxw_field){"Status", "0x18", EVTXW_HEX32};
        f[n++] = (evtxw_field){"IpAddress", ip, EVTXW_STR};
    } else if (id == 4776) {
        f[n++] = (evtxw_field){"PackageName", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0", EVTXW_STR};
        f[n++] = (evtxw_field){"TargetUserName", user, EVTXW_STR};
        f[n++] = (evtxw_field){"Workstation", wks, EVTXW_STR};
        f[n++] = (evtxw_field){"Status", status, EVTXW_HEX32};
    } else {
        f[n++] = (evtxw_field){"SubjectUserName", "svc-sql", EVTXW_STR};
        f[n++] = (evtxw_field){"TargetUserName", user, EVTXW_STR};
        f[n++] = (evtxw_field){"TargetServerName", "FS01", EVTXW_STR};
        f[n++] = (evtxw_field){"IpAddress", ip, EVTXW_STR};
    }
    evtxw_record r = {id, t, 0, "Microsoft-Windows-Security-Auditing", "Security", "DC01.contoso.local", f, n};
    return evtxw_add(w, &r);
}

#define DEMO_START 1706745600ll /* 2024-02-01T00:00:00Z */
#define NS 1000000000ll

int gen_evtx_demo(const char *dir)
{
    char d[4096], path[4200];
    evtx_writer *w = NULL;
    gen_rng r = {7};
    snprintf(d, sizeof d, "%s/evtx", dir);
    if (gen_mkdirs(d) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/Security.evtx", d);
    if (evtxw_open(path, &w) != 0)
        return -1;
    int rc = 0;
    /* ordinary interactive and network logons over the day */
    for (int i = 0; i < 200 && rc == 0; i++) {
        const char *u = accounts[gen_below(&r, 16)];
        rc = write_event(w, 4624, (DEMO_START + 8 * 3600 + i * 120) * NS, u, "10.1.2.30", "WKS-FIN-07",
                         gen_below(&r, 2) ? 3 : 2, "0x0");
    }
    /* a few typos */
    for (int i = 0; i < 4 && rc == 0; i++)
        rc = write_event(w, 4625, (DEMO_START + 9 * 3600 + i * 900) * NS, accounts[i], "10.1.2.31",
                         "WKS-HR-02", 2, "0xc000006a");
    /* the spray: one workstation, every account, one or two tries each */
    for (int k = 0; k < 2 && rc == 0; k++)
        for (size_t i = 0; i < sizeof accounts / sizeof accounts[0] && rc == 0; i++)
            rc = write_event(w, 4625, (DEMO_START + 13 * 3600 + k * 1800 + (int64_t)i * 20) * NS, accounts[i],
                             "172.16.9.44", "KALI", 3, i % 5 == 4 ? "0xc0000064" : "0xc000006a");
    for (size_t i = 0; i < 10 && rc == 0; i++)
        rc = write_event(w, 4771, (DEMO_START + 14 * 3600 + (int64_t)i * 30) * NS, accounts[i], "172.16.9.44",
                         "KALI", 0, "0x18");
    /* and the account that had the sprayed password */
    if (rc == 0)
        rc = write_event(w, 4624, (DEMO_START + 15 * 3600) * NS, "testadmin", "172.16.9.44", "KALI", 3, "0x0");
    if (evtxw_close(w) != 0)
        rc = -1;
    return rc;
}

int gen_evtx_run(int argc, char **argv)
{
    uint64_t records = 10000;
    const char *out = NULL;
    evtx_writer *w = NULL;
    gen_rng r = {42};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--records"))
            records = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
    }
    if (!out) {
        fprintf(stderr, "usage: kensa-gen evtx --records N --out FILE\n");
        return 2;
    }
    if (evtxw_open(out, &w) != 0)
        return 1;
    static const uint16_t ids[] = {4624, 4624, 4624, 4625, 4771, 4776, 4648};
    for (uint64_t i = 0; i < records; i++) {
        char ip[32], wks[32];
        /* one draw a statement, in a fixed order: C leaves a call's
         * argument order open (gcc right to left, clang left to right) */
        unsigned d = (unsigned)gen_below(&r, 250) + 1, c = (unsigned)gen_below(&r, 250),
                 b = (unsigned)gen_below(&r, 4);
        snprintf(ip, sizeof ip, "10.%u.%u.%u", b, c, d);
        snprintf(wks, sizeof wks, "WKS-%04u", (unsigned)gen_below(&r, 5000));
        uint16_t id = ids[gen_below(&r, sizeof ids / sizeof ids[0])];
        uint32_t status = (uint32_t)gen_below(&r, 11) + 2;
        const char *account = accounts[gen_below(&r, 18)];
        if (write_event(w, id, (DEMO_START + (int64_t)i) * NS, account, ip, wks, status, "0xc000006a") != 0) {
            evtxw_close(w);
            return 1;
        }
    }
    return evtxw_close(w) == 0 ? 0 : 1;
}
