/* SPDX-License-Identifier: Apache-2.0
 *
 * The network log inputs, one record shape at a time: Windows DNS debug
 * logs (header block, wire-form names, AM/PM and ISO dates, details with
 * answers, damaged packet lines), Zeek TSV (#fields, unset/empty, escapes,
 * ts) and the network view that reads them and the JSON shapes (Sysmon 22,
 * Suricata EVE, ECS) under one set of names.
 */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "kensa_int.h"
#include "detect/netfields.h"

typedef struct run {
    ks_engine *e;
    ks_worker w;
    ks_net_syms *ns;
    ks_buf out;      /* one line per event: L<line> time|name=value|... */
    ks_buf view;     /* one line per event: the network view */
    int nwarn;
} run;

static void on_diag(void *ud, const ks_diag *d)
{
    run *r = ud;
    if (d->level >= KS_DIAG_WARN)
        r->nwarn++;
}

static void run_init(run *r)
{
    memset(r, 0, sizeof *r);
    ks_engine_new(&r->e);
    ks_engine_on_diag(r->e, on_diag, r);
    if (ks__worker_init(&r->w, r->e, 0) != KS_OK)
        abort();
    r->ns = ks__net_syms_new(ks__engine_symtab(r->e));
}

static void run_release(run *r)
{
    ks__worker_release(&r->w);
    ks__net_syms_free(r->ns);
    ks__buf_release(&r->out);
    ks__buf_release(&r->view);
    ks_engine_free(r->e);
}

static void add_view(run *r)
{
    ks_net_view v;
    if (!ks__net_view(r->ns, &r->w.ev, &v))
        return;
    for (int i = 0; i < KS_NET_NFIELDS; i++) {
        char b[256];
        if (v.f[i]) {
            ks_value_format(v.f[i], b, sizeof b);
            ks__buf_printf(&r->view, "|%s=%s", ks__net_field_name(i), b);
        }
    }
    for (size_t i = 0; i < v.nanswers; i++)
        ks__buf_printf(&r->view, "|ans=%.*s", (int)v.answers[i].n, v.answers[i].p);
    ks__buf_addc(&r->view, '\n');
}

static int parse(run *r, const char *input, const char *data)
{
    const struct ks_input *in = ks__input_find(input);
    ks_source *src = NULL;
    void *st = NULL;
    int nev = 0;
    if (!in || ks__source_mem(data, strlen(data), "mem.log", &src) != KS_OK)
        return -1;
    ks_input_ctx ctx = {.src = src, .path = "mem.log", .w = &r->w, .begin = 0, .end = UINT64_MAX};
    r->w.ev.prov.path = "mem.log";
    r->w.ev.prov.format = in->name;
    if (in->open(&ctx, &st) == KS_OK) {
        for (;;) {
            ks__event_reset(&r->w.ev);
            if (in->next(st, &r->w.ev) != KS_OK)
                break;
            nev++;
            char tb[64] = "-";
            if (r->w.ev.time != KS_TIME_NONE)
                ks_time_format(r->w.ev.time, tb, sizeof tb);
            ks__buf_printf(&r->out, "L%llu %s", (unsigned long long)r->w.ev.prov.line, tb);
            for (size_t k = 0; k < r->w.ev.n; k++) {
                char vb[512];
                size_t ln;
                const char *nm = ks_symtab_str(r->w.ev.syms, r->w.ev.fields[k].name, &ln);
                ks_value_format(&r->w.ev.fields[k].v, vb, sizeof vb);
                ks__buf_printf(&r->out, "|%.*s=%s", (int)ln, nm, vb);
            }
            ks__buf_addc(&r->out, '\n');
            add_view(r);
        }
        in->close(st);
    }
    ks__source_close(src);
    return nev;
}

static bool has(const ks_buf *b, const char *s)
{
    bool ok = b->p && strstr(b->p, s) != NULL;
    if (!ok)
        fprintf(stderr, "missing '%s' in:\n%s\n", s, b->p ? b->p : "(empty)");
    return ok;
}

static int best_probe(const char *data, const char *name)
{
    int best = 0;
    const char *who = "";
    for (size_t i = 0; ks__inputs[i]; i++) {
        int s = ks__inputs[i]->probe((const uint8_t *)data, strlen(data), name);
        if (s > best)
            best = s, who = ks__inputs[i]->name;
    }
    return best ? (int)(strlen(who) * 1000 + who[0]) : 0;
}

