/* SPDX-License-Identifier: Apache-2.0
 *
 * The "w3c" input: IIS (and other) W3C extended log files, u_ex*.log.
 *
 * A file is a series of header blocks (#Software, #Version, #Date, #Fields:
 * written again at every IIS restart or configuration change) followed by
 * space-separated records in the order the latest #Fields names. Each record
 * becomes one event whose field names are exactly the W3C names (date, time,
 * c-ip, cs-method, cs-uri-stem, cs-uri-query, sc-status, cs(User-Agent),
 * cs(Cookie), ...) because Sigma's webserver rules use them.
 *
 * Values: "-" (W3C for "empty") becomes an empty string; in header fields
 * (cs(...), sc(...), cs-username) IIS writes spaces as '+', which are turned
 * back into spaces. The URI fields stay exactly as logged (a responder must
 * see the raw text) and get companions with percent-escapes decoded for
 * matching: cs-uri-stem-decoded and cs-uri-query-decoded (the query also
 * with '+' as space); see docs/EXCHANGE.md. Event time = date + time (UTC
 * by the W3C definition; IIS always logs UTC).
 *
 * Files without any #Fields line (log shippers often strip headers) are read
 * with the IIS layout that fits the field count (default 14/15-field sets,
 * with cs-host, the Exchange s-computername/X-Forwarded-For variant).
 *
 * Damage is local: a record with the wrong field count, binary garbage or an
 * over-long line is reported (file and line) and skipped; a #Fields change
 * mid-file simply switches the layout. Big files are split at line
 * boundaries so every core works; a part finds its #Fields by scanning the
 * file before it, which also gives the true line numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "weblog.h"

#define W3C_MAX_FIELDS 128
#define W3C_MAX_LINE ((size_t)256 << 10)   /* w3c.max_line */
#define W3C_PART_MIN ((uint64_t)128 << 20) /* split granularity */
#define W3C_MAX_PARTS 4

enum kind {
    K_PLAIN = 0, /* value as logged */
    K_HEADER,    /* cs(...), sc(...), cs-username: '+' means space */
    K_STEM,      /* cs-uri-stem: plus a percent-decoded companion */
    K_QUERY,     /* cs-uri-query: plus a decoded companion ('+' = space) */
};

typedef struct col {
    ks_sym name;    /* W3C field name */
    ks_sym dec;     /* "<name>-decoded" for K_STEM / K_QUERY */
    uint8_t kind;   /* enum kind */
} col;

typedef struct layout {
    col cols[W3C_MAX_FIELDS];
    size_t n;          /* 0 = none yet */
    int idate, itime;  /* column of date / time, -1 if absent */
    uint64_t shape;    /* the events' field names in order (ks_event.shape) */
    size_t nfields;    /* fields a record adds: n and the decoded companions */
    bool direct;       /* every name interned: fill_event may write them in place */
} layout;

typedef struct w3c_in {
    ks_input_ctx ctx;
    ks_engine *e;
    ks_lines lines;
    uint64_t end;            /* stop before this offset (split parts) */
    layout hdr;              /* from the latest #Fields */
    layout guess;            /* headerless layout for the current count */
    const char *guess_src;   /* the names `guess` was built from */
    int64_t hdr_day;         /* #Date day (UTC ns at 00:00) for time-only logs */
    ks_diagcap dc;           /* located diagnostics, capped */
    uint64_t nbad;           /* records skipped */
    ks_slice toks[W3C_MAX_FIELDS + 17]; /* scan_record may pass max by a block's 16 */
    char *plus;              /* the record with every '+' a space (LF_PLUS) */
    size_t plus_cap;
    ks_w3c_day day;          /* the last date parsed */
    const uint8_t *peek;     /* ks__lines_peek's bytes from lines.off on (fast_record) */
    size_t npeek;            /* how many; 0 = peek again */
} w3c_in;

/* ---- probe ------------------------------------------------------------------ */

static bool is_date_time(const uint8_t *h, size_t n)
{
    static const char pat[] = "dddd-dd-dd dd:dd:dd ";
    if (n < sizeof pat - 1)
        return false;
    for (size_t i = 0; i < sizeof pat - 1; i++) {
        if (pat[i] == 'd' ? (h[i] < '0' || h[i] > '9') : h[i] != (uint8_t)pat[i])
            return false;
    }
    return true;
}

static bool starts(const uint8_t *h, size_t n, const char *s)
{
    size_t k = strlen(s);
    return n >= k && memcmp(h, s, k) == 0;
}

static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS",
                                      "RPC_IN_DATA", "RPC_OUT_DATA", "PROPFIND", "PATCH"};

