/* SPDX-License-Identifier: Apache-2.0
 *
 * Exchange / IIS inputs and the exchange detector: W3C header handling
 * (several blocks, fields in any order, "-", '+', percent-decoding, time),
 * damage (wrong field count, binary garbage, 1 MB lines, #Fields change),
 * split parts, Exchange CSV logs (HttpProxy with and without header, ECP,
 * OAB), and — when ../shared/corpus exists — the elastic samples and the
 * Tunna IIS log parse cleanly.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "kensa_int.h"

typedef struct run {
    ks_engine *e;
    ks_worker w;
    ks_buf out;          /* one line per event: time|field=value|... */
    int ndiag, nwarn;
    uint64_t diag_lines[64];
    char lastmsg[512];
    bool show_raw;       /* out also gives the event's raw text and raw_plus */
} run;

static void on_diag(void *ud, const ks_diag *d)
{
    run *r = ud;
    if (r->ndiag < 64)
        r->diag_lines[r->ndiag] = d->loc.line;
    r->ndiag++;
    if (d->level >= KS_DIAG_WARN)
        r->nwarn++;
    snprintf(r->lastmsg, sizeof r->lastmsg, "%s", d->msg);
}

static void run_init(run *r)
{
    memset(r, 0, sizeof *r);
    ks_engine_new(&r->e);
    ks_engine_on_diag(r->e, on_diag, r);
    if (ks__worker_init(&r->w, r->e, 0) != KS_OK)
        abort();
}

static void run_release(run *r)
{
    ks__worker_release(&r->w);
    ks__buf_release(&r->out);
    ks_engine_free(r->e);
}

/* Parses [begin, end) of data with input `in`; returns the event count.
 * With `file`, from a file of that name holding data (a plain file's
 * source: the W3C reader reads it by pread), else from memory. */
static int parse_src(run *r, const struct ks_input *in, const char *data, size_t n,
                     uint64_t begin, uint64_t end, const char *file)
{
    ks_source *src = NULL;
    void *st = NULL;
    int nev = 0;
    char err[256];
    if (file ? ks__source_open(AT_FDCWD, NULL, ks_test_write(file, data, n), &src, err, sizeof err) !=
                   KS_OK
             : ks__source_mem(data, n, "mem.log", &src) != KS_OK)
        return -1;
    ks_input_ctx ctx = {.src = src, .path = "mem.log", .w = &r->w, .begin = begin, .end = end};
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
            if (r->show_raw)
                ks__buf_printf(&r->out, "|raw%d=%.*s", r->w.ev.raw_plus, (int)r->w.ev.raw.n,
                               r->w.ev.raw.p ? r->w.ev.raw.p : "");
            ks__buf_addc(&r->out, '\n');
        }
        in->close(st);
    }
    ks__source_close(src);
    return nev;
}

static int parse_part(run *r, const struct ks_input *in, const char *data, size_t n,
                      uint64_t begin, uint64_t end)
{
    return parse_src(r, in, data, n, begin, end, NULL);
}

static int parse(run *r, const struct ks_input *in, const char *data)
{
    return parse_part(r, in, data, strlen(data), 0, UINT64_MAX);
}

static bool has(const run *r, const char *s)
{
    return r->out.p && strstr(r->out.p, s) != NULL;
}

/* ---- W3C -------------------------------------------------------------------- */

static const char iis[] =
    "#Software: Microsoft Internet Information Services 10.0\r\n"
    "#Version: 1.0\r\n"
    "#Date: 2021-03-03 00:00:01\r\n"
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) cs(Cookie) sc-status sc-substatus sc-win32-status time-taken\r\n"
    "2021-03-03 02:12:31 10.0.0.5 GET /owa/auth/logon.aspx url=https%3a%2f%2fmail%2fowa%2f&reason=0 443 - "
    "198.51.100.7 Mozilla/5.0+(Windows+NT+10.0) - - 200 0 0 15\r\n"
    "2021-03-03 02:12:32 10.0.0.5 POST /ecp/y.js - 443 - 203.0.113.9 ExchangeServicesClient/0.0.0.0 - "
    "X-AnonResource=true;+X-AnonResource-Backend=localhost/ecp/default.flt?~3;+X-BEResource=localhost/owa/auth/logon.aspx?~3; "
    "200 0 0 31\r\n"
    "#Software: Microsoft Internet Information Services 10.0\r\n"
    "#Fields: time date c-ip cs-uri-stem cs-method sc-status\r\n"
    "02:13:00.250 2021-03-03 203.0.113.9 /aspnet_client/shell.aspx POST 200\r\n";

