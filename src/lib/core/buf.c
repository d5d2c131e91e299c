/* SPDX-License-Identifier: Apache-2.0
 *
 * Growable byte buffer with a hard cap, plus the two escapers every output
 * needs (JSON strings, CSV fields). Output is always valid UTF-8: invalid
 * input bytes become U+FFFD so a SIEM never rejects a line kensa wrote.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

#define BUF_DEFAULT_LIMIT ((size_t)1 << 30)

int ks__buf_grow(ks_buf *b, size_t extra)
{
    size_t need, ncap, limit = b->limit ? b->limit : BUF_DEFAULT_LIMIT;
    char *np;
    if (!ks__add_ok(b->n, extra, &need) || !ks__add_ok(need, 1, &need))
        return KS_ELIMIT;
    if (need <= b->cap)
        return KS_OK;
    if (need > limit)
        return KS_ELIMIT;
    ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > limit / 2 ? limit : ncap * 2;
    np = realloc(b->p, ncap);
    if (!np)
        return KS_ENOMEM;
    b->p = np;
    b->cap = ncap;
    return KS_OK;
}

int ks__buf_add(ks_buf *b, const void *p, size_t n)
{
    int rc = ks__buf_grow(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
    return KS_OK;
}

int ks__buf_addc(ks_buf *b, char c)
{
    return ks__buf_add(b, &c, 1);
}

int ks__buf_adds(ks_buf *b, const char *s)
{
    return ks__buf_add(b, s, strlen(s));
}

/* Two digits a step from a table: the division loop a digit at a time
 * was ~85 instructions per EventID, record id or logon type, and Sigma's
 * prefilter writes every integer of every event as text. */
size_t ks__fmt_i64(char *b, int64_t v)
{
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
                                   "25262728293031323334353637383940414243444546474849"
                                   "50515253545556575859606162636465666768697071727374"
                                   "75767778798081828384858687888990919293949596979899";
    char t[24];
    size_t n = sizeof t, o = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        t[--n] = pairs[2 * r + 1];
        t[--n] = pairs[2 * r];
    }
    if (u >= 10) {
        t[--n] = pairs[2 * u + 1];
        t[--n] = pairs[2 * u];
    } else {
        t[--n] = (char)('0' + u);
    }
    if (v < 0)
        b[o++] = '-';
    memcpy(b + o, t + n, sizeof t - n);
    o += sizeof t - n;
    b[o] = 0;
    return o;
}

int ks__buf_add_i64(ks_buf *b, int64_t v)
{
    char t[24];
    return ks__buf_add(b, t, ks__fmt_i64(t, v));
}

int ks__buf_vprintf(ks_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n, rc;
    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return KS_EINTERNAL;
    if ((rc = ks__buf_grow(b, (size_t)n)) != 0)
        return rc;
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    b->n += (size_t)n;
    return KS_OK;
}

int ks__buf_printf(ks_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = ks__buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int ks__buf_add_json_str(ks_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, run = 0;
    int rc = KS_OK;
    while (i < n && rc == KS_OK) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            run++;
            continue;
        }
        if (run && (rc = ks__buf_add(b, s + i - run, run)) != 0)
            break;
        run = 0;
        if (c >= 0x80) {
            size_t ok = ks__utf8_valid_prefix(s + i, KS_MIN(n - i, 4));
            size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
            if (ok >= len && len > 1) {
                rc = ks__buf_add(b, s + i, len);
                i += len;
            } else {
                rc = ks__buf_add(b, "\xef\xbf\xbd", 3);
                i++;
            }
            continue;
        }
        char esc[7] = {'\\', 0};
        size_t en = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            en = 6;
        }
        rc = ks__buf_add(b, esc, en);
        i++;
    }
    if (rc == KS_OK && run)
        rc = ks__buf_add(b, s + i - run, run);
    return rc;
}

int ks__buf_add_csv(ks_buf *b, const char *s, size_t n)
{
    bool quote = false;
    int rc;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') {
            quote = true;
            break;
        }
    /* Spreadsheet formula injection: a leading = + - @ is made inert. */
    bool formula = n && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@');
    if (!quote && !formula)
        return ks__buf_add(b, s, n);
    if ((rc = ks__buf_addc(b, '"')) != 0)
        return rc;
    if (formula && (rc = ks__buf_addc(b, '\'')) != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' && (rc = ks__buf_addc(b, '"')) != 0)
            return rc;
        if ((rc = ks__buf_addc(b, s[i])) != 0)
            return rc;
    }
    return ks__buf_addc(b, '"');
}

/* Code points that steer a terminal or hide text: C0 and C1 controls
 * (ESC, CSI U+009B), DEL, bidirectional overrides and isolates (text that
 * reads differently than it is), line and paragraph separators. */
static bool term_unsafe(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029 || cp == 0x200e ||
           cp == 0x200f || cp == 0x061c;
}

int ks__buf_add_term(ks_buf *b, const char *s, size_t n)
{
    int rc = KS_OK;
    for (size_t i = 0; i < n && rc == KS_OK;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        uint32_t cp = c;
        if (len > 1) {
            if (c < 0xc2 || c > 0xf4 || len > n - i || ks__utf8_valid_prefix(s + i, len) != len) {
                rc = ks__buf_printf(b, "\\x%02x", c); /* invalid UTF-8: the byte, visibly */
                i++;
                continue;
            }
            cp = len == 2 ? (uint32_t)(c & 0x1f) : len == 3 ? (uint32_t)(c & 0x0f) : (uint32_t)(c & 0x07);
            for (size_t k = 1; k < len; k++)
                cp = cp << 6 | ((unsigned char)s[i + k] & 0x3f);
        }
        if (!term_unsafe(cp))
            rc = ks__buf_add(b, s + i, len);
        else if (cp < 0x100)
            rc = ks__buf_printf(b, "\\x%02x", (unsigned)cp);
        else
            rc = ks__buf_printf(b, "\\u%04x", (unsigned)cp);
        i += len;
    }
    return rc;
}

void ks__buf_reset(ks_buf *b)
{
    b->n = 0;
    if (b->p)
        b->p[0] = 0;
}

void ks__buf_release(ks_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

char *ks__buf_detach(ks_buf *b, size_t *n)
{
    char *p = b->p;
    if (n)
        *n = b->n;
    b->p = NULL;
    b->n = b->cap = 0;
    return p;
}

int ks__grow(void *pv, size_t *cap, size_t n, size_t elem, size_t first)
{
    void *v;
    if (n < *cap)
        return KS_OK;
    size_t nc = *cap ? *cap * 2 : first;
    if (nc <= n)
        nc = n + 1;
    if (nc > SIZE_MAX / elem)
        return KS_ENOMEM;
    /* pv points at a T *: copied, not read as a void * (aliasing rules) */
    memcpy(&v, pv, sizeof v);
    void *nv = realloc(v, nc * elem);
    if (!nv)
        return KS_ENOMEM;
    memcpy(pv, &nv, sizeof nv);
    *cap = nc;
    return KS_OK;
}