static int w3c_probe(const uint8_t *h, size_t n, const char *name)
{
    int score = 0;
    if (n >= 3 && h[0] == 0xef && h[1] == 0xbb && h[2] == 0xbf) {
        h += 3;
        n -= 3;
    }
    if (starts(h, n, "#Software: Microsoft Internet Information Services"))
        score = 95;
    else if (starts(h, n, "#Software: Microsoft Exchange"))
        return 0; /* Exchange's own CSV logs: exchange_logs.c */
    else if (starts(h, n, "#Version: 1.0") || starts(h, n, "#Fields: ") || starts(h, n, "#Software: ")) {
        /* A W3C directive block: make sure #Fields is space-separated. */
        const uint8_t *f = NULL;
        for (size_t i = 0; i + 9 <= n; i++)
            if ((i == 0 || h[i - 1] == '\n') && memcmp(h + i, "#Fields: ", 9) == 0) {
                f = h + i + 9;
                break;
            }
        if (!f)
            score = starts(h, n, "#Version: 1.0") ? 60 : 0;
        else {
            const uint8_t *eol = memchr(f, '\n', n - (size_t)(f - h));
            size_t len = eol ? (size_t)(eol - f) : n - (size_t)(f - h);
            score = memchr(f, ',', len) ? 0 : 90;
        }
    } else if (is_date_time(h, n)) {
        /* Headerless: a method among the first tokens of the first line. */
        const uint8_t *eol = memchr(h, '\n', n);
        size_t len = eol ? (size_t)(eol - h) : n;
        size_t spaces = 0;
        for (size_t i = 0; i < len; i++)
            spaces += h[i] == ' ';
        if (spaces >= 12) {
            for (size_t m = 0; m < KS_ARRAY_LEN(methods) && !score; m++) {
                char pat[24];
                int k = snprintf(pat, sizeof pat, " %s ", methods[m]);
                for (size_t i = 0; k > 0 && i + (size_t)k <= len && i < 80; i++)
                    if (memcmp(h + i, pat, (size_t)k) == 0) {
                        score = 55;
                        break;
                    }
            }
        }
    }
    if (score && name && (strncmp(name, "u_ex", 4) == 0 || strncmp(name, "ex", 2) == 0))
        score += 4;
    return score;
}

/* ---- layouts ---------------------------------------------------------------- */

static ks_sym intern(w3c_in *w, const char *s, size_t n)
{
    return ks__symcache_intern(w->ctx.w->cache, s, n);
}

static bool name_is(const char *s, size_t n, const char *lit)
{
    return ks__ieq(s, n, lit, strlen(lit));
}

/* Builds a layout from space-separated names. Returns false (layout
 * unchanged) when there are too many or the interner is full. */
static bool layout_build(w3c_in *w, layout *L, const char *s, size_t n)
{
    layout nl;
    nl.n = 0;
    nl.idate = nl.itime = -1;
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        size_t b = i;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        if (i == b)
            break;
        if (nl.n == W3C_MAX_FIELDS)
            return false;
        col *c = &nl.cols[nl.n];
        const char *f = s + b;
        size_t fl = i - b;
        c->name = intern(w, f, fl);
        c->dec = 0;
        c->kind = K_PLAIN;
        if (!c->name)
            return false;
        if (name_is(f, fl, "date"))
            nl.idate = (int)nl.n;
        else if (name_is(f, fl, "time"))
            nl.itime = (int)nl.n;
        else if (name_is(f, fl, "cs-uri-stem") || name_is(f, fl, "cs-uri-query")) {
            char dn[64];
            int k = snprintf(dn, sizeof dn, "%.*s-decoded", (int)fl, f);
            c->kind = name_is(f, fl, "cs-uri-stem") ? K_STEM : K_QUERY;
            c->dec = intern(w, dn, (size_t)k);
        } else if (fl > 3 && (memcmp(f, "cs(", 3) == 0 || memcmp(f, "sc(", 3) == 0 ||
                              memcmp(f, "s(", 2) == 0)) {
            c->kind = K_HEADER;
        } else if (name_is(f, fl, "cs-username")) {
            c->kind = K_HEADER;
        }
        nl.n++;
    }
    if (nl.n == 0)
        return false;
    /* Every record of the layout adds the same names in the same order
     * (a name the interner refused is dropped from each alike). */
    nl.shape = ks__event_shape_new();
    nl.nfields = nl.n;
    nl.direct = true;
    for (size_t k = 0; k < nl.n; k++) {
        bool dec = nl.cols[k].kind == K_STEM || nl.cols[k].kind == K_QUERY;
        nl.nfields += dec;
        if (dec && !nl.cols[k].dec)
            nl.direct = false;
    }
    *L = nl;
    return true;
}

