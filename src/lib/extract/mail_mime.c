/* SPDX-License-Identifier: Apache-2.0
 *
 * RFC 5322 messages (.eml) and mbox mailboxes, with gmime 3 for MIME.
 *
 * A message becomes a node whose `mail` holds its Message-ID, date,
 * from/to/cc, subject and folder. Its text units are "headers" (every
 * header, RFC 2047 decoded) and "body" (each text/plain or other inline
 * text part, transfer-decoded — so a token split by a quoted-printable soft
 * line break comes out whole — and converted to UTF-8). An HTML body, each
 * attachment and each nested message/rfc822 go back to ks__extract_child,
 * which sniffs them again: a docx, zip or pdf attachment is read by its own
 * extractor, a forwarded message by this one.
 *
 * mbox (mboxo/mboxrd and the CRLF variants): split on "From " lines here,
 * one message at a time, so memory stays flat however big the mailbox is;
 * a "From " line only starts a message when the next line is a header
 * (unescaped "From " in bodies of sloppy writers stays body). ">From "
 * lines lose one '>' (mboxrd unescaping, also right for mboxo). The
 * extract.max_total budget applies to each message of a mailbox.
 *
 * A message is first offered to the walker over its bytes
 * (mail_mimewalk.c), which builds no gmime object tree; what it declines
 * is parsed by gmime here. gmime reads the message in place: the parser's
 * stream is a GByteArray header over the borrowed blob with ownership off,
 * so no copy of a large message is made (only decoded parts are allocated,
 * one at a time). Both hand out their text through mail_mime.h.
 */
#include <errno.h>
#include <gmime/gmime.h>
#include <iconv.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "extract/mail_mime.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <tmmintrin.h>
#endif

/* ---- probing -------------------------------------------------------------------- */

static const char *const mail_headers[] = {
    "from", "to", "cc", "subject", "date", "message-id", "received", "return-path",
    "mime-version", "content-type", "content-transfer-encoding", "delivered-to",
    "reply-to", "sender", "x-mailer", "references", "in-reply-to", "dkim-signature",
    "authentication-results", "thread-topic", "thread-index", "x-originating-ip",
    "user-agent", "bcc", "x-mozilla-status", "x-gmail-labels", "list-id", "x-folder",
};

static bool known_header(const char *s, size_t n)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(mail_headers); i++)
        if (ks__ieq(s, n, mail_headers[i], strlen(mail_headers[i])))
            return true;
    return false;
}

/* Length of a header field name at s (RFC 5322 ftext up to ':'), 0 if the
 * line is not a header field. */
static size_t header_name_len(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] > ' ' && s[i] < 127 && s[i] != ':')
        i++;
    return i > 0 && i < n && s[i] == ':' ? i : 0;
}

/* Counts known header names in the header block at p; -1 when a line
 * before the blank line is not header syntax. */
static int header_block_score(const uint8_t *p, size_t n)
{
    int known = 0, lines = 0;
    size_t i = 0;
    while (i < n) {
        const uint8_t *eol = memchr(p + i, '\n', n - i);
        size_t end = eol ? (size_t)(eol - p) : n;
        size_t len = end - i;
        if (len > 0 && p[end - 1] == '\r')
            len--;
        if (len == 0)
            break;
        if (p[i] == ' ' || p[i] == '\t') {
            if (lines == 0)
                return -1; /* continuation without a field */
        } else {
            size_t k = header_name_len(p + i, len);
            if (!k)
                return eol ? -1 : known; /* a cut last line is not a verdict */
            known += known_header((const char *)p + i, k);
            lines++;
        }
        if (!eol)
            break;
        i = end + 1;
    }
    return known;
}

static int mime_probe(const uint8_t *head, size_t n, const char *name)
{
    KS_UNUSED(name);
    if (n >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF)
        head += 3, n -= 3;
    int known = header_block_score(head, n);
    if (known >= 3)
        return 85;
    if (known == 2)
        return 70;
    return 0;
}

/* A "From " line at p[i] that starts a message: the next line is a header
 * field (or the mailbox ends). */
static bool mbox_from_at(const uint8_t *p, size_t n, size_t i)
{
    if (n - i < 5 || memcmp(p + i, "From ", 5) != 0)
        return false;
    const uint8_t *eol = memchr(p + i, '\n', n - i);
    if (!eol)
        return false;
    size_t j = (size_t)(eol - p) + 1;
    if (j >= n)
        return true;
    const uint8_t *eol2 = memchr(p + j, '\n', n - j);
    size_t len = eol2 ? (size_t)(eol2 - p) - j : n - j;
    return header_name_len(p + j, len) > 0;
}

static int mbox_probe(const uint8_t *head, size_t n, const char *name)
{
    KS_UNUSED(name);
    if (n < 5 || memcmp(head, "From ", 5) != 0)
        return 0;
    /* In a probe the head may end before the second line: the word after
     * "From " and a second line that is a header field decide. */
    const uint8_t *eol = memchr(head, '\n', n);
    if (!eol)
        return 40;
    return mbox_from_at(head, n, 0) ? 90 : 0;
}

/* ---- charset converters, kept per thread -------------------------------------------- */

/* gmime opens an iconv descriptor for every text part and every encoded
 * header word and closes it after; glibc then unloads the charset's gconv
 * module once other modules are released, so the next part dlopens it
 * again (a tenth of the extraction of a mailbox, with the conversion of
 * UTF-8 text to UTF-8). Descriptors to UTF-8 are kept here per thread, a
 * few charsets round robin: converting with them avoids the opens, and
 * their being open keeps the modules loaded for gmime's own header
 * decoder. Closed when the thread ends. */
#define CONV_SLOTS 8

/* Header values decoded before (memo_get): direct-mapped by the hash of
 * the raw value; a value longer than MEMO_RAW_MAX is not kept. */
#define MEMO_SLOTS 256
#define MEMO_RAW_MAX 1024

typedef struct memo_slot {
    uint64_t h;              /* ks__hash of kind and raw */
    int kind;
    char *raw;               /* malloc'd; NULL: empty slot */
    char *val;               /* malloc'd; NULL: the decoder gave none */
} memo_slot;

typedef struct conv_cache {
    struct {
        char charset[48];
        iconv_t cd;
    } slot[CONV_SLOTS];
    unsigned next;
    memo_slot memo[MEMO_SLOTS];
} conv_cache;

static pthread_key_t conv_key;
static bool conv_key_ok;
static pthread_once_t conv_once = PTHREAD_ONCE_INIT;

static void conv_cache_free(void *p)
{
    conv_cache *c = p;
    for (size_t i = 0; i < CONV_SLOTS; i++)
        if (c->slot[i].cd != (iconv_t)-1)
            g_mime_iconv_close(c->slot[i].cd);
    for (size_t i = 0; i < MEMO_SLOTS; i++) {
        free(c->memo[i].raw);
        free(c->memo[i].val);
    }
    free(c);
}

static void conv_key_init(void) { conv_key_ok = pthread_key_create(&conv_key, conv_cache_free) == 0; }

/* A descriptor from charset to UTF-8 as gmime's charset filter opens it
 * (g_mime_iconv_open canonicalises the name), reset to its initial state;
 * (iconv_t)-1 when the charset is unknown or there is no room. Owned by the
 * thread's cache: not closed by the caller. */
/* The thread's cache, made on first use; NULL when it cannot be. */
static conv_cache *thread_cache(void)
{
    conv_cache *c;
    pthread_once(&conv_once, conv_key_init);
    if (!conv_key_ok)
        return NULL;
    if (!(c = pthread_getspecific(conv_key))) {
        if (!(c = calloc(1, sizeof *c)))
            return NULL;
        for (size_t i = 0; i < CONV_SLOTS; i++)
            c->slot[i].cd = (iconv_t)-1;
        if (pthread_setspecific(conv_key, c) != 0) {
            free(c);
            return NULL;
        }
    }
    return c;
}

