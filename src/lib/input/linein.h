/* SPDX-License-Identifier: Apache-2.0
 *
 * The common base of the line-oriented network log inputs (Windows DNS
 * debug logs, Zeek TSV, Squid, flow logs): the line reader with its
 * over-long-line handling, a one-line push-back for readers that look
 * ahead (multi-line DNS packet details), and located diagnostics capped
 * per file so one damaged file cannot flood the report.
 *
 * Ownership: a returned line is valid until the next call on the reader.
 * One reader per input instance (one thread).
 */
#ifndef KS_LINEIN_H
#define KS_LINEIN_H

#include "kensa_int.h"
#include "input/weblog.h"

typedef struct ks_linein {
    ks_input_ctx ctx;        /* copy of the open context */
    ks_lines lines;
    ks_diagcap dc;           /* the file's diagnostics, capped (the web logs' too) */
    uint64_t nbad;           /* records skipped */
} ks_linein;

/* max_line: longest line accepted (longer ones are reported, skipped). */
void ks__linein_init(ks_linein *l, const ks_input_ctx *ctx, const char *component,
                     size_t max_line);
/* Next non-empty line without trailing white space (and without a UTF-8
 * BOM on line 1): KS_OK, KS_EOF (also at the end of the part), or a read
 * error. */
int ks__linein_next(ks_linein *l, const char **s, size_t *n, uint64_t *lineno, uint64_t *off);
/* Gives back the line just read (starting at off, number lineno): the next
 * call returns it again. */
void ks__linein_unread(ks_linein *l, uint64_t off, uint64_t lineno);
void ks__linein_report(ks_linein *l, ks_diag_level lvl, int code, uint64_t line, uint64_t off,
                       const char *fmt, ...) KS_PRINTF(6, 7);
/* Reports the count of suppressed warnings; does not free l. */
void ks__linein_close(ks_linein *l);
/* An input state that is a struct of size bytes with its ks_linein first:
 * ks__linein_open allocates it zeroed with the reader set up (*state);
 * ks__linein_free closes the reader and frees it (NULL is fine), usable
 * as the input's close. */
int ks__linein_open(const ks_input_ctx *ctx, size_t size, const char *component, size_t max_line,
                    void **state);
void ks__linein_free(void *state);
/* Sets ev's line and offset. */
void ks__linein_prov(ks_event *ev, uint64_t lineno, uint64_t off);

#endif