/* IIS layouts for files without #Fields, keyed by field count. */
static const char *guess_layout(const ks_slice *t, size_t n)
{
    bool host3 = n > 2 && t[2].n && !(t[2].p[0] >= '0' && t[2].p[0] <= '9') &&
                 !memchr(t[2].p, ':', t[2].n);
    switch (n) {
    case 14:
        return "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
               "cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken";
    case 15:
        return "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
               "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken";
    case 16:
        return "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
               "cs(User-Agent) cs(Referer) cs-host sc-status sc-substatus sc-win32-status "
               "time-taken";
    case 18:
        if (host3)
            return "date time s-computername s-ip cs-method cs-uri-stem cs-uri-query s-port "
                   "cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus "
                   "sc-win32-status time-taken X-Forwarded-For c-port";
        return "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
               "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes "
               "cs-bytes time-taken X-Forwarded-For";
    }
    return NULL;
}

/* ---- directives --------------------------------------------------------------- */

static void directive(w3c_in *w, const char *s, size_t n, uint64_t lineno, uint64_t off)
{
    if (n >= 8 && memcmp(s, "#Fields:", 8) == 0) {
        layout old = w->hdr;
        if (!layout_build(w, &w->hdr, s + 8, n - 8)) {
            ks__diagcap(&w->dc, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                   "unusable #Fields line (empty or more than %d fields); keeping the previous layout",
                   W3C_MAX_FIELDS);
            return;
        }
        bool changed = old.n && (old.n != w->hdr.n ||
                                 memcmp(old.cols, w->hdr.cols, old.n * sizeof old.cols[0]) != 0);
        if (changed)
            ks__diagcap(&w->dc, KS_DIAG_INFO, KS_OK, lineno, off,
                   "#Fields changed mid-file (%zu -> %zu fields); later records use the new layout",
                   old.n, w->hdr.n);
    } else if (n >= 7 && memcmp(s, "#Date:", 6) == 0) {
        size_t i = 6;
        while (i < n && s[i] == ' ')
            i++;
        int64_t t;
        if (n - i >= 19 && ks__w3c_time(s + i, 10, s + i + 11, 8, &t) == KS_OK)
            w->hdr_day = t - (t % (86400ll * 1000000000ll));
    }
}

/* ---- open / split ---------------------------------------------------------------- */

/* Reads the directive line starting at `at` (before `begin`) and applies it. */
static void prefix_directive(w3c_in *w, uint64_t at, uint64_t begin, uint64_t lineno)
{
    const uint8_t *p;
    size_t avail;
    size_t want = (size_t)KS_MIN((uint64_t)W3C_MAX_LINE, begin - at);
    if (ks__source_window(w->ctx.src, at, want, &p, &avail) != KS_OK || avail == 0)
        return;
    avail = KS_MIN(avail, want);
    const uint8_t *e = memchr(p, '\n', avail);
    size_t len = e ? (size_t)(e - p) : avail;
    if (len && p[len - 1] == '\r')
        len--;
    directive(w, (const char *)p, len, lineno, at);
}

/* Newlines in p[0..n). SSE2 (every x86-64): compare 16 bytes at a time,
 * subtract the 0xff matches into byte counters, fold them with SAD every
 * 255 rounds; ~10 GB/s where a memchr per line managed ~1 GB/s. */
static uint64_t count_nl(const uint8_t *p, size_t n)
{
    uint64_t c = 0;
    size_t i = 0;
#ifdef __SSE2__
    const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
    while (n - i >= 16) {
        __m128i acc = _mm_setzero_si128();
        size_t rounds = KS_MIN((n - i) / 16, (size_t)255);
        for (size_t r = 0; r < rounds; r++, i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(v, nl));
        }
        __m128i sad = _mm_sad_epu8(acc, zero);
        c += (uint64_t)_mm_cvtsi128_si64(sad) + (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sad, sad));
    }
#endif
    for (; i < n; i++)
        c += p[i] == '\n';
    return c;
}

/* For a part that starts mid-file: the line number of `begin` and the
 * #Fields / #Date in force there, from one forward pass over the bytes
 * before it (newline counting at memory speed; '#' only matters at a line
 * start). The pass slides a 1 MiB window and releases what it has read, so
 * memory stays flat however far into the file the part starts. */
