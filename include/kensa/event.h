/* SPDX-License-Identifier: Apache-2.0
 *
 * The normalized event: what every input format produces and every event
 * detector consumes.
 *
 * An event is a flat list of (field, value) pairs. Field names are interned
 * paths ("Event.EventData.TargetUserName", "properties.ipAddress",
 * "properties.authenticationDetails.0.succeeded") so a lookup compares one
 * 32-bit id, not a string. Values are typed; string and binary values are
 * slices that may point straight into the mapped evidence (zero-copy), so
 * an event and everything it points to is valid only during the callback
 * that received it.
 *
 * Invariants:
 *  - time is UTC nanoseconds since the Unix epoch, KS_TIME_NONE if unknown;
 *  - string values are UTF-8 (readers convert UTF-16 and replace invalid
 *    sequences with U+FFFD) and are not NUL-terminated;
 *  - a field name may repeat (XML elements, JSON arrays flatten to indexed
 *    paths so they do not, but a reader may still emit duplicates).
 */
#ifndef KENSA_EVENT_H
#define KENSA_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "kensa/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t ks_sym;           /* interned string id; 0 = no symbol */
typedef struct ks_symtab ks_symtab; /* the interner; one per engine */
typedef struct ks_event ks_event;   /* opaque outside the library */

#define KS_TIME_NONE INT64_MIN

typedef struct ks_slice {
    const char *p; /* not NUL-terminated; borrowed */
    size_t n;
} ks_slice;

typedef enum ks_vtype {
    KS_VNULL = 0,
    KS_VSTR,   /* .s: UTF-8 text */
    KS_VINT,   /* .i */
    KS_VUINT,  /* .u */
    KS_VFLOAT, /* .f */
    KS_VBOOL,  /* .b */
    KS_VTIME,  /* .t: UTC ns since epoch */
    KS_VBIN    /* .s: raw bytes */
} ks_vtype;

typedef struct ks_value {
    ks_vtype type;
    union {
        ks_slice s;
        int64_t i;
        uint64_t u;
        double f;
        bool b;
        int64_t t;
    } u;
} ks_value;

typedef struct ks_field {
    ks_sym name;  /* interned path */
    ks_value v;
} ks_field;

/* Where the event came from. */
typedef struct ks_prov {
    const char *path;    /* evidence file ("-" for stdin); borrowed */
    const char *format;  /* input format name ("json", "evtx", ...) */
    uint64_t record;     /* record id inside the file (EVTX), 0 = none */
    uint64_t line;       /* 1-based line (text formats), 0 = none */
    uint64_t offset;     /* byte offset of the record in the stream */
} ks_prov;

/* --- symbols ---------------------------------------------------------- */

/* Id of an already-interned string, 0 if it was never interned. Thread-safe. */
KS_API ks_sym ks_symtab_find(const ks_symtab *t, const char *s, size_t n);
/* Interns s; returns 0 only when the table is full (see docs/LIMITS.md). */
KS_API ks_sym ks_symtab_intern(ks_symtab *t, const char *s, size_t n);
/* The interned text; valid as long as the table. NULL for unknown ids. */
KS_API const char *ks_symtab_str(const ks_symtab *t, ks_sym id, size_t *len);

/* --- reading an event (detectors, callbacks) ---------------------------- */

KS_API size_t ks_event_nfields(const ks_event *ev);
KS_API const ks_field *ks_event_field(const ks_event *ev, size_t i);
/* First field named `name`, NULL if absent. When absent and `name` is a
 * registered alias (EVTX: "TargetUserName" for
 * "Event.EventData.TargetUserName"), the aliased field. When `name` is a
 * canonical name of the field schema (docs/FIELDS.md: "host.name",
 * "log.channel", "event.code", "event.record_id", "user.name",
 * "user.target.name", "source.ip", ...), the value of the best-ranked name
 * any source uses for it. */
KS_API const ks_value *ks_event_get(const ks_event *ev, ks_sym name);
/* Same by text path; slower (one interner probe). */
KS_API const ks_value *ks_event_get_path(const ks_event *ev, const char *path);
KS_API int64_t ks_event_time(const ks_event *ev);
KS_API const ks_prov *ks_event_prov(const ks_event *ev);
KS_API const ks_symtab *ks_event_symtab(const ks_event *ev);

/* Formats v as text into buf (always NUL-terminated, truncated to cap).
 * Times are RFC 3339 with nanoseconds; binary is lowercase hex. Returns the
 * untruncated length, like snprintf. */
KS_API size_t ks_value_format(const ks_value *v, char *buf, size_t cap);

/* Formats a UTC ns time as 2021-03-02T04:05:06.123456789Z. */
KS_API size_t ks_time_format(int64_t t, char *buf, size_t cap);
/* Parses RFC 3339 / ISO 8601 ("2021-03-02T04:05:06.1234567-05:00",
 * "2021-03-02 04:05:06", trailing Z optional = UTC). KS_OK or KS_EFORMAT. */
KS_API int ks_time_parse(const char *s, size_t n, int64_t *out);

#ifdef __cplusplus
}
#endif
#endif
