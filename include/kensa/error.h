/* SPDX-License-Identifier: Apache-2.0
 *
 * Error codes and located diagnostics.
 *
 * Every fallible kensa function returns KS_OK (0) or a negative KS_E* code.
 * KS_EOF (positive) is not an error: it ends an input stream. The codes come
 * from one X-macro so the enum and ks_strerror() can never disagree.
 *
 * A diagnostic (ks_diag) is an error value that also says *where*: the file,
 * the record or line, and the byte offset in the (decompressed) input, so a
 * responder can open the evidence at the exact place kensa complained about.
 */
#ifndef KENSA_ERROR_H
#define KENSA_ERROR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(KS_BUILDING_LIBRARY)
#define KS_API __attribute__((visibility("default")))
#else
#define KS_API
#endif

/* name, value, message */
#define KS_ERRNO_MAP(X)                                                    \
    X(OK, 0, "success")                                                    \
    X(NOMEM, -1, "out of memory")                                          \
    X(IO, -2, "input/output error")                                        \
    X(FORMAT, -3, "malformed input")                                       \
    X(USAGE, -4, "invalid argument")                                       \
    X(LIMIT, -5, "limit exceeded")                                         \
    X(UNSUPPORTED, -6, "not supported")                                    \
    X(NOTFOUND, -7, "not found")                                           \
    X(TIMEOUT, -8, "timed out")                                            \
    X(TRUNCATED, -9, "truncated input")                                    \
    X(CHECKSUM, -10, "checksum mismatch")                                  \
    X(PERM, -11, "permission denied")                                      \
    X(INTERNAL, -12, "internal error")                                     \
    X(RULE, -13, "invalid rule")                                           \
    X(NET, -14, "network error")

typedef enum ks_err {
#define KS_ERR_ENUM_(name, val, msg) KS_E##name = (val),
    KS_ERRNO_MAP(KS_ERR_ENUM_)
#undef KS_ERR_ENUM_
    KS_EOF = 1 /* end of stream: not an error */
} ks_err;

#define KS_OK KS_EOK

/* Static string for a code; never NULL ("unknown error" for strangers). */
KS_API const char *ks_strerror(int code);

/* Where in the evidence something happened. Every member is optional:
 * 0 / NULL mean "not known". Offsets are in the decompressed stream. */
typedef struct ks_loc {
    const char *path;   /* evidence file, borrowed */
    uint64_t record;    /* record number / id (EVTX EventRecordID), 0 = none */
    uint64_t line;      /* 1-based line number, 0 = none */
    uint64_t offset;    /* byte offset, UINT64_MAX = none */
    int64_t chunk;      /* container unit (EVTX chunk), -1 = none */
} ks_loc;

#define KS_LOC_NONE {NULL, 0, 0, UINT64_MAX, -1}

typedef enum ks_diag_level {
    KS_DIAG_INFO = 0,    /* worth knowing, not a problem (skipped file type) */
    KS_DIAG_WARN = 1,    /* evidence is damaged but the rest was read */
    KS_DIAG_ERROR = 2    /* evidence or rule could not be read: exit status 2 */
} ks_diag_level;

/* A located diagnostic. Passed to callbacks by pointer; valid only for the
 * duration of the call (copy what you keep). */
typedef struct ks_diag {
    int code;              /* KS_E* */
    ks_diag_level level;
    const char *component; /* "json", "evtx", "walk", "sigma", ... */
    ks_loc loc;
    const char *msg;       /* human sentence: what and why */
} ks_diag;

#ifdef __cplusplus
}
#endif
#endif
