/* SPDX-License-Identifier: Apache-2.0
 *
 * iCalendar (.ics, a meeting invitation) and vCard (.vcf, a contact) text:
 * both fold lines longer than 75 octets by a line end and one space or
 * tab (RFC 5545 3.1, RFC 6350 3.2), anywhere, inside a word too, and
 * escape the line breaks, commas and semicolons of a value ("\n", "\,").
 * An invitation's DESCRIPTION holding the bridge's host password is one
 * long line, so a fold may cut the password in two: the text is given
 * unfolded and unescaped, a property a line.
 *
 * Recognised by content: BEGIN:VCALENDAR or BEGIN:VCARD first.
 */
#include <string.h>
#include <strings.h>
#include "extract/extract_int.h"

static int ical_probe(const uint8_t *head, size_t n, const char *name)
{
    KS_UNUSED(name);
    size_t i = 0;
    if (n >= 3 && !memcmp(head, "\xEF\xBB\xBF", 3))
        i = 3;
    while (i < n && (head[i] == ' ' || head[i] == '\r' || head[i] == '\n' || head[i] == '\t'))
        i++;
    n -= i;
    head += i;
    if ((n >= 15 && !strncasecmp((const char *)head, "BEGIN:VCALENDAR", 15)) ||
        (n >= 11 && !strncasecmp((const char *)head, "BEGIN:VCARD", 11)))
        return 40;
    return 0;
}

/* Unfolds and unescapes p[0..n) into out (a ks_xrewrite_fn: no argument). */
static int unfold(const char *p, size_t n, void *arg, ks_buf *out)
{
    KS_UNUSED(arg);
    int rc = KS_OK;
    for (size_t i = 0; i < n && rc == KS_OK;) {
        char ch = p[i];
        size_t eol = ch == '\r' && i + 1 < n && p[i + 1] == '\n' ? 2 : ch == '\n' ? 1 : 0;
        if (eol && i + eol < n && (p[i + eol] == ' ' || p[i + eol] == '\t')) {
            i += eol + 1; /* a fold: the line goes on */
            continue;
        }
        if (ch == '\\' && i + 1 < n) {
            char e = p[i + 1];
            if (e == 'n' || e == 'N') {
                rc = ks__buf_addc(out, '\n');
                i += 2;
                continue;
            }
            if (e == ',' || e == ';' || e == '\\') {
                rc = ks__buf_addc(out, e);
                i += 2;
                continue;
            }
        }
        if (eol) {
            rc = ks__buf_addc(out, '\n');
            i += eol;
            continue;
        }
        rc = ks__buf_addc(out, ch);
        i++;
    }
    return rc;
}

static int ical_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    return ks__xutf8_rewrite(x, node, p, n, NULL, unfold, NULL, "unfolded text");
}

const struct ks_extractor ks_extractor_ical = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "ical",
    .description = "iCalendar invitations and vCards: folded lines joined, escaped breaks and commas decoded",
    .probe = ical_probe,
    .extract = ical_extract,
};
