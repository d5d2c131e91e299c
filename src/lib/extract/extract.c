/* SPDX-License-Identifier: Apache-2.0
 *
 * The extraction core (extract.h): picks the extractor for a blob by
 * content, keeps the budgets that stop bombs and deep nesting, builds the
 * provenance chain of each child, and turns text in any common encoding
 * into UTF-8 pieces with offsets. The formats themselves live in one file
 * per family (archive.c, ooxml.c, mime.c, ...) registered in
 * extractors.def; this file knows none of them.
 *
 * Budgets are per top-level blob and are checked where bytes are produced:
 * ks__extract_child (depth, children, size, total) and ks__extract_text
 * (total). Extractors that decompress ask ks__xchild_room before they read
 * so a bomb is never materialised beyond the budget.
 */
#include <errno.h>
#include <iconv.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "extract/extract_int.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define KS_EXTRACTOR(sym) &sym,
const struct ks_extractor *const ks__extractors[] = {
#include "extract/extractors.def"
    NULL};
#undef KS_EXTRACTOR

#define SNIFF_MAX 4096                  /* bytes looked at to sniff */
#define PIECE_MAX ((size_t)4 << 20)     /* converted text handed over at once */

/* ---- context and budgets ---------------------------------------------------- */

static uint64_t opt_u64(ks_engine *e, const char *key, uint64_t dflt)
{
    if (!e)
        return dflt;
    int64_t v = ks__opt_int(e, key); /* the row's default when unset */
    return v > 0 ? (uint64_t)v : dflt;
}

void ks__xctx_init(ks_xctx *x, ks_engine *e, const char *path, ks_xtext_fn fn, void *ud)
{
    memset(x, 0, sizeof *x);
    x->e = e;
    x->path = path;
    x->on_text = fn;
    x->ud = ud;
    x->budget.max_depth = (unsigned)KS_MIN(opt_u64(e, "extract.max_depth", KS_XDEPTH_DEFAULT), 64);
    x->budget.max_blob = opt_u64(e, "extract.max_blob", KS_XBLOB_DEFAULT);
    x->budget.max_total = opt_u64(e, "extract.max_total", KS_XTOTAL_DEFAULT);
    x->budget.max_ratio = opt_u64(e, "extract.max_ratio", KS_XRATIO_DEFAULT);
    x->budget.max_children = opt_u64(e, "extract.max_children", KS_XCHILDREN_DEFAULT);
    x->strings = e ? ks__opt_bool(e, "extract.binary_strings") : true;
}

/* A zeroed budget member means the default (callers may fill ks_xbudget
 * partly, e.g. the fuzzers). */
static void budget_fill(ks_xbudget *b)
{
    if (!b->max_depth)
        b->max_depth = KS_XDEPTH_DEFAULT;
    if (!b->max_blob)
        b->max_blob = KS_XBLOB_DEFAULT;
    if (!b->max_total)
        b->max_total = KS_XTOTAL_DEFAULT;
    if (!b->max_ratio)
        b->max_ratio = KS_XRATIO_DEFAULT;
    if (!b->max_children)
        b->max_children = KS_XCHILDREN_DEFAULT;
}

uint64_t ks__xchild_room(const ks_xctx *x, uint64_t stored)
{
    uint64_t room = x->budget.max_blob;
    uint64_t left = x->total < x->budget.max_total ? x->budget.max_total - x->total : 0;
    room = KS_MIN(room, left);
    if (stored) {
        uint64_t r;
        if (__builtin_mul_overflow(stored, x->budget.max_ratio, &r))
            r = UINT64_MAX;
        room = KS_MIN(room, KS_MAX(r, KS_XRATIO_FLOOR));
    }
    return x->stopped ? 0 : room;
}

/* ---- provenance --------------------------------------------------------------- */

int ks__xnode_path(const ks_xnode *node, ks_buf *out)
{
    const ks_xnode *chain[72];
    size_t n = 0;
    int rc = KS_OK;
    for (const ks_xnode *p = node; p && n < KS_ARRAY_LEN(chain); p = p->parent)
        chain[n++] = p;
    while (n-- > 0 && rc == KS_OK) {
        const char *name = chain[n]->name ? chain[n]->name : "?";
        rc = ks__buf_adds(out, name);
        if (rc == KS_OK && n)
            rc = ks__buf_addc(out, '!');
    }
    return rc;
}

