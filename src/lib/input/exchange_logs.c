/* SPDX-License-Identifier: Apache-2.0
 *
 * The "exchange" input: Microsoft Exchange Server's own CSV logs under
 * V15\Logging — HttpProxy (Autodiscover, Ecp, Ews, Mapi, Oab, Owa, ...),
 * ECP server logs, OAB generator logs and the other files written in the
 * same "Exchange log" shape:
 *
 *   #Software: Microsoft Exchange Server
 *   #Version: 15.01.2176.002
 *   #Log-type: HttpProxy Logs
 *   #Date: 2021-03-03T00:00:00.123Z
 *   #Fields: DateTime,RequestId,...,AuthenticatedUser,...,AnchorMailbox,...
 *   2021-03-03T02:12:32.601Z,9b2c...,15,1,2176,2,,Ecp,...
 *
 * One event per record, field names exactly as #Fields spells them
 * (AuthenticatedUser, AnchorMailbox, UrlStem, ClientIpAddress, ...), plus
 * "Log-type" from the directive so rules can tell the logs apart. Values are
 * RFC 4180 CSV ("" inside quotes); empty columns become empty strings
 * because Test-ProxyLogon's test is "AuthenticatedUser is empty".
 *
 * Lines without a preceding #Fields: rows shaped like HttpProxy (an ISO
 * time and ~74 columns; log shippers strip the headers) get the default
 * HttpProxy column set of Exchange 2016/2019; anything else in an Exchange
 * log becomes one "Message" field, so keyword rules ("Download failed and
 * temporary file") still see it. A record whose column count disagrees
 * with #Fields is reported (file, line) and skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "weblog.h"

#define EX_MAX_FIELDS 256
#define EX_MAX_LINE ((size_t)1 << 20) /* exchange.max_line */
#define EX_MAX_LOGTYPE 96

/* Exchange 2016/2019 HttpProxy columns (Test-ProxyLogon reads these). */
static const char httpproxy_default[] =
    "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,"
    "Protocol,UrlHost,UrlStem,ProtocolAction,AuthenticationType,IsAuthenticated,"
    "AuthenticatedUser,Organization,AnchorMailbox,UserAgent,ClientIpAddress,ServerHostName,"
    "HttpStatus,BackEndStatus,ErrorCode,Method,ProxyAction,TargetServer,TargetServerVersion,"
    "RoutingType,RoutingHint,BackEndCookie,ServerLocatorHost,ServerLocatorLatency,RequestBytes,"
    "ResponseBytes,TargetOutstandingRequests,AuthModulePerfContext,HttpPipelineLatency,"
    "CalculateTargetBackEndLatency,GlsLatencyBreakup,TotalGlsLatency,"
    "AccountForestLatencyBreakup,TotalAccountForestLatency,ResourceForestLatencyBreakup,"
    "TotalResourceForestLatency,ADLatency,SharedCacheLatencyBreakup,TotalSharedCacheLatency,"
    "ActivityContextLifeTime,ModuleToHandlerSwitchingLatency,ClientReqStreamLatency,"
    "BackendReqInitLatency,BackendReqStreamLatency,BackendProcessingLatency,"
    "BackendRespInitLatency,BackendRespStreamLatency,ClientRespStreamLatency,"
    "KerberosAuthHeaderLatency,HandlerCompletionLatency,RequestHandlerLatency,"
    "HandlerToModuleSwitchingLatency,ProxyTime,CoreLatency,RoutingLatency,HttpProxyOverhead,"
    "TotalRequestTime,RouteRefresherLatency,UrlQuery,BackEndGenericInfo,GenericInfo,"
    "GenericErrors,EdgeTraceId,DatabaseGuid,UserADObjectGuid,PartitionEndpointLookupLatency,"
    "RoutingStatus";

/* Exchange ECP server log columns (headerless rows of four columns whose
 * data holds "S:" key=value pairs). */
