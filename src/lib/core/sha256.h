/* SPDX-License-Identifier: Apache-2.0
 *
 * SHA-256 and HMAC-SHA-256 on libsodium's state structs, by the CPU's SHA
 * extensions when it has them (sha256.c says why), else by libsodium
 * itself. The bytes out are libsodium's (crypto_hash_sha256,
 * crypto_auth_hmacsha256): the index's keyed hashes are its identity.
 * Internal (ks__): the store's item MACs and address digests.
 *
 * States are caller-owned; final consumes the state (zeroes it, as
 * libsodium does). Thread-safe: the one-time CPU check runs under
 * pthread_once.
 */
#ifndef KS_CORE_SHA256_H
#define KS_CORE_SHA256_H

#include <sodium.h>
#include "core/core.h"

void ks__sha256_update(crypto_hash_sha256_state *st, const void *p, size_t n);
void ks__sha256_final(crypto_hash_sha256_state *st, uint8_t out[32]);
void ks__sha256(uint8_t out[32], const void *p, size_t n);
/* crypto_auth_hmacsha256_update / _final */
void ks__hmacsha256_update(crypto_auth_hmacsha256_state *st, const void *p, size_t n);
void ks__hmacsha256_final(crypto_auth_hmacsha256_state *st, uint8_t out[32]);
/* Tests: false makes every call use libsodium from now on. */
void ks__sha256_force_sodium(bool sodium);

#endif
