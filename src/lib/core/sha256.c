/* SPDX-License-Identifier: Apache-2.0
 *
 * SHA-256 (FIPS 180-4) by the x86 SHA extensions, on libsodium's state
 * structs, so a state libsodium keyed (the store's HMAC inner and outer
 * states, made once per handle) is carried on here.
 *
 * Why: libsodium's SHA-256 is portable C (~2,000 instructions a block),
 * and the store computes an HMAC-SHA-256 per distinct item of a batch (two
 * or three blocks each) and a SHA-256 per address: ~4 % of a mailbox's
 * index build. sha256rnds2 does two rounds an instruction. CPUs without
 * the extensions (or builds for other architectures) call libsodium.
 *
 * The round structure is the one Intel's SHA extensions paper gives: the
 * state kept as ABEF / CDGH, message words in groups of four scheduled
 * by sha256msg1 / sha256msg2, each group's K added before two rnds2.
 */
#include <pthread.h>
#include <string.h>
#include "core/sha256.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define KS_SHA_NI 1
#endif

static bool use_ni;
static pthread_once_t ni_once = PTHREAD_ONCE_INIT;

#ifdef KS_SHA_NI
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* Compresses nblocks 64-byte blocks into state (host-order words A..H). */
__attribute__((target("sha,sse4.1,ssse3"))) static void compress_ni(uint32_t state[8], const uint8_t *p,
                                                                   size_t nblocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
    __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)&state[0]), 0xB1); /* CDAB */
    __m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)&state[4]), 0x1B); /* EFGH */
    __m128i s0 = _mm_alignr_epi8(t, s1, 8);                                                          /* ABEF */
    s1 = _mm_blend_epi16(s1, t, 0xF0);                                                               /* CDGH */
    for (; nblocks; nblocks--, p += 64) {
        __m128i abef = s0, cdgh = s1, w[4];
        for (int g = 0; g < 16; g++) {
            __m128i m;
            if (g < 4) {
                m = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * g)), bswap);
            } else {
                /* W[t-16] + s0(W[t-15]), + W[t-7], then the s1(W[t-2]) terms */
                m = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
                m = _mm_add_epi32(m, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
                m = _mm_sha256msg2_epu32(m, w[(g + 3) & 3]);
            }
            w[g & 3] = m;
            m = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)(const void *)&K[4 * g]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, m);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
        }
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
    }
    t = _mm_shuffle_epi32(s0, 0x1B);  /* FEBA */
    s1 = _mm_shuffle_epi32(s1, 0xB1); /* DCHG */
    _mm_storeu_si128((__m128i *)(void *)&state[0], _mm_blend_epi16(t, s1, 0xF0)); /* DCBA */
    _mm_storeu_si128((__m128i *)(void *)&state[4], _mm_alignr_epi8(s1, t, 8));    /* HGFE */
}

static void ni_check(void)
{
    unsigned a, b, c, d;
    bool sse = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_1) && (c & bit_SSSE3);
    use_ni = sse && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}
#else
static void ni_check(void)
{
    use_ni = false;
}
#endif

static bool ni(void)
{
    pthread_once(&ni_once, ni_check);
    return use_ni;
}

void ks__sha256_force_sodium(bool sodium)
{
    pthread_once(&ni_once, ni_check);
    if (sodium)
        use_ni = false;
    else
        ni_check();
}

void ks__sha256_update(crypto_hash_sha256_state *st, const void *p, size_t n)
{
#ifdef KS_SHA_NI
    if (ni()) {
        const uint8_t *in = p;
        size_t r = (size_t)((st->count >> 3) & 63);
        st->count += (uint64_t)n << 3;
        if (r) { /* fill the pending block first */
            size_t k = KS_MIN(n, 64 - r);
            memcpy(st->buf + r, in, k);
            in += k;
            n -= k;
            if (r + k < 64)
                return;
            compress_ni(st->state, st->buf, 1);
        }
        if (n >= 64) {
            compress_ni(st->state, in, n / 64);
            in += n & ~(size_t)63;
            n &= 63;
        }
        memcpy(st->buf, in, n);
        return;
    }
#endif
    crypto_hash_sha256_update(st, p, n);
}

void ks__sha256_final(crypto_hash_sha256_state *st, uint8_t out[32])
{
#ifdef KS_SHA_NI
    if (ni()) {
        size_t r = (size_t)((st->count >> 3) & 63);
        st->buf[r++] = 0x80;
        if (r > 56) {
            memset(st->buf + r, 0, 64 - r);
            compress_ni(st->state, st->buf, 1);
            r = 0;
        }
        memset(st->buf + r, 0, 56 - r);
        for (int i = 0; i < 8; i++)
            st->buf[56 + i] = (uint8_t)(st->count >> (56 - 8 * i));
        compress_ni(st->state, st->buf, 1);
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 4; j++)
                out[4 * i + j] = (uint8_t)(st->state[i] >> (24 - 8 * j));
        sodium_memzero(st, sizeof *st);
        return;
    }
#endif
    crypto_hash_sha256_final(st, out);
}

void ks__sha256(uint8_t out[32], const void *p, size_t n)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    ks__sha256_update(&st, p, n);
    ks__sha256_final(&st, out);
}

void ks__hmacsha256_update(crypto_auth_hmacsha256_state *st, const void *p, size_t n)
{
    ks__sha256_update(&st->ictx, p, n);
}

void ks__hmacsha256_final(crypto_auth_hmacsha256_state *st, uint8_t out[32])
{
    uint8_t ih[32];
    ks__sha256_final(&st->ictx, ih);
    ks__sha256_update(&st->octx, ih, sizeof ih);
    ks__sha256_final(&st->octx, out);
    sodium_memzero(ih, sizeof ih);
}
