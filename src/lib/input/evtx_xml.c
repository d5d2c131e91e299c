/* SPDX-License-Identifier: Apache-2.0
 *
 * EVTX records rendered as XML, as Windows shows them: the BinXML walk of
 * evtx_binxml.c with a visitor that writes elements, attributes and
 * escaped text. The EVTX input adds it to each event as the field
 * Event.XML when the option evtx.xml is set (kensa evtx dump --xml).
 */
#include "input/evtx.h"


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

int evx_render_xml(evx_chunk *ch, const uint8_t *p, size_t n, ks_buf *out, ks_arena *scratch,
                   const char **why, uint32_t *err_off)
{
    xml_out o = {KS_BUF_INIT, false};
    evx_visitor v = {&o, x_begin, x_text, x_end};
    o.b = *out;
    ks__buf_reset(&o.b);
    int rc = evx_walk_record(ch, p, n, &v, scratch, why, err_off);
    *out = o.b;
    return rc;
}