static const char ecp_default[] = "TimeStamp,ServerName,EventId,EventData";
static const char ecp_logtype[] = "ECP Server Log";

/* Column names that carry the record time, first match wins. */
static const char *const time_cols[] = {"DateTime", "TimeStamp", "date-time", "Timestamp",
                                        "DateTimeUtc", "LogTime"};

typedef struct xlayout {
    ks_sym cols[EX_MAX_FIELDS];
    size_t n;        /* 0 = none */
    int itime;       /* time column or -1 */
} xlayout;

typedef struct ex_in {
    ks_input_ctx ctx;
    ks_engine *e;
    ks_lines lines;
    xlayout hdr;              /* from #Fields */
    xlayout proxy;            /* default HttpProxy set (built on first use) */
    xlayout ecp;              /* default ECP server set (built on first use) */
    char logtype[EX_MAX_LOGTYPE]; /* #Log-type, "" if none */
    size_t nlogtype;
    ks_sym s_logtype, s_message; /* interned once */
    ks_diagcap dc;            /* located diagnostics, capped */
    uint64_t nbad;            /* records skipped or kept whole */
    ks_slice toks[EX_MAX_FIELDS + 1];
} ex_in;

/* ---- probe ----------------------------------------------------------------------- */

static bool iso_at(const uint8_t *h, size_t n)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:dd";
    if (n < sizeof pat - 1)
        return false;
    for (size_t i = 0; i < sizeof pat - 1; i++)
        if (pat[i] == 'd' ? (h[i] < '0' || h[i] > '9') : h[i] != (uint8_t)pat[i])
            return false;
    return true;
}

/* Exchange log files by name: ECPServer2021030303-1.LOG,
 * HttpProxy_2021030303-1.LOG, OABGeneratorLog_...LOG. */
static bool exchange_name(const char *name)
{
    static const char *const pre[] = {"ECPServer", "HttpProxy_", "OABGenerator"};
    for (size_t i = 0; name && i < KS_ARRAY_LEN(pre); i++)
        if (ks__ieq(name, KS_MIN(strlen(name), strlen(pre[i])), pre[i], strlen(pre[i])))
            return true;
    return false;
}

static int ex_probe(const uint8_t *h, size_t n, const char *name)
{
    if (n >= 3 && h[0] == 0xef && h[1] == 0xbb && h[2] == 0xbf)
        h += 3, n -= 3;
    if (n >= 36 && memcmp(h, "#Software: Microsoft Exchange Server", 36) == 0)
        return 95;
    /* Real evidence loses its header: an excerpt of an ECP server log
     * (trimmed, columns cut, pasted from a report) still holds the
     * cmdlet Test-ProxyLogon searches for. Low scores: any format that
     * knows the file better wins. */
    if (exchange_name(name) && !memchr(h, 0, n))
        return 50;
    if (ks__vdir_set((const char *)h, n) && !memchr(h, 0, n))
        return 40;
    if (iso_at(h, n)) {
        const uint8_t *eol = memchr(h, '\n', n);
        size_t len = eol ? (size_t)(eol - h) : n, commas = 0;
        for (size_t i = 0; i < len; i++)
            commas += h[i] == ',';
        /* A headerless HttpProxy row has ~73 separators. */
        if (commas >= 40)
            return 70;
    }
    return 0;
}

/* ---- helpers --------------------------------------------------------------------- */

static ks_sym intern(ex_in *x, const char *s, size_t n)
{
    return ks__symcache_intern(x->ctx.w->cache, s, n);
}