TEST(w3c_probe)
{
    const uint8_t *h = (const uint8_t *)iis;
    CHECK(ks_input_w3c.probe(h, strlen(iis), "u_ex210303.log") > 90);
    CHECK_INT(ks_input_exchange.probe(h, strlen(iis), "u_ex210303.log"), 0);
    const char *hl = "2021-03-03 02:12:31 10.0.0.5 GET /owa/ - 443 - 1.2.3.4 UA - 200 0 0 15\n";
    CHECK(ks_input_w3c.probe((const uint8_t *)hl, strlen(hl), "x.log") > 50);
    const char *js = "{\"a\":1}\n";
    CHECK_INT(ks_input_w3c.probe((const uint8_t *)js, strlen(js), "x.log"), 0);
    const char *ex = "#Software: Microsoft Exchange Server\r\n#Fields: DateTime,RequestId\r\n";
    CHECK_INT(ks_input_w3c.probe((const uint8_t *)ex, strlen(ex), "x.log"), 0);
    CHECK(ks_input_exchange.probe((const uint8_t *)ex, strlen(ex), "x.log") > 90);
}

TEST(w3c_fields_values_time)
{
    run r;
    run_init(&r);
    CHECK_INT(parse(&r, &ks_input_w3c, iis), 3);
    CHECK_INT(r.nwarn, 0);
    /* raw query kept, decoded companion added */
    CHECK(has(&r, "|cs-uri-query=url=https%3a%2f%2fmail%2fowa%2f&reason=0|"));
    CHECK(has(&r, "|cs-uri-query-decoded=url=https://mail/owa/&reason=0|"));
    /* '+' in headers is a space; '-' is empty */
    CHECK(has(&r, "|cs(User-Agent)=Mozilla/5.0 (Windows NT 10.0)|"));
    CHECK(has(&r, "|cs-username=|"));
    CHECK(has(&r, "X-BEResource=localhost/owa/auth/logon.aspx?~3;"));
    CHECK(has(&r, "L5 2021-03-03T02:12:31"));
    CHECK(has(&r, "|sc-status=200|"));
    /* second header block: other order, fractional seconds */
    CHECK(has(&r, "L9 2021-03-03T02:13:00.25"));
    CHECK(has(&r, "|cs-uri-stem=/aspnet_client/shell.aspx|cs-uri-stem-decoded=/aspnet_client/shell.aspx|cs-method=POST"));
    run_release(&r);
}

TEST(w3c_damage_reported_and_skipped)
{
    run r;
    run_init(&r);
    ks_buf b = KS_BUF_INIT;
    ks__buf_adds(&b, "#Fields: date time c-ip cs-method cs-uri-stem sc-status\n");
    ks__buf_adds(&b, "2021-03-03 01:00:00 1.2.3.4 GET /a 200\n");          /* L2 ok */
    ks__buf_adds(&b, "2021-03-03 01:00:01 1.2.3.4 GET /a 200 extra\n");    /* L3 count */
    static const char bin[] = "2021-03-03 01:00:02 1.2.3.4 GET /\x01\x02\xff\x00zz 200\n";
    ks__buf_add(&b, bin, sizeof bin - 1);                                   /* L4 binary */
    ks__buf_adds(&b, "2021-03-03 01:00:03 1.2.3.4 GET /");                 /* L5: 1 MB line */
    for (int i = 0; i < (1 << 20); i++)
        ks__buf_addc(&b, 'A');
    ks__buf_adds(&b, " 200\n");
    ks__buf_adds(&b, "#Fields: date time c-ip sc-status\n");               /* L6 change */
    ks__buf_adds(&b, "2021-03-03 01:00:04 1.2.3.4 404\n");                 /* L7 ok */
    ks__buf_adds(&b, "2021-03-03 01:00:05 5.6.7.8 GET /caf\xc3 200\n");    /* L8 count */
    ks__buf_adds(&b, "2021-03-03 01:00:06 5.6.7.8 \xe9t\xe9\n");           /* L9 bad UTF-8 repaired */
    CHECK_INT(parse_part(&r, &ks_input_w3c, b.p, b.n, 0, UINT64_MAX), 3);
    CHECK(has(&r, "L2 "));
    CHECK(has(&r, "L7 2021-03-03T01:00:04"));
    CHECK(has(&r, "|sc-status=\xef\xbf\xbdt\xef\xbf\xbd"));
    CHECK_INT(r.nwarn, 4);
    bool l3 = false, l4 = false, l5 = false, l8 = false, l6 = false;
    for (int i = 0; i < r.ndiag && i < 64; i++) {
        l3 |= r.diag_lines[i] == 3;
        l4 |= r.diag_lines[i] == 4;
        l5 |= r.diag_lines[i] == 5;
        l6 |= r.diag_lines[i] == 6;
        l8 |= r.diag_lines[i] == 8;
    }
    CHECK(l3 && l4 && l5 && l6 && l8);
    ks__buf_release(&b);
    run_release(&r);
}

