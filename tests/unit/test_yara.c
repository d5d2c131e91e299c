/* SPDX-License-Identifier: Apache-2.0
 *
 * The YARA file detector end to end through the engine (mode=files): web
 * shells found by kensa's bundled rules and not benign files, broken rule
 * files reported with file and line while the rest load, a rule that would
 * run forever stopped by the timeout, the compiled-rules cache, Loki/THOR
 * external variables, a hostile tree (symlink loop, unreadable file, sparse
 * huge file), and kensa's matches equal to the `yara` CLI's, file for file.
 * With ../shared/corpus: recall on tennc-webshell (bundled rules alone and
 * with signature-base), false positives on benign-web and a /usr/share
 * subset (RECALL / FP / LOAD lines).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "kensa/kensa.h"

typedef struct diags {
    int n_error, n_warn, n_timeout;
    char timeout_msg[1024];  /* the last timeout warning */
    char last_error[1024];
    char seen[8192];   /* "path:line:code" of errors, concatenated */
    bool cache_hit;
    int gated;         /* rules the detector put in gated sets */
} diags;

static void on_diag(void *ud, const ks_diag *d)
{
    diags *g = ud;
    if (d->level == KS_DIAG_ERROR) {
        g->n_error++;
        snprintf(g->last_error, sizeof g->last_error, "%s:%llu: %s", d->loc.path ? d->loc.path : "",
                 (unsigned long long)d->loc.line, d->msg);
        size_t l = strlen(g->seen);
        snprintf(g->seen + l, sizeof g->seen - l, "%s:%llu|", d->loc.path ? d->loc.path : "",
                 (unsigned long long)d->loc.line);
    } else if (d->level == KS_DIAG_WARN) {
        g->n_warn++;
    }
    if (d->code == KS_ETIMEOUT) {
        g->n_timeout++;
        snprintf(g->timeout_msg, sizeof g->timeout_msg, "%s", d->msg);
    }
    if (strstr(d->msg, "compiled cache"))
        g->cache_hit = true;
    const char *gs = strstr(d->msg, " gated in ");
    if (gs && strstr(d->msg, "; "))
        g->gated = atoi(strstr(d->msg, "; ") + 2);
}

static char *path_in(const char *rel)
{
    size_t n = strlen(ks_test_tmpdir()) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", ks_test_tmpdir(), rel);
    return p;
}

static void mkdir_p(const char *rel)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", ks_test_tmpdir(), rel);
    if (system(cmd) != 0)
        fprintf(stderr, "mkdir failed: %s\n", rel);
}

/* Runs a files-mode engine; opts is a NULL-terminated key, value list. */
static ks_engine *run(const char *const *opts, const char *const *paths, diags *g)
{
    ks_engine *e = NULL;
    memset(g, 0, sizeof *g);
    if (ks_engine_new(&e) != KS_OK)
        return NULL;
    ks_engine_set(e, "mode", "files");
    ks_engine_set(e, "rules_dir", "rules");
    ks_engine_set(e, "threads", "2");
    char *cache = path_in("cache");
    ks_engine_set(e, "yara.cache_dir", cache);
    free(cache);
    for (int i = 0; opts && opts[i]; i += 2)
        ks_engine_set(e, opts[i], opts[i + 1]);
    for (int i = 0; paths[i]; i++)
        ks_engine_add_path(e, paths[i]);
    ks_engine_on_diag(e, on_diag, g);
    if (ks_engine_run(e) != KS_OK) {
        fprintf(stderr, "run failed: %s\n", ks_engine_errmsg(e));
        ks_engine_free(e);
        return NULL;
    }
    return e;
}

static const ks_finding *find(const ks_engine *e, const char *rule_prefix, const char *path_part)
{
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        if (strncmp(f->rule_id, rule_prefix, strlen(rule_prefix)) != 0)
            continue;
        if (!path_part || (f->nevidence && strstr(f->evidence[0].path, path_part)))
            return f;
    }
    return NULL;
}

static const char *detail(const ks_finding *f, const char *key)
{
    for (size_t i = 0; i < f->ndetails; i++)
        if (!strcmp(f->details[i].key, key))
            return f->details[i].value;
    return NULL;
}

static const char chopper[] = "<%@ Page Language=\"Jscript\"%><%eval(Request.Item[\"z\"],\"unsafe\");%>\n";
static const char php_one[] = "<?php @eval($_POST['cmd']); ?>\n";
static const char jsp_cmd[] =
    "<%@ page import=\"java.io.*\" %><% Process p = Runtime.getRuntime().exec(request.getParameter(\"c\"));\n"
    "InputStream in = p.getInputStream(); %>\n";
static const char benign_php[] =
    "<?php\n// a normal page\n$name = htmlspecialchars($_GET['name'] ?? '');\necho \"Hello $name\";\n";

TEST(webshells_found_benign_clean)
{
    mkdir_p("t1/inetpub/wwwroot/aspnet_client");
    mkdir_p("t1/site");
    ks_test_write("t1/inetpub/wwwroot/aspnet_client/errorEE.aspx", chopper, sizeof chopper - 1);
    ks_test_write("t1/site/up.php", php_one, sizeof php_one - 1);
    ks_test_write("t1/site/cmd.jsp", jsp_cmd, sizeof jsp_cmd - 1);
    ks_test_write("t1/site/index.php", benign_php, sizeof benign_php - 1);
    char *root = path_in("t1");
    const char *paths[] = {root, NULL};
    const char *opts[] = {"detector.ioc", "false", NULL};
    diags g;
    ks_engine *e = run(opts, paths, &g);
    CHECK(e != NULL);
    if (e) {
        const ks_finding *f = find(e, "yara:kensa_exchange_webshell_in_exchange_path", "errorEE.aspx");
        CHECK(f != NULL);
        if (f) {
            CHECK(f->severity >= KS_SEV_HIGH);
            CHECK(f->ntechniques >= 1 && !strcmp(f->techniques[0], "T1505.003"));
            CHECK(detail(f, "sha256") && strlen(detail(f, "sha256")) == 64);
            CHECK(detail(f, "mtime") != NULL);
            CHECK(f->nmatched >= 1);
            CHECK(f->first != KS_TIME_NONE);
        }
        CHECK(find(e, "yara:kensa_webshell_php_eval_request", "up.php") != NULL);
        CHECK(find(e, "yara:kensa_webshell_jsp", "cmd.jsp") != NULL);
        CHECK(find(e, "yara:", "index.php") == NULL);
        CHECK_INT(g.n_error, 0);
        ks_engine_free(e);
    }
    free(root);
}

