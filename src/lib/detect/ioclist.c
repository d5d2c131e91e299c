/* SPDX-License-Identifier: Apache-2.0
 *
 * Indicator list loading (ioclist.h): hash, filename-regex and literal
 * lists, FireEye-style CSVs, STIX 2.1 bundles and MISP events, handed to a
 * sink. Moved out of ioc.c so the network C2 detector reads the same
 * files the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <arpa/inet.h>
#include "detect/ioclist.h"
#include "input/json.h"

#define MAX_IOC_FILE ((size_t)256 << 20)
#define MAX_LINE_WARN 20        /* per IOC file */
#define DEFAULT_NAME_SCORE 80

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/* Refangs ("evil[.]com", "hxxp://") and hands a literal to the sink. */
static int lit(const ks_ioc_sink *k, ks_ioc_kind kind, const char *s, size_t n, uint32_t src)
{
    char buf[2048];
    size_t o = 0;
    if (n == 0)
        return KS_OK;
    if (n >= sizeof buf)
        return k->lit(k->ud, kind, s, n, src);
    for (size_t i = 0; i < n; i++) {
        if (i + 2 < n && s[i] == '[' && s[i + 1] == '.' && s[i + 2] == ']') {
            buf[o++] = '.';
            i += 2;
        } else if (i + 4 <= n && (i == 0 || s[i - 1] == ' ') && !strncmp(s + i, "hxxp", 4)) {
            memcpy(buf + o, "http", 4);
            o += 4;
            i += 3;
        } else {
            buf[o++] = s[i];
        }
    }
    return k->lit(k->ud, kind, buf, o, src);
}

ks_ioc_kind ks__ioc_classify(const char *s, size_t n)
{
    char buf[128];
    uint8_t a[16];
    if (n == 0 || n >= sizeof buf)
        return n > 0 && memmem(s, n, "://", 3) ? KS_IOC_URL : KS_IOC_LITERAL;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *slash = strchr(buf, '/');
    if (memmem(s, n, "://", 3))
        return KS_IOC_URL;
    if (slash)
        *slash = 0; /* CIDR */
    if (inet_pton(AF_INET, buf, a) == 1 || inet_pton(AF_INET6, buf, a) == 1)
        return KS_IOC_IP;
    if (slash)
        return KS_IOC_LITERAL;
    bool dot = false;
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c == '.')
            dot = true;
        else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '_' || c == '*'))
            return KS_IOC_LITERAL;
    }
    return dot && buf[0] != '.' && buf[n - 1] != '.' ? KS_IOC_DOMAIN : KS_IOC_LITERAL;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t' || **s == '\r' || **s == '"'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r' ||
                  (*s)[*n - 1] == '"'))
        (*n)--;
}

static void line_warn(const ks_ioc_sink *k, const char *file, uint64_t line, int *nwarn, const char *why)
{
    if ((*nwarn)++ >= MAX_LINE_WARN)
        return;
    ks_loc loc = KS_LOC_NONE;
    loc.path = file;
    loc.line = line;
    ks__diag(k->e, KS_DIAG_WARN, KS_EFORMAT, "ioc", &loc, "%s; line skipped", why);
}

/* Splits a CSV line (quotes respected) into at most max fields. */
static size_t csv_split(const char *p, size_t n, const char **f, size_t *fn, size_t max)
{
    size_t nf = 0, i = 0;
    while (nf < max) {
        size_t start = i;
        bool q = false;
        while (i < n && (q || p[i] != ',')) {
            if (p[i] == '"')
                q = !q;
            i++;
        }
        f[nf] = p + start;
        fn[nf] = i - start;
        trim(&f[nf], &fn[nf]);
        nf++;
        if (i >= n)
            break;
        i++;
    }
    return nf;
}

static bool ieq(const char *a, size_t an, const char *b)
{
    return ks__ieq(a, an, b, strlen(b));
}