void ks__xdiag(ks_xctx *x, const ks_xnode *node, ks_diag_level lvl, int code, const char *fmt, ...)
{
    ks_buf b = KS_BUF_INIT;
    va_list ap;
    if (!x->e)
        return;
    ks__xnode_path(node, &b);
    ks__buf_adds(&b, ": ");
    va_start(ap, fmt);
    ks__buf_vprintf(&b, fmt, ap);
    va_end(ap);
    ks_loc loc = KS_LOC_NONE;
    loc.path = x->path;
    /* The offset of the outermost member is an offset in the evidence file. */
    for (const ks_xnode *p = node; p; p = p->parent)
        if (p->depth == 1)
            loc.offset = p->offset;
    ks__diag(x->e, lvl, code, "extract", &loc, "%s", b.p ? b.p : "");
    ks__buf_release(&b);
}

/* ---- charset sniffing ----------------------------------------------------------- */

/* Length of a UTF-8 sequence starting at p if it is valid (0 if not, -1 if
 * cut by the end of the buffer). */
static int utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    int len;
    uint32_t min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if ((size_t)len > n) {
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        return -1;
    }
    uint32_t cp = c & (0x3F >> (len - 1));
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Control bytes that do not occur in text (NUL, most C0, DEL). */
static bool is_binary_byte(uint8_t c)
{
    return (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' && c != 0x1B) ||
           c == 0x7F;
}

#if defined(__SSE2__)
/* 0xff where a byte of x (all below 0x80) is one is_binary_byte takes. */
static __m128i binary16(__m128i x)
{
    __m128i low = _mm_cmplt_epi8(x, _mm_set1_epi8(0x20));
    __m128i ws = _mm_and_si128(_mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8('\t')), x),
                               _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8('\r')), x));
    ws = _mm_or_si128(ws, _mm_cmpeq_epi8(x, _mm_set1_epi8(0x1B)));
    return _mm_or_si128(_mm_andnot_si128(ws, low), _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7F)));
}
#endif

/* While ks__extractor_sniff runs the probes over one head, the charset
 * sniff of that head, which three of them ask for (text, xml, html: ~1 %
 * of a mailbox's index build, every attachment and text part is probed),
 * is made once. Only then: outside a sniff the same address may hold
 * other bytes. */
static __thread struct {
    bool on, have;
    const uint8_t *p;
    size_t n, bom;
    const char *cs;
} probe_sniff;

static const char *sniff_charset(const uint8_t *p, size_t n, size_t *bom);

const char *ks__xsniff_charset(const uint8_t *p, size_t n, size_t *bom)
{
    if (!probe_sniff.on)
        return sniff_charset(p, n, bom);
    if (probe_sniff.have && probe_sniff.p == p && probe_sniff.n == n) {
        *bom = probe_sniff.bom;
        return probe_sniff.cs;
    }
    probe_sniff.cs = sniff_charset(p, n, &probe_sniff.bom);
    probe_sniff.p = p;
    probe_sniff.n = n;
    probe_sniff.have = true;
    *bom = probe_sniff.bom;
    return probe_sniff.cs;
}

