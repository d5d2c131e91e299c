/* SPDX-License-Identifier: Apache-2.0
 *
 * Evidence walking: directories are traversed with openat()/fstatat() so a
 * path is resolved relative to a directory already opened (no re-walking of
 * long paths). Symbolic links are not followed unless asked; then loops are
 * detected by (device, inode) of the directories on the current path. The
 * walk stays on the starting file system unless walk.cross_fs. Special
 * files (devices, sockets, FIFOs) are skipped. Every refusal is reported
 * once with its reason; the walk goes on. A git repository (a directory
 * with .git, or a bare one) is handed whole to a git task (git.c) that
 * reads its history; .git itself is not walked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine_int.h"

#define WALK_MAX_DEPTH 256
#define WALK_MAX_PATH 4096

typedef struct walk_frame {
    dev_t dev;
    ino_t ino;
} walk_frame;

typedef struct walker {
    ks_engine *e;
    dev_t root_dev;
    walk_frame stack[WALK_MAX_DEPTH];
    int depth;
    bool git;            /* repositories go to git tasks (extract.git_history) */
    char path[WALK_MAX_PATH];
} walker;

static void walk_diag(ks_engine *e, ks_diag_level lvl, int code, const char *path, const char *fmt,
                      const char *arg)
{
    ks_loc loc = KS_LOC_NONE;
    loc.path = path;
    ks__diag(e, lvl, code, "walk", &loc, fmt, arg);
}

static int errno_code(int err)
{
    return err == EACCES || err == EPERM ? KS_EPERM : err == ENOENT ? KS_ENOTFOUND : KS_EIO;
}

static bool excluded(const ks_engine *e, const char *path, const char *name)
{
    for (size_t i = 0; i < e->nexcludes; i++)
        if (ks__glob(e->excludes[i], path) || ks__glob(e->excludes[i], name))
            return true;
    return false;
}

static void walk_dir(walker *w, int dfd, size_t plen);

/* A repository's history goes to a git task (git.c) and its .git is not
 * walked (walk_dir skips it). True for a bare repository: nothing else
 * there to walk. */
static bool git_repo(walker *w, int fd)
{
    bool bare;
    if (!w->git || !ks__git_is_repo(fd, &bare))
        return false;
    ks__dispatch_git(w->e, w->path);
    return bare;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void visit(walker *w, int dirfd, const char *name, size_t plen)
{
    struct stat st;
    ks_engine *e = w->e;
    int flags = e->follow_symlinks ? 0 : AT_SYMLINK_NOFOLLOW;
    if (fstatat(dirfd, name, &st, flags) != 0) {
        int err = errno;
        if (err == ELOOP)
            walk_diag(e, KS_DIAG_WARN, KS_ELIMIT, w->path, "symbolic link loop; skipped%s", "");
        else
            walk_diag(e, KS_DIAG_ERROR, errno_code(err), w->path, "cannot stat: %s", strerror(err));
        return;
    }
    if (excluded(e, w->path, name))
        return;
    if (S_ISLNK(st.st_mode)) {
        walk_diag(e, KS_DIAG_INFO, KS_EUNSUPPORTED, w->path,
                  "symbolic link not followed (use --follow-symlinks)%s", "");
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (!e->cross_fs && st.st_dev != w->root_dev) {
            walk_diag(e, KS_DIAG_INFO, KS_EUNSUPPORTED, w->path,
                      "other file system not entered (use --cross-fs)%s", "");
            return;
        }
        for (int i = 0; i < w->depth; i++) {
            if (w->stack[i].dev == st.st_dev && w->stack[i].ino == st.st_ino) {
                walk_diag(e, KS_DIAG_WARN, KS_ELIMIT, w->path,
                          "directory loop (through a symbolic link); not entered again%s", "");
                return;
            }
        }
        if (w->depth >= WALK_MAX_DEPTH) {
            walk_diag(e, KS_DIAG_WARN, KS_ELIMIT, w->path, "directory nesting deeper than 256; skipped%s", "");
            return;
        }
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (e->follow_symlinks ? 0 : O_NOFOLLOW));
        if (fd < 0) {
            int err = errno;
            walk_diag(e, KS_DIAG_ERROR, errno_code(err), w->path, "cannot open directory: %s", strerror(err));
            return;
        }
        if (git_repo(w, fd)) {
            close(fd);
            return;
        }
        w->stack[w->depth].dev = st.st_dev;
        w->stack[w->depth].ino = st.st_ino;
        w->depth++;
        walk_dir(w, fd, plen); /* closes fd */
        w->depth--;
        return;
    }
    KS_STAT_ADD(e, files_seen, 1);
    if (!S_ISREG(st.st_mode)) {
        walk_diag(e, KS_DIAG_INFO, KS_EUNSUPPORTED, w->path, "special file (device, socket or FIFO) skipped%s", "");
        KS_STAT_ADD(e, files_skipped, 1);
        return;
    }
    if (ks__outputs_is_ours(e, &st)) {
        walk_diag(e, KS_DIAG_INFO, KS_EUSAGE, w->path, "an output of this run; not read%s", "");
        KS_STAT_ADD(e, files_skipped, 1);
        return;
    }
    ks__dispatch_file(e, w->path);
}

