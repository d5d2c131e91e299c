/* SPDX-License-Identifier: Apache-2.0
 *
 * The option registry: every key ks_engine_set() accepts, with its type,
 * default, range and one-line doc (one table, src/lib/engine/options.def).
 * Programs use it to build their flags and help (the kensa command does),
 * and to tell users what a key means without a copy of the docs.
 *
 * The rows are static: pointers stay valid for the life of the process and
 * may be read from any thread.
 */
#ifndef KENSA_OPTION_H
#define KENSA_OPTION_H

#include <stddef.h>
#include "kensa/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ks_opt_type {
    KS_OPT_BOOL = 0, /* true/false, yes/no, on/off, 1/0 */
    KS_OPT_INT,      /* decimal integer */
    KS_OPT_SIZE,     /* bytes: 4096, 64K, 100M, 1G */
    KS_OPT_DOUBLE,   /* decimal number */
    KS_OPT_TIME,     /* a moment: RFC 3339 or a date */
    KS_OPT_DURATION, /* 500ms, 90s, 10m, 1h, 7d, 2w; a bare number is seconds */
    KS_OPT_STRING,   /* free text (a path, a directory) */
    KS_OPT_LIST,     /* text; each set appends a value */
    KS_OPT_ENUM      /* one of the words in range ("a|b|c") */
} ks_opt_type;

typedef struct ks_option {
    const char *key;     /* "spray.min_accounts"; "detector.*" matches any suffix */
    ks_opt_type type;
    const char *dflt;    /* default as text, "" = none */
    const char *range;   /* "LO..HI", "a|b|c", or "" */
    const char *flag;    /* long flag of the hunting commands, or NULL */
    int short_flag;      /* one-letter flag, or 0 */
    const char *metavar; /* what the flag takes ("FILE", "N"), NULL for none */
    const char *doc;     /* one line */
} ks_option;

/* Row i of the registry, NULL past the end (rows are in the table's order,
 * grouped by subsystem). */
KS_API const ks_option *ks_option_at(size_t i);
/* The row that governs key (exact, else a "prefix.*" row), or NULL. */
KS_API const ks_option *ks_option_find(const char *key);
/* "bool", "int", "size", ... */
KS_API const char *ks_option_type_name(ks_opt_type t);
/* Checks value against the row of key without an engine: KS_OK, or
 * KS_EUSAGE with a sentence naming the key in msg (always NUL-terminated). */
KS_API int ks_option_check(const char *key, const char *value, char *msg, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
