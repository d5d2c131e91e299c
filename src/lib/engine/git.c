/* SPDX-License-Identifier: Apache-2.0
 *
 * Git history as evidence: the walker hands each repository it meets (a
 * directory holding .git, or a bare repository) to one task here instead
 * of walking .git's internals. Every blob reachable from every ref (and
 * HEAD) is given once to the file detectors as an in-memory file whose
 * ks_file.xnode says where it first appeared: commit, author, time and
 * path (ks_xgit). So a key committed and deleted later is still found,
 * by the secrets detector, YARA and the IOCs alike.
 *
 * Commits are walked parents first (topological, reversed), so the first
 * commit that has a blob is the one reported. Trees are remembered too: a
 * tree seen before holds only blobs seen before, so unchanged folders of
 * later commits cost one set lookup, and the whole walk is linear in the
 * distinct objects. Memory is bounded: blobs larger than extract.max_blob
 * are not read (a diagnostic says so), and the visited set is an
 * open-addressed table of object ids with a cap (GIT_MAX_OBJECTS).
 */
#include <fcntl.h>
#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"
#include "extract/extract.h"

#define GIT_MAX_OBJECTS ((size_t)16 << 20)   /* 16 Mi trees + blobs: 640 MiB of set at most */
#define GIT_MAX_TREE_DEPTH 256
#define GIT_SHORT 12                         /* hex digits of a commit in chain names */

/* ---- the visited set: object ids, zero id = empty slot ------------------------------- */

typedef struct oidset {
    git_oid *slot;
    size_t cap;      /* power of two */
    size_t n;
} oidset;

static uint64_t oid_hash(const git_oid *id)
{
    uint64_t h;
    memcpy(&h, id->id, sizeof h); /* SHA-1 bytes are uniform already */
    return h;
}

static bool oid_zero(const git_oid *id)
{
    static const git_oid zero;
    return memcmp(id, &zero, sizeof zero) == 0;
}

static int oidset_grow(oidset *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 4096;
    git_oid *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return KS_ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (oid_zero(&s->slot[i]))
            continue;
        size_t j = oid_hash(&s->slot[i]) & (ncap - 1);
        while (!oid_zero(&ns[j]))
            j = (j + 1) & (ncap - 1);
        ns[j] = s->slot[i];
    }
    free(s->slot);
    s->slot = ns;
    s->cap = ncap;
    return KS_OK;
}

