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
#include <stdarg.h>
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
    char logtype[EX_MAX_LOGTYPE]; /* #Log-type, "" if none */
    size_t nlogtype;
    ks_sym s_logtype, s_message; /* interned once */
    uint64_t ndiag, nsuppressed, nbad;
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

static int ex_probe(const uint8_t *h, size_t n, const char *name)
{
    KS_UNUSED(name);
    if (n >= 3 && h[0] == 0xef && h[1] == 0xbb && h[2] == 0xbf)
        h += 3, n -= 3;
    if (n >= 36 && memcmp(h, "#Software: Microsoft Exchange Server", 36) == 0)
        return 95;
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

static void report(ex_in *x, ks_diag_level lvl, int code, uint64_t line, uint64_t off,
                   const char *fmt, ...) KS_PRINTF(6, 7);

static void report(ex_in *x, ks_diag_level lvl, int code, uint64_t line, uint64_t off,
                   const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (lvl >= KS_DIAG_WARN && x->ndiag >= KS_WEBLOG_MAX_DIAGS) {
        x->nsuppressed++;
        return;
    }
    if (lvl >= KS_DIAG_WARN)
        x->ndiag++;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ks_loc loc = KS_LOC_NONE;
    loc.path = x->ctx.path;
    loc.line = line;
    loc.offset = off;
    ks__diag(x->e, lvl, code, "exchange", &loc, "%s", msg);
}

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

/* Splits one CSV record. Quoted fields with "" are unescaped into the
 * arena. Returns the field count (max + 1 when there are more than max),
 * or (size_t)-1 for an unterminated quote. */
static size_t csv_split(ks_arena *a, const char *s, size_t n, ks_slice *t, size_t max)
{
    size_t k = 0, i = 0;
    for (;;) {
        if (k == max)
            return max + 1;
        if (i < n && s[i] == '"') {
            size_t b = ++i;
            bool esc = false;
            for (;;) {
                if (i >= n)
                    return (size_t)-1;
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        esc = true;
                        i += 2;
                        continue;
                    }
                    break;
                }
                i++;
            }
            size_t e = i++;
            if (!esc) {
                t[k].p = s + b;
                t[k].n = e - b;
            } else {
                char *o = ks__arena_alloc(a, e - b + 1);
                size_t m = 0;
                if (!o)
                    return (size_t)-1;
                for (size_t j = b; j < e; j++) {
                    o[m++] = s[j];
                    if (s[j] == '"')
                        j++;
                }
                o[m] = 0;
                t[k].p = o;
                t[k].n = m;
            }
            /* Anything between the closing quote and the comma is kept out. */
            while (i < n && s[i] != ',')
                i++;
        } else {
            size_t b = i;
            while (i < n && s[i] != ',')
                i++;
            t[k].p = s + b;
            t[k].n = i - b;
        }
        k++;
        if (i >= n)
            return k;
        i++; /* the comma */
    }
}

/* ---- open / close ------------------------------------------------------------------ */

static int ex_open(const ks_input_ctx *ctx, void **state)
{
    ex_in *x = calloc(1, sizeof *x);
    if (!x)
        return KS_ENOMEM;
    x->ctx = *ctx;
    x->e = ctx->w->engine;
    x->hdr.itime = x->proxy.itime = -1;
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
    if (x->nsuppressed) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = x->ctx.path;
        ks__diag(x->e, KS_DIAG_WARN, KS_EFORMAT, "exchange", &loc,
                 "%llu more damaged lines not reported individually (%llu records skipped in all)",
                 (unsigned long long)x->nsuppressed, (unsigned long long)x->nbad);
    }
    free(x);
}

/* ---- records --------------------------------------------------------------------------- */

static void directive(ex_in *x, const char *s, size_t n, uint64_t lineno, uint64_t off)
{
    if (n >= 8 && memcmp(s, "#Fields:", 8) == 0) {
        size_t old = x->hdr.n;
        if (!layout_build(x, &x->hdr, s + 8, n - 8)) {
            report(x, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                   "unusable #Fields line (more than %d columns); keeping the previous layout",
                   EX_MAX_FIELDS);
            return;
        }
        if (old && old != x->hdr.n)
            report(x, KS_DIAG_INFO, KS_OK, lineno, off,
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

static int emit_message(ex_in *x, ks_event *ev, const char *s, size_t n)
{
    ks_value v = {.type = KS_VSTR};
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
        const char *s;
        size_t n;
        uint64_t lineno, off;
        int rc = ks__lines_next(&x->lines, &s, &n, &lineno, &off);
        if (rc == KS_ELIMIT) {
            x->nbad++;
            report(x, KS_DIAG_WARN, KS_ELIMIT, lineno, off,
                   "line longer than %zu bytes skipped (exchange.max_line)", x->lines.max);
            continue;
        }
        if (rc != KS_OK)
            return rc;
        if (lineno == 1 && n >= 3 && (uint8_t)s[0] == 0xef && (uint8_t)s[1] == 0xbb &&
            (uint8_t)s[2] == 0xbf)
            s += 3, n -= 3;
        if (n == 0)
            continue;
        if (s[0] == '#') {
            directive(x, s, n, lineno, off);
            continue;
        }
        bool high;
        if (ks__line_has_ctl(s, n, &high)) {
            x->nbad++;
            report(x, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                   "binary or control bytes in a record; line skipped");
            continue;
        }
        ks__event_reset(ev);
        if (high) {
            ks_slice fixed;
            if (ks__utf8_repair(ev->arena, s, n, &fixed) != KS_OK) {
                x->nbad++;
                continue;
            }
            s = fixed.p;
            n = fixed.n;
        }
        ev->prov.line = lineno;
        ev->prov.offset = off;
        ks_value v = {.type = KS_VSTR};
        const xlayout *L = &x->hdr;
        size_t nt;
        bool proxy_default = false;
        if (!L->n) {
            size_t commas = 0;
            for (const char *c = s; (c = memchr(c, ',', n - (size_t)(c - s))) != NULL; c++)
                commas++;
            if (!iso_at((const uint8_t *)s, n) || commas < 40) {
                if (x->nlogtype) {
                    v.u.s.p = x->logtype;
                    v.u.s.n = x->nlogtype;
                    ks__event_add(ev, x->s_logtype, &v);
                }
                return emit_message(x, ev, s, n);
            }
            if (!x->proxy.n && !layout_build(x, &x->proxy, httpproxy_default,
                                             sizeof httpproxy_default - 1))
                return KS_ENOMEM;
            L = &x->proxy;
            proxy_default = true;
        }
        nt = csv_split(ev->arena, s, n, x->toks, EX_MAX_FIELDS);
        if (nt == (size_t)-1) {
            x->nbad++;
            report(x, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                   "unterminated quoted field; line skipped");
            continue;
        }
        if (nt > EX_MAX_FIELDS || (!proxy_default && nt != L->n)) {
            x->nbad++;
            report(x, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                   "record has %s%zu columns, #Fields names %zu; skipped",
                   nt > EX_MAX_FIELDS ? "more than " : "", KS_MIN(nt, (size_t)EX_MAX_FIELDS), L->n);
            continue;
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
        if (x->nlogtype || proxy_default) {
            v.u.s.p = x->nlogtype ? x->logtype : "HttpProxy Logs";
            v.u.s.n = x->nlogtype ? x->nlogtype : 14;
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
