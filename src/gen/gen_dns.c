/* SPDX-License-Identifier: Apache-2.0
 *
 * Network evidence generator: DNS, proxy and flow logs of a small office
 * in every format kensa reads, with SUNBURST beacons for victim domains
 * kensa's own encoder writes (so the decoder is tested on names no list
 * holds) and C2 traffic to the published SUNBURST infrastructure, hidden
 * in ordinary lookups and connections.
 *
 *   kensa-gen dns --out DIR [--benign] [--seed S] [--clients N] [--hours H]
 *
 * Layout of DIR:
 *   dns/dns.log            Windows DNS server debug log (with details)
 *   zeek/{dns,conn,http,ssl}.log   Zeek TSV
 *   zeek-json/dns.log      Zeek JSON lines
 *   sysmon/sysmon22.jsonl  Sysmon event 22, Winlogbeat/ECS JSON
 *   suricata/eve.json      Suricata EVE (dns, tls, http, alert)
 *   squid/access.log       Squid native access log
 *   vpc/flowlogs.log       AWS VPC flow logs (version 2)
 *   pdns/pdns.csv          passive DNS (first/last seen, rrname, rrtype, rdata)
 *   azure/nsg.json         Azure NSG flow log (version 2)
 *
 * --benign writes the same traffic without any beacon or C2 contact: the
 * negative set (no SUNBURST/C2 finding at medium or above). The victims
 * written are listed in DIR/victims.txt (domain, GUID, client) for tests.
 * Deterministic for a seed.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gen.h"
#include "detect/sunburst_dga.h"

#define T0 1592000000 /* 2020-06-12T22:13:20Z */
#define NAMES_MAX 40
#define KS_GEN_ARRAY(a) (sizeof(a) / sizeof((a)[0]))

/* Everyday destinations: (name, address). */
static const char *const popular[][2] = {
    {"www.google.com", "142.250.74.36"},     {"outlook.office365.com", "52.97.146.162"},
    {"login.microsoftonline.com", "20.190.160.20"}, {"www.bing.com", "13.107.21.200"},
    {"update.solarwinds.com", "104.16.110.20"}, {"github.com", "140.82.121.4"},
    {"www.wikipedia.org", "185.15.59.224"},  {"teams.microsoft.com", "52.113.194.132"},
    {"ctldl.windowsupdate.com", "93.184.221.240"}, {"slack.com", "3.120.102.48"},
    {"www.linkedin.com", "13.107.42.14"},    {"cdn.jsdelivr.net", "151.101.1.229"},
    {"api.weather.com", "23.41.56.89"},      {"www.reuters.com", "104.18.22.134"},
    {"fileserver.corp.example", "10.20.0.10"}, {"intranet.corp.example", "10.20.0.11"},
};

/* A victim: who beacons, from where, through which logs. */
typedef struct victim {
    const char *domain;
    uint8_t guid[8];
    const char *client, *host;
    bool activated;          /* CNAME to a second-stage server, stage-2 flag */
} victim;

static const victim victims[] = {
    {"corp.contoso-lab.example", {0x10, 0x3a, 0x51, 0x77, 0x02, 0x9c, 0xe4, 0x18},
     "10.20.1.15", "ORION01.corp.example", false},
    {"FINANCE.Example-Holdings.LOCAL", {0x21, 0x44, 0x90, 0x0d, 0x6e, 0x31, 0xaa, 0x7b},
     "10.20.2.30", "ORION02.fin.example", false},
    {"ops.example.net", {0x36, 0x08, 0xc2, 0x5f, 0x19, 0x84, 0x3d, 0xe0},
     "10.20.3.40", "ORION03.ops.example", true},
};

static const char C2_CNAME[] = "deftsecurity.com";
static const char C2_IP[] = "13.59.205.66";

typedef struct out {
    FILE *dbg, *zdns, *zconn, *zhttp, *zssl, *zjson, *sysmon, *eve, *squid, *vpc, *pdns, *nsg;
    int nsg_first;
    gen_rng r;
} out;

static void iso(int64_t t, char *b, size_t cap)
{
    gen_time(t, b, cap);
}

/* ---- DNS records in each format -------------------------------------- */

typedef struct dnsrec {
    int64_t t;
    const char *client, *host, *query, *qtype;
    const char *ans[3];
    const char *anstype[3];   /* "A" or "CNAME" */
    int nans;
} dnsrec;

