/* SPDX-License-Identifier: Apache-2.0
 *
 * Helpers shared by the web-server and Exchange log inputs: percent
 * decoding, '+' to space, byte hygiene and W3C date/time parsing. See
 * weblog.h for the contracts. Everything here is allocation-free unless
 * the text has to change, so clean lines stay zero-copy.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "weblog.h"

int ks__url_decode(ks_arena *a, const char *s, size_t n, bool plus_space, ks_slice *out)
{
    out->p = s;
    out->n = n;
    /* Fast path: most URIs carry no escapes. */
    bool need = memchr(s, '%', n) != NULL || (plus_space && memchr(s, '+', n) != NULL);
    if (!need)
        return KS_OK;
    char *buf = ks__arena_alloc(a, n + 1);
    if (!buf)
        return KS_ENOMEM;
    size_t o = 0;
    bool high = false;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n) {
            int h1 = ks__hexval((unsigned char)s[i + 1]);
            int h2 = ks__hexval((unsigned char)s[i + 2]);
            if (h1 >= 0 && h2 >= 0) {
                c = h1 * 16 + h2;
                i += 2;
            }
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c >= 0x80)
            high = true;
        buf[o++] = (char)c;
    }
    buf[o] = 0;
    if (high && !ks__utf8_valid(buf, o))
        return ks__utf8_repair(a, buf, o, out);
    out->p = buf;
    out->n = o;
    return KS_OK;
}

int ks__plus_to_space(ks_arena *a, const char *s, size_t n, ks_slice *out)
{
    out->p = s;
    out->n = n;
    if (!memchr(s, '+', n))
        return KS_OK;
    char *buf = ks__arena_alloc(a, n + 1);
    if (!buf)
        return KS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        buf[i] = s[i] == '+' ? ' ' : s[i];
    buf[n] = 0;
    out->p = buf;
    return KS_OK;
}

bool ks__line_has_ctl(const char *s, size_t n, bool *high)
{
    /* Eight bytes at a time (SWAR): a word with no byte < 0x20 and none
     * >= 0x80 — nearly every word of a log line — costs a few operations. */
    const uint64_t ones = 0x0101010101010101ull, hi = 0x8080808080808080ull;
    bool ctl = false, h = false;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t lt = (w - ones * 0x20) & ~w & hi; /* some byte < 0x20 (or >= 0x80) */
        if (!(lt | (w & hi)))
            continue;
        for (size_t k = i; k < i + 8; k++) {
            unsigned char c = (unsigned char)s[k];
            if (c < 0x20 && c != '\t')
                ctl = true;
            else if (c >= 0x80)
                h = true;
        }
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\t')
            ctl = true;
        else if (c >= 0x80)
            h = true;
    }
    *high = h;
    return ctl;
}

int ks__utf8_repair(ks_arena *a, const char *s, size_t n, ks_slice *out)
{
    out->p = s;
    out->n = n;
    size_t good = ks__utf8_valid_prefix(s, n);
    if (good == n)
        return KS_OK;
    size_t cap;
    if (!ks__mul_ok(n, 3, &cap) || !ks__add_ok(cap, 1, &cap))
        return KS_ELIMIT;
    char *buf = ks__arena_alloc(a, cap);
    if (!buf)
        return KS_ENOMEM;
    size_t o = 0, i = 0;
    while (i < n) {
        size_t k = ks__utf8_valid_prefix(s + i, n - i);
        memcpy(buf + o, s + i, k);
        o += k;
        i += k;
        if (i < n) {
            /* One bad byte becomes one U+FFFD (EF BF BD). */
            buf[o++] = (char)0xef;
            buf[o++] = (char)0xbf;
            buf[o++] = (char)0xbd;
            i++;
        }
    }
    buf[o] = 0;
    out->p = buf;
    out->n = o;
    return KS_OK;
}

