/* SPDX-License-Identifier: Apache-2.0
 *
 * kensa-gen: generators of synthetic evidence with known content, for the
 * demo (`make hunt`), tests and benchmarks. Each generator registers in
 * generators.def: KS_GEN(name, run_fn, demo_fn, summary).
 *   run_fn(argc, argv)  custom output (sizes, shapes), argv[0] = name
 *   demo_fn(dir)        writes its part of the demo evidence under dir
 * Output is deterministic for a given seed so tests can assert counts.
 */
#ifndef KS_GEN_H
#define KS_GEN_H

#include <stdint.h>
#include <stdio.h>

#define KS_GEN(name, run, demo, summary) int run(int argc, char **argv); int demo(const char *dir);
#include "generators.def"
#undef KS_GEN

#define KS_GEN_ARRAY(a) (sizeof(a) / sizeof((a)[0]))

/* Deterministic PRNG (xorshift64*). */
typedef struct gen_rng {
    uint64_t s;
} gen_rng;
static inline uint64_t gen_next(gen_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}
static inline uint64_t gen_below(gen_rng *r, uint64_t n)
{
    return n ? gen_next(r) % n : 0;
}

/* mkdir -p; 0 or -1 (message printed). */
int gen_mkdirs(const char *path);
/* Opens dir/name for writing, creating dir; NULL on error (printed). */
FILE *gen_open(const char *dir, const char *name);
/* Writes p[0..n) as dir/name (creating dir); 0 or -1 (a failed open is
 * printed). gen_write_text: a NUL-terminated text. */
int gen_write(const char *dir, const char *name, const void *p, size_t n);
int gen_write_text(const char *dir, const char *name, const char *text);
/* Formats a UTC second count as RFC 3339 into buf. */
void gen_time(int64_t secs, char *buf, size_t cap);

#endif
