/* SPDX-License-Identifier: Apache-2.0
 *
 * The "csv" input: comma-separated exports with a header row, the shape
 * logs take once they leave the server — Test-ProxyLogon's own output
 * (<server>-Cve-2021-26855.csv: "DateTime","ClientIpAddress","UrlStem",
 * "AnchorMailbox",...), SIEM and spreadsheet exports of HttpProxy or IIS
 * logs (Splunk's c_ip / cs_uri_stem, "Client IP", "URL Path"), ECP server
 * log extracts, and Entra ID sign-ins downloaded from the portal or
 * exported from Log Analytics ("Date (UTC)", "Username", "IP address",
 * "Sign-in error code": named as Entra's JSON names them).
 *
 * The header names the columns; each name goes through the field schema
 * (engine/fields.def: ks__field_of_header compares it with the canonical
 * names and the w3c, exchange and export rows, ignoring case, spaces and
 * punctuation: "Client IP" = "client_ip" = "ClientIp") so a rule or
 * detector sees the names its own log format uses: a file whose columns
 * say HttpProxy (UrlStem, ClientIpAddress, AuthenticatedUser,
 * AnchorMailbox by Exchange's spelling) gets Exchange's names and
 * "Log-type: HttpProxy Logs"; one with a URL path otherwise gets the W3C
 * names with their decoded companions (cs-uri-stem-decoded, as the w3c
 * input makes them); an ECP extract (ServerName + EventData) gets
 * "Log-type: ECP Server Log". Other columns keep their header text.
 *
 * One event per row; the time comes from the first time-like column (ISO
 * 8601, or W3C date + time columns). A row whose column count differs from
 * the header's is reported (file, line) and kept whole as "Message".
 * Quoted cells may not span lines (the rest of such a cell is reported).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "weblog.h"

#define CSV_MAX_COLS 256
#define CSV_MAX_NAME 64

enum family { FAM_GENERIC, FAM_W3C, FAM_PROXY, FAM_ECP, FAM_ENTRA };

/* The schema sources whose names header cells are compared with: Entra's
 * own (a Log Analytics export keeps UserPrincipalName, ResultType) and its
 * portal download's words come first, so "IP address" is Entra's. */
static const char *const hdr_sources[] = {"entra_csv", "exchange", "w3c", "export", "entra", NULL};

/* A header cell through the schema. */
typedef struct hcol {
    int f;                /* KS_F_x, -1 = not in the schema */
    const char *src;      /* the matching row's source (static) */
} hcol;

/* Columns holding the record time (normalised names), first wins. */
static const char *const time_names[] = {"datetime", "timestamp", "time", "eventtime", "timegenerated",
                                         "timecreated", "date", "logtime", "dateutc", "createddatetime",
                                         "timegeneratedutc", "creationdate", "creationtime"};

typedef struct col {
    ks_sym name;          /* event field */
    ks_sym decoded;       /* "-decoded" companion (W3C URI columns), 0 = none */
    bool query;           /* companion decodes '+' as space */
} col;

typedef struct csv_in {
    ks_input_ctx ctx;
    ks_engine *e;
    ks_lines lines;
    col cols[CSV_MAX_COLS];
    size_t ncols;         /* 0 until the header row is read */
    int itime, idate;     /* time / W3C date column, -1 = none */
    const char *logtype;  /* static; NULL = none */
    ks_sym s_logtype, s_message;
    ks_diagcap dc;        /* located diagnostics, capped */
    uint64_t nbad;        /* rows skipped or kept whole */
    ks_slice toks[CSV_MAX_COLS + 1];
} csv_in;

/* ---- names ------------------------------------------------------------------------- */

static hcol column_of(ks_slice c)
{
    hcol h = {-1, NULL};
    h.f = ks__field_of_header(c.p, c.n, hdr_sources, &h.src);
    return h;
}

static bool header_cell(ks_slice c)
{
    bool letter = false;
    if (!c.n || c.n > CSV_MAX_NAME)
        return false;
    for (size_t i = 0; i < c.n; i++) {
        int ch = (unsigned char)c.p[i];
        bool alpha = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
        letter |= alpha;
        if (!alpha && !(ch >= '0' && ch <= '9') && !strchr(" _-.()@/:", ch))
            return false;
    }
    return letter;
}

/* The family a header row belongs to: HttpProxy when a column its own
 * log spells that way names the client, path, user or anchor mailbox;
 * W3C for any other URL path; ECP for the server name + event data. */