static bool layout_build(ex_in *x, xlayout *L, const char *s, size_t n)
{
    xlayout nl;
    nl.n = 0;
    nl.itime = -1;
    size_t b = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ',')
            continue;
        size_t fb = b, fe = i;
        while (fb < fe && s[fb] == ' ')
            fb++;
        while (fe > fb && s[fe - 1] == ' ')
            fe--;
        if (nl.n == EX_MAX_FIELDS)
            return false;
        if (fe == fb) {
            /* An unnamed column still takes a position. */
            char nm[24];
            int k = snprintf(nm, sizeof nm, "Field%zu", nl.n + 1);
            nl.cols[nl.n] = intern(x, nm, (size_t)k);
        } else {
            nl.cols[nl.n] = intern(x, s + fb, fe - fb);
            for (size_t t = 0; nl.itime < 0 && t < KS_ARRAY_LEN(time_cols); t++)
                if (ks__ieq(s + fb, fe - fb, time_cols[t], strlen(time_cols[t])))
                    nl.itime = (int)nl.n;
        }
        if (!nl.cols[nl.n])
            return false;
        nl.n++;
        b = i + 1;
    }
    *L = nl;
    return true;
}

/* ---- open / close ------------------------------------------------------------------ */

static int ex_open(const ks_input_ctx *ctx, void **state)
{
    ex_in *x = calloc(1, sizeof *x);
    if (!x)
        return KS_ENOMEM;
    x->ctx = *ctx;
    x->e = ctx->w->engine;
    x->dc = (ks_diagcap){.e = x->e, .path = ctx->path, .component = "exchange"};
    x->hdr.itime = x->proxy.itime = x->ecp.itime = -1;
    size_t max = (size_t)ks__opt_int(x->e, "exchange.max_line");
    ks__lines_init(&x->lines, ctx->src, max);
    x->s_logtype = intern(x, "Log-type", 8);
    x->s_message = intern(x, "Message", 7);
    *state = x;
    return KS_OK;
}

static void ex_close(void *state)
{
    ex_in *x = state;
    if (!x)
        return;
    ks__diagcap_close(&x->dc, x->nbad);
    free(x);
}

/* ---- records --------------------------------------------------------------------------- */

static void directive(ex_in *x, const char *s, size_t n, uint64_t lineno, uint64_t off)
{
    if (n >= 8 && memcmp(s, "#Fields:", 8) == 0) {
        size_t old = x->hdr.n;
        if (!layout_build(x, &x->hdr, s + 8, n - 8)) {
            ks__diagcap(&x->dc, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                   "unusable #Fields line (more than %d columns); keeping the previous layout",
                   EX_MAX_FIELDS);
            return;
        }
        if (old && old != x->hdr.n)
            ks__diagcap(&x->dc, KS_DIAG_INFO, KS_OK, lineno, off,
                   "#Fields changed mid-file (%zu -> %zu columns)", old, x->hdr.n);
    } else if (n >= 10 && memcmp(s, "#Log-type:", 10) == 0) {
        size_t i = 10;
        while (i < n && s[i] == ' ')
            i++;
        x->nlogtype = KS_MIN(n - i, sizeof x->logtype - 1);
        memcpy(x->logtype, s + i, x->nlogtype);
        x->logtype[x->nlogtype] = 0;
    }
}

/* A line kept whole: Message, with the file's Log-type or, when the file
 * has none, "ECP Server Log" for a line holding a Set-*VirtualDirectory
 * cmdlet (nothing else writes those). Called before any field is added. */
static int emit_message(ex_in *x, ks_event *ev, const char *s, size_t n)
{
    ks_value v = {.type = KS_VSTR};
    const char *lt = x->nlogtype ? x->logtype : ks__vdir_set(s, n) ? ecp_logtype : NULL;
    if (lt) {
        v.u.s.p = lt;
        v.u.s.n = strlen(lt);
        ks__event_add(ev, x->s_logtype, &v);
    }
    v.u.s.p = s;
    v.u.s.n = n;
    if (ks__event_add(ev, x->s_message, &v) == KS_ENOMEM)
        return KS_ENOMEM;
    /* A line of free text may still start with its time. */
    size_t tl = 0;
    while (tl < n && tl < 40 && s[tl] != ',' && s[tl] != ' ')
        tl++;
    if (tl >= 19 && ks_time_parse(s, tl, &ev->time) != KS_OK)
        ev->time = KS_TIME_NONE;
    return KS_OK;
}

