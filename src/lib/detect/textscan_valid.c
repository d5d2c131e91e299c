/* SPDX-License-Identifier: Apache-2.0
 *
 * The text scanner's validators: the hand-written checks a regex cannot
 * make, named in rules (`validate: luhn`). Each takes a candidate (the
 * match and its value span in the scanned text), may move the value span,
 * fill the normalised form and decoded facts, adjust confidence and the
 * verdict, and says whether the candidate stays.
 *
 *   secrets: AWS key ids (account id decoded from the id), AWS secret keys
 *            (paired with a nearby key id), GitHub tokens (CRC32 checksum
 *            in base62), JWTs (header and claims decoded), PEM / OpenSSH /
 *            PuTTY private keys (block extent, encryption), Azure storage
 *            connection strings and keys (64-byte key), SAS tokens (sp/se/
 *            account via the cloud detector's parser), Entra client secrets
 *            (passwords and tokens after key words: textscan_words.c);
 *   personal data: e-mail, phone (libphonenumber, E.164), payment cards
 *            (Luhn + IIN ranges), IBAN (mod 97 + length per country), US
 *            SSN (issued ranges), Japanese My Number (check digit).
 *
 * A checksum failure rejects the candidate: it is not that secret (GitHub
 * tokens excepted: kept with less confidence, see v_github).
 * Documented example values (AWS's AKIAIOSFODNN7EXAMPLE, test card
 * numbers, ...) are kept with the verdict KS_TV_EXAMPLE so callers do not
 * raise them as real.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <openssl/evp.h>
#include <pthread.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "detect/cloud.h"
#include "detect/textscan_int.h"
#include "input/json.h"

/* ---- helpers ------------------------------------------------------------------- */

void ks__ts_detail(ts_cand *c, const char *key, const char *fmt, ...)
{
    va_list ap;
    if (!c->delivering || c->ndetails >= TS_MAX_DETAILS || c->ndbuf >= sizeof c->dbuf)
        return;
    char *dst = c->dbuf + c->ndbuf;
    size_t room = sizeof c->dbuf - c->ndbuf;
    int w;
    va_start(ap, fmt);
    if (fmt[0] == '%' && (!strcmp(fmt, "%s") || !strcmp(fmt, "%.*s"))) {
        /* a string as it is (most details; vsnprintf was a twentieth of
         * delivering an e-mail address): what vsnprintf would write */
        int prec = fmt[1] == '.' ? va_arg(ap, int) : -1;
        const char *v = va_arg(ap, const char *);
        size_t vn = prec < 0 ? strlen(v) : strnlen(v, (size_t)prec);
        w = vn < room ? (int)vn : (int)room;
        if (vn < room) {
            memcpy(dst, v, vn);
            dst[vn] = 0;
        }
    } else {
        w = vsnprintf(dst, room, fmt, ap);
    }
    va_end(ap);
    if (w < 0 || (size_t)w >= room)
        return;
    c->ndbuf += (size_t)w + 1;
    c->details[c->ndetails++] = (ks_kv){key, dst};
}

double ks__ts_entropy(const char *p, size_t n)
{
    unsigned cnt[256] = {0};
    double h = 0;
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        cnt[(unsigned char)p[i]]++;
    for (int i = 0; i < 256; i++)
        if (cnt[i]) {
            double q = (double)cnt[i] / (double)n;
            h -= q * log2(q);
        }
    return h;
}

/* Values published in vendor documentation and test suites. */
static const char *const known_examples[] = {
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
    /* Azurite / storage emulator account key */
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
    /* jwt.io's default token */
    ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0"
     "IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"), /* one token, split */
    /* card networks' test numbers */
    "4111111111111111", "4242424242424242", "4012888888881881", "5555555555554444",
    "5105105105105100", "378282246310005", "371449635398431", "6011111111111117",
    "3530111333300000", "30569309025904",
    /* SSNs used in advertising and documentation */
    "078051120", "219099999", "123456789",
    /* IBANs from the registry's own examples */
    "GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606",
    /* Apache's documented crypt() of "password" (httpd-ssl.conf, FakeBasicAuth) */
    "xxj31ZMTZzkVA",
    /* OAuth 2.0's examples (RFC 6749 access/refresh token, client
     * s6BhdRkqt3:gX1fBat3bV in Basic; RFC 6750 bearer token) */
    "2YotnFZFEjr1zCsicMWpAA", "tGzv3JOkF0XG5Qx2TlKWIA", "czZCaGRSa3F0MzpnWDFmQmF0M2JW", "mF_9.B5f-4.1JqM",
};

/* A placeholder typed by a person: a run of six characters counting up or
 * down ("123456", "abcdef", "654321") or five of the same ("xxxxx"). A
 * random token holds such a run with negligible probability. */
static bool typed_run(const char *p, size_t n)
{
    size_t up = 1, down = 1, same = 1;
    for (size_t i = 1; i < n; i++) {
        bool alnum = isalnum((unsigned char)p[i]) && isalnum((unsigned char)p[i - 1]);
        up = alnum && p[i] == p[i - 1] + 1 ? up + 1 : 1;
        down = alnum && p[i] == p[i - 1] - 1 ? down + 1 : 1;
        same = alnum && p[i] == p[i - 1] ? same + 1 : 1;
        if (up >= 6 || down >= 6 || same >= 5)
            return true;
    }
    return false;
}

bool ks__ts_known_example(const char *p, size_t n)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(known_examples); i++)
        if (strlen(known_examples[i]) == n && memcmp(p, known_examples[i], n) == 0)
            return true;
    return false;
}

bool ks__ts_is_example(const char *p, size_t n)
{
    char digits[64];
    size_t nd = 0;
    /* "EXAMPLE", "example", "Example", "FAKE", "fake": one pass, not memmem each */
    for (size_t i = 0; i + 4 <= n; i++) {
        char ch = p[i];
        if (ch == 'E' || ch == 'e') {
            if (i + 7 <= n && (!memcmp(p + i, "EXAMPLE", 7) || !memcmp(p + i + 1, "xample", 6)))
                return true;
        } else if ((ch == 'F' || ch == 'f') &&
                   (!memcmp(p + i, "FAKE", 4) || !memcmp(p + i, "fake", 4))) {
            return true;
        }
    }
    if (n >= 12 && typed_run(p, n))
        return true;
    for (size_t i = 0; i < n && nd + 1 < sizeof digits; i++)
        if (p[i] != ' ' && p[i] != '-')
            digits[nd++] = p[i];
    for (size_t i = 0; i < KS_ARRAY_LEN(known_examples); i++) {
        const char *k = known_examples[i];
        if ((n && k[0] == p[0]) || (nd && k[0] == digits[0])) { /* first bytes first */
            size_t kl = strlen(k);
            if ((kl == n && memcmp(p, k, n) == 0) || (kl == nd && memcmp(digits, k, nd) == 0))
                return true;
        }
    }
    return false;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c) { return isalnum((unsigned char)c) != 0; }

/* Copies the characters of the value accepted by keep() into norm. */
static size_t norm_filter(ts_cand *c, int (*keep)(int), bool upper)
{
    size_t o = 0;
    for (size_t i = c->vs; i < c->ve && o + 1 < sizeof c->norm; i++) {
        int ch = (unsigned char)c->text[i];
        if (keep(ch))
            c->norm[o++] = (char)(upper ? toupper(ch) : ch);
    }
    c->norm[o] = 0;
    c->nnorm = o;
    return o;
}

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

/* Decodes base64 (standard or URL alphabet, padding optional, white space
 * skipped) into out; returns the length or -1. */
long ks__ts_b64_decode(const char *p, size_t n, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    (void)b64std;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '=' || ch == '\r' || ch == '\n' || ch == ' ' || ch == '\t')
            continue;
        int v = b64val(ch);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)o;
}

