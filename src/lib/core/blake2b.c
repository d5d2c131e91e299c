/* SPDX-License-Identifier: Apache-2.0
 *
 * BLAKE2b-256, unkeyed: the content hash of an indexed file and of a
 * document's text (files.content_h and the document key), which must equal
 * libsodium's crypto_generichash(out, 32, p, n, NULL, 0) bit for bit: the
 * hash is part of the index's identity.
 *
 * Why not libsodium alone: sodium_init() picks its AVX2 compression function
 * whenever the CPU has AVX2, and on the machine the index build is measured
 * on (AMD EPYC, virtualised) that one hashes ~570 MB/s while the portable
 * 64-bit code hashes ~1,050 MB/s (libgcrypt's AVX2 and generic code: the
 * same two speeds), so the hash was ~8 % of a mailbox's index build. On
 * other CPUs AVX2 wins. So the first use times both on the same bytes (CPU
 * time of the thread, so a preemption does not count) and keeps the faster;
 * either gives the same hash (tests/unit/test_core compares them on every
 * length up to a few KB and on split updates).
 *
 * The compression function is written from RFC 7693 (section 3): twelve
 * rounds of the G mixing function over a 16-word state, message words
 * permuted by SIGMA, the 128-bit byte counter and the final-block flag
 * folded into words 12-14.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include "core/blake2b.h"

static const uint64_t IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

/* the message word order of each round; rounds 10 and 11 reuse rows 0 and 1 */
static const uint8_t SIGMA[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

static inline uint64_t rotr64(uint64_t x, unsigned c)
{
    return (x >> c) | (x << (64 - c));
}

static inline uint64_t load64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
#else
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
#endif
}

#define G(a, b, c, d, x, y)                                                                        \
    do {                                                                                           \
        v[a] = v[a] + v[b] + (x);                                                                  \
        v[d] = rotr64(v[d] ^ v[a], 32);                                                            \
        v[c] = v[c] + v[d];                                                                        \
        v[b] = rotr64(v[b] ^ v[c], 24);                                                            \
        v[a] = v[a] + v[b] + (y);                                                                  \
        v[d] = rotr64(v[d] ^ v[a], 16);                                                            \
        v[c] = v[c] + v[d];                                                                        \
        v[b] = rotr64(v[b] ^ v[c], 63);                                                            \
    } while (0)

#define ROUND(r)                                                                                   \
    do {                                                                                           \
        G(0, 4, 8, 12, m[SIGMA[(r) % 10][0]], m[SIGMA[(r) % 10][1]]);                              \
        G(1, 5, 9, 13, m[SIGMA[(r) % 10][2]], m[SIGMA[(r) % 10][3]]);                              \
        G(2, 6, 10, 14, m[SIGMA[(r) % 10][4]], m[SIGMA[(r) % 10][5]]);                             \
        G(3, 7, 11, 15, m[SIGMA[(r) % 10][6]], m[SIGMA[(r) % 10][7]]);                             \
        G(0, 5, 10, 15, m[SIGMA[(r) % 10][8]], m[SIGMA[(r) % 10][9]]);                             \
        G(1, 6, 11, 12, m[SIGMA[(r) % 10][10]], m[SIGMA[(r) % 10][11]]);                           \
        G(2, 7, 8, 13, m[SIGMA[(r) % 10][12]], m[SIGMA[(r) % 10][13]]);                            \
        G(3, 4, 9, 14, m[SIGMA[(r) % 10][14]], m[SIGMA[(r) % 10][15]]);                            \
    } while (0)

/* RFC 7693 3.2: compresses one 128-byte block into h; t0/t1 count the
 * message bytes so far including this block, last marks the final one. */
static void compress(uint64_t h[8], const uint8_t *block, uint64_t t0, uint64_t t1, bool last)
{
    uint64_t v[16], m[16];
    for (unsigned i = 0; i < 16; i++)
        m[i] = load64(block + 8 * i);
    for (unsigned i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = IV[i];
    }
    v[12] ^= t0;
    v[13] ^= t1;
    if (last)
        v[14] = ~v[14];
    /* rounds spelt out: with the round a constant, SIGMA's indices are
     * too and m[] stays in registers (a loop over r indexed m[] through
     * SIGMA at run time: ~580 instead of ~1,050 MB/s) */
    ROUND(0); ROUND(1); ROUND(2); ROUND(3); ROUND(4); ROUND(5);
    ROUND(6); ROUND(7); ROUND(8); ROUND(9); ROUND(10); ROUND(11);
    for (unsigned i = 0; i < 8; i++)
        h[i] ^= v[i] ^ v[i + 8];
}