static int part_prefix(w3c_in *w, uint64_t begin)
{
    uint64_t off = 0, lines = 0;
    bool line_start = true; /* the byte at `off` starts a line */
    while (off < begin) {
        const uint8_t *p;
        size_t avail;
        int rc = ks__source_window(w->ctx.src, off, 1 << 20, &p, &avail);
        if (avail == 0)
            return rc != KS_OK ? rc : KS_OK;
        /* Mapped files hand out everything at once: take 1 MiB a step so
         * the release below keeps dropping pages behind us. */
        size_t n = (size_t)KS_MIN(KS_MIN((uint64_t)avail, (uint64_t)1 << 20), begin - off);
        size_t done = 0;  /* bytes of this block whose newlines are counted */
        for (size_t i = 0; i < n;) {
            const uint8_t *h = memchr(p + i, '#', n - i);
            if (!h)
                break;
            size_t at = (size_t)(h - p);
            bool starts = at == 0 ? line_start : p[at - 1] == '\n';
            if (starts) {
                lines += count_nl(p + done, at - done);
                done = at;
                prefix_directive(w, off + at, begin, lines + 1);
                /* prefix_directive moved the window: fetch ours again. */
                rc = ks__source_window(w->ctx.src, off, 1 << 20, &p, &avail);
                if (avail < n)
                    return rc != KS_OK ? rc : KS_EIO;
            }
            i = at + 1;
        }
        lines += count_nl(p + done, n - done);
        line_start = p[n - 1] == '\n';
        off += n;
        ks__source_release(w->ctx.src, off);
    }
    w->lines.off = begin;
    w->lines.lineno = lines;
    return KS_OK;
}

static int w3c_split(ks_source *src, uint64_t *bounds, size_t max, size_t *nparts)
{
    const uint8_t *p;
    uint64_t n;
    int rc = ks__source_map(src, &p, &n);
    if (rc != KS_OK)
        return rc;
    size_t k = 0;
    bounds[k++] = 0;
    /* A part re-reads the bytes before it (line numbers, #Fields), so few
     * big parts: at most W3C_MAX_PARTS per file, none under 128 MiB. Logs
     * come a file a day, which keeps the other cores busy anyway. */
    uint64_t step = KS_MAX(W3C_PART_MIN, n / W3C_MAX_PARTS + 1);
    uint64_t at = step;
    while (at < n && k < max) {
        const uint8_t *nl = memchr(p + at, '\n', (size_t)(n - at));
        if (!nl)
            break;
        uint64_t b = (uint64_t)(nl - p) + 1;
        if (b >= n)
            break;
        bounds[k++] = b;
        at = b + step;
    }
    bounds[k] = n;
    *nparts = k;
    return KS_OK;
}

static int w3c_open(const ks_input_ctx *ctx, void **state)
{
    w3c_in *w = calloc(1, sizeof *w);
    int rc;
    if (!w)
        return KS_ENOMEM;
    w->ctx = *ctx;
    w->e = ctx->w->engine;
    w->dc = (ks_diagcap){.e = w->e, .path = ctx->path, .component = "w3c"};
    w->end = ctx->end;
    w->hdr_day = KS_TIME_NONE;
    w->hdr.idate = w->hdr.itime = -1;
    size_t max = (size_t)ks__opt_int(w->e, "w3c.max_line");
    /* A record's values live only until the next line is read, and
     * part_prefix fetches its window again after each directive: reads
     * (pread into a buffer) serve this reader, not the mapping. */
    ks__source_use_reads(ctx->src);
    ks__lines_init(&w->lines, ctx->src, max);
    if (ctx->begin > 0 && (rc = part_prefix(w, ctx->begin)) != KS_OK) {
        free(w);
        return rc;
    }
    *state = w;
    return KS_OK;
}

static void w3c_close(void *state)
{
    w3c_in *w = state;
    if (!w)
        return;
    ks__diagcap_close(&w->dc, w->nbad);
    free(w->plus);
    free(w);
}

/* ---- records ------------------------------------------------------------------- */

enum { LF_HIGH = 1, LF_CTL = 2, LF_PLUS = 4, LF_PCT = 8 };

/* Ends token k (from b) at the space at pos; false when t is full. */
static inline bool cut(ks_slice *t, size_t *k, size_t max, const char *s, size_t *b, size_t pos)
{
    if (*k == max)
        return false;
    t[*k].p = s + *b;
    t[*k].n = pos - *b;
    (*k)++;
    *b = pos + 1;
    return true;
}

/* One pass over a record: splits it at spaces into t (returns the count,
 * max + 1 when there are more) and sets LF_* flags for bytes >= 0x80,
 * control bytes other than tab, '+' and '%' — so the per-field work
 * ('+' to space, percent-decoding, UTF-8 repair) runs only on lines that
 * need it. Sixteen bytes at a time with SSE2 (every x86-64: the compares
 * give the space positions as a bit mask, the flags are or-ed up and read
 * once; a third of the SWAR loop's work, which was 4% of an IIS hunt),
 * then eight at a time (SWAR, exact byte masks; the bit tricks assume a
 * little-endian word), then bytes. */