TEST(broken_rules_reported_rest_load)
{
    static const char good[] = "rule good_one { strings: $a = \"kensa-marker\" condition: $a }\n";
    static const char bad[] = "rule bad_one {\n  strings: $a = \"x\"\n  condition: $a and nosuchthing\n}\n";
    static const char bad2[] = "rule broken_two { condition: ( }\n";
    mkdir_p("t2/rules");
    mkdir_p("t2/data");
    ks_test_write("t2/rules/a_bad.yar", bad, sizeof bad - 1);
    ks_test_write("t2/rules/b_good.yar", good, sizeof good - 1);
    ks_test_write("t2/rules/c_bad.yar", bad2, sizeof bad2 - 1);
    ks_test_write("t2/data/x.txt", "has kensa-marker inside\n", 24);
    char *rules = path_in("t2/rules"), *data = path_in("t2/data");
    const char *paths[] = {data, NULL};
    const char *opts[] = {"yara", rules, "builtin", "false", NULL};
    diags g;
    ks_engine *e = run(opts, paths, &g);
    CHECK(e != NULL);
    if (e) {
        CHECK(find(e, "yara:good_one", "x.txt") != NULL);
        CHECK_INT(g.n_error, 2);
        CHECK(strstr(g.seen, "a_bad.yar:3|") != NULL);
        CHECK(strstr(g.seen, "c_bad.yar:1|") != NULL);
        ks_engine_free(e);
    }
    /* Second run: compiled cache, same diagnostics replayed. */
    e = run(opts, paths, &g);
    CHECK(e != NULL);
    if (e) {
        CHECK(g.cache_hit);
        CHECK(find(e, "yara:good_one", "x.txt") != NULL);
        CHECK_INT(g.n_error, 2);
        CHECK(strstr(g.seen, "a_bad.yar:3|") != NULL);
        ks_engine_free(e);
    }
    free(rules);
    free(data);
}

static int file_there(const char *dir, const char *name)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void touch_aged(const char *dir, const char *name, time_t age)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    struct timespec ts[2] = {{.tv_sec = time(NULL) - age}, {.tv_sec = time(NULL) - age}};
    utimensat(AT_FDCWD, p, ts, 0);
}

/* Every rules change makes a new cache key: the cache keeps the newest
 * yara.cache_keep entries and the one in use, and sweeps what dead runs
 * left behind; files that are not kensa's stay. */
TEST(rules_cache_is_pruned)
{
    static const char rule[] = "rule prune_me { strings: $a = \"kensa-prune\" condition: $a }\n";
    mkdir_p("t_prune/cache");
    mkdir_p("t_prune/data");
    ks_test_write("t_prune/r.yar", rule, sizeof rule - 1);
    ks_test_write("t_prune/data/a.txt", "kensa-prune\n", 12);
    char *cache = path_in("t_prune/cache"), *r = path_in("t_prune/r.yar"), *data = path_in("t_prune/data");
    for (int i = 0; i < 10; i++) { /* yara-old0 newest ... yara-old9 oldest */
        char n[64];
        snprintf(n, sizeof n, "yara-old%d.sets", i);
        touch_aged(cache, n, 100 + i * 100);
        snprintf(n, sizeof n, "yara-old%d.0.yarc", i);
        touch_aged(cache, n, 100 + i * 100);
    }
    touch_aged(cache, "yara-dead.0.yarc", 7200);        /* no manifest, old */
    touch_aged(cache, "yara-old0.1.yarc.77.tmp", 7200); /* a dead writer's temp */
    touch_aged(cache, "yara-busy.0.yarc", 0);           /* a writer in progress */
    touch_aged(cache, "notes.txt", 7200);
    const char *paths[] = {data, NULL};
    const char *opts[] = {"yara", r, "builtin", "false", "yara.cache_dir", cache,
                          "yara.cache_keep", "3", NULL};
    diags g;
    ks_engine *e = run(opts, paths, &g);
    CHECK(e != NULL);
    if (e) {
        CHECK(find(e, "yara:prune_me", "a.txt") != NULL);
        ks_engine_free(e);
    }
    int manifests = 0;
    DIR *d = opendir(cache);
    for (struct dirent *de; d && (de = readdir(d));) {
        size_t l = strlen(de->d_name);
        manifests += l > 5 && !strcmp(de->d_name + l - 5, ".sets");
    }
    if (d)
        closedir(d);
    CHECK_INT(manifests, 4); /* old0..old2 and the current rules */
    CHECK(file_there(cache, "yara-old2.sets") && file_there(cache, "yara-old2.0.yarc"));
    CHECK(!file_there(cache, "yara-old3.sets") && !file_there(cache, "yara-old3.0.yarc"));
    CHECK(!file_there(cache, "yara-old9.0.yarc"));
    CHECK(!file_there(cache, "yara-dead.0.yarc"));
    CHECK(!file_there(cache, "yara-old0.1.yarc.77.tmp"));
    CHECK(file_there(cache, "yara-busy.0.yarc"));
    CHECK(file_there(cache, "notes.txt"));
    /* The entry in use survives its own pruning and is hit next time. */
    e = run(opts, paths, &g);
    CHECK(e != NULL && g.cache_hit);
    if (e)
        ks_engine_free(e);
    free(cache);
    free(r);
    free(data);
}

