/* SPDX-License-Identifier: Apache-2.0
 *
 * Helpers shared by the mail extractors (mail.h): message metadata with its
 * own arena, the metadata "headers" text unit, header lookup in transport
 * headers, dates, MS-OXRTFCP compressed RTF, code pages.
 */
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "extract/mail.h"

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_init_once(void)
{
    g_mime_init();
}

void ks__mail_gmime_init(void)
{
    pthread_once(&gmime_once, gmime_init_once);
}

/* ---- metadata ---------------------------------------------------------------- */

int ks__mailmeta_init(ks_mailmeta *mm)
{
    memset(mm, 0, sizeof *mm);
    mm->m.time = KS_TIME_NONE;
    mm->arena = ks__arena_new(4096, (size_t)16 << 20);
    return mm->arena ? KS_OK : KS_ENOMEM;
}

void ks__mailmeta_reset(ks_mailmeta *mm)
{
    memset(&mm->m, 0, sizeof mm->m);
    mm->m.time = KS_TIME_NONE;
    ks__arena_reset(mm->arena);
}

void ks__mailmeta_release(ks_mailmeta *mm)
{
    if (!mm)
        return;
    ks__arena_free(mm->arena);
    memset(mm, 0, sizeof *mm);
}

/* Header values may carry folded lines and stray controls: one line of
 * printable text is what a finding should show. Invalid UTF-8 is kept as
 * is (outputs escape it). */
int ks__mailmeta_set(ks_mailmeta *mm, const char **field, const char *s, size_t n)
{
    while (n && (unsigned char)*s <= ' ')
        s++, n--;
    while (n && (unsigned char)s[n - 1] <= ' ')
        n--;
    if (!n)
        return KS_OK;
    char *c = ks__arena_strndup(mm->arena, s, n);
    if (!c)
        return KS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)c[i] < ' ' || c[i] == 0x7f)
            c[i] = ' ';
    *field = c;
    return KS_OK;
}

int ks__mailmeta_set_msgid(ks_mailmeta *mm, const char *s, size_t n)
{
    if (!s)
        return KS_OK;
    /* "<id@host> (comment)" or bare id@host: take what is inside the first
     * <...>, else the first blank-delimited word. */
    const char *lt = memchr(s, '<', n);
    if (lt) {
        const char *gt = memchr(lt, '>', n - (size_t)(lt - s));
        if (gt && gt > lt + 1)
            return ks__mailmeta_set(mm, &mm->m.message_id, lt + 1, (size_t)(gt - lt - 1));
    }
    while (n && (unsigned char)*s <= ' ')
        s++, n--;
    size_t k = 0;
    while (k < n && (unsigned char)s[k] > ' ' && s[k] != '(')
        k++;
    return ks__mailmeta_set(mm, &mm->m.message_id, s, k);
}

int ks__mailmeta_add_addr(ks_mailmeta *mm, const char **field, const char *s, size_t n)
{
    if (!s || !n)
        return KS_OK;
    if (!*field)
        return ks__mailmeta_set(mm, field, s, n);
    char *c = ks__arena_printf(mm->arena, "%s, %.*s", *field, (int)KS_MIN(n, 4096), s);
    if (!c)
        return KS_ENOMEM;
    for (char *q = c; *q; q++)
        if ((unsigned char)*q < ' ')
            *q = ' ';
    *field = c;
    return KS_OK;
}

int ks__mailmeta_from_headers(ks_mailmeta *mm, const char *h, size_t n)
{
    const char *v;
    size_t vn;
    int rc = KS_OK;
    if (!mm->m.message_id && ks__mail_header_find(h, n, "Message-ID", &v, &vn))
        rc = ks__mailmeta_set_msgid(mm, v, vn);
    if (rc == KS_OK && ks__mail_header_find(h, n, "Date", &v, &vn)) {
        rc = ks__mailmeta_set(mm, &mm->m.date, v, vn);
        if (rc == KS_OK)
            rc = ks__mailmeta_set_time(mm, ks__mail_parse_date(v, vn));
    }
    return rc;
}