static enum family family_of(const hcol *c, size_t n)
{
    bool stem = false, server = false, data = false;
    for (size_t i = 0; i < n; i++) /* Entra sign-ins: their result code column */
        if (c[i].f == KS_F_RESULT_CODE && c[i].src && !strncmp(c[i].src, "entra", 5))
            return FAM_ENTRA;
    for (size_t i = 0; i < n; i++) {
        bool ex = c[i].src && !strcmp(c[i].src, "exchange");
        if (ex && (c[i].f == KS_F_ANCHOR_MAILBOX || c[i].f == KS_F_URL_PATH ||
                   c[i].f == KS_F_SOURCE_IP || c[i].f == KS_F_USER))
            return FAM_PROXY;
        stem |= c[i].f == KS_F_URL_PATH;
        server |= ex && c[i].f == KS_F_HOST;
        data |= c[i].f == KS_F_EVENT_DATA;
    }
    return stem ? FAM_W3C : server && data ? FAM_ECP : FAM_GENERIC;
}

/* ---- probe ------------------------------------------------------------------------ */

/* A header none of whose columns kensa knows, in a file not named .csv,
 * is a table only when every complete row in the head has the header's
 * width: a licence's "Copyright 1999, 2001-2023 Free Software Foundation,
 * Inc." splits at its commas too, and plain-text files (NEWS, BUGS,
 * README) claimed as CSV would be read as damaged rows, a warning each. */
static bool generic_table(const uint8_t *h, size_t n, const uint8_t *eol, ks_slice *t, size_t k)
{
    const uint8_t *row = eol + 1, *end = h + n;
    for (int r = 0; r < 4 && row < end; r++) {
        const uint8_t *reol = memchr(row, '\n', (size_t)(end - row));
        if (!reol)
            break; /* the head ends inside this row */
        size_t len = (size_t)(reol - row);
        if (len && row[len - 1] == '\r')
            len--;
        if (len && ks__csv_split(NULL, (const char *)row, len, t, CSV_MAX_COLS) != k)
            return false;
        row = reol + 1;
    }
    return true;
}

/* The header row at the head of h (after a BOM): its cells in t, their
 * schema columns in c; returns the column count, 0 when the first line is
 * no header row. *hp, *np move past a byte-order mark; *eolp: the end of
 * the header line. */
static size_t header_row(const uint8_t **hp, size_t *np, ks_slice *t, hcol *c, const uint8_t **eolp)
{
    const uint8_t *h = *hp;
    size_t n = *np;
    if (n >= 3 && h[0] == 0xef && h[1] == 0xbb && h[2] == 0xbf)
        h += 3, n -= 3;
    *hp = h;
    *np = n;
    const uint8_t *eol = memchr(h, '\n', n);
    if (!eol || memchr(h, 0, n) || h[0] == '#' || h[0] == '{' || h[0] == '[')
        return 0;
    size_t len = (size_t)(eol - h);
    if (len && h[len - 1] == '\r')
        len--;
    size_t k = ks__csv_split(NULL, (const char *)h, len, t, CSV_MAX_COLS);
    if (k < 2 || k > CSV_MAX_COLS)
        return 0;
    for (size_t i = 0; i < k; i++) {
        if (!header_cell(t[i]))
            return 0;
        c[i] = column_of(t[i]);
    }
    *eolp = eol;
    return k;
}

static bool time_column(ks_slice cell)
{
    char nm[CSV_MAX_NAME];
    ks__header_norm(cell.p, cell.n, nm, sizeof nm);
    for (size_t t = 0; t < KS_ARRAY_LEN(time_names); t++)
        if (!strcmp(nm, time_names[t]))
            return true;
    return false;
}

bool ks__csv_is_log(const uint8_t *h, size_t n)
{
    ks_slice t[CSV_MAX_COLS + 1];
    hcol c[CSV_MAX_COLS];
    const uint8_t *eol;
    size_t k = header_row(&h, &n, t, c, &eol);
    if (!k || family_of(c, k) != FAM_GENERIC)
        return k != 0;
    for (size_t i = 0; i < k; i++)
        if (time_column(t[i]))
            return true;
    return false;
}

