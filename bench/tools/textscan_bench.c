/* SPDX-License-Identifier: Apache-2.0
 *
 * The text scanner alone over one file of decoded text, one thread:
 *   textscan_bench scan FILE          MB/s of ks__textscan_run (validation on)
 *   textscan_bench patterns OUT.txt   the rules' patterns, one per line (rg -P -f)
 *   textscan_bench yara OUT.yar       the patterns YARA's regex dialect reads
 *   textscan_bench extract IN [OUT]   MB/s of the extractors alone (mail, MIME,
 *                                     attachments); OUT gets the decoded text
 *   textscan_bench dump FILE          every match, one line (rule, offset, span,
 *                                     validity, confidence, value SHA-256, type,
 *                                     severity, redaction, details' hash): two
 *                                     builds' lists compared show that a change to
 *                                     the scanner kept the same matches
 * TEXTSCAN_REPEAT=N scans N times (a profile of the scan, not the compile).
 * The text's pages are read once before the clock starts (TEXTSCAN_TOUCH=0:
 * not; the figures before 2026-12-05 were taken that way).
 * Used by bench/secrets.sh; not a test.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "detect/textscan_int.h"
#include "extract/extract.h"

static int count(void *ud, const ks_tmatch *m)
{
    (*(size_t *)ud)++;
    (void)m;
    return 0;
}

/* One line per match, offsets absolute (ud: the chunk's offset). */
typedef struct dumper {
    size_t hits;
    size_t base;
} dumper;

/* FNV-1a of a string and its terminator, continuing h */
static uint64_t fnv(uint64_t h, const char *p)
{
    do
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    while (*p++);
    return h;
}

static int dump_match(void *ud, const ks_tmatch *m)
{
    dumper *d = ud;
    d->hits++;
    printf("%s %zu %zu %d %d ", m->rule_id, d->base + (size_t)m->offset, m->nvalue, (int)m->valid,
           m->confidence);
    for (size_t i = 0; i < sizeof m->sha256; i++)
        printf("%02x", m->sha256[i]);
    /* what else is delivered: type, severity, redaction, the decoded
     * facts (hashed: they may hold parts of the value) */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < m->ndetails; i++)
        h = fnv(fnv(h, m->details[i].key), m->details[i].value);
    printf(" %s %d %s %zu %016llx\n", m->type, (int)m->severity, m->redacted, m->ndetails,
           (unsigned long long)h);
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* YARA regexes: no look-arounds, back-references, named groups or inline
 * flags other than a leading (?i) (the nocase modifier). */
static bool yara_ok(const char *re)
{
    return !strstr(re, "(?<") && !strstr(re, "(?=") && !strstr(re, "(?!") && !strstr(re, "\\2") &&
           !strstr(re, "(?P") && !strstr(re + (strncmp(re, "(?i)", 4) ? 0 : 4), "(?") &&
           !strchr(re, '/');
}

typedef struct dump {
    FILE *out;        /* NULL: count only */
    size_t bytes;     /* decoded text */
} dump;

static int on_text(void *ud, const ks_xtext *t)
{
    dump *d = ud;
    d->bytes += t->n;
    if (d->out && (fwrite(t->p, 1, t->n, d->out) != t->n || fputc('\n', d->out) == EOF))
        return 1;
    return 0;
}