static void wire(const char *name, char *b, size_t cap)
{
    size_t o = 0;
    const char *p = name;
    while (*p && o + 70 < cap) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        o += (size_t)snprintf(b + o, cap - o, "(%zu)%.*s", l, (int)l, p);
        p += l + (dot ? 1 : 0);
    }
    snprintf(b + o, cap - o, "(0)");
}

static void dbg_time(int64_t t, char *b, size_t cap)
{
    char iso_b[32];
    int y, mo, d, h, mi, s;
    iso(t, iso_b, sizeof iso_b);
    sscanf(iso_b, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s);
    snprintf(b, cap, "%d/%d/%d %d:%02d:%02d %s", mo, d, y, h % 12 ? h % 12 : 12, mi, s, h < 12 ? "AM" : "PM");
}

static void write_dbg(out *o, const dnsrec *r, unsigned xid)
{
    char tb[48], w[300];
    dbg_time(r->t, tb, sizeof tb);
    wire(r->query, w, sizeof w);
    fprintf(o->dbg, "%s 0E60 PACKET  000000D5E7A8B1C0 UDP Rcv %-15s %04x   Q [0001   D   NOERROR] %-6s %s\r\n",
            tb, r->client, xid, r->qtype, w);
    fprintf(o->dbg, "%s 0E60 PACKET  000000D5E7A8B1C0 UDP Snd %-15s %04x R Q [8081   DR  NOERROR] %-6s %s\r\n",
            tb, r->client, xid, r->qtype, w);
    if (r->nans) {
        fprintf(o->dbg, "UDP response info at 000000D5E7A8B1C0\r\n  Socket = 508\r\n  ANSWER SECTION:\r\n");
        for (int i = 0; i < r->nans; i++) {
            fprintf(o->dbg, "    Name      \"[C00C]%s\"\r\n      TYPE   %s\r\n", w, r->anstype[i]);
            if (!strcmp(r->anstype[i], "CNAME")) {
                char wa[300];
                wire(r->ans[i], wa, sizeof wa);
                fprintf(o->dbg, "      DATA   %s\r\n", wa);
            } else {
                fprintf(o->dbg, "      DATA   %s\r\n", r->ans[i]);
            }
        }
        fprintf(o->dbg, "\r\n");
    }
}

static void join_ans(const dnsrec *r, char sep, char *b, size_t cap)
{
    size_t n = 0;
    b[0] = 0;
    for (int i = 0; i < r->nans; i++)
        n += (size_t)snprintf(b + n, cap - n, "%s%s", i ? (char[]){sep, 0} : "", r->ans[i]);
}

static void write_zeek_dns(out *o, const dnsrec *r, unsigned xid)
{
    char ans[300];
    join_ans(r, ',', ans, sizeof ans);
    fprintf(o->zdns, "%lld.%06u\tC%08x\t%s\t%u\t10.20.0.53\t53\tudp\t%u\t0.012\t%s\t1\tC_INTERNET\t1\t%s\t0\tNOERROR\tF\tF\tT\tT\t0\t%s\t%s\tF\n",
            (long long)r->t, xid * 7 % 1000000, xid, r->client, 49152 + xid % 16000, xid, r->query,
            r->qtype, r->nans ? ans : "-", r->nans ? "300.000000" : "-");
}

static void write_zeek_json(out *o, const dnsrec *r, unsigned xid)
{
    fprintf(o->zjson, "{\"ts\":%lld.25,\"uid\":\"J%08x\",\"id.orig_h\":\"%s\",\"id.orig_p\":%u,\"id.resp_h\":\"10.20.0.53\","
            "\"id.resp_p\":53,\"proto\":\"udp\",\"query\":\"%s\",\"qtype_name\":\"%s\",\"rcode_name\":\"NOERROR\",\"answers\":[",
            (long long)r->t, xid, r->client, 49152 + xid % 16000, r->query, r->qtype);
    for (int i = 0; i < r->nans; i++)
        fprintf(o->zjson, "%s\"%s\"", i ? "," : "", r->ans[i]);
    fprintf(o->zjson, "]}\n");
}