static iconv_t conv_get(const char *charset, size_t len)
{
    conv_cache *c = thread_cache();
    if (!c || len >= sizeof c->slot[0].charset)
        return (iconv_t)-1;
    for (size_t i = 0; i < CONV_SLOTS; i++)
        if (c->slot[i].cd != (iconv_t)-1 && !strncasecmp(c->slot[i].charset, charset, len) &&
            !c->slot[i].charset[len]) {
            iconv(c->slot[i].cd, NULL, NULL, NULL, NULL);
            return c->slot[i].cd;
        }
    char name[sizeof c->slot[0].charset];
    memcpy(name, charset, len);
    name[len] = 0;
    iconv_t cd = g_mime_iconv_open("utf-8", name);
    if (cd == (iconv_t)-1)
        return cd;
    unsigned k = c->next++ % CONV_SLOTS;
    if (c->slot[k].cd != (iconv_t)-1)
        g_mime_iconv_close(c->slot[k].cd);
    memcpy(c->slot[k].charset, name, len + 1);
    c->slot[k].cd = cd;
    return cd;
}

/* Keeps the gconv modules of a header's encoded words (and windows-1252,
 * gmime's fallback for raw 8-bit headers) loaded while gmime decodes it. */
static void conv_pin_header(const char *raw)
{
    bool eight = false;
    for (const char *p = raw; *p; p++) {
        eight |= (unsigned char)*p >= 0x80;
        if (p[0] == '=' && p[1] == '?') {
            size_t n = strcspn(p + 2, "?* \t\r\n");
            if (n && (p[2 + n] == '?' || p[2 + n] == '*'))
                conv_get(p + 2, n);
        }
    }
    if (eight)
        conv_get("windows-1252", 12);
}

/* ---- decoded header values, kept per thread ---------------------------------------- */

/* A mailbox repeats its header values: a thread's subject, a sender's
 * encoded name, the same recipient lists (the generated 22 MB mailbox has
 * 13 distinct values among its 9,987 headers with encoded words). gmime's
 * decoders (g_mime_utils_header_decode_text: ~7,000 instructions a header,
 * 4 % of a mailbox's index build with the subject decoded twice, for the
 * metadata and for the headers text) are pure functions of the value and
 * the fixed parser options, so a value's result is kept here the first
 * time and copied after. */
enum { MEMO_TEXT, MEMO_NAME };

/* The slot of (kind, raw), or NULL when raw is not kept (too long, no
 * cache). *hit: the slot holds raw's result. */
static memo_slot *memo_find(int kind, const char *raw, bool *hit)
{
    size_t n = strlen(raw);
    conv_cache *c;
    *hit = false;
    if (n > MEMO_RAW_MAX || !(c = thread_cache()))
        return NULL;
    uint64_t h = ks__hash(raw, n) ^ ((uint64_t)kind * 0x9e3779b97f4a7c15ull);
    memo_slot *m = &c->memo[(h >> 32) & (MEMO_SLOTS - 1)];
    *hit = m->raw && m->h == h && m->kind == kind && !strcmp(m->raw, raw);
    if (!*hit) {
        free(m->raw);
        free(m->val);
        m->raw = m->val = NULL;
        m->h = h;
        m->kind = kind;
    }
    return m;
}

/* Keeps val (may be NULL) as raw's result in slot m (from memo_find). */
static void memo_keep(memo_slot *m, const char *raw, const char *val)
{
    if (!m)
        return;
    m->raw = strdup(raw);
    m->val = val ? strdup(val) : NULL;
    if (!m->raw || (val && !m->val)) {
        free(m->raw);
        free(m->val);
        m->raw = m->val = NULL;
    }
}

static char *header_decode(const char *raw)
{
    if (raw)
        conv_pin_header(raw);
    char *unfolded = raw ? g_mime_utils_header_unfold(raw) : NULL;
    char *val = unfolded ? g_mime_utils_header_decode_text(ks__mime_parser_opts(), unfolded) : NULL;
    g_free(unfolded);
    return val;
}

const char *ks__mime_header_value(const char *raw, char **own)
{
    bool hit;
    memo_slot *m = raw ? memo_find(MEMO_TEXT, raw, &hit) : NULL;
    *own = NULL;
    if (m && hit)
        return m->val;
    *own = header_decode(raw);
    memo_keep(m, raw, *own);
    return *own;
}

/* A display name (an encoded word) as the address list writes it: decoded
 * by g_mime_utils_header_decode_phrase, stripped, and quoted by
 * g_mime_utils_quote_string; "" when it decodes to nothing (a bare
 * address then). */
static char *name_decode(const char *word)
{
    char *d = g_mime_utils_header_decode_phrase(ks__mime_parser_opts(), word);
    if (d)
        g_strstrip(d);
    const char *use = d ? d : word;
    char *q = *use ? g_mime_utils_quote_string(use) : g_strdup("");
    g_free(d);
    return q;
}

const char *ks__mime_name_value(const char *word, char **own)
{
    bool hit;
    memo_slot *m = memo_find(MEMO_NAME, word, &hit);
    *own = NULL;
    if (m && hit)
        return m->val;
    *own = name_decode(word);
    memo_keep(m, word, *own);
    return *own;
}

static bool ascii_only(const guint8 *p, size_t n)
{
    return ks__ascii_prefix(p, n) == n;
}

/* Names gmime's iconv opens as ISO-8859-1, whose 256 bytes are the first
 * 256 code points: iconv (glibc's gconv, ~40 instructions a byte) is ~4 %
 * of a mailbox's index build on Latin-1 parts, the direct mapping writes
 * the same bytes (every byte converts, none is skipped). */
static bool latin1_name(const char *cs)
{
    return !strcasecmp(cs, "iso-8859-1") || !strcasecmp(cs, "iso8859-1") || !strcasecmp(cs, "latin1");
}

static bool latin1_to_utf8(const char *p, size_t len, ks_buf *conv)
{
    ks__buf_reset(conv);
    if (len > SIZE_MAX / 2 - 16 || ks__buf_grow(conv, len * 2 + 16) != KS_OK)
        return false;
    unsigned char *o = (unsigned char *)conv->p;
    for (size_t i = 0; i < len;) {
        size_t a = ks__ascii_prefix(p + i, len - i);
        memcpy(o, p + i, a);
        o += a;
        i += a;
        if (i < len) {
            unsigned char c = (unsigned char)p[i++];
            *o++ = (unsigned char)(0xc0 | c >> 6);
            *o++ = (unsigned char)(0x80 | (c & 0x3f));
        }
    }
    conv->n = (size_t)(o - (unsigned char *)conv->p);
    return true;
}

/* The text of a part as g_mime_text_part_get_text gives it, from its
 * transfer-decoded bytes raw: raw itself when converting it would change
 * nothing (declared UTF-8 and valid, or US-ASCII and 7-bit; no charset:
 * gmime does not convert), else converted with the thread's descriptor
 * into conv. NULL when only gmime can say (an unknown charset, a byte its
 * filter would skip): the caller asks gmime then. *n stops at the first
 * NUL, as the caller of gmime's NUL-terminated string did. */