TEST(w3c_diag_cap)
{
    run r;
    run_init(&r);
    ks_buf b = KS_BUF_INIT;
    ks__buf_adds(&b, "#Fields: date time c-ip\n");
    for (int i = 0; i < 500; i++)
        ks__buf_adds(&b, "2021-03-03 01:00:00 1.2.3.4 extra\n");
    CHECK_INT(parse_part(&r, &ks_input_w3c, b.p, b.n, 0, UINT64_MAX), 0);
    CHECK_INT(r.nwarn, 21); /* 20 located + one summary */
    CHECK(strstr(r.lastmsg, "480 more") != NULL);
    ks__buf_release(&b);
    run_release(&r);
}

TEST(w3c_parts_find_header_and_line)
{
    run r;
    run_init(&r);
    ks_buf b = KS_BUF_INIT;
    ks__buf_adds(&b, "#Fields: date time c-ip cs-uri-stem\n");
    for (int i = 0; i < 10; i++)
        ks__buf_printf(&b, "2021-03-03 01:00:%02d 1.2.3.%d /a\n", i, i);
    size_t mid = b.n;
    ks__buf_adds(&b, "#Fields: c-ip date time\n");
    ks__buf_adds(&b, "9.9.9.9 2021-03-04 05:06:07\n");
    size_t cut = b.n;
    ks__buf_adds(&b, "8.8.8.8 2021-03-04 05:06:08\n");
    /* part 2 starts after the second #Fields: must use it and know line 14 */
    CHECK_INT(parse_part(&r, &ks_input_w3c, b.p, b.n, cut, b.n), 1);
    CHECK(has(&r, "L14 2021-03-04T05:06:08"));
    CHECK(has(&r, "|c-ip=8.8.8.8|"));
    ks__buf_reset(&r.out);
    /* part 1 stops at its end */
    CHECK_INT(parse_part(&r, &ks_input_w3c, b.p, b.n, 0, mid), 10);
    ks__buf_release(&b);
    run_release(&r);
}

/* The one-pass record scan (scan_record) gives what the line reader and
 * scan_line give: random records, '\n' and "\r\n" ends at every offset of
 * a 16-byte block, '+', '%' escapes, UTF-8 good and bad, tabs, control
 * bytes, trailing blanks, wrong field counts, read as one file (the scan)
 * and each alone after the header with no line end (the general path). */
TEST(w3c_one_pass_matches_line_path)
{
    static const char hdr[] = "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port "
                              "cs-username c-ip cs(User-Agent) cs(Referer) cs(Cookie) sc-status "
                              "sc-substatus sc-win32-status time-taken\n";
    /* plain pieces first; the others are rare, so a line has none as often as some */
    static const char *const bits[] = {"a", "bb", "-", "ccccccccccccccc", "dd-dd", "/p/q.aspx", "+",
                                       "x+y", "%41", "%", "%zz", "q%2b+r", "\xc3\xa9", "\xff"};
    run all, one, disk;
    run_init(&all);
    run_init(&one);
    run_init(&disk);
    all.show_raw = one.show_raw = disk.show_raw = true;
    ks_buf file = KS_BUF_INIT, line = KS_BUF_INIT, rec = KS_BUF_INIT;
    uint32_t rnd = 12345;
#define RND() (rnd = rnd * 1103515245u + 12345u, (rnd >> 16) & 0x7fff)
    ks__buf_adds(&file, hdr);
    for (int i = 0; i < 3000; i++) {
        line.n = 0;
        int ntok = RND() % 20 == 0 ? 15 + (int)(RND() % 3) : 16;
        ks__buf_adds(&line, RND() % 2 ? "2021-03-03 02:12:31" : "%+ 02:12:31");
        for (int t = 2; t < ntok; t++) {
            ks__buf_addc(&line, ' ');
            int pieces = 1 + (int)(RND() % 4);
            for (int k = 0; k < pieces; k++)
                ks__buf_adds(&line, bits[RND() % 40 ? RND() % 6 : RND() % KS_ARRAY_LEN(bits)]);
            if (RND() % 400 == 0) /* a '\r' ending a line without one would be its end */
                ks__buf_adds(&line, RND() % 2 ? "\tz" : "\rz");
        }
        if (RND() % 30 == 0)
            ks__buf_adds(&line, RND() % 2 ? " " : "  ");
        ks__buf_add(&file, line.p, line.n);
        ks__buf_adds(&file, RND() % 2 ? "\r\n" : "\n");
        rec.n = 0;
        ks__buf_adds(&rec, hdr);
        ks__buf_add(&rec, line.p, line.n);
        size_t before = one.out.n;
        if (parse_part(&one, &ks_input_w3c, rec.p, rec.n, 0, UINT64_MAX) == 1) {
            /* number it as in the whole file: "L2" becomes "L<i + 2>" */
            char num[32];
            int k = snprintf(num, sizeof num, "L%d", i + 2);
            ks_buf fix = KS_BUF_INIT;
            ks__buf_add(&fix, num, (size_t)k);
            ks__buf_add(&fix, one.out.p + before + 2, one.out.n - before - 2);
            one.out.n = before;
            ks__buf_add(&one.out, fix.p, fix.n);
            ks__buf_release(&fix);
        }
    }
#undef RND
    parse_part(&all, &ks_input_w3c, file.p, file.n, 0, UINT64_MAX);
    parse_src(&disk, &ks_input_w3c, file.p, file.n, 0, UINT64_MAX, "one_pass.log");
    /* the same events, numbered alike */
    size_t nev = 0;
    for (const char *a = all.out.p; a && *a; a = strchr(a, '\n') + 1)
        nev++;
    bool same = all.out.n == one.out.n && !memcmp(all.out.p, one.out.p, all.out.n);
    if (!same) {
        size_t k = 0;
        while (k < all.out.n && k < one.out.n && all.out.p[k] == one.out.p[k])
            k++;
        while (k && all.out.p[k - 1] != '\n')
            k--;
        printf("INFO first difference:\n  %.300s\n  %.300s\n", all.out.p + k, one.out.p + k);
    }
    CHECK(same);
    CHECK(disk.out.n == all.out.n && !memcmp(disk.out.p, all.out.p, all.out.n));
    CHECK(nev > 2000);
    ks__buf_release(&file);
    ks__buf_release(&line);
    ks__buf_release(&rec);
    run_release(&all);
    run_release(&one);
    run_release(&disk);
}

