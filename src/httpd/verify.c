/* SPDX-License-Identifier: Apache-2.0
 *
 * Proof of domain control, before the portal shows anything about a
 * domain. Two ways, both with a random per-claim token:
 *
 *  - DNS: a TXT record "kensa-verify=TOKEN" on the domain, read through a
 *    configurable resolver (--resolver IP[:PORT]; tests point it at a
 *    dnsmasq on loopback). A small UDP client: one question, recursion
 *    desired, the answer matched by id and question, two tries.
 *  - HTTPS: https://DOMAIN/.well-known/kensa-verify.txt holding the token,
 *    fetched with libcurl: certificate verified, no redirects, 4 KiB at
 *    most, https only (--connect-to and --cainfo let tests point the name
 *    at a loopback server with its own CA, as curl's --connect-to does).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <curl/curl.h>
#include <sodium.h>
#include "httpd/portal.h"

#define DNS_TRIES 2
#define DNS_WAIT_MS 2000
#define WELLKNOWN_MAX 4096

/* ---- DNS ----------------------------------------------------------------------- */

size_t portal_dns_query(const char *name, uint16_t id, uint8_t *out, size_t cap)
{
    size_t o = 12, n = strlen(name);
    if (cap < 512 || n == 0 || n > 253)
        return 0;
    memset(out, 0, 12);
    out[0] = (uint8_t)(id >> 8);
    out[1] = (uint8_t)id;
    out[2] = 0x01; /* RD */
    out[5] = 1;    /* QDCOUNT */
    for (const char *l = name; *l;) {
        const char *dot = strchr(l, '.');
        size_t ln = dot ? (size_t)(dot - l) : strlen(l);
        if (ln == 0 || ln > 63)
            return 0;
        out[o++] = (uint8_t)ln;
        memcpy(out + o, l, ln);
        o += ln;
        l += ln + (dot ? 1 : 0);
    }
    out[o++] = 0;
    out[o++] = 0;
    out[o++] = 16; /* TXT */
    out[o++] = 0;
    out[o++] = 1;  /* IN */
    return o;
}