int ks__mailmeta_person(ks_mailmeta *mm, const char **field, bool append, const char *name,
                        const char *addr)
{
    ks_buf b = KS_BUF_INIT;
    int rc = KS_OK;
    bool hn = name && *name, ha = addr && *addr;
    if (hn && ha && strcmp(name, addr) != 0)
        rc = ks__buf_printf(&b, "%s <%s>", name, addr);
    else if (hn || ha)
        rc = ks__buf_adds(&b, ha ? addr : name);
    if (rc == KS_OK && b.n)
        rc = append ? ks__mailmeta_add_addr(mm, field, b.p, b.n) : ks__mailmeta_set(mm, field, b.p, b.n);
    ks__buf_release(&b);
    return rc;
}

int ks__mailmeta_set_time(ks_mailmeta *mm, int64_t t)
{
    char buf[40];
    if (t == KS_TIME_NONE)
        return KS_OK;
    mm->m.time = t;
    if (mm->m.date)
        return KS_OK;
    int64_t sec = t / 1000000000;
    int64_t ns = t % 1000000000;
    if (ns < 0)
        ns += 1000000000, sec--;
    ks__time_format_sec(sec, (uint32_t)ns, buf, sizeof buf);
    return ks__mailmeta_set(mm, &mm->m.date, buf, strlen(buf));
}

/* ---- text --------------------------------------------------------------------- */

int ks__mail_emit_meta(ks_xctx *x, const ks_xnode *node, const ks_xmail *m)
{
    ks_buf b = KS_BUF_INIT;
    int rc = KS_OK;
    const struct {
        const char *name;
        const char *v;
    } rows[] = {
        {"From", m->from},       {"To", m->to},     {"Cc", m->cc},
        {"Subject", m->subject}, {"Date", m->date}, {"Message-ID", m->message_id},
    };
    for (size_t i = 0; i < KS_ARRAY_LEN(rows) && rc == KS_OK; i++)
        if (rows[i].v)
            rc = ks__buf_printf(&b, "%s: %s\n", rows[i].name, rows[i].v);
    if (rc == KS_OK && b.n)
        rc = ks__extract_text(x, node, "headers", b.p, b.n, "utf-8");
    ks__buf_release(&b);
    return rc;
}

int ks__mail_emit_headers(ks_xctx *x, const ks_xnode *node, const ks_xmail *m, const char *h, size_t n)
{
    if (n)
        return ks__extract_text(x, node, "headers", h, n, "utf-8");
    return ks__mail_emit_meta(x, node, m);
}

bool ks__mail_header_find(const char *h, size_t n, const char *name, const char **v, size_t *vn)
{
    size_t nl = strlen(name);
    size_t i = 0;
    while (i < n) {
        const char *eol = memchr(h + i, '\n', n - i);
        size_t end = eol ? (size_t)(eol - h) : n;
        size_t len = end - i;
        if (len == 0 || (len == 1 && h[i] == '\r'))
            break; /* end of the header block */
        if (len > nl && h[i + nl] == ':' && ks__ieq(h + i, nl, name, nl)) {
            size_t b = i + nl + 1;
            while (b < end && (h[b] == ' ' || h[b] == '\t'))
                b++;
            size_t e = end;
            while (e > b && (h[e - 1] == '\r' || h[e - 1] == ' '))
                e--;
            /* Message-IDs are often folded onto the next line. */
            if (e == b && eol && end + 1 < n && (h[end + 1] == ' ' || h[end + 1] == '\t')) {
                const char *eol2 = memchr(h + end + 1, '\n', n - end - 1);
                b = end + 1;
                e = eol2 ? (size_t)(eol2 - h) : n;
                while (b < e && (h[b] == ' ' || h[b] == '\t'))
                    b++;
                while (e > b && (h[e - 1] == '\r' || h[e - 1] == ' '))
                    e--;
            }
            *v = h + b;
            *vn = e - b;
            return true;
        }
        i = end + 1;
    }
    return false;
}

