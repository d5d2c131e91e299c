/* SPDX-License-Identifier: Apache-2.0
 *
 * Page lists of the exchange detector (exchange_pages.c): which script
 * pages Exchange itself serves under the folders where web shells were
 * planted (/owa/auth/, /ecp/auth/, /aspnet_client/), and which file names
 * are known web shells. Both are data files (rules/exchange/) named by
 * options, so a responder can replace them without rebuilding:
 *   exchange.stock_pages  (default rules/exchange/stock-pages.txt)
 *   exchange.shell_names  (default rules/exchange/shell-names.txt)
 *   exchange.ioc, ioc     lists of paths (MSTIC CSV, ...): their file names
 *                         join the shell names.
 *
 * Ownership: a ks_xpages is built in create() and read-only afterwards
 * (shared by every worker).
 */
#ifndef KS_EXCHANGE_H
#define KS_EXCHANGE_H

#include "kensa_int.h"

typedef struct ks_xpages ks_xpages;

/* Loads every list the options name. Unreadable files are WARN
 * diagnostics (the detector still runs). KS_OK or KS_ENOMEM. */
int ks__xpages_load(ks_engine *e, ks_xpages **out);
void ks__xpages_free(ks_xpages *p); /* NULL-safe */

/* True when the (decoded) URL path is a page Exchange ships. */
bool ks__xpages_stock(const ks_xpages *p, ks_slice stem);
/* True when the file name of a URL path or file path is a known shell. */
bool ks__xpages_shell(const ks_xpages *p, ks_slice path);
/* Counts, for tests and the run summary. */
size_t ks__xpages_nstock(const ks_xpages *p);
size_t ks__xpages_nshell(const ks_xpages *p);

/* The part of a path after its last '/' or '\\'. */
ks_slice ks__path_base(ks_slice s);

#endif
