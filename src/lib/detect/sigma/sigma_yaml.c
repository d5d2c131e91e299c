/* SPDX-License-Identifier: Apache-2.0
 *
 * YAML for the Sigma loader: libyaml's event stream turned into a small
 * tree of scalars, sequences and maps allocated in the caller's arena.
 * Every node keeps its line so load errors can point at the rule text.
 * Anchors and aliases are resolved by sharing the node (read-only tree).
 * Depth and node count are capped so a hostile file cannot exhaust memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "sigma_int.h"

typedef struct anchor {
    const char *name;
    sg_yaml *node;
} anchor;

typedef struct builder {
    ks_arena *a;
    sg_yaml *stack[SG_YAML_MAX_DEPTH]; /* open collections */
    ks_buf kids[SG_YAML_MAX_DEPTH];    /* their children so far (pointers) */
    const char *anchors_of[SG_YAML_MAX_DEPTH]; /* anchor of each open collection */
    int depth;
    size_t nodes;
    anchor *anchors;
    size_t nanchors, capanchors;
} builder;

static int add_anchor(builder *b, const char *name, sg_yaml *node)
{
    if (!name)
        return KS_OK;
    if (b->nanchors >= 4096)
        return KS_ELIMIT;
    if (ks__grow(&b->anchors, &b->capanchors, b->nanchors, sizeof *b->anchors, 16) != KS_OK)
        return KS_ENOMEM;
    b->anchors[b->nanchors].name = name;
    b->anchors[b->nanchors++].node = node;
    return KS_OK;
}

static sg_yaml *find_anchor(builder *b, const char *name)
{
    for (size_t i = b->nanchors; i-- > 0;)
        if (strcmp(b->anchors[i].name, name) == 0)
            return b->anchors[i].node;
    return NULL;
}

/* Attaches a finished node to the open collection (or returns it as root). */
static int attach(builder *b, sg_yaml *node, sg_yaml **root)
{
    if (b->depth == 0) {
        *root = node;
        return KS_OK;
    }
    return ks__buf_add(&b->kids[b->depth - 1], &node, sizeof node);
}

sg_yaml *sg__yaml_node(ks_arena *a, int type, uint32_t line)
{
    sg_yaml *y = ks__arena_alloc(a, sizeof *y);
    if (!y)
        return NULL;
    memset(y, 0, sizeof *y);
    y->type = type;
    y->line = line;
    return y;
}

static sg_yaml *new_node(builder *b, int type, const yaml_mark_t *m)
{
    if (++b->nodes > SG_YAML_MAX_NODES)
        return NULL;
    return sg__yaml_node(b->a, type, (uint32_t)m->line + 1);
}

