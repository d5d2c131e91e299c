/* SPDX-License-Identifier: Apache-2.0
 *
 * Observables and ids for the sharing formats (share.h).
 */
#include <openssl/evp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "output/share.h"

/* ---- shapes ------------------------------------------------------------ */

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f')))
            return false;
    return n > 0;
}

static bool is_ipv4(const char *s)
{
    int parts = 0;
    const char *p = s;
    while (*p) {
        int v = 0, digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 4) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        if (!digits || v > 255)
            return false;
        parts++;
        if (*p == '.' && parts < 4)
            p++;
        else
            break;
    }
    return parts == 4 && *p == '\0';
}

static bool is_ipv6(const char *s)
{
    size_t colons = 0, n = strlen(s);
    if (n < 2 || n > 45)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ':')
            colons++;
        else if (!all_hex(&c, 1) && c != '.')
            return false;
    }
    return colons >= 2;
}

static bool is_domain(const char *s)
{
    size_t n = strlen(s), label = 0, dots = 0;
    bool alpha = false;
    if (n < 4 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (!label)
                return false;
            label = 0;
            dots++;
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
            alpha = true;
            label++;
        } else if ((c >= '0' && c <= '9') || c == '-' || c == '_') {
            label++;
        } else {
            return false;
        }
        if (label > 63)
            return false;
    }
    return dots >= 1 && label > 0 && alpha && !is_ipv4(s);
}

static bool key_has(const char *k, const char *w)
{
    return k && strcasestr(k, w) != NULL;
}

/* Keys whose values hash a secret or personal data: never indicators. */
static bool private_key(const char *k)
{
    return key_has(k, "secret") || key_has(k, "value_sha") || key_has(k, "password") ||
           key_has(k, "token") || key_has(k, "redact");
}

static void add(ks_obs *out, size_t cap, size_t *n, ks_obs_type t, const char *v)
{
    for (size_t i = 0; i < *n; i++)
        if (out[i].type == t && strcmp(out[i].value, v) == 0)
            return;
    if (*n < cap)
        out[(*n)++] = (ks_obs){t, v};
}

static void classify(const char *k, const char *v, ks_obs *out, size_t cap, size_t *n)
{
    size_t vn;
    if (!k || !v || private_key(k))
        return;
    vn = strlen(v);
    if ((key_has(k, "sha") || key_has(k, "md5") || key_has(k, "hash")) && all_hex(v, vn)) {
        if (vn == 64)
            add(out, cap, n, KS_OBS_SHA256, v);
        else if (vn == 40)
            add(out, cap, n, KS_OBS_SHA1, v);
        else if (vn == 32 && !key_has(k, "imphash"))
            add(out, cap, n, KS_OBS_MD5, v);
        return;
    }
    if ((strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0) && vn < 2048 &&
        !strpbrk(v, " \t\r\n\"<>")) {
        add(out, cap, n, KS_OBS_URL, v);
        return;
    }
    if (key_has(k, "ip") || key_has(k, "addr") || key_has(k, "client") || key_has(k, "source") ||
        key_has(k, "src") || key_has(k, "dst") || key_has(k, "dest") || key_has(k, "remote")) {
        if (is_ipv4(v)) {
            add(out, cap, n, KS_OBS_IPV4, v);
            return;
        }
        if (is_ipv6(v)) {
            add(out, cap, n, KS_OBS_IPV6, v);
            return;
        }
    }
    if ((key_has(k, "domain") || key_has(k, "query") || key_has(k, "sni") ||
         key_has(k, "dns") || key_has(k, "c2")) && is_domain(v))
        add(out, cap, n, KS_OBS_DOMAIN, v);
}

size_t ks__finding_observables(const ks_finding *f, ks_obs *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nmatched; i++)
        classify(f->matched[i].key, f->matched[i].value, out, cap, &n);
    for (size_t i = 0; i < f->ndetails; i++)
        classify(f->details[i].key, f->details[i].value, out, cap, &n);
    /* A file detector's finding names the file it matched. */
    if (f->detector && (strcmp(f->detector, "yara") == 0 || strcmp(f->detector, "ioc") == 0) &&
        f->nevidence && f->evidence[0].path) {
        const char *p = f->evidence[0].path, *s = strrchr(p, '/');
        add(out, cap, &n, KS_OBS_FILENAME, s && s[1] ? s + 1 : p);
    }
    return n;
}

const char *ks__obs_misp_type(ks_obs_type t)
{
    static const char *const names[KS_OBS_NTYPES] = {
        "sha256", "sha1", "md5", "ip-dst", "ip-dst", "domain", "url", "filename"};
    return (unsigned)t < KS_OBS_NTYPES ? names[t] : "text";
}