static const char *part_text(const char *charset, const part_data *raw, ks_buf *conv, size_t *n)
{
    const char *p = raw->p ? (const char *)raw->p : ""; /* empty: no data */
    size_t len = raw->n;
    if (charset && latin1_name(charset)) {
        if (ks__ascii_prefix(p, len) != len) { /* 7-bit: the same bytes */
            if (!latin1_to_utf8(p, len, conv))
                return NULL;
            p = conv->p;
            len = conv->n;
        }
    } else if (charset && ((!strcasecmp(charset, "utf-8") || !strcasecmp(charset, "utf8"))
                        ? !ks__utf8_valid(p, len)
                        : strcasecmp(charset, "us-ascii") || !ascii_only(raw->p, len))) {
        iconv_t cd = conv_get(charset, strlen(charset));
        if (cd == (iconv_t)-1)
            return NULL;
        ks__buf_reset(conv);
        char *in = (char *)(uintptr_t)p;
        size_t inleft = len;
        while (inleft) {
            if (ks__buf_grow(conv, inleft * 2 + 16) != KS_OK)
                return NULL;
            char *out = conv->p + conv->n;
            size_t outleft = conv->cap - conv->n;
            size_t r = iconv(cd, &in, &inleft, &out, &outleft);
            conv->n = (size_t)(out - conv->p);
            if (r == (size_t)-1 && errno != E2BIG)
                return NULL; /* gmime's filter skips bytes here: its text differs */
        }
        p = conv->p ? conv->p : "";
        len = conv->n;
    }
    *n = strnlen(p, len);
    return p;
}

/* ---- metadata ------------------------------------------------------------------- */

/* An address gmime's to_string would print unchanged: its IDNA form
 * (libidn2 per address, a tenth of the extraction time) is itself when the
 * domain is lower-case ASCII letters, digits, dots and hyphens without
 * punycode labels. */
static bool plain_addr(const char *a)
{
    const char *at = a ? strrchr(a, '@') : NULL;
    if (!at || !at[1] || strstr(at, "xn--"))
        return false;
    for (const char *p = a; *p; p++)
        if ((unsigned char)*p >= 0x80)
            return false;
    for (const char *p = at + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
            return false;
    return true;
}

/* internet_address_list_to_string(l, NULL, FALSE) for lists of plain
 * mailboxes ("Name <addr>", names quoted as gmime quotes them, ", "
 * between); false (nothing kept) for anything else: groups, IDN. */
static bool addr_list_plain(InternetAddressList *l, ks_buf *b)
{
    int n = internet_address_list_length(l);
    for (int i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(l, i);
        if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
            return false;
        const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
        const char *name = internet_address_get_name(ia);
        if (!plain_addr(addr))
            return false;
        if (i)
            ks__buf_adds(b, ", ");
        if (name && *name) {
            char *q = g_mime_utils_quote_string(name);
            ks__buf_printf(b, "%s <%s>", q ? q : name, addr);
            g_free(q);
        } else {
            ks__buf_adds(b, addr);
        }
    }
    return true;
}

int ks__mime_set_addrs(ks_mailmeta *mm, const char **field, InternetAddressList *l)
{
    ks_buf b = KS_BUF_INIT;
    int rc = KS_OK;
    if (!l || internet_address_list_length(l) == 0)
        return KS_OK;
    if (addr_list_plain(l, &b) && b.p) {
        rc = ks__mailmeta_set(mm, field, b.p, b.n);
    } else {
        char *s = internet_address_list_to_string(l, NULL, FALSE);
        rc = s ? ks__mailmeta_set(mm, field, s, strlen(s)) : KS_OK;
        g_free(s);
    }
    ks__buf_release(&b);
    return rc;
}

static int fill_meta(ks_mailmeta *mm, GMimeMessage *msg, const char *folder)
{
    GMimeObject *o = GMIME_OBJECT(msg);
    const char *v;
    int rc = KS_OK;
    if ((v = g_mime_message_get_message_id(msg)))
        rc = ks__mailmeta_set_msgid(mm, v, strlen(v));
    if (rc == KS_OK && (v = g_mime_object_get_header(o, "Date")))
        rc = ks__mailmeta_set(mm, &mm->m.date, v, strlen(v));
    GDateTime *d = g_mime_message_get_date(msg);
    if (rc == KS_OK && d)
        rc = ks__mailmeta_set_time(mm, ks__mail_sec_to_ns((int64_t)g_date_time_to_unix(d)));
    if (rc == KS_OK)
        rc = ks__mime_set_addrs(mm, &mm->m.from, g_mime_message_get_from(msg));
    if (rc == KS_OK)
        rc = ks__mime_set_addrs(mm, &mm->m.to, g_mime_message_get_to(msg));
    if (rc == KS_OK)
        rc = ks__mime_set_addrs(mm, &mm->m.cc, g_mime_message_get_cc(msg));
    if (rc == KS_OK && (v = g_mime_message_get_subject(msg)))
        rc = ks__mailmeta_set(mm, &mm->m.subject, v, strlen(v));
    /* Exports of Exchange/Lotus mailboxes name the folder in a header. */
    if (rc == KS_OK && (v = g_mime_object_get_header(o, "X-Folder")))
        rc = ks__mailmeta_set(mm, &mm->m.folder, v, strlen(v));
    else if (rc == KS_OK && folder)
        rc = ks__mailmeta_set(mm, &mm->m.folder, folder, strlen(folder));
    return rc;
}

/* The raw value of a header as g_mime_header_get_value would give it,
 * without its decoder (an iconv_open per header, the bulk of the header
 * cost): one line of printable ASCII with no encoded word, in a header
 * gmime does not re-format (addresses, Content-* and Message-ID are). The
 * span is written to *p, *n; false when the decoder is needed. */
static bool raw_plain(const char *name, const char *r, const char **p, size_t *n)
{
    static const char *const formatted[] = {"from", "to", "cc", "bcc", "sender", "reply-to",
                                            "resent-", "content-", "references",
                                            "in-reply-to", "disposition-notification-to",
                                            "return-receipt-to", "mail-followup-to", "received"};
    if (!r || !name)
        return false;
    for (size_t i = 0; i < KS_ARRAY_LEN(formatted); i++)
        if (!strncasecmp(name, formatted[i], strlen(formatted[i])))
            return false;
    return ks__mime_plain_value(r, p, n);
}

bool ks__mime_plain_value(const char *r, const char **p, size_t *n)
{
    if (!r)
        return false;
    while (*r == ' ' || *r == '\t')
        r++;
    size_t len = strlen(r), i = 0;
    while (len && (r[len - 1] == '\n' || r[len - 1] == '\r' || r[len - 1] == ' ' || r[len - 1] == '\t'))
        len--;
#if defined(__SSE2__)
    /* 16 bytes a step (every header of every message comes here): a byte
     * below 0x20 or from 0x7f (signed below 0x20, or 0x7f), "=?" or two
     * spaces. The second load reads r[i + 16] at most, within r's NUL; at
     * i + 1 == len it reads a trimmed byte or the NUL, never '?' or ' '. */
    for (; i + 16 <= len; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(r + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(r + i + 1));
        __m128i bad = _mm_or_si128(_mm_cmplt_epi8(a, _mm_set1_epi8(0x20)), _mm_cmpeq_epi8(a, _mm_set1_epi8(0x7f)));
        bad = _mm_or_si128(bad, _mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8('=')),
                                              _mm_cmpeq_epi8(b, _mm_set1_epi8('?'))));
        bad = _mm_or_si128(bad, _mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8(' ')),
                                              _mm_cmpeq_epi8(b, _mm_set1_epi8(' '))));
        if (_mm_movemask_epi8(bad))
            return false;
    }
#endif
    for (; i < len; i++)
        if ((unsigned char)r[i] < 0x20 || (unsigned char)r[i] >= 0x7f ||
            (r[i] == '=' && i + 1 < len && r[i + 1] == '?') || (r[i] == ' ' && r[i + 1] == ' '))
            return false;
    *p = r;
    *n = len;
    return true;
}

/* "name: value\n" (appends; a printf per header was a twentieth of them) */
static int header_line(ks_buf *b, const char *name, const char *v, size_t n)
{
    int rc = ks__buf_adds(b, name);
    if (rc == KS_OK)
        rc = ks__buf_add(b, ": ", 2);
    if (rc == KS_OK)
        rc = ks__buf_add(b, v, n);
    return rc == KS_OK ? ks__buf_addc(b, '\n') : rc;
}

