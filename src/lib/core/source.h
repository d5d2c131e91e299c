/* SPDX-License-Identifier: Apache-2.0
 *
 * ks_source: one piece of evidence as a byte stream, whatever it is stored
 * in. Plain files are memory-mapped (zero-copy, and the kernel pages them
 * in and out so memory stays bounded on files larger than RAM); gzip and
 * zstd files and stdin are decompressed into a sliding window.
 *
 * Readers see one model: ask for a window [off, off+want) and get a pointer
 * to at least `want` bytes (fewer only at end of stream), then say which
 * bytes they no longer need so the window can slide. A reader that needs
 * random access to the whole content (EVTX) calls ks__source_map(), which
 * spills a compressed stream to an unlinked temporary file first.
 *
 * Ownership: pointers returned by window/map are valid until the next
 * window/release/close call on the same source. One thread per source.
 */
#ifndef KS_SOURCE_H
#define KS_SOURCE_H

#include <sys/stat.h>
#include "core.h"

typedef struct ks_source ks_source;

typedef enum ks_codec {
    KS_CODEC_NONE = 0,
    KS_CODEC_GZIP,
    KS_CODEC_ZSTD
} ks_codec;

#define KS_HEAD_MAX 4096         /* bytes given to input probes */
#define KS_WINDOW_MAX ((size_t)256 << 20) /* largest window a stream may need */

/* Opens `path` (relative to dirfd unless AT_FDCWD / absolute; "-" = stdin).
 * Never follows a symlink in the last component (O_NOFOLLOW); refuses
 * non-regular files except stdin/pipes. On error returns a KS_E* code and
 * writes a sentence to errbuf. */
int ks__source_open(int dirfd, const char *name, const char *path,
                    ks_source **out, char *errbuf, size_t errcap);
/* Wraps an open descriptor of a pipe or FIFO as a stream (like stdin);
 * takes fd (closed by ks__source_close, or here on failure). */
int ks__source_fdopen(int fd, const char *path, ks_source **out);
/* Wraps memory (tests, fuzzers). The memory is borrowed. */
int ks__source_mem(const void *p, size_t n, const char *path, ks_source **out);
void ks__source_close(ks_source *s);

const char *ks__source_path(const ks_source *s);
ks_codec ks__source_codec(const ks_source *s);
/* Size of the decompressed stream if known (plain files), else UINT64_MAX. */
uint64_t ks__source_size(const ks_source *s);
const struct stat *ks__source_stat(const ks_source *s); /* NULL for stdin/mem */
/* First bytes of the decompressed content (up to KS_HEAD_MAX). */
const uint8_t *ks__source_head(ks_source *s, size_t *n);

/* Window: on success *p points at offset `off` and *avail >= want unless the
 * stream ends first (then *avail is what is left, possibly 0). Offsets
 * before the last release point are gone (KS_EUSAGE). KS_ELIMIT if `want`
 * exceeds KS_WINDOW_MAX; KS_EIO / KS_EFORMAT on read or decompression
 * errors (corrupt gzip), after which the stream is at its end. */
int ks__source_window(ks_source *s, uint64_t off, size_t want,
                      const uint8_t **p, size_t *avail);
/* Plain files only (a no-op for other sources): from now on windows are
 * copied from the file by pread into a buffer of the source instead of
 * handed out from the mapping (cheaper than a page fault per page; see
 * source.c), so a window's pointer really is dead after the next
 * window/release call: a reader that turns this on keeps no pointer into
 * an earlier window. The mapping stays for ks__source_map and the head.
 * A file that shrinks ends its windows there (ks__source_shrunk). */
void ks__source_use_reads(ks_source *s);
/* Bytes before `off` will not be asked for again. */
void ks__source_release(ks_source *s, uint64_t off);
/* Drops the pages of [from, to) of a mapped file from the process's memory
 * (they stay readable: touching them again reads the page cache) and
 * returns true; a no-op returning false for other sources. For a
 * whole-file pass ahead of another, or behind a reader. */