/* Classes of characters in p: bit 0 lower, 1 upper, 2 digit, 3 other. */
unsigned ks__ts_char_classes(const char *p, size_t n)
{
    unsigned m = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        m |= islower(ch) ? 1u : isupper(ch) ? 2u : isdigit(ch) ? 4u : 8u;
    }
    return m;
}

/* ---- AWS ------------------------------------------------------------------------- */

/* The account id is in bits of the base32 body of newer key ids
 * (Aidan Steele's and Tal Be'ery's analysis, 2023). */
bool ks__aws_account(const char *id, char out[24])
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    uint64_t acc = 0;
    int bits = 0;
    uint8_t raw[10];
    size_t o = 0;
    for (size_t i = 4; i < 20; i++) {
        const char *q = strchr(b32, id[i]);
        if (!q || !id[i])
            return false;
        acc = (acc << 5) | (uint64_t)(q - b32);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            raw[o++] = (uint8_t)(acc >> bits);
        }
    }
    uint64_t z = 0;
    for (int i = 0; i < 6; i++)
        z = (z << 8) | raw[i];
    z = (z & 0x7fffffffff80ull) >> 7;
    snprintf(out, 24, "%012llu", (unsigned long long)z);
    return true;
}

static const char *aws_kind(const char *id)
{
    static const struct {
        const char *prefix, *kind;
    } kinds[] = {{"AKIA", "access key"}, {"ASIA", "temporary (STS) access key"},
                 {"AGPA", "group"}, {"AIDA", "IAM user"}, {"AROA", "role"},
                 {"AIPA", "EC2 instance profile"}, {"ANPA", "managed policy"},
                 {"ANVA", "managed policy version"}, {"A3T", "access key (legacy)"}};
    for (size_t i = 0; i < KS_ARRAY_LEN(kinds); i++)
        if (!strncmp(id, kinds[i].prefix, strlen(kinds[i].prefix)))
            return kinds[i].kind;
    return NULL;
}

static bool v_aws_key_id(ts_cand *c)
{
    char id[21], acct[24];
    if (c->ve - c->vs != 20)
        return false;
    memcpy(id, c->text + c->vs, 20);
    id[20] = 0;
    const char *kind = aws_kind(id);
    if (!kind)
        return false;
    ks__ts_detail(c, "aws.key_kind", "%s", kind);
    if (id[0] == 'A' && id[1] != '3' && ks__aws_account(id, acct))
        ks__ts_detail(c, "aws.account_id", "%s", acct);
    if (ks__ts_is_example(id, 20))
        c->valid = KS_TV_EXAMPLE;
    return true;
}

/* A key id within reach of a secret key makes a pair: the secret's finding
 * names the account. */
static bool v_aws_secret(ts_cand *c)
{
    const char *v = c->text + c->vs;
    size_t vn = c->ve - c->vs;
    if (vn != 40 || ks__ts_entropy(v, vn) < 3.5 || ks__ts_char_classes(v, vn) == 1 ||
        ks__ts_char_classes(v, vn) == 2)
        return false;
    /* the nearest key id within 512 bytes (a credentials file lists
     * several pairs: the first one in reach is not this secret's) */
    size_t lo = c->vs > 512 ? c->vs - 512 : 0, hi = KS_MIN(c->n, c->ve + 512);
    size_t best = SIZE_MAX, bestd = SIZE_MAX;
    /* from one 'A' to the next (memchr), not byte by byte: every secret
     * key candidate reads a kilobyte here, at confirmation and delivery */
    const char *end = hi >= lo + 20 ? c->text + hi - 19 : c->text + lo; /* starts < end */
    for (const char *p = c->text + lo; p < end && (p = memchr(p, 'A', (size_t)(end - p))); p++) {
        size_t i = (size_t)(p - c->text);
        if (!(p[1] == 'K' || p[1] == 'S') || p[2] != 'I' || p[3] != 'A')
            continue;
        bool ok = true;
        for (int k = 4; k < 20 && ok; k++)
            ok = (p[k] >= 'A' && p[k] <= 'Z') || (p[k] >= '2' && p[k] <= '7');
        if (!ok || (i + 20 < c->n && is_alnum(p[20])))
            continue;
        size_t d = i < c->vs ? c->vs - i : i - c->vs;
        if (d < bestd) {
            best = i;
            bestd = d;
        }
    }
    if (best != SIZE_MAX) {
        const char *p = c->text + best;
        char id[21], acct[24];
        memcpy(id, p, 20);
        id[20] = 0;
        c->ps = best;
        c->pe = best + 20;
        ks__ts_detail(c, "aws.paired_key_id", "%.4s\xe2\x80\xa6%.2s", id, id + 18);
        if (ks__aws_account(id, acct))
            ks__ts_detail(c, "aws.account_id", "%s", acct);
        c->confidence += 10;
        if (ks__ts_is_example(id, 20))
            c->valid = KS_TV_EXAMPLE;
    }
    return true;
}

/* A 40-character value under a bare "secret" key word (terraform's
 * aws_iam_access_key state: "id": "AKIA...", "secret": "..."; a
 * filesystem config's "key"/"secret"; -AccessKey/-SecretKey) is an AWS
 * secret key only beside a key id: the pair is what says so. */
static bool v_aws_secret_paired(ts_cand *c)
{
    return v_aws_secret(c) && c->pe > c->ps;
}

/* ---- GitHub ------------------------------------------------------------------------ */

/* Classic-format tokens (ghp_, gho_, ghu_, ghs_, ghr_): 30 random base62
 * characters then the CRC32 of those 30, in base62, 6 digits. */
static bool v_github(ts_cand *c)
{
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const char *v = c->text + c->vs;
    size_t vn = c->ve - c->vs;
    if (vn >= 11 && !memcmp(v, "github_pat_", 11)) {
        ks__ts_detail(c, "github.kind", "fine-grained personal access token");
        return true;
    }
    if (vn != 40 || v[3] != '_')
        return false;
    uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)v + 4, 30);
    char enc[7];
    for (int i = 5; i >= 0; i--) {
        enc[i] = b62[crc % 62];
        crc /= 62;
    }
    enc[6] = 0;
    if (memcmp(enc, v + 34, 6) != 0) {
        /* GitHub has issued no token of this form since 2021, but test
         * data, tutorials and hand-made or altered tokens carry the prefix
         * and are still what someone pasted as a credential: reported,
         * less sure, saying the checksum fails (a live one always passes),
         * as a generic token: failing its format's checksum, it is no
         * GitHub token (secret_type is what a responder sorts by). */
        ks__ts_detail(c, "github.checksum", "mismatch: not as GitHub issues it (made up or altered)");
        c->type = "generic.token";
        c->confidence = c->confidence > 30 ? c->confidence - 30 : 0;
        return true;
    }
    ks__ts_detail(c, "github.checksum", "valid");
    static const struct {
        char p;
        const char *kind;
    } kinds[] = {{'p', "personal access token"}, {'o', "OAuth access token"},
                 {'u', "user-to-server token"}, {'s', "server-to-server token"},
                 {'r', "refresh token"}};
    for (size_t i = 0; i < KS_ARRAY_LEN(kinds); i++)
        if (v[2] == kinds[i].p)
            ks__ts_detail(c, "github.kind", "%s", kinds[i].kind);
    c->valid = KS_TV_VALID;
    return true;
}

/* ---- JWT ----------------------------------------------------------------------------- */

/* Copies the string or number value of "key" in a flat JSON object. */
static bool json_field(const char *j, size_t n, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl + 2 < n; i++) {
        if (j[i] != '"' || memcmp(j + i + 1, key, kl) != 0 || j[i + 1 + kl] != '"')
            continue;
        size_t k = i + kl + 2;
        while (k < n && (j[k] == ' ' || j[k] == ':'))
            k++;
        size_t o = 0;
        if (k < n && j[k] == '"') {
            for (k++; k < n && j[k] != '"' && o + 1 < cap; k++)
                out[o++] = (j[k] >= 0x20 && j[k] < 0x7f) ? j[k] : '?';
        } else {
            while (k < n && (is_digit(j[k]) || j[k] == '.' || j[k] == '-') && o + 1 < cap)
                out[o++] = j[k++];
        }
        out[o] = 0;
        return o > 0;
    }
    return false;
}