static void write_sysmon(out *o, const dnsrec *r)
{
    char tb[40], ans[400] = "";
    size_t n = 0;
    iso(r->t, tb, sizeof tb);
    for (int i = 0; i < r->nans; i++)
        n += (size_t)snprintf(ans + n, sizeof ans - n, !strcmp(r->anstype[i], "CNAME") ? "type:  5 %s;" : "::ffff:%s;",
                              r->ans[i]);
    fprintf(o->sysmon, "{\"@timestamp\":\"%s\",\"event\":{\"code\":\"22\",\"provider\":\"Microsoft-Windows-Sysmon\"},"
            "\"winlog\":{\"channel\":\"Microsoft-Windows-Sysmon/Operational\",\"event_id\":22,\"computer_name\":\"%s\","
            "\"event_data\":{\"RuleName\":\"-\",\"UtcTime\":\"%s\",\"ProcessGuid\":\"{5a1e2b3c-0000-0000-0000-000000000000}\","
            "\"ProcessId\":\"4120\",\"QueryName\":\"%s\",\"QueryStatus\":\"0\",\"QueryResults\":\"%s\","
            "\"Image\":\"C:\\\\Program Files (x86)\\\\SolarWinds\\\\Orion\\\\SolarWinds.BusinessLayerHost.exe\"}},"
            "\"host\":{\"name\":\"%s\",\"ip\":[\"%s\"]}}\n",
            tb, r->host, tb, r->query, ans, r->host, r->client);
}

static void write_eve_dns(out *o, const dnsrec *r, unsigned xid)
{
    char tb[40];
    iso(r->t, tb, sizeof tb);
    fprintf(o->eve, "{\"timestamp\":\"%s\",\"flow_id\":%u,\"event_type\":\"dns\",\"src_ip\":\"%s\",\"src_port\":%u,"
            "\"dest_ip\":\"10.20.0.53\",\"dest_port\":53,\"proto\":\"UDP\",\"dns\":{\"version\":2,\"type\":\"answer\","
            "\"id\":%u,\"rrname\":\"%s\",\"rrtype\":\"%s\",\"rcode\":\"NOERROR\",\"answers\":[",
            tb, xid, r->client, 49152 + xid % 16000, xid, r->query, r->qtype);
    for (int i = 0; i < r->nans; i++)
        fprintf(o->eve, "%s{\"rrname\":\"%s\",\"rrtype\":\"%s\",\"ttl\":300,\"rdata\":\"%s\"}", i ? "," : "",
                r->query, r->anstype[i], r->ans[i]);
    fprintf(o->eve, "]}}\n");
}

static void write_pdns(out *o, const dnsrec *r)
{
    char tb[40];
    iso(r->t, tb, sizeof tb);
    for (int i = 0; i < r->nans; i++)
        fprintf(o->pdns, "%s,%s,%s,%s,%s,1\n", tb, tb, r->query, r->anstype[i], r->ans[i]);
}

/* Routes a lookup to one DNS format (chosen per record, so a client's
 * lookups are spread over all of them, as in a real mixed estate). */
static void dns_emit(out *o, const dnsrec *r, int fmt)
{
    unsigned xid = (unsigned)gen_below(&o->r, 65536);
    switch (fmt % 6) {
    case 0: write_dbg(o, r, xid); break;
    case 1: write_zeek_dns(o, r, xid); break;
    case 2: write_zeek_json(o, r, xid); break;
    case 3: write_sysmon(o, r); break;
    case 4: write_eve_dns(o, r, xid); break;
    default: write_pdns(o, r); break;
    }
}

/* ---- connections ------------------------------------------------------- */

typedef struct conn {
    int64_t t;
    const char *client, *server, *name;  /* name: SNI / Host */
    unsigned dport;
    uint64_t bytes;
} conn;