static void walk_dir(walker *w, int dfd, size_t plen)
{
    DIR *d = fdopendir(dfd);
    struct dirent *de;
    if (!d) {
        int err = errno;
        close(dfd);
        walk_diag(w->e, KS_DIAG_ERROR, errno_code(err), w->path, "cannot read directory: %s", strerror(err));
        return;
    }
    /* Sort names so runs are reproducible (golden tests, diffs of reports). */
    char **names = NULL;
    size_t n = 0, cap = 0;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || (w->git && !strcmp(de->d_name, ".git")))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
            cap = ncap;
        }
        if (!(names[n] = strdup(de->d_name)))
            break;
        n++;
    }
    if (errno != 0)
        walk_diag(w->e, KS_DIAG_ERROR, KS_EIO, w->path, "error while reading directory: %s", strerror(errno));
    if (n) /* qsort(NULL, 0) is undefined */
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        if (plen + 1 + nl >= WALK_MAX_PATH) {
            walk_diag(w->e, KS_DIAG_WARN, KS_ELIMIT, w->path, "path longer than 4096 bytes under here; skipped %s", names[i]);
            free(names[i]);
            continue;
        }
        size_t np = plen;
        if (np && w->path[np - 1] != '/')
            w->path[np++] = '/';
        memcpy(w->path + np, names[i], nl + 1);
        visit(w, dirfd(d), names[i], np + nl);
        w->path[plen] = 0;
        free(names[i]);
    }
    free(names);
    closedir(d);
}

int ks__walk(ks_engine *e)
{
    walker *w = calloc(1, sizeof *w);
    if (!w)
        return KS_ENOMEM;
    w->e = e;
    w->git = ks__opt_bool(e, "extract.git_history") && e->any_file_det && e->mode != KS_MODE_EVENTS;
    for (size_t i = 0; i < e->npaths; i++) {
        const char *p = e->paths[i];
        struct stat st;
        if (!strcmp(p, "-")) {
            KS_STAT_ADD(e, files_seen, 1);
            ks__dispatch_file(e, "-");
            continue;
        }
        /* A path named on the command line is followed if it is a link:
         * the user asked for it by name. */
        if (stat(p, &st) != 0) {
            int err = errno;
            walk_diag(e, KS_DIAG_ERROR, errno_code(err), p, "cannot access: %s", strerror(err));
            continue;
        }
        size_t pl = strlen(p);
        if (pl >= WALK_MAX_PATH) {
            walk_diag(e, KS_DIAG_ERROR, KS_ELIMIT, p, "path too long%s", "");
            continue;
        }
        memcpy(w->path, p, pl + 1);
        w->root_dev = st.st_dev;
        w->depth = 0;
        if (S_ISDIR(st.st_mode)) {
            int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0) {
                int err = errno;
                walk_diag(e, KS_DIAG_ERROR, errno_code(err), p, "cannot open directory: %s", strerror(err));
                continue;
            }
            if (git_repo(w, fd)) {
                close(fd);
                continue;
            }
            w->stack[0].dev = st.st_dev;
            w->stack[0].ino = st.st_ino;
            w->depth = 1;
            walk_dir(w, fd, pl);
        } else if (S_ISREG(st.st_mode)) {
            struct stat lst;
            KS_STAT_ADD(e, files_seen, 1);
            if (lstat(p, &lst) == 0 && S_ISLNK(lst.st_mode)) {
                char *real = realpath(p, NULL);
                ks__dispatch_file(e, real ? real : p);
                free(real);
            } else {
                ks__dispatch_file(e, p);
            }
        } else if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
            /* Named on the command line: `kensa hunt <(zcat x.gz)` gives
             * /dev/fd/63. Read as a stream, like stdin; opened here, where
             * the link through /proc is followed as the user meant it. */
            int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
            KS_STAT_ADD(e, files_seen, 1);
            if (fd < 0) {
                int err = errno;
                walk_diag(e, KS_DIAG_ERROR, errno_code(err), p, "cannot open: %s", strerror(err));
                continue;
            }
            ks__dispatch_stream(e, p, fd);
        } else {
            /* A device (a terminal as /dev/stdin, /dev/zero) is never
             * read: it may not end. The user named it: an error. */
            walk_diag(e, KS_DIAG_ERROR, KS_EUNSUPPORTED, p,
                      "a device, not a file, directory or pipe; not read (use - for stdin)%s", "");
        }
    }
    free(w);
    return KS_OK;
}