/* FireEye-style CSV: header names the hash columns. */
static int load_csv(const ks_ioc_sink *k, const char *file, const char *p, size_t n)
{
    enum { MAXF = 64 };
    const char *f[MAXF];
    size_t fn[MAXF];
    int hcol[3] = {-1, -1, -1}, desc_cols[4] = {-1, -1, -1, -1}, lit_cols[6] = {-1, -1, -1, -1, -1, -1};
    ks_ioc_kind lit_kind[6] = {0};
    int nwarn = 0, rc;
    size_t ndesc = 0, nlitc = 0;
    const char *line = p, *end = p + n;
    uint64_t lineno = 0;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t ln = nl ? (size_t)(nl - line) : (size_t)(end - line);
        lineno++;
        size_t nf = csv_split(line, ln, f, fn, MAXF);
        if (lineno == 1) {
            for (size_t i = 0; i < nf; i++) {
                if (ieq(f[i], fn[i], "md5"))
                    hcol[0] = (int)i;
                else if (ieq(f[i], fn[i], "sha1") || ieq(f[i], fn[i], "sha-1"))
                    hcol[1] = (int)i;
                else if (ieq(f[i], fn[i], "sha256") || ieq(f[i], fn[i], "sha-256"))
                    hcol[2] = (int)i;
                else if (ndesc < 4 && (ieq(f[i], fn[i], "filename") || ieq(f[i], fn[i], "malware family") ||
                                       ieq(f[i], fn[i], "associated malware") ||
                                       ieq(f[i], fn[i], "description") || ieq(f[i], fn[i], "name")))
                    desc_cols[ndesc++] = (int)i;
                else if (nlitc < 6 && (ieq(f[i], fn[i], "fqdn") || ieq(f[i], fn[i], "domain") ||
                                       ieq(f[i], fn[i], "hostname") || ieq(f[i], fn[i], "target")))
                    lit_kind[nlitc] = KS_IOC_DOMAIN, lit_cols[nlitc++] = (int)i;
                else if (nlitc < 6 && (ieq(f[i], fn[i], "ip") || ieq(f[i], fn[i], "ip address")))
                    lit_kind[nlitc] = KS_IOC_IP, lit_cols[nlitc++] = (int)i;
                else if (nlitc < 6 && ieq(f[i], fn[i], "url"))
                    lit_kind[nlitc] = KS_IOC_URL, lit_cols[nlitc++] = (int)i;
                else if (nlitc < 6 && (ieq(f[i], fn[i], "ja3") || ieq(f[i], fn[i], "ja3_md5")))
                    lit_kind[nlitc] = KS_IOC_JA3, lit_cols[nlitc++] = (int)i;
                else if (nlitc < 6 && ieq(f[i], fn[i], "ja3s"))
                    lit_kind[nlitc] = KS_IOC_JA3S, lit_cols[nlitc++] = (int)i;
            }
        } else if (ln > 0) {
            /* Rows that describe known-good files are context, not IOCs. */
            if (ks__memmem_ci(line, ln, "benign", 6) || ks__memmem_ci(line, ln, "legitimate", 10)) {
                line = nl ? nl + 1 : end;
                continue;
            }
            char desc[512];
            size_t dl = 0;
            for (size_t k2 = 0; k2 < ndesc; k2++) {
                int c = desc_cols[k2];
                if (c < 0 || (size_t)c >= nf || !fn[c])
                    continue;
                int w = snprintf(desc + dl, sizeof desc - dl, "%s%.*s", dl ? " " : "", (int)fn[c], f[c]);
                if (w > 0 && (size_t)w < sizeof desc - dl)
                    dl += (size_t)w;
            }
            uint32_t src = k->src(k->ud, desc, dl, file, lineno);
            if (src == UINT32_MAX)
                return KS_ENOMEM;
            for (int a = 0; a < 3; a++) {
                int c = hcol[a];
                if (c < 0 || (size_t)c >= nf || fn[c] == 0)
                    continue;
                rc = k->hash(k->ud, f[c], fn[c], src);
                if (rc == KS_ENOMEM)
                    return rc;
                if (rc != KS_OK)
                    line_warn(k, file, lineno, &nwarn, "hash column is not a hex digest");
            }
            for (size_t k2 = 0; k2 < nlitc; k2++) {
                int c = lit_cols[k2];
                if (c >= 0 && (size_t)c < nf && fn[c] && (rc = lit(k, lit_kind[k2], f[c], fn[c], src)) != KS_OK)
                    return rc;
            }
        }
        line = nl ? nl + 1 : end;
    }
    return KS_OK;
}

