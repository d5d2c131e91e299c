/* SPDX-License-Identifier: Apache-2.0
 *
 * The Sigma literal prefilter (sigma_pre.c): one Vectorscan database over
 * the literal needles of every rule; per event, the list of rules worth
 * evaluating. The sg_pre is immutable and shared; each worker owns an
 * sg_pre_ws (Vectorscan scratch, candidate list, text buffer).
 */
#ifndef KS_SIGMA_PRE_H
#define KS_SIGMA_PRE_H

#include "sigma_int.h"

typedef struct sg_pre sg_pre;
typedef struct sg_pre_ws sg_pre_ws;

/* run: the rules to evaluate (borrowed, must outlive the prefilter).
 * flags: SG_PRE_ON (else every rule of an applicable logsource is a
 * candidate), SG_PRE_PATTERNS (also one needle per pattern of long value
 * lists, so evaluation skips patterns whose literal the scan did not see:
 * measured neutral on SigmaHQ, costs compile time; off by default). */
enum { SG_PRE_ON = 1, SG_PRE_PATTERNS = 2 };
/* e (may be NULL) lends its compiled-rule cache (sigma.cache): the literal
 * databases are loaded instead of compiled when nothing changed. */
int sg__pre_build(sg_rule *const *run, size_t nrun, unsigned flags, const ks_engine *e,
                  sg_pre **out);
void sg__pre_free(sg_pre *p);
void sg__pre_stats(const sg_pre *p, uint32_t *nneedles, uint32_t *nalways);
int sg__pre_ws_new(const sg_pre *p, sg_pre_ws **out);
void sg__pre_ws_free(sg_pre_ws *w);
/* Indices into run of the rules that may match ev, ascending. sc must hold
 * ev's index (sg__scratch_event). The list is valid until the next call. */
size_t sg__pre_candidates(const sg_pre *p, sg_pre_ws *w, const ks_event *ev, sg_scratch *sc,
                          const uint32_t **list);

/* Key gates (sigma_gate.c): of the candidates, the rules whose condition
 * needs the key field (the one most rules compare for plain equality,
 * EventID on Windows) to hold one of a few texts it does not hold. Built
 * once over run (NULL, KS_OK: no key); immutable, shared by the workers. */
typedef struct sg_gates sg_gates;
int sg__gates_build(sg_rule *const *run, size_t nrun, sg_gates **out);
void sg__gates_free(sg_gates *g);
/* The keys of one event, each looked up when a candidate first needs it:
 * sg__gates_event (after sg__scratch_event) empties k, then sg__gate_pass
 * per candidate (false: its evaluation would be false; g may be NULL). */
#define SG_GATE_KEYS 32
enum { SG_GATE_UNSEEN = 0, SG_GATE_OPEN, SG_GATE_ABSENT, SG_GATE_TEXT };
typedef struct sg_gate_key {
    uint8_t state[SG_GATE_KEYS]; /* SG_GATE_OPEN: undecided (repeated, long, no text) */
    uint8_t n[SG_GATE_KEYS];
    uint64_t head[SG_GATE_KEYS]; /* text's first 8 bytes, zero-padded */
    char text[SG_GATE_KEYS][64]; /* lowercased (SG_GATE_TEXT) */
} sg_gate_key;
void sg__gates_event(sg_gate_key *k);
bool sg__gate_pass(const sg_gates *g, uint32_t rule, sg_scratch *sc, sg_gate_key *k);

#endif