static const char *sniff_charset(const uint8_t *p, size_t n, size_t *bom)
{
    *bom = 0;
    if (n >= 4 && !memcmp(p, "\xFF\xFE\0\0", 4))
        return *bom = 4, "utf-32le";
    if (n >= 4 && !memcmp(p, "\0\0\xFE\xFF", 4))
        return *bom = 4, "utf-32be";
    if (n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
        return *bom = 3, "utf-8";
    if (n >= 2 && !memcmp(p, "\xFF\xFE", 2))
        return *bom = 2, "utf-16le";
    if (n >= 2 && !memcmp(p, "\xFE\xFF", 2))
        return *bom = 2, "utf-16be";
    if (n == 0)
        return "utf-8";
    size_t m = KS_MIN(n, (size_t)SNIFF_MAX);
    /* UTF-16 without BOM: mostly-ASCII text has a zero in every other byte. */
    size_t zero_even = 0, zero_odd = 0, i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* 8 bytes a step (each of the three probes sniffs every blob's head:
     * the byte loops were ~4 % of a mailbox's index build): a byte's high
     * bit in z is set exactly when the byte is zero */
    for (; i + 8 <= m; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        uint64_t z = ~(((w & 0x7f7f7f7f7f7f7f7full) + 0x7f7f7f7f7f7f7f7full) | w) & 0x8080808080808080ull;
        /* the four flags of each parity moved to bits 0, 16, 32, 48 and
         * summed into the top 16 bits (no popcnt in the baseline ISA) */
        zero_even += (size_t)((((z & 0x0080008000800080ull) >> 7) * 0x0001000100010001ull) >> 48);
        zero_odd += (size_t)((((z & 0x8000800080008000ull) >> 15) * 0x0001000100010001ull) >> 48);
    }
#endif
    for (; i + 1 < m; i += 2) {
        zero_even += p[i] == 0;
        zero_odd += p[i + 1] == 0;
    }
    size_t pairs = m / 2;
    if (pairs >= 4) {
        if (zero_odd * 10 >= pairs * 3 && zero_even * 20 <= pairs)
            return "utf-16le";
        if (zero_even * 10 >= pairs * 3 && zero_odd * 20 <= pairs)
            return "utf-16be";
    }
    size_t bin = 0, high = 0, bad_utf8 = 0;
    for (i = 0; i < m;) {
        uint8_t c = p[i];
        if (c < 0x80) {
#if defined(__SSE2__)
            if (i + 16 <= m) { /* the ASCII bytes of 16 at once */
                __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
                unsigned high16 = (unsigned)_mm_movemask_epi8(x);
                size_t a = high16 ? (size_t)__builtin_ctz(high16) : 16;
                unsigned own = a == 16 ? 0xffffu : (1u << a) - 1;
                for (unsigned b = (unsigned)_mm_movemask_epi8(binary16(x)) & own; b; b &= b - 1)
                    bin++; /* rare in text; a binary head stops at the 2 % below */
                i += a;
                continue;
            }
#endif
            bin += is_binary_byte(c);
            i++;
            continue;
        }
        if (bin * 50 > m)
            break; /* binary whatever follows (bin only grows): a zip's head is over at ~80 */
        high++;
        int l = utf8_seq(p + i, m - i);
        if (l == -1)
            break; /* cut by the sample's end: not evidence against UTF-8 */
        if (l == 0) {
            bad_utf8++;
            i++;
        } else {
            i += (size_t)l;
        }
    }
    if (bin * 50 > m || (bin && m < 32)) /* over 2% control bytes: binary */
        return NULL;
    if (bad_utf8 == 0)
        return "utf-8";
    /* Text with bytes that are not UTF-8: Windows-1252 (a superset of
     * Latin-1's printable range), unless it is mostly high bytes, which is
     * more likely some binary encoding. */
    return high * 3 > m ? NULL : "windows-1252";
}

/* ---- text -------------------------------------------------------------------------- */

static bool is_utf8_name(const char *cs)
{
    return !strcasecmp(cs, "utf-8") || !strcasecmp(cs, "utf8") || !strcasecmp(cs, "us-ascii") ||
           !strcasecmp(cs, "ascii");
}

/* Counts n bytes (text or a child) toward max_total; returns how many may
 * be used. The first refusal is a diagnostic and stops the blob. */
static size_t take_total(ks_xctx *x, const ks_xnode *node, size_t n)
{
    uint64_t left = x->total < x->budget.max_total ? x->budget.max_total - x->total : 0;
    if (n > left) {
        if (!x->warned_total) {
            x->warned_total = true;
            ks__xdiag(x, node, KS_DIAG_WARN, KS_ELIMIT,
                      "more than extract.max_total (%llu bytes) decoded from this file; the rest is not read",
                      (unsigned long long)x->budget.max_total);
        }
        x->stopped = true;
        n = (size_t)left;
    }
    x->total += n;
    return n;
}

static int give(ks_xctx *x, ks_xtext *t)
{
    if (!t->n || x->stopped)
        return KS_OK;
    t->n = take_total(x, t->node, t->n);
    if (t->n && x->on_text) {
        if (x->on_text(x->ud, t) != 0)
            x->stopped = true;
        t->same_node = true; /* the callback has seen this node now */
    }
    return KS_OK;
}

/* Bytes one undecodable unit occupies in charset cs (so a bad UTF-16 unit
 * is skipped whole). */
static size_t unit_size(const char *cs)
{
    if (!strncasecmp(cs, "utf-16", 6) || !strncasecmp(cs, "ucs-2", 5))
        return 2;
    if (!strncasecmp(cs, "utf-32", 6) || !strncasecmp(cs, "ucs-4", 5))
        return 4;
    return 1;
}

/* Where converted bytes go: handed over as text pieces, or appended to a
 * buffer. Takes buf[0..*used) (or a prefix, all = false), leaves the rest
 * at the start of buf; non-zero stops the conversion. */
typedef int (*sink_fn)(void *ud, char *buf, size_t *used, bool all);

/* iconv loop shared by both sinks: cap-sized output buffer, undecodable
 * units replaced instead of ending the text. */
static int convert(const char *p, size_t n, const char *cs, size_t cap, sink_fn sink, void *ud)
{
    iconv_t cd = iconv_open("UTF-8", cs);
    char *buf = NULL;
    size_t used = 0;
    int rc = KS_OK;
    bool cp1252 = !strcasecmp(cs, "windows-1252") || !strcasecmp(cs, "cp1252");
    size_t unit = unit_size(cs);
    if (cd == (iconv_t)-1) {
        rc = KS_EUNSUPPORTED;
        goto out;
    }
    /* UTF-8 takes at most 4 bytes per code point and every code point
     * at least one input byte: a short text needs no PIECE_MAX buffer
     * (a 4 MiB allocation per mail body was mostly page faults) and its
     * output still fits in one piece, as before. */
    if (n < (cap - 64) / 4)
        cap = 4 * n + 64;
    buf = malloc(cap);
    if (!buf) {
        rc = KS_ENOMEM;
        goto out;
    }
    char *in = (char *)p;
    size_t inleft = n;
    while (inleft) {
        char *o = buf + used;
        size_t oleft = cap - used;
        size_t r = iconv(cd, &in, &inleft, &o, &oleft);
        used = cap - oleft;
        if (r != (size_t)-1)
            break;
        if (errno == E2BIG || oleft < 8) {
            if (sink(ud, buf, &used, false) != 0)
                goto out;
            continue;
        }
        /* EILSEQ / EINVAL: an undecodable or cut unit. The five bytes
         * Windows-1252 leaves undefined are kept as their Latin-1 code
         * points; anything else becomes U+FFFD. */
        used += ks__utf8_put(buf + used, cp1252 ? (uint8_t)*in : 0xFFFD);
        size_t skip = KS_MIN(unit, inleft);
        in += skip;
        inleft -= skip;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    sink(ud, buf, &used, true);
out:
    free(buf);
    if (cd != (iconv_t)-1)
        iconv_close(cd);
    return rc;
}

typedef struct text_sink {
    ks_xctx *x;
    ks_xtext t;
} text_sink;

/* Hands the converted bytes over, keeping an unfinished last line for the
 * next piece unless `all` (or the line fills most of the buffer). */
static int sink_text(void *ud, char *buf, size_t *used, bool all)
{
    text_sink *ts = ud;
    size_t cut = *used;
    if (!all) {
        char *nl = memrchr(buf, '\n', *used);
        if (nl && (size_t)(nl - buf + 1) > *used / 4)
            cut = (size_t)(nl - buf) + 1;
    }
    ts->t.p = buf;
    ts->t.n = cut;
    give(ts->x, &ts->t);
    ts->t.offset += cut;
    memmove(buf, buf + cut, *used - cut);
    *used -= cut;
    return ts->x->stopped;
}

typedef struct buf_sink {
    ks_buf *b;
    int rc;   /* first append error */
} buf_sink;

static int sink_buf(void *ud, char *buf, size_t *used, bool all)
{
    buf_sink *bs = ud;
    KS_UNUSED(all);
    if (bs->rc == KS_OK)
        bs->rc = ks__buf_add(bs->b, buf, *used);
    *used = 0;
    return bs->rc != KS_OK;
}

int ks__xutf8_view(ks_xctx *x, const uint8_t *p, size_t n, const char *declared, ks_buf *conv,
                   const char **s, size_t *sn)
{
    size_t bom = 0;
    const char *cs = ks__xsniff_charset(p, n, &bom);
    conv->limit = (size_t)KS_MIN((uint64_t)SIZE_MAX / 8, x->budget.max_blob * 4 + 4096);
    if (!bom && declared && strcasecmp(declared, "utf-8") != 0)
        cs = declared;
    *s = (const char *)p + bom;
    *sn = n - bom;
    if (!cs || !strcasecmp(cs, "utf-8"))
        return KS_OK;
    int rc = ks__xconvert_buf((const char *)p + bom, n - bom, cs, conv);
    if (rc != KS_OK && rc != KS_ELIMIT)
        return rc;
    *s = conv->p ? conv->p : "";
    *sn = conv->n;
    return KS_OK;
}

int ks__xutf8_rewrite(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n,
                      const char *declared, ks_xrewrite_fn fn, void *arg, const char *what)
{
    ks_buf conv = KS_BUF_INIT, out = KS_BUF_INIT;
    const char *s;
    size_t sn;
    int rc = ks__xutf8_view(x, p, n, declared, &conv, &s, &sn);
    if (rc != KS_OK)
        goto out;
    out.limit = conv.limit;
    rc = fn(s, sn, arg, &out);
    if (rc != KS_OK)
        ks__xdiag(x, node, KS_DIAG_WARN, rc, "%s cut at %zu bytes", what, out.n);
    rc = ks__extract_text(x, node, "text", out.p ? out.p : "", out.n, "utf-8");
out:
    ks__buf_release(&conv);
    ks__buf_release(&out);
    return rc;
}

int ks__xconvert_buf(const char *p, size_t n, const char *cs, ks_buf *out)
{
    buf_sink bs = {out, KS_OK};
    int rc = convert(p, n, cs, 65536, sink_buf, &bs);
    return rc != KS_OK ? rc : bs.rc;
}

int ks__extract_text(ks_xctx *x, const ks_xnode *node, const char *part, const char *p, size_t n,
                     const char *charset)
{
    size_t bom = 0;
    const char *sniffed = NULL;
    if (x->stopped || !n)
        return KS_OK;
    if (!charset) {
        sniffed = ks__xsniff_charset((const uint8_t *)p, n, &bom);
        charset = sniffed ? sniffed : "windows-1252";
    }
    ks_xtext t = {.node = node, .part = part, .offset = 0, .charset = charset};
    if (is_utf8_name(charset)) {
        if (!bom && n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
            bom = 3;
        t.p = p + bom;
        t.n = n - bom;
        t.src_offset = bom;
        return give(x, &t);
    }
    text_sink ts = {x, t};
    ts.t.src_offset = UINT64_MAX; /* not tracked per piece for converted text */
    int rc = convert(p + bom, n - bom, charset, PIECE_MAX, sink_text, &ts);
    if (rc == KS_EUNSUPPORTED && !sniffed) {
        /* A label iconv does not know ("x-unknown", typos in mail headers):
         * say so and read it as whatever it looks like. */
        ks__xdiag(x, node, KS_DIAG_INFO, KS_EUNSUPPORTED, "unknown charset '%s'; sniffed instead", charset);
        return ks__extract_text(x, node, part, p, n, NULL);
    }
    if (rc == KS_ENOMEM)
        ks__xdiag(x, node, KS_DIAG_WARN, rc, "out of memory converting %s text", charset);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------------ */

const struct ks_extractor *ks__extractor_sniff(const uint8_t *p, size_t n, const char *name)
{
    const struct ks_extractor *best = NULL;
    int best_score = 0;
    size_t m = KS_MIN(n, (size_t)KS_HEAD_MAX);
    probe_sniff.on = true;
    probe_sniff.have = false;
    for (size_t i = 0; ks__extractors[i]; i++) {
        int s = ks__extractors[i]->probe(p, m, name);
        if (s > best_score) {
            best_score = s;
            best = ks__extractors[i];
        }
    }
    probe_sniff.on = false;
    return best;
}

/* Printable ASCII runs of a binary blob, 8 characters or more, and the
 * same in UTF-16LE (Windows resources, .NET strings), each handed over as
 * one unit at its byte offset (part "strings"): a token in a database
 * file or a compiled config is still text to the scanners. */
#define STRINGS_MIN 8

#if !defined(__SSE2__) /* else print16 below asks it of 16 bytes at once */
static inline bool printable_byte(uint8_t c)
{
    return (c >= 0x20 && c < 0x7F) || c == '\t';
}
#endif

/* The strings of a binary blob are found from bit masks of 64 bytes at a
 * time (which bytes are printable, which are zero), each block's made once:
 * an EVTX log (binary XML, UTF-16 text) alternates runs of a few bytes, and
 * testing them byte by byte, then 16 bytes per question, was 8%, then 6% of
 * a hunt. Each question answers exactly what its byte loop would
 * (test_extract binary_strings_same_as_byte_by_byte). */
typedef struct bmask {
    const uint8_t *p;
    size_t n;
    size_t blk;        /* block whose masks are held (SIZE_MAX: none) */
    uint64_t print;    /* bit q: byte blk * 64 + q is printable (none past n) */
    uint64_t wide;     /* bit q: ... printable and the next byte is a zero inside n */
} bmask;

#if defined(__SSE2__)
/* printable_byte, 16 at a time */
static inline uint64_t print16(__m128i v)
{
    __m128i ge = _mm_cmpgt_epi8(v, _mm_set1_epi8(0x1F)); /* signed: 0x20..0x7F */
    __m128i del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F));
    __m128i tab = _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'));
    return (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_andnot_si128(del, ge), tab));
}

static inline uint64_t zero16(__m128i v)
{
    return (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()));
}
#endif

static void bmask_load(bmask *b, size_t blk)
{
    size_t at = blk * 64, have = KS_MIN(b->n - at, (size_t)64);
    uint8_t tail[64];
    const uint8_t *q = b->p + at;
    uint64_t pr = 0, z = 0;
    if (at + 1024 < b->n) /* sequential, but the stalls showed on every new line */
        __builtin_prefetch(b->p + at + 1024);
    if (have < 64) { /* the last block: zero-padded, the padding masked off below */
        memset(tail, 0, sizeof tail);
        memcpy(tail, q, have);
        q = tail;
    }
#if defined(__SSE2__)
    for (unsigned k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(q + 16 * k));
        pr |= print16(v) << (16 * k);
        z |= zero16(v) << (16 * k);
    }
#else
    for (unsigned k = 0; k < 64; k++) {
        pr |= (uint64_t)printable_byte(q[k]) << k;
        z |= (uint64_t)(q[k] == 0) << k;
    }
#endif
    uint64_t valid = have < 64 ? ((uint64_t)1 << have) - 1 : ~(uint64_t)0;
    pr &= valid;
    z &= valid;
    /* the byte after the block's last one is the next block's first */
    uint64_t znext = at + 64 < b->n && b->p[at + 64] == 0;
    b->print = pr;
    b->wide = pr & (z >> 1 | znext << 63);
    b->blk = blk;
}