int ks__mime_header_add(ks_buf *b, const char *name, const char *raw, GMimeHeader *h)
{
    const char *rp;
    size_t rn;
    /* the walker's raw value is gmime's value when plain, whatever the
     * name (a tree's header objects may have been re-formatted) */
    if (h ? raw_plain(name, raw, &rp, &rn) : (name && ks__mime_plain_value(raw, &rp, &rn)))
        return header_line(b, name, rp, rn);
    char *own = NULL;
    const char *val;
    if (h) {
        if (raw)
            conv_pin_header(raw);
        val = g_mime_header_get_value(h);
    } else {
        val = ks__mime_header_value(raw, &own); /* what g_mime_header_get_value does with raw */
    }
    int rc = header_line(b, name ? name : "", val ? val : "", val ? strlen(val) : 0);
    g_free(own);
    return rc;
}

int ks__mime_headers_out(ks_xctx *x, const ks_xnode *node, const ks_buf *b)
{
    return b->n ? ks__extract_text(x, node, "headers", b->p, b->n, "utf-8") : KS_OK;
}

/* Every header, decoded, one per line: addresses and X- headers (API keys
 * in custom headers) are scanned like the body. */
static int emit_headers(ks_xctx *x, const ks_xnode *node, GMimeObject *o)
{
    ks_buf b = KS_BUF_INIT;
    int rc = KS_OK;
    GMimeHeaderList *hl = g_mime_object_get_header_list(o);
    int count = hl ? g_mime_header_list_get_count(hl) : 0;
    for (int i = 0; i < count && rc == KS_OK; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        rc = ks__mime_header_add(&b, g_mime_header_get_name(h), g_mime_header_get_raw_value(h), h);
    }
    if (rc == KS_OK)
        rc = ks__mime_headers_out(x, node, &b);
    ks__buf_release(&b);
    return rc;
}

/* ---- parts ------------------------------------------------------------------------ */

/* Offset of a part in its message: where its first header starts. */
static uint64_t part_offset(GMimeObject *o)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(o);
    if (!hl || g_mime_header_list_get_count(hl) == 0)
        return UINT64_MAX;
    gint64 off = g_mime_header_get_offset(g_mime_header_list_get_header_at(hl, 0));
    return off >= 0 ? (uint64_t)off : UINT64_MAX;
}

/* The content of a part gmime parsed from our memory stream is a
 * substream sharing its buffer (the parser persists the stream): base64
 * and quoted-printable are decoded from there into mw->dec with the
 * decoder gmime's basic filter steps (one call over the whole content:
 * the decoders carry their state across calls, so the bytes are the
 * same), and a part without transfer encoding is its span of the
 * message. That is four gmime objects, a byte array and a copy less per
 * part than g_mime_data_wrapper_write_to_stream. False when gmime must do
 * it (uuencode, whose filter looks for the begin line; another stream). */
static bool part_bytes_direct(mime_walk *mw, GMimeDataWrapper *w, part_data *out)
{
    GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(w);
    if (!w->stream || !GMIME_IS_STREAM_MEM(w->stream) || enc == GMIME_CONTENT_ENCODING_UUENCODE)
        return false;
    GMimeStream *st = w->stream;
    GByteArray *buf = GMIME_STREAM_MEM(st)->buffer;
    if (!buf)
        return false;
    gint64 end = st->bound_end < 0 ? (gint64)buf->len : KS_MIN(st->bound_end, (gint64)buf->len);
    gint64 start = KS_MIN(st->bound_start, end);
    const char *in = (const char *)buf->data + start;
    size_t inlen = (size_t)(end - start);
    if (enc != GMIME_CONTENT_ENCODING_BASE64 && enc != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE) {
        out->p = (const guint8 *)in;
        out->n = inlen;
        return true;
    }
    if (ks__mime_transfer_decode(enc, in, inlen, &mw->dec) != KS_OK)
        return false;
    out->n = mw->dec.n;
    out->p = (const guint8 *)mw->dec.p;
    return true;
}

/* Hex digit values plus one (0: not a hex digit), as gmime's is_xdigit
 * and toupper read them. */
static const uint8_t qp_hex[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
    ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/* One escape at q[0] == '=' with at least three bytes in q[0, e): what
 * gmime's step writes for it to *o (advanced); returns the bytes read. */
static size_t qp_escape(const unsigned char *q, unsigned char **o)
{
    unsigned char a = q[1], b = q[2];
    if (a == '\n')
        return 2; /* soft break */
    if (qp_hex[a] && qp_hex[b]) {
        *(*o)++ = (unsigned char)((qp_hex[a] - 1) << 4 | (qp_hex[b] - 1));
    } else if (!(a == '\r' && b == '\n')) {
        *(*o)++ = '=';
        *(*o)++ = a;
        *(*o)++ = b;
    }
    return 3;
}

/* Quoted-printable as g_mime_encoding_quoted_decode_step decodes a whole
 * content from a fresh state and g_mime_encoding_flush ends it: "=XY"
 * with two hex digits (either case) is the byte, "=\n" and "=\r\n" are
 * soft breaks, any other "=ab" is written as it is, and a '=' with fewer
 * than two bytes after it at the end is dropped. gmime's step goes byte
 * by byte through a state machine (2 % of the perf samples of a mailbox's
 * index build); here 16 bytes without a '=' are copied a step (SSE2; the
 * output never runs ahead of the input, so a 16-byte store at o stays
 * within n bytes while 16 are left to read). Returns the bytes written to
 * out, at most n. */
static size_t qp_decode(const char *in, size_t n, char *out)
{
    const unsigned char *p = (const unsigned char *)in, *e = p + n;
    unsigned char *o = (unsigned char *)out;
#if defined(__SSE2__)
    const __m128i eq = _mm_set1_epi8('=');
    while (e - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, eq));
        _mm_storeu_si128((__m128i *)(void *)o, v);
        if (!m) {
            p += 16;
            o += 16;
            continue;
        }
        unsigned k = (unsigned)__builtin_ctz(m);
        p += k;
        o += k;
        if (e - p < 3)
            break;
        p += qp_escape(p, &o);
    }
#endif
    while (p < e) {
        const unsigned char *q = memchr(p, '=', (size_t)(e - p));
        size_t run = (size_t)((q ? q : e) - p);
        memcpy(o, p, run);
        o += run;
        if (!q || e - q < 3)
            break; /* "=", "=a" or "=\n" at the end: nothing written */
        p = q + qp_escape(q, &o);
    }
    return (size_t)(o - (unsigned char *)out);
}

/* base64's alphabet as gmime ranks it (0xff: skipped; '=' too). */
static uint8_t b64_rank[256];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;
static bool b64_ssse3;

static void b64_init(void)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(b64_rank, 0xff, sizeof b64_rank);
    for (unsigned i = 0; i < 64; i++)
        b64_rank[(unsigned char)abc[i]] = (uint8_t)i;
#if defined(__x86_64__)
    b64_ssse3 = __builtin_cpu_supports("ssse3");
#endif
}

#if defined(__x86_64__)
/* 16 base64 characters to 12 bytes at out (16 written) when all 16 are
 * of the alphabet (W. Mula's nibble tables); false, nothing meant, when
 * one is not (a line break, '=', anything gmime skips). */
__attribute__((target("ssse3"))) static bool b64_block(const unsigned char *in, unsigned char *out)
{
    const __m128i lut_lo = _mm_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A,
                                         0x1B, 0x1B, 0x1B, 0x1A);
    const __m128i lut_hi = _mm_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10,
                                         0x10, 0x10, 0x10, 0x10);
    const __m128i lut_roll = _mm_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m128i m2f = _mm_set1_epi8(0x2f);
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)in);
    __m128i hn = _mm_and_si128(_mm_srli_epi32(v, 4), m2f);
    __m128i lo = _mm_shuffle_epi8(lut_lo, _mm_and_si128(v, m2f));
    __m128i hi = _mm_shuffle_epi8(lut_hi, hn);
    if (_mm_movemask_epi8(_mm_cmpgt_epi8(_mm_and_si128(lo, hi), _mm_setzero_si128())))
        return false;
    __m128i roll = _mm_shuffle_epi8(lut_roll, _mm_add_epi8(_mm_cmpeq_epi8(v, m2f), hn));
    v = _mm_add_epi8(v, roll);
    v = _mm_maddubs_epi16(v, _mm_set1_epi32(0x01400140));
    v = _mm_madd_epi16(v, _mm_set1_epi32(0x00011000));
    v = _mm_shuffle_epi8(v, _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1));
    _mm_storeu_si128((__m128i *)(void *)out, v);
    return true;
}
#endif

