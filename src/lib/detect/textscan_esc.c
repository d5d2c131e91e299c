/* SPDX-License-Identifier: Apache-2.0
 *
 * Secrets written inside a string literal (interface: textscan_int.h).
 *
 * A key file, a configuration or an export that is JSON writes its
 * strings with escapes: a GCP service-account key's "private_key" is a
 * PEM block whose line breaks are "\n", PHP's json_encode writes every
 * '/' as "\/", other encoders write non-ASCII (and sometimes '!' or '&')
 * as "\u0021". The secret a responder holds, and looks up by
 * secret_sha256, is the decoded string (the key file's PEM, the password
 * typed), not its escaped spelling; the text keeps the escaped one, so
 * the delivery decodes it. Only values that read as a string's content
 * are decoded: every backslash starts a JSON escape, and the value opens
 * a double-quoted string or is one line of escaped lines (a PEM block
 * with "\n" between its lines and no real line break). A backslash that
 * is no escape ("C:\dev", "pa\ss") leaves the value as written.
 * A key kept as a list of strings, one per line (a notebook's output
 * "text": ["-----BEGIN ...\n", "MIIE...\n", ...], a literal concatenated
 * in code), is those strings joined.
 */
#include <string.h>
#include "detect/textscan_int.h"

/* Length of the JSON escape at p[0..n) (p[0] is '\\'), 0 if none. */
static size_t escape_len(const char *p, size_t n)
{
    if (n < 2)
        return 0;
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return 2;
    case 'u':
        if (n < 6)
            return 0;
        for (size_t i = 2; i < 6; i++)
            if (ks__hexval((unsigned char)p[i]) < 0)
                return 0;
        return 6;
    default:
        return 0;
    }
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (size_t i = 0; i < 4; i++)
        v = v << 4 | (unsigned)ks__hexval((unsigned char)p[i]);
    return v;
}

bool ks__ts_escaped(const char *p, size_t n, bool quoted)
{
    const char *bs = memchr(p, '\\', n);
    if (!bs)
        return false;
    bool nl_escape = false;
    for (size_t i = (size_t)(bs - p); i < n; i++) {
        if (p[i] == '\n' || p[i] == '\r')
            return false; /* real lines: not one string's content */
        if (p[i] != '\\')
            continue;
        size_t l = escape_len(p + i, n - i);
        if (!l)
            return false;
        nl_escape |= p[i + 1] == 'n';
        i += l - 1;
    }
    return quoted || nl_escape;
}

size_t ks__ts_unescape(const char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = p[i] == '\\' ? escape_len(p + i, n - i) : 0;
        if (!l) {
            out[o++] = p[i++];
            continue;
        }
        char ch = p[i + 1];
        i += l;
        if (ch != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            out[o++] = to[strchr(from, ch) - from];
            continue;
        }
        unsigned cp = hex4(p + i - 4);
        /* a surrogate pair is one code point; a lone half is kept as
         * written (no UTF-8 for it) */
        if (cp >= 0xd800 && cp < 0xdc00 && i + 6 <= n && p[i] == '\\' && p[i + 1] == 'u' &&
            escape_len(p + i, n - i) == 6 && hex4(p + i + 2) >= 0xdc00 && hex4(p + i + 2) < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(p + i + 2) - 0xdc00);
            i += 6;
        } else if (cp >= 0xd800 && cp < 0xe000) {
            memmove(out + o, p + i - 6, 6); /* in place: o <= i - 6 */
            o += 6;
            continue;
        }
        o += ks__utf8_put(out + o, cp); /* no surrogate is left here */
    }
    return o;
}

size_t ks__ts_join_strings(const char *p, size_t n, char *out)
{
    size_t o = 0, pieces = 1;
    bool in = true;
    for (size_t i = 0; i < n; i++) {
        if (!in) {
            if (p[i] == '"') {
                in = true;
                pieces++;
            } else if (!p[i] || !strchr(" \t\r\n,+", p[i])) {
                return 0; /* something between the strings: not a list of them */
            }
        } else if (p[i] == '\\' && i + 1 < n) {
            out[o++] = p[i++];
            out[o++] = p[i];
        } else if (p[i] == '"') {
            in = false;
        } else {
            out[o++] = p[i];
        }
    }
    return in && pieces >= 2 && ks__ts_escaped(out, o, true) ? o : 0;
}
