/* SPDX-License-Identifier: Apache-2.0
 *
 * Line-oriented input base (linein.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "input/linein.h"

void ks__linein_init(ks_linein *l, const ks_input_ctx *ctx, const char *component,
                     size_t max_line)
{
    memset(l, 0, sizeof *l);
    l->ctx = *ctx;
    l->dc = (ks_diagcap){.e = ctx->w->engine, .path = l->ctx.path, .component = component};
    ks__lines_init(&l->lines, ctx->src, max_line);
}

void ks__linein_report(ks_linein *l, ks_diag_level lvl, int code, uint64_t line, uint64_t off,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ks__diagcapv(&l->dc, lvl, code, line, off, fmt, ap);
    va_end(ap);
}

int ks__linein_next(ks_linein *l, const char **s, size_t *n, uint64_t *lineno, uint64_t *off)
{
    for (;;) {
        int rc = ks__lines_next(&l->lines, s, n, lineno, off);
        if ((rc == KS_OK || rc == KS_ELIMIT) && *off >= l->ctx.end)
            return KS_EOF;
        if (rc == KS_ELIMIT) {
            l->nbad++;
            ks__linein_report(l, KS_DIAG_WARN, KS_ELIMIT, *lineno, *off,
                              "line longer than %zu bytes skipped", l->lines.max);
            continue;
        }
        if (rc != KS_OK)
            return rc;
        if (*lineno == 1 && *n >= 3 && (uint8_t)(*s)[0] == 0xef && (uint8_t)(*s)[1] == 0xbb &&
            (uint8_t)(*s)[2] == 0xbf)
            *s += 3, *n -= 3;
        while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
            (*n)--;
        if (*n)
            return KS_OK;
    }
}

void ks__linein_unread(ks_linein *l, uint64_t off, uint64_t lineno)
{
    l->lines.off = off;
    l->lines.lineno = lineno - 1;
}

void ks__linein_close(ks_linein *l)
{
    ks__diagcap_close(&l->dc, l->nbad);
}

int ks__linein_open(const ks_input_ctx *ctx, size_t size, const char *component, size_t max_line,
                    void **state)
{
    ks_linein *l = calloc(1, size);
    if (!l)
        return KS_ENOMEM;
    ks__linein_init(l, ctx, component, max_line);
    *state = l;
    return KS_OK;
}

void ks__linein_free(void *state)
{
    ks_linein *l = state;
    if (!l)
        return;
    ks__linein_close(l);
    free(l);
}

void ks__linein_prov(ks_event *ev, uint64_t lineno, uint64_t off)
{
    ev->prov.line = lineno;
    ev->prov.offset = off;
}