static inline void bmask_at(bmask *b, size_t i)
{
    if (b->blk != i >> 6)
        bmask_load(b, i >> 6);
}

static bool printable(bmask *b, size_t i)
{
    bmask_at(b, i);
    return b->print >> (i & 63) & 1;
}

/* The first printable byte at or after i, or n. */
static size_t next_printable(bmask *b, size_t i)
{
    for (; i < b->n; i = (i | 63) + 1) {
        bmask_at(b, i);
        uint64_t m = b->print >> (i & 63);
        if (m)
            return i + (size_t)__builtin_ctzll(m);
    }
    return b->n;
}

/* The end of the run of printable bytes starting at i (at most n). */
static size_t printable_end(bmask *b, size_t i)
{
    for (; i < b->n; i = (i | 63) + 1) {
        bmask_at(b, i);
        uint64_t m = ~b->print >> (i & 63);
        if (m)
            return KS_MIN(i + (size_t)__builtin_ctzll(m), b->n);
    }
    return b->n;
}

/* The end of the run of (printable, zero) byte pairs starting at k: the
 * first k + 2j that does not start such a pair inside n. */
static size_t wide_end(bmask *b, size_t k)
{
    const uint64_t even = 0x5555555555555555ull;
    for (; k < b->n; k = (k | 63) + 1 + (k & 1)) { /* a block is even: parity holds */
        bmask_at(b, k);
        unsigned off = (unsigned)(k & 63);
        uint64_t m = ~b->wide & (off & 1 ? even << 1 : even) & (~(uint64_t)0 << off);
        if (m)
            return (k & ~(size_t)63) + (size_t)__builtin_ctzll(m);
    }
    return k;
}