/* Decodes whole quartets of in as g_mime_encoding_base64_decode_step's
 * loop does (ranked bytes in fours, others skipped) up to a quartet's end
 * at or after lim: 16 characters a step where all are of the alphabet
 * (SSSE3; a body's lines are 76), else four, else one. Returns the bytes
 * of in consumed and *o those written; 0 when a '=' comes first (gmime's
 * step ends the data there) or in[0, n) ends inside a quartet: then gmime
 * decodes all of it. */
static size_t b64_quartets(const unsigned char *in, size_t lim, size_t n, unsigned char *out, size_t *o)
{
    size_t i = 0, w = 0;
    uint32_t saved = 0;
    unsigned k = 0;
    while ((i < lim || k) && i < n) {
#if defined(__x86_64__)
        if (!k && b64_ssse3 && i + 16 <= lim && b64_block(in + i, out + w)) {
            i += 16;
            w += 12;
            continue;
        }
#endif
        if (!k && i + 4 <= lim) {
            unsigned a = b64_rank[in[i]], b = b64_rank[in[i + 1]], c = b64_rank[in[i + 2]], d = b64_rank[in[i + 3]];
            if ((a | b | c | d) < 64) {
                uint32_t v = a << 18 | b << 12 | c << 6 | d;
                out[w++] = (unsigned char)(v >> 16);
                out[w++] = (unsigned char)(v >> 8);
                out[w++] = (unsigned char)v;
                i += 4;
                continue;
            }
        }
        if (in[i] == '=')
            return *o = 0, 0; /* padding: gmime's own rules from here on */
        unsigned r = b64_rank[in[i++]];
        if (r != 0xff) {
            saved = saved << 6 | r;
            if (++k == 4) {
                out[w++] = (unsigned char)(saved >> 16);
                out[w++] = (unsigned char)(saved >> 8);
                out[w++] = (unsigned char)saved;
                k = 0;
            }
        }
    }
    *o = w;
    return k ? 0 : i;
}

int ks__mime_transfer_decode(GMimeContentEncoding enc, const char *in, size_t n, ks_buf *out)
{
    ks__buf_reset(out);
    if (enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE) {
        if (ks__buf_grow(out, n + 1) != KS_OK)
            return KS_ENOMEM;
        out->n = qp_decode(in, n, out->p);
        return KS_OK;
    }
    GMimeEncoding state;
    size_t head = 0, w = 0;
    g_mime_encoding_init_decode(&state, enc);
    if (ks__buf_grow(out, g_mime_encoding_outlen(&state, n) + 1) != KS_OK)
        return KS_ENOMEM;
    if (enc == GMIME_CONTENT_ENCODING_BASE64 && n > 256) {
        /* gmime's base64 step ranks and shifts byte by byte (3 % of a
         * mailbox's index build's instructions). The quartets up to the
         * last 128 bytes are decoded here, the rest by gmime's step from
         * a fresh state (a quartet's end leaves none): its look back for
         * trailing '=' (two ranked bytes, within what it is given) sees
         * the same bytes when the rest holds 8 ranked ones. The 16-byte
         * stores stay within the buffer: they end 128 bytes of input,
         * 96 of output, before its end. */
        pthread_once(&b64_once, b64_init);
        const unsigned char *u = (const unsigned char *)in;
        head = b64_quartets(u, n - 128, n, (unsigned char *)out->p, &w);
        size_t ranked = 0;
        for (size_t i = head; i < n && ranked < 8; i++)
            ranked += b64_rank[u[i]] != 0xff;
        if (!head || ranked < 8)
            head = w = 0;
    }
    out->n = w + g_mime_encoding_flush(&state, in + head, n - head, out->p + w);
    return KS_OK;
}

/* Transfer-decoded bytes of a leaf part (base64, QP, uuencode); false when
 * the part has no content. */
static bool part_bytes(mime_walk *mw, GMimePart *part, part_data *out)
{
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    memset(out, 0, sizeof *out);
    if (!w)
        return false;
    if (part_bytes_direct(mw, w, out))
        return true;
    /* sized to the encoded length, which the decoded bytes do not exceed
     * (base64, QP, uuencode shrink): no doubling reallocs */
    gint64 len = w->stream ? g_mime_stream_length(w->stream) : -1;
    GMimeStream *keep = g_mime_stream_mem_new_with_byte_array(
        g_byte_array_sized_new(len > 0 && len < (gint64)G_MAXUINT / 2 ? (guint)len + 1 : 0));
    g_mime_data_wrapper_write_to_stream(w, keep);
    GByteArray *a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(keep));
    out->p = a->data;
    out->n = a->len;
    out->keep = keep;
    return true;
}

static void walk_child(mime_walk *mw, const char *name, uint64_t off, const void *p, size_t n)
{
    int rc = ks__extract_child(mw->x, mw->node, name, NULL, NULL, off, p, n);
    if (rc < 0 && mw->rc == KS_OK && rc != KS_ELIMIT && rc != KS_EFORMAT)
        mw->rc = rc;
}

static bool is_type(const char *t, const char *st, const char *type, const char *subtype)
{
    return t && st && !strcasecmp(t, type) && !strcasecmp(st, subtype);
}

/* An S/MIME enveloped (encrypted) part, or a PGP/MIME encrypted payload:
 * readable only with the recipient's key. Signed S/MIME (signed-data) and
 * detached signatures are not encrypted and are read as usual. */
static bool encrypted_part(const mime_leaf *l)
{
    if (is_type(l->type, l->subtype, "application", "pkcs7-mime") ||
        is_type(l->type, l->subtype, "application", "x-pkcs7-mime"))
        return !l->smime_type || strstr(l->smime_type, "enveloped") != NULL;
    static const char pgp[] = "-----BEGIN PGP MESSAGE-----";
    return is_type(l->type, l->subtype, "application", "octet-stream") && l->a.n >= sizeof pgp - 1 &&
           !memcmp(l->a.p, pgp, sizeof pgp - 1);
}

/* g_mime_text_part_get_text for a leaf the walker found: a text part made
 * for its encoded bytes, so gmime's own decoder and charset filter give
 * the text (only where part_text can not: rare). */
static char *leaf_gmime_text(const mime_leaf *l)
{
    if (l->gpart)
        return g_mime_text_part_get_text(GMIME_TEXT_PART(l->gpart));
    GMimeTextPart *tp = g_mime_text_part_new();
    GMimeStream *s = g_mime_stream_mem_new_with_buffer(l->enc_p ? l->enc_p : "", l->enc_n);
    GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(s, l->enc);
    g_mime_part_set_content(GMIME_PART(tp), w);
    if (l->charset)
        g_mime_object_set_content_type_parameter(GMIME_OBJECT(tp), "charset", l->charset);
    char *text = g_mime_text_part_get_text(tp);
    g_object_unref(w);
    g_object_unref(s);
    g_object_unref(tp);
    return text;
}

