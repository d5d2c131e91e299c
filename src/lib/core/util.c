/* SPDX-License-Identifier: Apache-2.0
 *
 * Small helpers with no better home: clocks and calendar arithmetic
 * (timegm without the TZ environment, FILETIME), UTF-8/UTF-16 conversion,
 * case-insensitive search, size/duration parsing, path globs, and the
 * error-code and severity names of the public API.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

const char *ks_strerror(int code)
{
    switch (code) {
#define KS_ERR_CASE_(name, val, msg) case val: return msg;
        KS_ERRNO_MAP(KS_ERR_CASE_)
#undef KS_ERR_CASE_
    case KS_EOF:
        return "end of input";
    }
    return "unknown error";
}

static const char *const sev_names[] = {"info", "low", "medium", "high", "critical"};

const char *ks_severity_name(ks_severity s)
{
    return (unsigned)s < KS_ARRAY_LEN(sev_names) ? sev_names[s] : "info";
}

int ks_severity_parse(const char *s)
{
    if (!s)
        return -1;
    for (size_t i = 0; i < KS_ARRAY_LEN(sev_names); i++)
        if (strcasecmp(s, sev_names[i]) == 0)
            return (int)i;
    if (strcasecmp(s, "informational") == 0)
        return KS_SEV_INFO;
    return -1;
}

/* ---- time ------------------------------------------------------------------ */