TEST(w3c_headerless_elastic_shapes)
{
    run r;
    run_init(&r);
    const char *s =
        "2023-08-28 07:37:00 exchange01 10.44.0.131 POST /EWS/Exchange.asmx &CorrelationID=<empty>;&cafeReqId=12d6; "
        "443 EXAMPLE\\user01 10.119.1.75 OC/16.0.5266.1000+(Skype+for+Business) - 200 0 0 52 10.10.10.7 59050\n"
        "2022-05-08 01:26:01 10.119.32.8 POST /NamingServiceANSWS/ANSWS.svc - 443 - 10.119.38.250 - - itwebcert.acxiom.com 200 0 0 232\n";
    CHECK_INT(parse(&r, &ks_input_w3c, s), 2);
    CHECK(has(&r, "|s-computername=exchange01|"));
    CHECK(has(&r, "|cs-username=EXAMPLE\\user01|"));
    CHECK(has(&r, "|X-Forwarded-For=10.10.10.7|"));
    CHECK(has(&r, "|cs-host=itwebcert.acxiom.com|"));
    CHECK_INT(r.nwarn, 0);
    run_release(&r);
}

/* ---- Exchange CSV logs -------------------------------------------------------- */

TEST(exchange_httpproxy_header_and_quotes)
{
    run r;
    run_init(&r);
    const char *s =
        "#Software: Microsoft Exchange Server\r\n#Version: 15.01.2176.002\r\n#Log-type: HttpProxy Logs\r\n"
        "#Date: 2021-03-03T00:00:00.123Z\r\n"
        "#Fields: DateTime,RequestId,UrlStem,AuthenticatedUser,AnchorMailbox,ClientIpAddress,UserAgent\r\n"
        "2021-03-03T02:12:32.601Z,abc,/ecp/y.js,,ServerInfo~a]@exch01.contoso.local:444/autodiscover/autodiscover.xml?#,203.0.113.9,\"Mozilla, \"\"quoted\"\"\"\r\n"
        "2021-03-03T02:12:33.000Z,def,/owa/,CONTOSO\\alice,Smtp~alice@contoso.com,198.51.100.7,Outlook\r\n"
        "2021-03-03T02:12:34.000Z,def,/owa/\r\n";
    /* The short row is reported and kept whole (a text search sees it). */
    CHECK_INT(parse(&r, &ks_input_exchange, s), 3);
    CHECK(has(&r, "|Log-type=HttpProxy Logs|Message=2021-03-03T02:12:34.000Z,def,/owa/"));
    CHECK(has(&r, "L6 2021-03-03T02:12:32.601"));
    CHECK(has(&r, "|AuthenticatedUser=|AnchorMailbox=ServerInfo~a]@exch01"));
    CHECK(has(&r, "|UserAgent=Mozilla, \"quoted\"|Log-type=HttpProxy Logs"));
    CHECK_INT(r.nwarn, 1);
    CHECK_INT(r.diag_lines[0], 8);
    run_release(&r);
}

