/* SPDX-License-Identifier: Apache-2.0
 *
 * SUNBURST DNS encoding: decoder and encoder (see sunburst_dga.h and
 * docs/SUNBURST.md). Written from the published descriptions of the
 * implant's CryptoHelper class (FireEye, QiAnXin RedDrip, NETRESEC,
 * Kaspersky, Cloudflare, Prevasio); the tests check it against their
 * published examples and against names this file encodes itself.
 *
 * Every decoded field is checked for the redundancy the encoding carries
 * (key high bit by message kind, zero padding bits, the service-count
 * nibble, the region the GUID selects) so random labels under the C2
 * domain do not decode into invented victims.
 */
#include <stdio.h>
#include <string.h>
#include "core/core.h"
#include "detect/sunburst_dga.h"

/* The implant's two alphabets: a 32-character base32 (least significant
 * bits first) and a 35-character substitution table whose characters shift
 * by four; '0', '_', '-' and '.' are escaped as '0' + a table character
 * whose index modulo 4 selects which. */
static const char B32[] = "ph2eifo3n5utg1j8d94qrvbmk0sal76c";
static const char SUBST[] = "rq3gsalt6u1iyfzop572d49bnx8cvmkewhj";
static const char ESC[] = "0_-.";
#define NSUBST 35
/* Characters the substitution can carry; anything else takes base32. */
static const char PLAIN_SET[] = "0123456789abcdefghijklmnopqrstuvwxyz-_.";

static const char *const REGIONS[4] = {"eu-west-1", "us-west-2", "us-east-1", "us-east-2"};
static const char C2_DOMAIN[] = "avsvmcloud.com";
static const char C2_SUB[] = "appsync-api";
/* Time messages count 30-minute periods from 2010-01-01T00:00:00Z. */
#define EPOCH_2010 1262304000ll
#define PERIOD_S 1800ll

const char *ks__sb_region(int i)
{
    return i >= 0 && i < 4 ? REGIONS[i] : "?";
}

int ks__sb_guid_region(const uint8_t guid[8])
{
    return guid[0] % 4;
}

static int b32_val(int c)
{
    const char *p = c ? strchr(B32, c) : NULL;
    return p ? (int)(p - B32) : -1;
}

static int subst_idx(int c)
{
    const char *p = c ? strchr(SUBST, c) : NULL;
    return p ? (int)(p - SUBST) : -1;
}

