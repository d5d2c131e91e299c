/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the network log readers: the bytes go through
 * every one of them (Windows DNS debug, Zeek TSV, Squid, VPC flow, passive
 * DNS CSV, NSG flow tuples) via a memory source; each event goes through
 * the network view, its query through the SUNBURST decoder and the
 * reassembly, and every value is formatted so a bad slice would be
 * touched. The raw bytes are also decoded as a query name.
 */
#include <stdlib.h>
#include <string.h>
#include "input_fuzz.h"
#include "detect/netfields.h"
#include "detect/sunburst_dga.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(const char *s, size_t n)
{
    ks_sb_msg m;
    char out[600];
    bool complete, b32;
    char frags[KS_SB_LAST + 1][KS_SB_FRAG_MAX + 1];
    if (!ks__sb_decode(s, n, &m) || m.kind != KS_SB_DOMAIN)
        return;
    memcpy(frags[m.seq], m.frag, m.nfrag + 1);
    ks__sb_assemble((const char(*)[KS_SB_FRAG_MAX + 1])frags, 1ull << m.seq, out, sizeof out, &complete, &b32);
}

/* Each event through the network view, its query and answers through the
 * decoder. */
static void on_event(void *ud, const ks_event *ev)
{
    ks_net_view v;
    if (!ks__net_view(ud, ev, &v))
        return;
    ks_slice q = ks__net_str(&v, KS_NET_QUERY);
    if (q.n)
        decode(q.p, q.n);
    for (size_t a = 0; a < v.nanswers; a++)
        decode(v.answers[a].p, v.answers[a].n);
    ks__net_int(&v, KS_NET_SPORT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct ks_input *const ins[] = {&ks_input_dnsdebug, &ks_input_zeek, &ks_input_squid,
                                                 &ks_input_vpcflow, &ks_input_pdns, &ks_input_nsgflow};
    ks_engine *engine = fuzz_engine(NULL);
    ks_worker w;
    if (!engine || ks__worker_init(&w, engine, 0) != KS_OK)
        return 0;
    ks_net_syms *ns = ks__net_syms_new(ks__engine_symtab(engine));
    decode((const char *)data, size);
    for (size_t i = 0; i < KS_ARRAY_LEN(ins) && ns; i++) {
        ins[i]->probe(data, size, "dns.log");
        fuzz_drain(ins[i], &w, "fuzz.log", data, size, 0, UINT64_MAX, on_event, ns);
    }
    ks__net_syms_free(ns);
    ks__worker_release(&w);
    return 0;
}
