/* SPDX-License-Identifier: Apache-2.0
 *
 * Helpers shared by the web-server and Exchange log inputs (w3c.c,
 * exchange_logs.c): percent-decoding for the "-decoded" companion fields,
 * byte hygiene (binary garbage, invalid UTF-8) and a per-file cap on
 * diagnostics so one damaged file cannot flood the report.
 *
 * Ownership: decoded and repaired text is allocated in the event's arena
 * and lives until the next event; unchanged text is returned as the
 * caller's own slice (zero-copy).
 */
#ifndef KS_WEBLOG_H
#define KS_WEBLOG_H

#include "kensa_int.h"

/* Diagnostics reported per file before the rest are only counted. */
#define KS_WEBLOG_MAX_DIAGS 20

/* Percent-decodes s (and '+' to space if plus_space). Invalid escapes stay
 * as written; decoded bytes that are not valid UTF-8 become U+FFFD so the
 * event keeps its UTF-8 invariant. *out is s itself when nothing changed.
 * KS_ENOMEM when the arena is exhausted (then *out = s). */
int ks__url_decode(ks_arena *a, const char *s, size_t n, bool plus_space, ks_slice *out);

/* Replaces every '+' with a space (IIS writes spaces in headers as '+').
 * Zero-copy when there is none. */
int ks__plus_to_space(ks_arena *a, const char *s, size_t n, ks_slice *out);

/* Classifies a line: returns true if it holds control bytes other than tab
 * (binary garbage); sets *high when it has bytes >= 0x80. */
bool ks__line_has_ctl(const char *s, size_t n, bool *high);

/* Copy of s with invalid UTF-8 replaced by U+FFFD (arena), or s itself
 * when it is valid. */
int ks__utf8_repair(ks_arena *a, const char *s, size_t n, ks_slice *out);

/* Parses "YYYY-MM-DD" and "HH:MM:SS[.fff]" into UTC ns. KS_EFORMAT if
 * either is malformed. */
int ks__w3c_time(const char *d, size_t dn, const char *t, size_t tn, int64_t *out);

#endif
