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

#include <stdarg.h>
#include "kensa_int.h"

/* Diagnostics reported per file before the rest are only counted. */
#define KS_WEBLOG_MAX_DIAGS 20

/* Located diagnostics of one file, capped: WARN and worse beyond
 * KS_WEBLOG_MAX_DIAGS are only counted, and ks__diagcap_close reports
 * the count in one closing line. */
typedef struct ks_diagcap {
    ks_engine *e;
    const char *path;       /* the file; borrowed */
    const char *component;  /* "w3c", "exchange", "csv" */
    uint64_t ndiag;         /* WARN+ reported one by one */
    uint64_t nsuppressed;   /* WARN+ only counted */
} ks_diagcap;

void ks__diagcap(ks_diagcap *c, ks_diag_level lvl, int code, uint64_t line, uint64_t off,
                 const char *fmt, ...) KS_PRINTF(6, 7);
void ks__diagcapv(ks_diagcap *c, ks_diag_level lvl, int code, uint64_t line, uint64_t off,
                  const char *fmt, va_list ap) KS_PRINTF(6, 0);
/* The closing line when some were suppressed; nbad = records skipped. */
void ks__diagcap_close(ks_diagcap *c, uint64_t nbad);

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
/* The same, with the last date and time parsed kept in m (zeroed by the
 * caller, one per reader): the lines of a day repeat its date, those of a
 * second its time. */
typedef struct ks_w3c_day {
    bool ok;       /* txt and secs hold a parsed date */
    char txt[10];  /* "YYYY-MM-DD" as written */
    int64_t secs;  /* its 00:00 UTC in seconds */
    bool clock_ok; /* clock and out hold the last "HH:MM:SS" of that date */
    char clock[8];
    int64_t out;   /* the date and clock in UTC ns */
} ks_w3c_day;
int ks__w3c_time_memo(ks_w3c_day *m, const char *d, size_t dn, const char *t, size_t tn,
                      int64_t *out);

/* Parses the dates spreadsheet-style exports write (Purview audit search,
 * Log Analytics, Excel): "11/20/2026 8:00:00 AM", "11/20/2026, 8:00:00.000
 * PM", "11/20/2026 20:00"; month first as Microsoft's en-US exports write
 * it, unless the first number cannot be a month. UTC. KS_EFORMAT else. */
int ks__us_time(const char *s, size_t n, int64_t *out);

/* Microsoft Test-ProxyLogon's ECP check, "Set-.+VirtualDirectory": a Set-
 * cmdlet on any virtual directory seen anywhere in the text (the exchange
 * input uses it to recognise ECP lines that lost their header, the
 * exchange detector to judge them). */
bool ks__vdir_set(const char *s, size_t n);

/* Splits one CSV record (RFC 4180: "" inside quotes). Quoted fields with
 * "" are unescaped into the arena (a NULL arena leaves them doubled: for
 * probing). Returns the field count (max + 1 when
 * there are more than max), or (size_t)-1 for an unterminated quote. */
size_t ks__csv_split(ks_arena *a, const char *s, size_t n, ks_slice *t, size_t max);

/* True when the CSV whose first bytes are h has a log's header row: a
 * known log family's columns (HttpProxy, IIS, ECP, Entra sign-ins) or a
 * time column. A table without either (a customer export: name, e-mail,
 * phone) is data, and the secrets detector looks for personal data in it. */
bool ks__csv_is_log(const uint8_t *h, size_t n);

/* One record line of a line-oriented log (exchange and csv inputs). */
typedef struct ks_weblog_line {
    const char *s;          /* the text (UTF-8, repaired into ev's arena if needed) */
    size_t n;
    uint64_t lineno, off;   /* where it starts */
} ks_weblog_line;

/* The next record line, with the chores each such input does: a line
 * longer than the cap is reported (naming option `opt`) and skipped, line
 * 1's BOM is dropped, empty lines are skipped, lines holding control
 * bytes are reported and skipped, and ev is reset and its prov.line /
 * prov.offset set before invalid UTF-8 is repaired into its arena. nbad
 * counts the damaged lines skipped. KS_OK, or what ks__lines_next
 * returned (KS_EOF, an error). */
int ks__weblog_next(ks_lines *l, ks_diagcap *dc, const char *opt, uint64_t *nbad, ks_event *ev,
                    ks_weblog_line *out);

#endif