static bool claimed_by(const char *data, const char *name, const char *input)
{
    int want = (int)(strlen(input) * 1000 + input[0]);
    return best_probe(data, name) == want;
}

static const char DNSDEBUG[] =
    "DNS Server log file creation at 6/1/2020 10:00:00 AM\r\n"
    "Log file wrap at 6/1/2020 10:00:00 AM\r\n"
    "\r\n"
    "Message logging key (for packets - other items use a subset of these fields):\r\n"
    "\tField #  Information         Values\r\n"
    "\t-------  -----------         ------\r\n"
    "\t   1     Date\r\n"
    "\r\n"
    "6/1/2020 10:00:01 AM 0E60 PACKET  000000D5E7A8B1C0 UDP Rcv 10.1.2.3        b9a4   Q "
    "[0001   D   NOERROR] A      (7)example(3)com(0)\r\n"
    "6/1/2020 10:00:01 AM 0E60 PACKET  000000D5E7A8B1C0 UDP Snd 10.1.2.3        b9a4 R Q "
    "[8081   DR  NOERROR] A      (7)example(3)com(0)\r\n"
    "UDP response info at 000000D5E7A8B1C0\r\n"
    "  Socket = 508\r\n"
    "  ANSWER SECTION:\r\n"
    "    Name      \"[C00C](7)example(3)com(0)\"\r\n"
    "      TYPE   CNAME  (5)\r\n"
    "      DATA   (3)www(7)example(3)com(0)\r\n"
    "      DATA   93.184.216.34\r\n"
    "\r\n"
    "6/1/2020 1:00:01 PM 0E60 PACKET  000000D5E7A8B1C0 UDP Snd 10.0.0.1 b9a5   Q "
    "[0001   D   NOERROR] AAAA   (3)foo(3)bar(0)\r\n"
    "6/1/2020 1:00:02 PM 0E60 PACKET  000000D5E7A8B1C0 UDP Rcv garbage here\r\n"
    "2020-06-02 08:00:00 0E60 PACKET  000000D5E7A8B1C0 TCP Rcv 10.1.2.9 0001   Q "
    "[0001   D   NXDOMAIN] TXT    (1)x(0)\r\n";

TEST(dnsdebug)
{
    run r;
    run_init(&r);
    CHECK(claimed_by(DNSDEBUG, "dns.log", "dnsdebug"));
    CHECK_INT(parse(&r, "dnsdebug", DNSDEBUG), 4);
    CHECK(has(&r.out, "L9 2020-06-01T10:00:01Z|dns.query=example.com|dns.qtype=A|dns.rcode=NOERROR"));
    CHECK(has(&r.out, "|client.ip=10.1.2.3|dns.direction=Rcv"));
    CHECK(has(&r.out, "dns.response=true|network.transport=udp|dns.answers=www.example.com|dns.answers=93.184.216.34"));
    /* a query the server forwards: the remote is a server; 1 PM */
    CHECK(has(&r.out, "2020-06-01T13:00:01Z|dns.query=foo.bar|dns.qtype=AAAA"));
    CHECK(has(&r.out, "|server.ip=10.0.0.1|"));
    CHECK(has(&r.out, "2020-06-02T08:00:00Z|dns.query=x|dns.qtype=TXT|dns.rcode=NXDOMAIN"));
    CHECK_INT(r.nwarn, 1);
    CHECK(has(&r.view, "|dns.query=example.com|dns.qtype=A|dns.rcode=NOERROR|client.ip=10.1.2.3"));
    CHECK(has(&r.view, "|ans=www.example.com|ans=93.184.216.34"));
    run_release(&r);
}

TEST(dnsdebug_headerless_and_offset)
{
    run r;
    run_init(&r);
    const char *s = "6/1/2020 10:00:01 AM 0E60 PACKET  000000D5E7A8B1C0 UDP Rcv 10.1.2.3 b9a4   Q "
                    "[0001   D   NOERROR] A      (7)example(3)com(0)\n";
    CHECK(claimed_by(s, "dns.log", "dnsdebug"));
    ks_engine_set(r.e, "dnsdebug.utc_offset", "+02:00");
    CHECK_INT(parse(&r, "dnsdebug", s), 1);
    CHECK(has(&r.out, "L1 2020-06-01T08:00:01Z|dns.query=example.com"));
    run_release(&r);
}