/* dst[q] = src[2q] for q < m (the low bytes of UTF-16LE units under 0x100). */
static void narrow(char *dst, const uint8_t *src, size_t m)
{
    size_t q = 0;
#if defined(__SSE2__)
    const __m128i lo = _mm_set1_epi16(0xFF);
    for (; q + 16 <= m; q += 16) {
        __m128i a = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(src + 2 * q)), lo);
        __m128i c = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(src + 2 * q + 16)), lo);
        _mm_storeu_si128((__m128i *)(void *)(dst + q), _mm_packus_epi16(a, c));
    }
#endif
    for (; q < m; q++)
        dst[q] = (char)src[2 * q];
}

static int binary_strings(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    ks_xtext t = {.node = node, .part = "strings", .charset = "us-ascii"};
    bmask b = {.p = p, .n = n, .blk = SIZE_MAX};
    char *wide = NULL;
    size_t i = 0;
    while (i < n && !x->stopped) {
        if (!printable(&b, i)) { /* neither kind of string starts here */
            i = next_printable(&b, i + 1);
            continue;
        }
        size_t j = printable_end(&b, i);
        if (j - i >= STRINGS_MIN) {
            t.p = (const char *)p + i;
            t.n = j - i;
            t.src_offset = i;
            give(x, &t);
            t.offset += j - i;
            i = j;
            continue;
        }
        /* UTF-16LE: printable, zero, printable, zero... */
        size_t k = wide_end(&b, i);
        if ((k - i) / 2 >= STRINGS_MIN) {
            if (!wide && !(wide = malloc(PIECE_MAX)))
                return KS_ENOMEM;
            size_t m = KS_MIN((k - i) / 2, PIECE_MAX);
            narrow(wide, p + i, m);
            t.p = wide;
            t.n = m;
            t.src_offset = i;
            t.charset = "utf-16le";
            give(x, &t);
            t.charset = "us-ascii";
            t.offset += m;
            i = k;
            continue;
        }
        i = KS_MAX(j, k) + 1;
    }
    free(wide);
    return KS_OK;
}