/* Line formats: hashes, REGEX;SCORE[;FP], or literals. */
static int load_lines(const ks_ioc_sink *k, const char *file, const char *p, size_t n, bool literal)
{
    const char *line = p, *end = p + n;
    uint64_t lineno = 0;
    int nwarn = 0, rc;
    char comment[256] = "";
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t ln = nl ? (size_t)(nl - line) : (size_t)(end - line);
        const char *s = line;
        lineno++;
        line = nl ? nl + 1 : end;
        trim(&s, &ln);
        if (ln == 0) {
            comment[0] = 0; /* a block's description ends at a blank line */
            continue;
        }
        if (s[0] == '#' || (ln > 1 && s[0] == '/' && s[1] == '/')) {
            /* Comments above a block describe it (Loki's lists do this). */
            const char *c = s + 1;
            size_t cn = ln - 1;
            while (cn && (*c == '#' || *c == '/' || *c == ' '))
                c++, cn--;
            if (cn > 0 && strncmp(c, "kensa:", 6) != 0 && strncmp(c, "SPDX", 4) != 0)
                snprintf(comment, sizeof comment, "%.*s", (int)KS_MIN(cn, sizeof comment - 1), c);
            continue;
        }
        const char *semi = memchr(s, ';', ln);
        size_t first = semi ? (size_t)(semi - s) : ln;
        /* sha256sum / md5sum output: "HASH  name" */
        size_t tok = 0;
        while (tok < first && s[tok] != ' ' && s[tok] != '\t' && s[tok] != ',')
            tok++;
        if (literal) {
            uint32_t src = k->src(k->ud, comment, strlen(comment), file, lineno);
            if (src == UINT32_MAX)
                return KS_ENOMEM;
            const char *v = s;
            size_t vn = first;
            trim(&v, &vn);
            if ((rc = lit(k, KS_IOC_LITERAL, v, vn, src)) != KS_OK)
                return rc;
            continue;
        }
        if ((tok == 32 || tok == 40 || tok == 64) && is_hex(s, tok)) {
            const char *desc = semi ? semi + 1 : s + tok;
            size_t dn = (size_t)(s + ln - desc);
            trim(&desc, &dn);
            if (dn == 0) {
                desc = comment;
                dn = strlen(comment);
            }
            uint32_t src = k->src(k->ud, desc, dn, file, lineno);
            if (src == UINT32_MAX)
                return KS_ENOMEM;
            if ((rc = k->hash(k->ud, s, tok, src)) == KS_ENOMEM)
                return rc;
            continue;
        }
        if (semi) {
            const char *sc = semi + 1;
            const char *semi2 = memchr(sc, ';', (size_t)(s + ln - sc));
            size_t scn = semi2 ? (size_t)(semi2 - sc) : (size_t)(s + ln - sc);
            char *endp = NULL;
            char num[16];
            snprintf(num, sizeof num, "%.*s", (int)KS_MIN(scn, sizeof num - 1), sc);
            long score = strtol(num, &endp, 10);
            if (scn > 0 && endp && *endp == 0 && score >= -100 && score <= 200) {
                const char *fp = semi2 ? semi2 + 1 : NULL;
                size_t fpn = fp ? (size_t)(s + ln - fp) : 0;
                uint32_t src = k->src(k->ud, comment, strlen(comment), file, lineno);
                if (src == UINT32_MAX)
                    return KS_ENOMEM;
                if (score <= 0)
                    continue; /* negative scores whitelist in Loki; nothing to report */
                if ((rc = k->name(k->ud, s, first, (int)score, fp, fpn, src, file, lineno)) != KS_OK)
                    return rc;
                continue;
            }
        }
        line_warn(k, file, lineno, &nwarn,
                  "not a hash, a REGEX;SCORE line, or a literal list entry");
    }
    return KS_OK;
}

/* Reads a JSON string at p (pointing at the opening quote) into out;
 * returns the position after the closing quote or NULL. */
static const char *json_str(const char *p, const char *end, char *out, size_t cap)
{
    size_t k = 0;
    if (p >= end || *p != '"')
        return NULL;
    for (p++; p < end && *p != '"'; p++) {
        char c = *p;
        if (c == '\\' && p + 1 < end) {
            p++;
            c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
        }
        if (k + 1 < cap)
            out[k++] = c;
    }
    out[k] = 0;
    return p < end ? p + 1 : NULL;
}

/* Finds "key" : "value" at the top level of one object text. */
static bool obj_field(const char *o, size_t n, const char *key, char *out, size_t cap)
{
    char pat[64];
    int depth = 0;
    bool in_str = false;
    snprintf(pat, sizeof pat, "\"%s\"", key);
    size_t pl = strlen(pat);
    for (size_t i = 0; i < n; i++) {
        char c = o[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == '"') {
            if (depth == 1 && i + pl <= n && memcmp(o + i, pat, pl) == 0) {
                size_t j = i + pl;
                while (j < n && (o[j] == ' ' || o[j] == '\t' || o[j] == '\n' || o[j] == '\r' || o[j] == ':'))
                    j++;
                return json_str(o + j, o + n, out, cap) != NULL;
            }
            in_str = true;
        }
    }
    return false;
}