static bool json_object(const uint8_t *p, long n)
{
    long i = 0;
    while (i < n && isspace(p[i]))
        i++;
    if (i >= n || p[i] != '{')
        return false;
    size_t ext = ks__json_extent((const char *)p + i, (size_t)(n - i), false);
    return ext != 0 && ext != (size_t)-1;
}

/* Keys of HMAC-signed tokens in documentation and tutorials (jwt.io's
 * defaults, PyJWT's README, framework quick starts). */
static const char *const jwt_doc_keys[] = {
    "secret", "your-256-bit-secret", "your-384-bit-secret", "your-512-bit-secret",
    "a-string-secret-at-least-256-bits-long", "your-secret-key", "secret-key", "secretkey",
    "mysecret", "my-secret", "my_secret", "supersecret", "changeme", "shhhhh", "keyboard cat",
    "key", "test", "password",
};

/* The HS256/384/512 keyed states, made once: HMAC() fetches the digest
 * and the MAC and builds a context on every call, which for eighteen keys
 * per token was a third of a scan of mail with tokens in it. Each key's
 * inner and outer pads are hashed here once (RFC 2104's precomputation),
 * so a token costs, per key, two context copies and its own blocks. */
static EVP_MD_CTX *jwt_pads[3][KS_ARRAY_LEN(jwt_doc_keys)][2]; /* [digest][key][inner, outer] */
static int jwt_md_size[3];                                      /* 0: digest unavailable */
static pthread_once_t jwt_pads_once = PTHREAD_ONCE_INIT;

static void jwt_pads_make(void)
{
    static const char *const names[] = {"SHA256", "SHA384", "SHA512"};
    for (size_t i = 0; i < KS_ARRAY_LEN(names); i++) {
        EVP_MD *md = EVP_MD_fetch(NULL, names[i], NULL);
        size_t block = md ? (size_t)EVP_MD_get_block_size(md) : 0;
        uint8_t pad[128];
        bool ok = md && block <= sizeof pad;
        for (size_t k = 0; ok && k < KS_ARRAY_LEN(jwt_doc_keys); k++) {
            const char *key = jwt_doc_keys[k];
            size_t kn = strlen(key);
            for (int round = 0; ok && round < 2; round++) {
                uint8_t x = round ? 0x5c : 0x36;
                EVP_MD_CTX *ctx = EVP_MD_CTX_new();
                for (size_t j = 0; j < block; j++) /* the documented keys are all short */
                    pad[j] = (uint8_t)((j < kn ? (uint8_t)key[j] : 0) ^ x);
                ok = ctx && kn <= block && EVP_DigestInit_ex2(ctx, md, NULL) == 1 &&
                     EVP_DigestUpdate(ctx, pad, block) == 1;
                jwt_pads[i][k][round] = ctx;
            }
        }
        if (ok)
            jwt_md_size[i] = EVP_MD_get_size(md);
        EVP_MD_free(md); /* the contexts hold their own reference */
    }
}

/* HMAC (RFC 2104) of msg under documented key k with digest `which`, into
 * mac; ctx is the token's working context. */
static bool hmac(EVP_MD_CTX *ctx, int which, size_t k, const char *msg, size_t mn, uint8_t *mac)
{
    uint8_t inner[EVP_MAX_MD_SIZE];
    unsigned in = 0;
    return EVP_MD_CTX_copy_ex(ctx, jwt_pads[which][k][0]) == 1 &&
           EVP_DigestUpdate(ctx, msg, mn) == 1 && EVP_DigestFinal_ex(ctx, inner, &in) == 1 &&
           EVP_MD_CTX_copy_ex(ctx, jwt_pads[which][k][1]) == 1 &&
           EVP_DigestUpdate(ctx, inner, in) == 1 && EVP_DigestFinal_ex(ctx, mac, NULL) == 1;
}

/* True when an HS256/384/512 token's signature is made with a documented
 * key: a sample, whatever its claims say. p[0..sig) is header.claims. */
static bool jwt_doc_signed(const char *alg, const char *p, size_t sig, const char *s, size_t sn)
{
    int which = !strcmp(alg, "HS256")   ? 0
                : !strcmp(alg, "HS384") ? 1
                : !strcmp(alg, "HS512") ? 2
                                        : -1;
    uint8_t want[64], mac[EVP_MAX_MD_SIZE];
    bool found = false;
    if (which < 0)
        return false;
    pthread_once(&jwt_pads_once, jwt_pads_make);
    int size = jwt_md_size[which];
    long wn = size ? ks__ts_b64_decode(s, sn, want, sizeof want) : -1;
    if (wn != (long)(size ? size : -1))
        return false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    for (size_t i = 0; ctx && i < KS_ARRAY_LEN(jwt_doc_keys) && !found; i++)
        found = hmac(ctx, which, i, p, sig, mac) && !memcmp(mac, want, (size_t)wn);
    EVP_MD_CTX_free(ctx);
    return found;
}

static bool v_jwt(ts_cand *c)
{
    const char *v = c->text + c->vs;
    size_t vn = c->ve - c->vs;
    const char *d1 = memchr(v, '.', vn);
    const char *d2 = d1 ? memchr(d1 + 1, '.', (size_t)(v + vn - d1 - 1)) : NULL;
    uint8_t hdr[512], claims[2048];
    if (!d1 || !d2)
        return false;
    long hn = ks__ts_b64_decode(v, (size_t)(d1 - v), hdr, sizeof hdr);
    long cn = ks__ts_b64_decode(d1 + 1, (size_t)(d2 - d1 - 1), claims, sizeof claims);
    if (hn <= 0 || cn <= 0 || !json_object(hdr, hn) || !json_object(claims, cn))
        return false;
    char val[128];
    if (!json_field((const char *)hdr, (size_t)hn, "alg", val, sizeof val))
        return false;
    ks__ts_detail(c, "jwt.alg", "%s", val);
    if (!strcmp(val, "none"))
        c->confidence -= 20; /* unsigned: a claim set, not a credential */
    static const char *const claim_keys[] = {"iss", "aud", "exp", "iat", "tid", "appid",
                                             "azp", "scp", "roles"};
    for (size_t i = 0; i < KS_ARRAY_LEN(claim_keys); i++)
        if (json_field((const char *)claims, (size_t)cn, claim_keys[i], val, sizeof val)) {
            /* detail keys must outlive the call: static text */
            static const char *const dkeys[] = {"jwt.iss", "jwt.aud", "jwt.exp", "jwt.iat",
                                                "jwt.tid", "jwt.appid", "jwt.azp", "jwt.scp",
                                                "jwt.roles"};
            ks__ts_detail(c, dkeys[i], "%s", val);
        }
    /* delivering: the verdict is the confirmation's (an example only when
     * the signature was a documented key's), not HMACs again */
    bool sample;
    int known;
    if (c->delivering)
        sample = c->valid == KS_TV_EXAMPLE;
    else if ((known = ks__ts_memo_verdict(c->memo, TS_MEMO_JWT_DOC_KEY, v, vn)) >= 0)
        sample = known; /* the same token seen before (a reply quoting it) */
    else {
        sample = json_field((const char *)hdr, (size_t)hn, "alg", val, sizeof val) &&
                 jwt_doc_signed(val, v, (size_t)(d2 - v), d2 + 1, (size_t)(v + vn - d2 - 1));
        ks__ts_memo_set_verdict(c->memo, TS_MEMO_JWT_DOC_KEY, v, vn, sample);
    }
    c->valid = KS_TV_VALID;
    if (sample) {
        ks__ts_detail(c, "jwt.key", "a documented sample key");
        c->valid = KS_TV_EXAMPLE;
    }
    return true;
}

