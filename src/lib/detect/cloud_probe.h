/* SPDX-License-Identifier: Apache-2.0
 *
 * Live anonymous probe of storage endpoints (Azure Blob containers, S3
 * buckets): can an anonymous client list them, read from them? Findings go
 * to the engine like any other. Only the URLs given are contacted; object
 * contents are never downloaded unless fetch_sample > 0.
 */
#ifndef KS_CLOUD_PROBE_H
#define KS_CLOUD_PROBE_H

#include <stdio.h>
#include "kensa_int.h"

typedef struct cloud_probe_opts {
    int concurrency;        /* parallel targets (threads), default 8 */
    long timeout_ms;        /* whole request, default 20000 */
    long connect_ms;        /* default 5000 */
    int retries;            /* on 429/503/ServerBusy/SlowDown/transport errors, default 3 */
    double rate;            /* requests per second overall, 0 = unlimited */
    int max_pages;          /* listing pages per target, default 50 */
    int page_size;          /* objects per page, default 1000 */
    int fetch_sample;       /* objects to download per listable target, default 0 */
    const char *sample_dir; /* where samples go, default "kensa-samples" */
    bool insecure;          /* skip TLS verification (emulators with self-signed certs) */
    const char *provider;   /* "azure", "s3" or NULL = by host name, else try both */
} cloud_probe_opts;

/* The probe.* options of e (the registry's defaults when e is NULL). */
void ks__cloud_probe_options(const ks_engine *e, cloud_probe_opts *o);
/* Probes every URL; prints one status line per target to `report` (may be
 * NULL); emits findings on e. Returns KS_OK (target errors are diagnostics). */
int ks__cloud_probe(ks_engine *e, const char *const *urls, size_t n, const cloud_probe_opts *o, FILE *report);

#endif
