/* SPDX-License-Identifier: Apache-2.0
 *
 * A writer of valid EVTX files with known records, for tests, the demo and
 * benchmarks. Records use templates the way Windows does: one template per
 * event shape (provider, channel, event id, data names and types), defined
 * inline at its first use in each chunk and referenced afterwards; names
 * carry their hashes; chunk and file checksums are correct, so independent
 * parsers (libevtx's evtxexport, python-evtx) read the output too.
 *
 * Ownership: strings in a record are borrowed for the call.
 */
#ifndef KS_EVTX_WRITER_H
#define KS_EVTX_WRITER_H

#include <stddef.h>
#include <stdint.h>

typedef enum evtxw_type {
    EVTXW_STR = 0,   /* UTF-8 text, written as UTF-16 */
    EVTXW_U32,       /* decimal text of an unsigned 32-bit number */
    EVTXW_HEX32,     /* "0xc000006d": written as HexInt32 */
    EVTXW_U64,
    EVTXW_SID        /* "S-1-5-21-...": written as a binary SID */
} evtxw_type;

typedef struct evtxw_field {
    const char *name;     /* <Data Name="...">; NULL: <Data> without a name
                             (classic sources: SQL Server, MSExchange) */
    const char *value;
    evtxw_type type;
} evtxw_field;

typedef struct evtxw_record {
    uint16_t event_id;
    int64_t time;          /* UTC ns */
    uint8_t level;         /* 0 = LogAlways, 4 = Information */
    const char *provider;  /* "Microsoft-Windows-Security-Auditing" */
    const char *channel;   /* "Security" */
    const char *computer;  /* "DC01.contoso.local" */
    const evtxw_field *data;
    size_t ndata;          /* at most 64 */
} evtxw_record;

typedef struct evtx_writer evtx_writer;

/* Creates path. 0 or -1 (message on stderr). */
int evtxw_open(const char *path, evtx_writer **out);
/* Appends one record; record ids count from 1. */
int evtxw_add(evtx_writer *w, const evtxw_record *r);
/* Writes the last chunk and the file header; frees w. */
int evtxw_close(evtx_writer *w);

#endif