/* Escapes a literal file name for a regex that matches it as the last path
 * component. */
static int add_exact_name(const ks_ioc_sink *k, const char *name, uint32_t src)
{
    char re[1200];
    size_t o = 0;
    o += (size_t)snprintf(re, sizeof re, "(^|[\\\\/])");
    for (const char *s = name; *s && o + 4 < sizeof re; s++) {
        if (strchr("\\^$.|?*+()[]{}", *s))
            re[o++] = '\\';
        re[o++] = *s;
    }
    re[o++] = '$';
    re[o] = 0;
    return k->name(k->ud, re, o, DEFAULT_NAME_SCORE, NULL, 0, src, "", 0);
}

/* STIX 2.1 bundle: each indicator's pattern comparisons become entries. */
static int load_stix(const ks_ioc_sink *k, const char *file, const char *p, size_t n)
{
    const char *objs = ks__memmem_ci(p, n, "\"objects\"", 9);
    const char *end = p + n;
    char *pattern = malloc(65536), name[512];
    int rc = KS_OK, nwarn = 0;
    size_t nind = 0;
    if (!pattern)
        return KS_ENOMEM;
    if (!objs) {
        line_warn(k, file, 0, &nwarn, "STIX bundle without \"objects\"");
        goto out;
    }
    const char *q = memchr(objs, '[', (size_t)(end - objs));
    while (q && q < end) {
        const char *o = memchr(q, '{', (size_t)(end - q));
        if (!o)
            break;
        size_t len = ks__json_extent(o, (size_t)(end - o), false);
        if (len == 0 || len == (size_t)-1)
            break;
        char type[64];
        if (obj_field(o, len, "type", type, sizeof type) && !strcmp(type, "indicator") &&
            obj_field(o, len, "pattern", pattern, 65536)) {
            if (!obj_field(o, len, "name", name, sizeof name))
                snprintf(name, sizeof name, "STIX indicator");
            uint32_t src = k->src(k->ud, name, strlen(name), file, 0);
            if (src == UINT32_MAX) {
                rc = KS_ENOMEM;
                goto out;
            }
            nind++;
            /* Comparisons: object:path = 'value' (OR/AND joined). */
            for (char *s = pattern; (s = strchr(s, '=')) != NULL;) {
                char *lhs_end = s;
                char *lhs = s;
                while (lhs > pattern && lhs[-1] != '[' && lhs[-1] != '(' && !(lhs[-1] == ' ' && lhs - 1 > pattern &&
                       (lhs[-2] == 'R' || lhs[-2] == 'D')))
                    lhs--;
                char *v = s + 1;
                while (*v == ' ')
                    v++;
                s++;
                if (*v != '\'')
                    continue;
                char *ve = strchr(v + 1, '\'');
                if (!ve)
                    break;
                size_t ll = (size_t)(lhs_end - lhs);
                char lhsbuf[128];
                snprintf(lhsbuf, sizeof lhsbuf, "%.*s", (int)KS_MIN(ll, sizeof lhsbuf - 1), lhs);
                size_t vl = (size_t)(ve - v - 1);
                char *val = v + 1;
                if (strstr(lhsbuf, "file:hashes")) {
                    k->hash(k->ud, val, vl, src);
                } else if (strstr(lhsbuf, "file:name")) {
                    char nm[1024];
                    snprintf(nm, sizeof nm, "%.*s", (int)KS_MIN(vl, sizeof nm - 1), val);
                    if ((rc = add_exact_name(k, nm, src)) != KS_OK)
                        goto out;
                } else if (strstr(lhsbuf, "domain-name:value") || strstr(lhsbuf, "url:value") ||
                           strstr(lhsbuf, "ipv4-addr:value") || strstr(lhsbuf, "ipv6-addr:value")) {
                    ks_ioc_kind kind = strstr(lhsbuf, "domain") ? KS_IOC_DOMAIN
                                       : strstr(lhsbuf, "url")  ? KS_IOC_URL
                                                                : KS_IOC_IP;
                    if ((rc = lit(k, kind, val, vl, src)) != KS_OK)
                        goto out;
                }
                s = ve + 1;
            }
        }
        q = o + len;
    }
    if (nind == 0)
        line_warn(k, file, 0, &nwarn, "STIX bundle has no indicator objects");
out:
    free(pattern);
    return rc;
}

