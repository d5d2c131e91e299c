/* SPDX-License-Identifier: Apache-2.0
 *
 * Hand-written first passes (interface: textscan_int.h).
 *
 * Vectorscan is fast on patterns with a literal; the numeric personal-data
 * rules (phone, card, SSN, My Number, IBAN) have none: five NFAs over
 * digits and separators that fire on every digit of every date, time and
 * id, a third of the database's time and most of its hits on mail. A rule
 * that names a pass (`first_pass:` in its YAML) is left out of the
 * database and gets its candidate regions from one of these loops, which
 * read the text once for all such rules:
 *
 *   digits  clusters of digits and the separators the numeric patterns
 *           allow (space . - ( ) +). A rule's match lies inside one cluster
 *           (its pattern has no other character), so a cluster with fewer
 *           digits than the rule's `min_digits` (the fewest its validator
 *           accepts) holds no match worth confirming and gives no region.
 *           `letters_before: 2` (IBAN): only clusters that start right
 *           after two letters at a word start.
 *   email   each '@' with what the e-mail rule's prefilter requires around
 *           it (a local-part character before, a domain label of 1-63
 *           characters, a dot and a letter or digit after), reported where the
 *           prefilter's match would end: the same region Vectorscan gave.
 *
 * Both passes and the scanner's "\/" check (textscan.c reads such a text
 * with '/' for "\/") are one loop over the text: a vector compare finds
 * the next digit, '@' or backslash, the scalar code below handles it. Three
 * separate reads of each unit (memchr for '\\', the digit loop, memchr for
 * '@') were a sixth of a scan of mail.
 *
 * A region covers every place a match may start (the confirmation runs
 * PCRE2 from its start minus the rule's width up to its end), so the
 * matches are the ones the database's hits led to; the per-set figures of
 * test_secrets / test_textscan and textscan_bench's dump check it.
 */
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "detect/textscan_int.h"

enum { C_SEP = 1, C_DIGIT = 2 };

/* digits and the separators of the numeric patterns */
static const uint8_t num_class[256] = {
    [' '] = C_SEP, ['.'] = C_SEP, ['-'] = C_SEP, ['('] = C_SEP, [')'] = C_SEP, ['+'] = C_SEP,
    ['0'] = C_DIGIT, ['1'] = C_DIGIT, ['2'] = C_DIGIT, ['3'] = C_DIGIT, ['4'] = C_DIGIT,
    ['5'] = C_DIGIT, ['6'] = C_DIGIT, ['7'] = C_DIGIT, ['8'] = C_DIGIT, ['9'] = C_DIGIT,
};

int ks__ts_pass_parse(const char *name)
{
    if (!strcmp(name, "digits"))
        return TS_PASS_DIGITS;
    if (!strcmp(name, "email"))
        return TS_PASS_EMAIL;
    return -1;
}