int sg__yaml_parse(ks_arena *a, const char *buf, size_t n, sg_yaml ***docs, size_t *ndocs,
                   char *err, size_t errcap, uint32_t *errline)
{
    yaml_parser_t p;
    yaml_event_t ev;
    builder b;
    ks_buf out = KS_BUF_INIT;
    sg_yaml *root = NULL;
    int rc = KS_OK;
    bool done = false;

    memset(&b, 0, sizeof b);
    b.a = a;
    *docs = NULL;
    *ndocs = 0;
    err[0] = 0;
    *errline = 0;
    if (!yaml_parser_initialize(&p))
        return KS_ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, n);
    while (!done) {
        if (!yaml_parser_parse(&p, &ev)) {
            snprintf(err, errcap, "%s%s%s", p.problem ? p.problem : "syntax error",
                     p.context ? " " : "", p.context ? p.context : "");
            *errline = (uint32_t)p.problem_mark.line + 1;
            rc = KS_EFORMAT;
            break;
        }
        sg_yaml *node = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            root = NULL;
            b.nanchors = 0;
            break;
        case YAML_DOCUMENT_END_EVENT:
            if (root && (rc = ks__buf_add(&out, &root, sizeof root)) != KS_OK)
                done = true;
            break;
        case YAML_SCALAR_EVENT:
            node = new_node(&b, SG_Y_SCALAR, &ev.start_mark);
            if (!node || !(node->s = ks__arena_strndup(a, (const char *)ev.data.scalar.value,
                                                       ev.data.scalar.length))) {
                rc = node ? KS_ENOMEM : KS_ELIMIT;
                snprintf(err, errcap, "too many YAML nodes or out of memory");
                *errline = (uint32_t)ev.start_mark.line + 1;
                done = true;
                break;
            }
            node->n = ev.data.scalar.length;
            node->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            if (ev.data.scalar.anchor)
                rc = add_anchor(&b, ks__arena_strndup(a, (const char *)ev.data.scalar.anchor,
                                                      strlen((const char *)ev.data.scalar.anchor)),
                                node);
            if (rc == KS_OK)
                rc = attach(&b, node, &root);
            if (rc != KS_OK)
                done = true;
            break;
        case YAML_ALIAS_EVENT:
            node = find_anchor(&b, (const char *)ev.data.alias.anchor);
            if (!node) {
                snprintf(err, errcap, "unknown alias *%s", (const char *)ev.data.alias.anchor);
                *errline = (uint32_t)ev.start_mark.line + 1;
                rc = KS_EFORMAT;
                done = true;
                break;
            }
            if ((rc = attach(&b, node, &root)) != KS_OK)
                done = true;
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            bool seq = ev.type == YAML_SEQUENCE_START_EVENT;
            const unsigned char *an = seq ? ev.data.sequence_start.anchor
                                          : ev.data.mapping_start.anchor;
            if (b.depth == SG_YAML_MAX_DEPTH) {
                snprintf(err, errcap, "nesting deeper than %d", SG_YAML_MAX_DEPTH);
                *errline = (uint32_t)ev.start_mark.line + 1;
                rc = KS_ELIMIT;
                done = true;
                break;
            }
            node = new_node(&b, seq ? SG_Y_SEQ : SG_Y_MAP, &ev.start_mark);
            if (!node) {
                snprintf(err, errcap, "too many YAML nodes");
                *errline = (uint32_t)ev.start_mark.line + 1;
                rc = KS_ELIMIT;
                done = true;
                break;
            }
            b.anchors_of[b.depth] =
                an ? ks__arena_strndup(a, (const char *)an, strlen((const char *)an)) : NULL;
            b.stack[b.depth] = node;
            ks__buf_reset(&b.kids[b.depth]);
            b.depth++;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            b.depth--;
            node = b.stack[b.depth];
            ks_buf *k = &b.kids[b.depth];
            node->nkids = k->n / sizeof(sg_yaml *);
            if (node->nkids) {
                node->kids = ks__arena_alloc(a, k->n);
                if (!node->kids) {
                    rc = KS_ENOMEM;
                    done = true;
                    break;
                }
                memcpy(node->kids, k->p, k->n);
            }
            if (node->type == SG_Y_MAP && (node->nkids & 1))
                node->nkids--; /* cannot happen with libyaml; keep pairs even */
            rc = add_anchor(&b, b.anchors_of[b.depth], node);
            if (rc == KS_OK)
                rc = attach(&b, node, &root);
            if (rc != KS_OK)
                done = true;
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    for (int i = 0; i < SG_YAML_MAX_DEPTH; i++)
        ks__buf_release(&b.kids[i]);
    free(b.anchors);
    size_t nd = out.n / sizeof(sg_yaml *);
    if (nd) {
        *docs = ks__arena_alloc(a, out.n);
        if (*docs) {
            memcpy(*docs, out.p, out.n);
            *ndocs = nd;
        } else if (rc == KS_OK) {
            rc = KS_ENOMEM;
        }
    }
    ks__buf_release(&out);
    return rc;
}

const sg_yaml *sg__yaml_get(const sg_yaml *map, const char *key)
{
    if (!map || map->type != SG_Y_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->nkids; i += 2)
        if (map->kids[i]->type == SG_Y_SCALAR && strcmp(map->kids[i]->s, key) == 0)
            return map->kids[i + 1];
    return NULL;
}

const char *sg__yaml_str(const sg_yaml *map, const char *key)
{
    const sg_yaml *v = sg__yaml_get(map, key);
    return v && v->type == SG_Y_SCALAR && !sg__yaml_is_null(v) ? v->s : NULL;
}

bool sg__yaml_is_null(const sg_yaml *y)
{
    if (!y)
        return true;
    if (y->type != SG_Y_SCALAR || !y->plain)
        return false;
    return y->n == 0 || strcmp(y->s, "null") == 0 || strcmp(y->s, "~") == 0 ||
           strcmp(y->s, "Null") == 0 || strcmp(y->s, "NULL") == 0;
}

sg_yaml *sg__yaml_merge(ks_arena *ar, const sg_yaml *a, const sg_yaml *b)
{
    if (!a)
        return (sg_yaml *)b;
    if (!b)
        return (sg_yaml *)a;
    if (a->type != SG_Y_MAP || b->type != SG_Y_MAP)
        return (sg_yaml *)b;
    sg_yaml *m = ks__arena_alloc(ar, sizeof *m);
    if (!m)
        return NULL;
    *m = *b;
    m->kids = ks__arena_alloc(ar, (a->nkids + b->nkids) * sizeof *m->kids + 1);
    if (!m->kids)
        return NULL;
    m->nkids = 0;
    /* keys of a (merged with b's value when both have it), then b's new keys */
    for (size_t i = 0; i + 1 < a->nkids; i += 2) {
        const sg_yaml *bv = a->kids[i]->type == SG_Y_SCALAR ? sg__yaml_get(b, a->kids[i]->s) : NULL;
        sg_yaml *v = bv ? sg__yaml_merge(ar, a->kids[i + 1], bv) : a->kids[i + 1];
        if (!v)
            return NULL;
        m->kids[m->nkids++] = a->kids[i];
        m->kids[m->nkids++] = v;
    }
    for (size_t i = 0; i + 1 < b->nkids; i += 2) {
        if (b->kids[i]->type == SG_Y_SCALAR && sg__yaml_get(a, b->kids[i]->s))
            continue;
        m->kids[m->nkids++] = b->kids[i];
        m->kids[m->nkids++] = b->kids[i + 1];
    }
    return m;
}