/* Skips a (possibly compressed) name at *off. */
static bool skip_name(const uint8_t *p, size_t n, size_t *off)
{
    size_t o = *off;
    for (unsigned hops = 0; hops < 128; hops++) {
        if (o >= n)
            return false;
        uint8_t l = p[o];
        if ((l & 0xC0) == 0xC0) {
            if (o + 1 >= n)
                return false;
            *off = o + 2;
            return true;
        }
        if (l & 0xC0)
            return false;
        if (l == 0) {
            *off = o + 1;
            return true;
        }
        o += 1 + (size_t)l;
    }
    return false;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

int portal_dns_parse(const uint8_t *p, size_t n, uint16_t id, portal_txt_fn fn, void *ud)
{
    size_t off = 12;
    char txt[1024];
    if (n < 12 || be16(p) != id || !(p[2] & 0x80))
        return KS_EFORMAT;
    unsigned rcode = p[3] & 0x0F, qd = be16(p + 4), an = be16(p + 6);
    if (rcode == 3)
        return KS_ENOTFOUND;
    if (rcode != 0)
        return KS_ENET;
    for (unsigned i = 0; i < qd; i++) {
        if (!skip_name(p, n, &off) || off + 4 > n)
            return KS_EFORMAT;
        off += 4;
    }
    for (unsigned i = 0; i < an; i++) {
        if (!skip_name(p, n, &off) || off + 10 > n)
            return KS_EFORMAT;
        uint16_t type = be16(p + off), rdlen = be16(p + off + 8);
        off += 10;
        if (off + rdlen > n)
            return KS_EFORMAT;
        if (type == 16) {
            size_t t = 0, r = off;
            /* a TXT record is one or more <len><bytes> strings: joined */
            while (r < off + rdlen) {
                size_t l = p[r++];
                if (r + l > off + rdlen)
                    return KS_EFORMAT;
                if (t + l < sizeof txt) {
                    memcpy(txt + t, p + r, l);
                    t += l;
                }
                r += l;
            }
            txt[t] = 0;
            fn(ud, txt, t);
        }
        off += rdlen;
    }
    return KS_OK;
}

/* The resolver's address: "IP[:PORT]", or resolv.conf's first. */
static bool resolver_addr(const char *spec, struct sockaddr_in *sa)
{
    char host[64] = "";
    unsigned port = 53;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    if (spec && *spec) {
        const char *colon = strrchr(spec, ':');
        size_t hn = colon ? (size_t)(colon - spec) : strlen(spec);
        if (hn >= sizeof host)
            return false;
        memcpy(host, spec, hn);
        host[hn] = 0;
        if (colon && (sscanf(colon + 1, "%u", &port) != 1 || port == 0 || port > 65535))
            return false;
    } else {
        FILE *fp = fopen("/etc/resolv.conf", "r");
        char line[256];
        while (fp && fgets(line, sizeof line, fp))
            if (sscanf(line, "nameserver %63s", host) == 1 && strchr(host, '.'))
                break;
        if (fp)
            fclose(fp);
    }
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

typedef struct txt_find {
    const char *want;      /* "kensa-verify=TOKEN" */
    bool found;
    unsigned seen;         /* TXT records looked at */
} txt_find;

static void on_txt(void *ud, const char *txt, size_t n)
{
    txt_find *f = ud;
    size_t wn = strlen(f->want);
    f->seen++;
    if (n == wn && sodium_memcmp(txt, f->want, wn) == 0)
        f->found = true;
}

int portal_verify_dns(const char *resolver, const char *dom, const char *token, char *msg, size_t cap)
{
    struct sockaddr_in sa;
    uint8_t q[512], a[4096];
    char want[128];
    txt_find f = {want, false, 0};
    int fd = -1, rc = KS_ETIMEOUT;
    snprintf(want, sizeof want, "kensa-verify=%s", token);
    if (!resolver_addr(resolver, &sa)) {
        snprintf(msg, cap, "no usable DNS resolver (--resolver IP[:PORT])");
        return KS_EUSAGE;
    }
    if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(msg, cap, "cannot reach the DNS resolver: %s", strerror(errno));
        rc = KS_ENET;
        goto out;
    }
    for (int tries = 0; tries < DNS_TRIES && rc == KS_ETIMEOUT; tries++) {
        uint16_t id = (uint16_t)randombytes_uniform(65536);
        size_t qn = portal_dns_query(dom, id, q, sizeof q);
        if (!qn) {
            snprintf(msg, cap, "domain name does not fit a DNS query");
            rc = KS_EUSAGE;
            goto out;
        }
        if (send(fd, q, qn, 0) != (ssize_t)qn)
            continue;
        struct pollfd pfd = {fd, POLLIN, 0};
        while (poll(&pfd, 1, DNS_WAIT_MS) == 1) {
            ssize_t r = recv(fd, a, sizeof a, 0);
            if (r <= 0)
                break;
            int prc = portal_dns_parse(a, (size_t)r, id, on_txt, &f);
            if (prc == KS_EFORMAT && (r < 2 || be16(a) != id))
                continue; /* a late answer to an earlier try */
            if (r >= 3 && (a[2] & 0x02)) {
                snprintf(msg, cap, "the DNS answer was truncated (too many TXT records)");
                rc = KS_ELIMIT;
            } else {
                rc = prc;
            }
            break;
        }
    }
    if (rc == KS_OK && !f.found) {
        snprintf(msg, cap, "no TXT record \"kensa-verify=<token>\" with this claim's token on %s (%u TXT records seen)",
                 dom, f.seen);
        rc = KS_ENOTFOUND;
    } else if (rc == KS_ENOTFOUND) {
        snprintf(msg, cap, "%s does not exist in DNS", dom);
    } else if (rc == KS_ETIMEOUT) {
        snprintf(msg, cap, "the DNS resolver did not answer");
    } else if (rc != KS_OK && rc != KS_ELIMIT) {
        snprintf(msg, cap, "the DNS answer was unusable (%s)", ks_strerror(rc));
    }
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ---- HTTPS well-known file ---------------------------------------------------------- */

typedef struct body {
    char p[WELLKNOWN_MAX + 1];
    size_t n;
    bool over;
} body;

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    body *b = ud;
    size_t n = sz * nm;
    if (b->n + n > WELLKNOWN_MAX) {
        b->over = true;
        return 0; /* stops the transfer */
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return n;
}

int portal_verify_https(const portal_cfg *cfg, const char *dom, const char *token, char *msg, size_t cap)
{
    char url[512], cerr[CURL_ERROR_SIZE] = "";
    body *b = calloc(1, sizeof *b);
    struct curl_slist *ct = NULL;
    long code = 0;
    int rc = KS_OK;
    CURL *c = curl_easy_init();
    if (!b || !c) {
        snprintf(msg, cap, "out of memory");
        rc = KS_ENOMEM;
        goto out;
    }
    snprintf(url, sizeof url, "https://%s/.well-known/kensa-verify.txt", dom);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kensa-portal-verify/1");
    if (cfg->cainfo)
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->cainfo);
    if (cfg->connect_to) {
        ct = curl_slist_append(NULL, cfg->connect_to);
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, ct);
    }
    CURLcode cr = curl_easy_perform(c);
    if (cr != CURLE_OK && !b->over) {
        snprintf(msg, cap, "cannot fetch %s: %s", url, cerr[0] ? cerr : curl_easy_strerror(cr));
        rc = KS_ENET;
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (b->over) {
        snprintf(msg, cap, "%s is larger than %d bytes", url, WELLKNOWN_MAX);
        rc = KS_ELIMIT;
    } else if (code != 200) {
        snprintf(msg, cap, "%s answered HTTP %ld", url, code);
        rc = KS_ENOTFOUND;
    } else {
        /* the file holds the token on a line of its own (or kensa-verify=TOKEN) */
        b->p[b->n] = 0;
        bool found = false;
        for (char *l = b->p; l && *l && !found;) {
            char *e = strchr(l, '\n');
            size_t n = e ? (size_t)(e - l) : strlen(l);
            while (n && (l[n - 1] == '\r' || l[n - 1] == ' '))
                n--;
            if (n > 13 && !strncmp(l, "kensa-verify=", 13))
                l += 13, n -= 13;
            if (n == strlen(token) && sodium_memcmp(l, token, n) == 0)
                found = true;
            l = e ? e + 1 : NULL;
        }
        if (!found) {
            snprintf(msg, cap, "%s does not hold this claim's token", url);
            rc = KS_ENOTFOUND;
        }
    }
out:
    curl_slist_free_all(ct);
    if (c)
        curl_easy_cleanup(c);
    free(b);
    return rc;
}