static int csv_probe(const uint8_t *h, size_t n, const char *name)
{
    ks_slice t[CSV_MAX_COLS + 1];
    hcol c[CSV_MAX_COLS];
    const uint8_t *eol;
    size_t k = header_row(&h, &n, t, c, &eol), known = 0;
    if (!k)
        return 0;
    for (size_t i = 0; i < k; i++)
        known += c[i].f >= 0;
    /* The first row must have the header's width (quotes aside). */
    const uint8_t *row = eol + 1, *reol = memchr(row, '\n', n - (size_t)(row - h));
    if (!reol || !memchr(row, ',', (size_t)(reol - row)))
        return 0;
    const char *dot = name ? strrchr(name, '.') : NULL;
    bool csvname = dot && (ks__ieq(dot, strlen(dot), ".csv", 4) || ks__ieq(dot, strlen(dot), ".tsv", 4));
    int score = family_of(c, k) != FAM_GENERIC ? 60 : known >= 2 ? 35 : 15;
    if (score == 15 && !csvname && !generic_table(h, n, eol, t, k))
        return 0;
    return score + (csvname ? 10 : 0);
}

/* ---- open / close ------------------------------------------------------------------ */

static int csv_open(const ks_input_ctx *ctx, void **state)
{
    csv_in *x = calloc(1, sizeof *x);
    if (!x)
        return KS_ENOMEM;
    x->ctx = *ctx;
    x->e = ctx->w->engine;
    x->dc = (ks_diagcap){.e = x->e, .path = ctx->path, .component = "csv"};
    x->itime = x->idate = -1;
    ks__lines_init(&x->lines, ctx->src,
                   (size_t)ks__opt_int(x->e, "csv.max_line"));
    x->s_logtype = ks__symcache_intern(ctx->w->cache, "Log-type", 8);
    x->s_message = ks__symcache_intern(ctx->w->cache, "Message", 7);
    *state = x;
    return x->s_logtype && x->s_message ? KS_OK : KS_ENOMEM;
}

static void csv_close(void *state)
{
    csv_in *x = state;
    if (!x)
        return;
    ks__diagcap_close(&x->dc, x->nbad);
    free(x);
}

/* ---- rows ------------------------------------------------------------------------------ */

/* The event field name of column c in family fam: the family's own
 * spelling from the schema, else the header text. A W3C name that is a
 * "-decoded" companion names the raw column without the suffix and the
 * companion decoded from it (as the w3c input makes them). */
static int column_name(csv_in *x, col *o, hcol c, enum family fam, ks_slice raw)
{
    ks_symcache *sc = x->ctx.w->cache;
    const char *nm = c.f < 0 ? NULL
                     : fam == FAM_PROXY ? ks__field_alt(c.f, "exchange")
                     : fam == FAM_W3C  ? ks__field_alt(c.f, "w3c")
                     : fam == FAM_ENTRA && !strncmp(c.src, "entra", 5) ? ks__field_alt(c.f, "entra")
                                       : NULL;
    memset(o, 0, sizeof *o);
    /* Entra's "User" column is the display name: under its header text it
     * would be Windows' User (the acting account) and outrank the UPN */
    if (!nm && fam == FAM_ENTRA && raw.n == 4 && ks__ieq(raw.p, 4, "User", 4))
        nm = "userDisplayName";
    if (!nm) {
        o->name = ks__symcache_intern(sc, raw.p, raw.n);
        return o->name ? KS_OK : KS_ENOMEM;
    }
    size_t l = strlen(nm), sl = strlen("-decoded");
    if (fam == FAM_W3C && l > sl && !strcmp(nm + l - sl, "-decoded")) {
        o->decoded = ks__symcache_intern(sc, nm, l);
        o->query = c.f == KS_F_URL_QUERY;
        l -= sl;
        if (!o->decoded)
            return KS_ENOMEM;
    }
    o->name = ks__symcache_intern(sc, nm, l);
    return o->name ? KS_OK : KS_ENOMEM;
}