TEST(endless_rule_times_out)
{
    static const char slow[] =
        "rule forever { condition: for all i in (0..filesize) : "
        "( for all j in (0..filesize) : ( uint8(i) + uint8(j) < 1000 ) ) }\n"
        "rule sized { condition: filesize > 100 }\n"
        "rule absent { strings: $a = \"never-in-these-files-0x5a17\" condition: $a }\n";
    mkdir_p("t3/data");
    ks_test_write("t3/slow.yar", slow, sizeof slow - 1);
    char big[65536];
    memset(big, 'A', sizeof big);
    ks_test_write("t3/data/big.bin", big, sizeof big);
    ks_test_write("t3/data/small.txt", "x", 1);
    char *rule = path_in("t3/slow.yar"), *data = path_in("t3/data");
    const char *paths[] = {data, NULL};
    const char *opts[] = {"yara", rule, "builtin", "false", "yara.timeout", "1", NULL};
    diags g;
    time_t t0 = time(NULL);
    ks_engine *e = run(opts, paths, &g);
    CHECK(e != NULL);
    CHECK(time(NULL) - t0 < 20);
    CHECK(g.n_timeout >= 1);
    /* The undecided rules are named; a rule the literal gate ruled out is
     * decided (false) and not among them. */
    CHECK(strstr(g.timeout_msg, "stayed undecided on this file") != NULL);
    CHECK(strstr(g.timeout_msg, "forever") != NULL);
    CHECK(strstr(g.timeout_msg, "absent") == NULL);
    printf("INFO timeout: %s\n", g.timeout_msg);
    ks_engine_free(e);
    free(rule);
    free(data);
}

TEST(external_variables)
{
    static const char rule[] =
        "rule in_client { condition: filepath contains \"aspnet_client\" and extension == \".aspx\" "
        "and filename == \"x.aspx\" and filetype == \"ASP\" and owner != \"\" }\n";
    mkdir_p("t4/aspnet_client");
    mkdir_p("t4/other");
    ks_test_write("t4/aspnet_client/x.aspx", chopper, sizeof chopper - 1);
    ks_test_write("t4/other/x.aspx", chopper, sizeof chopper - 1);
    ks_test_write("t4/ext.yar", rule, sizeof rule - 1);
    char *r = path_in("t4/ext.yar"), *data1 = path_in("t4/aspnet_client"),
         *data2 = path_in("t4/other");
    const char *paths[] = {data1, data2, NULL};
    const char *opts[] = {"yara", r, "builtin", "false", NULL};
    diags g;
    ks_engine *e = run(opts, paths, &g);
    CHECK(e != NULL);
    if (e) {
        CHECK(find(e, "yara:in_client", "aspnet_client/x.aspx") != NULL);
        CHECK(find(e, "yara:in_client", "other/x.aspx") == NULL);
        ks_engine_free(e);
    }
    free(r);
    free(data1);
    free(data2);
}

TEST(hostile_tree)
{
    mkdir_p("t5/tree/sub");
    ks_test_write("t5/tree/sub/shell.php", php_one, sizeof php_one - 1);
    char *d = path_in("t5/tree");
    char lnk[1200], tgt[1200], unread[1200], sparse[1200];
    /* symlink loop: tree/sub/loop -> .. ; tree/a -> b, b -> a */
    snprintf(lnk, sizeof lnk, "%s/sub/loop", d);
    CHECK(symlink("..", lnk) == 0);
    snprintf(lnk, sizeof lnk, "%s/a", d);
    snprintf(tgt, sizeof tgt, "%s/b", d);
    CHECK(symlink(tgt, lnk) == 0 && symlink(lnk, tgt) == 0);
    snprintf(unread, sizeof unread, "%s/secret.php", d);
    ks_test_write("t5/tree/secret.php", php_one, sizeof php_one - 1);
    chmod(unread, 0);
    /* A sparse file of 100 GB: bigger than walk.max_size, never read. */
    snprintf(sparse, sizeof sparse, "%s/huge.img", d);
    int fd = open(sparse, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(ftruncate(fd, (off_t)100 << 30) == 0);
        close(fd);
    }
    const char *paths[] = {d, NULL};
    diags g;
    time_t t0 = time(NULL);
    ks_engine *e = run(NULL, paths, &g);
    CHECK(e != NULL);
    CHECK(time(NULL) - t0 < 30);
    if (e) {
        CHECK(find(e, "yara:kensa_webshell_php_eval_request", "sub/shell.php") != NULL);
        CHECK(find(e, "yara:", "huge.img") == NULL);
        if (geteuid() != 0) {
            CHECK(g.n_error >= 1); /* the unreadable file, reported */
        } else {
            printf("INFO hostile_tree: running as root, the chmod 000 file is readable\n");
        }
        ks_engine_free(e);
    }
    unlink(sparse);
    chmod(unread, 0644);
    free(d);
}

/* ---- kensa vs the yara CLI ---------------------------------------------------- */
typedef struct pairs {
    char **v;
    size_t n, cap;
} pairs;

static void pairs_add(pairs *p, const char *rule, const char *path)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 256;
        p->v = realloc(p->v, p->cap * sizeof *p->v);
    }
    size_t n = strlen(rule) + strlen(path) + 2;
    p->v[p->n] = malloc(n);
    snprintf(p->v[p->n++], n, "%s %s", rule, path);
}