/* The extractors over one file, as the secrets detector calls them. */
static int extract(const char *in, const char *out)
{
    dump d = {0};
    ks_xctx x;
    int fd = open(in, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return 2;
    const uint8_t *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED || (out && !(d.out = fopen(out, "w"))))
        return 2;
    ks__xctx_init(&x, NULL, in, on_text, &d);
    ks_xnode top = {.name = in, .offset = UINT64_MAX};
    double t0 = now();
    ks__extract(&x, &top, p, (size_t)st.st_size);
    double dt = now() - t0;
    printf("%.1f MB in %.2f s: %.0f MB/s of input, %.1f MB of text\n", (double)st.st_size / 1e6,
           dt, (double)st.st_size / 1e6 / dt, (double)d.bytes / 1e6);
    if (d.out)
        fclose(d.out);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "extract"))
        return extract(argv[2], argc > 3 ? argv[3] : NULL);

    ks_textscan *ts = NULL;
    ks_textscratch *s = NULL;
    if (argc < 3 || ks__textscan_new(NULL, KS_RULES_DIR_DEFAULT, &ts) != KS_OK ||
        ks__textscratch_new(ts, &s) != KS_OK) {
        fprintf(stderr, "usage: textscan_bench scan|dump|patterns|yara FILE\n");
        return 2;
    }
    if (!strcmp(argv[1], "patterns") || !strcmp(argv[1], "yara")) {
        FILE *fp = fopen(argv[2], "w");
        bool yara = argv[1][0] == 'y';
        size_t k = 0;
        if (!fp)
            return 2;
        if (yara)
            fprintf(fp, "rule secrets {\n strings:\n");
        for (size_t i = 0; i < ks__textscan_nrules(ts); i++) {
            const char *re = ks__textscan_rule(ts, i)->pattern;
            if (!yara)
                fprintf(fp, "%s\n", re);
            else if (yara_ok(re)) {
                bool nocase = !strncmp(re, "(?i)", 4);
                fprintf(fp, "  $r%zu = /%s/%s\n", k++, nocase ? re + 4 : re, nocase ? " nocase" : "");
            }
        }
        if (yara)
            fprintf(fp, " condition:\n  any of them\n}\n");
        fclose(fp);
        fprintf(stderr, "%zu patterns\n", yara ? k : ks__textscan_nrules(ts));
        return 0;
    }
    int fd = open(argv[2], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return 2;
    /* populated: the scanner's time, not the first touch of each page (a
     * hunt hands the scanner text the extractors wrote in memory) */
    const char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED)
        return 2;
    /* and each page read once: on a VM with shadow page tables (this
     * machine's) MAP_POPULATE still leaves the first touch of each page
     * to whoever reads it first, ~0.05 s of a 0.3 s scan of 142 MB that a
     * hunt's scanner never pays (its text is in buffers the extractor
     * wrote). TEXTSCAN_TOUCH=0: as before, first touch in the scan. */
    const char *touch = getenv("TEXTSCAN_TOUCH");
    if (!touch || strcmp(touch, "0")) {
        volatile char sink = 0;
        for (size_t i = 0; i < (size_t)st.st_size; i += 4096)
            sink ^= p[i];
        (void)sink;
    }
    size_t hits = 0, chunk = 4u << 20;
    /* TEXTSCAN_CLASSES=1 secrets only, 2 personal data only */
    const char *cl = getenv("TEXTSCAN_CLASSES");
    unsigned classes = cl ? (unsigned)strtoul(cl, NULL, 10) : KS_TC_SECRET | KS_TC_PII;
    const char *rp = getenv("TEXTSCAN_REPEAT");
    int repeat = rp ? atoi(rp) : 1;
    bool dumping = !strcmp(argv[1], "dump");
    dumper dd = {0};
    double t0 = now();
    /* units of a few MiB, as extracted text arrives */
    for (int r = 0; r < KS_MAX(1, repeat); r++)
        for (size_t off = 0; off < (size_t)st.st_size; off += chunk) {
            dd.base = off;
            if (dumping)
                ks__textscan_run(ts, s, classes, p + off, KS_MIN(chunk, (size_t)st.st_size - off),
                                 dump_match, &dd);
            else
                ks__textscan_run(ts, s, classes, p + off,
                                 KS_MIN(chunk, (size_t)st.st_size - off), count, &hits);
        }
    double dt = now() - t0;
    if (dumping)
        fprintf(stderr, "%zu matches\n", dd.hits);
    else
        printf("%.1f MB in %.3f s: %.0f MB/s, %zu matches\n",
               (double)st.st_size / 1e6 * KS_MAX(1, repeat), dt,
               (double)st.st_size / 1e6 * KS_MAX(1, repeat) / dt, hits);
    ks__textscratch_free(s);
    ks__textscan_free(ts);
    return 0;
}