static int header(csv_in *x, const char *s, size_t n, uint64_t lineno, uint64_t off)
{
    hcol c[CSV_MAX_COLS];
    size_t k = ks__csv_split(NULL, s, n, x->toks, CSV_MAX_COLS);
    if (k == (size_t)-1 || k > CSV_MAX_COLS || k < 2) {
        ks__diagcap(&x->dc, KS_DIAG_WARN, KS_EFORMAT, lineno, off, "unusable header row; file not read");
        return KS_EFORMAT;
    }
    for (size_t i = 0; i < k; i++)
        c[i] = column_of(x->toks[i]);
    enum family fam = family_of(c, k);
    for (size_t i = 0; i < k; i++) {
        char nm[CSV_MAX_NAME];
        ks_slice raw = x->toks[i];
        while (raw.n && raw.p[0] == ' ')
            raw.p++, raw.n--;
        while (raw.n && raw.p[raw.n - 1] == ' ')
            raw.n--;
        if (column_name(x, &x->cols[i], c[i], fam, raw) != KS_OK)
            return KS_ENOMEM;
        ks__header_norm(raw.p, raw.n, nm, sizeof nm);
        for (size_t t = 0; x->itime < 0 && t < KS_ARRAY_LEN(time_names); t++)
            if (!strcmp(nm, time_names[t]) && strcmp(nm, "date"))
                x->itime = (int)i;
        if (!strcmp(nm, "date") && x->idate < 0)
            x->idate = (int)i;
    }
    x->ncols = k;
    x->logtype = fam == FAM_PROXY ? "HttpProxy Logs" : fam == FAM_ECP ? "ECP Server Log" : NULL;
    return KS_OK;
}

static void row_time(csv_in *x, ks_event *ev)
{
    ks_slice t = x->itime >= 0 ? x->toks[x->itime] : (ks_slice){NULL, 0};
    ks_slice d = x->idate >= 0 ? x->toks[x->idate] : (ks_slice){NULL, 0};
    if (t.n && (ks_time_parse(t.p, t.n, &ev->time) == KS_OK || ks__us_time(t.p, t.n, &ev->time) == KS_OK))
        return;
    ev->time = KS_TIME_NONE;
    if (d.n && t.n && ks__w3c_time(d.p, d.n, t.p, t.n, &ev->time) != KS_OK)
        ev->time = KS_TIME_NONE;
    else if (d.n && !t.n && ks_time_parse(d.p, d.n, &ev->time) != KS_OK &&
             ks__us_time(d.p, d.n, &ev->time) != KS_OK)
        ev->time = KS_TIME_NONE;
}

static int csv_next(void *state, ks_event *ev)
{
    csv_in *x = state;
    for (;;) {
        ks_weblog_line ln;
        int rc = ks__weblog_next(&x->lines, &x->dc, "csv.max_line", &x->nbad, ev, &ln);
        if (rc != KS_OK)
            return rc;
        const char *s = ln.s;
        size_t n = ln.n;
        if (!x->ncols) {
            if ((rc = header(x, s, n, ln.lineno, ln.off)) != KS_OK)
                return rc;
            continue;
        }
        ks_value v = {.type = KS_VSTR};
        if (x->logtype) {
            v.u.s = (ks_slice){x->logtype, strlen(x->logtype)};
            ks__event_add(ev, x->s_logtype, &v);
        }
        size_t k = ks__csv_split(ev->arena, s, n, x->toks, CSV_MAX_COLS);
        if (k != x->ncols) {
            x->nbad++;
            ks__diagcap(&x->dc, KS_DIAG_WARN, KS_EFORMAT, ln.lineno, ln.off, "row has %s columns, the header %zu; kept as one Message field",
                   k == (size_t)-1 ? "an unterminated quote, not" : k > CSV_MAX_COLS ? "too many" : "other",
                   x->ncols);
            v.u.s = (ks_slice){s, n};
            return ks__event_add(ev, x->s_message, &v) == KS_ENOMEM ? KS_ENOMEM : KS_OK;
        }
        for (size_t i = 0; i < k; i++) {
            v.u.s = x->toks[i];
            if (ks__event_add(ev, x->cols[i].name, &v) == KS_ENOMEM)
                return KS_ENOMEM;
            if (x->cols[i].decoded) {
                ks_slice dec;
                if (ks__url_decode(ev->arena, v.u.s.p, v.u.s.n, x->cols[i].query, &dec) == KS_OK) {
                    v.u.s = dec;
                    ks__event_add(ev, x->cols[i].decoded, &v);
                }
            }
        }
        row_time(x, ev);
        return KS_OK;
    }
}

const struct ks_input ks_input_csv = {
    .abi = KS_INPUT_ABI_1,
    .name = "csv",
    .description = "CSV exports with a header row (Test-ProxyLogon output, SIEM exports of "
                   "HttpProxy / IIS / ECP logs); columns named through the field table",
    .probe = csv_probe,
    .open = csv_open,
    .next = csv_next,
    .close = csv_close,
};
