/* SPDX-License-Identifier: Apache-2.0
 *
 * NEEDSWORK: a stand-in for the text scanner (textscan.h) until it lands:
 * finds e-mail addresses and international (+CC) phone numbers and hands
 * them over as ks_tmatch values, normalised the way textscan documents
 * (e-mail lower-cased, phone E.164), so the index builder is written
 * against textscan's callback and switches by changing one call.
 */
#include <string.h>
#include "detect/index_int.h"

static bool local_ch(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static bool host_ch(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* The address around the '@' at text[at], or false. */
static bool email_at(const char *text, size_t n, size_t at, size_t *b, size_t *e)
{
    size_t s = at, t = at + 1, dot = 0;
    while (s > 0 && local_ch((unsigned char)text[s - 1]) && at - s < 64)
        s--;
    while (s < at && text[s] == '.')
        s++;
    while (t < n && host_ch((unsigned char)text[t]) && t - at < 255) {
        if (text[t] == '.')
            dot = t;
        t++;
    }
    while (t > at + 1 && (text[t - 1] == '.' || text[t - 1] == '-'))
        t--;
    if (s == at || dot == 0 || dot >= t - 2 || dot <= at + 1)
        return false;
    for (size_t i = dot + 1; i < t; i++)
        if (!((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z')))
            return false;
    *b = s;
    *e = t;
    return true;
}

/* "+CC ..." with 8..15 digits and separators (space . - ( )). */
static bool phone_at(const char *text, size_t n, size_t plus, size_t *e, char *norm, size_t *nn)
{
    size_t i = plus + 1, digits = 0, o = 0;
    norm[o++] = '+';
    if (plus > 0 && (local_ch((unsigned char)text[plus - 1]) && text[plus - 1] != '-' &&
                     text[plus - 1] != '.'))
        return false;
    while (i < n) {
        char c = text[i];
        if (c >= '0' && c <= '9') {
            if (digits == 15)
                return false;
            norm[o++] = c;
            digits++;
        } else if (!(c == ' ' || c == '.' || c == '-' || c == '(' || c == ')') || i + 1 >= n ||
                   !((text[i + 1] >= '0' && text[i + 1] <= '9') || text[i + 1] == '(' ||
                     text[i + 1] == ' ')) {
            break;
        }
        i++;
    }
    if (digits < 8 || norm[1] == '0')
        return false;
    while (i > plus && !(text[i - 1] >= '0' && text[i - 1] <= '9'))
        i--;
    *e = i;
    *nn = o;
    return true;
}

static void match_init(ks_tmatch *m, const char *type, const char *text, size_t b, size_t e)
{
    memset(m, 0, sizeof *m);
    m->cls = KS_TC_PII;
    m->type = type;
    m->rule_id = type;
    m->rule_name = type;
    m->severity = KS_SEV_LOW;
    m->valid = KS_TV_UNCHECKED;
    m->confidence = 60;
    m->value = text + b;
    m->nvalue = e - b;
    m->offset = b;
}

int ks__index_pii_scan(const char *text, size_t n, ks_tmatch_fn fn, void *ud)
{
    char norm[320];
    for (size_t i = 0; i < n; i++) {
        ks_tmatch m;
        size_t b, e, nn;
        if (text[i] == '@' && email_at(text, n, i, &b, &e) && e - b < sizeof norm) {
            for (size_t k = b; k < e; k++)
                norm[k - b] = lower(text[k]);
            match_init(&m, "pii.email", text, b, e);
            m.norm = norm;
            m.nnorm = e - b;
            if (fn(ud, &m))
                return KS_OK;
            i = e - 1;
        } else if (text[i] == '+' && phone_at(text, n, i, &e, norm, &nn)) {
            match_init(&m, "pii.phone", text, i, e);
            m.norm = norm;
            m.nnorm = nn;
            if (fn(ud, &m))
                return KS_OK;
            i = e - 1;
        }
    }
    return KS_OK;
}
