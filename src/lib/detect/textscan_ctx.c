/* SPDX-License-Identifier: Apache-2.0
 *
 * Context words (interface: textscan_int.h): Presidio's idea, "phone" near
 * a number raises its confidence, "order no." lowers it. A word counts
 * when it lies in the window from CTX_BEFORE bytes before the value to
 * CTX_AFTER after it, case-insensitively (ASCII), and, when it starts with
 * a word character, does not start inside a longer word. A negative word
 * counts only on the value's own line: it says what this value is ("order
 * 4500018873", "Ref: ..."), while a neighbouring line is another field
 * ("USt-IdNr. DE811128135" above "Tel. +1 202 456 1414").
 *
 * Every candidate of a rule with context words asks (a phone number's
 * validator asks before libphonenumber, to skip what could not reach the
 * threshold), so the search is made for many small windows: the window is
 * lower-cased once, the bytes that start some word are found sixteen at a
 * time (one compare per distinct first byte), and only there are the words
 * with that first byte compared. A memmem per word and window was a tenth
 * of a scan of mail (phone numbers have 23 context words).
 */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "detect/textscan_int.h"

#define CTX_BEFORE 96           /* bytes searched for context words */
#define CTX_AFTER 48
#define CTX_VALUE_MAX 512       /* a longer value: the windows of its two ends */
#define FIRSTS_MAX 16           /* distinct first bytes compared sixteen at a time */

struct ts_wordset {
    const char **w;           /* lower-case words, grouped by first byte */
    uint16_t *len;
    uint16_t start[256], count[256]; /* words of first byte b: w[start[b]..+count[b]) */
    uint8_t firsts[FIRSTS_MAX]; /* the distinct first bytes, when nfirsts <= FIRSTS_MAX */
    size_t nfirsts;
    bool empty;               /* an empty word: found in any window */
};

const ts_wordset *ks__ts_wordset_new(ks_arena *a, const char *const *words, size_t nw)
{
    if (!nw)
        return NULL;
    ts_wordset *ws = ks__arena_alloc(a, sizeof *ws);
    if (!ws || nw > UINT16_MAX || !(ws->w = ks__arena_alloc(a, nw * sizeof *ws->w)) ||
        !(ws->len = ks__arena_alloc(a, nw * sizeof *ws->len)))
        return NULL;
    memset(ws->start, 0, sizeof ws->start);
    memset(ws->count, 0, sizeof ws->count);
    ws->nfirsts = 0;
    ws->empty = false;
    size_t k = 0;
    for (unsigned b = 0; b < 256; b++) {
        ws->start[b] = (uint16_t)k;
        for (size_t i = 0; i < nw; i++) {
            size_t wl = strlen(words[i]);
            if (!wl) {
                ws->empty = true;
            } else if ((uint8_t)words[i][0] == b && wl <= UINT16_MAX) {
                ws->w[k] = words[i];
                ws->len[k++] = (uint16_t)wl;
                ws->count[b]++;
            }
        }
        if (ws->count[b] && ws->nfirsts++ < FIRSTS_MAX)
            ws->firsts[ws->nfirsts - 1] = (uint8_t)b;
    }
    return ws;
}

static inline bool word_char(uint8_t c)
{
    return (uint8_t)((c | 0x20) - 'a') < 26 || (uint8_t)(c - '0') < 10 || c == '_';
}

/* A word of the set starts at low[i] (lower-cased window of wn bytes). */
static bool word_at(const ts_wordset *ws, const char *low, size_t wn, size_t i)
{
    uint8_t b = (uint8_t)low[i];
    for (size_t j = ws->start[b], end = j + ws->count[b]; j < end; j++) {
        size_t wl = ws->len[j];
        if (wl <= wn - i && (wl == 1 || low[i + 1] == ws->w[j][1]) && !memcmp(low + i, ws->w[j], wl))
            return true;
    }
    return false;
}

/* Bit i: low[o + i] is some word's first byte and may start one there
 * (prev: the byte before it is a word character). */
#if defined(__SSE2__)
static unsigned starts16(const ts_wordset *ws, const char *low, size_t o, unsigned *carry)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(low + o)), hit = _mm_setzero_si128();
    for (size_t f = 0; f < ws->nfirsts; f++)
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8((char)ws->firsts[f])));
    /* word characters (lower-cased: a-z, 0-9, '_'), as signed compares
     * after a bias: c - lo < span unsigned */
    __m128i letter = _mm_cmplt_epi8(_mm_sub_epi8(v, _mm_set1_epi8((char)('a' + 128))),
                                    _mm_set1_epi8((char)(-128 + 26)));
    __m128i digit = _mm_cmplt_epi8(_mm_sub_epi8(v, _mm_set1_epi8((char)('0' + 128))),
                                   _mm_set1_epi8((char)(-128 + 10)));
    __m128i under = _mm_cmpeq_epi8(v, _mm_set1_epi8('_'));
    unsigned wm = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(letter, digit), under));
    unsigned prev = ((wm << 1) | *carry) & 0xffff;
    *carry = wm >> 15;
    return (unsigned)_mm_movemask_epi8(hit) & ~(prev & wm);
}
#endif