static void conn_emit(out *o, const conn *c)
{
    char tb[40];
    unsigned sport = 49152 + (unsigned)gen_below(&o->r, 16000);
    iso(c->t, tb, sizeof tb);
    fprintf(o->zconn, "%lld.100000\tK%08x\t%s\t%u\t%s\t%u\ttcp\t%s\t1.2\t%llu\t%llu\tSF\tT\tF\t0\tShADadFf\t12\t1400\t10\t5600\t-\n",
            (long long)c->t, sport, c->client, sport, c->server, c->dport, c->dport == 443 ? "ssl" : "http",
            (unsigned long long)c->bytes, (unsigned long long)c->bytes * 4);
    if (c->dport == 443) {
        fprintf(o->zssl, "%lld.200000\tK%08x\t%s\t%u\t%s\t443\tTLSv12\tTLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\t%s\tT\t-\t%s\n",
                (long long)c->t, sport, c->client, sport, c->server, c->name, "72a589da586844d7f0818ce684948eea");
        fprintf(o->eve, "{\"timestamp\":\"%s\",\"event_type\":\"tls\",\"src_ip\":\"%s\",\"src_port\":%u,\"dest_ip\":\"%s\","
                "\"dest_port\":443,\"proto\":\"TCP\",\"tls\":{\"sni\":\"%s\",\"version\":\"TLS 1.2\",\"ja3\":{\"hash\":"
                "\"72a589da586844d7f0818ce684948eea\"},\"ja3s\":{\"hash\":\"f4febc55ea12b31ae17cfb7e614afda8\"}}}\n",
                tb, c->client, sport, c->server, c->name);
        fprintf(o->squid, "%lld.%03u %6u %s TCP_TUNNEL/200 %llu CONNECT %s:443 - HIER_DIRECT/%s -\n", (long long)c->t,
                sport % 1000, 200 + sport % 900, c->client, (unsigned long long)c->bytes * 4, c->name, c->server);
    } else {
        fprintf(o->zhttp, "%lld.300000\tK%08x\t%s\t%u\t%s\t80\t1\tGET\t%s\t/index.html\t-\t1.1\tMozilla/5.0\t0\t%llu\t200\tOK\n",
                (long long)c->t, sport, c->client, sport, c->server, c->name, (unsigned long long)c->bytes);
        fprintf(o->eve, "{\"timestamp\":\"%s\",\"event_type\":\"http\",\"src_ip\":\"%s\",\"src_port\":%u,\"dest_ip\":\"%s\","
                "\"dest_port\":80,\"proto\":\"TCP\",\"http\":{\"hostname\":\"%s\",\"url\":\"/index.html\",\"http_method\":"
                "\"GET\",\"status\":200,\"length\":%llu}}\n",
                tb, c->client, sport, c->server, c->name, (unsigned long long)c->bytes);
        fprintf(o->squid, "%lld.%03u %6u %s TCP_MISS/200 %llu GET http://%s/index.html - HIER_DIRECT/%s text/html\n",
                (long long)c->t, sport % 1000, 100 + sport % 900, c->client, (unsigned long long)c->bytes, c->name,
                c->server);
    }
    fprintf(o->vpc, "2 123456789012 eni-0a1b2c3d4e5f60718 %s %s %u %u 6 12 %llu %lld %lld ACCEPT OK\n", c->client,
            c->server, sport, c->dport, (unsigned long long)c->bytes, (long long)c->t, (long long)c->t + 5);
    fprintf(o->nsg, "%s\"%lld,%s,%s,%u,%u,T,O,A,E,12,%llu,10,%llu\"", o->nsg_first ? "" : ",", (long long)c->t,
            c->client, c->server, sport, c->dport, (unsigned long long)c->bytes, (unsigned long long)c->bytes * 4);
    o->nsg_first = 0;
}

/* ---- the scenario ----------------------------------------------------- */