static int cmp_s(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void pairs_free(pairs *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
}

/* Compares kensa's (rule, file) pairs with `yara -r`'s on root. */
static void compare_with_cli(const char *rulefile, const char *root, const char *label)
{
    char cmd[4096], *out = NULL;
    pairs a = {0}, b = {0};
    snprintf(cmd, sizeof cmd, "yara -w -r -p 2 '%s' '%s' 2>/dev/null", rulefile, root);
    int rc = ks_test_run(cmd, &out);
    if (rc < 0 || !out) {
        ks_test_skip("tool", "yara_cli_equal(%s): yara CLI not runnable", label);
        free(out);
        return;
    }
    for (char *s = out; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = 0;
        char *sp = strchr(s, ' ');
        if (sp) {
            *sp = 0;
            pairs_add(&b, s, sp + 1);
        }
        s = nl ? nl + 1 : NULL;
    }
    free(out);
    const char *paths[] = {root, NULL};
    const char *opts[] = {"yara", rulefile, "builtin", "false", "detector.ioc", "false",
                          "walk.max_size", "1G", NULL};
    diags g;
    ks_engine *e = run(opts, paths, &g);
    CHECK(e != NULL);
    if (!e)
        return;
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        if (strncmp(f->rule_id, "yara:", 5) == 0 && f->nevidence)
            pairs_add(&a, f->rule_id + 5, f->evidence[0].path);
    }
    const ks_stats *st = ks_engine_stats(e);
    CHECK(st->findings_dropped == 0);
    qsort(a.v, a.n, sizeof *a.v, cmp_s);
    qsort(b.v, b.n, sizeof *b.v, cmp_s);
    size_t only_k = 0, only_y = 0, i = 0, j = 0;
    while (i < a.n || j < b.n) {
        int c = i < a.n && j < b.n ? strcmp(a.v[i], b.v[j]) : i < a.n ? -1 : 1;
        if (c == 0) {
            i++, j++;
        } else if (c < 0) {
            if (only_k++ < 5)
                fprintf(stderr, "only kensa: %s\n", a.v[i]);
            i++;
        } else {
            if (only_y++ < 5)
                fprintf(stderr, "only yara: %s\n", b.v[j]);
            j++;
        }
    }
    printf("INFO yara_cli_equal(%s): kensa %zu matches, yara %zu, only-kensa %zu, only-yara %zu\n",
           label, a.n, b.n, only_k, only_y);
    CHECK_INT(only_k, 0);
    CHECK_INT(only_y, 0);
    CHECK(a.n > 0);
    ks_engine_free(e);
    pairs_free(&a);
    pairs_free(&b);
}

TEST(matches_equal_yara_cli)
{
    /* A generated tree: shells, benign files, duplicates (dedupe must not
     * change results). */
    mkdir_p("t6/a");
    mkdir_p("t6/b");
    ks_test_write("t6/a/one.aspx", chopper, sizeof chopper - 1);
    ks_test_write("t6/b/one-copy.aspx", chopper, sizeof chopper - 1);
    ks_test_write("t6/a/two.php", php_one, sizeof php_one - 1);
    ks_test_write("t6/a/cmd.jsp", jsp_cmd, sizeof jsp_cmd - 1);
    ks_test_write("t6/a/index.php", benign_php, sizeof benign_php - 1);
    ks_test_write("t6/b/index-copy.php", benign_php, sizeof benign_php - 1);
    char *root = path_in("t6");
    compare_with_cli("rules/yara/webshells.yar", root, "generated");
    free(root);
    const char *corpus = ks_test_corpus();
    if (!corpus) {
        ks_test_skip("corpus", "yara_cli_equal(corpus): ../shared/corpus not found");
        return;
    }
    char tree[1024];
    snprintf(tree, sizeof tree, "%s/tennc-webshell", corpus);
    compare_with_cli("rules/yara/webshells.yar", tree, "tennc-webshell");
    char sb[1024];
    snprintf(sb, sizeof sb, "%s/signature-base/yara/thor-webshells.yar", corpus);
    compare_with_cli(sb, tree, "tennc-webshell+thor-webshells.yar");
}

/* ---- corpus: recall and false positives ----------------------------------------- */
static bool is_shell_name(const char *p)
{
    static const char *const exts[] = {".php", ".asp", ".aspx", ".jsp", ".jspx", ".txt", ".ashx",
                                       ".cfm", ".php5", ".phtml", ".cer", ".asa"};
    const char *base = strrchr(p, '/');
    base = base ? base + 1 : p;
    if (strcasestr(base, "readme") || strcasestr(base, "license") || strcasestr(base, "security"))
        return false;
    const char *dot = strrchr(base, '.');
    if (!dot)
        return false;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (!strcasecmp(dot, exts[i]))
            return true;
    return false;
}

/* Counts files under root (by `find`) that are shell-like and how many of
 * them have a finding from detector "yara"; prints the share and checks it
 * is at least min_pct percent. */
static void recall(ks_engine *e, const char *root, const char *label, int min_pct)
{
    char cmd[1200], *out = NULL;
    size_t total = 0, hit = 0;
    snprintf(cmd, sizeof cmd, "find '%s' -type f", root);
    ks_test_run(cmd, &out);
    for (char *s = out; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = 0;
        if (is_shell_name(s)) {
            total++;
            for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
                const ks_finding *f = ks_engine_finding(e, i);
                if (f->nevidence && !strcmp(f->evidence[0].path, s) && !strcmp(f->detector, "yara")) {
                    hit++;
                    break;
                }
            }
        }
        s = nl ? nl + 1 : NULL;
    }
    free(out);
    printf("RECALL %s: %zu/%zu web shell files flagged (%.1f%%)\n", label, hit, total,
           total ? 100.0 * (double)hit / (double)total : 0.0);
    CHECK(total >= 700);
    CHECK(hit * 100 >= total * (size_t)min_pct);
}

static size_t flagged_files(ks_engine *e, const char *detector)
{
    size_t n = 0;
    const char *last = "";
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        if (!f->nevidence || strcmp(f->detector, detector))
            continue;
        if (strcmp(last, f->evidence[0].path)) {
            n++;
            last = f->evidence[0].path;
        }
    }
    return n;
}