static size_t scan_line(const char *s, size_t n, ks_slice *t, size_t max, unsigned *flags)
{
    size_t k = 0, b = 0, i = 0;
    unsigned fl = 0;
#ifdef __SSE2__
    const __m128i sp16 = _mm_set1_epi8(' '), plus16 = _mm_set1_epi8('+'),
                  pct16 = _mm_set1_epi8('%'), tab16 = _mm_set1_epi8('\t'),
                  c1f16 = _mm_set1_epi8(0x1f);
    __m128i plus = _mm_setzero_si128(), pct = plus, ctl = plus, high = plus;
    bool over = false; /* more than max fields */
    for (; i + 16 <= n && !over; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        plus = _mm_or_si128(plus, _mm_cmpeq_epi8(v, plus16));
        pct = _mm_or_si128(pct, _mm_cmpeq_epi8(v, pct16));
        high = _mm_or_si128(high, v);
        /* bytes <= 0x1f (unsigned: min(v, 0x1f) == v) other than tab */
        ctl = _mm_or_si128(ctl, _mm_andnot_si128(_mm_cmpeq_epi8(v, tab16),
                                                 _mm_cmpeq_epi8(_mm_min_epu8(v, c1f16), v)));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, sp16));
        for (; m && !over; m &= m - 1)
            over = !cut(t, &k, max, s, &b, i + (size_t)__builtin_ctz(m));
    }
    fl |= (_mm_movemask_epi8(plus) ? LF_PLUS : 0) | (_mm_movemask_epi8(pct) ? LF_PCT : 0) |
          (_mm_movemask_epi8(ctl) ? LF_CTL : 0) | (_mm_movemask_epi8(high) ? LF_HIGH : 0);
    if (over) {
        *flags = fl;
        return max + 1;
    }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, hi = 0x8080808080808080ull,
                   lo7 = 0x7f7f7f7f7f7f7f7full;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t y = w & lo7;
        /* byte == c exactly: ((x & 7f) + 7f) | x has the high bit clear only for 0 */
        uint64_t x = w ^ (ones * ' ');
        uint64_t sp = ~(((x & lo7) + lo7) | x) & hi;
        uint64_t ctl = ~((y + ones * 0x60) | w) & hi; /* bytes < 0x20 */
        if (w & hi)
            fl |= LF_HIGH;
        if (ctl) {
            for (uint64_t m = ctl; m; m &= m - 1)
                if (s[i + (size_t)(__builtin_ctzll(m) >> 3)] != '\t')
                    fl |= LF_CTL;
        }
        x = w ^ (ones * '+');
        if (~(((x & lo7) + lo7) | x) & hi)
            fl |= LF_PLUS;
        x = w ^ (ones * '%');
        if (~(((x & lo7) + lo7) | x) & hi)
            fl |= LF_PCT;
        for (; sp; sp &= sp - 1) {
            if (!cut(t, &k, max, s, &b, i + (size_t)(__builtin_ctzll(sp) >> 3))) {
                *flags = fl;
                return max + 1;
            }
        }
    }
#endif
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ') {
            if (!cut(t, &k, max, s, &b, i)) {
                *flags = fl;
                return max + 1;
            }
        } else if (c < 0x20 && c != '\t') {
            fl |= LF_CTL;
        } else if (c >= 0x80) {
            fl |= LF_HIGH;
        } else if (c == '+') {
            fl |= LF_PLUS;
        } else if (c == '%') {
            fl |= LF_PCT;
        }
    }
    *flags = fl;
    if (k == max)
        return max + 1;
    t[k].p = s + b;
    t[k].n = n - b;
    return k + 1;
}

/* Ends a token at each space of the block at i (bit j of spm: s[i + j]);
 * returns the new count. */
static inline size_t cut_spaces(ks_slice *t, size_t k, const char *s, size_t *b, size_t i,
                                unsigned spm)
{
    for (; spm; spm &= spm - 1) {
        size_t pos = i + (size_t)__builtin_ctz(spm);
        t[k].p = s + *b;
        t[k].n = pos - *b;
        k++;
        *b = pos + 1;
    }
    return k;
}

/* The record at the front of s (avail bytes readable), read in one pass
 * that finds its end and its spaces together, where ks__lines_next's
 * memchr and then scan_line each read the line. Sixteen bytes a step
 * (SSE2): '\n' and ' ' by compare masks; one signed compare finds bytes
 * below 0x20 and from 0x80 together, rare but for the '\r' of a CRLF
 * line's end. Returns the record's length without its line end (*next:
 * the bytes to its '\n' and past it), its tokens in t (*nt) and LF_PLUS /
 * LF_PCT, or 0 for a line the general path reads: no '\n' within the
 * readable bytes (short of a block past it), longer than max_line, empty,
 * a directive, blank at its end, with a tab, a control byte or a byte
 * from 0x80 (repaired there), more than max fields. t must hold max + 17
 * (the count is checked once a block). */