static void headers(out *o)
{
    fprintf(o->dbg, "DNS Server log file creation at 6/12/2020 10:00:00 PM\r\nLog file wrap at 6/12/2020 10:00:00 PM\r\n\r\n"
            "Message logging key (for packets - other items use a subset of these fields):\r\n"
            "\tField #  Information         Values\r\n\t-------  -----------         ------\r\n"
            "\t   1     Date\r\n\t   2     Time\r\n\t   3     Thread ID\r\n\t   4     Context\r\n"
            "\t   5     Internal packet identifier\r\n\t   6     UDP/TCP indicator\r\n\t   7     Send/Receive indicator\r\n"
            "\t   8     Remote IP\r\n\t   9     Xid (hex)\r\n\t  10     Query/Response      R = Response\r\n"
            "\t  11     Opcode              Q = Standard Query\r\n\t  12     [ Flags (hex)\r\n"
            "\t  13     Flags (char codes)  A = Authoritative Answer\r\n\t  14     ResponseCode ]\r\n"
            "\t  15     Question Type\r\n\t  16     Question Name\r\n\r\n");
    static const char zh[] = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t%s\n"
                             "#open\t2020-06-12-22-00-00\n#fields\t%s\n";
    fprintf(o->zdns, zh, "dns",
            "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\t"
            "qtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected");
    fprintf(o->zconn, zh, "conn",
            "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\t"
            "conn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\t"
            "resp_ip_bytes\ttunnel_parents");
    fprintf(o->zhttp, zh, "http",
            "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\ttrans_depth\tmethod\thost\turi\treferrer\tversion\t"
            "user_agent\trequest_body_len\tresponse_body_len\tstatus_code\tstatus_msg");
    fprintf(o->zssl, zh, "ssl",
            "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tversion\tcipher\tserver_name\testablished\t"
            "subject\tja3");
    fprintf(o->vpc, "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
                    "action log-status\n");
    fprintf(o->pdns, "first_seen,last_seen,rrname,rrtype,rdata,count\n");
    fprintf(o->nsg, "{\"records\":[{\"time\":\"2020-06-12T22:00:00.0000000Z\",\"systemId\":\"5f1e\",\"category\":"
                    "\"NetworkSecurityGroupFlowEvent\",\"resourceId\":\"/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/"
                    "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG1\",\"operationName\":\"NetworkSecurityGroupFlowEvents\","
                    "\"properties\":{\"Version\":2,\"flows\":[{\"rule\":\"DefaultRule_AllowInternetOutBound\",\"flows\":"
                    "[{\"mac\":\"000D3AF87856\",\"flowTuples\":[");
    o->nsg_first = 1;
}

static void benign(out *o, int clients, int hours)
{
    int64_t end = T0 + (int64_t)hours * 3600;
    for (int c = 0; c < clients; c++) {
        char ip[32], host[64];
        snprintf(ip, sizeof ip, "10.20.%d.%d", 10 + c / 200, 50 + c % 200);
        snprintf(host, sizeof host, "WS%03d.corp.example", c);
        for (int64_t t = T0 + (int64_t)gen_below(&o->r, 600); t < end;
             t += 30 + (int64_t)gen_below(&o->r, 900)) {
            size_t k = gen_below(&o->r, KS_GEN_ARRAY(popular));
            dnsrec r = {.t = t, .client = ip, .host = host, .query = popular[k][0], .qtype = "A", .nans = 1};
            r.ans[0] = popular[k][1];
            r.anstype[0] = "A";
            dns_emit(o, &r, (int)gen_below(&o->r, 6));
            if (gen_below(&o->r, 3) == 0) {
                /* one draw a statement: an initialiser list's order is open too */
                unsigned port = gen_below(&o->r, 4) ? 443u : 80u;
                conn cn = {t + 1, ip, popular[k][1], popular[k][0], port, 500 + gen_below(&o->r, 20000)};
                conn_emit(o, &cn);
            }
        }
    }
}

