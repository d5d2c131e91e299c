/* SPDX-License-Identifier: Apache-2.0
 *
 * The network view (netfields.h): the one table of network field names and
 * their alternates per source, and the single pass that fills a view.
 */
#include <stdlib.h>
#include <string.h>
#include "detect/netfields.h"

#define ALTS 14

/* Alternates in rank order: the first present wins. The canonical name
 * (kensa's own inputs) comes first. */
static const char *const alts[KS_NET_NFIELDS][ALTS] = {
    [KS_NET_QUERY] = {"dns.query", "query",                   /* Zeek */
                      "dns.rrname",                           /* Suricata EVE */
                      "QueryName", "Event.EventData.QueryName", /* Sysmon 22 */
                      "winlog.event_data.QueryName", "dns.question.name", /* ECS */
                      "qname", "query_name", "rrname"},
    [KS_NET_QTYPE] = {"dns.qtype", "qtype_name", "dns.rrtype", "dns.question.type", "qtype",
                      "rrtype"},
    [KS_NET_ANSWERS] = {"dns.answers", "answers", "QueryResults", "Event.EventData.QueryResults",
                        "winlog.event_data.QueryResults", "dns.resolved_ip", "dns.rdata",
                        "rdata"},
    [KS_NET_RCODE] = {"dns.rcode", "rcode_name", "dns.response_code", "QueryStatus",
                      "Event.EventData.QueryStatus", "winlog.event_data.QueryStatus"},
    [KS_NET_CLIENT] = {"client.ip", "id.orig_h", "src_ip", "source.ip", "srcaddr", "SourceIp",
                       "Event.EventData.SourceIp", "c-ip", "src", "SrcIP", "sourceAddress",
                       "host.ip" /* Winlogbeat: the logging machine itself */},
    [KS_NET_CPORT] = {"client.port", "id.orig_p", "src_port", "source.port", "srcport",
                      "SourcePort", "SrcPort"},
    [KS_NET_SERVER] = {"server.ip", "id.resp_h", "dest_ip", "destination.ip", "dstaddr",
                       "DestinationIp", "Event.EventData.DestinationIp", "s-ip", "dst",
                       "DestIP", "destinationAddress"},
    [KS_NET_SPORT] = {"server.port", "id.resp_p", "dest_port", "destination.port", "dstport",
                      "DestinationPort", "DestPort"},
    [KS_NET_PROTO] = {"network.transport", "proto", "protocol", "Protocol"},
    [KS_NET_HOST] = {"host.name", "Computer", "Event.System.Computer", "winlog.computer_name",
                     "host.hostname", "agent.hostname", "hostname"},
    [KS_NET_IMAGE] = {"process.executable", "Image", "Event.EventData.Image",
                      "winlog.event_data.Image"},
    [KS_NET_URL] = {"url.full", "url.original", "http.url", "uri", "cs-uri-stem"},
    [KS_NET_HTTP_HOST] = {"url.domain", "host", "http.hostname", "cs-host", "cs(Host)"},
    [KS_NET_SNI] = {"tls.sni", "server_name", "tls.client.server_name", "tls.server_name"},
    [KS_NET_JA3] = {"tls.ja3", "ja3", "tls.ja3.hash", "tls.client.ja3"},
    [KS_NET_JA3S] = {"tls.ja3s", "ja3s", "tls.ja3s.hash", "tls.server.ja3s"},
    [KS_NET_BYTES_OUT] = {"network.bytes_out", "orig_bytes", "bytes", "flow.bytes_toserver",
                          "source.bytes"},
    [KS_NET_ACTION] = {"event.action", "action", "alert.action"},
};

static const char *const canon[KS_NET_NFIELDS] = {
#define X(id, name) name,
    KS_NET_FIELD_LIST(X)
#undef X
};

/* Per symbol id: 0 = not classified yet, 1 = not a network field, else
 * 2 + field * ALTS + rank. */
struct ks_net_syms {
    ks_symtab *t;
    uint16_t *cls;
    size_t ncls;
};

ks_net_syms *ks__net_syms_new(ks_symtab *t)
{
    ks_net_syms *s = calloc(1, sizeof *s);
    if (s)
        s->t = t;
    return s;
}

void ks__net_syms_free(ks_net_syms *s)
{
    if (!s)
        return;
    free(s->cls);
    free(s);
}