static size_t scan_record(const char *s, size_t avail, size_t max_line, ks_slice *t, size_t max,
                          size_t *nt, unsigned *flags, size_t *next)
{
#ifdef __SSE2__
    const __m128i nl16 = _mm_set1_epi8('\n'), sp16 = _mm_set1_epi8(' '),
                  plus16 = _mm_set1_epi8('+'), pct16 = _mm_set1_epi8('%'),
                  c20 = _mm_set1_epi8(0x20);
    __m128i plus = _mm_setzero_si128(), pct = plus;
    size_t k = 0, b = 0, i = 0, n;
    unsigned last_plus, last_pct;
    if (avail < 16 || s[0] == '#')
        return 0;
    size_t last = KS_MIN(avail - 16, max_line); /* the last block may start here */
    for (;; i += 16) {
        if (i > last)
            return 0;
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned nlm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl16));
        unsigned spm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, sp16));
        unsigned odd = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(v, c20));
        if (nlm) {
            /* The line's last block: only the bytes before its '\n'. */
            unsigned at = (unsigned)__builtin_ctz(nlm), valid = (1u << at) - 1;
            n = i + at;
            *next = n + 1;
            if (n > max_line) /* with its '\r', as ks__lines_next counts */
                return 0;
            odd &= valid;
            if (n && s[n - 1] == '\r') {
                n--;
                if (at)
                    odd &= ~(1u << (at - 1)); /* a '\r' of the block before was let by */
            }
            if (odd)
                return 0;
            spm &= valid;
            last_plus = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, plus16)) & valid;
            last_pct = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, pct16)) & valid;
            k = cut_spaces(t, k, s, &b, i, spm);
            break;
        }
        if (odd) {
            /* Only a '\r' just before the '\n' (CRLF) is let by. */
            if (odd != 1u << 15 || s[i + 15] != '\r' || i + 16 >= avail || s[i + 16] != '\n')
                return 0;
        }
        plus = _mm_or_si128(plus, _mm_cmpeq_epi8(v, plus16));
        pct = _mm_or_si128(pct, _mm_cmpeq_epi8(v, pct16));
        k = cut_spaces(t, k, s, &b, i, spm);
        if (k > max)
            return 0;
    }
    if (n == 0 || s[n - 1] == ' ' || k + 1 > max)
        return 0;
    t[k].p = s + b;
    t[k].n = n - b;
    *nt = k + 1;
    *flags = (_mm_movemask_epi8(plus) || last_plus ? LF_PLUS : 0) |
             (_mm_movemask_epi8(pct) || last_pct ? LF_PCT : 0);
    return n;
#else
    (void)s, (void)avail, (void)max_line, (void)t, (void)max, (void)nt, (void)flags, (void)next;
    return 0;
#endif
}

/* The next record by scan_record, when it can read it: *s and *n the
 * line, its tokens in w->toks. The lines are taken from one peek while it
 * has a few KiB left (a peek per line was ~90 instructions). */
static bool fast_record(w3c_in *w, const char **s, size_t *n, size_t *nt, unsigned *fl,
                        uint64_t *lineno, uint64_t *off)
{
    size_t next;
    /* The first line may open with a byte-order mark (the general path). */
    if (!w->lines.lineno || w->lines.off >= w->end) {
        w->npeek = 0;
        return false;
    }
    if (w->npeek < 4096 &&
        ks__lines_peek(&w->lines, &w->peek, &w->npeek) != KS_OK) {
        w->npeek = 0;
        return false;
    }
    *n = scan_record((const char *)w->peek, w->npeek, w->lines.max, w->toks, W3C_MAX_FIELDS, nt,
                     fl, &next);
    if (!*n) {
        w->npeek = 0; /* ks__lines_next moves the window */
        return false;
    }
    *s = (const char *)w->peek;
    w->peek += next;
    w->npeek -= next;
    ks__lines_take(&w->lines, next, lineno, off);
    return true;
}

/* Appends a string field; writes in place while the event has room (the
 * common case: the array is reused across events) instead of a call. */
static inline int put(ks_event *ev, ks_sym name, ks_slice v)
{
    if (KS_LIKELY(ev->n < ev->cap && name)) {
        ks_field *f = &ev->fields[ev->n++];
        f->name = name;
        f->v.type = KS_VSTR;
        f->v.u.s = v;
        return KS_OK;
    }
    ks_value val = {.type = KS_VSTR};
    val.u.s = v;
    return ks__event_add(ev, name, &val);
}

/* w->plus: the record s[0..n) with every '+' turned into a space, in one
 * pass over the line, so that a header field (cs(User-Agent) has a '+'
 * per word) or a query's decoded companion is a slice of it at the
 * token's offset instead of a copy made per field. */