/* ---- private keys ----------------------------------------------------------------------- */

#define KEY_BLOCK_MAX 65536

static bool v_pem(ts_cand *c)
{
    const char *begin = c->text + c->ms;
    size_t room = KS_MIN(c->n - c->ms, (size_t)KEY_BLOCK_MAX);
    const char *end = memmem(begin, room, "-----END ", 9);
    if (!end)
        return false;
    const char *close = memmem(end + 9, (size_t)(begin + room - end - 9), "-----", 5);
    if (!close)
        return false;
    const char *label = begin + 11; /* after "-----BEGIN " */
    const char *lend = memmem(label, (size_t)(end - label), "-----", 5);
    if (!lend)
        return false;
    /* The body is base64 with optional RFC 1421 header lines ("Proc-Type:
     * 4,ENCRYPTED"); at least a key's worth of it. Log prefixes, quotes,
     * string concatenation and escaped newlines of a key pasted into a log,
     * code or JSON are fine; words ("not a real key") or an elision ("...")
     * make it prose pretending to be a key. */
    const char *body = lend + 5;
    size_t nb64 = 0, words = 0;
    bool encrypted = memmem(label, (size_t)(lend - label), "ENCRYPTED", 9) != NULL;
    bool elided = memmem(body, (size_t)(end - body), "...", 3) != NULL;
    for (const char *p = body; p < end; p++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t ll = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (memmem(p, ll, ": ", 2)) { /* a header line */
            encrypted |= memmem(p, ll, "ENCRYPTED", 9) != NULL;
            p += ll;
            continue;
        }
        for (size_t i = 0; i < ll; i++) {
            if (b64val(p[i]) >= 0 && p[i] != '-' && p[i] != '_')
                nb64++;
            /* a lower-case word standing alone between spaces */
            if (p[i] == ' ' && i + 1 < ll && islower((unsigned char)p[i + 1])) {
                size_t k = i + 1;
                while (k < ll && islower((unsigned char)p[k]))
                    k++;
                words += k < ll && p[k] == ' ';
            }
        }
        p += ll;
    }
    if (nb64 < 64 || words >= 2 || elided)
        return false;
    c->vs = c->ms;
    c->ve = (size_t)(close + 5 - c->text);
    ks__ts_detail(c, "key.kind", "%.*s", (int)(lend - label), label);
    ks__ts_detail(c, "key.encrypted", "%s", encrypted ? "true" : "false");
    if (encrypted)
        c->severity = KS_SEV_LOW; /* useless without its passphrase */
    c->valid = KS_TV_VALID;
    return true;
}

static bool v_putty(ts_cand *c)
{
    const char *begin = c->text + c->ms;
    size_t room = KS_MIN(c->n - c->ms, (size_t)KEY_BLOCK_MAX);
    const char *mac = memmem(begin, room, "Private-MAC: ", 13);
    if (!mac)
        return false;
    const char *e = mac + 13;
    while (e < begin + room && ks__hexval((unsigned char)*e) >= 0)
        e++;
    if (e - mac < 13 + 40)
        return false;
    const char *enc = memmem(begin, (size_t)(mac - begin), "Encryption: ", 12);
    bool encrypted = enc && memcmp(enc + 12, "none", 4) != 0;
    c->vs = c->ms;
    c->ve = (size_t)(e - c->text);
    ks__ts_detail(c, "key.kind", "PuTTY");
    ks__ts_detail(c, "key.encrypted", "%s", encrypted ? "true" : "false");
    if (encrypted)
        c->severity = KS_SEV_LOW;
    c->valid = KS_TV_VALID;
    return true;
}

/* ---- Azure --------------------------------------------------------------------------------- */

/* Value of "Name=" in a connection string around the match. */
static bool conn_field(const ts_cand *c, const char *name, char *out, size_t cap)
{
    size_t lo = c->ms > 512 ? c->ms - 512 : 0, hi = KS_MIN(c->n, c->me + 512);
    const char *p = ks__memmem_ci(c->text + lo, hi - lo, name, strlen(name));
    if (!p)
        return false;
    p += strlen(name);
    size_t o = 0;
    while (p < c->text + hi && *p != ';' && *p != '"' && *p != '\'' && !isspace((unsigned char)*p) &&
           o + 1 < cap)
        out[o++] = *p++;
    out[o] = 0;
    return o > 0;
}

static bool v_azure_key(ts_cand *c)
{
    uint8_t raw[128];
    long n = ks__ts_b64_decode(c->text + c->vs, c->ve - c->vs, raw, sizeof raw);
    if (n != 64 && n != 32)
        return false;
    if (ks__ts_entropy(c->text + c->vs, c->ve - c->vs) < 4.0)
        return false;
    c->valid = KS_TV_VALID;
    /* the connection string's other fields are details: only delivered
     * (four searches of a KiB around each key were most of confirming it) */
    if (!c->delivering)
        return true;
    char acct[128];
    if (conn_field(c, "AccountName=", acct, sizeof acct))
        ks__ts_detail(c, "azure.account", "%s", acct);
    else if (conn_field(c, "Endpoint=", acct, sizeof acct))
        ks__ts_detail(c, "azure.endpoint", "%s", acct);
    if (conn_field(c, "SharedAccessKeyName=", acct, sizeof acct))
        ks__ts_detail(c, "azure.key_name", "%s", acct);
    if (conn_field(c, "EndpointSuffix=", acct, sizeof acct))
        ks__ts_detail(c, "azure.endpoint_suffix", "%s", acct);
    return true;
}

static const struct {
    char c;
    const char *name;
} sas_perms[] = {{'r', "read"},   {'a', "add"},     {'c', "create"}, {'w', "write"},
                 {'d', "delete"}, {'x', "delete-version"}, {'y', "permanent-delete"},
                 {'l', "list"},   {'t', "tags"},    {'f', "filter"}, {'m', "move"},
                 {'e', "execute"}, {'o', "ownership"}, {'p', "permissions"},
                 {'i', "set-immutability"}, {'u', "update"}};

static bool v_sas(ts_cand *c)
{
    cloud_sas sas;
    /* the parser looks back for '?' and "://": give it the URL around */
    size_t lo = c->vs > 300 ? c->vs - 300 : 0;
    const char *url = NULL;
    for (size_t i = c->vs; i > lo; i--)
        if (!memcmp(c->text + i - 1, "://", 3) || isspace((unsigned char)c->text[i - 1]) ||
            c->text[i - 1] == '"' || c->text[i - 1] == '\'' || c->text[i - 1] == '<') {
            url = c->text + i - 1;
            break;
        }
    if (!url)
        url = c->text + lo;
    while (url > c->text + lo && is_alnum(url[-1]))
        url--;
    if (ks__cloud_parse_sas(url, (size_t)(c->text + c->ve - url), &sas) != KS_OK)
        return false;
    const char *sig = ks__memmem_ci(c->text + c->vs, c->ve - c->vs, "sig=", 4);
    if (!sig || !memmem(c->text + c->vs, c->ve - c->vs, "sv=", 3))
        return false;
    if (sas.host[0])
        ks__ts_detail(c, "azure.account", "%.*s", (int)strcspn(sas.host, "."), sas.host);
    if (sas.resource[0])
        ks__ts_detail(c, "sas.resource", "%s", sas.resource);
    if (sas.perms[0]) {
        char list[256];
        size_t o = 0;
        for (const char *p = sas.perms; *p; p++)
            for (size_t i = 0; i < KS_ARRAY_LEN(sas_perms); i++)
                if (sas_perms[i].c == *p)
                    o += (size_t)snprintf(list + o, sizeof list - KS_MIN(o, sizeof list - 1),
                                          "%s%s", o ? "," : "", sas_perms[i].name);
        ks__ts_detail(c, "sas.permissions", "%s", o ? list : sas.perms);
    }
    if (sas.expiry[0])
        ks__ts_detail(c, "sas.expiry", "%s", sas.expiry);
    if (sas.ss[0])
        ks__ts_detail(c, "sas.services", "%s", sas.ss);
    if (sas.srt[0])
        ks__ts_detail(c, "sas.resource_types", "%s", sas.srt);
    c->valid = KS_TV_VALID;
    return true;
}

