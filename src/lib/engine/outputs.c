/* SPDX-License-Identifier: Apache-2.0
 *
 * Outputs that cannot hurt the user (see include/kensa/engine.h and the
 * output contract in kensa_int.h):
 *
 *  - every output is opened and checked before any evidence is read, so a
 *    bad name or an unwritable path costs nothing;
 *  - a path that is also evidence is never written (`kensa hunt --json
 *    a.evtx b.evtx` once emptied a.evtx), even with output.force; an
 *    existing file is replaced only with output.force;
 *  - stream outputs append whole records to the final path as findings
 *    come (a killed run leaves a valid prefix); reports are written under a
 *    temporary name in the same directory and renamed into place when
 *    complete (a killed run leaves no half report);
 *  - the walk does not read this run's own outputs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine_int.h"

#define MAX_OUTPUTS 32

int ks__out_write(ks_outfile *o, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(o->fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return KS_EIO;
        c += w;
        n -= (size_t)w;
    }
    return KS_OK;
}

int ks__out_fd(const ks_outfile *o) { return o->fd; }
const char *ks__out_path(const ks_outfile *o) { return strcmp(o->path, "-") ? o->path : "(stdout)"; }

int ks__outbuf_new(ks_engine *e, ks_outfile *o, size_t size, void **state)
{
    ks_outbuf *s = calloc(1, KS_MAX(size, sizeof *s));
    if (!s)
        return KS_ENOMEM;
    s->e = e;
    s->o = o;
    *state = s;
    return KS_OK;
}

int ks__outbuf_open(ks_engine *e, ks_outfile *o, void **state)
{
    return ks__outbuf_new(e, o, sizeof(ks_outbuf), state);
}

void ks__outbuf_free(void *state)
{
    ks_outbuf *s = state;
    if (!s)
        return;
    ks__buf_release(&s->b);
    free(s);
}

int ks__outbuf_flush(ks_outbuf *s)
{
    int rc = s->b.n ? ks__out_write(s->o, s->b.p, s->b.n) : KS_OK;
    ks__buf_reset(&s->b);
    return rc;
}

int ks__outbuf_stdio(void *state, int (*fn)(ks_engine *e, FILE *fp))
{
    ks_outbuf *s = state;
    int fd = dup(s->o->fd);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    int rc;
    if (!fp) {
        if (fd >= 0)
            close(fd);
        return KS_EIO;
    }
    rc = fn(s->e, fp);
    if (fclose(fp) != 0 && rc == KS_OK)
        rc = KS_EIO;
    return rc;
}

static const struct ks_output *find_output(const char *name)
{
    for (size_t i = 0; ks__outputs[i]; i++)
        if (strcmp(ks__outputs[i]->name, name) == 0)
            return ks__outputs[i];
    return NULL;
}

int ks_engine_add_output(ks_engine *e, const char *name, const char *path)
{
    const struct ks_output *out = name ? find_output(name) : NULL;
    if (!out) {
        ks__seterr(e, "unknown output '%s' (see 'kensa formats')", name ? name : "");
        return KS_ENOTFOUND;
    }
    if (!path || !*path) {
        ks__seterr(e, "output %s needs a file name (- for stdout)", name);
        return KS_EUSAGE;
    }
    if (e->outs_open) {
        ks__seterr(e, "outputs are already open; add them before the run");
        return KS_EUSAGE;
    }
    if (e->nouts >= MAX_OUTPUTS) {
        ks__seterr(e, "too many outputs (at most %d)", MAX_OUTPUTS);
        return KS_ELIMIT;
    }
    if (ks__grow(&e->outs, &e->capouts, e->nouts, sizeof *e->outs, 4) != KS_OK)
        return KS_ENOMEM;
    ks_outfile *o = &e->outs[e->nouts++];
    memset(o, 0, sizeof *o);
    o->out = out;
    o->name = name;
    o->path = path;
    o->fd = -1;
    return KS_OK;
}

/* Is (dev, ino) one of the evidence files named on the command line? A
 * directory of evidence may hold a new output: the walk skips it instead. */
static const char *evidence_named(const ks_engine *e, const struct stat *st)
{
    for (size_t i = 0; i < e->npaths; i++) {
        struct stat es;
        if (strcmp(e->paths[i], "-") == 0) {
            if (fstat(STDIN_FILENO, &es) != 0)
                continue;
        } else if (stat(e->paths[i], &es) != 0) {
            continue;
        }
        if (es.st_dev == st->st_dev && es.st_ino == st->st_ino)
            return e->paths[i];
    }
    return NULL;
}