TEST(exchange_httpproxy_headerless_default_columns)
{
    run r;
    run_init(&r);
    ks_buf b = KS_BUF_INIT;
    ks__buf_adds(&b, "2024-01-24T15:26:47.957Z,3422,15,1,2507,35,R:x,Mapi,mail.domain.tld,/mapi/emsmdb/,,"
                     "Negotiate,true,DOMAIN\\user,domain.tld,MailboxGuid~0aa8,Microsoft Office/16.0,10.12.13.14");
    for (int i = 0; i < 56; i++)
        ks__buf_addc(&b, ',');
    ks__buf_adds(&b, "CafeV1\n");
    CHECK(ks_input_exchange.probe((const uint8_t *)b.p, b.n, "x.log") >= 70);
    CHECK_INT(parse_part(&r, &ks_input_exchange, b.p, b.n, 0, UINT64_MAX), 1);
    CHECK(has(&r, "|UrlStem=/mapi/emsmdb/|"));
    CHECK(has(&r, "|ClientIpAddress=10.12.13.14|"));
    CHECK(has(&r, "|RoutingStatus=CafeV1|"));
    CHECK(has(&r, "|Log-type=HttpProxy Logs"));
    CHECK_INT(r.nwarn, 0);
    ks__buf_release(&b);
    run_release(&r);
}

TEST(exchange_ecp_and_oab)
{
    run r;
    run_init(&r);
    const char *ecp =
        "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: ECP Server Log\r\n"
        "#Fields: TimeStamp,ServerName,EventId,EventData\r\n"
        "2021-03-03T02:20:01.000Z,EXCH01,ServerLog,\"S:CMD=Set-OabVirtualDirectory.ExternalUrl='http://f/<script language=\"\"JScript\"\" runat=\"\"server\"\">function Page_Load(){eval(Request[\"\"p\"\"])}</script>'.Identity='OAB (Default Web Site)'\"\r\n";
    CHECK_INT(parse(&r, &ks_input_exchange, ecp), 1);
    CHECK(has(&r, "|EventData=S:CMD=Set-OabVirtualDirectory.ExternalUrl='http://f/<script language=\"JScript\""));
    CHECK(has(&r, "|Log-type=ECP Server Log"));
    ks__buf_reset(&r.out);
    const char *oab =
        "#Software: Microsoft Exchange Server\r\n#Log-type: OABGenerator Log\r\n"
        "2021-03-03T02:21:00.000Z Download failed and temporary file 'C:\\inetpub\\wwwroot\\aspnet_client\\x.aspx' needs to be removed\r\n";
    CHECK_INT(parse(&r, &ks_input_exchange, oab), 1);
    CHECK(has(&r, "L3 2021-03-03T02:21:00Z|Log-type=OABGenerator Log|Message=2021-03-03T02:21:00.000Z Download failed"));
    run_release(&r);
}

TEST(exchange_fuzzish_lines)
{
    run r;
    run_init(&r);
    const char *s = "#Software: Microsoft Exchange Server\n#Fields: A,B\n\"unterminated,1\n1,\"x\"junk\n,,\n\"\"\n";
    /* Rows that do not fit become one Message each; the one that fits stays. */
    CHECK_INT(parse(&r, &ks_input_exchange, s), 4);
    CHECK_INT(r.nwarn, 3);
    run_release(&r);
}

/* ---- corpus ------------------------------------------------------------------ */

static char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    char *p = NULL;
    long sz;
    if (!fp)
        return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (sz = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
        p = malloc((size_t)sz + 1);
        if (p && fread(p, 1, (size_t)sz, fp) != (size_t)sz) {
            free(p);
            p = NULL;
        } else if (p) {
            *n = (size_t)sz;
        }
    }
    fclose(fp);
    return p;
}

static const struct ks_input *sniff(const char *p, size_t n, const char *name)
{
    const struct ks_input *best = NULL;
    int bs = 0;
    for (size_t i = 0; ks__inputs[i]; i++) {
        int s = ks__inputs[i]->probe((const uint8_t *)p, KS_MIN(n, (size_t)KS_HEAD_MAX), name);
        if (s > bs)
            bs = s, best = ks__inputs[i];
    }
    return best;
}