void ks__mime_leaf(mime_walk *mw, mime_leaf *l, const char *section)
{
    bool html = is_type(l->type, l->subtype, "text", "html");
    char name[64];
    if (l->text_part && !l->attachment) {
        /* UTF-8 from the declared charset, as gmime's text would be */
        char *gtext = NULL;
        size_t tn = 0;
        const char *text = l->have ? part_text(l->charset, &l->a, &mw->conv, &tn) : NULL;
        if (l->have && !text && (gtext = leaf_gmime_text(l))) {
            text = gtext;
            tn = strlen(gtext);
        }
        if (text && html) {
            walk_child(mw, "body.html", l->off, text, tn);
        } else if (text) {
            int rc = ks__extract_text(mw->x, mw->node, "body", text, tn, "utf-8");
            if (rc < 0 && mw->rc == KS_OK)
                mw->rc = rc;
        }
        g_free(gtext);
    } else if (l->have && l->a.n && encrypted_part(l)) {
        /* an encrypted body is evidence left unread: say so (a warning),
         * as for an encrypted archive member; nothing to extract from it */
        snprintf(name, sizeof name, "part %s", section);
        ks_xnode where = {.parent = mw->node, .name = l->fname ? l->fname : name, .mail = mw->node->mail,
                          .offset = l->off, .depth = mw->node->depth + 1};
        ks__xdiag(mw->x, &where, KS_DIAG_WARN, KS_EUNSUPPORTED, "%s-encrypted message body, not read (no key)",
                  l->a.n > 5 && !memcmp(l->a.p, "-----", 5) ? "PGP" : "S/MIME");
    } else if (l->have && l->a.n) {
        if (!l->fname) {
            if (l->type)
                snprintf(name, sizeof name, "part %s (%s/%s)", section, l->type,
                         l->subtype ? l->subtype : "plain");
            else
                snprintf(name, sizeof name, "part %s (unknown)", section);
        }
        walk_child(mw, l->fname ? l->fname : name, l->off, l->a.p, l->a.n);
    }
    if (l->a.keep)
        g_object_unref(l->a.keep);
    l->a.keep = NULL;
}

static void walk_leaf(mime_walk *mw, GMimePart *part, const char *section)
{
    GMimeObject *o = GMIME_OBJECT(part);
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    mime_leaf l = {
        .type = ct ? g_mime_content_type_get_media_type(ct) : NULL,
        .subtype = ct ? g_mime_content_type_get_media_subtype(ct) : NULL,
        .charset = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL,
        .smime_type = ct ? g_mime_content_type_get_parameter(ct, "smime-type") : NULL,
        .fname = g_mime_part_get_filename(part),
        .text_part = GMIME_IS_TEXT_PART(part),
        .off = part_offset(o),
        .gpart = part,
    };
    l.attachment = g_mime_part_is_attachment(part) || l.fname;
    l.have = part_bytes(mw, part, &l.a);
    ks__mime_leaf(mw, &l, section);
}

static int message_walk(ks_xctx *x, const ks_xnode *node, GMimeMessage *msg, const char *folder,
                        ks_mailmeta *mm);

bool ks__mime_msg_begin(mime_walk *mw, const char *fname, const char *section, uint64_t off,
                        char name[64], ks_xnode *child, ks_mailmeta *mm)
{
    snprintf(name, 64, "message %s.eml", section);
    if (ks__extract_enter(mw->x, mw->node, fname ? fname : name, "mime", NULL, off, child) != KS_OK)
        return false;
    int rc = ks__mailmeta_init(mm);
    if (rc != KS_OK)
        ks__mime_msg_end(mw, rc, mm);
    return rc == KS_OK;
}

void ks__mime_msg_end(mime_walk *mw, int rc, ks_mailmeta *mm)
{
    ks__mailmeta_release(mm);
    if (rc < 0 && mw->rc == KS_OK && rc != KS_ELIMIT && rc != KS_EFORMAT)
        mw->rc = rc;
}

/* A message/rfc822 part: gmime has parsed its message already; it is read
 * as a child level (budgets, depth) from that tree, not serialised and
 * parsed again (which was a tenth of the extraction time of a mailbox). */
static void walk_message_part(mime_walk *mw, GMimeMessagePart *mp, const char *section)
{
    GMimeMessage *inner = g_mime_message_part_get_message(mp);
    GMimeObject *o = GMIME_OBJECT(mp);
    char name[64];
    ks_xnode child;
    ks_mailmeta mm;
    if (!inner)
        return;
    if (ks__mime_msg_begin(mw, g_mime_object_get_content_disposition_parameter(o, "filename"), section,
                           part_offset(o), name, &child, &mm))
        ks__mime_msg_end(mw, message_walk(mw->x, &child, inner, NULL, &mm), &mm);
}

/* Text outside the parts of a multipart (prologue, epilogue): raw bytes,
 * charset sniffed; skipped when blank. */
void ks__mime_walk_text(mime_walk *mw, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    size_t k = 0;
    while (k < n && (unsigned char)s[k] <= ' ')
        k++;
    if (k == n)
        return;
    int rc = ks__extract_text(mw->x, mw->node, "body", s, n, NULL);
    if (rc < 0 && mw->rc == KS_OK)
        mw->rc = rc;
}

bool ks__mime_nest_enter(mime_walk *mw)
{
    if (mw->nest >= MIME_MAX_NEST) {
        ks__xdiag(mw->x, mw->node, KS_DIAG_WARN, KS_ELIMIT, "multipart nesting deeper than %d: inner parts skipped", MIME_MAX_NEST);
        return false;
    }
    mw->nest++;
    return true;
}

void ks__mime_section(char *sub, size_t cap, const char *section, int i)
{
    if (*section)
        snprintf(sub, cap, "%s.%d", section, i);
    else
        snprintf(sub, cap, "%d", i);
}

static void walk(mime_walk *mw, GMimeObject *o, const char *section)
{
    char sub[64];
    if (!o || mw->x->stopped || mw->rc < 0)
        return;
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        if (!ks__mime_nest_enter(mw))
            return;
        /* Broken MIME (a boundary never used) leaves the content here. */
        ks__mime_walk_text(mw, g_mime_multipart_get_prologue(mp));
        int count = g_mime_multipart_get_count(mp);
        for (int i = 0; i < count && !mw->x->stopped && mw->rc >= 0; i++) {
            ks__mime_section(sub, sizeof sub, section, i + 1);
            walk(mw, g_mime_multipart_get_part(mp, i), sub);
        }
        ks__mime_walk_text(mw, g_mime_multipart_get_epilogue(mp));
        mw->nest--;
    } else if (GMIME_IS_MESSAGE_PART(o)) {
        walk_message_part(mw, GMIME_MESSAGE_PART(o), *section ? section : "1");
    } else if (GMIME_IS_PART(o)) {
        walk_leaf(mw, GMIME_PART(o), *section ? section : "1");
    }
}

/* ---- one message ---------------------------------------------------------------- */

/* Extracts a parsed message as node (whose mail is set to this message's
 * metadata, kept in mm): headers, then its parts. */
static int message_walk(ks_xctx *x, const ks_xnode *node, GMimeMessage *msg, const char *folder,
                        ks_mailmeta *mm)
{
    ks_xnode me = *node;
    int rc;
    ks__mailmeta_reset(mm);
    if ((rc = fill_meta(mm, msg, folder)) != KS_OK)
        return rc;
    me.mail = &mm->m;
    if ((rc = emit_headers(x, &me, GMIME_OBJECT(msg))) < 0 || x->stopped)
        return rc;
    mime_walk mw = {.x = x, .node = &me, .nest = 0, .rc = KS_OK, .conv = KS_BUF_INIT, .dec = KS_BUF_INIT};
    walk(&mw, g_mime_message_get_mime_part(msg), "");
    ks__buf_release(&mw.conv);
    ks__buf_release(&mw.dec);
    return mw.rc;
}

static GMimeParserOptions *parser_opts;
static pthread_once_t parser_opts_once = PTHREAD_ONCE_INIT;

/* One set of parser options for every message (only read while parsing). */
static void parser_opts_init(void)
{
    static const char *fallback[] = {"UTF-8", "windows-1252", NULL};
    ks__mail_gmime_init();
    parser_opts = g_mime_parser_options_new();
    g_mime_parser_options_set_fallback_charsets(parser_opts, fallback);
}