static void own_init(ks_b2 *s)
{
    memcpy(s->own.h, IV, sizeof IV);
    s->own.h[0] ^= 0x01010000ULL ^ 32; /* depth 1, fanout 1, no key, 32-byte digest */
    s->own.t0 = s->own.t1 = 0;
    s->own.nbuf = 0;
}

static void own_count(ks_b2 *s, uint64_t n)
{
    s->own.t0 += n;
    if (s->own.t0 < n)
        s->own.t1++;
}

static void own_update(ks_b2 *s, const uint8_t *p, size_t n)
{
    /* the last block is compressed by final() with its flag: a full
     * buffer is compressed only once more bytes follow it */
    if (!n)
        return;
    if (s->own.nbuf) {
        size_t take = KS_MIN(n, sizeof s->own.buf - s->own.nbuf);
        memcpy(s->own.buf + s->own.nbuf, p, take);
        s->own.nbuf += take;
        p += take;
        n -= take;
        if (!n)
            return;
        own_count(s, sizeof s->own.buf);
        compress(s->own.h, s->own.buf, s->own.t0, s->own.t1, false);
        s->own.nbuf = 0;
    }
    while (n > sizeof s->own.buf) {
        own_count(s, sizeof s->own.buf);
        compress(s->own.h, p, s->own.t0, s->own.t1, false);
        p += sizeof s->own.buf;
        n -= sizeof s->own.buf;
    }
    memcpy(s->own.buf, p, n);
    s->own.nbuf = n;
}

static void own_final(ks_b2 *s, uint8_t out[32])
{
    own_count(s, s->own.nbuf);
    memset(s->own.buf + s->own.nbuf, 0, sizeof s->own.buf - s->own.nbuf);
    compress(s->own.h, s->own.buf, s->own.t0, s->own.t1, true);
    for (unsigned i = 0; i < 4; i++)
        for (unsigned j = 0; j < 8; j++)
            out[8 * i + j] = (uint8_t)(s->own.h[i] >> (8 * j));
}

/* ---- choosing the faster one -------------------------------------------------------- */

static int b2_impl = -1; /* KS_B2_OWN or KS_B2_SODIUM; set once by choose() */
static pthread_once_t b2_once = PTHREAD_ONCE_INIT;

static uint64_t thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The best of three hashes of 32 KiB each way (~0.3 ms in all). */
static void choose(void)
{
    static uint8_t blk[32768];
    uint64_t best[2] = {UINT64_MAX, UINT64_MAX};
    uint8_t out[32];
    /* libsodium's choice of code is made by sodium_init(): time that one */
    if (sodium_init() < 0) {
        b2_impl = KS_B2_OWN;
        return;
    }
    for (size_t i = 0; i < sizeof blk; i++)
        blk[i] = (uint8_t)(i * 131u + (i >> 7));
    for (int round = 0; round < 3; round++) {
        for (int impl = 0; impl < 2; impl++) {
            ks_b2 s;
            uint64_t t = thread_ns();
            s.impl = impl;
            if (impl == KS_B2_OWN) {
                own_init(&s);
                own_update(&s, blk, sizeof blk);
                own_final(&s, out);
            } else {
                crypto_generichash_init(&s.sod, NULL, 0, 32);
                crypto_generichash_update(&s.sod, blk, sizeof blk);
                crypto_generichash_final(&s.sod, out, 32);
            }
            t = thread_ns() - t;
            if (t < best[impl])
                best[impl] = t;
        }
    }
    b2_impl = best[KS_B2_OWN] <= best[KS_B2_SODIUM] ? KS_B2_OWN : KS_B2_SODIUM;
}

void ks__b2_force(int impl)
{
    pthread_once(&b2_once, choose);
    b2_impl = impl;
}

/* ---- the interface ------------------------------------------------------------------ */

void ks__b2_init(ks_b2 *s)
{
    pthread_once(&b2_once, choose);
    s->impl = b2_impl;
    if (s->impl == KS_B2_OWN)
        own_init(s);
    else
        crypto_generichash_init(&s->sod, NULL, 0, 32);
}

void ks__b2_update(ks_b2 *s, const void *p, size_t n)
{
    if (s->impl == KS_B2_OWN)
        own_update(s, p, n);
    else
        crypto_generichash_update(&s->sod, p, (unsigned long long)n);
}

void ks__b2_final(ks_b2 *s, uint8_t out[32])
{
    if (s->impl == KS_B2_OWN)
        own_final(s, out);
    else
        crypto_generichash_final(&s->sod, out, 32);
}