/* Runs the extractor that claims the blob; one nobody claims is text
 * (the text extractor bids on anything text-like) or binary: its strings. */
static int dispatch(ks_xctx *x, const ks_xnode *node, const struct ks_extractor *ex, const uint8_t *p,
                    size_t n)
{
    if (ex)
        return ex->extract(x, node, p, n);
    size_t bom;
    const char *cs = ks__xsniff_charset(p, n, &bom);
    if (cs)
        return ks__extract_text(x, node, "text", (const char *)p, n, cs);
    return x->strings ? binary_strings(x, node, p, n) : KS_OK;
}

const char *ks__extract_streamed(const uint8_t *head, size_t n, const char *name)
{
    const struct ks_extractor *ex = ks__extractor_sniff(head, n, name ? name : "");
    return ex && ex->streamed ? ex->name : NULL;
}

int ks__extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    budget_fill(&x->budget);
    x->total = 0;
    x->children = 0;
    x->stopped = false;
    x->warned_total = false;
    x->warned_children = false;
    const char *name = node->name ? strrchr(node->name, '/') : NULL;
    name = name ? name + 1 : node->name;
    const struct ks_extractor *ex = ks__extractor_sniff(p, n, name ? name : "");
    /* A streamed container (an archive of mail exports, a PST) of several
     * GB holds more than extract.max_total of text for good reasons: its
     * total grows with its size (KS_XSTREAM_TOTAL times it), so a bomb is
     * still bounded by the input, not by a constant. mbox and PST also
     * reset the total per message. */
    uint64_t keep = x->budget.max_total;
    if (ex && ex->streamed && (uint64_t)n > keep / KS_XSTREAM_TOTAL)
        x->budget.max_total = (uint64_t)n * KS_XSTREAM_TOTAL;
    int rc = dispatch(x, node, ex, p, n);
    x->budget.max_total = keep;
    return rc;
}