int64_t ks__mail_sec_to_ns(int64_t sec)
{
    int64_t ns;
    return __builtin_mul_overflow(sec, (int64_t)1000000000, &ns) ? KS_TIME_NONE : ns;
}

/* Two digits at s, or -1. */
static int two_digits(const char *s)
{
    return s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' ? (s[0] - '0') * 10 + (s[1] - '0') : -1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t)era * 146097 + doe - 719468;
}

bool ks__mail_date_plain(const char *s, int64_t *sec)
{
    static const char wdays[] = "MonTueWedThuFriSatSun";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t n = strlen(s);
    if (n >= 5 && s[3] == ',' && s[4] == ' ') {
        const char *w = strstr(wdays, (char[4]){s[0], s[1], s[2], 0});
        if (!w || (w - wdays) % 3)
            return false;
        s += 5;
        n -= 5;
    }
    /* "1 Jan 2024 00:10:00 +0000" or "01 Jan ..." and nothing after */
    size_t dl = n > 1 && s[1] == ' ' ? 1 : 2;
    if (n != dl + 24)
        return false;
    int day = dl == 1 ? (s[0] >= '0' && s[0] <= '9' ? s[0] - '0' : -1) : two_digits(s);
    s += dl;
    if (s[0] != ' ' || s[4] != ' ' || s[9] != ' ' || s[12] != ':' || s[15] != ':' || s[18] != ' ' ||
        (s[19] != '+' && s[19] != '-'))
        return false;
    const char *m = strstr(months, (char[4]){s[1], s[2], s[3], 0});
    int hi = two_digits(s + 5), lo = two_digits(s + 7), hh = two_digits(s + 10), mm = two_digits(s + 13),
        ss = two_digits(s + 16), zh = two_digits(s + 20), zm = two_digits(s + 22);
    /* gmime gives no date before 1970 (a negative time), nor for a 60th
     * second: those go to it */
    if (!m || (m - months) % 3 || hi < 19 || hi > 29 || lo < 0 || (hi == 19 && lo < 71) || hh < 0 || hh > 23 ||
        mm < 0 || mm > 59 || ss < 0 || ss > 59 || zh < 0 || zh > 12 || zm < 0 || zm > 59)
        return false;
    int mon = (int)(m - months) / 3 + 1, year = hi * 100 + lo;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day < 1 || day > mdays[mon - 1] + (mon == 2 && leap))
        return false;
    int64_t off = (int64_t)(zh * 3600 + zm * 60) * (s[19] == '-' ? -1 : 1);
    *sec = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss - off;
    return true;
}

int64_t ks__mail_parse_date(const char *s, size_t n)
{
    char buf[256];
    if (!s || !n || n >= sizeof buf)
        return KS_TIME_NONE;
    memcpy(buf, s, n);
    buf[n] = 0;
    int64_t sec;
    if (ks__mail_date_plain(buf, &sec))
        return ks__mail_sec_to_ns(sec);
    ks__mail_gmime_init();
    GDateTime *d = g_mime_utils_header_decode_date(buf);
    if (!d)
        return KS_TIME_NONE;
    int64_t t = ks__mail_sec_to_ns((int64_t)g_date_time_to_unix(d));
    g_date_time_unref(d);
    return t;
}

/* ---- compressed RTF (MS-OXRTFCP) ----------------------------------------------- */

/* The dictionary every LZFu stream starts from (section 3.1.3.1). */
static const char lzfu_prebuf[] =
    "{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss "
    "\\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier"
    "{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

#define LZFU_MAGIC 0x75465a4cu
#define MELA_MAGIC 0x414c454du

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* CRC-32 of the spec: the usual polynomial, initial value 0, no final xor. */
static uint32_t lzfu_crc(const uint8_t *p, size_t n)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return c;
}

