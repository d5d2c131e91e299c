/* SPDX-License-Identifier: Apache-2.0
 *
 * kensa's JSON parser: a zero-copy flattener from one JSON value to event
 * fields, and the "json" input format built on it (json.c). Other modules
 * use the flattener for JSON embedded in strings (Log Analytics'
 * AuthenticationDetails, an S3 bucket policy, M365 AuditData).
 *
 * Flattening: objects become dotted paths ("status.errorCode"), arrays are
 * indexed ("authenticationDetails.0.succeeded"); the elements of an array of
 * scalars are also added under the array's own path, so a rule on "tags"
 * sees every element. Strings without escapes and with valid UTF-8 point
 * into the input; others are decoded into the event's arena. Empty objects
 * and arrays add nothing. Nesting deeper than KS_JSON_MAX_DEPTH, or a path
 * longer than KS_JSON_MAX_PATH, is an error (KS_ELIMIT).
 *
 * Thread-safety: all functions are reentrant.
 */
#ifndef KS_JSON_H
#define KS_JSON_H

#include "kensa_int.h"

#define KS_JSON_MAX_DEPTH 128
#define KS_JSON_MAX_PATH 1024

/* Parses the JSON value at p[0..n) (surrounding white space allowed, nothing
 * else after it) and adds its leaves to ev under `prefix` (may be empty; a
 * '.' is put between prefix and keys). On error returns KS_EFORMAT or
 * KS_ELIMIT and, when err is not NULL, sets err->offset to the byte offset
 * (relative to p) where it went wrong and *why to a static sentence; fields
 * added before the error stay in ev. */
int ks__json_flatten(ks_event *ev, const char *prefix, size_t prefix_n, const char *p, size_t n,
                     uint64_t *err_off, const char **why);

/* Finds the end of the JSON object or array starting at p[0], skipping
 * strings. Returns its length including the closing bracket; 0 if p[0..n)
 * ends first; (size_t)-1 if a raw control character appears inside a string
 * or, with stop_at_newline, a newline appears outside one (a broken JSON
 * lines record). */
size_t ks__json_extent(const char *p, size_t n, bool stop_at_newline);

/* True when the JSON whose first bytes are h names one of the time fields
 * the json input reads an event's time from: a log (sign-ins, audit
 * records). A document without one (a service-account key file,
 * appsettings.json) is data, and the secrets detector looks for personal
 * data in it, as in a CSV table (ks__csv_is_log). */
bool ks__json_is_log(const uint8_t *h, size_t n);

#endif
