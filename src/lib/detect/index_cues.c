/* SPDX-License-Identifier: Apache-2.0
 *
 * Content cues of the exposure index builder: what kind of document a
 * text is (statement of work, proof of execution, invoice, contract), the
 * organisation names in a mail signature, the people in address headers.
 * Cues are phrases, not file names: a dump's names are often meaningless
 * ("att00017.pdf").
 */
#include <string.h>
#include "detect/index_int.h"

typedef struct cue {
    const char *phrase;
    unsigned bit;
} cue;

static const cue cues[] = {
    {"statement of work", KS_DOC_BIT_SOW},
    {"scope of work", KS_DOC_BIT_SOW},
    {"proof of execution", KS_DOC_BIT_POE},
    {"proof-of-execution", KS_DOC_BIT_POE},
    {"invoice number", KS_DOC_BIT_INVOICE},
    {"invoice no", KS_DOC_BIT_INVOICE},
    {"amount due", KS_DOC_BIT_INVOICE},
    {"this agreement", KS_DOC_BIT_CONTRACT},
    {"hereinafter", KS_DOC_BIT_CONTRACT},
    {"terms and conditions", KS_DOC_BIT_CONTRACT},
};

static const char *const type_keys[] = {
#define KS_DOC_KEY_(name, key, label) key,
    KS_DOC_TYPES(KS_DOC_KEY_)
#undef KS_DOC_KEY_
};

/* One pass over the text (a pass per phrase cost more than the rest of
 * the builder's own work on mail): only a position whose lower-cased
 * byte starts some phrase is compared. */
unsigned ks__index_doc_cues(const char *text, size_t n)
{
    unsigned bits = 0, all = (1u << KS_DOC_NBITS) - 1;
    bool first[256] = {false};
    for (size_t k = 0; k < KS_ARRAY_LEN(cues); k++)
        first[(unsigned char)cues[k].phrase[0]] = true;
    for (size_t i = 0; i < n && bits != all; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        if (!first[c])
            continue;
        for (size_t k = 0; k < KS_ARRAY_LEN(cues); k++) {
            size_t m = strlen(cues[k].phrase);
            if ((unsigned char)cues[k].phrase[0] == c && !(bits & (1u << cues[k].bit)) && n - i >= m &&
                ks__ieq(text + i, m, cues[k].phrase, m))
                bits |= 1u << cues[k].bit;
        }
    }
    return bits;
}

const char *ks__index_doc_type(unsigned bits, bool mail)
{
    if (mail)
        return "mail";
    for (unsigned b = 0; b < KS_DOC_NBITS; b++)
        if (bits & (1u << b))
            return type_keys[b];
    return "other";
}

/* ---- signatures ------------------------------------------------------------- */

static const char *const company_forms[] = {
    " inc", " inc.", " ltd", " ltd.", " llc", " gmbh", " corp", " corp.", " corporation",
    " plc", " ag", " s.a.", " sa", " bv", " b.v.", " pty ltd", " limited", " co.", " kk", " k.k.",
};

static bool ends_with_form(const char *s, size_t n)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(company_forms); i++) {
        size_t m = strlen(company_forms[i]);
        if (n > m && ks__ieq(s + n - m, m, company_forms[i], m))
            return true;
    }
    return false;
}

static bool is_signoff(const char *s, size_t n)
{
    static const char *const w[] = {"--", "regards", "best", "thanks", "thank you", "sincerely", "cheers"};
    for (size_t i = 0; i < KS_ARRAY_LEN(w); i++) {
        size_t m = strlen(w[i]);
        if (n >= m && ks__ieq(s, m, w[i], m))
            return true;
    }
    return false;
}

void ks__index_signature_orgs(const char *text, size_t n, ks_orgname_fn fn, void *ud)
{
    /* the signature is near the end: look at the last 2 KiB only */
    size_t start = n > 2048 ? n - 2048 : 0;
    bool after = false;
    unsigned lines = 0;
    for (size_t i = start; i < n && lines < 40;) {
        const char *nl = memchr(text + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - text) : n;
        size_t b = i, t = e;
        while (b < t && (text[b] == ' ' || text[b] == '\t'))
            b++;
        while (t > b && (text[t - 1] == ' ' || text[t - 1] == '\r' || text[t - 1] == ',' ||
                         text[t - 1] == '\t'))
            t--;
        if (is_signoff(text + b, t - b))
            after = true;
        else if (after && t - b >= 4 && t - b <= 80 && ends_with_form(text + b, t - b) &&
                 !memchr(text + b, '@', t - b))
            fn(ud, text + b, t - b);
        lines++;
        i = e + 1;
    }
}

/* ---- address headers --------------------------------------------------------- */

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '"' || **s == '\'' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '"' || (*s)[*n - 1] == '\'' ||
                  (*s)[*n - 1] == '\t'))
        (*n)--;
}

void ks__index_header_addrs(const char *v, ks_hdraddr_fn fn, void *ud)
{
    const char *p = v;
    while (p && *p) {
        /* one mailbox: up to a comma outside quotes and angle brackets */
        const char *q = p;
        bool quoted = false, angle = false;
        while (*q && (quoted || angle || *q != ',')) {
            if (*q == '"')
                quoted = !quoted;
            else if (*q == '<' && !quoted)
                angle = true;
            else if (*q == '>' && !quoted)
                angle = false;
            q++;
        }
        const char *lt = memchr(p, '<', (size_t)(q - p));
        const char *gt = lt ? memchr(lt, '>', (size_t)(q - lt)) : NULL;
        const char *name = p, *addr;
        size_t nn = 0, na;
        if (lt && gt) {
            nn = (size_t)(lt - p);
            addr = lt + 1;
            na = (size_t)(gt - lt - 1);
        } else {
            addr = p;
            na = (size_t)(q - p);
        }
        trim(&name, &nn);
        trim(&addr, &na);
        if (na && memchr(addr, '@', na))
            fn(ud, name, nn, addr, na);
        p = *q ? q + 1 : q;
    }
}