TEST(corpus_recall_and_fp)
{
    const char *corpus = ks_test_corpus();
    if (!corpus) {
        ks_test_skip("corpus", "../shared/corpus not found");
        return;
    }
    char tennc[1024], sb[1024], benign[1024];
    snprintf(tennc, sizeof tennc, "%s/tennc-webshell", corpus);
    snprintf(sb, sizeof sb, "%s/signature-base/yara", corpus);
    snprintf(benign, sizeof benign, "%s/benign-web", corpus);
    diags g;
    const char *paths[] = {tennc, NULL};
    const char *bundled[] = {"detector.ioc", "false", NULL};
    ks_engine *e = run(bundled, paths, &g);
    CHECK(e != NULL);
    if (e) {
        recall(e, tennc, "tennc-webshell, kensa bundled rules", 60); /* measured 62.3% */
        ks_engine_free(e);
    }
    const char *with_sb[] = {"detector.ioc", "false", "yara", sb, NULL};
    e = run(with_sb, paths, &g);
    CHECK(e != NULL);
    if (e) {
        printf("LOAD signature-base/yara with external variables: %d rule files failed to compile\n",
               g.n_error);
        CHECK_INT(g.n_error, 0);
        recall(e, tennc, "tennc-webshell, bundled + signature-base", 90); /* measured 93.0% */
        ks_engine_free(e);
    }
    /* False positives: benign web apps and a /usr/share subset. */
    const char *bpaths[] = {benign, NULL};
    e = run(bundled, bpaths, &g);
    CHECK(e != NULL);
    if (e) {
        size_t n = flagged_files(e, "yara");
        printf("FP benign-web (Tomcat JSP, Roundcube PHP), bundled rules: %zu of %llu files\n", n,
               (unsigned long long)ks_engine_stats(e)->files_scanned);
        CHECK(n <= 2);
        ks_engine_free(e);
    }
    static const char *const usr[] = {"/usr/share/php", "/usr/share/javascript", "/usr/share/perl5",
                                      "/usr/share/vim", "/usr/share/doc", "/usr/lib/node_modules"};
    const char *upaths[10];
    size_t nu = 0;
    for (size_t i = 0; i < sizeof usr / sizeof usr[0]; i++)
        if (access(usr[i], R_OK) == 0)
            upaths[nu++] = usr[i];
    upaths[nu] = NULL;
    if (nu) {
        e = run(bundled, upaths, &g);
        CHECK(e != NULL);
        if (e) {
            size_t n = flagged_files(e, "yara");
            printf("FP /usr/share subset (php, javascript, perl5, vim, doc) + npm's node_modules, bundled rules: %zu of %llu files\n",
                   n, (unsigned long long)ks_engine_stats(e)->files_scanned);
            for (size_t i = 0; i < ks_engine_nfindings(e) && i < 5; i++)
                printf("INFO fp: %s %s\n", ks_engine_finding(e, i)->rule_id,
                       ks_engine_finding(e, i)->evidence[0].path);
            CHECK(n <= 3);
            ks_engine_free(e);
        }
    }
}

TEST(allowlist_and_skip_types)
{
    static const char rule[] = "rule marker { strings: $a = \"kensa-allow-marker\" condition: $a }\n";
    static const char body[] = "kensa-allow-marker known good build artefact\n";
    char cmd[512], *out = NULL;
    mkdir_p("t7/data");
    ks_test_write("t7/r.yar", rule, sizeof rule - 1);
    ks_test_write("t7/data/good.txt", body, sizeof body - 1);
    ks_test_write("t7/data/other.txt", "kensa-allow-marker\n", 19);
    ks_test_write("t7/data/pic.png", "\x89PNG\r\n\x1a\nkensa-allow-marker", 26);
    snprintf(cmd, sizeof cmd, "sha256sum '%s/t7/data/good.txt'", ks_test_tmpdir());
    CHECK_INT(ks_test_run(cmd, &out), 0);
    if (!out)
        return;
    ks_test_write("t7/allow.txt", out, 64);
    free(out);
    char *r = path_in("t7/r.yar"), *data = path_in("t7/data"), *al = path_in("t7/allow.txt");
    const char *paths[] = {data, NULL};
    const char *opts[] = {"yara", r, "builtin", "false", "files.allowlist", al,
                          "files.skip_types", "GIF,PNG", NULL};
    diags g;
    ks_engine *e = run(opts, paths, &g);
    CHECK(e != NULL);
    if (e) {
        CHECK(find(e, "yara:marker", "good.txt") == NULL);
        CHECK(find(e, "yara:marker", "other.txt") != NULL);
        CHECK(find(e, "yara:marker", "pic.png") == NULL);
        ks_engine_free(e);
    }
    free(r);
    free(data);
    free(al);
}

/* A rule that reads every byte of the file (slow on purpose) and a sparse
 * file of `size` zero bytes, under DIR: the set-up of the tests that need a
 * scan long enough to act during it. Paths are malloc'd. */
static void slow_scan_setup(const char *dir, const char *name, off_t size, char **rule_path, char **file_path)
{
    static const char rule[] =
        "rule walk_all { condition: for any i in (0..filesize - 1) : ( uint8(i) == 0x42 ) }\n";
    char rel[256];
    snprintf(rel, sizeof rel, "%s/data", dir);
    mkdir_p(rel);
    snprintf(rel, sizeof rel, "%s/r.yar", dir);
    ks_test_write(rel, rule, sizeof rule - 1);
    *rule_path = path_in(rel);
    snprintf(rel, sizeof rel, "%s/data/%s", dir, name);
    *file_path = path_in(rel);
    int fd = open(*file_path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(ftruncate(fd, size) == 0);
        close(fd);
    }
}

/* A file truncated and regrown while YARA reads it through the walker's
 * mapping: kensa's SIGBUS guard puts zero pages past the new end (libyara's
 * own guard is off, see yara.c), the IOC reader's pread() sees a short
 * file; the run must end normally. */
typedef struct flipper {
    const char *path;
    atomic_int stop; /* set by the test thread, read by the flipper */
} flipper;

static void *flip_main(void *p)
{
    flipper *fl = p;
    while (!atomic_load(&fl->stop)) {
        int fd = open(fl->path, O_WRONLY);
        if (fd < 0)
            break;
        if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)64 << 20) != 0) {
            close(fd);
            break;
        }
        close(fd);
        usleep(2000);
    }
    return NULL;
}

TEST(file_changes_while_scanned)
{
    char *r, *f;
    slow_scan_setup("t8", "growing.bin", (off_t)64 << 20, &r, &f);
    flipper fl = {.path = f};
    atomic_init(&fl.stop, 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, flip_main, &fl) == 0);
    const char *paths[] = {f, f, f, f, NULL};
    const char *opts[] = {"yara", r, "builtin", "false", "yara.timeout", "5", NULL};
    diags g;
    ks_engine *e = run(opts, paths, &g);
    atomic_store(&fl.stop, 1);
    pthread_join(th, NULL);
    CHECK(e != NULL);
    printf("INFO file_changes_while_scanned: %d errors, %d warnings reported (last: %s), run completed\n",
           g.n_error, g.n_warn, g.last_error);
    ks_engine_free(e);
    free(r);
    free(f);
}