TEST(corpus_samples_parse_cleanly)
{
    const char *c = ks_test_corpus();
    if (!c) {
        ks_test_skip("corpus", "no ../shared/corpus");
        return;
    }
    static const struct {
        const char *rel, *format;
        int events;
    } files[] = {
        {"elastic-integrations-format-samples/iis_test-iis10-access.log", "w3c", 8},
        {"elastic-integrations-format-samples/exchange_httpproxy_test-httpproxy.log", "exchange", 1},
        {"evtx-attack-samples/Command and Control/Tunna_rdp_tunnel_IIS.log", "w3c", 4298},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[1024];
        size_t n = 0;
        snprintf(path, sizeof path, "%s/%s", c, files[i].rel);
        char *p = slurp(path, &n);
        if (!p) {
            ks_test_skip("corpus-file", "%s missing", files[i].rel);
            continue;
        }
        const char *base = strrchr(files[i].rel, '/') + 1;
        const struct ks_input *in = sniff(p, n, base);
        CHECK(in != NULL && strcmp(in->name, files[i].format) == 0);
        if (in) {
            run r;
            run_init(&r);
            int nev = parse_part(&r, in, p, n, 0, UINT64_MAX);
            printf("INFO corpus %s: format %s, %d events, %d warnings\n", base, in->name, nev, r.nwarn);
            if (getenv("KS_TEST_DUMP") && r.out.p)
                fputs(r.out.p, stdout);
            CHECK_INT(nev, files[i].events);
            CHECK_INT(r.nwarn, 0);
            run_release(&r);
        }
        free(p);
    }
}

/* ---- detector over the corpus ----------------------------------------------------- */

static bool finding_has(const ks_finding *f, const char *needle)
{
    if (f->title && strstr(f->title, needle))
        return true;
    for (size_t i = 0; i < f->ndetails; i++)
        if (strstr(f->details[i].value, needle) || strstr(f->details[i].key, needle))
            return true;
    return false;
}

/* Findings of the exchange detector or of the rules in rules/sigma/exchange. */
static bool ours(const ks_finding *f)
{
    if (strcmp(f->detector, "exchange") == 0)
        return true;
    /* kensa's Exchange Sigma rules share one id prefix (correlations carry no rule_file). */
    if (f->rule_id && strncmp(f->rule_id, "3c0e9a52-6f1b-4d8e-9a41-0b7f5e2d1a", 34) == 0)
        return true;
    for (size_t i = 0; i < f->ndetails; i++)
        if (strcmp(f->details[i].key, "rule_file") == 0 && strstr(f->details[i].value, "sigma/exchange/"))
            return true;
    return false;
}

/* Runs a whole engine over path; counts our findings holding each needle. */
static void hunt_expect(const char *label, const char *path, const char *const *needles, size_t n)
{
    ks_engine *e = NULL;
    size_t found = 0;
    uint64_t events = 0;
    CHECK_INT(ks_engine_new(&e), KS_OK);
    ks_engine_set(e, "threads", "2");
    ks_engine_add_path(e, path);
    CHECK_INT(ks_engine_run(e), KS_OK);
    for (size_t k = 0; k < n; k++) {
        bool hit = false;
        for (size_t i = 0; i < ks_engine_nfindings(e) && !hit; i++) {
            const ks_finding *f = ks_engine_finding(e, i);
            hit = ours(f) && finding_has(f, needles[k]);
            if (hit)
                events += f->event_count;
        }
        if (!hit)
            printf("INFO %s: missed '%s'\n", label, needles[k]);
        found += hit;
    }
    printf("RECALL exchange %s: %zu/%zu expected traces found (%llu events behind them)\n", label,
           found, n, (unsigned long long)events);
    CHECK_INT(found, n);
    ks_engine_free(e);
}

TEST(corpus_mordor_proxylogon_and_tunna)
{
    const char *c = ks_test_corpus();
    char path[1024];
    if (!c) {
        ks_test_skip("corpus", "no ../shared/corpus");
        return;
    }
    static const char *const mordor[] = {"ohyeah.aspx", "cmd /c whoami",
                                         "Script file created in an Exchange web root",
                                         "Exchange worker process spawned a shell"};
    snprintf(path, sizeof path, "%s/otrf-security-datasets/extracted/proxylogon_ssrf_rce_poc", c);
    hunt_expect("mordor-proxylogon", path, mordor, 4);
    static const char *const tunna[] = {"/erp/conn.aspx", "10.0.2.17", "Web shell tunnel set-up",
                                        "Web shell tunnel traffic"};
    snprintf(path, sizeof path, "%s/evtx-attack-samples/Command and Control/Tunna_rdp_tunnel_IIS.log", c);
    hunt_expect("tunna-iis", path, tunna, 4);
    /* Benign Exchange samples: no exchange finding at all. */
    ks_engine *e = NULL;
    size_t fp = 0;
    ks_engine_new(&e);
    snprintf(path, sizeof path, "%s/elastic-integrations-format-samples", c);
    ks_engine_add_path(e, path);
    /* A generic (non-Exchange) IIS web shell: Sigma's business, not ours. */
    snprintf(path, sizeof path, "%s/evtx-attack-samples/Lateral Movement/LM_typical_IIS_webshell_sysmon_1_10_traces.evtx", c);
    ks_engine_add_path(e, path);
    ks_engine_run(e);
    for (size_t i = 0; i < ks_engine_nfindings(e); i++)
        fp += ours(ks_engine_finding(e, i));
    printf("FP exchange elastic-samples + non-Exchange IIS web shell EVTX: %zu findings\n", fp);
    CHECK_INT(fp, 0);
    ks_engine_free(e);
}

