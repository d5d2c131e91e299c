/* SPDX-License-Identifier: Apache-2.0
 *
 * ks_engine_read_file: the events of one evidence file through a callback,
 * for tools that show records as rules see them (kensa evtx dump) and for
 * programs that want kensa's readers without its detectors. The same path
 * as a hunt's: source (mmap or decompression), input probe, next(), and the
 * field schema resolved on every event.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "engine_int.h"

/* The input for a file: the named one, or the best probe score. */
static const struct ks_input *pick(ks_engine *e, ks_source *src, const char *path, const char *format)
{
    const struct ks_input *best = NULL;
    int best_score = 0;
    size_t nhead;
    const uint8_t *head = ks__source_head(src, &nhead);
    const char *name = strrchr(path, '/');
    if (format) {
        best = ks__input_find(format);
        if (!best)
            ks__seterr(e, "no input format '%s' (kensa formats)", format);
        return best;
    }
    name = name ? name + 1 : path;
    for (size_t i = 0; ks__inputs[i]; i++) {
        int s = ks__inputs[i]->probe(head, nhead, name);
        if (s > best_score) {
            best_score = s;
            best = ks__inputs[i];
        }
    }
    if (!best)
        ks__seterr(e, "%s: no input format recognises this file", path);
    return best;
}

int ks_engine_read_file(ks_engine *e, const char *path, const char *format, ks_event_fn fn, void *ud)
{
    ks_worker w;
    ks_source *src = NULL;
    void *st = NULL;
    char err[256] = "", *real = NULL;
    const struct ks_input *in = NULL;
    uint64_t nev = 0;
    int rc;
    if (!e || !path || !fn)
        return KS_EUSAGE;
    if ((rc = ks__worker_init(&w, e, 0)) != KS_OK)
        return rc;
    /* The caller named this file: a symbolic link is followed, as the
     * walk follows one named on the command line (sources never follow
     * a link in a tree). */
    struct stat lst;
    if (strcmp(path, "-") && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) && !(real = realpath(path, NULL))) {
        ks__seterr(e, "%s: symbolic link to a file that cannot be reached: %s", path, strerror(errno));
        rc = errno == EACCES ? KS_EPERM : KS_ENOTFOUND;
        goto out;
    }
    rc = ks__source_open(AT_FDCWD, NULL, real ? real : path, &src, err, sizeof err);
    if (rc != KS_OK) {
        ks__seterr(e, "%s: %s", path, err);
        goto out;
    }
    if (!(in = pick(e, src, path, format))) {
        rc = format ? KS_ENOTFOUND : KS_EFORMAT;
        goto out;
    }
    ks_input_ctx ctx = {.src = src, .path = path, .w = &w, .begin = 0, .end = UINT64_MAX};
    if ((rc = in->open(&ctx, &st)) != KS_OK) {
        ks__seterr(e, "%s: cannot read as %s: %s", path, in->name, ks_strerror(rc));
        goto out;
    }
    w.ev.prov.path = path;
    w.ev.prov.format = in->name;
    for (;;) {
        ks__event_reset(&w.ev);
        rc = in->next(st, &w.ev);
        if (rc != KS_OK)
            break;
        ks__event_finish(&w.ev);
        nev++;
        if (fn(ud, &w.ev) != 0)
            break;
    }
    /* the end of the stream, or a stop asked by fn, is success; an input
     * error was reported through the diagnostics */
    rc = rc < 0 ? rc : KS_OK;
    in->close(st);
out:
    KS_STAT_ADD(e, events, nev);
    ks__source_close(src);
    ks__worker_release(&w);
    free(real);
    return rc;
}