static bool digits(const char *s, size_t n, int *v)
{
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

int ks__w3c_time_memo(ks_w3c_day *m, const char *d, size_t dn, const char *t, size_t tn,
                      int64_t *out)
{
    int y, mo, dd, h, mi, s;
    int64_t frac = 0, day;
    /* A log writes the same date on every line of a day: its midnight
     * (ks__timegm's days * 86400, linear in the clock below) is kept with
     * the text it came from. */
    if (m && m->ok && dn == 10 && memcmp(d, m->txt, 10) == 0) {
        if (m->clock_ok && tn == 8 && memcmp(t, m->clock, 8) == 0) {
            *out = m->out; /* a busy server logs many lines a second */
            return KS_OK;
        }
        day = m->secs;
    } else {
        if (dn != 10 || d[4] != '-' || d[7] != '-' || !digits(d, 4, &y) || !digits(d + 5, 2, &mo) ||
            !digits(d + 8, 2, &dd) || mo < 1 || mo > 12 || dd < 1 || dd > 31)
            return KS_EFORMAT;
        day = ks__timegm(y, mo, dd, 0, 0, 0);
        if (m) {
            memcpy(m->txt, d, 10);
            m->secs = day;
            m->ok = true;
            m->clock_ok = false;
        }
    }
    if (tn < 8 || t[2] != ':' || t[5] != ':' || !digits(t, 2, &h) || !digits(t + 3, 2, &mi) ||
        !digits(t + 6, 2, &s))
        return KS_EFORMAT;
    if (h > 23 || mi > 59 || s > 60)
        return KS_EFORMAT;
    if (tn > 8) {
        /* Fractional seconds ("10:13:36.123"), up to nanoseconds. */
        if (t[8] != '.' || tn > 18)
            return KS_EFORMAT;
        int64_t scale = 100000000;
        for (size_t i = 9; i < tn; i++, scale /= 10) {
            if (t[i] < '0' || t[i] > '9')
                return KS_EFORMAT;
            frac += (t[i] - '0') * scale;
        }
    }
    int64_t secs = day + h * 3600 + mi * 60 + s;
    if (secs > INT64_MAX / 1000000000 - 1 || secs < INT64_MIN / 1000000000 + 1)
        return KS_EFORMAT; /* beyond 2262: not representable as UTC ns */
    *out = secs * 1000000000ll + frac;
    if (m && tn == 8) {
        memcpy(m->clock, t, 8);
        m->out = *out;
        m->clock_ok = true;
    }
    return KS_OK;
}

int ks__w3c_time(const char *d, size_t dn, const char *t, size_t tn, int64_t *out)
{
    return ks__w3c_time_memo(NULL, d, dn, t, tn, out);
}

/* Reads an unsigned number of 1..maxd digits at s[*i]. */
static bool num_at(const char *s, size_t n, size_t *i, size_t maxd, int *v)
{
    size_t b = *i;
    int x = 0;
    while (*i < n && *i - b < maxd && s[*i] >= '0' && s[*i] <= '9')
        x = x * 10 + (s[(*i)++] - '0');
    *v = x;
    return *i > b;
}

int ks__us_time(const char *s, size_t n, int64_t *out)
{
    int mo, d, y, h, mi, sec = 0;
    int64_t frac = 0;
    size_t i = 0;
    if (!num_at(s, n, &i, 2, &mo) || i >= n || s[i++] != '/' || !num_at(s, n, &i, 2, &d) || i >= n ||
        s[i++] != '/' || !num_at(s, n, &i, 4, &y) || y < 1970)
        return KS_EFORMAT;
    if (i < n && s[i] == ',')
        i++;
    while (i < n && s[i] == ' ')
        i++;
    if (!num_at(s, n, &i, 2, &h) || i >= n || s[i++] != ':' || !num_at(s, n, &i, 2, &mi))
        return KS_EFORMAT;
    if (i < n && s[i] == ':' && (++i, !num_at(s, n, &i, 2, &sec)))
        return KS_EFORMAT;
    if (i < n && s[i] == '.') {
        int64_t scale = 100000000;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
            frac += (s[i] - '0') * scale;
    }
    while (i < n && s[i] == ' ')
        i++;
    if (i + 2 == n && (s[i + 1] == 'M' || s[i + 1] == 'm')) {
        bool pm = s[i] == 'P' || s[i] == 'p';
        if ((!pm && s[i] != 'A' && s[i] != 'a') || h < 1 || h > 12)
            return KS_EFORMAT;
        h = h % 12 + (pm ? 12 : 0);
    } else if (i != n) {
        return KS_EFORMAT;
    }
    if (mo > 12 && d <= 12) { /* day first: 20/11/2026 */
        int t = mo;
        mo = d;
        d = t;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y > 2200)
        return KS_EFORMAT;
    *out = ks__timegm(y, mo, d, h, mi, sec) * 1000000000ll + (frac > 0 ? frac : 0);
    return KS_OK;
}

bool ks__vdir_set(const char *s, size_t n)
{
    const char *set = s ? ks__memmem_ci(s, n, "Set-", 4) : NULL;
    if (!set)
        return false;
    size_t off = (size_t)(set - s) + 5;
    return off < n && ks__memmem_ci(s + off, n - off, "VirtualDirectory", 16) != NULL;
}

size_t ks__csv_split(ks_arena *a, const char *s, size_t n, ks_slice *t, size_t max)
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
            if (!esc || !a) { /* no arena (probing): "" stays doubled */
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

void ks__diagcap(ks_diagcap *c, ks_diag_level lvl, int code, uint64_t line, uint64_t off,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ks__diagcapv(c, lvl, code, line, off, fmt, ap);
    va_end(ap);
}

void ks__diagcapv(ks_diagcap *c, ks_diag_level lvl, int code, uint64_t line, uint64_t off,
                  const char *fmt, va_list ap)
{
    char msg[512];
    if (lvl >= KS_DIAG_WARN && c->ndiag >= KS_WEBLOG_MAX_DIAGS) {
        c->nsuppressed++;
        return;
    }
    if (lvl >= KS_DIAG_WARN)
        c->ndiag++;
    vsnprintf(msg, sizeof msg, fmt, ap);
    ks_loc loc = KS_LOC_NONE;
    loc.path = c->path;
    loc.line = line;
    loc.offset = off;
    ks__diag(c->e, lvl, code, c->component, &loc, "%s", msg);
}

void ks__diagcap_close(ks_diagcap *c, uint64_t nbad)
{
    if (!c->nsuppressed)
        return;
    ks_loc loc = KS_LOC_NONE;
    loc.path = c->path;
    ks__diag(c->e, KS_DIAG_WARN, KS_EFORMAT, c->component, &loc,
             "%llu more damaged lines not reported individually (%llu records skipped in all)",
             (unsigned long long)c->nsuppressed, (unsigned long long)nbad);
}

int ks__weblog_next(ks_lines *l, ks_diagcap *dc, const char *opt, uint64_t *nbad, ks_event *ev,
                    ks_weblog_line *out)
{
    for (;;) {
        const char *s;
        size_t n;
        uint64_t lineno, off;
        bool high;
        int rc = ks__lines_next(l, &s, &n, &lineno, &off);
        if (rc == KS_ELIMIT) {
            (*nbad)++;
            ks__diagcap(dc, KS_DIAG_WARN, KS_ELIMIT, lineno, off,
                        "line longer than %zu bytes skipped (%s)", l->max, opt);
            continue;
        }
        if (rc != KS_OK)
            return rc;
        if (lineno == 1 && n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
            s += 3, n -= 3;
        if (!n)
            continue;
        if (ks__line_has_ctl(s, n, &high)) {
            (*nbad)++;
            ks__diagcap(dc, KS_DIAG_WARN, KS_EFORMAT, lineno, off,
                        "binary or control bytes in a record; line skipped");
            continue;
        }
        ks__event_reset(ev);
        ev->prov.line = lineno;
        ev->prov.offset = off;
        if (high) {
            ks_slice fixed;
            if (ks__utf8_repair(ev->arena, s, n, &fixed) != KS_OK) {
                (*nbad)++;
                continue;
            }
            s = fixed.p;
            n = fixed.n;
        }
        *out = (ks_weblog_line){s, n, lineno, off};
        return KS_OK;
    }
}