static bool v_entra_secret(ts_cand *c)
{
    const char *v = c->text + c->vs;
    size_t n = c->ve - c->vs;
    if (n < 34 || n > 40 || v[4] != 'Q' || v[5] != '~' || !is_digit(v[3]))
        return false;
    return ks__ts_entropy(v, n) >= 3.5;
}

/* ---- personal data -------------------------------------------------------------------------- */

static int keep_digit(int ch) { return is_digit((char)ch); }
static int keep_alnum(int ch) { return is_alnum((char)ch); }

/* Header fields whose values have the shape of an address but name a
 * message, not a person: counting them as personal data inflated every
 * mailbox's e-mail count by one "address" per message and reference, at
 * the sender's mail host (CAxyz@mail.gmail.com). */
static const char *const id_headers[] = {"message-id", "references", "in-reply-to", "content-id",
                                         "resent-message-id", "original-message-id",
                                         "x-google-original-message-id", "x-ms-exchange-parent-message-id"};

/* True when the candidate at vs sits in the value of one of id_headers: the
 * line it is on, or the first line of a folded field (continuation lines
 * start with a space or tab), begins with that field name and a colon.
 * Only an address in angle brackets (a msg-id is written "<left@right>",
 * RFC 5322 3.6.4) or after a blank is asked, and the look back is at most
 * 8 KiB (64 bytes for a bare one), by memrchr: plain text costs nothing. */
static bool in_id_header(const char *t, size_t vs)
{
    if (vs == 0)
        return false;
    /* a Received field's "id <01DA7B1C.1F2E3D40@EXCH01.corp.example>" (RFC
     * 5321 4.4): a queue or message id, whatever the field's name */
    if (t[vs - 1] == '<') {
        size_t p = vs - 1;
        while (p > 0 && (t[p - 1] == ' ' || t[p - 1] == '\t'))
            p--;
        if (p < vs - 1 && p >= 2 && ks__ieq(t + p - 2, 2, "id", 2) &&
            (p == 2 || !isalnum((unsigned char)t[p - 3])))
            return true;
    }
    /* old mailers wrote a bare id after the field name: looked for on
     * that line alone, 64 bytes back */
    size_t back = t[vs - 1] == ' ' || t[vs - 1] == '\t' ? 64 : 0;
    for (size_t p = vs; p > 0 && vs - p < 128 && !back; p--) { /* "<a$b$c@host>": '<' before */
        if (t[p - 1] == '<')
            back = 8192;
        else if (t[p - 1] == '>' || isspace((unsigned char)t[p - 1]))
            break;
    }
    if (!back)
        return false;
    size_t lo = vs > back ? vs - back : 0, i = vs;
    for (;;) {
        const char *nl = i > lo ? memrchr(t + lo, '\n', i - lo) : NULL;
        size_t b = nl ? (size_t)(nl - t) + 1 : lo;
        if (!nl && lo > 0)
            return false; /* too long for a header: not one */
        if (t[b] != ' ' && t[b] != '\t') {
            for (size_t k = 0; k < KS_ARRAY_LEN(id_headers); k++) {
                const char *h = id_headers[k]; /* lower case: the first byte first */
                if (tolower((unsigned char)t[b]) != h[0])
                    continue;
                size_t hn = strlen(h);
                if (vs >= b + hn + 1 && t[b + hn] == ':' && ks__ieq(t + b, hn, h, hn))
                    return true;
            }
            return false;
        }
        if (b == 0 || b - 1 <= lo)
            return false;
        i = b - 1; /* the previous line of a folded field */
    }
}

/* True when the candidate's local part is in the authority of a URL
 * ("postgres://svc:PASSWORD@db.example.local/"): that is a user name and
 * password for a host, found by the url-password rule; as an "address" it
 * put the first characters of the password in the personal-data report.
 * Asked only when the local part follows ':' or '/' (user:password@,
 * //user@). */
static bool in_url_authority(const char *t, size_t vs)
{
    if (vs == 0 || (t[vs - 1] != ':' && t[vs - 1] != '/'))
        return false;
    for (size_t p = vs, steps = 0; p > 0 && steps < 512; p--, steps++) {
        char ch = t[p - 1];
        if (ch == '/')
            return p >= 3 && t[p - 2] == '/' && t[p - 3] == ':';
        if (ch == '?' || ch == '#' || ch == '@' || ch == '<' || ch == '>' || ch == '"' || ch == '\'' ||
            isspace((unsigned char)ch))
            return false;
    }
    return false;
}

static bool v_email(ts_cand *c)
{
    /* text with escaped line breaks (a JSON string, an iCalendar field:
     * "...\nbob@corp.example") glues the escape's letter to the address */
    if (c->vs > 0 && c->text[c->vs - 1] == '\\' && c->ve - c->vs > 3 && strchr("nrt", c->text[c->vs]))
        c->vs++;
    const char *v = c->text + c->vs;
    size_t n = c->ve - c->vs;
    const char *at = memchr(v, '@', n);
    if (!at || at == v || n > 254)
        return false;
    const char *dom = at + 1, *end = v + n;
    const char *dot = NULL;
    for (const char *p = dom; p < end; p++)
        if (*p == '.')
            dot = p;
    if (!dot || end - dot - 1 < 2 || end - dot - 1 > 24)
        return false;
    for (const char *p = dot + 1; p < end; p++)
        if (!isalpha((unsigned char)*p))
            return false;
    if (at - v > 64 || dom[0] == '.' || dom[0] == '-')
        return false;
    for (const char *p = dom; p + 1 < end; p++)
        if (p[0] == '.' && p[1] == '.')
            return false;
    if (c->delivering) { /* the normalised form: only delivered */
        size_t o = 0;
        for (const char *p = v; p < end && o + 1 < sizeof c->norm; p++)
            c->norm[o++] = (char)tolower((unsigned char)*p);
        c->norm[o] = 0;
        c->nnorm = o;
    }
    /* Message-IDs and content ids look like addresses */
    if (c->vs > 0 && c->text[c->vs - 1] == '<' && memchr(v, '$', n))
        return false;
    if (in_id_header(c->text, c->vs) || in_url_authority(c->text, c->vs))
        return false;
    ks__ts_detail(c, "email.domain", "%.*s", (int)(end - dom), dom);
    c->valid = KS_TV_VALID;
    return true;
}

/* Regions tried, after the default, for numbers written without +: a
 * national number valid in one of them, and grouped the way that region
 * writes it, is still a phone number. The regions the text around it
 * points at come first (phone_hints). */
static const char *const phone_regions[] = {"GB", "DE", "FR", "IN", "AU", "CA", "JP", "BR",
                                            "IT", "ES", "NL", "CH", "SE", "BE", "AT", "PT",
                                            "PL", "IE", "MX", "CN", "KR", "SG", "ZA", "NZ",
                                            "DK", "NO", "FI", "CZ", "HU", "GR", "TR", "IL"};

#define PHONE_HINT_WINDOW 4096
#define PHONE_HINTS_MAX 6

/* The nearest '+' or '@' in [i, hi) from i forwards (hi: none), and in
 * [lo, i) from i backwards (SIZE_MAX: none): sixteen bytes at a time, as
 * the hints are looked for up to 4 KiB each side of every number that the
 * default region does not take (a byte loop was a tenth of a scan of mail). */