/* Base32 of n bytes, the final partial group written too. Returns chars. */
static size_t b32_encode(const uint8_t *p, size_t n, char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= (uint32_t)p[i] << bits;
        bits += 8;
        while (bits >= 5) {
            out[o++] = B32[acc & 31];
            acc >>= 5;
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = B32[acc & 31];
    out[o] = 0;
    return o;
}

/* Inverse; whole bytes only. Returns bytes, or -1 on a foreign character
 * or when out is too small. *rest gets the value of the leftover bits (the
 * encoder leaves them zero). */
static long b32_decode(const char *s, size_t n, uint8_t *out, size_t cap, uint32_t *rest)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b32_val((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc |= (uint32_t)v << bits;
        bits += 5;
        if (bits >= 8) {
            if (o == cap)
                return -1;
            out[o++] = (uint8_t)acc;
            acc >>= 8;
            bits -= 8;
        }
    }
    if (rest)
        *rest = acc;
    return (long)o;
}

/* ---- names ------------------------------------------------------------- */

static bool ends_ci(const char *s, size_t n, const char *suf, size_t k)
{
    return n >= k && ks__ieq(s + n - k, k, suf, k);
}

bool ks__sb_is_c2_name(const char *name, size_t n, const char **label, size_t *nlabel)
{
    size_t k = sizeof C2_DOMAIN - 1;
    if (n && name[n - 1] == '.')
        n--;
    if (!ends_ci(name, n, C2_DOMAIN, k) || n == k || name[n - k - 1] != '.')
        return false;
    const char *dot = memchr(name, '.', n);
    *label = name;
    *nlabel = (size_t)(dot - name);
    return true;
}

/* "<label>.appsync-api.<region>.avsvmcloud.com": the region's index, -1
 * when the name has another shape. */
static int name_region(const char *name, size_t n, size_t nlabel)
{
    size_t k = sizeof C2_DOMAIN - 1, s = sizeof C2_SUB - 1;
    if (n && name[n - 1] == '.')
        n--;
    const char *p = name + nlabel + 1;
    size_t rest = n - nlabel - 1;
    if (rest < s + 1 + k + 1 || !ks__ieq(p, s, C2_SUB, s) || p[s] != '.')
        return -1;
    const char *r = p + s + 1;
    size_t rn = rest - s - 1 - k - 1;
    for (int i = 0; i < 4; i++)
        if (ks__ieq(r, rn, REGIONS[i], strlen(REGIONS[i])))
            return i;
    return -1;
}

/* ---- decoding ---------------------------------------------------------- */

static bool decode_domain_msg(const char *l, size_t n, ks_sb_msg *m)
{
    uint8_t b[9];
    uint32_t rest = 1;
    if (n < KS_SB_GUID_CHARS + 2 || n > KS_SB_GUID_CHARS + 1 + KS_SB_FRAG_MAX)
        return false;
    if (b32_decode(l, KS_SB_GUID_CHARS, b, sizeof b, &rest) != 9)
        return false;
    for (int i = 0; i < 8; i++)
        m->guid[i] = b[i + 1] ^ b[0];
    int c = (unsigned char)l[KS_SB_GUID_CHARS], v;
    if (c >= '0' && c <= '9')
        v = c - '0';
    else if (c >= 'a' && c <= 'z')
        v = c - 'a' + 10;
    else
        return false;
    /* The implant wrote (seq + code of the label's first char) % 36. */
    m->seq = ((v - (unsigned char)l[0] % 36) % 36 + 36) % 36;
    const char *f = l + KS_SB_GUID_CHARS + 1;
    size_t fn = n - KS_SB_GUID_CHARS - 1;
    for (size_t i = 0; i < fn; i++)
        if (!((f[i] >= '0' && f[i] <= '9') || (f[i] >= 'a' && f[i] <= 'z')))
            return false;
    /* A fragment that ends in '0' carries one '0' of padding: the implant
     * appends it whenever a fragment's own text ends in '0' (and moves a
     * split escape to the next fragment). */
    if (f[fn - 1] == '0')
        fn--;
    memcpy(m->frag, f, fn);
    m->frag[fn] = 0;
    m->nfrag = fn;
    m->kind = KS_SB_DOMAIN;
    return true;
}

static bool decode_time_msg(const char *l, size_t n, ks_sb_msg *m)
{
    uint8_t b[12 + KS_SB_DATA_MAX];
    uint32_t rest = 1;
    long nb = b32_decode(l, n, b, sizeof b, &rest);
    /* key + GUID + 3 timestamp bytes at least; exactly the characters the
     * encoder writes for that many bytes; zero padding bits. */
    if (nb < 12 || (size_t)(nb * 8 + 4) / 5 != n)
        return false;
    uint8_t key = b[0];
    if (key == 0 || key >= 0x80)
        return false;
    for (long i = 1; i < nb; i++)
        b[i] ^= key;
    const uint8_t *d = b + 1;
    for (int i = 0; i < 8; i++)
        m->guid[i] = d[i] ^ d[10 - i % 2];
    int sub = d[8] >> 4;
    uint32_t hash = (uint32_t)(d[8] & 0x0f) << 16 | (uint32_t)d[9] << 8 | d[10];
    m->ndata = (size_t)nb - 12;
    if ((sub == 1 && m->ndata != 0) || (sub == 2 && m->ndata == 0) || sub < 1 || sub > 2)
        return false;
    memcpy(m->data, d + 11, m->ndata);
    m->subtype = sub;
    m->stage2 = hash & 1;
    m->time = (EPOCH_2010 + (int64_t)(hash >> 1) * PERIOD_S) * 1000000000ll;
    m->kind = KS_SB_TIME;
    return true;
}

bool ks__sb_decode(const char *name, size_t n, ks_sb_msg *out)
{
    const char *label;
    size_t nl;
    char l[64];
    memset(out, 0, sizeof *out);
    out->region = -1;
    if (!ks__sb_is_c2_name(name, n, &label, &nl) || nl < KS_SB_GUID_CHARS + 2 || nl >= sizeof l)
        return false;
    for (size_t i = 0; i < nl; i++) {
        char c = label[i];
        l[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    l[nl] = 0;
    /* The XOR key's high bit tells the kinds apart: set for domain
     * messages, clear for time messages. */
    uint8_t k2[2];
    uint32_t rest;
    if (b32_decode(l, 2, k2, sizeof k2, &rest) != 1)
        return false;
    bool ok = (k2[0] & 0x80) ? decode_domain_msg(l, nl, out) : decode_time_msg(l, nl, out);
    if (!ok) {
        out->kind = KS_SB_NONE;
        return false;
    }
    out->region = name_region(name, n, nl);
    out->region_ok = out->region == ks__sb_guid_region(out->guid);
    return true;
}

int ks__sb_domain_decode(const char *enc, size_t n, char *out, size_t cap, bool *base32)
{
    size_t o = 0;
    *base32 = n >= 2 && enc[0] == '0' && enc[1] == '0';
    if (cap == 0)
        return -1;
    if (*base32) {
        long nb = b32_decode(enc + 2, n - 2, (uint8_t *)out, cap - 1, NULL);
        if (nb <= 0 || !ks__utf8_valid(out, (size_t)nb))
            return -1;
        for (long i = 0; i < nb; i++)
            if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
                return -1;
        out[nb] = 0;
        return (int)nb;
    }
    for (size_t i = 0; i < n; i++) {
        if (o + 1 >= cap)
            return -1;
        if (enc[i] == '0') {
            int x = i + 1 < n ? subst_idx((unsigned char)enc[i + 1]) : -1;
            if (x < 0)
                return -1;
            out[o++] = ESC[x % 4];
            i++;
        } else {
            int x = subst_idx((unsigned char)enc[i]);
            if (x < 0)
                return -1;
            out[o++] = SUBST[(x + NSUBST - 4) % NSUBST];
        }
    }
    out[o] = 0;
    return o ? (int)o : -1;
}

void ks__sb_assemble(const char (*frags)[KS_SB_FRAG_MAX + 1], uint64_t have, char *out,
                     size_t cap, bool *complete, bool *base32)
{
    char enc[(KS_SB_LAST + 1) * KS_SB_FRAG_MAX + 1];
    size_t n = 0;
    int k = 0;
    for (; k < KS_SB_LAST && (have >> k & 1); k++) {
        size_t l = strnlen(frags[k], KS_SB_FRAG_MAX);
        memcpy(enc + n, frags[k], l);
        n += l;
    }
    bool last = have >> KS_SB_LAST & 1;
    bool gaps = (have & ~(1ull << KS_SB_LAST)) >> k != 0;
    if (last && !gaps) {
        size_t l = strnlen(frags[KS_SB_LAST], KS_SB_FRAG_MAX);
        memcpy(enc + n, frags[KS_SB_LAST], l);
        n += l;
    }
    *complete = last && !gaps;
    *base32 = false;
    if (cap)
        out[0] = 0;
    if (n && ks__sb_domain_decode(enc, n, out, cap, base32) < 0) {
        /* A tail of base32 text, or damage: say what is known. */
        snprintf(out, cap, "(undecoded: %.*s)", (int)n, enc);
        *complete = false;
    }
}

/* ---- encoding ---------------------------------------------------------- */

static uint32_t rng_next(ks_sb_rng *r)
{
    uint64_t x = *r ? *r : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *r = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

/* The implant's key byte: 1..126, high bit set for domain messages. */
static size_t secure_string(const uint8_t *data, size_t n, bool high, ks_sb_rng *rng, char *out)
{
    uint8_t b[1 + 12 + KS_SB_DATA_MAX];
    b[0] = (uint8_t)(1 + rng_next(rng) % 126);
    if (high)
        b[0] |= 0x80;
    for (size_t i = 0; i < n; i++)
        b[i + 1] = data[i] ^ b[0];
    return b32_encode(b, n + 1, out);
}

static char seq_char(int seq, char first)
{
    int v = (seq + (unsigned char)first) % 36;
    return (char)(v < 10 ? '0' + v : 'a' + v - 10);
}

/* The domain's encoded text: substitution when every character allows it,
 * else "00" + base32 of the UTF-8 bytes. Returns length or 0 if too long. */
static size_t encode_domain_text(const char *d, ks_sb_rng *rng, char *out, size_t cap)
{
    size_t n = strlen(d), o = 0;
    bool plain = n > 0;
    for (size_t i = 0; i < n && plain; i++)
        plain = d[i] && strchr(PLAIN_SET, d[i]) != NULL;
    if (!plain) {
        if (2 + (n * 8 + 4) / 5 + 1 > cap)
            return 0;
        out[0] = out[1] = '0';
        return 2 + b32_encode((const uint8_t *)d, n, out + 2);
    }
    for (size_t i = 0; i < n; i++) {
        if (o + 3 > cap)
            return 0;
        const char *e = strchr(ESC, d[i]);
        if (e) {
            out[o++] = '0';
            out[o++] = SUBST[(e - ESC) + 4 * (int)(rng_next(rng) % (NSUBST / 4))];
        } else {
            out[o++] = SUBST[(subst_idx((unsigned char)d[i]) + 4) % NSUBST];
        }
    }
    out[o] = 0;
    return o;
}

static void add_suffix(char *name, size_t len, const uint8_t guid[8])
{
    snprintf(name + len, KS_SB_NAME_MAX - len, ".%s.%s.%s", C2_SUB,
             REGIONS[ks__sb_guid_region(guid)], C2_DOMAIN);
}

size_t ks__sb_encode_domain(const uint8_t guid[8], const char *domain, ks_sb_rng *rng,
                            char (*names)[KS_SB_NAME_MAX], size_t max)
{
    char dn[36 * KS_SB_FRAG_MAX + 8];
    size_t len = encode_domain_text(domain, rng, dn, sizeof dn), off = 0, k = 0;
    int count = 0;
    if (len == 0)
        return 0;
    while (off < len) {
        char sec[KS_SB_GUID_CHARS + 2], frag[KS_SB_FRAG_MAX + 2];
        size_t take = KS_MIN(len - off, (size_t)KS_SB_FRAG_MAX);
        if (k == max || count > 34)
            return 0;
        secure_string(guid, 8, true, rng, sec);
        memcpy(frag, dn + off, take);
        off += take;
        if (frag[take - 1] == '0') {
            /* A '0' may begin an escape: a full fragment hands it to the
             * next one; either way a '0' of padding marks the end. */
            if (take == KS_SB_FRAG_MAX)
                take--, off--;
            frag[take++] = '0';
        }
        frag[take] = 0;
        int seq = off >= len ? KS_SB_LAST : count++;
        int w = snprintf(names[k], KS_SB_NAME_MAX, "%s%c%s", sec, seq_char(seq, sec[0]), frag);
        add_suffix(names[k], (size_t)w, guid);
        k++;
    }
    return k;
}

bool ks__sb_encode_time(const uint8_t guid[8], int64_t t, bool stage2, const uint8_t *data,
                        size_t ndata, ks_sb_rng *rng, char *out, size_t cap)
{
    uint8_t b[11 + KS_SB_DATA_MAX];
    char label[64];
    int64_t s = t / 1000000000ll - EPOCH_2010;
    if (s < 0 || ndata > KS_SB_DATA_MAX)
        return false;
    uint32_t hash = (uint32_t)((s / PERIOD_S) & 0x7ffff) << 1 | (stage2 ? 1u : 0u);
    memcpy(b, guid, 8);
    b[8] = (uint8_t)((hash >> 16 & 0x0f) | (ndata ? 2 : 1) << 4);
    b[9] = (uint8_t)(hash >> 8);
    b[10] = (uint8_t)hash;
    if (ndata)
        memcpy(b + 11, data, ndata);
    for (int i = 0; i < 8; i++)
        b[i] ^= b[10 - i % 2];
    char name[KS_SB_NAME_MAX];
    size_t n = secure_string(b, 11 + ndata, false, rng, label);
    memcpy(name, label, n + 1);
    add_suffix(name, n, guid);
    if (strlen(name) + 1 > cap)
        return false;
    memcpy(out, name, strlen(name) + 1);
    return true;
}