/* MISP event JSON (one event, a list of them, or {"response": [...]}):
 * every object in an "Attribute" array, at event level or inside
 * "Object"s. The event's "info" describes its attributes. */
static int load_misp(const ks_ioc_sink *k, const char *file, const char *p, size_t n)
{
    static const struct {
        const char *type;
        ks_ioc_kind kind;
    } types[] = {
        {"domain", KS_IOC_DOMAIN},   {"hostname", KS_IOC_DOMAIN}, {"domain|ip", KS_IOC_DOMAIN},
        {"ip-dst", KS_IOC_IP},       {"ip-src", KS_IOC_IP},       {"ip-dst|port", KS_IOC_IP},
        {"ip-src|port", KS_IOC_IP},  {"url", KS_IOC_URL},         {"uri", KS_IOC_URL},
        {"ja3-fingerprint-md5", KS_IOC_JA3},
    };
    const char *end = p + n, *q = p;
    char info[512] = "MISP event", type[64], value[2048];
    int rc = KS_OK, nwarn = 0;
    size_t nattr = 0;
    const char *in = ks__memmem_ci(p, n, "\"info\"", 6);
    if (in) {
        const char *v = in + 6;
        while (v < end && (*v == ' ' || *v == ':'))
            v++;
        json_str(v, end, info, sizeof info);
    }
    uint32_t src = k->src(k->ud, info, strlen(info), file, 0);
    if (src == UINT32_MAX)
        return KS_ENOMEM;
    while (q < end && (q = ks__memmem_ci(q, (size_t)(end - q), "\"Attribute\"", 11)) != NULL) {
        const char *arr = q + 11;
        while (arr < end && (*arr == ' ' || *arr == ':' || *arr == '\n' || *arr == '\r' || *arr == '\t'))
            arr++;
        if (arr >= end || *arr != '[') {
            q = arr;
            continue;
        }
        size_t alen = ks__json_extent(arr, (size_t)(end - arr), false);
        if (alen == 0 || alen == (size_t)-1)
            break;
        const char *o = arr + 1, *aend = arr + alen;
        while (o < aend && (o = memchr(o, '{', (size_t)(aend - o))) != NULL) {
            size_t len = ks__json_extent(o, (size_t)(aend - o), false);
            if (len == 0 || len == (size_t)-1)
                break;
            if (obj_field(o, len, "type", type, sizeof type) && obj_field(o, len, "value", value, sizeof value)) {
                size_t vl = strlen(value);
                nattr++;
                if (!strcmp(type, "md5") || !strcmp(type, "sha1") || !strcmp(type, "sha256")) {
                    k->hash(k->ud, value, vl, src);
                } else if (!strcmp(type, "filename")) {
                    rc = add_exact_name(k, value, src);
                } else {
                    for (size_t t = 0; t < KS_ARRAY_LEN(types); t++)
                        if (!strcmp(type, types[t].type)) {
                            /* "a|b" forms: the first part is the indicator */
                            char *bar = strchr(value, '|');
                            rc = lit(k, types[t].kind, value, bar ? (size_t)(bar - value) : vl, src);
                            if (rc == KS_OK && bar && !strcmp(type, "domain|ip"))
                                rc = lit(k, KS_IOC_IP, bar + 1, strlen(bar + 1), src);
                            break;
                        }
                }
                if (rc != KS_OK)
                    return rc;
            }
            o += len;
        }
        q = aend;
    }
    if (nattr == 0)
        line_warn(k, file, 0, &nwarn, "MISP JSON without typed attributes");
    return rc;
}

static bool name_has(const char *path, const char *w)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    return ks__memmem_ci(b, strlen(b), w, strlen(w)) != NULL;
}