uint64_t ks__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t ks__wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Days from civil (Howard Hinnant's algorithm), valid for all Gregorian
 * dates; avoids timegm()'s dependence on the process time zone. */
int64_t ks__timegm(int y, int mo, int d, int h, int mi, int s)
{
    y -= mo <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + h * 3600 + mi * 60 + s;
}

int64_t ks__filetime_to_ns(uint64_t ft)
{
    /* 1601-01-01 to 1970-01-01 is 11644473600 s. */
    const uint64_t epoch = 116444736000000000ull;
    if (ft < epoch) {
        uint64_t back = epoch - ft;
        if (back > (uint64_t)INT64_MAX / 100)
            return KS_TIME_NONE; /* before 1677: not representable in ns */
        return -(int64_t)(back * 100);
    }
    uint64_t d = ft - epoch;
    if (d > (uint64_t)INT64_MAX / 100)
        return KS_TIME_NONE;
    return (int64_t)(d * 100);
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

size_t ks__time_format_sec(int64_t sec, uint32_t ns, char *buf, size_t cap)
{
    int64_t days = sec / 86400, rem = sec % 86400;
    int y, m, d;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    if (y >= 0 && y <= 9999 && ns < 1000000000u && cap >= 32) {
        /* Written by hand: snprintf was a tenth of `evtx dump --json`'s
         * CPU (a time on every record). Same text as the formats below. */
        char *o = buf;
        int f[6] = {y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60)};
        static const char sep[6] = {'-', '-', 'T', ':', ':', 0};
        o[0] = (char)('0' + y / 1000);
        o[1] = (char)('0' + y / 100 % 10);
        o[2] = (char)('0' + y / 10 % 10);
        o[3] = (char)('0' + y % 10);
        o += 4;
        for (int i = 1; i < 6; i++) {
            *o++ = sep[i - 1];
            *o++ = (char)('0' + f[i] / 10);
            *o++ = (char)('0' + f[i] % 10);
        }
        if (ns) {
            int digits = 9;
            uint32_t fr = ns;
            while (digits > 3 && fr % 1000 == 0) {
                fr /= 1000;
                digits -= 3;
            }
            *o++ = '.';
            for (int i = digits - 1; i >= 0; i--, fr /= 10)
                o[i] = (char)('0' + fr % 10);
            o += digits;
        }
        *o++ = 'Z';
        *o = 0;
        return (size_t)(o - buf);
    }
    if (ns == 0)
        return (size_t)snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
                                (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    /* Trim trailing zeros in groups of three: ms, us or ns precision. */
    int digits = 9;
    uint32_t f = ns;
    while (digits > 3 && f % 1000 == 0) {
        f /= 1000;
        digits -= 3;
    }
    return (size_t)snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%0*uZ", y, m, d,
                            (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), digits, f);
}

size_t ks_time_format(int64_t t, char *buf, size_t cap)
{
    if (t == KS_TIME_NONE)
        return (size_t)snprintf(buf, cap, "%s", "");
    int64_t sec = t / 1000000000, ns = t % 1000000000;
    if (ns < 0) {
        ns += 1000000000;
        sec--;
    }
    return ks__time_format_sec(sec, (uint32_t)ns, buf, cap);
}

static bool digits(const char *s, size_t n, size_t at, size_t cnt, int *out)
{
    int v = 0;
    if (at + cnt > n)
        return false;
    for (size_t i = 0; i < cnt; i++) {
        if (s[at + i] < '0' || s[at + i] > '9')
            return false;
        v = v * 10 + (s[at + i] - '0');
    }
    *out = v;
    return true;
}

int ks_time_parse(const char *s, size_t n, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    size_t i;
    int64_t frac = 0;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n'))
        n--;
    if (!digits(s, n, 0, 4, &y) || n < 10 || s[4] != '-' || !digits(s, n, 5, 2, &mo) ||
        s[7] != '-' || !digits(s, n, 8, 2, &d))
        return KS_EFORMAT;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return KS_EFORMAT;
    i = 10;
    if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        if (!digits(s, n, i + 1, 2, &h) || i + 3 >= n || s[i + 3] != ':' ||
            !digits(s, n, i + 4, 2, &mi))
            return KS_EFORMAT;
        i += 6;
        if (i < n && s[i] == ':') {
            if (!digits(s, n, i + 1, 2, &sec))
                return KS_EFORMAT;
            i += 3;
        }
        if (i < n && (s[i] == '.' || s[i] == ',')) {
            int nd = 0;
            i++;
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                if (nd < 9) {
                    frac = frac * 10 + (s[i] - '0');
                    nd++;
                }
                i++;
            }
            while (nd++ < 9)
                frac *= 10;
        }
    }
    if (h > 23 || mi > 59 || sec > 60)
        return KS_EFORMAT;
    int64_t off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om = 0;
        int sign = s[i] == '-' ? -1 : 1;
        if (!digits(s, n, i + 1, 2, &oh))
            return KS_EFORMAT;
        i += 3;
        if (i < n && s[i] == ':')
            i++;
        if (i < n && digits(s, n, i, 2, &om))
            i += 2;
        off = sign * (oh * 3600 + om * 60);
    }
    if (i != n)
        return KS_EFORMAT;
    int64_t secs = ks__timegm(y, mo, d, h, mi, sec) - off;
    /* UTC ns in int64 covers 1677..2262; later years would overflow. */
    if (secs > INT64_MAX / 1000000000 - 1 || secs < INT64_MIN / 1000000000 + 1)
        return KS_EFORMAT;
    *out = secs * 1000000000 + frac;
    return KS_OK;
}

/* ---- UTF ------------------------------------------------------------------- */

size_t ks__ascii_prefix(const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16) {
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)(s + i)));
        if (m)
            return i + (size_t)__builtin_ctz(m);
    }
#endif
    while (i < n && s[i] < 0x80)
        i++;
    return i;
}

size_t ks__utf8_valid_prefix(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            /* decoded mail and logs are mostly ASCII: skip its runs a
             * vector at a time (the byte loop was ~5 % of an index build) */
            i += ks__ascii_prefix(s + i, n - i);
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (i + len > n)
            return i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return i;
        i += len;
    }
    return i;
}

bool ks__utf8_valid(const char *s, size_t n)
{
    return ks__utf8_valid_prefix(s, n) == n;
}

