/* SPDX-License-Identifier: Apache-2.0
 *
 * Line-oriented input base (linein.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "input/linein.h"

void ks__linein_init(ks_linein *l, const ks_input_ctx *ctx, const char *component,
                     size_t max_line)
{
    memset(l, 0, sizeof *l);
    l->ctx = *ctx;
    l->e = ctx->w->engine;
    l->component = component;
    ks__lines_init(&l->lines, ctx->src, max_line);
}

void ks__linein_report(ks_linein *l, ks_diag_level lvl, int code, uint64_t line, uint64_t off,
                       const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (lvl >= KS_DIAG_WARN) {
        if (l->ndiag >= KS_LINEIN_MAX_DIAGS) {
            l->nsuppressed++;
            return;
        }
        l->ndiag++;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ks_loc loc = KS_LOC_NONE;
    loc.path = l->ctx.path;
    loc.line = line;
    loc.offset = off;
    ks__diag(l->e, lvl, code, l->component, &loc, "%s", msg);
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
    if (l->nsuppressed) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = l->ctx.path;
        ks__diag(l->e, KS_DIAG_WARN, KS_EFORMAT, l->component, &loc,
                 "%llu more damaged lines not reported individually (%llu records skipped in all)",
                 (unsigned long long)l->nsuppressed, (unsigned long long)l->nbad);
    }
}

void ks__linein_prov(ks_event *ev, uint64_t lineno, uint64_t off)
{
    ev->prov.line = lineno;
    ev->prov.offset = off;
}