static bool is_alpha(uint8_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_alnum(uint8_t c) { return is_alpha(c) || (c >= '0' && c <= '9'); }
static bool is_word(uint8_t c) { return is_alnum(c) || c == '_'; }

/* The digit cluster around the digit at i (it starts after prev_end):
 * its regions, one per rule with enough digits; returns its end. */
static size_t on_cluster(const ts_pass_set *ps, const char *t, size_t n, size_t i, size_t prev_end,
                         ts_span_fn fn, void *ud)
{
    size_t cs = i, j = i, nd = 0;
    while (cs > prev_end && num_class[(uint8_t)t[cs - 1]])
        cs--;
    while (j < n && num_class[(uint8_t)t[j]]) {
        nd += num_class[(uint8_t)t[j]] == C_DIGIT;
        j++;
    }
    for (size_t k = 0; k < ps->ndigits; k++) {
        const ts_rule *r = ps->digits[k].rule;
        if (nd < r->min_digits)
            continue;
        if (!r->letters_before) {
            fn(ud, ps->digits[k].id, cs, j);
            continue;
        }
        /* letters right before the cluster's first digit, at a word
         * start (or after an escaped line break or tab: "\nDE89...") */
        size_t lb = r->letters_before;
        bool ok = cs == i && i >= lb && i + 1 < n && num_class[(uint8_t)t[i + 1]] == C_DIGIT &&
                  (i == lb || !is_word((uint8_t)t[i - lb - 1]) ||
                   (i >= lb + 2 && t[i - lb - 2] == '\\' && strchr("nrtNRT", t[i - lb - 1])));
        for (size_t q = 1; ok && q <= lb; q++)
            ok = is_alpha((uint8_t)t[i - q]);
        if (ok)
            fn(ud, ps->digits[k].id, i - lb, j);
    }
    return j;
}

static bool email_local(uint8_t c)
{
    return is_alpha(c) || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '%' || c == '+' ||
           c == '-';
}

static bool email_label(uint8_t c) { return is_alpha(c) || (c >= '0' && c <= '9') || c == '-'; }

/* The '@' at a with [A-Za-z0-9._%+-] before and [A-Za-z0-9-]{1,63}\.[A-Za-z0-9]
 * after: one hit, at the end of that match. A digit after the dot counts
 * ("x@mail.1und1.de"): the pattern allows it, and a region only given by
 * letters missed such an address unless another one was near. */
static void on_at(const ts_pass_set *ps, const char *t, size_t n, size_t a, ts_span_fn fn, void *ud)
{
    size_t j = a + 1;
    if (a == 0 || !email_local((uint8_t)t[a - 1]))
        return;
    while (j < n && j - a - 1 < 64 && email_label((uint8_t)t[j]))
        j++;
    size_t label = j - a - 1;
    if (label < 1 || label > 63 || j + 1 >= n || t[j] != '.' || !is_alnum((uint8_t)t[j + 1]))
        return;
    for (size_t k = 0; k < ps->nemail; k++)
        fn(ud, ps->email[k], j + 2, j + 2);
}

/* What the loop looks for: digits (0-9), '@', '\\', each only when asked. */
typedef struct want {
    bool digit, at, bs;
} want;

static bool wanted(const want *w, uint8_t c)
{
    return (w->digit && num_class[c] == C_DIGIT) || (w->at && c == '@') || (w->bs && c == '\\');
}

#if defined(__x86_64__)
/* 32 bytes at a time where the CPU has AVX2 (checked once, at run time) */
__attribute__((target("avx2"))) static size_t next_avx2(const char *t, size_t n, size_t i,
                                                         const want *w)
{
    const __m256i bias = _mm256_set1_epi8((char)('0' + 128)), lim = _mm256_set1_epi8((char)(-128 + 10));
    const __m256i at = _mm256_set1_epi8(w->at ? '@' : '0'), bs = _mm256_set1_epi8(w->bs ? '\\' : '0');
    const __m256i dig = _mm256_set1_epi8(w->digit ? 0 : -1); /* all set: no digit wanted */
    while (i + 32 <= n) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(t + i));
        /* c - '0' < 10 unsigned, as a signed compare after the bias */
        __m256i m = _mm256_andnot_si256(dig, _mm256_cmpgt_epi8(lim, _mm256_sub_epi8(v, bias)));
        if (w->at)
            m = _mm256_or_si256(m, _mm256_cmpeq_epi8(v, at));
        if (w->bs)
            m = _mm256_or_si256(m, _mm256_cmpeq_epi8(v, bs));
        unsigned k = (unsigned)_mm256_movemask_epi8(m);
        if (k)
            return i + (size_t)__builtin_ctz(k);
        i += 32;
    }
    while (i < n && !wanted(w, (uint8_t)t[i]))
        i++;
    return i;
}
#endif