static const char ZEEK_DNS[] =
    "#separator \\x09\n"
    "#set_separator\t,\n"
    "#empty_field\t(empty)\n"
    "#unset_field\t-\n"
    "#path\tdns\n"
    "#open\t2020-06-01-10-00-00\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\t"
    "qclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\t"
    "string\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n"
    "1591005601.500000\tCx1\t10.1.2.3\t53211\t10.0.0.53\t53\tudp\t12345\t0.01\twww.example.com\t1\t"
    "C_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\texample.com,93.184.216.34\t300.000000,300.000000\tF\n"
    "1591005602.000000\tCx2\t10.1.2.4\t53212\t10.0.0.53\t53\tudp\t12346\t-\tweird\\x41name.com\t1\t"
    "C_INTERNET\t16\tTXT\t-\t-\tF\tF\tT\tF\t0\t(empty)\t-\tF\n"
    "1591005603.000000\tCx3\ttoo\tmany\n"
    "#close\t2020-06-01-11-00-00\n";

TEST(zeek_tsv)
{
    run r;
    run_init(&r);
    CHECK(claimed_by(ZEEK_DNS, "dns.log", "zeek"));
    int n = parse(&r, "zeek", ZEEK_DNS);
    CHECK_INT(n, 2);
    CHECK_INT(r.nwarn, 1);
    CHECK(has(&r.out, "L9 2020-06-01T10:00:01.500Z|ts=1591005601.500000|uid=Cx1|id.orig_h=10.1.2.3"));
    CHECK(has(&r.out, "|query=weirdAname.com|"));
    CHECK(has(&r.out, "|rejected=F|_path=dns"));
    CHECK(has(&r.view, "|dns.query=www.example.com|dns.qtype=A|dns.rcode=NOERROR|client.ip=10.1.2.3"
                       "|client.port=53211|server.ip=10.0.0.53|server.port=53|network.transport=udp"));
    CHECK(has(&r.view, "|ans=example.com|ans=93.184.216.34\n"));
    run_release(&r);
}

TEST(json_shapes_in_the_view)
{
    run r;
    run_init(&r);
    const char *s =
        "{\"@timestamp\":\"2020-06-01T10:00:00Z\",\"winlog\":{\"event_id\":22,\"computer_name\":\"WS1\","
        "\"event_data\":{\"QueryName\":\"a.example\",\"QueryResults\":\"type:  5 b.example;::ffff:1.2.3.4;\","
        "\"Image\":\"C:\\\\x.exe\"}},\"host\":{\"ip\":[\"10.0.0.7\"]}}\n"
        "{\"timestamp\":\"2020-06-01T10:00:01.000000+0000\",\"event_type\":\"dns\",\"src_ip\":\"10.0.0.8\","
        "\"src_port\":5000,\"dest_ip\":\"8.8.8.8\",\"dest_port\":53,\"proto\":\"UDP\",\"dns\":{\"type\":\"answer\","
        "\"rrname\":\"c.example\",\"rrtype\":\"A\",\"answers\":[{\"rrname\":\"c.example\",\"rrtype\":\"A\","
        "\"rdata\":\"5.6.7.8\"}]}}\n"
        "{\"@timestamp\":\"2020-06-01T10:00:02Z\",\"dns\":{\"question\":{\"name\":\"d.example\"},"
        "\"answers\":[{\"data\":\"9.9.9.9\"}]},\"source\":{\"ip\":\"10.0.0.9\"},\"host\":{\"name\":\"h9\"}}\n"
        "{\"timestamp\":\"2020-06-01T10:00:03Z\",\"event_type\":\"tls\",\"src_ip\":\"10.0.0.8\",\"dest_ip\":\"1.1.1.1\","
        "\"dest_port\":443,\"tls\":{\"sni\":\"e.example\",\"ja3\":{\"hash\":\"abc\"},\"ja3s\":{\"hash\":\"def\"}}}\n";
    CHECK_INT(parse(&r, "json", s), 4);
    CHECK(has(&r.view, "|dns.query=a.example|client.ip=10.0.0.7|host.name=WS1|process.executable=C:\\x.exe|ans=b.example|ans=1.2.3.4\n"));
    CHECK(has(&r.view, "|dns.query=c.example|dns.qtype=A|client.ip=10.0.0.8|client.port=5000|server.ip=8.8.8.8"));
    CHECK(has(&r.view, "|ans=5.6.7.8\n"));
    CHECK(has(&r.view, "|dns.query=d.example|client.ip=10.0.0.9|host.name=h9|ans=9.9.9.9\n"));
    CHECK(has(&r.view, "|tls.ja3=abc|tls.ja3s=def"));
    run_release(&r);
}