size_t ks__utf8_put(char out[4], uint32_t cp)
{
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        cp = 0xfffd;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

size_t ks__utf16le_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap, bool stop_at_nul)
{
    size_t o = 0, i = 0;
#if defined(__SSE2__)
    /* Eight ASCII code units (no zero, bits 7-15 clear) at a time, packed
     * to bytes: the strings of an EVTX record are mostly ASCII, and the
     * four-unit loop below was ~20 % of the record walk's instructions. */
    const __m128i nonascii = _mm_set1_epi16((short)0xff80), zero = _mm_setzero_si128();
    while (i + 16 <= n && o + 8 <= cap) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(in + i));
        __m128i ascii = _mm_cmpeq_epi16(_mm_and_si128(v, nonascii), zero);
        __m128i good = _mm_andnot_si128(_mm_cmpeq_epi16(v, zero), ascii);
        if (_mm_movemask_epi8(good) != 0xffff)
            break;
        _mm_storel_epi64((__m128i *)(void *)(out + o), _mm_packus_epi16(v, v));
        o += 8;
        i += 16;
    }
#endif
    /* Four ASCII code units (no zero, high bytes clear) at a time. */
    while (i + 8 <= n && o + 4 <= cap) {
        uint64_t w;
        memcpy(&w, in + i, 8);
        if ((w & 0xff80ff80ff80ff80ull) != 0 || (w & 0xff) == 0 || (w & 0xff0000) == 0 ||
            (w & 0xff00000000ull) == 0 || (w & 0xff000000000000ull) == 0)
            break;
        out[o] = (char)in[i];
        out[o + 1] = (char)in[i + 2];
        out[o + 2] = (char)in[i + 4];
        out[o + 3] = (char)in[i + 6];
        o += 4;
        i += 8;
    }
    for (; i + 1 < n; i += 2) {
        uint32_t cu = (uint32_t)in[i] | ((uint32_t)in[i + 1] << 8);
        if (cu == 0 && stop_at_nul)
            break;
        if (cu < 0x80 && o < cap) { /* fast path: ASCII */
            out[o++] = (char)cu;
            continue;
        }
        uint32_t cp = cu;
        if (cu >= 0xd800 && cu <= 0xdbff && i + 3 < n) {
            uint32_t lo = (uint32_t)in[i + 2] | ((uint32_t)in[i + 3] << 8);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cu - 0xd800) << 10) + (lo - 0xdc00);
                i += 2;
            } else {
                cp = 0xfffd;
            }
        } else if (cu >= 0xd800 && cu <= 0xdfff) {
            cp = 0xfffd;
        }
        char tmp[4];
        size_t k = ks__utf8_put(tmp, cp);
        if (o + k > cap)
            break;
        memcpy(out + o, tmp, k);
        o += k;
    }
    return o;
}

bool ks__ieq(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
            return false;
    return true;
}

static inline unsigned char lower_ascii(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* ASCII case-insensitive equality of n bytes (needle bytes are what
 * tolower() would give for the C locale the library runs in). */
static bool ieq_ascii(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower_ascii((unsigned char)a[i]) != lower_ascii((unsigned char)b[i]))
            return false;
    return true;
}

const char *ks__memmem_ci(const char *h, size_t hn, const char *nd, size_t nn)
{
    if (nn == 0)
        return h;
    if (nn > hn)
        return NULL;
    /* Anchor on a needle byte that has no other case ("=" of "sig="):
     * memchr finds its candidates at memory speed. Detectors call this on
     * every value of every event (the cloud detector's SAS test). */
    size_t a;
    for (a = 0; a < nn; a++) {
        unsigned char c = (unsigned char)nd[a];
        if (!((c | 32) >= 'a' && (c | 32) <= 'z'))
            break;
    }
    if (a < nn) {
        const char *end = h + hn - (nn - a), *p = h + a;
        while (p < end + 1 && (p = memchr(p, nd[a], (size_t)(end + 1 - p))) != NULL) {
            if (ieq_ascii(p - a, nd, nn))
                return p - a;
            p++;
        }
        return NULL;
    }
    unsigned char f = lower_ascii((unsigned char)nd[0]);
    for (size_t i = 0; i + nn <= hn; i++)
        if (lower_ascii((unsigned char)h[i]) == f && ieq_ascii(h + i, nd, nn))
            return h + i;
    return NULL;
}

