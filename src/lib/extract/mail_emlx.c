/* SPDX-License-Identifier: Apache-2.0
 *
 * Apple Mail's message files (.emlx, .partial.emlx): a first line with
 * the message's length in bytes (digits, padded with spaces), the RFC 5322
 * message itself, then an XML property list of Mail's flags. The message
 * is handed on as a child and sniffed again (MIME); the property list is
 * Mail's bookkeeping, not evidence text. Read as plain text instead, the
 * quoted-printable and base64 bodies stayed encoded and the message had
 * no provenance (Message-ID, from, to) nor an index unit.
 */
#include <string.h>
#include "extract/extract_int.h"

#define LEN_LINE_MAX 24

/* The length line: its value and where the message starts; false if p
 * does not open with one. */
static bool emlx_head(const uint8_t *p, size_t n, uint64_t *len, size_t *start)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < n && i < LEN_LINE_MAX && p[i] >= '0' && p[i] <= '9')
        v = v * 10 + (uint64_t)(p[i++] - '0');
    if (!i || i > 12)
        return false;
    while (i < n && i < LEN_LINE_MAX && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
        i++;
    if (i >= n || p[i] != '\n' || !v)
        return false;
    *len = v;
    *start = i + 1;
    return true;
}

/* The first line of the message is a header field ("Name: ..."). */
static bool header_line(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && i < 64 && p[i] > ' ' && p[i] < 0x7f && p[i] != ':')
        i++;
    return i > 0 && i < n && p[i] == ':';
}

static int emlx_probe(const uint8_t *head, size_t n, const char *name)
{
    uint64_t len;
    size_t s;
    KS_UNUSED(name);
    return emlx_head(head, n, &len, &s) && header_line(head + s, n - s) ? 88 : 0;
}

static int emlx_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    uint64_t len;
    size_t s;
    if (!emlx_head(p, n, &len, &s))
        return KS_OK;
    size_t m = len < n - s ? (size_t)len : n - s; /* a cut file: what there is */
    /* after the message, Mail's property list; anything else means the
     * length line was no emlx's (a text opening with a number): all of it */
    size_t t = s + m;
    while (t < n && (p[t] == '\n' || p[t] == '\r' || p[t] == ' '))
        t++;
    if (t < n && (n - t < 5 || memcmp(p + t, "<?xml", 5) != 0))
        m = n - s;
    return ks__extract_child(x, node, "message", NULL, NULL, s, p + s, m);
}

const struct ks_extractor ks_extractor_emlx = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "emlx",
    .description = "Apple Mail message (.emlx): the message after its length line",
    .probe = emlx_probe,
    .extract = emlx_extract,
};