GMimeParserOptions *ks__mime_parser_opts(void)
{
    pthread_once(&parser_opts_once, parser_opts_init);
    return parser_opts;
}

/* A parser and the memory stream it reads, kept across the messages of a
 * mailbox: each message re-points the stream at its bytes and re-inits
 * the parser (state, buffers and boundary stack are reset; the format is
 * kept), instead of two gmime objects and the parser's 4 KiB scan buffer
 * made and freed per message. The previous message's tree, whose parts
 * reference the stream, is gone by then. */
typedef struct mime_reader {
    GMimeParser *parser;
    GMimeStream *stream;
    GByteArray view;         /* header over the borrowed message bytes */
    mime_fast *fast;         /* the walker's buffers */
} mime_reader;

static void mime_reader_release(mime_reader *r)
{
    ks__mime_fast_free(r->fast);
    if (r->parser)
        g_object_unref(r->parser);
    if (r->stream)
        g_object_unref(r->stream);
    memset(r, 0, sizeof *r);
}

/* Parses p[0..n) as one message and extracts it as node (whose mail is set
 * to this message's metadata). folder: the mailbox name, or NULL. The
 * walker reads it when it can be sure of it; gmime's tree otherwise. */
static int mime_message(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n,
                        const char *folder, ks_mailmeta *mm, mime_reader *r)
{
    GMimeMessage *msg = NULL;
    int rc = KS_OK;

    if (n > G_MAXUINT) {
        ks__xdiag(x, node, KS_DIAG_WARN, KS_ELIMIT, "message of %zu bytes is larger than gmime reads", n);
        return KS_ELIMIT;
    }
    GMimeParserOptions *opts = ks__mime_parser_opts();
    if ((rc = ks__mime_fast_message(&r->fast, x, node, p, n, folder, mm)) != MIME_FAST_DECLINED)
        return rc;
    /* In place: a GByteArray header over the borrowed bytes, not owned by
     * the stream (gmime only reads it; substreams share it). */
    r->view.data = (guint8 *)(uintptr_t)p;
    r->view.len = (guint)n;
    if (!r->stream) {
        r->stream = g_mime_stream_mem_new_with_byte_array(&r->view);
        g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(r->stream), FALSE);
    } else {
        g_mime_stream_mem_set_byte_array(GMIME_STREAM_MEM(r->stream), &r->view); /* not owned */
    }
    if (!r->parser) {
        r->parser = g_mime_parser_new_with_stream(r->stream);
        g_mime_parser_set_format(r->parser, GMIME_FORMAT_MESSAGE);
    } else {
        g_mime_parser_init_with_stream(r->parser, r->stream);
    }
    msg = g_mime_parser_construct_message(r->parser, opts);
    if (!msg) {
        ks__xdiag(x, node, KS_DIAG_WARN, KS_EFORMAT, "not a readable RFC 5322 message");
        return KS_EFORMAT;
    }
    rc = message_walk(x, node, msg, folder, mm);
    g_object_unref(msg);
    return rc;
}

static int mime_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    ks_mailmeta mm;
    mime_reader r = {0};
    int rc = ks__mailmeta_init(&mm);
    if (rc == KS_OK)
        rc = mime_message(x, node, p, n, NULL, &mm, &r);
    mime_reader_release(&r);
    ks__mailmeta_release(&mm);
    return rc;
}

/* ---- mbox ------------------------------------------------------------------------- */

/* Whether the line at q is an escaped "From " line (">From ", ">>From "). */
static bool mbox_escaped_at(const uint8_t *p, size_t n, size_t q)
{
    size_t k = q;
    while (k < n && p[k] == '>')
        k++;
    return k > q && n - k >= 5 && memcmp(p + k, "From ", 5) == 0;
}

/* Start of the next message's "From " line after i, or n. Only the line
 * starts that can matter are visited: "\nF" and "\n>" pairs, 16 bytes a
 * step (ks__find_pair); a memchr call per ~70-byte line was 4-6 % of an
 * index build of a mailbox (memmem of "\nFrom " was slower still on
 * base64 bodies). *escaped is set when a line on the way is an escaped
 * "From " line: only then is the message unescaped (a second pass over
 * every line otherwise). */
static size_t mbox_next(const uint8_t *p, size_t n, size_t i, bool *escaped)
{
    *escaped = false;
    while (i < n) {
        const uint8_t *f = ks__find_pair(p + i, n - i, '\n', 'F', '>');
        if (!f)
            return n;
        size_t at = (size_t)(f - p) + 1;
        if (p[at] == 'F' && mbox_from_at(p, n, at))
            return at;
        if (p[at] == '>' && mbox_escaped_at(p, n, at))
            *escaped = true;
        i = at;
    }
    return n;
}

/* mboxrd unescaping: "^>+From " loses one '>'. Returns false (nothing
 * written) when the message has no such line, the common case. Line by
 * line (memchr of the newline), not memmem of every "\n>". */
static bool mbox_unescape(const uint8_t *p, size_t n, ks_buf *out, int *rc)
{
    size_t q = 0, last = 0;
    bool any = false;
    ks__buf_reset(out);
    while (q < n) {
        if (p[q] == '>' && mbox_escaped_at(p, n, q)) {
            if ((*rc = ks__buf_add(out, p + last, q - last)) != KS_OK)
                return false;
            last = q + 1; /* drop one '>' */
            any = true;
        }
        const uint8_t *nl = memchr(p + q, '\n', n - q);
        if (!nl)
            break;
        q = (size_t)(nl - p) + 1;
    }
    if (any)
        *rc = ks__buf_add(out, p + last, n - last);
    return any && *rc == KS_OK;
}

/* The mailbox name for ks_xmail.folder: the file's base name without a
 * .mbox/.mbx extension (Thunderbird's "Inbox", "Sent", exports' "x.mbox"). */
static void mbox_folder(const char *name, char *buf, size_t cap)
{
    const char *b = name ? strrchr(name, '/') : NULL;
    b = b ? b + 1 : (name ? name : "");
    size_t len = strlen(b);
    if (len > 5 && (strcasecmp(b + len - 5, ".mbox") == 0))
        len -= 5;
    else if (len > 4 && strcasecmp(b + len - 4, ".mbx") == 0)
        len -= 4;
    snprintf(buf, cap, "%.*s", (int)len, b);
}

/* Every 8 MiB read, lets the pages of the mailbox behind the cursor leave
 * memory (ks__extract_read_past): the resident size of a mapped
 * multi-gigabyte mbox stays near one window instead of the whole file. */
/* 8 MiB (was 64): a 240 MB mailbox then peaks below a 24 MB one's RSS
 * (the mapped window was most of the growth; the heap is flat, 12 MB). */
#define MBOX_RELEASE_STEP ((size_t)8 << 20)
static void release_behind(ks_xctx *x, const uint8_t *p, size_t *released, size_t at)
{
    if (at - *released < MBOX_RELEASE_STEP)
        return;
    ks__extract_read_past(x, p, *released, at);
    *released = at;
}

/* One mailbox's reading: the counts and buffers its messages share. */
typedef struct mbox_state {
    ks_xctx *x;
    const ks_xnode *node;
    ks_mailmeta mm;
    ks_buf unesc;
    mime_reader r;
    char folder[256];
    uint64_t count, bad;
} mbox_state;

/* The message whose "From " line is mp[0..mn) at file offset at (escaped:
 * an escaped "From " line is in it). KS_OK or a fatal error; an unreadable
 * message is counted. */
