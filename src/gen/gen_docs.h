/* SPDX-License-Identifier: Apache-2.0
 *
 * In-memory builders of the documents and archives the content extractors
 * read (tests call them directly; `kensa-gen docs` writes them to a
 * directory): archives through libarchive's writer, OOXML (docx, xlsx with
 * shared strings, pptx) and ODF as zips of minimal XML parts, PDF written
 * by hand with correct cross-references (optionally Flate-compressed
 * pages), RTF, and a git repository whose secret exists only in history.
 *
 * Every builder returns 0 and a malloc'd buffer (*out, *n; the caller
 * frees), or -1. Text arguments are UTF-8.
 */
#ifndef KS_GEN_DOCS_H
#define KS_GEN_DOCS_H

#include <stddef.h>
#include <stdint.h>

typedef struct gen_member {
    const char *name;       /* path inside the archive */
    const void *p;          /* content */
    size_t n;
} gen_member;

/* format: "zip", "zipstore" (members stored, not deflated), "7zip",
 * "ustar", "raw" (one member, needs a filter);
 * filter: NULL, "gzip", "bzip2", "xz", "zstd". */
int gen_archive(const char *format, const char *filter, const gen_member *m, size_t nm,
                uint8_t **out, size_t *n);
/* A docx whose body has one paragraph per line of text; each paragraph's
 * text is cut into runs of `run` characters (0 = one run), the way Word
 * splits words at revision or spell-check marks. */
int gen_docx(const char *text, size_t run, uint8_t **out, size_t *n);
/* An xlsx with one sheet: cells[i] in column A row i+1, as shared strings. */
int gen_xlsx(const char *const *cells, size_t ncells, uint8_t **out, size_t *n);
/* A pptx with one slide per string. */
int gen_pptx(const char *const *slides, size_t nslides, uint8_t **out, size_t *n);
/* An ODF text document (odt). */
int gen_odt(const char *text, uint8_t **out, size_t *n);
/* A PDF with one page per string (ASCII; lines split on \n), Helvetica;
 * `flate`: compress the page streams. */
int gen_pdf(const char *const *pages, size_t npages, int flate, uint8_t **out, size_t *n);
/* An RTF document with the text (ASCII, \n = \par) and a \'e9-escaped word. */
int gen_rtf(const char *text, uint8_t **out, size_t *n);
/* A zip nested `levels` deep around a text member (bombs of depth). */
int gen_nested_zip(unsigned levels, const char *text, uint8_t **out, size_t *n);

/* Creates a git repository at dir (libgit2) with three commits on main:
 * the first adds config.env holding `secret`, the second deletes it, the
 * third adds README.md. The secret is then only in history. 0 or -1. */
int gen_git_history(const char *dir, const char *secret);

#endif