static int ex_next(void *state, ks_event *ev)
{
    ex_in *x = state;
    for (;;) {
        ks_weblog_line ln;
        int rc = ks__weblog_next(&x->lines, &x->dc, "exchange.max_line", &x->nbad, ev, &ln);
        if (rc != KS_OK)
            return rc;
        const char *s = ln.s;
        size_t n = ln.n;
        uint64_t lineno = ln.lineno, off = ln.off;
        if (s[0] == '#') {
            directive(x, s, n, lineno, off);
            continue;
        }
        ks_value v = {.type = KS_VSTR};
        const xlayout *L = &x->hdr;
        const char *lt = x->nlogtype ? x->logtype : NULL;
        size_t nt = ks__csv_split(ev->arena, s, n, x->toks, EX_MAX_FIELDS);
        if (!L->n) {
            /* No #Fields (stripped by a log shipper, or an excerpt): the
             * default columns when the row has the shape of one log. */
            size_t commas = 0;
            for (const char *c = s; (c = memchr(c, ',', n - (size_t)(c - s))) != NULL; c++)
                commas++;
            bool iso = iso_at((const uint8_t *)s, n);
            if (iso && commas >= 40) {
                if (!x->proxy.n && !layout_build(x, &x->proxy, httpproxy_default,
                                                 sizeof httpproxy_default - 1))
                    return KS_ENOMEM;
                L = &x->proxy;
                lt = lt ? lt : "HttpProxy Logs";
            } else if (iso && nt == 4 && memmem(x->toks[3].p, x->toks[3].n, "S:", 2)) {
                if (!x->ecp.n && !layout_build(x, &x->ecp, ecp_default, sizeof ecp_default - 1))
                    return KS_ENOMEM;
                L = &x->ecp;
                lt = lt ? lt : ecp_logtype;
            } else {
                return emit_message(x, ev, s, n);
            }
        }
        if (nt == (size_t)-1 || nt > EX_MAX_FIELDS || (L != &x->proxy && nt != L->n)) {
            /* Kept as one raw line, as a text search would see it: cut
             * columns must not hide a cmdlet or a URL. */
            x->nbad++;
            if (nt == (size_t)-1)
                ks__diagcap(&x->dc, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                       "unterminated quoted field; line kept as one Message field");
            else
                ks__diagcap(&x->dc, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                       "record has %s%zu columns, #Fields names %zu; line kept as one Message field",
                       nt > EX_MAX_FIELDS ? "more than " : "", KS_MIN(nt, (size_t)EX_MAX_FIELDS),
                       L->n);
            return emit_message(x, ev, s, n);
        }
        for (size_t i = 0; i < nt; i++) {
            ks_sym name;
            if (i < L->n) {
                name = L->cols[i];
            } else {
                char nm[24];
                int k = snprintf(nm, sizeof nm, "Field%zu", i + 1);
                name = intern(x, nm, (size_t)k);
            }
            v.u.s = x->toks[i];
            if (ks__event_add(ev, name, &v) == KS_ENOMEM)
                return KS_ENOMEM;
        }
        if (lt) {
            v.u.s.p = lt;
            v.u.s.n = strlen(lt);
            ks__event_add(ev, x->s_logtype, &v);
        }
        if (L->itime >= 0 && (size_t)L->itime < nt)
            if (ks_time_parse(x->toks[L->itime].p, x->toks[L->itime].n, &ev->time) != KS_OK)
                ev->time = KS_TIME_NONE;
        return KS_OK;
    }
}

const struct ks_input ks_input_exchange = {
    .abi = KS_INPUT_ABI_1,
    .name = "exchange",
    .description = "Exchange Server CSV logs: HttpProxy, ECP server, OAB generator (V15\\Logging)",
    .probe = ex_probe,
    .open = ex_open,
    .next = ex_next,
    .close = ex_close,
};
