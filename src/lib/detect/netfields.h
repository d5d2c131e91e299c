/* SPDX-License-Identifier: Apache-2.0
 *
 * The network view of an event: the few fields the network detectors
 * (SUNBURST, C2 indicators, beaconing) need, whatever the source called
 * them: DNS query and answers, client and server address and port, host,
 * process image, URL, HTTP host, TLS SNI and JA3/JA3S.
 *
 * Names are taught in the engine's field schema (engine/fields.def): each
 * view field is a canonical field there ("dns.query", "client.ip", ...)
 * with the alternates of every source (Zeek, Suricata EVE, Sysmon 22 in
 * EVTX and Winlogbeat/ECS JSON, AWS VPC flow logs, Azure flow logs).
 *
 * Cost: the schema resolved the fields when the event was made; the view
 * reads them, plus the (repeated) answers, whose positions are found once
 * per field layout.
 *
 * Ownership: the view's values are borrowed from the event and valid only
 * during on_event. A ks_net_syms is per worker (not thread-safe).
 */
#ifndef KS_NETFIELDS_H
#define KS_NETFIELDS_H

#include "kensa_int.h"

#define KS_NET_FIELD_LIST(X)                                                        \
    X(QUERY, "dns.query")         /* name looked up */                             \
    X(QTYPE, "dns.qtype")         /* A, AAAA, CNAME, TXT, ... (or its number) */   \
    X(ANSWERS, "dns.answers")     /* each answer (repeated field) */               \
    X(RCODE, "dns.rcode")         /* NOERROR, NXDOMAIN, ... */                     \
    X(CLIENT, "client.ip")        /* who asked / connected */                      \
    X(CPORT, "client.port")                                                        \
    X(SERVER, "server.ip")        /* resolver / destination */                     \
    X(SPORT, "server.port")                                                        \
    X(PROTO, "network.transport") /* tcp, udp, 6, 17 */                            \
    X(HOST, "host.name")          /* the machine that logged it */                 \
    X(IMAGE, "process.executable")                                                 \
    X(URL, "url.full")            /* HTTP URL or proxy request line target */     \
    X(HTTP_HOST, "url.domain")    /* HTTP Host header */                           \
    X(SNI, "tls.sni")                                                              \
    X(JA3, "tls.ja3")                                                              \
    X(JA3S, "tls.ja3s")                                                            \
    X(BYTES_OUT, "network.bytes_out")                                              \
    X(ACTION, "event.action")     /* allowed/denied, ACCEPT/REJECT */

enum {
#define X(id, name) KS_NET_##id,
    KS_NET_FIELD_LIST(X)
#undef X
    KS_NET_NFIELDS
};

#define KS_NET_MAX_ANSWERS 16

typedef struct ks_net_view {
    const ks_value *f[KS_NET_NFIELDS];   /* best-ranked value per field, or NULL */
    ks_slice answers[KS_NET_MAX_ANSWERS]; /* every answer, split into items */
    size_t nanswers;
    int64_t time;                        /* event time */
} ks_net_view;

typedef struct ks_net_syms ks_net_syms;

/* Per worker. NULL on OOM. */
ks_net_syms *ks__net_syms_new(ks_symtab *t);
void ks__net_syms_free(ks_net_syms *s);

/* The view of ev, or NULL when the event carries no network field. The
 * view is the thread's (shared by every detector reading ev): valid until
 * the thread's next call for another event. */
const ks_net_view *ks__net_view_of(ks_net_syms *s, const ks_event *ev);
/* The same view copied into v (tests, tools). Returns whether there is one. */
bool ks__net_view(ks_net_syms *s, const ks_event *ev, ks_net_view *v);

/* The string of field i, or an empty slice (numbers are not strings).
 * Inline: the detectors ask for several fields of every event. */
static inline ks_slice ks__net_str(const ks_net_view *v, int i)
{
    const ks_value *x = v->f[i];
    if (x && x->type == KS_VSTR && !(x->u.s.n == 1 && x->u.s.p[0] == '-'))
        return x->u.s;
    return (ks_slice){"", 0};
}
/* s[0..n) (n < 8 * nw, nw 2 or 3) as nw words: the text, zeros, and n
 * in the last byte, so two texts are equal when their words are. Built
 * from fixed-size, overlapping loads inside the text (a copy of n bytes
 * is a call): the per-line keys of C2's address memo and beaconing's
 * pairs. */
static inline void ks__text_image(const char *s, size_t n, uint64_t *w, size_t nw)
{
    uint64_t x;
    uint32_t lo, hi;
    w[0] = w[1] = w[nw - 1] = 0;
    if (n >= 16) {
        memcpy(&w[0], s, 8);
        memcpy(&w[1], s + 8, 8);
        if (n > 16) {
            memcpy(&x, s + n - 8, 8);
            w[2] = x >> (8 * (24 - n)); /* bytes 16 .. n */
        }
    } else if (n >= 8) {
        memcpy(&w[0], s, 8);
        if (n > 8) {
            memcpy(&x, s + n - 8, 8);
            w[1] = x >> (8 * (16 - n)); /* bytes 8 .. n */
        }
    } else if (n >= 4) {
        memcpy(&lo, s, 4);
        memcpy(&hi, s + n - 4, 4);
        w[0] = lo | ((uint64_t)hi >> (8 * (8 - n))) << 32; /* bytes 4 .. n */
    } else {
        for (size_t i = 0; i < n; i++)
            w[0] |= (uint64_t)(unsigned char)s[i] << (8 * i);
    }
    w[nw - 1] |= (uint64_t)n << 56;
}

/* Port-like integer of field i (string or number), -1 if absent. */
int64_t ks__net_int(const ks_net_view *v, int i);
/* Canonical name of field i ("dns.query"). */
const char *ks__net_field_name(int i);

/* Lower-cases a DNS name into buf (cap), without a trailing dot; returns
 * length (0 if it does not fit). */
size_t ks__net_name_lower(const char *s, size_t n, char *buf, size_t cap);

/* The median of v[0..n) (n >= 1; the mean of the two middle ones when n is
 * even, rounded toward zero), v reordered: the beacon detector's interval
 * and jitter (beacon.c). */
int64_t ks__beacon_median(int64_t *v, size_t n);

#endif