int ks__mail_lzfu(const uint8_t *p, size_t n, ks_buf *out)
{
    uint8_t dict[4096];
    size_t pre = sizeof lzfu_prebuf - 1;
    if (n < 16)
        return KS_EFORMAT;
    uint32_t csize = rd32(p), rsize = rd32(p + 4), magic = rd32(p + 8), crc = rd32(p + 12);
    /* compSize counts the 12 header bytes after itself. */
    size_t end = (size_t)csize + 4 < n ? (size_t)csize + 4 : n;
    if (magic == MELA_MAGIC)
        return ks__buf_add(out, p + 16, KS_MIN((size_t)rsize, n - 16));
    if (magic != LZFU_MAGIC || end < 16)
        return KS_EFORMAT;
    if (rsize > ((uint64_t)256 << 20))
        return KS_ELIMIT;
    memcpy(dict, lzfu_prebuf, pre);
    memset(dict + pre, 0, sizeof dict - pre);
    size_t w = pre, i = 16;
    int rc = ks__buf_grow(out, rsize);
    if (rc != KS_OK)
        return rc;
    while (i < end) {
        unsigned ctl = p[i++];
        for (int bit = 0; bit < 8 && i < end; bit++, ctl >>= 1) {
            if (!(ctl & 1)) {
                dict[w] = p[i];
                w = (w + 1) & 4095;
                if ((rc = ks__buf_addc(out, (char)p[i++])) != KS_OK)
                    return rc;
                continue;
            }
            if (i + 2 > end)
                return KS_EFORMAT;
            unsigned ref = (unsigned)p[i] << 8 | p[i + 1];
            i += 2;
            size_t off = ref >> 4, len = (ref & 15) + 2;
            if (off == w)
                goto done; /* the end marker */
            for (size_t k = 0; k < len; k++) {
                uint8_t c = dict[(off + k) & 4095];
                dict[w] = c;
                w = (w + 1) & 4095;
                if ((rc = ks__buf_addc(out, (char)c)) != KS_OK)
                    return rc;
            }
        }
    }
done:
    return lzfu_crc(p + 16, end - 16) == crc ? KS_OK : KS_ECHECKSUM;
}

/* ---- names ---------------------------------------------------------------------- */

const char *ks__mail_codepage(uint32_t cp, char *buf, size_t cap)
{
    switch (cp) {
    case 0:
        return NULL;
    case 65001:
        return "UTF-8";
    case 1200:
        return "UTF-16LE";
    case 20127:
        return "ASCII";
    case 28591:
        return "ISO-8859-1";
    case 50220:
    case 50221:
    case 50222:
        return "ISO-2022-JP";
    case 51932:
        return "EUC-JP";
    case 20866:
        return "KOI8-R";
    case 932:
        return "SHIFT_JIS";
    default:
        if (cp >= 28592 && cp <= 28605) {
            snprintf(buf, cap, "ISO-8859-%u", cp - 28590);
            return buf;
        }
        snprintf(buf, cap, "CP%u", cp);
        return buf;
    }
}

const char *ks__mapi_name(uint16_t id, char *buf, size_t cap)
{
    static const struct {
        uint16_t id;
        const char *name;
    } names[] = {
        {KS_PR_SUBJECT, "subject"},         {KS_PR_BODY, "body"},
        {KS_PR_DISPLAY_TO, "to"},           {KS_PR_DISPLAY_CC, "cc"},
        {KS_PR_SENDER_NAME, "sender"},      {KS_PR_SENDER_EMAIL, "sender_email"},
        {0x3A06, "given_name"},             {0x3A11, "surname"},
        {0x3A08, "business_phone"},         {0x3A09, "home_phone"},
        {0x3A1C, "mobile_phone"},           {0x3A29, "street"},
        {0x3A16, "company"},                {0x3001, "display_name"},
        {0x3003, "email"},                  {0x0070, "topic"},
    };
    for (size_t i = 0; i < KS_ARRAY_LEN(names); i++)
        if (names[i].id == id)
            return names[i].name;
    snprintf(buf, cap, "0x%04X", id);
    return buf;
}