/* 1: added now, 0: seen before, KS_ENOMEM / KS_ELIMIT. */
static int oidset_add(oidset *s, const git_oid *id)
{
    if (oid_zero(id))
        return 0;
    if (s->n >= GIT_MAX_OBJECTS)
        return KS_ELIMIT;
    if ((s->n + 1) * 2 > s->cap && oidset_grow(s) != KS_OK)
        return KS_ENOMEM;
    size_t j = oid_hash(id) & (s->cap - 1);
    while (!oid_zero(&s->slot[j])) {
        if (git_oid_equal(&s->slot[j], id))
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->slot[j] = *id;
    s->n++;
    return 1;
}

/* ---- the walk ------------------------------------------------------------------------------ */

typedef struct gitwalk {
    ks_engine *e;
    ks_worker *w;
    git_repository *repo;
    git_odb *odb;
    oidset seen;
    ks_xnode top;             /* the repository (depth 0) */
    ks_xgit xg;               /* the commit being walked; path set per blob */
    char commit_hex[GIT_OID_HEXSZ + 1];
    ks_buf author;            /* "Name <email>" */
    ks_buf path;              /* path of the tree being walked, "dir/sub/" */
    ks_buf display;           /* "repo!commit:path" */
    uint64_t max_blob;
    bool full;                /* the visited set hit its cap: stop */
    uint64_t blobs, big;
} gitwalk;

static void git_diag(gitwalk *g, ks_diag_level lvl, int code, const char *what)
{
    const git_error *ge = git_error_last();
    ks_loc loc = KS_LOC_NONE;
    loc.path = g->top.name;
    ks__diag(g->e, lvl, code, "git", &loc, "%s: %s", what, ge && ge->message ? ge->message : "libgit2 error");
}

static void visit_blob(gitwalk *g, const git_oid *id, const char *name)
{
    size_t size = 0;
    git_object_t type;
    git_blob *blob = NULL;
    ks_source *src = NULL;
    size_t plen = g->path.n;
    if (ks__buf_adds(&g->path, name) != KS_OK)
        return;
    ks__buf_reset(&g->display);
    ks__buf_printf(&g->display, "%s!%.*s:%s", g->top.name, GIT_SHORT, g->commit_hex, g->path.p);
    if (git_odb_read_header(&size, &type, g->odb, id) != 0) {
        git_diag(g, KS_DIAG_WARN, KS_EFORMAT, g->display.p);
        goto out;
    }
    if (size > g->max_blob) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = g->display.p;
        ks__diag(g->e, KS_DIAG_INFO, KS_ELIMIT, "git", &loc,
                 "blob of %zu bytes, larger than extract.max_blob: not read", size);
        g->big++;
        goto out;
    }
    if (git_blob_lookup(&blob, g->repo, id) != 0) {
        git_diag(g, KS_DIAG_WARN, KS_EFORMAT, g->display.p);
        goto out;
    }
    const void *p = git_blob_rawcontent(blob);
    size_t n = (size_t)git_blob_rawsize(blob);
    if (ks__source_mem(n ? p : "", n, g->display.p, &src) != KS_OK)
        goto out;
    size_t nhead;
    const uint8_t *head = ks__source_head(src, &nhead);
    g->xg.path = g->path.p;
    ks_xnode node = {.parent = &g->top,
                     .name = g->display.p + strlen(g->top.name) + 1,
                     .git = &g->xg,
                     .offset = UINT64_MAX,
                     .depth = 1};
    ks_fhash fh = {0};
    ks_file f = {.path = g->display.p, .name = name, .src = src, .head = head, .nhead = nhead,
                 .fh = &fh, .xnode = &node};
    ks__file_detectors(g->e, g->w, &f);
    g->blobs++;
    KS_STAT_ADD(g->e, files_scanned, 1);
    KS_STAT_ADD(g->e, bytes, n);
out:
    ks__source_close(src);
    git_blob_free(blob);
    g->path.n = plen;
    if (g->path.p)
        g->path.p[plen] = 0;
}

/* Walks a tree not seen before: new blobs are visited, new subtrees
 * entered; anything seen before is skipped whole. */
static void walk_tree(gitwalk *g, const git_tree *tree, int depth)
{
    size_t n = git_tree_entrycount(tree);
    for (size_t i = 0; i < n && !g->full; i++) {
        const git_tree_entry *te = git_tree_entry_byindex(tree, i);
        const git_oid *id = git_tree_entry_id(te);
        git_object_t type = git_tree_entry_type(te);
        if (type != GIT_OBJECT_BLOB && type != GIT_OBJECT_TREE)
            continue; /* submodule commits live in another repository */
        int added = oidset_add(&g->seen, id);
        if (added < 0) {
            ks_loc loc = KS_LOC_NONE;
            loc.path = g->top.name;
            ks__diag(g->e, KS_DIAG_WARN, added, "git", &loc,
                     "more than %zu distinct trees and blobs: the rest of the history is not read",
                     (size_t)GIT_MAX_OBJECTS);
            g->full = true;
            return;
        }
        if (!added)
            continue;
        const char *name = git_tree_entry_name(te);
        if (type == GIT_OBJECT_BLOB) {
            visit_blob(g, id, name);
            continue;
        }
        git_tree *sub = NULL;
        if (depth >= GIT_MAX_TREE_DEPTH || git_tree_lookup(&sub, g->repo, id) != 0)
            continue;
        size_t plen = g->path.n;
        if (ks__buf_adds(&g->path, name) == KS_OK && ks__buf_addc(&g->path, '/') == KS_OK)
            walk_tree(g, sub, depth + 1);
        g->path.n = plen;
        if (g->path.p)
            g->path.p[plen] = 0;
        git_tree_free(sub);
    }
}

