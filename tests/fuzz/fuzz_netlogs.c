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
#include "kensa_int.h"
#include "detect/netfields.h"
#include "detect/sunburst_dga.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ks_engine *engine;

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

static void drain(const struct ks_input *in, ks_worker *w, ks_net_syms *ns, const uint8_t *data, size_t size)
{
    ks_source *src = NULL;
    void *st = NULL;
    if (ks__source_mem(data, size, "fuzz.log", &src) != KS_OK)
        return;
    ks_input_ctx ctx = {.src = src, .path = "fuzz.log", .w = w, .begin = 0, .end = UINT64_MAX};
    if (in->open(&ctx, &st) == KS_OK) {
        for (int i = 0; i < 100000; i++) {
            ks__event_reset(&w->ev);
            if (in->next(st, &w->ev) != KS_OK)
                break;
            for (size_t k = 0; k < w->ev.n; k++) {
                char buf[64];
                ks_value_format(&w->ev.fields[k].v, buf, sizeof buf);
            }
            ks_net_view v;
            if (ks__net_view(ns, &w->ev, &v)) {
                ks_slice q = ks__net_str(&v, KS_NET_QUERY);
                if (q.n)
                    decode(q.p, q.n);
                for (size_t a = 0; a < v.nanswers; a++)
                    decode(v.answers[a].p, v.answers[a].n);
                ks__net_int(&v, KS_NET_SPORT);
            }
        }
        in->close(st);
    }
    ks__source_close(src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct ks_input *const ins[] = {&ks_input_dnsdebug, &ks_input_zeek, &ks_input_squid,
                                                 &ks_input_vpcflow, &ks_input_pdns, &ks_input_nsgflow};
    ks_worker w;
    if (!engine && ks_engine_new(&engine) != KS_OK)
        return 0;
    memset(&w, 0, sizeof w);
    w.engine = engine;
    w.cache = ks__symcache_new(ks__engine_symtab(engine));
    w.arena = ks__arena_new(4096, (size_t)64 << 20);
    w.ev.syms = ks__engine_symtab(engine);
    w.ev.cache = w.cache;
    w.ev.arena = w.arena;
    ks_net_syms *ns = ks__net_syms_new(ks__engine_symtab(engine));
    decode((const char *)data, size);
    for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++) {
        ins[i]->probe(data, size, "dns.log");
        drain(ins[i], &w, ns, data, size);
    }
    ks__net_syms_free(ns);
    free(w.ev.fields);
    ks__arena_free(w.arena);
    ks__symcache_free(w.cache);
    return 0;
}