/* The first byte at or after i the loop wants, or n. */
static size_t next_wanted(const char *t, size_t n, size_t i, const want *w, bool avx2)
{
#if defined(__x86_64__)
    if (avx2)
        return next_avx2(t, n, i, w);
#else
    (void)avx2;
#endif
#if defined(__SSE2__)
    const __m128i bias = _mm_set1_epi8((char)('0' + 128)), lim = _mm_set1_epi8((char)(-128 + 10));
    const __m128i at = _mm_set1_epi8(w->at ? '@' : '0'), bs = _mm_set1_epi8(w->bs ? '\\' : '0');
    const __m128i dig = _mm_set1_epi8(w->digit ? 0 : -1);
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(t + i));
        __m128i m = _mm_andnot_si128(dig, _mm_cmplt_epi8(_mm_sub_epi8(v, bias), lim));
        if (w->at)
            m = _mm_or_si128(m, _mm_cmpeq_epi8(v, at));
        if (w->bs)
            m = _mm_or_si128(m, _mm_cmpeq_epi8(v, bs));
        int k = _mm_movemask_epi8(m);
        if (k)
            return i + (size_t)__builtin_ctz((unsigned)k);
        i += 16;
    }
#endif
    while (i < n && !wanted(w, (uint8_t)t[i]))
        i++;
    return i;
}

int ks__ts_pass_avx2 = -1;

static bool cpu_avx2(void)
{
#if defined(__x86_64__)
    static int has = -1; /* a benign race: every thread computes the same */
    if (ks__ts_pass_avx2 >= 0)
        return ks__ts_pass_avx2 > 0 && __builtin_cpu_supports("avx2");
    if (has < 0)
        has = __builtin_cpu_supports("avx2") ? 1 : 0;
    return has > 0;
#else
    return false;
#endif
}

bool ks__ts_pass_run(const ts_pass_set *ps, const char *t, size_t n, bool stop_slash, ts_span_fn fn,
                     void *ud)
{
    want w = {ps->ndigits > 0, ps->nemail > 0, stop_slash};
    bool avx2 = cpu_avx2();
    size_t i = 0, prev_end = 0, bs_from = 0; /* a backslash before bs_from is escaped */
    if (!w.digit && !w.at && !w.bs)
        return true;
    while ((i = next_wanted(t, n, i, &w, avx2)) < n) {
        uint8_t c = (uint8_t)t[i];
        if (c == '@') {
            on_at(ps, t, n, i, fn, ud);
            i++;
        } else if (c == '\\') {
            /* "\/" not itself escaped ("\\/" is a backslash and a '/') */
            if (i >= bs_from && i + 1 < n && t[i + 1] == '/')
                return false;
            if (i >= bs_from)
                bs_from = i + 2;
            i++;
        } else {
            prev_end = i = on_cluster(ps, t, n, i, prev_end, fn, ud);
        }
    }
    return true;
}

/* ---- the e-mail pattern, matched by hand ---------------------------------------- */

/* The bundled e-mail rule's pattern (rules/secrets/pii.yml). Only a rule
 * with exactly this pattern is confirmed by ks__ts_email_match; any other
 * (a user's own e-mail rule) goes through PCRE2. */
static const char email_pattern[] =
    "\\b([A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    "(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){1,8})\\b";

bool ks__ts_email_pattern(const char *pattern) { return !strcmp(pattern, email_pattern); }

/* Where the domain that starts at label p ends: PCRE2's first success in
 * its backtracking order, or 0 for none. Label k (0 the first after '@')
 * is [A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?, so its end q is tried
 * from the longest down; after it come, greedy first, another ".label"
 * (labels 1..8 are the {1,8} repeat) and then the closing \b (only after
 * label 1 or later). Only the longest end can be followed by '.', so at
 * most one label per level recurses: depth 9, a few hundred steps. */
static size_t email_domain(const char *t, size_t n, size_t p, unsigned k)
{
    if (p >= n || !is_alnum((uint8_t)t[p]))
        return 0;
    size_t run = p + 1; /* end of the [A-Za-z0-9-] run, looked at up to the longest label */
    while (run < n && run - p < 64 && email_label((uint8_t)t[run]))
        run++;
    size_t qmax = KS_MIN(run, p + 63);
    for (size_t q = qmax; q > p; q--) {
        if (!is_alnum((uint8_t)t[q - 1]))
            continue;
        if (k < 8 && q < n && t[q] == '.') {
            size_t e = email_domain(t, n, q + 1, k + 1);
            if (e)
                return e;
        }
        if (k >= 1 && (q == n || !is_word((uint8_t)t[q])))
            return q;
    }
    return 0;
}

