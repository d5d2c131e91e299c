/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa evtx dump FILE [--json|--xml] [--recover]`: shows records the way
 * kensa reads them. --json prints one flat object per record whose keys
 * are exactly the field paths rules match on; --xml renders the record's
 * XML as Windows would (the library's evtx.xml option). Damage goes to
 * stderr with its location. Public API only (ks_engine_read_file).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

const char *const cmd_evtx_usage =
    "usage: kensa evtx dump FILE [--json | --xml] [--recover]\n\n"
    "--json (default)  one JSON object per record: field path -> value\n"
    "--xml             the record rendered as XML\n"
    "--recover         also print older copies of records found in chunk slack\n";

struct jout;
static void jout_flush(struct jout *o);

static void diag_print(void *ud, const ks_diag *d)
{
    if (d->level == KS_DIAG_INFO)
        return;
    jout_flush(ud); /* the records before the damage come first */
    fprintf(stderr, "kensa evtx: %s: %s", d->level == KS_DIAG_ERROR ? "error" : "warning",
            d->loc.path ? d->loc.path : "");
    if (d->loc.chunk >= 0)
        fprintf(stderr, " chunk %lld", (long long)d->loc.chunk);
    if (d->loc.offset != UINT64_MAX)
        fprintf(stderr, " offset %llu", (unsigned long long)d->loc.offset);
    fprintf(stderr, ": %s\n", d->msg);
}

/* ---- output ------------------------------------------------------------------ */

/* Records are rendered into one buffer written in large blocks: stdio's
 * per-character calls (a lock each) were a third of the dump's CPU. The
 * escaped `"key":` of every field path is kept once per symbol, since a
 * file's records repeat a few dozen paths. */
typedef struct jout {
    char *p;
    size_t n, cap;
    bool failed;           /* out of memory: what is rendered is still written */
    uint32_t *koff, *klen; /* symbol id -> escaped key in keys (klen 0 = not yet) */
    size_t nk;
    char *keys;
    size_t keys_n, keys_cap;
} jout;

#define JOUT_FLUSH ((size_t)1 << 16)

static void jout_flush(jout *o)
{
    if (o->n)
        fwrite(o->p, 1, o->n, stdout);
    o->n = 0;
}

/* Room for `more` bytes; false (and the record cut short) without memory. */
static bool jout_grow(jout *o, size_t more)
{
    size_t nc = o->cap ? o->cap : JOUT_FLUSH * 2;
    while (nc - o->n < more)
        nc *= 2;
    char *np = realloc(o->p, nc);
    if (!np) {
        o->failed = true;
        return false;
    }
    o->p = np;
    o->cap = nc;
    return true;
}

static inline bool jout_room(jout *o, size_t more)
{
    return o->cap - o->n >= more || jout_grow(o, more);
}

static inline void jout_add(jout *o, const char *s, size_t n)
{
    if (jout_room(o, n)) {
        memcpy(o->p + o->n, s, n);
        o->n += n;
    }
}

/* Escapes by table: 0 copies the byte, else the letter after the
 * backslash ('u' = \u00XX). Events hold valid UTF-8 (event.h), so only
 * quotes, backslashes and control characters need escaping. */
static const unsigned char esc[256] = {
    ['\b'] = 'u', ['\f'] = 'u', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't', ['"'] = '"', ['\\'] = '\\',
    [0] = 'u', [1] = 'u', [2] = 'u', [3] = 'u', [4] = 'u', [5] = 'u', [6] = 'u', [7] = 'u',
    [11] = 'u', [14] = 'u', [15] = 'u', [16] = 'u', [17] = 'u', [18] = 'u', [19] = 'u', [20] = 'u',
    [21] = 'u', [22] = 'u', [23] = 'u', [24] = 'u', [25] = 'u', [26] = 'u', [27] = 'u', [28] = 'u',
    [29] = 'u', [30] = 'u', [31] = 'u',
};

/* Writes the escaped, quoted string at d (room for 6n + 2 bytes); returns
 * the bytes written. */
static size_t json_escape(char *d, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *o = d;
    size_t i = 0;
    *o++ = '"';
    while (i < n) {
        size_t j = i;
        while (j < n && !esc[(unsigned char)s[j]])
            j++;
        memcpy(o, s + i, j - i);
        o += j - i;
        if (j == n)
            break;
        unsigned char c = (unsigned char)s[j], e = esc[c];
        *o++ = '\\';
        if (e == 'u') {
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
        } else {
            *o++ = (char)e;
        }
        i = j + 1;
    }
    *o++ = '"';
    return (size_t)(o - d);
}

static void json_str(jout *o, const char *s, size_t n)
{
    if (jout_room(o, 6 * n + 2))
        o->n += json_escape(o->p + o->n, s, n);
}

/* `"key":` of a field path, escaped the first time the symbol is seen. */
static void json_key(jout *o, const ks_symtab *syms, ks_sym id)
{
    if (id >= o->nk) {
        size_t nn = o->nk ? o->nk : 256;
        while (nn <= id)
            nn *= 2;
        uint32_t *no = realloc(o->koff, nn * sizeof *no), *nl = no ? realloc(o->klen, nn * sizeof *nl) : NULL;
        if (no)
            o->koff = no;
        if (!no || !nl) {
            o->failed = true;
            goto uncached;
        }
        o->klen = nl;
        memset(o->klen + o->nk, 0, (nn - o->nk) * sizeof *nl);
        o->nk = nn;
    }
    if (!o->klen[id]) {
        size_t kn = 0;
        const char *k = ks_symtab_str(syms, id, &kn);
        if (!k)
            kn = 0;
        size_t need = 6 * kn + 3;
        if (o->keys_cap - o->keys_n < need || o->keys_n + need > UINT32_MAX) {
            size_t nc = o->keys_cap ? o->keys_cap : 4096;
            while (nc - o->keys_n < need)
                nc *= 2;
            char *nk = o->keys_n + need <= UINT32_MAX ? realloc(o->keys, nc) : NULL;
            if (!nk) {
                o->failed = true;
                goto uncached;
            }
            o->keys = nk;
            o->keys_cap = nc;
        }
        size_t w = json_escape(o->keys + o->keys_n, k ? k : "", kn);
        o->keys[o->keys_n + w++] = ':';
        o->koff[id] = (uint32_t)o->keys_n;
        o->klen[id] = (uint32_t)w;
        o->keys_n += w;
    }
    jout_add(o, o->keys + o->koff[id], o->klen[id]);
    return;
uncached: {
        size_t kn = 0;
        const char *k = ks_symtab_str(syms, id, &kn);
        json_str(o, k ? k : "", k ? kn : 0);
        jout_add(o, ":", 1);
    }
}

/* Decimal digits of v, without snprintf. */
static void json_uint(jout *o, uint64_t v, bool neg)
{
    char t[24], *e = t + sizeof t, *s = e;
    do {
        *--s = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg)
        *--s = '-';
    jout_add(o, s, (size_t)(e - s));
}

static void json_value(jout *o, const ks_value *v)
{
    static const char hex[] = "0123456789abcdef";
    char t[64];
    size_t n;
    switch (v->type) {
    case KS_VNULL: jout_add(o, "null", 4); break;
    case KS_VSTR: json_str(o, v->u.s.p, v->u.s.n); break;
    case KS_VINT: json_uint(o, v->u.i < 0 ? -(uint64_t)v->u.i : (uint64_t)v->u.i, v->u.i < 0); break;
    case KS_VUINT: json_uint(o, v->u.u, false); break;
    case KS_VBOOL: v->u.b ? jout_add(o, "true", 4) : jout_add(o, "false", 5); break;
    case KS_VBIN:
        if (jout_room(o, 2 * v->u.s.n + 2)) {
            char *d = o->p + o->n;
            *d++ = '"';
            for (size_t i = 0; i < v->u.s.n; i++) {
                *d++ = hex[(unsigned char)v->u.s.p[i] >> 4];
                *d++ = hex[(unsigned char)v->u.s.p[i] & 15];
            }
            *d++ = '"';
            o->n = (size_t)(d - o->p);
        }
        break;
    case KS_VTIME: /* quoted, as text */
        n = ks_value_format(v, t, sizeof t);
        json_str(o, t, (n < sizeof t ? n : sizeof t - 1));
        break;
    default: /* floats (rare in EVTX): %.17g, as the library formats them */
        n = ks_value_format(v, t, sizeof t);
        jout_add(o, t, (n < sizeof t ? n : sizeof t - 1));
        break;
    }
}

static int print_json(void *ud, const ks_event *ev)
{
    jout *o = ud;
    const ks_symtab *syms = ks_event_symtab(ev);
    jout_add(o, "{", 1);
    for (size_t i = 0; i < ks_event_nfields(ev); i++) {
        const ks_field *f = ks_event_field(ev, i);
        if (i)
            jout_add(o, ",", 1);
        json_key(o, syms, f->name);
        json_value(o, &f->v);
    }
    jout_add(o, "}\n", 2);
    if (o->n >= JOUT_FLUSH)
        jout_flush(o);
    return 0;
}

static int print_xml(void *ud, const ks_event *ev)
{
    jout *o = ud;
    const ks_value *x = ks_event_get_path(ev, "Event.XML");
    const ks_value *slack = ks_event_get_path(ev, "kensa.evtx.recovered");
    if (!x || x->type != KS_VSTR)
        return 0;
    if (slack) {
        jout_add(o, "<!-- recovered from slack: record ", 34);
        json_uint(o, ks_event_prov(ev)->record, false);
        jout_add(o, " -->\n", 5);
    }
    jout_add(o, x->u.s.p, x->u.s.n);
    jout_add(o, "\n", 1);
    if (o->n >= JOUT_FLUSH)
        jout_flush(o);
    return 0;
}

int cmd_evtx(int argc, char **argv)
{
    static const struct option lo[] = {{"json", no_argument, NULL, 'j'},
                                       {"xml", no_argument, NULL, 'x'},
                                       {"recover", no_argument, NULL, 'r'},
                                       {NULL, 0, NULL, 0}};
    bool xml = false, recover = false;
    ks_engine *e = NULL;
    int c;
    if (argc < 2 || strcmp(argv[1], "dump") != 0) {
        fputs(cmd_evtx_usage, stderr);
        return KS_EXIT_ERRORS;
    }
    optind = 2;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'j')
            xml = false;
        else if (c == 'x')
            xml = true;
        else if (c == 'r')
            recover = true;
        else {
            cli_error("evtx", "unknown option '%s' (see 'kensa help evtx')", argv[optind - 1]);
            return KS_EXIT_ERRORS;
        }
    }
    if (optind != argc - 1) {
        fputs(cmd_evtx_usage, stderr);
        return KS_EXIT_ERRORS;
    }
    const char *file = argv[optind];
    if (ks_engine_new(&e) != KS_OK)
        return KS_EXIT_ERRORS;
    if ((recover && ks_engine_set(e, "evtx.recover", "true") != KS_OK) ||
        (xml && ks_engine_set(e, "evtx.xml", "true") != KS_OK)) {
        cli_error("evtx", "%s", ks_engine_errmsg(e));
        ks_engine_free(e);
        return KS_EXIT_ERRORS;
    }
    jout o = {0};
    ks_engine_on_diag(e, diag_print, &o);
    int rc = ks_engine_read_file(e, file, "evtx", xml ? print_xml : print_json, &o);
    jout_flush(&o);
    if (o.failed)
        cli_error("evtx", "out of memory: some records were cut short");
    if (rc != KS_OK && ks_engine_errmsg(e)[0])
        cli_error("evtx", "%s", ks_engine_errmsg(e));
    int status = rc != KS_OK || ks_engine_stats(e)->errors ? KS_EXIT_ERRORS : KS_EXIT_CLEAN;
    if (o.failed)
        status = KS_EXIT_ERRORS;
    ks_engine_free(e);
    free(o.p);
    free(o.keys);
    free(o.koff);
    free(o.klen);
    return status;
}