TEST(squid_vpc_pdns_nsg)
{
    run r;
    run_init(&r);
    const char *sq = "1592000000.123    456 10.20.1.15 TCP_MISS/200 5120 GET http://example.com:8080/a?b - "
                     "HIER_DIRECT/93.184.216.34 text/html\n"
                     "1592000001.000      7 10.20.1.16 TCP_TUNNEL/200 900 CONNECT evil.example:443 bob "
                     "HIER_DIRECT/1.2.3.4 -\n"
                     "garbage line\n";
    CHECK(claimed_by(sq, "access.log", "squid"));
    CHECK_INT(parse(&r, "squid", sq), 2);
    CHECK_INT(r.nwarn, 1);
    CHECK(has(&r.out, "L1 2020-06-12T22:13:20.123Z|client.ip=10.20.1.15|squid.result=TCP_MISS|http.status=200"));
    CHECK(has(&r.view, "|client.ip=10.20.1.16|server.ip=1.2.3.4|url.full=evil.example:443|url.domain=evil.example"));
    run_release(&r);

    run_init(&r);
    const char *vf = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
                     "start end action log-status\n"
                     "2 123456789012 eni-0a1b2c3d 10.0.0.5 13.59.205.66 49152 443 6 12 4000 1592000000 1592000060 ACCEPT OK\n"
                     "2 123456789012 eni-0a1b2c3d - - - - - - - 1592000000 1592000060 - NODATA\n"
                     "2 123456789012 eni-0a1b2c3d 10.0.0.5\n";
    CHECK(claimed_by(vf, "flow.log", "vpcflow"));
    CHECK_INT(parse(&r, "vpcflow", vf), 2);
    CHECK_INT(r.nwarn, 1);
    CHECK(has(&r.view, "|client.ip=10.0.0.5|client.port=49152|server.ip=13.59.205.66|server.port=443|"
                       "network.transport=6|network.bytes_out=4000|event.action=ACCEPT\n"));
    CHECK(has(&r.out, "L2 2020-06-12T22:13:20Z|version=2"));
    run_release(&r);

    run_init(&r);
    const char *pd = "rrname,rrtype,rdata,time_first,time_last,count\n"
                     "a.example,A,1.2.3.4,1592000000,1592000100,3\n"
                     "\"b,x.example\",CNAME,c.example,2020-06-12T22:13:20Z,2020-06-12T22:13:20Z,1\n"
                     "d.example,TXT,\"v=\"\"q\"\"\",1592000000,1592000100,1\n"
                     "e.example,TXT,\"unterminated,1592000000,1592000100,1\n";
    CHECK(claimed_by(pd, "pdns.csv", "pdns"));
    CHECK_INT(parse(&r, "pdns", pd), 3);
    CHECK_INT(r.nwarn, 1); /* the unterminated quote, named, not glued to the next row */
    CHECK(has(&r.out, "|rdata=v=\"q\"|")); /* doubled quotes unescaped as RFC 4180 says */
    CHECK(has(&r.view, "|dns.query=a.example|dns.qtype=A|ans=1.2.3.4\n"));
    CHECK(has(&r.out, "L3 2020-06-12T22:13:20Z|rrname=b,x.example|rrtype=CNAME|rdata=c.example"));
    run_release(&r);

    run_init(&r);
    const char *ng = "{\"records\":[{\"time\":\"2020-06-12T22:00:00Z\",\"category\":\"NetworkSecurityGroupFlowEvent\","
                     "\"properties\":{\"Version\":2,\"flows\":[{\"rule\":\"DefaultRule_AllowInternetOutBound\",\"flows\":"
                     "[{\"mac\":\"000D3AF87856\",\"flowTuples\":[\"1592000000,10.0.0.4,13.59.205.66,44931,443,T,O,A,E,12,4000,10,5600\","
                     "\"bad\",\"1592000001,10.0.0.4,10.0.0.5,5,53,U,I,D\"]}]}]}}]}\n";
    CHECK(claimed_by(ng, "nsg.json", "nsgflow"));
    CHECK_INT(parse(&r, "nsgflow", ng), 2);
    CHECK_INT(r.nwarn, 1);
    CHECK(has(&r.view, "|client.ip=10.0.0.4|client.port=44931|server.ip=13.59.205.66|server.port=443|"
                       "network.transport=tcp|network.bytes_out=4000|event.action=allowed\n"));
    CHECK(has(&r.out, "nsg.rule=DefaultRule_AllowInternetOutBound"));
    CHECK(has(&r.out, "event.action=denied"));
    run_release(&r);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The beacon detector's median is a selection, not a sort: the same value
 * as the sorted array's middle on random arrays full of repeats, sorted,
 * reversed, odd and even lengths. */
TEST(beacon_median_as_sorted)
{
    static int64_t v[300], w[300];
    uint64_t x = 88172645463325252ull;
    size_t bad = 0, runs = 0;
    for (size_t n = 1; n < 300; n += 1 + n / 16)
        for (int shape = 0; shape < 6; shape++, runs++) {
            for (size_t i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                int64_t r = (int64_t)(x % (shape < 2 ? 5 : 100000)) - (shape == 1 ? 2 : 0);
                v[i] = shape == 3 ? (int64_t)i : shape == 4 ? (int64_t)(n - i) : r;
            }
            memcpy(w, v, n * sizeof *v);
            qsort(w, n, sizeof *w, cmp_i64);
            int64_t want = n % 2 ? w[n / 2] : (w[n / 2 - 1] + w[n / 2]) / 2;
            bad += ks__beacon_median(v, n) != want;
        }
    printf("INFO beacon median: %zu arrays, %zu differ from the sorted middle\n", runs, bad);
    CHECK_INT(bad, 0);
}

/* Beacon pairs are found through the detector's own index (beacon.c), which
 * grows as pairs arrive and keeps short keys in the pair, longer ones (an
 * IPv6 client) in the string pool: 3,000 clients, half of them IPv6, each
 * checking in every minute, interleaved as a web log has them, are 3,000
 * pairs and 3,000 beacons, each client named once. */
TEST(beacon_many_pairs)
{
    enum { NCLIENT = 3000, NTIMES = 10 };
    ks_buf log = {0};
    ks__buf_printf(&log, "#Software: Microsoft Internet Information Services 10.0\n#Fields: date time "
                         "s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
                         "sc-status sc-substatus sc-win32-status time-taken\n");
    for (int k = 0; k < NTIMES; k++)
        for (int c = 0; c < NCLIENT; c++) {
            int s = k * 60 + c % 50; /* one minute apart per client */
            char ip[64];
            if (c % 2)
                snprintf(ip, sizeof ip, "2001:0db8:85a3:0000:0000:8a2e:%04x:%04x", c, c * 7);
            else
                snprintf(ip, sizeof ip, "10.%d.%d.%d", c >> 16, (c >> 8) & 255, c & 255);
            ks__buf_printf(&log, "2021-03-03 %02d:%02d:%02d 10.0.0.5 GET /owa/ - 443 - %s UA 200 0 0 5\n",
                           1 + s / 3600, s / 60 % 60, s % 60, ip);
        }
    const char *path = ks_test_write("beacons.log", log.p, log.n);
    ks_engine *e = NULL;
    CHECK_INT(ks_engine_new(&e), KS_OK);
    ks_engine_set(e, "threads", "1");
    ks_engine_set(e, "detector.sigma", "false");
    ks_engine_set(e, "findings.max_per_rule", "10000");
    ks_engine_add_path(e, path);
    CHECK_INT(ks_engine_run(e), KS_OK);
    size_t n = 0, named = 0;
    ks_map *clients = ks__map_new(NCLIENT);
    for (size_t i = 0; clients && i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        if (strcmp(f->rule_id, "kensa.beacon.common"))
            continue;
        n++;
        for (size_t k = 0; k < f->ndetails; k++) {
            const ks_kv *d = &f->details[k];
            uint64_t *seen;
            if (!strcmp(d->key, "client") && (seen = ks__map_slot(clients, d->value, strlen(d->value), true)))
                named += (*seen)++ == 0;
        }
    }
    CHECK_INT((long)n, NCLIENT);
    CHECK_INT((long)named, NCLIENT);
    ks__map_free(clients);
    ks_engine_free(e);
    ks__buf_release(&log);
}
