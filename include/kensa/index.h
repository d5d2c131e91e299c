/* SPDX-License-Identifier: Apache-2.0
 *
 * The exposure index (kensa index build / stats, the portal's data): what
 * an exposed dump revealed per organisation, stored with keyed hashes in
 * an SQLite file. Building is an engine run: set the option "index.db"
 * (and "index.key" for the key file, default DB.key) and add the dump's
 * paths; the "index" file detector does the work (docs/PORTAL.md).
 *
 * This header reads an index for the operator. Thread-safety: each call
 * opens its own connection.
 */
#ifndef KENSA_INDEX_H
#define KENSA_INDEX_H

#include <stddef.h>
#include "kensa/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Counts for one domain as a JSON object (integers under "addresses" /
 * "emails", "phones", "people", "documents", "secrets", ...), or the
 * whole-index totals when domain is NULL. keyfile NULL = db + ".key".
 * On success *json is a NUL-terminated string the caller free()s; on
 * error a sentence is in err (always NUL-terminated). */
KS_API int ks_index_stats(const char *db, const char *keyfile, const char *domain, char **json,
                          char *err, size_t errcap);

#ifdef __cplusplus
}
#endif
#endif