bool ks__source_drop_pages(ks_source *s, uint64_t from, uint64_t to);
/* Reads up to n bytes at off of a plain (uncompressed, mapped) file from
 * its descriptor, leaving the mapping untouched: a whole-file pass ahead
 * of the reader (a content hash) then costs a copy from the page cache
 * instead of a page fault per 64 KiB and a second set of faults for the
 * reader. Returns the bytes read (0 at the end), or -1 for any other
 * source or a read error. */
ssize_t ks__source_pread(ks_source *s, void *buf, size_t n, uint64_t off);
/* Whole content, contiguous. */
int ks__source_map(ks_source *s, const uint8_t **p, uint64_t *n);

/* Decompression budgets (issue 15: a 329 KB .zst became 10 GB). A
 * compressed stream stops, as if it ended with KS_ELIMIT, once its
 * decompressed bytes pass max_out, or pass ratio_floor while being more
 * than max_ratio times the compressed bytes read, or once the run's total
 * (*run_out, shared by every source of a run) passes run_max. Spills for
 * ks__source_map go to spill_dir (NULL: $TMPDIR, else /tmp), at most
 * spill_max bytes. Zero means no limit. Pointers are borrowed. */
typedef struct ks_source_budget {
    uint64_t max_out;
    double max_ratio;
    uint64_t ratio_floor;
    uint64_t *run_out;       /* updated with atomics */
    uint64_t run_max;
    const char *spill_dir;
    uint64_t spill_max;
} ks_source_budget;
void ks__source_set_budget(ks_source *s, const ks_source_budget *b);
/* Why a budget stopped the stream ("decompressed size over ..."), or NULL. */
const char *ks__source_stopped(const ks_source *s);
/* Decompressed bytes produced so far (compressed streams). */
uint64_t ks__source_produced(const ks_source *s);

/* A mapped file that shrinks while read: the bytes past its new end read
 * as zeros instead of killing the process with SIGBUS (sigbus.c), and the
 * window stops at the first faulting page (or, in reads mode, where a
 * pread came up short). Returns that offset, or UINT64_MAX while nothing
 * faulted. The caller reports the file. */
uint64_t ks__source_shrunk(const ks_source *s);

/* The SIGBUS guard itself (sigbus.c): registers a mapping (returns a slot,
 * -1 when the table of 4096 is full: the mapping is then unguarded), the
 * offset of its first fault (UINT64_MAX = none), and unregisters it (before
 * munmap). Thread-safe; installs the handler on first use. */
int ks__guard_add(const void *base, size_t len);
uint64_t ks__guard_fault(int slot);
void ks__guard_remove(int slot);

/* Line reader on top of the window: returns KS_OK with the line (without
 * \r\n), its 1-based number and start offset; KS_EOF at end; KS_ELIMIT for a
 * line longer than max (the line is skipped, *lineno/off still set). */
typedef struct ks_lines {
    ks_source *src;
    uint64_t off;     /* next unread byte */
    uint64_t lineno;  /* lines returned so far */
    size_t max;       /* longest line accepted */
} ks_lines;
void ks__lines_init(ks_lines *l, ks_source *src, size_t max);
int ks__lines_next(ks_lines *l, const char **line, size_t *n,
                   uint64_t *lineno, uint64_t *off);
/* For a reader that finds the line's end itself, in the pass that reads
 * the line anyway: peek releases what is behind the next line and gives
 * the bytes from it on (a few KiB unless the stream ends first; KS_OK or
 * what the window returned); take consumes n of them (a line and its
 * '\n') as ks__lines_next would have, giving its number and offset, and
 * calls nothing on the source, so the peeked bytes stay valid for the
 * lines after it until the next peek or ks__lines_next. A line the reader
 * cannot finish within the peek (or over max) is left to ks__lines_next. */
int ks__lines_peek(ks_lines *l, const uint8_t **p, size_t *avail);
void ks__lines_take(ks_lines *l, size_t n, uint64_t *lineno, uint64_t *off);

#endif