bool ks__ts_near_word(const char *t, size_t n, size_t vs, size_t ve, const ts_wordset *ws,
                      bool line)
{
    char low[CTX_BEFORE + CTX_AFTER + CTX_VALUE_MAX + 16];
    size_t lo = vs > CTX_BEFORE ? vs - CTX_BEFORE : 0;
    size_t hi = KS_MIN(n, ve + CTX_AFTER);
    if (hi - lo > CTX_BEFORE + CTX_AFTER + CTX_VALUE_MAX) /* a long value: its two ends */
        return ks__ts_near_word(t, n, vs, vs, ws, line) || ks__ts_near_word(t, n, ve, ve, ws, line);
    /* a line ends at a line break or at an escaped one, a backslash and
     * 'n' (a JSON string, an iCalendar field: please reset.\nPassword: x) */
    for (size_t i = vs; line && i > lo; i--)
        if (t[i - 1] == '\n' || (t[i - 1] == 'n' && i >= 2 && t[i - 2] == '\\')) {
            lo = i;
            break;
        }
    for (size_t i = ve; line && i < hi; i++)
        if (t[i] == '\n' || (t[i] == '\\' && i + 1 < hi && t[i + 1] == 'n')) {
            hi = i;
            break;
        }
    size_t wn = hi - lo;
    if (!wn)
        return false;
    if (ws->empty)
        return true;
    for (size_t i = 0; i < wn; i++) {
        uint8_t ch = (uint8_t)t[lo + i];
        low[i] = (char)(ch + ((uint8_t)(ch - 'A') < 26 ? 32 : 0));
    }
    unsigned carry = lo > 0 && word_char((uint8_t)t[lo - 1]);
#if defined(__SSE2__)
    if (ws->nfirsts <= FIRSTS_MAX) {
        memset(low + wn, 0, 16); /* the last block's tail: no first byte is NUL */
        for (size_t o = 0; o < wn; o += 16) {
            unsigned m = starts16(ws, low, o, &carry);
            if (wn - o < 16)
                m &= (1u << (wn - o)) - 1;
            for (; m; m &= m - 1)
                if (word_at(ws, low, wn, o + (size_t)__builtin_ctz(m)))
                    return true;
        }
        return false;
    }
#endif
    for (size_t i = 0; i < wn; i++) {
        uint8_t b = (uint8_t)low[i];
        bool wc = word_char(b);
        if (ws->count[b] && !(carry && wc) && word_at(ws, low, wn, i))
            return true;
        carry = wc;
    }
    return false;
}

#define HEADER_MAX 4096        /* a table's first line read as its header */
#define ROW_MAX 8192           /* and a row of it */

/* Delimiters of t[s..e) outside double quotes; *col: those before at. */
static size_t fields(const char *t, size_t s, size_t e, char d, size_t at, size_t *col)
{
    size_t k = 0;
    bool q = false;
    for (size_t i = s; i < e; i++) {
        if (i == at)
            *col = k;
        q ^= t[i] == '"';
        k += !q && t[i] == d;
    }
    return k;
}

/* A value in a row of a table (CSV, TSV: a customer export's "Phone"
 * column) is what its column's header says: the context words are looked
 * for in the header field above it, the text's first line, when that line
 * has as many fields as the value's. */
static bool column_header_word(const ts_cand *c, const ts_wordset *ws)
{
    const char *t = c->text;
    const char *nl = memchr(t, '\n', KS_MIN(c->n, (size_t)HEADER_MAX));
    size_t he = nl ? (size_t)(nl - t) : 0;
    if (!he || c->vs <= he)
        return false;
    /* a row is a line of a few kilobytes at most: a long line (minified
     * JSON) is no table, and is not read again for each value in it */
    size_t from = KS_MAX(he, c->vs > ROW_MAX ? c->vs - ROW_MAX : 0);
    const char *ls = memrchr(t + from, '\n', c->vs - from);
    const char *le = memchr(t + c->ve, '\n', KS_MIN(c->n - c->ve, (size_t)ROW_MAX));
    if (!ls || (!le && c->n - c->ve > ROW_MAX))
        return false;
    size_t s = (size_t)(ls - t) + 1, e = le ? (size_t)(le - t) : c->n;
    static const char delims[] = {',', ';', '\t'};
    for (size_t i = 0; i < sizeof delims; i++) {
        size_t col = SIZE_MAX, hcol = 0, nf = fields(t, s, e, delims[i], c->vs, &col);
        if (nf < 2 || col == SIZE_MAX || fields(t, 0, he, delims[i], SIZE_MAX, &hcol) != nf)
            continue;
        size_t fs = 0, k = 0;
        bool q = false;
        for (size_t j = 0; j <= he; j++) {
            if (j < he && (q ^= t[j] == '"', q || t[j] != delims[i]))
                continue;
            if (k++ == col)
                return j > fs && ks__ts_near_word(t + fs, j - fs, 0, j - fs, ws, true);
            fs = j + 1;
        }
        return false;
    }
    return false;
}

bool ks__ts_context(ts_cand *c)
{
    if (c->ctx < 0)
        c->ctx = c->ctxw && (ks__ts_near_word(c->text, c->n, c->vs, c->ve, c->ctxw, false) ||
                             column_header_word(c, c->ctxw));
    return c->ctx > 0;
}

/* Negative words on the value's own line, or in its column's header: a
 * column headed "Account number" or "My Number" holds no phone numbers,
 * whatever "number" says. */
bool ks__ts_negative(const ts_cand *c, const ts_wordset *ws)
{
    return ws && (ks__ts_near_word(c->text, c->n, c->vs, c->ve, ws, true) || column_header_word(c, ws));
}