int ks__extract_enter(ks_xctx *x, const ks_xnode *parent, const char *name, const char *format,
                      const ks_xmail *mail, uint64_t offset, ks_xnode *node)
{
    *node = (ks_xnode){.parent = parent,
                       .name = name ? name : "?",
                       .format = format,
                       .mail = mail ? mail : parent->mail,
                       .git = parent->git,
                       .offset = offset,
                       .depth = parent->depth + 1};
    if (x->stopped)
        return KS_ELIMIT;
    if (++x->children > x->budget.max_children) {
        if (!x->warned_children) {
            x->warned_children = true;
            ks__xdiag(x, parent, KS_DIAG_WARN, KS_ELIMIT,
                      "more than extract.max_children (%llu) members/parts in this file; the rest is not read",
                      (unsigned long long)x->budget.max_children);
        }
        x->stopped = true;
        return KS_ELIMIT;
    }
    if (node->depth > x->budget.max_depth) {
        ks__xdiag(x, node, KS_DIAG_WARN, KS_ELIMIT,
                  "nested deeper than extract.max_depth (%u levels); not opened", x->budget.max_depth);
        return KS_ELIMIT;
    }
    return KS_OK;
}

int ks__extract_child(ks_xctx *x, const ks_xnode *parent, const char *name, const char *format,
                      const ks_xmail *mail, uint64_t offset, const uint8_t *p, size_t n)
{
    ks_xnode node;
    int rc = ks__extract_enter(x, parent, name, format, mail, offset, &node);
    if (rc != KS_OK)
        return rc;
    if (n > x->budget.max_blob) {
        ks__xdiag(x, &node, KS_DIAG_WARN, KS_ELIMIT,
                  "%zu bytes, more than extract.max_blob (%llu); only the first %llu are read", n,
                  (unsigned long long)x->budget.max_blob, (unsigned long long)x->budget.max_blob);
        n = (size_t)x->budget.max_blob;
    }
    n = take_total(x, &node, n);
    const char *base = strrchr(node.name, '/');
    base = base ? base + 1 : node.name;
    const struct ks_extractor *ex = ks__extractor_sniff(p, n, base);
    if (!node.format)
        node.format = ex ? ex->name : "text";
    return dispatch(x, &node, ex, p, n);
}

