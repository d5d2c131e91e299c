/* SPDX-License-Identifier: Apache-2.0
 *
 * Helpers shared by the extractor families of this folder (not by their
 * users, who see extract.h only): the libarchive member walk that zip-based
 * documents reuse, and charset conversion into a buffer for formats that
 * must parse their text after decoding it (XML in UTF-16).
 */
#ifndef KS_EXTRACT_INT_H
#define KS_EXTRACT_INT_H

#include "extract/extract.h"

/* Hands every regular member of the archive in p[0..n) to
 * ks__extract_child, each read into memory under ks__xchild_room (a member
 * past the budget is cut there, with a diagnostic naming the chain). A
 * damaged or truncated archive is a KS_DIAG_WARN; the members read before
 * the damage stay extracted. `compressed_stream`: p may be a bare
 * gzip/bzip2/xz/zstd/lz4 stream without an archive inside (read as one
 * member). `skip` (may be NULL) names members not worth reading (media in
 * documents). `take` (may be NULL) is offered each member read whole
 * (not cut by a budget): returning true, it keeps the malloc'd p (its to
 * free) and the member is not extracted as a child (a spreadsheet's sheet
 * parts, rebuilt as tables after the walk). Returns KS_OK or the first
 * error after its diagnostic. */
typedef bool (*ks_xskip_fn)(const char *member);
typedef bool (*ks_xtake_fn)(void *ud, const char *member, uint8_t *p, size_t n);
int ks__xarchive_walk(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n,
                      bool compressed_stream, ks_xskip_fn skip, ks_xtake_fn take, void *ud);

/* p[0..n) as UTF-8 for an extractor that parses its text after decoding
 * it: a BOM skipped; text in another charset (the sniffed one, or
 * `declared` when there is no BOM: an XML declaration's) converted into
 * conv, whose limit is set from the budget (callers size their output
 * buffer the same). *s, *sn: the text, borrowed from p or conv. KS_OK
 * (also when the conversion was cut at the limit), else an error. */
int ks__xutf8_view(ks_xctx *x, const uint8_t *p, size_t n, const char *declared, ks_buf *conv,
                   const char **s, size_t *sn);

/* The node's "text" for an extractor that rewrites its decoded text:
 * p[0..n) viewed as UTF-8 (ks__xutf8_view, `declared` as there), fn
 * appends the rewritten text to an output bounded like the conversion,
 * and a cut (fn's error) is a warning naming `what`; what was written
 * is emitted either way. Returns the emit's status or the view's error. */
typedef int (*ks_xrewrite_fn)(const char *s, size_t n, void *arg, ks_buf *out);
int ks__xutf8_rewrite(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n,
                      const char *declared, ks_xrewrite_fn fn, void *arg, const char *what);

/* Text of XML or HTML markup p[0..n) appended to out (markup.c): tags
 * dropped, entities decoded, table cells joined by tabs. */
int ks__xmarkup_text(const char *p, size_t n, bool html, ks_buf *out);

/* xlsx sheets as tables (sheet.c): the walk's `take` hook keeps
 * xl/sharedStrings.xml and the sheets of xl/worksheets/; ks__xsheets_emit then gives
 * each sheet as one tab-separated text (a row a line, cells in their
 * columns, shared strings resolved) so a header row names its column as
 * in a CSV; shared strings no cell uses are given as lines of their own.
 * Without a sheet (a damaged workbook) the kept parts are extracted as
 * ordinary children. */
typedef struct ks_xsheets {
    uint8_t *sst;
    size_t sstn;
    struct ks_xsheet_part {
        char *name;
        uint8_t *p;
        size_t n;
    } *parts;
    size_t nparts, cap;
} ks_xsheets;
bool ks__xsheets_take(void *ud, const char *member, uint8_t *p, size_t n);
int ks__xsheets_emit(ks_xctx *x, const ks_xnode *node, ks_xsheets *s);
void ks__xsheets_free(ks_xsheets *s);

/* True when p starts like a zip local file header or end record. */
bool ks__xis_zip(const uint8_t *p, size_t n);

/* Appends p[0..n) in charset cs converted to UTF-8 to out (undecodable
 * units as U+FFFD, Windows-1252's holes as Latin-1). KS_EUNSUPPORTED for a
 * charset iconv does not know, KS_ELIMIT past out's limit. */
int ks__xconvert_buf(const char *p, size_t n, const char *cs, ks_buf *out);

#endif