const char *ks__net_field_name(int i)
{
    return i >= 0 && i < KS_NET_NFIELDS ? canon[i] : "";
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* Indexed answer paths of array-of-object shapes: ECS
 * "dns.answers.N.data", Suricata "dns.answers.N.rdata", grouped answers
 * "dns.grouped.A", "dns.grouped.CNAME". */
static bool answer_path(const char *s, size_t n)
{
    static const char pre[] = "dns.answers.";
    static const char grp[] = "dns.grouped.";
    if (n > sizeof grp - 1 && !memcmp(s, grp, sizeof grp - 1))
        return !memchr(s + sizeof grp - 1, '.', n - (sizeof grp - 1));
    if (n <= sizeof pre - 1 || memcmp(s, pre, sizeof pre - 1))
        return false;
    const char *p = s + sizeof pre - 1, *dot = memchr(p, '.', (size_t)(s + n - p));
    if (!dot || !all_digits(p, (size_t)(dot - p)))
        return false;
    size_t leaf = (size_t)(s + n - dot - 1);
    return (leaf == 4 && !memcmp(dot + 1, "data", 4)) || (leaf == 5 && !memcmp(dot + 1, "rdata", 5));
}

static uint16_t classify(const char *s, size_t n)
{
    for (int f = 0; f < KS_NET_NFIELDS; f++)
        for (int a = 0; a < ALTS && alts[f][a]; a++)
            if (strlen(alts[f][a]) == n && !memcmp(alts[f][a], s, n))
                return (uint16_t)(2 + f * ALTS + a);
    if (answer_path(s, n))
        return (uint16_t)(2 + KS_NET_ANSWERS * ALTS + ALTS - 1);
    return 1;
}

static uint16_t cls_of(ks_net_syms *s, ks_sym id)
{
    if (id < s->ncls && s->cls[id])
        return s->cls[id];
    if (id >= s->ncls) {
        size_t nc = s->ncls ? s->ncls : 1024;
        while (nc <= id)
            nc *= 2;
        uint16_t *p = realloc(s->cls, nc * sizeof *p);
        if (!p)
            return 1;
        memset(p + s->ncls, 0, (nc - s->ncls) * sizeof *p);
        s->cls = p;
        s->ncls = nc;
    }
    size_t n = 0;
    const char *str = ks_symtab_str(s->t, id, &n);
    s->cls[id] = str ? classify(str, n) : 1;
    return s->cls[id];
}

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t'))
        (*p)++, (*n)--;
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

/* Splits one answer value into items: Zeek vectors ("a,b"), Sysmon
 * QueryResults ("type:  5 cname.example;::ffff:1.2.3.4;"). */
static void add_answers(ks_net_view *v, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && v->nanswers < KS_NET_MAX_ANSWERS) {
        size_t b = i;
        while (i < n && p[i] != ';' && p[i] != ',')
            i++;
        const char *it = p + b;
        size_t in = i - b;
        i++;
        trim(&it, &in);
        if (in > 5 && !memcmp(it, "type:", 5)) {
            /* "type:  5 name": the record type number, then the name */
            it += 5, in -= 5;
            trim(&it, &in);
            while (in && *it >= '0' && *it <= '9')
                it++, in--;
            trim(&it, &in);
        }
        if (in > 7 && !memcmp(it, "::ffff:", 7))
            it += 7, in -= 7;
        if (in == 0 || (in == 1 && *it == '-'))
            continue;
        v->answers[v->nanswers++] = (ks_slice){it, in};
    }
}

bool ks__net_view(ks_net_syms *s, const ks_event *ev, ks_net_view *v)
{
    int rank[KS_NET_NFIELDS];
    bool any = false;
    memset(v, 0, sizeof *v);
    for (int f = 0; f < KS_NET_NFIELDS; f++)
        rank[f] = ALTS;
    v->time = ev->time;
    for (size_t i = 0; i < ev->n; i++) {
        const ks_field *fl = &ev->fields[i];
        uint16_t c = cls_of(s, fl->name);
        if (c < 2)
            continue;
        int f = (c - 2) / ALTS, r = (c - 2) % ALTS;
        any = true;
        if (f == KS_NET_ANSWERS) {
            if (fl->v.type == KS_VSTR)
                add_answers(v, fl->v.u.s.p, fl->v.u.s.n);
            continue;
        }
        if (r < rank[f]) {
            rank[f] = r;
            v->f[f] = &fl->v;
        }
    }
    return any;
}

ks_slice ks__net_str(const ks_net_view *v, int i)
{
    const ks_value *x = v->f[i];
    if (x && x->type == KS_VSTR && !(x->u.s.n == 1 && x->u.s.p[0] == '-'))
        return x->u.s;
    return (ks_slice){"", 0};
}

int64_t ks__net_int(const ks_net_view *v, int i)
{
    const ks_value *x = v->f[i];
    if (!x)
        return -1;
    switch (x->type) {
    case KS_VINT:
        return x->u.i;
    case KS_VUINT:
        return x->u.u > INT64_MAX ? -1 : (int64_t)x->u.u;
    case KS_VFLOAT:
        return (int64_t)x->u.f;
    case KS_VSTR: {
        int64_t r = 0;
        if (!all_digits(x->u.s.p, x->u.s.n) || x->u.s.n > 18)
            return -1;
        for (size_t k = 0; k < x->u.s.n; k++)
            r = r * 10 + (x->u.s.p[k] - '0');
        return r;
    }
    default:
        return -1;
    }
}

size_t ks__net_name_lower(const char *s, size_t n, char *buf, size_t cap)
{
    if (n && s[n - 1] == '.')
        n--;
    if (n == 0 || n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        buf[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    buf[n] = 0;
    return n;
}