static int write_victims(out *o, const char *dir, int hours)
{
    ks_sb_rng rng = o->r.s | 1;
    FILE *vf = gen_open(dir, "victims.txt");
    if (!vf)
        return -1;
    for (size_t v = 0; v < KS_GEN_ARRAY(victims); v++) {
        const victim *vi = &victims[v];
        char names[NAMES_MAX][KS_SB_NAME_MAX], gs[17];
        size_t n = ks__sb_encode_domain(vi->guid, vi->domain, &rng, names, NAMES_MAX);
        for (int i = 0; i < 8; i++)
            snprintf(gs + 2 * i, 3, "%02X", vi->guid[i]);
        fprintf(vf, "%s\t%s\t%s\t%s\n", vi->domain, gs, vi->client, vi->activated ? "activated" : "beacon");
        /* Beacons every 1-3 hours (the implant sleeps), fragments in
         * turn; each victim's lookups go to two formats. */
        int64_t t = T0 + 600 + (int64_t)v * 300;
        for (int b = 0; t < T0 + (int64_t)hours * 3600; b++) {
            dnsrec r = {.t = t, .client = vi->client, .host = vi->host, .qtype = "A", .nans = 1};
            char tname[KS_SB_NAME_MAX];
            if (b < (int)n) {
                r.query = names[b];
            } else {
                ks__sb_encode_time(vi->guid, t * 1000000000ll, vi->activated && b > (int)n, NULL, 0, &rng,
                                   tname, sizeof tname);
                r.query = tname;
            }
            r.ans[0] = "20.140.0.1"; /* an "ImpLink" reply: keep beaconing */
            r.anstype[0] = "A";
            if (vi->activated && b == (int)n) {
                r.ans[0] = C2_CNAME;
                r.anstype[0] = "CNAME";
                r.ans[1] = C2_IP;
                r.anstype[1] = "A";
                r.nans = 2;
            }
            /* the DNS server, Zeek or Sysmon logs it; a second sensor
             * (Zeek JSON, Suricata, passive DNS) sees it too */
            static const int primary[] = {0, 1, 3}, second[] = {2, 4, 5};
            dns_emit(o, &r, primary[(v + (size_t)b) % 3]);
            dns_emit(o, &r, second[(v + (size_t)b) % 3]);
            if (vi->activated && b > (int)n) {
                conn cn = {t + 2, vi->client, C2_IP, C2_CNAME, 443, 4000 + gen_below(&o->r, 500)};
                conn_emit(o, &cn);
            }
            t += 3600 + (int64_t)gen_below(&o->r, 7200);
        }
    }
    /* An implant on no list, checking in every minute (10% jitter) to a
     * server nobody else reaches: for the beaconing analytics. */
    for (int64_t t = T0 + 3600; t < T0 + 3 * 3600 && t < T0 + (int64_t)hours * 3600;
         t += 54 + (int64_t)gen_below(&o->r, 13)) {
        conn cn = {t, "10.20.4.50", "45.77.12.99", "cdn-update.example", 443, 300 + gen_below(&o->r, 50)};
        conn_emit(o, &cn);
    }
    fclose(vf);
    return 0;
}

static int generate(const char *dir, bool benign_only, uint64_t seed, int clients, int hours)
{
    out o = {.r = {seed ? seed : 1}};
    int rc = -1;
    const struct {
        FILE **fp;
        const char *sub, *name; /* written as dir/sub/name */
    } files[] = {
        {&o.dbg, "dns", "dns.log"},        {&o.zdns, "zeek", "dns.log"},
        {&o.zconn, "zeek", "conn.log"},    {&o.zhttp, "zeek", "http.log"},
        {&o.zssl, "zeek", "ssl.log"},      {&o.zjson, "zeek-json", "dns.log"},
        {&o.sysmon, "sysmon", "sysmon22.jsonl"}, {&o.eve, "suricata", "eve.json"},
        {&o.squid, "squid", "access.log"}, {&o.vpc, "vpc", "flowlogs.log"},
        {&o.pdns, "pdns", "pdns.csv"},     {&o.nsg, "azure", "nsg.json"},
    };
    bool opened = true;
    for (size_t i = 0; i < KS_GEN_ARRAY(files); i++) {
        char d[1024];
        snprintf(d, sizeof d, "%s/%s", dir, files[i].sub);
        opened &= (*files[i].fp = gen_open(d, files[i].name)) != NULL;
    }
    if (!opened)
        goto out;
    headers(&o);
    benign(&o, clients, hours);
    if (!benign_only && write_victims(&o, dir, hours) != 0)
        goto out;
    fprintf(o.nsg, "]}]}]}}]}\n");
    rc = 0;
out:
    for (size_t i = 0; i < KS_GEN_ARRAY(files); i++)
        if (*files[i].fp)
            fclose(*files[i].fp);
    return rc;
}

int gen_dns_run(int argc, char **argv)
{
    const char *dir = NULL;
    bool benign_only = false;
    uint64_t seed = 18;
    int clients = 40, hours = 24;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--benign"))
            benign_only = true;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--clients") && i + 1 < argc)
            clients = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--hours") && i + 1 < argc)
            hours = (int)strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: kensa-gen dns --out DIR [--benign] [--seed S] [--clients N] [--hours H]\n");
            return 2;
        }
    }
    if (!dir || hours <= 0 || hours > 24 * 365 || clients < 0 || clients > 100000) {
        fprintf(stderr, "kensa-gen dns: --out DIR is required (hours 1..8760, clients <= 100000)\n");
        return 2;
    }
    return generate(dir, benign_only, seed, clients, hours) ? 1 : 0;
}

int gen_dns_demo(const char *dir)
{
    char d[1024];
    snprintf(d, sizeof d, "%s/network", dir);
    return generate(d, false, 18, 25, 24);
}