/* ---- known web shell names (exchange.ioc) -------------------------------------- */

static size_t chains_for(const char *log, const char *ioc, const char *needle)
{
    ks_engine *e = NULL;
    size_t n = 0;
    ks_engine_new(&e);
    ks_engine_set(e, "threads", "1");
    ks_engine_set(e, "builtin", "false");
    if (ioc)
        ks_engine_set(e, "exchange.ioc", ioc);
    ks_engine_add_path(e, log);
    ks_engine_run(e);
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        n += strcmp(f->rule_id, "kensa.exchange.chain") == 0 && finding_has(f, needle);
    }
    ks_engine_free(e);
    return n;
}

TEST(exchange_ioc_names_turn_gets_into_shell_use)
{
    static const char log[] =
        "#Fields: date time cs-method cs-uri-stem cs-uri-query c-ip sc-status\n"
        "2021-03-04 08:00:00 GET /owa/auth/OutlookZH.aspx - 192.0.2.77 200\n"
        "2021-03-04 08:00:05 GET /owa/auth/logon.aspx - 192.0.2.78 200\n";
    const char *lp = ks_test_write("u_ex210304.log", log, sizeof log - 1);
    static const char ioc[] = "# known shells\nC:\\Program Files\\Microsoft\\Exchange Server\\V15\\"
                              "FrontEnd\\HttpProxy\\owa\\auth\\OutlookZH.aspx\n";
    const char *ip = ks_test_write("shells.txt", ioc, sizeof ioc - 1);
    /* A GET answered 200 by a page Exchange does not ship is shell use
     * (issue 20: planted shells are checked with a bare GET). */
    CHECK_INT(chains_for(lp, NULL, "192.0.2.77"), 1);
    CHECK_INT(chains_for(lp, ip, "192.0.2.77"), 1);
    CHECK_INT(chains_for(lp, ip, "192.0.2.78"), 0);    /* stock logon page */
    const char *c = ks_test_corpus();
    if (c) {
        char path[1024];
        snprintf(path, sizeof path,
                 "%s/azure-sentinel-extracts/MSTICIoCs-ExchangeServerVulnerabilitiesDisclosedMarch2021.csv", c);
        size_t n = chains_for(lp, path, "192.0.2.77");
        printf("INFO exchange.ioc with the MSTIC March 2021 feed: %zu chain finding(s) for a GET of OutlookZH.aspx\n", n);
        CHECK_INT(n, 1);
    }
}

TEST(w3c_split_parts_agree_with_whole_file)
{
    run r;
    run_init(&r);
    ks_buf b = KS_BUF_INIT;
    ks__buf_adds(&b, "#Fields: date time c-ip cs-uri-stem\n");
    for (int i = 0; i < 40000; i++) {
        if (i == 20000)
            ks__buf_adds(&b, "#Fields: cs-uri-stem c-ip date time\n");
        if (i < 20000)
            ks__buf_printf(&b, "2021-03-03 01:%02d:%02d 10.0.%d.%d /owa/service.svc%060d\n", i / 60 % 60,
                           i % 60, i / 256 % 256, i % 256, i);
        else
            ks__buf_printf(&b, "/ecp/%060d 10.1.%d.%d 2021-03-04 02:%02d:%02d\n", i, i / 256 % 256,
                           i % 256, i / 60 % 60, i % 60);
    }
    ks_source *src = NULL;
    uint64_t bounds[65];
    size_t nparts = 0;
    CHECK_INT(ks__source_mem(b.p, b.n, "big.log", &src), KS_OK);
    /* Small parts for the test: cut by hand at line starts near 1/3 and 2/3. */
    bounds[0] = 0;
    for (int k = 1; k < 3; k++) {
        const char *nl = memchr(b.p + b.n * (size_t)k / 3, '\n', b.n);
        bounds[k] = (uint64_t)(nl - b.p) + 1;
    }
    bounds[3] = b.n;
    nparts = 3;
    ks__source_close(src);
    int whole = parse_part(&r, &ks_input_w3c, b.p, b.n, 0, UINT64_MAX);
    char *all = ks__buf_detach(&r.out, NULL);
    int sum = 0;
    for (size_t k = 0; k < nparts; k++)
        sum += parse_part(&r, &ks_input_w3c, b.p, b.n, bounds[k], bounds[k + 1]);
    CHECK_INT(whole, 40000);
    CHECK_INT(sum, whole);
    CHECK(r.out.p && all && strcmp(r.out.p, all) == 0); /* same events, same line numbers */
    CHECK_INT(r.nwarn, 0);
    free(all);
    ks__buf_release(&b);
    run_release(&r);
}