void ks__extract_read_past(ks_xctx *x, const uint8_t *blob, size_t from, size_t to)
{
    /* The walked file itself: its mapping's pages are unmapped and stay in
     * the page cache (MADV_DONTNEED). MADV_PAGEOUT, which anything else
     * gets, also evicts them from the page cache: reclaiming them was ~2.5 %
     * of a 216 MB mailbox's index build, and the next read of the file went
     * to the disk. */
    if (x->src && blob == x->src_p) {
        if (x->on_past)
            x->on_past(x->ud, blob + from, from, to);
        if (ks__source_drop_pages(x->src, from, to))
            return;
    }
    /* Heap memory (a decompressed member, a spill) would be zeroed by
     * MADV_DONTNEED; MADV_PAGEOUT keeps or swaps it. */
    uintptr_t page = 4096;
    uintptr_t b = ((uintptr_t)(blob + from) + page - 1) & ~(page - 1);
    uintptr_t e = (uintptr_t)(blob + to) & ~(page - 1);
    if (e > b)
        madvise((void *)b, e - b, MADV_PAGEOUT); /* a hint: failure is harmless */
}

int ks__extract_file(ks_xctx *x, const ks_file *f)
{
    const uint8_t *p = NULL;
    uint64_t n = 0;
    int rc = ks__source_map(f->src, &p, &n);
    if (rc != KS_OK) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = f->path;
        if (x->e)
            ks__diag(x->e, KS_DIAG_WARN, rc, "extract", &loc, "cannot map for extraction: %s",
                     ks_strerror(rc));
        return rc;
    }
    if (n > SIZE_MAX)
        return KS_ELIMIT;
    ks_xnode top = {.name = f->path, .format = f->format, .offset = UINT64_MAX};
    x->src = f->src;
    x->src_p = p;
    rc = ks__extract(x, f->xnode ? f->xnode : &top, p, (size_t)n);
    x->src = NULL;
    x->src_p = NULL;
    return rc;
}
