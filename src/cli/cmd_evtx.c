/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa evtx dump FILE [--json|--xml] [--recover]`: shows records the way
 * kensa reads them. --json prints one flat object per record whose keys
 * are exactly the field paths rules match on; --xml renders the record's
 * XML as Windows would. Damage goes to stderr with its location.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "input/evtx.h"

const char *const cmd_evtx_usage =
    "usage: kensa evtx dump FILE [--json | --xml] [--recover]\n\n"
    "--json (default)  one JSON object per record: field path -> value\n"
    "--xml             the record rendered as XML\n"
    "--recover         also print older copies of records found in chunk slack\n";

static void diag_print(void *ud, const ks_diag *d)
{
    (void)ud;
    fprintf(stderr, "kensa evtx: %s: %s", d->level == KS_DIAG_ERROR ? "error" : "warning",
            d->loc.path ? d->loc.path : "");
    if (d->loc.chunk >= 0)
        fprintf(stderr, " chunk %lld", (long long)d->loc.chunk);
    if (d->loc.offset != UINT64_MAX)
        fprintf(stderr, " offset %llu", (unsigned long long)d->loc.offset);
    fprintf(stderr, ": %s\n", d->msg);
}

/* ---- XML rendering ---------------------------------------------------------- */

typedef struct xml_out {
    ks_buf b;
    bool open_tag;      /* "<Name attrs" written, ">" not yet */
} xml_out;

static void xml_esc(ks_buf *b, const char *s, size_t n, bool attr)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '<') ks__buf_adds(b, "&lt;");
        else if (c == '>') ks__buf_adds(b, "&gt;");
        else if (c == '&') ks__buf_adds(b, "&amp;");
        else if (c == '"' && attr) ks__buf_adds(b, "&quot;");
        else ks__buf_addc(b, c);
    }
}

static void xml_value(ks_buf *b, const ks_value *v, bool attr)
{
    char tmp[128];
    if (v->type == KS_VSTR) {
        xml_esc(b, v->u.s.p, v->u.s.n, attr);
        return;
    }
    if (v->type == KS_VBIN) {
        for (size_t i = 0; i < v->u.s.n; i++)
            ks__buf_printf(b, "%02X", (unsigned char)v->u.s.p[i]);
        return;
    }
    size_t n = ks_value_format(v, tmp, sizeof tmp);
    xml_esc(b, tmp, KS_MIN(n, sizeof tmp - 1), attr);
}

static int x_begin(void *ud, evx_node *nd, const ks_value *av, size_t depth)
{
    xml_out *o = ud;
    (void)depth;
    if (o->open_tag)
        ks__buf_addc(&o->b, '>');
    ks__buf_addc(&o->b, '<');
    ks__buf_add(&o->b, nd->name, nd->n);
    for (size_t i = 0; i < nd->nattrs && i < 64; i++) {
        if (av[i].type == KS_VNULL)
            continue;
        ks__buf_addc(&o->b, ' ');
        ks__buf_add(&o->b, nd->attrs[i].name, nd->attrs[i].n);
        ks__buf_adds(&o->b, "=\"");
        xml_value(&o->b, &av[i], true);
        ks__buf_addc(&o->b, '"');
    }
    o->open_tag = true;
    return KS_OK;
}

static int x_text(void *ud, evx_node *nd, const ks_value *v, bool cdata)
{
    xml_out *o = ud;
    (void)nd;
    if (o->open_tag)
        ks__buf_addc(&o->b, '>');
    o->open_tag = false;
    if (cdata && v->type == KS_VSTR) {
        ks__buf_adds(&o->b, "<![CDATA[");
        ks__buf_add(&o->b, v->u.s.p, v->u.s.n);
        ks__buf_adds(&o->b, "]]>");
    } else {
        xml_value(&o->b, v, false);
    }
    return KS_OK;
}

static int x_end(void *ud, evx_node *nd, size_t depth)
{
    xml_out *o = ud;
    (void)depth;
    if (o->open_tag) {
        ks__buf_adds(&o->b, "/>");
    } else {
        ks__buf_adds(&o->b, "</");
        ks__buf_add(&o->b, nd->name, nd->n);
        ks__buf_addc(&o->b, '>');
    }
    o->open_tag = false;
    return KS_OK;
}

static int dump_xml(ks_engine *e, const char *path, bool recover)
{
    ks_source *src = NULL;
    char err[256];
    const uint8_t *p;
    uint64_t size;
    evx_reader *r = NULL;
    ks_arena *scratch = ks__arena_new(65536, (size_t)64 << 20);
    int rc = ks__source_open(AT_FDCWD, NULL, path, &src, err, sizeof err);
    if (rc != KS_OK) {
        cli_error("evtx", "%s: %s", path, err);
        goto out;
    }
    if ((rc = ks__source_map(src, &p, &size)) != KS_OK ||
        (rc = evx_reader_new(p, size, path, e, 0, UINT64_MAX, recover, &r)) != KS_OK)
        goto out;
    xml_out o = {KS_BUF_INIT, false};
    evx_visitor v = {&o, x_begin, x_text, x_end};
    evx_record rec;
    while (evx_reader_next(r, &rec) == KS_OK) {
        const char *why = NULL;
        uint32_t off = 0;
        ks__buf_reset(&o.b);
        ks__arena_reset(scratch);
        o.open_tag = false;
        if (evx_walk_record(evx_reader_chunk(r), rec.data, rec.n, &v, scratch, &why, &off) != KS_OK) {
            evx_reader_bad_record(r, &rec, why, off);
            continue;
        }
        if (rec.slack)
            printf("<!-- recovered from slack: record %llu -->\n", (unsigned long long)rec.id);
        fwrite(o.b.p, 1, o.b.n, stdout);
        fputc('\n', stdout);
    }
    ks__buf_release(&o.b);
out:
    evx_reader_free(r);
    ks__source_close(src);
    ks__arena_free(scratch);
    return rc;
}

/* ---- flat JSON: the events exactly as rules see them ------------------------------ */

static int dump_json(ks_engine *e, const char *path)
{
    ks_source *src = NULL;
    char err[256];
    ks_worker w;
    void *st = NULL;
    int rc;
    memset(&w, 0, sizeof w);
    w.engine = e;
    w.cache = ks__symcache_new(ks__engine_symtab(e));
    w.arena = ks__arena_new(65536, (size_t)256 << 20);
    w.ev.syms = ks__engine_symtab(e);
    w.ev.cache = w.cache;
    w.ev.arena = w.arena;
    rc = ks__source_open(AT_FDCWD, NULL, path, &src, err, sizeof err);
    if (rc != KS_OK) {
        cli_error("evtx", "%s: %s", path, err);
        goto out;
    }
    ks_input_ctx ctx = {.src = src, .path = path, .w = &w, .begin = 0, .end = UINT64_MAX};
    if ((rc = ks_input_evtx.open(&ctx, &st)) != KS_OK)
        goto out;
    ks_buf b = KS_BUF_INIT;
    for (;;) {
        ks__event_reset(&w.ev);
        if (ks_input_evtx.next(st, &w.ev) != KS_OK)
            break;
        ks__buf_reset(&b);
        ks__buf_addc(&b, '{');
        for (size_t i = 0; i < w.ev.n; i++) {
            const ks_field *f = &w.ev.fields[i];
            size_t kn;
            const char *k = ks_symtab_str(w.ev.syms, f->name, &kn);
            char tmp[256];
            ks__buf_adds(&b, i ? ",\"" : "\"");
            ks__buf_add_json_str(&b, k, kn);
            ks__buf_adds(&b, "\":");
            switch (f->v.type) {
            case KS_VNULL: ks__buf_adds(&b, "null"); break;
            case KS_VINT: case KS_VUINT: case KS_VFLOAT: case KS_VBOOL:
                ks__buf_add(&b, tmp, KS_MIN(ks_value_format(&f->v, tmp, sizeof tmp), sizeof tmp - 1));
                break;
            case KS_VSTR:
                ks__buf_addc(&b, '"');
                ks__buf_add_json_str(&b, f->v.u.s.p, f->v.u.s.n);
                ks__buf_addc(&b, '"');
                break;
            default: {
                ks_buf t = KS_BUF_INIT;
                ks__buf_add_value(&t, &f->v);
                ks__buf_addc(&b, '"');
                ks__buf_add_json_str(&b, t.p ? t.p : "", t.n);
                ks__buf_addc(&b, '"');
                ks__buf_release(&t);
            }
            }
        }
        ks__buf_adds(&b, "}\n");
        fwrite(b.p, 1, b.n, stdout);
    }
    ks__buf_release(&b);
    ks_input_evtx.close(st);
out:
    ks__source_close(src);
    free(w.ev.fields);
    ks__arena_free(w.arena);
    ks__symcache_free(w.cache);
    return rc;
}

int cmd_evtx(int argc, char **argv)
{
    bool xml = false, recover = false;
    const char *file = NULL;
    ks_engine *e = NULL;
    if (argc < 2 || strcmp(argv[1], "dump") != 0) {
        fputs(cmd_evtx_usage, stderr);
        return KS_EXIT_ERRORS;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--xml"))
            xml = true;
        else if (!strcmp(argv[i], "--json"))
            xml = false;
        else if (!strcmp(argv[i], "--recover"))
            recover = true;
        else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("evtx", "unknown option '%s'", argv[i]);
            return KS_EXIT_ERRORS;
        } else
            file = argv[i];
    }
    if (!file) {
        fputs(cmd_evtx_usage, stderr);
        return KS_EXIT_ERRORS;
    }
    if (ks_engine_new(&e) != KS_OK)
        return KS_EXIT_ERRORS;
    if (recover)
        ks_engine_set(e, "evtx.recover", "true");
    ks_engine_on_diag(e, diag_print, NULL);
    int rc = xml ? dump_xml(e, file, recover) : dump_json(e, file);
    int status = rc != KS_OK || ks_engine_stats(e)->errors ? KS_EXIT_ERRORS : KS_EXIT_CLEAN;
    ks_engine_free(e);
    return status;
}