/* The SWAR record scan against the plain rule, byte by byte and position by
 * position (word boundaries, tails): control bytes but tab reject the line,
 * spaces split it, everything else stays in its field. */
TEST(w3c_scan_every_byte_every_position)
{
    static const unsigned char probes[] = {0x00, 0x01, 0x09, 0x0a + 0x10, 0x1f, 0x20, 0x2b,
                                           0x25, 0x7f, 0x80, 0xc3, 0xff, 'a'};
    int bad = 0;
    for (size_t pi = 0; pi < sizeof probes; pi++) {
        for (int pos = 0; pos < 24; pos++) {
            run r;
            run_init(&r);
            char line[128];
            size_t n = 0;
            n += (size_t)snprintf(line, sizeof line, "#Fields: a b\n");
            size_t start = n;
            for (int i = 0; i < pos; i++)
                line[n++] = 'x';
            line[n++] = (char)probes[pi];
            line[n++] = 'x';
            line[n++] = ' ';
            line[n++] = 'y';
            line[n++] = '\n';
            int nev = parse_part(&r, &ks_input_w3c, line, n, 0, UINT64_MAX);
            unsigned char c = probes[pi];
            bool ctl = c < 0x20 && c != '\t';
            int want_ev = ctl || c == ' ' ? 0 : 1; /* a space makes 3 fields: count error */
            if (nev != want_ev || (want_ev == 0 && r.nwarn != 1)) {
                if (bad++ < 5)
                    fprintf(stderr, "byte 0x%02x at %d: %d events, %d warnings\n", c, pos, nev, r.nwarn);
            } else if (nev == 1) {
                /* field a keeps every byte (bytes >= 0x80 alone are repaired to U+FFFD) */
                char want[64];
                snprintf(want, sizeof want, "|a=%.*s", (int)(pos + 2), line + start);
                if (c < 0x80 && !strstr(r.out.p, want) && bad++ < 5)
                    fprintf(stderr, "byte 0x%02x at %d: %s\n", c, pos, r.out.p);
                if (!strstr(r.out.p, "|b=y") && bad++ < 5)
                    fprintf(stderr, "byte 0x%02x at %d: b lost: %s\n", c, pos, r.out.p);
            }
            run_release(&r);
        }
    }
    CHECK_INT(bad, 0);
}

/* SigmaHQ's own Exchange web rules read the W3C field names as kensa emits
 * them: they must fire on the attack lines of our fixture, and only there. */
TEST(corpus_sigmahq_web_rules_on_fixture)
{
    const char *c = ks_test_corpus();
    const char *ev = "tests/golden/exchange/proxylogon/evidence/u_ex210303.log";
    char rules[1024];
    FILE *fp = fopen(ev, "r");
    if (!c || !fp) {
        ks_test_skip("corpus", "no corpus or not run from the source tree");
        if (fp)
            fclose(fp);
        return;
    }
    fclose(fp);
    snprintf(rules, sizeof rules, "%s/sigma/rules-emerging-threats/2021/Exploits/ProxyShell-Exploit", c);
    ks_engine *e = NULL;
    ks_engine_new(&e);
    ks_engine_set(e, "builtin", "false");
    ks_engine_set(e, "rules", rules);
    ks_engine_add_path(e, ev);
    ks_engine_run(e);
    size_t hits = 0, wrong = 0;
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        if (strcmp(f->detector, "sigma") != 0 || !f->nevidence)
            continue;
        uint64_t line = f->evidence[0].line;
        /* ProxyShell lines 47, 49 and the ProxyNotShell line 58 of the fixture */
        if (line == 47 || line == 49 || line == 58)
            hits++;
        else
            wrong++;
    }
    printf("RECALL sigmahq ProxyShell rules on the kensa W3C fixture: %zu/3 attack lines, %zu other lines\n",
           hits, wrong);
    CHECK_INT(hits, 3);
    CHECK_INT(wrong, 0);
    ks_engine_free(e);
}