static int plus_line(w3c_in *w, const char *s, size_t n)
{
    if (n + 1 > w->plus_cap) {
        size_t cap = KS_MAX(n + 1, (size_t)1024);
        char *p = realloc(w->plus, cap);
        if (!p)
            return KS_ENOMEM;
        w->plus = p;
        w->plus_cap = cap;
    }
    char *d = w->plus;
    size_t i = 0;
#ifdef __SSE2__
    const __m128i plus16 = _mm_set1_epi8('+'), flip = _mm_set1_epi8('+' ^ ' ');
    for (; n >= 16; i += 16) {
        if (i + 16 > n)
            i = n - 16; /* the tail as a block overlapping the one before */
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        v = _mm_xor_si128(v, _mm_and_si128(_mm_cmpeq_epi8(v, plus16), flip));
        _mm_storeu_si128((__m128i *)(void *)(d + i), v);
        if (i + 16 == n) {
            i = n;
            break;
        }
    }
#endif
    for (; i < n; i++)
        d[i] = s[i] == '+' ? ' ' : s[i];
    return KS_OK;
}

/* Adds column c's value v, a token of the record s (pl: the record with
 * '+' as space, or NULL when it has none). */
static int add_value(ks_event *ev, const col *c, ks_slice v, unsigned fl, const char *s,
                     const char *pl)
{
    ks_slice out = v;
    int rc = KS_OK;
    if (v.n == 1 && v.p[0] == '-')
        v.n = 0, out.n = 0;
    switch (c->kind) {
    case K_HEADER:
        if (pl)
            out.p = pl + (v.p - s);
        break;
    case K_STEM:
    case K_QUERY: {
        ks_slice dec = v;
        if (put(ev, c->name, v) == KS_ENOMEM)
            return KS_ENOMEM;
        if ((fl & LF_PCT) && memchr(v.p, '%', v.n))
            rc = ks__url_decode(ev->arena, v.p, v.n, c->kind == K_QUERY, &dec);
        else if (c->kind == K_QUERY && pl)
            dec.p = pl + (v.p - s); /* no escape: only '+' to read as space */
        return put(ev, c->dec, dec) == KS_ENOMEM ? KS_ENOMEM : rc;
    }
    default:
        break;
    }
    int r2 = put(ev, c->name, out);
    return rc != KS_OK ? rc : (r2 == KS_ENOMEM ? KS_ENOMEM : KS_OK);
}

/* The record's fields, one per column in order (with the decoded
 * companions after their URI fields), as add_value adds them: written in
 * place when the event's array has room for the layout's fields, which is
 * nearly always (it is reused across events), instead of a put per field
 * that checks room and name and stores the count back each time. */
static int fill_event(w3c_in *w, ks_event *ev, const layout *L, const char *s, unsigned fl,
                      const char *pl)
{
    const ks_slice *t = w->toks;
    if (!L->direct || ev->cap - ev->n < L->nfields || ev->n + L->nfields > KS_EVENT_MAX_FIELDS) {
        for (size_t i = 0; i < L->n; i++)
            if (add_value(ev, &L->cols[i], t[i], fl, s, pl) == KS_ENOMEM)
                return KS_ENOMEM;
        return KS_OK;
    }
    /* restrict: the stores to the fields do not touch the layout or the
     * tokens, so neither is read again after each store */
    ks_field *restrict f = ev->fields + ev->n;
    const col *restrict cols = L->cols;
    const size_t ncol = L->n;
    for (size_t i = 0; i < ncol; i++, f++) {
        const col *c = &cols[i];
        ks_slice v = t[i];
        if (v.n == 1 && v.p[0] == '-')
            v.n = 0;
        f->name = c->name;
        f->v.type = KS_VSTR;
        f->v.u.s = v;
        if (KS_LIKELY(c->kind == K_PLAIN))
            continue;
        if (c->kind == K_HEADER) {
            if (pl)
                f->v.u.s.p = pl + (v.p - s);
            continue;
        }
        /* dec in registers: when the decoder's out-parameter was dec itself,
         * the slice went through the stack on every line, and its 16-byte
         * load after two 8-byte stores stalled (12 % of this function's
         * perf samples sat on the store after it) */
        const char *dp = v.p;
        size_t dn = v.n;
        if ((fl & LF_PCT) && memchr(v.p, '%', v.n)) {
            ks_slice out;
            if (ks__url_decode(ev->arena, v.p, v.n, c->kind == K_QUERY, &out) == KS_ENOMEM)
                return KS_ENOMEM;
            dp = out.p;
            dn = out.n;
        } else if (c->kind == K_QUERY && pl) {
            dp = pl + (v.p - s);
        }
        f++;
        f->name = c->dec;
        f->v.type = KS_VSTR;
        f->v.u.s.p = dp;
        f->v.u.s.n = dn;
    }
    ev->n = (size_t)(f - ev->fields);
    return KS_OK;
}