static int mbox_message(mbox_state *st, const uint8_t *mp, size_t mn, size_t at, bool escaped)
{
    ks_xctx *x = st->x;
    char name[48];
    const uint8_t *eol = memchr(mp, '\n', mn);
    size_t body = eol ? (size_t)(eol - mp) + 1 : mn;
    size_t end = mn;
    /* The blank line before the next "From " belongs to the format. */
    if (end > body && mp[end - 1] == '\n')
        end--;
    if (end > body && mp[end - 1] == '\r')
        end--;
    st->count++;
    snprintf(name, sizeof name, "message %" PRIu64, st->count);
    ks_xnode msg = {.parent = st->node, .name = name, .format = "mbox", .mail = NULL,
                    .git = st->node->git, .offset = at + body, .depth = st->node->depth + 1};
    const uint8_t *bp = mp + body;
    size_t bn = end - body;
    int urc = KS_OK;
    if (escaped && mbox_unescape(bp, bn, &st->unesc, &urc)) {
        bp = (const uint8_t *)st->unesc.p;
        bn = st->unesc.n;
    }
    if (urc != KS_OK)
        return urc;
    /* extract.max_total bounds each message, not the mailbox: a
     * 20 GB mailbox is evidence, not a bomb (children still count). */
    x->total = 0;
    int mrc = mime_message(x, &msg, bp, bn, st->folder, &st->mm, &st->r);
    if (mrc == KS_EFORMAT || mrc == KS_ELIMIT)
        st->bad++;
    else if (mrc < 0)
        return mrc;
    return KS_OK;
}

/* The messages of the mapped mailbox p[0..n) from offset at on, read from
 * the mapping (pages let go behind the cursor). */
static int mbox_mapped(mbox_state *st, const uint8_t *p, size_t n, size_t at)
{
    size_t released = at;
    int rc = KS_OK;
    while (rc == KS_OK && at < n && !st->x->stopped) {
        bool escaped;
        size_t next = mbox_next(p, n, at, &escaped);
        rc = mbox_message(st, p + at, next - at, at, escaped);
        at = next;
        release_behind(st->x, p, &released, at);
    }
    return rc;
}

/* Whether the verdict of mbox_next on the line start p[at] could change
 * with the bytes after p[n): a "From " line or the line after it not
 * ended yet, an escape's '>' run or the "From " after it cut. */
static bool mbox_cut_at(const uint8_t *p, size_t n, size_t at)
{
    if (p[at] == '>') {
        size_t k = at;
        while (k < n && p[k] == '>')
            k++;
        return n - k < 5;
    }
    if (n - at < 5)
        return true;
    if (memcmp(p + at, "From ", 5) != 0)
        return false;
    const uint8_t *eol = memchr(p + at, '\n', n - at);
    if (!eol)
        return true;
    size_t j = (size_t)(eol - p) + 1;
    return j >= n || !memchr(p + j, '\n', n - j);
}

/* mbox_next over the first n bytes of a window, which holds the rest of
 * the mailbox when final. Goes on from *i (the scan's position, kept
 * across calls while the window only grows at its end) and ORs into
 * *escaped. True with *next the next message's start (or n when final);
 * false when only more bytes can tell (*i is where to go on then). */
static bool mbox_next_win(const uint8_t *p, size_t n, bool final, size_t *i, bool *escaped, size_t *next)
{
    while (*i < n) {
        const uint8_t *f = ks__find_pair(p + *i, n - *i, '\n', 'F', '>');
        if (!f)
            break;
        size_t at = (size_t)(f - p) + 1;
        if (!final && mbox_cut_at(p, n, at)) {
            *i = at - 1; /* the '\n' again, with more after it */
            return false;
        }
        if (p[at] == 'F' && mbox_from_at(p, n, at)) {
            *next = at;
            return true;
        }
        if (p[at] == '>' && mbox_escaped_at(p, n, at))
            *escaped = true;
        *i = at;
    }
    if (!final) {
        *i = n ? n - 1 : 0; /* a '\n' at the end pairs with what follows */
        return false;
    }
    *next = n;
    return true;
}

/* The walked file's mailbox read by pread into a window of MBOX_WIN bytes
 * (grown for a longer message, up to MBOX_WIN_MAX) instead of from its
 * mapping: the first touch of each mapped page, its unmapping behind the
 * cursor and the TLB flushes cost more than the copy from the page cache
 * (a pass over the 216 MB mailbox: mapped and dropped every 8 MiB
 * 0.16-0.19 CPU s, pread into 1 MiB 0.04-0.06). Each read is handed to
 * on_past as it arrives (the index's content hash), in file order. The
 * messages and their offsets are those of the mapped reading. Sets *at to
 * where the mapping must go on: n when done, less when a read failed
 * (not a plain file) or a message is longer than MBOX_WIN_MAX. */
#define MBOX_WIN ((size_t)256 << 10)
#define MBOX_WIN_MAX ((size_t)64 << 20)
static int mbox_windowed(mbox_state *st, size_t n, size_t *at)
{
    ks_xctx *x = st->x;
    uint8_t *buf = NULL;
    size_t cap = 0, lo = 0, hi = 0; /* buf[lo..hi) is the file's [*at, *at + hi - lo) */
    size_t i = 0;                    /* mbox_next_win's position, from lo */
    bool escaped = false;
    int rc = KS_OK;
    while (rc == KS_OK && *at < n && !x->stopped) {
        size_t next;
        bool final = *at + (hi - lo) >= n;
        if (hi > lo && mbox_next_win(buf + lo, hi - lo, final, &i, &escaped, &next)) {
            rc = mbox_message(st, buf + lo, next, *at, escaped);
            *at += next;
            lo += next;
            i = 0;
            escaped = false;
            continue;
        }
        /* more bytes: the message so far to the front, the window grown
         * when it is full of one message */
        size_t live = hi - lo;
        if (lo) {
            memmove(buf, buf + lo, live);
            lo = 0;
            hi = live;
        }
        if (hi == cap) {
            size_t ncap = cap ? cap * 2 : MBOX_WIN;
            uint8_t *nb = ncap <= MBOX_WIN_MAX ? realloc(buf, ncap) : NULL;
            if (!nb)
                break; /* the mapping reads this message */
            buf = nb;
            cap = ncap;
        }
        size_t want = KS_MIN(cap - hi, n - (*at + hi));
        ssize_t got = ks__source_pread(x->src, buf + hi, want, (uint64_t)(*at + hi));
        if (got < 0)
            break;
        if (got == 0) {
            n = *at + hi; /* the file shrank: it ends here */
            continue;
        }
        if (x->on_past)
            x->on_past(x->ud, buf + hi, *at + hi, *at + hi + (size_t)got);
        hi += (size_t)got;
    }
    /* a break leaves the window's bytes to the mapping: they were handed
     * to on_past already, which takes each byte once */
    free(buf);
    return rc;
}

static int mbox_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    mbox_state st = {.x = x, .node = node, .unesc = KS_BUF_INIT};
    int rc = ks__mailmeta_init(&st.mm);
    mbox_folder(node->name, st.folder, sizeof st.folder);
    size_t at = 0;
    if (rc == KS_OK && x->src && p == x->src_p)
        rc = mbox_windowed(&st, n, &at);
    if (rc == KS_OK)
        rc = mbox_mapped(&st, p, n, at);
    if (st.bad)
        ks__xdiag(x, node, KS_DIAG_WARN, KS_EFORMAT, "%" PRIu64 " of %" PRIu64 " messages unreadable", st.bad,
                  st.count);
    ks__buf_release(&st.unesc);
    mime_reader_release(&st.r);
    ks__mailmeta_release(&st.mm);
    return rc;
}

/* ---- tables ------------------------------------------------------------------------- */

const struct ks_extractor ks_extractor_mime = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "mime",
    .description = "RFC 5322 message (.eml): MIME parts, attachments, nested messages (gmime)",
    .probe = mime_probe,
    .extract = mime_extract,
};

const struct ks_extractor ks_extractor_mbox = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "mbox",
    .description = "mbox mailbox (mboxo/mboxrd): one message at a time",
    .probe = mbox_probe,
    .extract = mbox_extract,
    .streamed = true,
};