/* libyara installs no fault handler of its own: with libyara 4.2's, which
 * concurrent scans can leave installed for good (an unlocked use count), a
 * crash anywhere later looped forever in it instead of stopping the
 * process (see yara.c). A poller watches SIGSEGV's disposition while a
 * slow rule scans; it must stay what it was before the scan (the default
 * in a plain build; ASan and TSan install their own handler first). */
typedef struct poller {
    atomic_int stop, seen, polls;
    struct sigaction before;
} poller;

static void *poll_main(void *p)
{
    poller *pl = p;
    while (!atomic_load(&pl->stop)) {
        struct sigaction sa;
        if (sigaction(SIGSEGV, NULL, &sa) == 0 &&
            ((sa.sa_flags & SA_SIGINFO) != (pl->before.sa_flags & SA_SIGINFO) ||
             ((sa.sa_flags & SA_SIGINFO) ? (void (*)(void))sa.sa_sigaction != (void (*)(void))pl->before.sa_sigaction
                                         : sa.sa_handler != pl->before.sa_handler)))
            atomic_store(&pl->seen, 1);
        atomic_fetch_add(&pl->polls, 1);
        usleep(200);
    }
    return NULL;
}

TEST(no_fault_handler_installed)
{
    char *r, *f;
    slow_scan_setup("t9", "zeros.bin", (off_t)8 << 20, &r, &f);
    poller pl;
    atomic_init(&pl.stop, 0);
    atomic_init(&pl.seen, 0);
    atomic_init(&pl.polls, 0);
    CHECK(sigaction(SIGSEGV, NULL, &pl.before) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, poll_main, &pl) == 0);
    const char *paths[] = {f, NULL};
    const char *opts[] = {"yara", r, "builtin", "false", NULL};
    diags g;
    ks_engine *e = run(opts, paths, &g);
    atomic_store(&pl.stop, 1);
    pthread_join(th, NULL);
    CHECK(e != NULL);
    CHECK(atomic_load(&pl.polls) > 10); /* the scan lasted long enough to be watched */
    CHECK_INT(atomic_load(&pl.seen), 0);
    ks_engine_free(e);
    free(r);
    free(f);
}

/* ---- gated rule sets change no result ------------------------------------------- */
static void engine_pairs(ks_engine *e, pairs *p)
{
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        if (strncmp(f->rule_id, "yara:", 5) == 0 && f->nevidence)
            pairs_add(p, f->rule_id + 5, f->evidence[0].path);
    }
    if (p->n) /* v is NULL when empty, which qsort may not take */
        qsort(p->v, p->n, sizeof *p->v, cmp_s);
}

static void scan_pairs(const char *const *opts, const char *const *paths, pairs *out, diags *g)
{
    ks_engine *e = run(opts, paths, g);
    CHECK(e != NULL);
    if (e) {
        engine_pairs(e, out);
        ks_engine_free(e);
    }
}

/* Pairs in one sorted list and not the other (the first few printed). */
static size_t pairs_diff(const pairs *a, const pairs *b, const char *an, const char *bn)
{
    size_t diff = 0;
    for (size_t i = 0, j = 0; i < a->n || j < b->n;) {
        int c = i < a->n && j < b->n ? strcmp(a->v[i], b->v[j]) : i < a->n ? -1 : 1;
        if (c == 0) {
            i++, j++;
            continue;
        }
        if (diff++ < 5)
            fprintf(stderr, "only %s: %s\n", c < 0 ? an : bn, c < 0 ? a->v[i] : b->v[j]);
        c < 0 ? i++ : j++;
    }
    return diff;
}

/* Runs rules over root split into gated sets and whole; the (rule, file)
 * pairs must be the same. Returns the number of pairs. */
static size_t split_equals_whole(const char *rules, const char *root, const char *label)
{
    const char *paths[] = {root, NULL};
    pairs a = {0}, b = {0};
    diags g;
    const char *split[] = {"yara", rules, "detector.ioc", "false", "walk.max_size", "1G", NULL};
    const char *whole[] = {"yara", rules, "detector.ioc", "false", "walk.max_size", "1G",
                           "yara.split", "false", NULL};
    scan_pairs(split, paths, &a, &g);
    CHECK(g.gated > 0); /* else this compares one set with itself */
    scan_pairs(whole, paths, &b, &g);
    size_t diff = pairs_diff(&a, &b, "split", "whole");
    printf("INFO yara_split_equal(%s): split %zu matches, whole %zu, differing %zu\n", label, a.n,
           b.n, diff);
    CHECK_INT(diff, 0);
    size_t n = a.n;
    pairs_free(&a);
    pairs_free(&b);
    return n;
}

/* The gated sets again from the cache (sets, gated-rule lines and the
 * serialized literal prefilter), then with that database damaged: it must
 * be refused and the literals compiled again, with the same results. */
static void cached_sets_same(const char *rules, const char *root, size_t want)
{
    const char *paths[] = {root, NULL};
    const char *split[] = {"yara", rules, "detector.ioc", "false", "walk.max_size", "1G", NULL};
    char *cache = path_in("cache");
    pairs a = {0}, b = {0};
    diags g;
    int damaged = 0;
    scan_pairs(split, paths, &a, &g);
    CHECK(g.cache_hit);
    CHECK_INT(a.n, want);
    DIR *d = opendir(cache);
    for (struct dirent *de; d && (de = readdir(d));) {
        size_t l = strlen(de->d_name);
        if (l > 8 && !strcmp(de->d_name + l - 8, ".lits.hs")) {
            char p[2048];
            snprintf(p, sizeof p, "%s/%s", cache, de->d_name);
            int fd = open(p, O_WRONLY | O_TRUNC);
            CHECK(fd >= 0 && write(fd, "not a database", 14) == 14);
            if (fd >= 0)
                close(fd);
            damaged++;
        }
    }
    if (d)
        closedir(d);
    CHECK(damaged > 0);
    scan_pairs(split, paths, &b, &g);
    CHECK(g.cache_hit);
    CHECK_INT(pairs_diff(&a, &b, "cached", "recompiled"), 0);
    pairs_free(&a);
    pairs_free(&b);
    free(cache);
}