bool ks__ts_email_match(const char *t, size_t n, size_t start, size_t lim, size_t *ms, size_t *me)
{
    /* Every match holds one '@' with its local part (at most 64 bytes, no
     * '@') right before it, so the leftmost match is the one through the
     * first '@' that has both a start PCRE2 accepts and a domain: matches
     * through a later '@' start after this one. */
    size_t from = start + 1, stop = KS_MIN(n, lim + 65); /* '@' within reach of a start <= lim */
    while (from < stop) {
        const char *at = memchr(t + from, '@', stop - from);
        if (!at)
            return false;
        size_t a = (size_t)(at - t), lo = a > start + 64 ? a - 64 : start, s = a;
        from = a + 1;
        while (s > lo && email_local((uint8_t)t[s - 1]))
            s--;
        /* the first start: [A-Za-z0-9] after a \b (a non-word byte before) */
        while (s < a && !(is_alnum((uint8_t)t[s]) && (s == 0 || !is_word((uint8_t)t[s - 1]))))
            s++;
        if (s == a || s > lim)
            continue;
        size_t e = email_domain(t, n, a + 1, 0);
        if (e) {
            *ms = s;
            *me = e;
            return true;
        }
    }
    return false;
}

/* ---- where the IBAN pattern can match ---------------------------------------------- */

/* The bundled IBAN rule's pattern (rules/secrets/pii.yml). Its groups
 * (?: ?[A-Z0-9]{1,4}){3,8} split each run of letters and digits every way
 * there is before PCRE2 gives up on a start: in a base64 blob or a long id
 * that was most of a scan of source text (an IBAN region is every
 * "letters and digits" cluster at a word start). */
static const char iban_pattern[] =
    "(?i)(?:(?<=\\\\[nrt])|\\b)([A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{1,4}){3,8})\\b";

bool ks__ts_iban_pattern(const char *pattern) { return !strcmp(pattern, iban_pattern); }

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* True when a match starts at s. After [A-Z]{2}[0-9]{2} come runs of
 * letters and digits, each but the first after one space; a group holds
 * 1 to 4 characters of one run (its optional space opens a run), so runs
 * 0..m take between the sum of ceil(L/4) and the sum of L groups, and the
 * closing \b (every run character is a word character) can only be at a
 * run's end, before a non-word byte or the subject's end. A match ends
 * after run m when 3..8 groups fit and that \b holds. */
static bool iban_at(const char *t, size_t n, size_t s)
{
    if (s + 4 > n || !is_alpha((uint8_t)t[s]) || !is_alpha((uint8_t)t[s + 1]) ||
        !is_digit((uint8_t)t[s + 2]) || !is_digit((uint8_t)t[s + 3]))
        return false;
    /* (?<=\\[nrt]) or \b: t[s] is a word character */
    if (s > 0 && is_word((uint8_t)t[s - 1]) &&
        !(s >= 2 && t[s - 2] == '\\' && strchr("nrtNRT", t[s - 1])))
        return false;
    size_t p = s + 4, fewest = 0, most = 0;
    for (bool first = true;; first = false) {
        size_t q = p;
        if (!first) {
            if (p + 1 >= n || t[p] != ' ' || !is_alnum((uint8_t)t[p + 1]))
                return false;
            q = p + 1;
        }
        size_t e = q;
        while (e < n && e - q <= 32 && is_alnum((uint8_t)t[e])) /* 33 would need 9 groups */
            e++;
        fewest += (e - q + 3) / 4;
        most += e - q;
        if (fewest > 8)
            return false;
        if (e > q && KS_MAX(fewest, 3) <= KS_MIN(most, 8) && (e == n || !is_word((uint8_t)t[e])))
            return true;
        p = e;
    }
}

size_t ks__ts_iban_start(const char *t, size_t n, size_t start, size_t lim)
{
    for (size_t s = start; s <= lim && s + 4 <= n; s++)
        if (iban_at(t, n, s))
            return s;
    return SIZE_MAX;
}