static size_t hint_after(const char *t, size_t i, size_t hi)
{
#if defined(__SSE2__)
    const __m128i plus = _mm_set1_epi8('+'), at = _mm_set1_epi8('@');
    for (; i + 16 <= hi; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(t + i));
        int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, plus), _mm_cmpeq_epi8(v, at)));
        if (m)
            return i + (size_t)__builtin_ctz((unsigned)m);
    }
#endif
    while (i < hi && t[i] != '+' && t[i] != '@')
        i++;
    return i;
}

static size_t hint_before(const char *t, size_t lo, size_t i)
{
#if defined(__SSE2__)
    const __m128i plus = _mm_set1_epi8('+'), at = _mm_set1_epi8('@');
    for (; i >= lo + 16; i -= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(t + i - 16));
        int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, plus), _mm_cmpeq_epi8(v, at)));
        if (m)
            return i - 16 + (size_t)(31 - __builtin_clz((unsigned)m));
    }
#endif
    while (i > lo && t[i - 1] != '+' && t[i - 1] != '@')
        i--;
    return i > lo ? i - 1 : SIZE_MAX;
}

/* The region a '+' or '@' at i names ('+' and a number: its country code;
 * '@' and a domain: its country TLD), into r; false when none. */
static bool hint_at(const char *t, size_t i, size_t hi, char r[3])
{
    if (t[i] == '+') {
        if (!(i + 1 < hi && is_digit(t[i + 1]) && (i == 0 || !isalnum((unsigned char)t[i - 1]))))
            return false;
        size_t e = i + 1;
        while (e < hi && e - i < 24 && (is_digit(t[e]) || strchr(" .-()", t[e])))
            e++;
        return ks__phone_region(t + i, e - i, r);
    }
    size_t e = i + 1, dot = 0;
    while (e < hi && (isalnum((unsigned char)t[e]) || t[e] == '-' || t[e] == '.'))
        dot = t[e] == '.' ? e : dot, e++;
    if (!dot || e - dot != 3 || !isalpha((unsigned char)t[dot + 1]) ||
        !isalpha((unsigned char)t[dot + 2]))
        return false;
    r[0] = (char)toupper((unsigned char)t[dot + 1]);
    r[1] = (char)toupper((unsigned char)t[dot + 2]);
    r[2] = 0;
    if (!strcmp(r, "UK"))
        memcpy(r, "GB", 3);
    return true;
}

bool ks__ts_address_region(const char *s, size_t n, char out[3])
{
    const char *at = memrchr(s, '@', n);
    if (!at)
        return false;
    size_t i = (size_t)(at - s);
    size_t e = i + 1;
    while (e < n && (isalnum((unsigned char)s[e]) || s[e] == '-' || s[e] == '.'))
        e++;
    return hint_at(s, i, e, out);
}

/* Regions named near a national number, nearest first: the country codes
 * of numbers written with + ("+81 90-1234-5678" beside "03-6205-3111")
 * and the country-code TLDs of e-mail addresses (k.sato@yamato.co.jp).
 * Outward from the number, after it before before it at one distance.
 * Returns how many were written to out. */
static size_t phone_hints(const ts_cand *c, char out[][3])
{
    size_t lo = c->vs > PHONE_HINT_WINDOW ? c->vs - PHONE_HINT_WINDOW : 0;
    size_t hi = KS_MIN(c->n, c->ve + PHONE_HINT_WINDOW), nh = 0;
    const char *t = c->text;
    size_t a = hint_after(t, c->ve, hi), b = hint_before(t, lo, c->vs);
    while (nh < PHONE_HINTS_MAX && (a < hi || b != SIZE_MAX)) {
        /* distances: ve + d - 1 after, vs - d before */
        bool after = a < hi && (b == SIZE_MAX || a - c->ve + 1 <= c->vs - b);
        size_t i = after ? a : b;
        if (after)
            a = hint_after(t, a + 1, hi);
        else
            b = hint_before(t, lo, b);
        char r[3] = "";
        if (!hint_at(t, i, hi, r))
            continue;
        bool dup = false;
        for (size_t k = 0; k < nh; k++)
            dup |= !strcmp(out[k], r);
        if (!dup)
            memcpy(out[nh++], r, 3);
    }
    return nh;
}

/* A national number not valid in the default region: the first region,
 * hinted ones first, where it is valid and grouped as that region writes
 * it ("912-34-5678" is no German number, "03-6205-3111" a Japanese one
 * when the text shows +81): 2; a weaker guess: 1; none: 0. */
static int phone_elsewhere(ts_cand *c, const char *v, size_t n, char *e164, size_t cap)
{
    /* NNN-NN-NNNN is how a US SSN is written (an invalid one: a valid one
     * is the SSN rule's); read abroad it would pass as a Spanish number
     * with two groups merged */
    if (n == 11 && v[3] == '-' && v[6] == '-')
        return false;
    char hints[PHONE_HINTS_MAX + 1][3];
    const char *list[PHONE_HINTS_MAX + 1 + KS_ARRAY_LEN(phone_regions)];
    size_t nh = phone_hints(c, hints);
    /* then the unit's own (the sender's country) */
    bool dup = !c->hint;
    for (size_t k = 0; k < nh && !dup; k++)
        dup = !strcmp(hints[k], c->hint);
    if (!dup)
        memcpy(hints[nh++], c->hint, 3);
    for (size_t i = 0; i < nh + KS_ARRAY_LEN(phone_regions); i++)
        list[i] = i < nh ? hints[i] : phone_regions[i - nh];
    /* the regions the text names first, as they are; then the guessed
     * ones, a region that writes the number exactly so before one whose
     * grouping merely allows it ("090-1234-5678" is Japanese, not Indian) */
    if ((nh && ks__phone_first(v, n, list, nh, 1, e164, cap) >= 0) ||
        ks__phone_first(v, n, phone_regions, KS_ARRAY_LEN(phone_regions), 2, e164, cap) >= 0)
        return 2;
    /* Last: a number a key word calls a phone ("Phone: 60-56-85-91"),
     * written with separators, valid somewhere though not grouped as there:
     * still personal data, its country a guess. A bare digit run is an id
     * more often. */
    bool sep = false;
    for (size_t i = 0; i < n; i++)
        sep |= v[i] == ' ' || v[i] == '-' || v[i] == '.';
    /* delivering: the confirmation saw the key word (no words then) */
    if (!sep || (!c->delivering && !ks__ts_context(c)))
        return 0;
    return ks__phone_first(v, n, phone_regions, KS_ARRAY_LEN(phone_regions), 0, e164, cap) >= 0;
}

/* Four dot-separated numbers up to 255 without leading zeros: an IPv4
 * address ("[4.48.136.190]" in a Received header), not a phone. */
static bool is_ipv4(const char *v, size_t n)
{
    int groups = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        unsigned x = 0;
        while (j < n && is_digit(v[j]) && j - i < 4)
            x = x * 10 + (unsigned)(v[j++] - '0');
        if (j == i || j - i > 3 || x > 255 || (v[i] == '0' && j - i > 1))
            return false;
        groups++;
        if (j == n)
            break;
        if (v[j] != '.')
            return false;
        i = j + 1;
    }
    return groups == 4;
}

/* A date written day (or month) first: 13.03.2024, 1/2/2024, 03-13-2024
 * ("Am 13.03.2024 um 17:02 schrieb"), at the start of a candidate. */
static bool dmy_date(const char *v, size_t n)
{
    size_t i = 0, a = 0, b;
    while (i < n && is_digit(v[i]) && i < 3)
        i++;
    if (!i || i > 2 || i >= n || (v[i] != '.' && v[i] != '/' && v[i] != '-'))
        return false;
    char sep = v[i];
    a = ++i;
    while (i < n && is_digit(v[i]) && i - a < 3)
        i++;
    if (i == a || i - a > 2 || i >= n || v[i] != sep)
        return false;
    b = ++i;
    while (i < n && is_digit(v[i]))
        i++;
    return i - b == 4 && (v[b] == '1' || v[b] == '2') && (v[b + 1] == '9' || v[b + 1] == '0');
}