/* The temporary name of a report: beside the target, so the final rename
 * stays on one file system, hidden, and unique to this process. */
static char *tmp_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    size_t cap = dl + strlen(base) + 64;
    char *t = malloc(cap);
    if (t)
        snprintf(t, cap, "%.*s.%s.kensa-%ld.tmp", (int)dl, path, base, (long)getpid());
    return t;
}

static int errno_code(int err)
{
    return err == EACCES || err == EPERM || err == EROFS ? KS_EPERM : err == ENOENT ? KS_ENOTFOUND : KS_EIO;
}

static int open_one(ks_engine *e, ks_outfile *o, bool force)
{
    struct stat st;
    bool exists;
    const char *ev;
    int fl = O_WRONLY | O_CLOEXEC | O_NOCTTY;
    if (strcmp(o->path, "-") == 0) {
        o->fd = STDOUT_FILENO;
        if (fstat(o->fd, &st) == 0 && (ev = evidence_named(e, &st))) {
            ks__seterr(e, "%s output: standard output is the evidence file %s; refusing to write it",
                       o->name, ev);
            o->fd = -1;
            return KS_EUSAGE;
        }
        return KS_OK;
    }
    exists = stat(o->path, &st) == 0;
    if (exists && (ev = evidence_named(e, &st))) {
        ks__seterr(e, "%s output %s is also evidence (%s); refusing to write it", o->name, o->path, ev);
        return KS_EUSAGE;
    }
    if (exists && S_ISDIR(st.st_mode)) {
        ks__seterr(e, "%s output %s is a directory", o->name, o->path);
        return KS_EUSAGE;
    }
    if (exists && S_ISREG(st.st_mode) && !force) {
        ks__seterr(e, "%s output %s exists; use --force (output.force) to replace it", o->name, o->path);
        return KS_EUSAGE;
    }
    if (exists && !S_ISREG(st.st_mode)) {
        /* /dev/null, a FIFO, /dev/stdout: written in place, nothing to replace. */
        o->fd = open(o->path, fl);
    } else if (o->out->flags & KS_OUT_REPORT) {
        if (!(o->tmp = tmp_name(o->path)))
            return KS_ENOMEM;
        o->fd = open(o->tmp, fl | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    } else {
        /* Streams write in place; O_EXCL unless replacing was asked for. */
        o->fd = open(o->path, fl | O_CREAT | O_NOFOLLOW | (exists ? O_TRUNC : O_EXCL), 0644);
        o->created = !exists;
    }
    if (o->fd < 0) {
        int err = errno;
        ks__seterr(e, "%s output %s: cannot create: %s", o->name, o->tmp ? o->tmp : o->path, strerror(err));
        free(o->tmp);
        o->tmp = NULL;
        return errno_code(err);
    }
    if (fstat(o->fd, &st) == 0) {
        o->dev = st.st_dev;
        o->ino = st.st_ino;
        o->regular = S_ISREG(st.st_mode);
    }
    return KS_OK;
}

int ks_engine_open_outputs(ks_engine *e)
{
    int rc = KS_OK;
    bool force = ks__opt_bool(e, "output.force");
    if (e->outs_open)
        return KS_OK;
    for (size_t i = 0; i < e->nouts && rc == KS_OK; i++) {
        for (size_t k = 0; k < i; k++)
            if (!strcmp(e->outs[k].path, e->outs[i].path)) {
                ks__seterr(e, "%s is given to two outputs (%s and %s)", e->outs[i].path,
                           e->outs[k].name, e->outs[i].name);
                rc = KS_EUSAGE;
            }
        if (rc == KS_OK)
            rc = open_one(e, &e->outs[i], force);
    }
    /* Always: the terminal summary written after the run (ks_engine_write)
     * counts every finding, and reports replay them all. */
    if (rc == KS_OK)
        rc = ks__spool_open(e);
    for (size_t i = 0; i < e->nouts && rc == KS_OK; i++) {
        ks_outfile *o = &e->outs[i];
        if (o->out->open && (rc = o->out->open(e, o, &o->state)) != KS_OK)
            ks__seterr(e, "%s output %s: cannot start: %s", o->name, ks__out_path(o), ks_strerror(rc));
    }
    e->outs_open = true; /* even on failure: free() undoes what was done */
    return rc;
}

int ks__outputs_check_evidence(ks_engine *e, const char *path)
{
    struct stat st;
    if (!e->outs_open || stat(path, &st) != 0)
        return KS_OK;
    if (ks__outputs_is_ours(e, &st)) {
        ks__seterr(e, "%s is an output of this run, not evidence", path);
        return KS_EUSAGE;
    }
    return KS_OK;
}

bool ks__outputs_is_ours(const ks_engine *e, const struct stat *st)
{
    for (size_t i = 0; i < e->nouts; i++)
        if (e->outs[i].regular && e->outs[i].dev == st->st_dev && e->outs[i].ino == st->st_ino)
            return true;
    return false;
}

static void out_failed(ks_engine *e, ks_outfile *o, int rc, const char *when)
{
    ks_loc loc = KS_LOC_NONE;
    loc.path = o->path;
    o->failed = true;
    ks__diag(e, KS_DIAG_ERROR, rc, "output", &loc, "%s output: %s failed: %s%s%s; no more findings written to it",
             o->name, when, ks_strerror(rc), errno ? ": " : "", errno ? strerror(errno) : "");
}

void ks__outputs_finding(ks_engine *e, const ks_finding *f)
{
    for (size_t i = 0; i < e->nouts; i++) {
        ks_outfile *o = &e->outs[i];
        if (o->failed || o->fd < 0 || !o->out->on_finding)
            continue;
        errno = 0;
        int rc = o->out->on_finding(o->state, f);
        if (rc != KS_OK)
            out_failed(e, o, rc, "writing a finding");
    }
}

/* Makes a completed file durable and, for a report, puts it in place.
 * Without output.force an existing file that appeared meanwhile is kept. */
static int complete(ks_engine *e, ks_outfile *o)
{
    if (o->regular && fsync(o->fd) != 0)
        return KS_EIO;
    if (o->tmp) {
        if (!ks__opt_bool(e, "output.force")) {
            if (link(o->tmp, o->path) != 0)
                return errno == EEXIST ? KS_EUSAGE : KS_EIO;
            unlink(o->tmp);
        } else if (rename(o->tmp, o->path) != 0) {
            return KS_EIO;
        }
        free(o->tmp);
        o->tmp = NULL;
    }
    return KS_OK;
}

void ks__outputs_close(ks_engine *e)
{
    for (size_t i = 0; i < e->nouts; i++) {
        ks_outfile *o = &e->outs[i];
        int rc = KS_OK;
        if (o->fd < 0 || o->failed)
            continue;
        errno = 0;
        if (o->out->close && (rc = o->out->close(o->state)) != KS_OK) {
            out_failed(e, o, rc, "completing");
            continue;
        }
        errno = 0;
        if ((rc = complete(e, o)) != KS_OK)
            out_failed(e, o, rc, rc == KS_EUSAGE ? "putting the file in place (it appeared during the run)"
                                                  : "putting the file in place");
        o->created = false; /* the run happened: what we wrote stays */
    }
}

void ks__outputs_free(ks_engine *e)
{
    for (size_t i = 0; i < e->nouts; i++) {
        ks_outfile *o = &e->outs[i];
        if (o->out->free)
            o->out->free(o->state);
        if (o->tmp)
            unlink(o->tmp); /* a report never completed */
        if (o->created)
            unlink(o->path); /* opened, but the run never happened */
        free(o->tmp);
        if (o->fd > STDERR_FILENO)
            close(o->fd);
    }
    free(e->outs);
    e->outs = NULL;
    e->nouts = e->capouts = 0;
}

/* ---- ks_engine_write: the kept findings to a FILE* after the run ---------------- */

static int write_one(void *ud, const ks_finding *f)
{
    ks_outfile *o = ud;
    return o->out->on_finding(o->state, f);
}

int ks_engine_write(ks_engine *e, const char *output, FILE *fp)
{
    const struct ks_output *out = find_output(output);
    ks_outfile o = {.out = out, .name = output, .path = "-", .fd = -1};
    int rc = KS_OK;
    if (!out) {
        ks__seterr(e, "unknown output '%s'", output);
        return KS_ENOTFOUND;
    }
    if (fflush(fp) != 0)
        return KS_EIO;
    o.fd = fileno(fp);
    if (out->open)
        rc = out->open(e, &o, &o.state);
    if (rc == KS_OK && out->on_finding) {
        for (size_t i = 0; i < e->nfindings && rc == KS_OK; i++)
            rc = write_one(&o, e->findings[i]);
    }
    if (rc == KS_OK && out->close)
        rc = out->close(o.state);
    if (out->free)
        out->free(o.state);
    if (rc != KS_OK)
        ks__seterr(e, "%s output: %s", output, ks_strerror(rc));
    return rc;
}
