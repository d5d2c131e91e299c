/* SPDX-License-Identifier: Apache-2.0
 *
 * BLAKE2b-256 (unkeyed), equal bit for bit to libsodium's
 * crypto_generichash(out, 32, p, n, NULL, 0), by whichever of libsodium's
 * code and kensa's portable code is faster on this CPU (blake2b.c says
 * why). Internal (ks__): the index's content and document hashes.
 *
 * A ks_b2 is caller-owned: init, update any number of times, final once
 * (final consumes it; copy the struct first to read a running hash). A
 * copy of a state is a state. Thread-safe: states are independent, the
 * one-time choice is made under pthread_once.
 */
#ifndef KS_CORE_BLAKE2B_H
#define KS_CORE_BLAKE2B_H

#include <sodium.h>
#include "core/core.h"

enum { KS_B2_OWN = 0, KS_B2_SODIUM = 1 };

typedef struct ks_b2 {
    int impl;                       /* KS_B2_OWN or KS_B2_SODIUM, fixed at init */
    union {
        crypto_generichash_state sod; /* libsodium's state */
        struct {
            uint64_t h[8];          /* chained hash value */
            uint64_t t0, t1;        /* bytes compressed so far (128-bit counter) */
            uint8_t buf[128];       /* bytes not yet compressed (the last block waits for final) */
            size_t nbuf;
        } own;
    };
} ks_b2;

void ks__b2_init(ks_b2 *s);
void ks__b2_update(ks_b2 *s, const void *p, size_t n);
void ks__b2_final(ks_b2 *s, uint8_t out[32]);
/* Tests: use impl from now on (the choice is otherwise the timed one). */
void ks__b2_force(int impl);

#endif