static void walk_commit(gitwalk *g, const git_oid *id)
{
    git_commit *c = NULL;
    git_tree *tree = NULL;
    if (git_commit_lookup(&c, g->repo, id) != 0) {
        git_diag(g, KS_DIAG_WARN, KS_EFORMAT, "commit not readable");
        return;
    }
    /* A commit whose root tree was seen (a revert, a merge taking one
     * side) brings nothing new. */
    int added = oidset_add(&g->seen, git_commit_tree_id(c));
    if (added == 1 && git_commit_tree(&tree, c) == 0) {
        const git_signature *a = git_commit_author(c);
        git_oid_tostr(g->commit_hex, sizeof g->commit_hex, id);
        ks__buf_reset(&g->author);
        if (a)
            ks__buf_printf(&g->author, "%s <%s>", a->name ? a->name : "", a->email ? a->email : "");
        g->xg.commit = g->commit_hex;
        g->xg.author = g->author.p ? g->author.p : "";
        g->xg.time = a ? (int64_t)a->when.time * 1000000000 : KS_TIME_NONE;
        ks__buf_reset(&g->path);
        if (ks__buf_grow(&g->path, 256) == KS_OK) /* p non-NULL from here */
            walk_tree(g, tree, 0);
    }
    git_tree_free(tree);
    git_commit_free(c);
}

/* Pushes what every reference points at (branches, tags, remotes, notes,
 * stash), peeled to a commit, and HEAD (detached or not). */
static void push_refs(gitwalk *g, git_revwalk *walk)
{
    git_reference_iterator *it = NULL;
    git_reference *ref;
    if (git_reference_iterator_new(&it, g->repo) == 0) {
        while (git_reference_next(&ref, it) == 0) {
            git_object *obj = NULL;
            if (git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) == 0)
                git_revwalk_push(walk, git_object_id(obj));
            git_object_free(obj);
            git_reference_free(ref);
        }
        git_reference_iterator_free(it);
    }
    git_revwalk_push_head(walk); /* fails harmlessly on an unborn HEAD */
}

bool ks__git_is_repo(int dirfd, bool *bare)
{
    struct stat st;
    *bare = false;
    if (fstatat(dirfd, ".git", &st, AT_SYMLINK_NOFOLLOW) == 0 && (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
        return true;
    /* Bare: HEAD, objects/ and refs/ at the top. */
    if (fstatat(dirfd, "HEAD", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
        fstatat(dirfd, "objects", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
        fstatat(dirfd, "refs", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        *bare = true;
        return true;
    }
    return false;
}

void ks__git_run(ks_engine *e, ks_worker *w, const char *path)
{
    gitwalk g = {.e = e, .w = w, .author = KS_BUF_INIT, .path = KS_BUF_INIT, .display = KS_BUF_INIT};
    git_revwalk *walk = NULL;
    git_oid id;
    git_libgit2_init();
    g.top = (ks_xnode){.name = path, .format = "git", .offset = UINT64_MAX};
    g.xg.repo = path;
    g.max_blob = (uint64_t)ks__opt_int(e, "extract.max_blob");
    if (git_repository_open_ext(&g.repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) != 0) {
        git_diag(&g, KS_DIAG_WARN, KS_EFORMAT, "not readable as a git repository");
        goto out;
    }
    if (git_repository_odb(&g.odb, g.repo) != 0 || git_revwalk_new(&walk, g.repo) != 0) {
        git_diag(&g, KS_DIAG_WARN, KS_EFORMAT, "cannot walk the history");
        goto out;
    }
    git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);
    push_refs(&g, walk);
    while (!g.full && git_revwalk_next(&id, walk) == 0)
        walk_commit(&g, &id);
    KS_STAT_ADD(e, files_seen, g.blobs + g.big);
    ks__claims_recognised(e);
out:
    git_revwalk_free(walk);
    git_odb_free(g.odb);
    git_repository_free(g.repo);
    free(g.seen.slot);
    ks__buf_release(&g.author);
    ks__buf_release(&g.path);
    ks__buf_release(&g.display);
    git_libgit2_shutdown();
}