/* Rules of every gate kind, and files that pass or fail each gate. */
static const char gate_rules[] =
    "import \"pe\"\n"
    "private rule is_mz { condition: uint16(0) == 0x5a4d }\n"
    "rule pe_marker { strings: $a = \"kensa-pe-marker\" condition: is_mz and $a }\n"
    "rule pe_header { condition: uint16(0) == 0x5a4d and pe.is_pe == 0 }\n"
    "rule text_marker { strings: $a = \"kensa-text-marker\" nocase condition: any of them }\n"
    "rule wide_marker { strings: $a = \"kensa-wide-marker\" wide condition: $a }\n"
    "rule hex_marker { strings: $h = { 6B 65 6E 73 61 ?? 68 65 78 2D 6D 61 72 6B 65 72 } "
    "condition: #h > 0 }\n"
    "rule re_marker { strings: $r = /kensa-regex-marker[0-9]+/ condition: $r }\n"
    "rule either { strings: $a = \"kensa-either-one\" $b = \"kensa-either-two\" "
    "condition: $a or $b at 0 }\n"
    "rule always { condition: filesize < 3 }\n"
    "rule names_always { condition: always and filesize > 0 }\n"
    "rule not_there { strings: $a = \"kensa-absent-marker\" condition: not $a and filesize > 20 }\n"
    /* pe conjuncts (the MZ set), magic-or-literal rules (two sets), and a
     * rule using pe whose literal opens the costly literal set */
    "rule pe_dll { condition: pe.is_dll() and filesize > 100 }\n"
    "rule pe_not_dll { condition: not pe.is_dll() }\n"
    "rule pe_loop { condition: for any i in (0 .. pe.number_of_sections) : (filesize > 2) }\n"
    "rule be_mz { strings: $a = \"kensa-mixed\" condition: uint16be(0) == 0x4d5a and $a }\n"
    "rule mixed { strings: $a = \"kensa-mixed-marker\" "
    "condition: uint16(0) == 0x5a4d and filesize < 4096 or $a }\n"
    "rule costly { strings: $a = \"kensa-c8\" condition: pe.is_dll() or $a }\n";

/* A PE32 DLL libyara's pe module parses: DOS header, "PE\0\0", an i386
 * file header with the DLL flag and a PE32 optional header, then tail. */
static size_t tiny_pe(uint8_t *b, const char *tail)
{
    size_t n = 0x58 + 224;
    memset(b, 0, n);
    b[0] = 'M', b[1] = 'Z', b[0x3c] = 0x40;
    memcpy(b + 0x40, "PE\0\0", 4);
    b[0x44] = 0x4c, b[0x45] = 0x01; /* Machine */
    b[0x54] = 0xe0;                 /* SizeOfOptionalHeader */
    b[0x56] = 0x02, b[0x57] = 0x21; /* Characteristics: executable, 32-bit, DLL */
    b[0x58] = 0x0b, b[0x59] = 0x01; /* PE32 */
    memcpy(b + n, tail, strlen(tail));
    return n + strlen(tail);
}

/* Facts checked before libyara runs (sizes, per-rule magic bytes,
 * required literals of regex-only rules) decide no match: split and whole
 * agree on files each fact lets in and keeps out, and every rule below
 * matches some file (a rule the gate wrongly dropped shows as a pair
 * only the whole run has). A rule file kept whole (a global rule) runs
 * beside the light literal set too: a file that opens that set still
 * gets its rules. */
static const char fact_rules[] =
    "rule f_small { strings: $a = \"kensa-fact\" condition: filesize < 2KB and $a }\n"
    "rule f_big { strings: $a = \"kensa-fact\" condition: $a and filesize > 1MB }\n"
    "rule f_hull { strings: $a = \"kensa-fact\" condition: ($a and filesize < 100) or "
    "(filesize < 3KB and $a) }\n"
    "rule f_mz { strings: $a = \"fact body\" condition: uint16(0) == 0x5a4d and $a }\n"
    "rule f_evtx { condition: uint32(0) == 0x46666c45 and filesize < 1MB }\n"
    "rule f_regex { strings: $r = /kensa-regex-fact-[0-9]{2,4}/ condition: $r }\n"
    "rule f_regex_small { strings: $r = /ev[a]l\\s*\\(\\$_POST/ condition: filesize < 4KB and $r }\n"
    "rule f_open { strings: $r = /[a-z]{4}[0-9]{3}/ condition: $r }\n"
    /* regexes where Vectorscan's defaults and YARA's differ: the
     * prefilter must not lose them */
    "rule r_vt { strings: $r = /kensa\\svt/ condition: $r }\n"
    "rule r_upto { strings: $r = /kensa-x{,2}upto/ condition: $r }\n"
    "rule r_dotall { strings: $r = /kensa.dotall/s condition: $r }\n"
    "rule r_nocase { strings: $r = /kensa-[a-z]+-nocase/ nocase condition: $r }\n"
    "rule r_class { strings: $r = /kensa[]x]class/ condition: $r }\n";
static const char fact_whole[] =
    "global rule fw_global { condition: filesize > 0 }\n"
    "rule fw_hello { strings: $a = \"hello\" condition: $a }\n";
static const char fact_lit[] =
    "rule fl_long { strings: $a = \"kensa-long-literal-gate\" condition: $a }\n";