static int load_file(const ks_ioc_sink *k, const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    int rc = KS_OK;
    ks_loc loc = KS_LOC_NONE;
    loc.path = path;
    if (!fp) {
        ks__diag(k->e, KS_DIAG_ERROR, KS_ENOTFOUND, "ioc", &loc, "cannot read IOC file: %s",
                 strerror(errno));
        return KS_OK;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || (uint64_t)st.st_size > MAX_IOC_FILE) {
        ks__diag(k->e, KS_DIAG_ERROR, KS_ELIMIT, "ioc", &loc, "IOC file larger than 256 MiB; skipped");
        goto out;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        rc = KS_ENOMEM;
        goto out;
    }
    n = fread(buf, 1, (size_t)st.st_size, fp);
    buf[n] = 0;
    size_t i = 0;
    while (i < n && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'))
        i++;
    if (i < n && (buf[i] == '{' || buf[i] == '[')) {
        bool misp = ks__memmem_ci(buf + i, n - i, "\"Attribute\"", 11) &&
                    !ks__memmem_ci(buf + i, n - i, "\"objects\"", 9);
        rc = misp ? load_misp(k, path, buf + i, n - i) : load_stix(k, path, buf + i, n - i);
    } else {
        const char *nl = memchr(buf, '\n', n);
        size_t l1 = nl ? (size_t)(nl - buf) : n;
        bool csv = memchr(buf, ',', l1) && (ks__memmem_ci(buf, l1, "sha256", 6) ||
                                             ks__memmem_ci(buf, l1, "md5", 3) ||
                                             ks__memmem_ci(buf, l1, "sha1", 4) ||
                                             ks__memmem_ci(buf, l1, "fqdn", 4) ||
                                             ks__memmem_ci(buf, l1, "ja3", 3));
        bool literal = name_has(path, "c2") || name_has(path, "domain") ||
                       name_has(path, "keyword") || name_has(path, "literal") ||
                       strstr(buf, "# kensa: literal") != NULL;
        rc = csv ? load_csv(k, path, buf, n) : load_lines(k, path, buf, n, literal);
    }
out:
    free(buf);
    fclose(fp);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_path(const ks_ioc_sink *k, const char *path, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = path;
        ks__diag(k->e, KS_DIAG_ERROR, KS_ENOTFOUND, "ioc", &loc, "cannot read IOC path: %s",
                 strerror(errno));
        return KS_OK;
    }
    if (!S_ISDIR(st.st_mode))
        return load_file(k, path);
    if (depth > 16)
        return KS_OK;
    DIR *dir = opendir(path);
    if (!dir)
        return KS_OK;
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *de;
    int rc = KS_OK;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.' || name_has(de->d_name, "readme") || strstr(de->d_name, ".md"))
            continue;
        if (nn == cap) {
            size_t nc = cap ? cap * 2 : 32;
            char **nv = realloc(names, nc * sizeof *nv);
            if (!nv)
                break;
            names = nv;
            cap = nc;
        }
        size_t l = strlen(path) + strlen(de->d_name) + 2;
        if (!(names[nn] = malloc(l)))
            break;
        snprintf(names[nn++], l, "%s/%s", path, de->d_name);
    }
    closedir(dir);
    qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn; i++) {
        if (rc == KS_OK)
            rc = load_path(k, names[i], depth + 1);
        free(names[i]);
    }
    free(names);
    return rc;
}


int ks__ioc_load(const ks_ioc_sink *k, const char *path)
{
    return load_path(k, path, 0);
}

int ks__ioc_load_configured(const ks_ioc_sink *k)
{
    const char **vals = NULL;
    size_t nv = ks__opt_list(k->e, "ioc", &vals);
    int rc = KS_OK;
    for (size_t i = 0; i < nv && rc == KS_OK; i++)
        rc = load_path(k, vals[i], 0);
    if (rc == KS_OK && ks__opt_bool(k->e, "builtin")) {
        char bdir[4096];
        if (ks__bundled(k->e, "ioc", bdir, sizeof bdir))
            rc = load_path(k, bdir, 0);
    }
    return rc;
}

uint32_t ks__ioc_srcs_add(ks_ioc_srcs *t, const char *desc, size_t dn, const char *file, uint64_t line)
{
    if (t->n >= UINT32_MAX - 1 || ks__grow(&t->v, &t->cap, t->n, sizeof *t->v, 64) != KS_OK)
        return UINT32_MAX;
    ks_ioc_src *s = &t->v[t->n];
    s->desc = strndup(desc ? desc : "", desc ? dn : 0);
    s->file = strdup(file);
    s->line = line;
    if (!s->desc || !s->file) {
        free(s->desc);
        free(s->file);
        return UINT32_MAX;
    }
    return (uint32_t)t->n++;
}

void ks__ioc_srcs_free(ks_ioc_srcs *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].desc);
        free(t->v[i].file);
    }
    free(t->v);
    memset(t, 0, sizeof *t);
}