/* Whether the line [s, e) is numbers only (digits and their punctuation,
 * three digits or more): a row of a table of numbers. */
static bool numeric_line(const char *t, size_t s, size_t e)
{
    size_t digits = 0;
    for (size_t i = s; i < e; i++) {
        if (is_digit(t[i]))
            digits++;
        else if (!strchr(" \t\r>.,-/()+", t[i]))
            return false;
    }
    return digits >= 3;
}

/* A number alone on its line, but for white space and a reply's '>'
 * quotes: how a signature block writes its phone numbers ("Katrin Vogel /
 * Nordwind Logistik GmbH / 040 3861 2290"), with no key word beside them.
 * An order, invoice or tracking number has its label on its line; a line
 * of numbers between others (a table of octal codes, PostScript) is data. */
static bool alone_on_line(const ts_cand *c)
{
    const char *t = c->text;
    size_t i = c->vs, e = c->ve;
    while (i > 0 && (t[i - 1] == ' ' || t[i - 1] == '\t' || t[i - 1] == '>'))
        i--;
    if (i > 0 && t[i - 1] != '\n')
        return false;
    while (e < c->n && (t[e] == ' ' || t[e] == '\t' || t[e] == '\r'))
        e++;
    /* an extension after it ("503-555-0199 ext. 12", "x 214") */
    if (e + 1 < c->n && (t[e] == 'x' || t[e] == 'X' || (e + 3 < c->n && !strncasecmp(t + e, "ext", 3)))) {
        e += t[e] == 'x' || t[e] == 'X' ? 1 : 3;
        while (e < c->n && (t[e] == '.' || t[e] == ' ' || t[e] == 'n' || t[e] == ':'))
            e++;
        size_t d = e;
        while (e < c->n && is_digit(t[e]) && e - d < 6)
            e++;
        if (e == d)
            return false;
        while (e < c->n && (t[e] == ' ' || t[e] == '\t' || t[e] == '\r'))
            e++;
    }
    if (e < c->n && t[e] != '\n')
        return false;
    if (i > 1) {
        size_t ps = i - 1;
        while (ps > 0 && t[ps - 1] != '\n' && i - ps < 256)
            ps--;
        if (numeric_line(t, ps, i - 1))
            return false;
    }
    if (e + 1 < c->n) {
        const char *nl = memchr(t + e + 1, '\n', KS_MIN(c->n - e - 1, (size_t)256));
        if (numeric_line(t, e + 1, nl ? (size_t)(nl - t) : c->n))
            return false;
    }
    return true;
}

/* A signature's one-letter label right before the number: "T: 0117 496
 * 0123 | M: 07700 900 456", "P. 06 ..." (Tel., Mob. are context words). */
static bool letter_label(const ts_cand *c)
{
    const char *t = c->text;
    size_t i = c->vs;
    while (i > 0 && (t[i - 1] == ' ' || t[i - 1] == '\t'))
        i--;
    if (i < 2 || (t[i - 1] != ':' && t[i - 1] != '.'))
        return false;
    char l = (char)toupper((unsigned char)t[i - 2]);
    return strchr("TMPFDOCH", l) && (i < 3 || !isalnum((unsigned char)t[i - 3]));
}

/* A span of years ("2008-2019", "1996 2000"): two groups of 19xx/20xx. */
static bool year_span(const char *v, size_t n)
{
    bool y1 = n == 9 && (v[0] == '1' || v[0] == '2') && (v[1] == '9' || v[1] == '0');
    bool y2 = n == 9 && (v[5] == '1' || v[5] == '2') && (v[6] == '9' || v[6] == '0');
    return y1 && y2 && !is_digit(v[4]) && is_digit(v[3]) && is_digit(v[8]);
}

static bool v_phone(ts_cand *c)
{
    const char *v = c->text + c->vs;
    size_t n = c->ve - c->vs;
    char e164[32];
    size_t nd = 0;
    for (size_t i = 0; i < n; i++)
        nd += is_digit(v[i]);
    if (nd < 7 || nd > 15 || is_ipv4(v, n))
        return false;
    /* a date (2024-01-15, 2015-12-22 04) or a version, not a phone */
    if ((n >= 10 && is_digit(v[0]) && is_digit(v[3]) && (v[4] == '-' || v[4] == '.' || v[4] == '/') &&
         (v[7] == '-' || v[7] == '.' || v[7] == '/')) ||
        dmy_date(v, n) || year_span(v, n))
        return false;
    bool sep = false;
    for (size_t i = 0; i < n; i++)
        sep |= v[i] == ' ' || v[i] == '-' || v[i] == '.' || v[i] == ')';
    /* a grouped national number alone on its line or after a one-letter
     * label: a signature's, as near as a key word; three groups or more,
     * or two after a trunk prefix ("0171 4432198"): "3.988244",
     * "7408-2005" are a decimal and a range */
    size_t groups = 1;
    for (size_t i = 1; i < n; i++)
        groups += is_digit(v[i]) && !is_digit(v[i - 1]);
    bool alone = sep && v[0] != '+' && v[0] != '(' && (groups >= 3 || (groups == 2 && v[0] == '0')) &&
                 (alone_on_line(c) || letter_label(c));
    /* libphonenumber was most of the scan time (every digit run): first
     * what it cannot change. A number that could not reach the threshold
     * even if valid (no context word, no + or parenthesis) is not parsed. */
    int best = c->confidence + (v[0] == '+' || v[0] == '(' ? 15 : 0) +
               (!sep && v[0] != '+' ? -20 : 0) + (alone ? 30 : 0);
    if (best < c->min_confidence && ks__ts_context(c))
        best += 30;
    if (best < c->min_confidence && !ks__ts_is_example(v, n))
        return false;
    int verdict = ks__phone_e164(v, n, c->region ? c->region : "US", e164, sizeof e164);
    if (verdict < 2 && v[0] != '+') {
        char alt[32];
        int guess = phone_elsewhere(c, v, n, alt, sizeof alt);
        if (guess) {
            memcpy(e164, alt, sizeof alt);
            verdict = 2;
            c->confidence -= guess == 2 ? 5 : 10; /* a guess at the country */
        }
    }
    if (!verdict)
        return false;
    if (verdict == 1)
        c->confidence -= 10; /* plausible length, unassigned range */
    size_t el = strlen(e164);
    memcpy(c->norm, e164, el + 1);
    c->nnorm = el;
    if (v[0] == '+' || v[0] == '(')
        c->confidence += 15;
    if (alone && !ks__ts_context(c))
        c->confidence += 30;
    if (!sep && v[0] != '+')
        c->confidence -= 20; /* a bare digit run is an id more often */
    c->valid = verdict == 2 ? KS_TV_VALID : KS_TV_UNCHECKED;
    return true;
}

static bool luhn(const char *d, size_t n)
{
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int x = d[n - 1 - i] - '0';
        if (i & 1) {
            x *= 2;
            if (x > 9)
                x -= 9;
        }
        sum += x;
    }
    return sum % 10 == 0;
}