/* STIX pattern string literals escape \ and '. */
static void pat_str(ks_buf *b, const char *v)
{
    ks__buf_addc(b, '\'');
    for (; *v; v++) {
        if (*v == '\\' || *v == '\'')
            ks__buf_addc(b, '\\');
        ks__buf_addc(b, *v);
    }
    ks__buf_addc(b, '\'');
}

int ks__obs_stix_pattern(const ks_obs *o, ks_buf *b)
{
    static const char *const lhs[KS_OBS_NTYPES] = {
        "file:hashes.'SHA-256'", "file:hashes.'SHA-1'", "file:hashes.MD5", "ipv4-addr:value",
        "ipv6-addr:value",       "domain-name:value",   "url:value",      "file:name"};
    if ((unsigned)o->type >= KS_OBS_NTYPES)
        return KS_EUSAGE;
    ks__buf_addc(b, '[');
    ks__buf_adds(b, lhs[o->type]);
    ks__buf_adds(b, " = ");
    pat_str(b, o->value);
    return ks__buf_addc(b, ']');
}

/* ---- ids ---------------------------------------------------------------- */

/* kensa's UUID namespace (random, fixed forever: ids must stay stable). */
static const uint8_t ns_kensa[16] = {0x6b, 0x65, 0x6e, 0x73, 0x61, 0x9a, 0x4d, 0x2e,
                                     0x8c, 0x1f, 0x3b, 0x57, 0xa0, 0x44, 0xd2, 0x19};

void ks__uuid5(const char *name, size_t n, char out[37])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdn = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    memset(md, 0, sizeof md);
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1) {
        EVP_DigestUpdate(ctx, ns_kensa, sizeof ns_kensa);
        EVP_DigestUpdate(ctx, name, n);
        EVP_DigestFinal_ex(ctx, md, &mdn);
    }
    EVP_MD_CTX_free(ctx);
    md[6] = (uint8_t)((md[6] & 0x0f) | 0x50);  /* version 5 */
    md[8] = (uint8_t)((md[8] & 0x3f) | 0x80);  /* RFC 4122 variant */
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10],
             md[11], md[12], md[13], md[14], md[15]);
}

void ks__stix_id(const char *type, const char *name, size_t n, char *out, size_t cap)
{
    char u[37];
    ks__uuid5(name, n, u);
    snprintf(out, cap, "%s--%s", type, u);
}

/* ---- JSON ---------------------------------------------------------------- */

void ks__jplace(ks_buf *b, const ks_evidence *ev)
{
    if (ev->record)
        ks__buf_printf(b, ",\"record\":%" PRIu64, ev->record);
    if (ev->line)
        ks__buf_printf(b, ",\"line\":%" PRIu64, ev->line);
    if (ev->offset != UINT64_MAX)
        ks__buf_printf(b, ",\"offset\":%" PRIu64, ev->offset);
}

void ks__jmember(ks_buf *b, const char *k, const char *v, bool comma)
{
    ks__buf_addc(b, '"');
    ks__buf_adds(b, k);
    ks__buf_adds(b, "\":");
    if (v) {
        ks__buf_addc(b, '"');
        ks__buf_add_json_str(b, v, strlen(v));
        ks__buf_addc(b, '"');
    } else {
        ks__buf_adds(b, "null");
    }
    if (comma)
        ks__buf_addc(b, ',');
}

void ks__jtime_ms(ks_buf *b, int64_t t)
{
    char tb[64];
    int64_t sec = t / 1000000000, ns = t % 1000000000;
    if (ns < 0) {
        ns += 1000000000;
        sec--;
    }
    /* Always three fraction digits: STIX requires milliseconds on
     * created/modified, and one form everywhere keeps diffs simple. */
    size_t n = ks__time_format_sec(sec, 0, tb, sizeof tb);
    if (n > 0 && n + 4 < sizeof tb)
        snprintf(tb + n - 1, sizeof tb - (n - 1), ".%03dZ", (int)(ns / 1000000));
    ks__buf_addc(b, '"');
    ks__buf_adds(b, tb);
    ks__buf_addc(b, '"');
}

int64_t ks__report_time(void)
{
    const char *s = getenv("SOURCE_DATE_EPOCH");
    if (s && *s) {
        char *end = NULL;
        long long v = strtoll(s, &end, 10);
        if (end && *end == '\0' && v >= 0)
            return (int64_t)v * 1000000000;
    }
    return ks__wall_ns();
}