static int w3c_next(void *state, ks_event *ev)
{
    w3c_in *w = state;
    for (;;) {
        const char *s;
        size_t n, nt;
        unsigned fl;
        uint64_t lineno, off;
        /* The event came reset (ks_input.next) and the general path below
         * adds nothing to it before a record it keeps: no reset here. */
        if (!fast_record(w, &s, &n, &nt, &fl, &lineno, &off)) {
            int rc = ks__lines_next(&w->lines, &s, &n, &lineno, &off);
            if (rc == KS_OK && off >= w->end)
                return KS_EOF;
            if (rc == KS_ELIMIT) {
                if (off >= w->end)
                    return KS_EOF;
                w->nbad++;
                ks__diagcap(&w->dc, KS_DIAG_WARN, KS_ELIMIT, lineno, off,
                       "line longer than %zu bytes skipped (w3c.max_line)", w->lines.max);
                continue;
            }
            if (rc != KS_OK)
                return rc == KS_EOF ? KS_EOF : rc;
            if (lineno == 1 && n >= 3 && (uint8_t)s[0] == 0xef && (uint8_t)s[1] == 0xbb &&
                (uint8_t)s[2] == 0xbf)
                s += 3, n -= 3;
            while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
            if (n == 0)
                continue;
            if (s[0] == '#') {
                directive(w, s, n, lineno, off);
                continue;
            }
            nt = scan_line(s, n, w->toks, W3C_MAX_FIELDS, &fl);
            if (fl & LF_CTL) {
                w->nbad++;
                ks__diagcap(&w->dc, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                       "binary or control bytes in a record; line skipped");
                continue;
            }
            ks__event_reset(ev);
            if (fl & LF_HIGH) {
                ks_slice fixed;
                if (ks__utf8_repair(ev->arena, s, n, &fixed) != KS_OK) {
                    w->nbad++;
                    continue;
                }
                if (fixed.p != s) { /* repaired: the tokens must point into the copy */
                    s = fixed.p;
                    n = fixed.n;
                    nt = scan_line(s, n, w->toks, W3C_MAX_FIELDS, &fl);
                }
            }
        }
        const layout *L = &w->hdr;
        if (!L->n) {
            const char *g = nt <= W3C_MAX_FIELDS ? guess_layout(w->toks, nt) : NULL;
            if (g && w->guess_src != g) {
                w->guess_src = layout_build(w, &w->guess, g, strlen(g)) ? g : NULL;
                g = w->guess_src;
            }
            if (!g || w->guess.n != nt) {
                w->nbad++;
                ks__diagcap(&w->dc, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                       "record before any #Fields line with %zu fields matches no known IIS layout; skipped",
                       nt);
                continue;
            }
            L = &w->guess;
        }
        if (nt != L->n) {
            w->nbad++;
            ks__diagcap(&w->dc, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                   "record has %s%zu fields, #Fields names %zu; skipped",
                   nt > W3C_MAX_FIELDS ? "more than " : "", KS_MIN(nt, (size_t)W3C_MAX_FIELDS),
                   L->n);
            continue;
        }
        ev->prov.line = lineno;
        ev->prov.offset = off;
        ev->shape = L->shape;
        const char *pl = NULL;
        if (fl & LF_PLUS) {
            if (plus_line(w, s, n) != KS_OK)
                return KS_ENOMEM;
            pl = w->plus;
        }
        if (fill_event(w, ev, L, s, fl, pl) != KS_OK)
            return KS_ENOMEM;
        /* Without a '%' every value is a token of the line as it stands
         * ("-" empty), or one with '+' read as a space (header fields, the
         * decoded query): the event's raw text (kensa_int.h). A '%' may
         * decode to anything, so such lines keep raw unset. */
        if (!(fl & LF_PCT)) {
            ev->raw.p = s;
            ev->raw.n = n;
            ev->raw_plus = (fl & LF_PLUS) != 0;
        }
        int64_t t;
        if (L->idate >= 0 && L->itime >= 0 &&
            ks__w3c_time_memo(&w->day, w->toks[L->idate].p, w->toks[L->idate].n, w->toks[L->itime].p,
                         w->toks[L->itime].n, &t) == KS_OK)
            ev->time = t;
        else if (L->itime >= 0 && w->hdr_day != KS_TIME_NONE &&
                 ks__w3c_time("1970-01-01", 10, w->toks[L->itime].p, w->toks[L->itime].n, &t) ==
                     KS_OK)
            ev->time = w->hdr_day + t;
        return KS_OK;
    }
}

const struct ks_input ks_input_w3c = {
    .abi = KS_INPUT_ABI_1,
    .name = "w3c",
    .description = "IIS / W3C extended log files (u_ex*.log), header blocks in any order",
    .probe = w3c_probe,
    .split = w3c_split,
    .open = w3c_open,
    .next = w3c_next,
    .close = w3c_close,
};