/* Issuer ranges (ISO/IEC 7812 IINs as networks publish them) and lengths. */
static const char *card_network(const char *d, size_t n)
{
    int p2 = (d[0] - '0') * 10 + (d[1] - '0');
    int p3 = p2 * 10 + (d[2] - '0');
    int p4 = p3 * 10 + (d[3] - '0');
    int p6 = p4 * 100 + (d[4] - '0') * 10 + (d[5] - '0');
    if (d[0] == '4' && (n == 13 || n == 16 || n == 19))
        return "visa";
    if (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && n == 16)
        return "mastercard";
    if ((p2 == 34 || p2 == 37) && n == 15)
        return "amex";
    if ((p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) &&
        n >= 16 && n <= 19)
        return "discover";
    if ((p4 >= 3528 && p4 <= 3589 && n >= 16 && n <= 19) ||
        ((p4 == 2131 || p4 == 1800) && n == 15))
        return "jcb";
    if (((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39 || p4 == 3095) && n >= 14 &&
        n <= 19)
        return "diners";
    if (p2 == 62 && n >= 16 && n <= 19)
        return "unionpay";
    if ((p2 == 50 || (p2 >= 56 && p2 <= 69) || p4 == 604) && n >= 12 && n <= 19)
        return "maestro";
    return NULL;
}

static bool v_card(ts_cand *c)
{
    const char *v = c->text + c->vs;
    size_t n = c->ve - c->vs;
    /* a country code before it: a phone number ("Tel.: +49 431 5560 1187"
     * is Luhn-valid by chance) */
    if (c->vs > 0 && c->text[c->vs - 1] == '+')
        return false;
    /* separators, if any, are all the same, and group the digits as cards
     * are printed: fours (the last group shorter), or 4-6-5 / 4-6-4
     * (American Express, Diners) */
    char sep = 0;
    size_t groups[8], ng = 0, run = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && is_digit(v[i])) {
            run++;
            continue;
        }
        if (ng == KS_ARRAY_LEN(groups))
            return false;
        groups[ng++] = run;
        run = 0;
        if (i == n)
            break;
        if (sep && v[i] != sep)
            return false;
        sep = v[i];
    }
    if (ng > 1) {
        bool fours = true;
        for (size_t g = 0; g < ng; g++)
            fours &= g + 1 < ng ? groups[g] == 4 : groups[g] >= 1 && groups[g] <= 4;
        bool amex = ng == 3 && groups[0] == 4 && groups[1] == 6 && (groups[2] == 5 || groups[2] == 4);
        if (!fours && !amex)
            return false;
    }
    size_t nd = norm_filter(c, keep_digit, false);
    if (nd < 12 || nd > 19 || !luhn(c->norm, nd))
        return false;
    const char *net = card_network(c->norm, nd);
    if (!net)
        return false;
    size_t same = 0;
    for (size_t i = 1; i < nd; i++)
        same += c->norm[i] == c->norm[0];
    if (same + 1 == nd)
        return false;
    ks__ts_detail(c, "card.network", "%s", net);
    if (ks__ts_is_example(c->norm, nd))
        c->valid = KS_TV_EXAMPLE;
    else
        c->valid = KS_TV_VALID;
    if (!sep)
        c->confidence -= 10; /* digits alone are often ids */
    return true;
}

/* IBAN lengths per country (ISO 13616 registry). */
static const struct {
    char cc[3];
    unsigned char len;
} iban_len[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
    {"BG", 22}, {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22},
    {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20},
    {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22},
    {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28},
    {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30},
    {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21},
    {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
    {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
    {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33},
    {"SA", 24}, {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27},
    {"SO", 23}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29},
    {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

static bool iban_ok(ts_cand *c);

/* The pattern may take a following word for a last group ("... 3249 31
 * thanks"): on failure, retry without the trailing groups. */
static bool v_iban(ts_cand *c)
{
    size_t ve = c->ve;
    for (;;) {
        if (iban_ok(c))
            return true;
        const char *sp = NULL;
        for (const char *p = c->text + c->ve; p > c->text + c->vs; p--)
            if (p[-1] == ' ') {
                sp = p - 1;
                break;
            }
        if (!sp || (size_t)(sp - c->text) - c->vs < 15) {
            c->ve = ve;
            return false;
        }
        c->ve = (size_t)(sp - c->text);
        c->ndetails = c->ndbuf = 0;
    }
}

static bool iban_ok(ts_cand *c)
{
    size_t n = norm_filter(c, keep_alnum, true);
    const char *s = c->norm;
    size_t want = 0;
    if (n < 15 || n > 34)
        return false;
    for (size_t i = 0; i < KS_ARRAY_LEN(iban_len); i++)
        if (s[0] == iban_len[i].cc[0] && s[1] == iban_len[i].cc[1])
            want = iban_len[i].len;
    if (want != n)
        return false;
    /* mod 97 of the rearranged number, letters as 10..35 */
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        char ch = s[(k + 4) % n];
        if (is_digit(ch))
            rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
        else if (ch >= 'A' && ch <= 'Z')
            rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
        else
            return false;
    }
    if (rem != 1)
        return false;
    ks__ts_detail(c, "iban.country", "%.2s", s);
    c->valid = ks__ts_is_example(s, n) ? KS_TV_EXAMPLE : KS_TV_VALID;
    return true;
}

static bool v_ssn(ts_cand *c)
{
    const char *v = c->text + c->vs;
    size_t n = c->ve - c->vs;
    if (n == 11 && v[3] != v[6])
        return false; /* 123-45 6789: mixed separators */
    size_t nd = norm_filter(c, keep_digit, false);
    if (nd != 9)
        return false;
    const char *d = c->norm;
    int area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    int group = (d[3] - '0') * 10 + (d[4] - '0');
    int serial = atoi(d + 5);
    if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
        return false;
    size_t same = 0;
    for (size_t i = 1; i < 9; i++)
        same += d[i] == d[0];
    if (same == 8)
        return false;
    if (n == 9)
        c->confidence -= 30; /* nine bare digits: needs context */
    c->valid = ks__ts_is_example(d, 9) ? KS_TV_EXAMPLE : KS_TV_VALID;
    return true;
}

/* Individual Number (マイナンバー): 11 digits and a check digit, weights
 * 2..7 then 2..6 from the right (Cabinet Office ordinance). */
static bool v_mynumber(ts_cand *c)
{
    size_t nd = norm_filter(c, keep_digit, false);
    if (nd != 12)
        return false;
    const char *d = c->norm;
    int sum = 0;
    for (int n = 1; n <= 11; n++) {
        int p = d[11 - n] - '0';
        int q = n <= 6 ? n + 1 : n - 5;
        sum += p * q;
    }
    int r = sum % 11;
    int check = r <= 1 ? 0 : 11 - r;
    if (check != d[11] - '0')
        return false;
    c->valid = KS_TV_VALID;
    return true;
}

/* ---- the table --------------------------------------------------------------------------- */

/* pure: see ts_validator. The key-word validators, AWS secrets (paired with
 * a key id nearby), phone numbers (the country from numbers and addresses
 * around), PEM/PuTTY blocks and SAS/Azure strings read around the value. */
static const ts_validator validators[] = {
    {"aws_key_id", v_aws_key_id, true},
    {"aws_secret", v_aws_secret, false},
    {"aws_secret_paired", v_aws_secret_paired, false},
    {"github", v_github, true},
    {"jwt", v_jwt, true},
    {"pem", v_pem, false},
    {"putty", v_putty, false},
    {"azure_key", v_azure_key, false},
    {"sas", v_sas, false},
    {"entra_secret", v_entra_secret, false},
    {"password", ks__tsv_password, false},
    {"password_strong", ks__tsv_password_strong, false},
    {"url_password", ks__tsv_url_password, false},
    {"generic", ks__tsv_generic, false},
    {"sql_password", ks__tsv_sql_password, false},
    {"bearer", ks__tsv_bearer, false},
    {"basic_auth", ks__tsv_basic_auth, false},
    {"b64_password", ks__tsv_b64_password, false},
    {"pgpass", ks__tsv_pgpass, false},
    {"email", v_email, true},
    {"phone", v_phone, false},
    {"card", v_card, true},
    {"iban", v_iban, true},
    {"ssn", v_ssn, true},
    {"mynumber", v_mynumber, true},
};

const ts_validator *ks__ts_validator_find(const char *name)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(validators); i++)
        if (!strcmp(validators[i].name, name))
            return &validators[i];
    return ks__ts_decoder_find(name);
}