const uint8_t *ks__find_pair(const uint8_t *p, size_t n, uint8_t a, uint8_t b1, uint8_t b2)
{
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i va = _mm_set1_epi8((char)a), v1 = _mm_set1_epi8((char)b1), v2 = _mm_set1_epi8((char)b2);
    for (; i + 17 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 1));
        __m128i m = _mm_and_si128(_mm_cmpeq_epi8(x, va), _mm_or_si128(_mm_cmpeq_epi8(y, v1), _mm_cmpeq_epi8(y, v2)));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits)
            return p + i + __builtin_ctz(bits);
    }
#endif
    for (; i + 1 < n; i++)
        if (p[i] == a && (p[i + 1] == b1 || p[i + 1] == b2))
            return p + i;
    return NULL;
}

/* ---- parsing --------------------------------------------------------------- */

int ks__parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (!s || !*s || *s == '-')
        return KS_EUSAGE;
    v = strtoull(s, &end, 10);
    if (end == s)
        return KS_EUSAGE;
    unsigned shift = 0;
    switch (tolower((unsigned char)*end)) {
    case 0: break;
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    case 't': shift = 40; break;
    default: return KS_EUSAGE;
    }
    if (*end && end[1] && !(tolower((unsigned char)end[1]) == 'b' && !end[2]) &&
        !(tolower((unsigned char)end[1]) == 'i' && end[2] && tolower((unsigned char)end[2]) == 'b' && !end[3]))
        return KS_EUSAGE;
    if (shift && v > (UINT64_MAX >> shift))
        return KS_EUSAGE;
    *out = (uint64_t)v << shift;
    return KS_OK;
}

int ks__parse_duration(const char *s, int64_t *out)
{
    char *end;
    long long v;
    int64_t mul;
    if (!s || !*s)
        return KS_EUSAGE;
    v = strtoll(s, &end, 10);
    if (end == s || v < 0)
        return KS_EUSAGE;
    if (!strcmp(end, "us"))
        mul = 1000ll;
    else if (!strcmp(end, "ms"))
        mul = 1000000ll;
    else if (!*end || !strcmp(end, "s"))
        mul = 1000000000ll;
    else if (!strcmp(end, "m"))
        mul = 60ll * 1000000000ll;
    else if (!strcmp(end, "h"))
        mul = 3600ll * 1000000000ll;
    else if (!strcmp(end, "d"))
        mul = 86400ll * 1000000000ll;
    else if (!strcmp(end, "w"))
        mul = 7 * 86400ll * 1000000000ll;
    else
        return KS_EUSAGE;
    if (v > INT64_MAX / mul)
        return KS_EUSAGE;
    *out = v * mul;
    return KS_OK;
}

bool ks__glob(const char *p, const char *s)
{
    const char *star_p = NULL, *star_s = NULL;
    while (*s) {
        if (*p == '*') {
            while (*p == '*')
                p++;
            star_p = p;
            star_s = s;
            continue;
        }
        if (*p == '?' || (*p == '\\' && p[1] && p[1] == *s && (p++, 1)) || *p == *s) {
            p++;
            s++;
            continue;
        }
        if (*p == '[') {
            const char *q = p + 1;
            bool neg = (*q == '!' || *q == '^'), hit = false;
            if (neg)
                q++;
            for (; *q && *q != ']'; q++) {
                if (q[1] == '-' && q[2] && q[2] != ']') {
                    if (*s >= q[0] && *s <= q[2])
                        hit = true;
                    q += 2;
                } else if (*q == *s) {
                    hit = true;
                }
            }
            if (*q == ']' && hit != neg) {
                p = q + 1;
                s++;
                continue;
            }
        }
        if (!star_p)
            return false;
        p = star_p;
        s = ++star_s;
    }
    while (*p == '*')
        p++;
    return *p == 0;
}

int ks__hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