TEST(fact_gates_match_like_one_set)
{
    uint8_t pe[600];
    mkdir_p("facts/rules");
    mkdir_p("facts/tree");
    ks_test_write("facts/rules/a.yar", fact_rules, sizeof fact_rules - 1);
    ks_test_write("facts/rules/b.yar", fact_whole, sizeof fact_whole - 1);
    ks_test_write("facts/rules/c.yar", fact_lit, sizeof fact_lit - 1);
    memset(pe, ' ', sizeof pe);
    memcpy(pe, "MZ", 2);
    memcpy(pe + 300, "fact body kensa-fact", 20);
    ks_test_write("facts/tree/small.exe", pe, sizeof pe);
    memcpy(pe, "ElfFile", 8);
    ks_test_write("facts/tree/log.evtx", pe, sizeof pe);
    ks_test_write("facts/tree/tiny.txt", "kensa-fact abcd123", 18);
    ks_test_write("facts/tree/re.txt", "x kensa-regex-fact-77 eval($_POST hello", 39);
    ks_test_write("facts/tree/lit.txt", "hello kensa-long-literal-gate", 29);
    static const char rx[] = "kensa\vvt kensa-xxupto kensa\ndotall KENSA-ABC-NOCASE kensa]class";
    ks_test_write("facts/tree/rx.txt", rx, sizeof rx - 1);
    size_t big = (size_t)3 << 20;
    char *b = malloc(big);
    memset(b, 'q', big);
    memcpy(b + big / 2, "kensa-fact eval($_POST", 22);
    ks_test_write("facts/tree/big.log", b, big);
    free(b);
    char *rules = path_in("facts/rules");
    char *root = path_in("facts/tree");
    size_t n = split_equals_whole(rules, root, "facts");
    /* f_small, f_hull on small.exe, log.evtx, tiny.txt; f_mz; f_evtx;
     * f_big; f_regex; f_regex_small; f_open; fw_global on all seven
     * files, fw_hello on re.txt and lit.txt; fl_long; the five r_* */
    CHECK_INT(n, 6 + 1 + 1 + 1 + 1 + 1 + 1 + 7 + 2 + 1 + 5);
    /* and by name, with the gated sets */
    const char *paths[] = {root, NULL};
    const char *opts[] = {"yara", rules, "detector.ioc", "false", "walk.max_size", "1G", NULL};
    diags g;
    ks_engine *e = run(opts, paths, &g);
    CHECK(e != NULL);
    if (e) {
        CHECK(find(e, "yara:fw_hello", "lit.txt") != NULL); /* the light set opened here */
        CHECK(find(e, "yara:fl_long", "lit.txt") != NULL);
        CHECK(find(e, "yara:f_big", "big.log") != NULL);
        CHECK(find(e, "yara:f_small", "big.log") == NULL);
        CHECK(find(e, "yara:f_regex_small", "re.txt") != NULL);
        CHECK(find(e, "yara:f_regex_small", "big.log") == NULL);
        CHECK(find(e, "yara:f_evtx", "log.evtx") != NULL);
        CHECK(find(e, "yara:f_mz", "small.exe") != NULL);
        CHECK(find(e, "yara:f_mz", "log.evtx") == NULL);
        CHECK(find(e, "yara:r_vt", "rx.txt") != NULL);
        CHECK(find(e, "yara:r_dotall", "rx.txt") != NULL);
        CHECK(find(e, "yara:r_class", "rx.txt") != NULL);
        ks_engine_free(e);
    }
    free(rules);
    free(root);
}

TEST(gated_sets_match_like_one_set)
{
    static const char mz[] = "MZ\x90\x00kensa-pe-marker";
    static const char wide[] = "k\0e\0n\0s\0a\0-\0w\0i\0d\0e\0-\0m\0a\0r\0k\0e\0r\0";
    mkdir_p("gates");
    ks_test_write("gates/a.exe", mz, sizeof mz - 1);
    ks_test_write("gates/b.txt", "xx KENSA-TEXT-MARKER yy kensa-regex-marker42", 44);
    ks_test_write("gates/c.bin", wide, sizeof wide - 1);
    ks_test_write("gates/d.txt", "kensa hex-marker and kensa-either-two", 37);
    ks_test_write("gates/e.txt", "kensa-either-two first", 22);
    ks_test_write("gates/f.txt", "a", 1);
    ks_test_write("gates/g.txt", "nothing of interest in this file at all", 39);
    uint8_t pe[1024];
    ks_test_write("gates/h.dll", pe, tiny_pe(pe, "kensa-mixed-marker kensa-c8"));
    ks_test_write("gates/i.txt", "kensa-mixed-marker and kensa-c8", 31);
    /* 16 rules: enough for a set of their own */
    static char rb[sizeof gate_rules + 16 * 80];
    size_t rl = (size_t)snprintf(rb, sizeof rb, "%s", gate_rules);
    for (int i = 0; i < 16; i++)
        rl += (size_t)snprintf(rb + rl, sizeof rb - rl,
                               "rule mz_%d { condition: uint16(0) == 0x5a4d and filesize > %d }\n",
                               i, i);
    CHECK(rl < sizeof rb);
    ks_test_write("gates/rules.yar", rb, rl);
    char *rules = path_in("gates/rules.yar");
    char *root = path_in("gates");
    size_t n = split_equals_whole(rules, root, "generated");
    /* pe_marker, text, regex, wide, hex, either x2, always + names_always
     * on f, not_there on the long files; on h.dll: pe_dll, pe_loop, be_mz,
     * mixed (once, though in two sets), costly, 16 mz_*; on i.txt: mixed,
     * costly */
    CHECK(n >= 9 + 4 + 16 + 2 + 1);
    cached_sets_same(rules, root, n);
    free(rules);
    free(root);
    const char *corpus = ks_test_corpus();
    if (!corpus) {
        ks_test_skip("corpus", "yara_split_equal(corpus): ../shared/corpus not found");
        return;
    }
    char sb[1024], tree[1024];
    snprintf(sb, sizeof sb, "%s/signature-base/yara", corpus);
    snprintf(tree, sizeof tree, "%s/tennc-webshell", corpus);
    CHECK(split_equals_whole(sb, tree, "signature-base on tennc-webshell") > 1000);
    snprintf(tree, sizeof tree, "%s/benign-web", corpus);
    split_equals_whole(sb, tree, "signature-base on benign-web");
}
