/* SPDX-License-Identifier: Apache-2.0
 *
 * Validators of the rules that find a secret by a key word before it
 * (password: x, token x, IDENTIFIED BY x, Authorization: Basic x) rather
 * than by its own format. A key word finds prose, code and file names as
 * often as credentials, so these validators read the shape of the value
 * and of its surroundings: a key word that is no key (a test-log line
 * "PASS: x", a file name before a colon, a setting about passwords), a
 * value that is words, a path, a link, a label, a variable or a
 * placeholder. Samples written for a reader ("p4ssw0rd", "some_password",
 * Basic user:password) are kept with the verdict KS_TV_EXAMPLE.
 *
 * Part of the text scanner's validators (textscan_valid.c holds the
 * table); each function follows ts_validate_fn.
 */
#include <ctype.h>
#include <string.h>
#include "detect/textscan_int.h"

/* ---- the shape of a value and of its key word ---------------------------------------------- */

/* Words, not a made-up secret: letters only, cut by - _ . / ' or at a
 * change of case into pieces of word length ("Document", "Multi-Arch",
 * "single-threaded", "SLang_load_object", "DHGenSharedSecret"). A piece
 * starts at a capital after a lower-case letter, or at the last capital
 * of a run followed by lower case ("DH|Gen"). A random string of letters
 * changes case every character or two, so its pieces are short. */
static bool wordish(const char *v, size_t n, size_t *npieces)
{
    size_t letters = 0, pieces = 0;
    bool in = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (isalpha(ch)) {
            bool up = isupper(ch) != 0;
            bool lower_before = in && islower((unsigned char)v[i - 1]);
            bool run_end = in && up && isupper((unsigned char)v[i - 1]) && i + 1 < n &&
                           islower((unsigned char)v[i + 1]);
            pieces += !in || (up && lower_before) || run_end;
            letters++;
            in = true;
        } else if (ch == '-' || ch == '_' || ch == '.' || ch == '/' || ch == '\'') {
            in = false;
        } else {
            return false;
        }
    }
    if (npieces)
        *npieces = pieces;
    /* pieces of 3.5 letters or more on average */
    return pieces && 2 * letters >= 7 * pieces;
}

/* A path, a link or a URL ("poppler/Form.cc", "/tmp/jdk/x.jtr",
 * "https://developer.mozilla.org/..."): where something is, not a secret.
 * Base64 has slashes but no dots, so a dotted extension after the last
 * slash tells a path. */
static bool path_like(const char *v, size_t n)
{
    /* a URL, a lookup table "hash:/etc/postfix/sasl_passwd" */
    if (memmem(v, n, ":/", 2))
        return true;
    /* a link to a part of a page ("directive-dict.html#Syntax") */
    const char *hash = memchr(v, '#', n);
    if (hash && hash - v > 5 && memmem(v, (size_t)(hash - v), ".htm", 4))
        return true;
    /* an absolute path of three parts or more ("/usr/share/i18n/SUPPORTED");
     * a base64 key starting with '/' would likely hold '+' or '=' */
    size_t slashes = 0;
    for (size_t i = 0; i < n; i++)
        slashes += v[i] == '/';
    if (v[0] == '/' && slashes >= 3 && !memchr(v, '+', n) && !memchr(v, '=', n))
        return true;
    const char *slash = memrchr(v, '/', n), *dot = memrchr(v, '.', n);
    if (!slash || !dot || dot < slash || v + n - dot - 1 < 1 || v + n - dot - 1 > 4)
        return false;
    for (const char *q = dot + 1; q < v + n; q++)
        if (!isalnum((unsigned char)*q))
            return false;
    return true;
}

/* An assignment inside the value ("Option=value", "/LoadCredential=/"):
 * '=' anywhere but as trailing base64 padding. */
static bool assignment_inside(const char *v, size_t n)
{
    const char *eq = memchr(v, '=', n);
    for (; eq && eq < v + n; eq++)
        if (*eq != '=')
            return true;
    return false;
}

/* The key word is part of a file name followed by a colon, as changelogs
 * and diff summaries write them: "update-passwd.8: Document ...",
 * "118_arm_pass_all.dpatch: Regenerated.", "sltoken.c:SLang_load_object". */
static bool filename_key(const ts_cand *c)
{
    const char *t = c->text;
    size_t i = c->ms, dot = 0;
    while (i < c->vs && (isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '-' || t[i] == '.')) {
        if (t[i] == '.')
            dot = i;
        i++;
    }
    if (!dot || i >= c->vs || t[i] != ':' || i - dot - 1 < 1 || i - dot - 1 > 10)
        return false;
    for (size_t k = dot + 1; k < i; k++)
        if (!isalnum((unsigned char)t[k]))
            return false;
    return true;
}

/* The key word ends a quoted path ("kadmin/passwd", "/etc/passwd", then
 * a comma and the next string): a file, not a key. "ID/PW: x" stays. */
static bool path_key(const ts_cand *c)
{
    const char *t = c->text;
    if (c->ms == 0 || (t[c->ms - 1] != '/' && t[c->ms - 1] != '\\'))
        return false;
    size_t k = c->ms;
    while (k < c->vs && (isalnum((unsigned char)t[k]) || t[k] == '_' || t[k] == '-'))
        k++;
    return k < c->vs && (t[k] == '"' || t[k] == '\'');
}

/* The key word is letters inside a run of base64 (a PGP armoured key, a
 * PEM certificate, a data: URL): "+pWxnmrE..." in a 64-column line is no
 * "pw" key. A run of 32 or more base64 characters mixing upper case, lower
 * case and digits or '+' '/' around the match; identifiers ("db_password")
 * break the run at '_'. */
static bool inside_base64(const ts_cand *c)
{
    const char *t = c->text;
#define B64(ch) (isalnum((unsigned char)(ch)) || (ch) == '+' || (ch) == '/')
    size_t lo = c->ms, hi = c->ms;
    while (lo > 0 && c->ms - lo < 128 && B64(t[lo - 1]))
        lo--;
    while (hi < c->n && hi - c->ms < 128 && B64(t[hi]))
        hi++;
#undef B64
    if (hi - lo < 32)
        return false;
    unsigned m = 0;
    for (size_t i = lo; i < hi; i++) {
        unsigned char ch = (unsigned char)t[i];
        m |= islower(ch) ? 1u : isupper(ch) ? 2u : 4u;
    }
    return m == 7;
}

/* Result words of automake, DejaGnu and TAP-like test logs. */
static const char *const result_words[] = {"PASS", "FAIL", "XFAIL", "XPASS", "KFAIL", "KPASS",
                                           "UNSUPPORTED", "UNTESTED", "UNRESOLVED", "ERROR",
                                           "SKIP"};

/* True when the line starting at s begins with a result word and ':'. */
static bool result_line(const char *t, size_t s, size_t e)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(result_words); i++) {
        size_t wl = strlen(result_words[i]);
        if (e - s > wl && memcmp(t + s, result_words[i], wl) == 0 && t[s + wl] == ':')
            return true;
    }
    return false;
}

/* "PASS: addr2line -f option" at the start of a line, followed by more
 * words or with other result lines within a kilobyte: a line of a test
 * log, not a password key. A lone "PASS: x" line stays a key. */
static bool test_result(const ts_cand *c)
{
    const char *t = c->text;
    size_t s = c->ms;
    if (c->n - s < 5 || memcmp(t + s, "PASS:", 5) != 0)
        return false;
    size_t bol = s;
    while (bol > 0 && (t[bol - 1] == ' ' || t[bol - 1] == '\t'))
        bol--;
    if (bol > 0 && t[bol - 1] != '\n' && t[bol - 1] != '\r')
        return false;
    /* more words after the value on its line */
    size_t k = c->ve;
    while (k < c->n && (t[k] == ' ' || t[k] == '\t'))
        k++;
    if (k > c->ve && k < c->n && t[k] != '\n' && t[k] != '\r')
        return true;
    /* another result line nearby */
    size_t lo = bol > 1024 ? bol - 1024 : 0, hi = KS_MIN(c->n, s + 1024);
    for (size_t i = lo; i < hi; i++)
        if ((i == 0 || t[i - 1] == '\n') && i != bol && result_line(t, i, hi))
            return true;
    return false;
}

/* The value opens with a quote: a literal, not prose. */
static bool value_quoted(const ts_cand *c)
{
    return c->vs > 0 && (c->text[c->vs - 1] == '"' || c->text[c->vs - 1] == '\'');
}

/* How the value is tied to its key word, read back from the value. */
enum sep_kind { SEP_OTHER, SEP_ASSIGN, SEP_DECLARE, SEP_COLON, SEP_LIST };

static enum sep_kind separator(const ts_cand *c)
{
    const char *t = c->text;
    size_t k = c->vs;
    while (k > c->ms && (isspace((unsigned char)t[k - 1]) || t[k - 1] == '"' || t[k - 1] == '\''))
        k--;
    if (k == c->ms)
        return SEP_OTHER;
    char p = t[k - 1], pp = k >= 2 ? t[k - 2] : 0;
    if (p == '=' && pp == ':')
        return SEP_DECLARE; /* Pascal / Go ":=": the value is an expression */
    if (p == '=' || (p == '>' && pp == '='))
        return SEP_ASSIGN;
    if (p == ':' || (k >= 3 && !memcmp(t + k - 3, "\xef\xbc\x9a", 3)))
        return SEP_COLON;
    if (p == ',')
        return SEP_LIST;
    return SEP_OTHER; /* "is", a space */
}

/* ---- passwords and generic tokens ------------------------------------------------------------ */

static const char *const placeholder_words[] = {
    "password", "passwd", "secret", "token", "null", "none", "nil", "true", "false",
    "undefined", "required", "optional", "string", "empty", "value", "your", "enter",
    "example", "sample", "dummy", "placeholder", "redacted", "hidden", "masked", "xxxx",
    "****", "....", "changeit!", "todo", "fixme", "must", "should", "will", "is", "the",
    "and", "for", "with", "from", "this", "that", "here", "there", "not", "reset", "field",
    "input", "type", "length", "characters", "policy", "expired", "incorrect", "invalid",
    "hash", "salt", "encrypted", "param", "parameter", "variable", "config", "settings",
    "bytes", "char", "int", "bool", "get", "set", "len", "user", "username", "login",
    "expire", "history", "interval", "reuse", "lock", "unlock", "default", "changeme?",
    /* the key word in other languages, typed as its own value */
    "mot-de-passe", "motdepasse", "passwort", "kennwort", "senha", "contrasena",
};

/* True for values that are not credentials but names of them, variables,
 * templates, masks or code. */
static bool placeholder(const char *v, size_t n)
{
    if (n < 4)
        return true;
    char c0 = v[0], cl = v[n - 1];
    /* ':' is left of a C++ scope ("pass_x::f") */
    if (c0 == '$' || c0 == '%' || c0 == '{' || c0 == '<' || c0 == '[' || c0 == '(' ||
        c0 == '@' || c0 == ':' || cl == ')' || cl == '(' || cl == '>' || cl == '}' || cl == ']')
        return true;
    /* a shell substitution ("`pwd`") */
    const char *bq = memchr(v, '`', n);
    if (bq && memchr(bq + 1, '`', (size_t)(v + n - bq - 1)))
        return true;
    /* a call, a template, a member, a scope, ".$x" (PHP / Perl
     * concatenation of a variable: "'.$word.'"): one pass, not a memmem
     * each */
    for (size_t i = 0; i < n; i++) {
        char a = v[i], b = i + 1 < n ? v[i + 1] : 0;
        if (a == '(' || (a == '{' && b == '{') || (a == '$' && b == '{') || (a == '-' && b == '>') ||
            (a == ':' && b == ':') || (a == '.' && b == '$'))
            return true;
    }
    size_t same = 1;
    for (size_t i = 1; i < n; i++)
        same += v[i] == v[0];
    if (same == n)
        return true;
    char f = (char)tolower((unsigned char)v[0]);
    for (size_t i = 0; i < KS_ARRAY_LEN(placeholder_words); i++) {
        const char *w = placeholder_words[i]; /* lower case: the first byte first */
        if ((w[0] == v[0] || w[0] == f) && strlen(w) == n && ks__ieq(v, n, w, n))
            return true;
    }
    if (ks__memmem_ci(v, n, "xxxx", 4) || memmem(v, n, "****", 4) || memmem(v, n, "\xe2\x80\xa2", 3))
        return true;
    /* a dotted identifier (config.password, os.environ) or a call chain */
    unsigned cls = ks__ts_char_classes(v, n);
    if ((cls & 8) && !(cls & 4)) {
        bool ident = true;
        for (size_t i = 0; i < n && ident; i++)
            ident = isalnum((unsigned char)v[i]) || v[i] == '_' || v[i] == '.';
        if (ident && memchr(v, '.', n))
            return true;
    }
    return false;
}

/* Prose goes on after the value: a space, then a word on the same line
 * ("Document that backup copies ...", "single-threaded, this is ...");
 * a configuration line ends, or goes on with a separator or a comment. */
static bool prose_follows(const ts_cand *c)
{
    const char *t = c->text;
    size_t k = c->ve;
    if (k < c->n && (t[k] == '.' || t[k] == ',' || t[k] == ';'))
        k++;
    size_t sp = k;
    while (k < c->n && (t[k] == ' ' || t[k] == '\t'))
        k++;
    return k > sp && k < c->n && isalpha((unsigned char)t[k]);
}

/* What every key-word rule refuses besides placeholders: a heading or
 * label ("Copyright:", "Multi-Arch:"), a path, key words that are not keys
 * (test results, file names before a colon, a path component
 * "kadmin/passwd"), and words. A token is never words
 * ("ConcurrentInitializer", "SLang_load_object"); a password may be
 * ("open_sesame", "Pwd=myPassword;"), so with `password` set unquoted
 * words stay only after '=' at the end of an assignment, not after ':' or
 * "is" nor with prose going on ("passwd.8: Document that ...", "a password
 * is GNUTLS_E_DECRYPTION_FAILED"). One long run of letters in one case may
 * be a pass phrase or a random token. */
static bool not_a_value(const ts_cand *c, const char *v, size_t n, bool password)
{
    if (v[n - 1] == ':' || path_like(v, n) || test_result(c) || filename_key(c) || inside_base64(c))
        return true;
    if (path_key(c))
        return true;
    size_t pieces = 0;
    if (!wordish(v, n, &pieces))
        return false;
    if (v[0] == '/' || v[0] == '~') /* "/home/user/benchmark/" */
        return true;
    if (pieces == 1 && n >= 16)
        return false;
    if (!password)
        return true;
    bool quoted = value_quoted(c);
    return !quoted && (separator(c) != SEP_ASSIGN || prose_follows(c));
}

/* Cuts what is around a value rather than in it: a no-break space (two
 * words, "Section\u00a04.6.4"), a string escape ("pass:sample\n" in JSON),
 * trailing punctuation of prose ("password: hunter2.") and the backtick
 * closing a code span ("`password=secr3t`"). */
/* Typographic quotes around a value: word processors and mail clients
 * turn "x" into “x” (Outlook, Word), „x“ (German), «x», 「x」. Length of
 * the opening quote at v, or of a closing one ending at v + n; 0 if none. */
static size_t typo_quote(const char *v, size_t n, bool closing)
{
    static const char *const open[] = {"\xe2\x80\x9c", "\xe2\x80\x98", "\xe2\x80\x9e", "\xe2\x80\x9a",
                                       "\xc2\xab", "\xe3\x80\x8c", "\xe3\x80\x8e"};
    static const char *const close[] = {"\xe2\x80\x9d", "\xe2\x80\x99", "\xe2\x80\x9c", "\xe2\x80\x98",
                                        "\xc2\xbb", "\xe3\x80\x8d", "\xe3\x80\x8f"};
    const char *const *q = closing ? close : open;
    for (size_t i = 0; i < KS_ARRAY_LEN(open); i++) {
        size_t l = strlen(q[i]);
        if (n > l && !memcmp(closing ? v + n - l : v, q[i], l))
            return l;
    }
    return 0;
}

/* A value in a URL (its password, a query parameter) percent-encoded
 * ("Pq7%40x%21" for "Pq7@x!"): the password is what the URL encodes, so
 * its secret_sha256 matches the inventory's and the same password found
 * plainly elsewhere. */
static void percent_decoded(ts_cand *c, const char *v, size_t n)
{
    if (!memchr(v, '%', n))
        return;
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < sizeof c->norm; i++) {
        int hi = i + 2 < n && v[i] == '%' ? ks__hexval((unsigned char)v[i + 1]) : -1;
        int lo = hi >= 0 ? ks__hexval((unsigned char)v[i + 2]) : -1;
        if (lo >= 0) {
            c->norm[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            c->norm[o++] = v[i];
        }
    }
    c->norm[o] = 0;
    c->nnorm = o;
}

static void trim_value(ts_cand *c)
{
    const char *v = c->text + c->vs;
    size_t n = c->ve - c->vs;
    if (n == 0)
        return;
    size_t q = typo_quote(v, n, false);
    if (q) {
        c->vs += q;
        v += q;
        n -= q;
        while (n > 0 && (v[n - 1] == '.' || v[n - 1] == ',' || v[n - 1] == ';'))
            n--;
        n -= typo_quote(v, n, true);
    }
    const char *nbsp = memmem(v, n, "\xc2\xa0", 2);
    if (nbsp)
        n = (size_t)(nbsp - v);
    /* an escaped line break or tab ends an unquoted value: the text is a
     * JSON string or an iCalendar field ("staging db\npassword:
     * Kq7!x\nuser: app", a chat message in an export) and what follows
     * is the next line */
    for (size_t i = 1; i + 1 < n; i++)
        if (v[i] == '\\' && strchr("nrt", v[i + 1]) && !value_quoted(c)) {
            n = i;
            break;
        }
    if (n > 2 && v[n - 2] == '\\' && strchr("nrt", v[n - 1]))
        n -= 2;
    /* a URL's query parameter (jdbc:mysql://db/shop?user=x&password=y&useSSL=true):
     * the next parameter is no part of it */
    if (c->ms > 0 && (c->text[c->ms - 1] == '?' || c->text[c->ms - 1] == '&') && !value_quoted(c)) {
        const char *amp = memchr(v, '&', n);
        if (amp)
            n = (size_t)(amp - v);
    }
    while (n > 0 && (v[n - 1] == '.' || v[n - 1] == ',' || v[n - 1] == ';'))
        n--;
    /* a closing backtick without an opening one in the value */
    if (n > 1 && v[n - 1] == '`' && !memchr(v, '`', n - 1))
        n--;
    /* an opening backtick of TeX-style quotes ("`xxj31ZMTZzkVA'") */
    if (n > 1 && v[0] == '`' && c->vs + n < c->n && v[n] == '\'') {
        c->vs++;
        n--;
    }
    c->ve = c->vs + n;
}

/* The key names a property of passwords, not one: "password_encryption =
 * scram-sha-256", "smtp_sasl_password_maps", "passwordLabel". Read in the
 * key's tail after the key word. */
static bool property_key(const ts_cand *c)
{
    static const char *const props[] = {"encrypt", "map", "file", "path", "length", "policy",
                                        "expir", "reset", "type", "algo", "format", "prompt",
                                        "field", "label", "regex", "pattern", "rule", "check",
                                        "command", "helper", "hint", "strength", "require",
                                        "enable", "history", "scheme", "method", "mode",
                                        "manager", "provider", "plugin", "backend"};
    const char *t = c->text;
    size_t k = c->ms;
    while (k < c->vs && (isalnum((unsigned char)t[k]) || t[k] == '_' || t[k] == '-' || t[k] == '.'))
        k++;
    /* past the shortest key word ("pw"): the tail and a little of the word */
    if (k - c->ms <= 4)
        return false;
    for (size_t i = 0; i < KS_ARRAY_LEN(props); i++)
        if (ks__memmem_ci(t + c->ms + 2, k - c->ms - 2, props[i], strlen(props[i])))
            return true;
    return false;
}

/* A value spelt like "password" in digits and symbols. */
static bool leet_sample(const char *v, size_t n)
{
    static const char *const words[] = {"password", "passwd", "secret", "passw0rd"};
    char low[16];
    if (n >= sizeof low)
        return false;
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        const char *from = "43@0!1$57", *to = "aeaoiisst";
        const char *f = strchr(from, v[i]);
        low[i] = f && v[i] ? to[f - from] : (char)tolower((unsigned char)v[i]);
        changed |= f && v[i];
    }
    for (size_t i = 0; changed && i < KS_ARRAY_LEN(words); i++)
        if (strlen(words[i]) == n && memcmp(low, words[i], n) == 0)
            return true;
    return false;
}

/* Words in any script: letters (ASCII or not) and spaces for nearly all
 * of it, with a space ("Password for authentication", "您不能在本wiki上更
 * 改密码", "Heslo pre autentifikáciu"), or a word written wholly outside
 * ASCII ("Κωδικός"): a message catalogue's text, a label, prose. After
 * '=' two words stay (a pass phrase, "open sesame"); three words or more
 * are refused there too ("correct horse battery staple" with them: the
 * price of translation files that name the key word in every language). */
static bool prose_value(const char *v, size_t n, bool assigned)
{
    size_t words = 0, spaces = 0, high = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        spaces += ch == ' ';
        high += ch >= 0x80;
        words += isalpha(ch) || ch >= 0x80 || ch == ' ';
    }
    if (2 * high >= n) /* mostly another script: "无效的wiki管理员密码：$1" */
        return true;
    /* assigned ("password = 'open sesame'"), two words may be a pass
     * phrase; a sentence is a message ($lang['password'] = '...') */
    return spaces >= (assigned ? 2u : 1u) && 100 * words >= 85 * n;
}

/* Every part of v between sep is a word ("Basic|Digest"). */
static bool wordish_parts(const char *v, size_t n, char sep)
{
    for (size_t b = 0; b < n;) {
        const char *e = memchr(v + b, sep, n - b);
        size_t l = e ? (size_t)(e - v) - b : n - b;
        if (!l || !wordish(v + b, l, NULL))
            return false;
        b += l + 1;
    }
    return true;
}

/* A compound key ("addPassword", "PGPASSWORD": letters before the key
 * word) whose value is a name made from the key: a selector or label
 * ("this.addPassword = '#add-password'"), a debugger's argument
 * ("ownerPassword=ownerPassword@entry=0x1165830"). Letters compared alone,
 * case ignored. */
static bool value_names_key(const ts_cand *c, const char *v, size_t n)
{
    const char *t = c->text;
    size_t ks = c->ms, ke = c->ms;
    while (ks > 0 && (isalnum((unsigned char)t[ks - 1]) || t[ks - 1] == '_'))
        ks--;
    if (ks == c->ms)
        return false;
    while (ke < c->vs && (isalnum((unsigned char)t[ke]) || t[ke] == '_'))
        ke++;
    size_t i = 0;
    for (size_t k = ks; k < ke; k++) {
        if (!isalpha((unsigned char)t[k]))
            continue;
        while (i < n && !isalpha((unsigned char)v[i]))
            i++;
        if (i == n || tolower((unsigned char)v[i]) != tolower((unsigned char)t[k]))
            return false;
        i++;
    }
    return true;
}

/* What a password rule refuses beyond not_a_value(). */
static bool not_a_password(const ts_cand *c, const char *v, size_t n)
{
    const char *t = c->text;
    bool quoted = value_quoted(c);
    enum sep_kind sep = separator(c);
    /* ":=" assigns an expression ("Password := dbpassword;"), a literal is quoted */
    if (!quoted && sep == SEP_DECLARE)
        return true;
    if (property_key(c))
        return true;
    /* the value is the key of the next line's assignment: the key had none
     * ("lmtp_sasl_password_maps =\nlmtp_sasl_path =") */
    size_t k = c->ve;
    while (k < c->n && (t[k] == ' ' || t[k] == '\t'))
        k++;
    if (k + 1 < c->n && t[k] == '=' && t[k + 1] != '=')
        return true;
    if (value_names_key(c, v, n))
        return true;
    /* an assignment with nothing after '=' ("REDIS_PASSWORD=\nLOG_LEVEL=info"):
     * the next line is another setting, not its value */
    if (sep == SEP_ASSIGN && memchr(t + c->ms, '\n', c->vs - c->ms))
        return true;
    /* a quoted phrase about the password ("and his password", "Password
     * used to generate key"), text between two quoted things (" and "),
     * options ("compress-algo=1, cipher-algo=aes256"), the name of a field
     * or variable ("formatted-passphrase-tt" in a list,
     * "msn_plaintext_password", "some_password") */
    bool names_key = ks__memmem_ci(v, n, "pass", 4) || ks__memmem_ci(v, n, "secret", 6);
    bool space = memchr(v, ' ', n) != NULL;
    size_t pieces = 0;
    bool words = wordish(v, n, &pieces);
    if (v[0] == ' ' || v[n - 1] == ' ' || (space && (names_key || memchr(v, '=', n))) || prose_value(v, n, sep == SEP_ASSIGN))
        return true;
    /* text with an escaped line break in it ("now.\nYour"), a style rule
     * ("button.button{background:0"), alternatives ("Basic|Digest") */
    if (memmem(v, n, "\\n", 2) || (memchr(v, '{', n) && memchr(v, ':', n)) ||
        (memchr(v, '|', n) && wordish_parts(v, n, '|')))
        return true;
    return names_key && words && (sep == SEP_LIST || pieces >= 3);
}

/* A sample written for a reader: "password" in digits and symbols
 * ("p4ssw0rd", "secr3t", "P@ssw0rd") or a filler before the key word
 * ("some_password", "YOURPASSWORD", the templates' "myPassword").
 * Kept, labelled as an example. */
static bool sample_value(const char *v, size_t n)
{
    static const char *const filler[] = {"some", "your", "the", "new", "old", "my"};
    if (leet_sample(v, n))
        return true;
    if (!(ks__memmem_ci(v, n, "pass", 4) || ks__memmem_ci(v, n, "secret", 6)) || !wordish(v, n, NULL))
        return false;
    for (size_t i = 0; i < KS_ARRAY_LEN(filler); i++) {
        size_t fl = strlen(filler[i]);
        if (n > fl && ks__ieq(v, fl, filler[i], fl))
            return true;
    }
    return false;
}

/* In program source (KS_TC_CODE) a literal is quoted: an unquoted value
 * made of names, member access and subscripts ("passphrase",
 * "self._socks_options[", "Union[bytes", "config.password") is a variable,
 * a parameter or a type annotation. A number stays (password = 123456).
 * And the bare key word "pass" or "pw" followed by a list of quoted words
 * is a keyword table ("'pass', 'PAUSE'"), not a key and its value.
 * Comments are prose and keep the ordinary rules. */
static bool in_comment(const ts_cand *c)
{
    const char *t = c->text;
    const char *nl = c->ms ? memrchr(t, '\n', c->ms) : NULL;
    size_t b = nl ? (size_t)(nl - t) + 1 : 0;
    while (b < c->ms && (t[b] == ' ' || t[b] == '\t'))
        b++;
    /* a comment line of C blocks, shell-likes (not C's "#define"), Lisp */
    if (b < c->ms && (t[b] == '*' || t[b] == ';' || (t[b] == '#' && !isalpha((unsigned char)t[b + 1]))))
        return true;
    for (size_t i = b; i + 1 < c->ms; i++)
        if ((t[i] == '/' && (t[i + 1] == '/' || t[i + 1] == '*')) || (t[i] == '#' && t[i + 1] == ' ') ||
            (t[i] == '-' && t[i + 1] == '-' && i == b))
            return true;
    return false;
}

static bool code_reference(const ts_cand *c, const char *v, size_t n)
{
    /* a comment is prose: "# password: Hunter2x" there is a literal */
    if (!c->code || in_comment(c))
        return false;
    if (value_quoted(c)) {
        size_t k = c->ms;
        while (k < c->vs && isalpha((unsigned char)c->text[k]))
            k++;
        size_t kw = k - c->ms;
        return separator(c) == SEP_LIST && kw <= 4 && kw >= 2;
    }
    /* a pointer or an address ("*SRP_user_pwd_new", "&OutFile"), a
     * number in hex ("0x20000000L") */
    while (n > 1 && (v[0] == '*' || v[0] == '&'))
        v++, n--;
    if (n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
        return true;
    bool letter = false, access = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (!isalnum(ch) && ch != '_' && ch != '.' && ch != '[' && ch != ']')
            return false;
        letter |= isalpha(ch) || ch == '_';
        access |= ch == '.' || ch == '[' || ch == '_';
    }
    /* a name is words or snake_case (key_password, saved_hooks,
     * passphrase2, crypto_pwhash_argon2id_MAX); a made-up
     * "F1lT3ReDw17hQoT3s" is neither, and is a literal (a YAML block
     * inside a Python string, a here-document) */
    size_t w = n;
    while (w > 1 && isdigit((unsigned char)v[w - 1]))
        w--;
    return letter && (access || wordish(v, w, NULL));
}

bool ks__ts_code_name(const char *name)
{
    static const char *const exts[] = {"c", "h", "cc", "cpp", "cxx", "hpp", "hh", "cs", "java", "kt",
                                       "kts", "scala", "go", "rs", "py", "pyw", "pyi", "rb", "php",
                                       "js", "mjs", "cjs", "ts", "tsx", "jsx", "swift", "m", "mm",
                                       "pl", "pm", "lua", "tcl", "r", "dart", "groovy", "vb", "fs"};
    const char *slash = name ? strrchr(name, '/') : NULL;
    const char *dot = name ? strrchr(slash ? slash : name, '.') : NULL;
    if (!dot || !dot[1])
        return false;
    size_t n = strlen(dot + 1);
    for (size_t i = 0; i < KS_ARRAY_LEN(exts); i++)
        if (strlen(exts[i]) == n && ks__ieq(dot + 1, n, exts[i], n))
            return true;
    return false;
}

bool ks__tsv_password(ts_cand *c)
{
    trim_value(c);
    const char *v = c->text + c->vs;
    size_t n = c->ve - c->vs;
    /* longer than people type: an encrypted or hashed blob (sealed secrets) */
    if (placeholder(v, n) || n > 64 || not_a_value(c, v, n, true) || not_a_password(c, v, n) ||
        code_reference(c, v, n))
        return false;
    if (sample_value(v, n))
        c->valid = KS_TV_EXAMPLE;
    if (c->ms > 0 && (c->text[c->ms - 1] == '?' || c->text[c->ms - 1] == '&'))
        percent_decoded(c, v, n);
    unsigned cls = ks__ts_char_classes(v, n);
    /* one plain lower-case word is more often prose than a password */
    if (cls == 1 && n < 10)
        c->confidence -= 30;
    if (__builtin_popcount(cls) >= 3)
        c->confidence += 10;
    return true;
}

/* A .pgpass line's last field: the format says it is the password, so
 * the key-word heuristics (a file name or a path before a colon) do not
 * apply; placeholders and samples still do. */
bool ks__tsv_pgpass(ts_cand *c)
{
    const char *v = c->text + c->vs;
    size_t n = c->ve - c->vs;
    if (placeholder(v, n))
        return false;
    if (sample_value(v, n))
        c->valid = KS_TV_EXAMPLE;
    return true;
}

/* Character classes of a made-up value: lower, upper, digit, and symbols
 * other than the punctuation of names, paths and assignments (- _ . / : =)
 * and other than non-ASCII bytes (an accented word is still a word). */
static unsigned strong_classes(const char *v, size_t n)
{
    unsigned m = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch >= 0x80 || strchr("-_./:=", ch))
            continue;
        m |= islower(ch) ? 1u : isupper(ch) ? 2u : isdigit(ch) ? 4u : 8u;
    }
    return m;
}

/* A password after a bare space has no separator to vouch for it: only a
 * value that looks made up counts: three character classes, not counting
 * the punctuation of names ("int32_t", "poppler/Form.cc"), or hex digits,
 * or letters and digits alternating; and not an assignment ("Option=value":
 * '=' only as base64 padding). */
bool ks__tsv_password_strong(ts_cand *c)
{
    if (!ks__tsv_password(c))
        return false;
    const char *v = c->text + c->vs;
    size_t n = c->ve - c->vs;
    if (assignment_inside(v, n))
        return false;
    /* hex digits, maybe in groups (a UUID, a digest, "abcdef.0123456789abcdef"),
     * or letters and digits alternating as only a generator writes them
     * ("sgp_fd1b4edb60bf82b8_...", unlike "int32_t" or "FTS3_TOKENIZER") */
    size_t hex = 0, flips = 0;
    bool letter = false, digit = false, hexonly = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        hexonly &= isxdigit(ch) || ch == '-' || ch == '.';
        hex += isxdigit(ch) != 0;
        letter |= isalpha(ch) != 0;
        digit |= isdigit(ch) != 0;
        flips += i > 0 && isalnum(ch) && isalnum((unsigned char)v[i - 1]) &&
                 !isdigit(ch) != !isdigit((unsigned char)v[i - 1]);
    }
    /* but a number written in hex ("0x0dead1beef7cafe2") is a constant */
    if (n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X') && hex == n - 1)
        return false;
    if ((hexonly && hex >= 16 && letter && digit) || (n >= 16 && flips >= 4))
        return true;
    return n >= 6 && __builtin_popcount(strong_classes(v, n)) >= 3;
}

bool ks__tsv_url_password(ts_cand *c)
{
    const char *v = c->text + c->vs;
    size_t n = c->ve - c->vs;
    if (n < 3 || placeholder(v, n) || ks__memmem_ci(v, n, "pass", 4))
        return false;
    /* user:port@ is not a password */
    bool digits = true;
    for (size_t i = 0; i < n && digits; i++)
        digits = isdigit((unsigned char)v[i]);
    if (digits && n <= 5)
        return false;
    const char *at = memchr(c->text + c->ve, '@', KS_MIN(c->n - c->ve, (size_t)2));
    if (at) {
        const char *h = at + 1;
        size_t hl = 0;
        while (h + hl < c->text + c->n && (isalnum((unsigned char)h[hl]) || h[hl] == '.' || h[hl] == '-') &&
               hl < 120)
            hl++;
        if (hl)
            ks__ts_detail(c, "url.host", "%.*s", (int)hl, h);
    }
    percent_decoded(c, v, n);
    return true;
}

/* The key names the identifier of a key, not the key: "private_key_id",
 * "secretId", "token-id", "KEY.ID" (a service-account file's key id, a
 * vault's secret id are looked up with, not used as, credentials). */
static bool key_names_id(const ts_cand *c)
{
    const char *t = c->text;
    size_t k = c->ms;
    while (k < c->vs && (isalnum((unsigned char)t[k]) || t[k] == '_' || t[k] == '-' || t[k] == '.'))
        k++;
    if (k - c->ms < 4)
        return false;
    const char *e = t + k;
    if ((e[-2] | 0x20) != 'i' || (e[-1] | 0x20) != 'd')
        return false;
    char before = e[-3];
    return before == '_' || before == '-' || before == '.' ||
           (e[-2] == 'I' && e[-1] == 'd' && islower((unsigned char)before));
}

bool ks__tsv_generic(ts_cand *c)
{
    const char *v = c->text + c->vs;
    size_t n = c->ve - c->vs;
    if (placeholder(v, n) || key_names_id(c))
        return false;
    unsigned cls = ks__ts_char_classes(v, n);
    /* a token mixes classes; an all-letters word or all-digits number is
     * an identifier or a value of something else */
    if (__builtin_popcount(cls & 7) < 2 || not_a_value(c, v, n, false) ||
        assignment_inside(v, n))
        return false;
    /* UUIDs are ids far more often than secrets */
    if (n == 36 && v[8] == '-' && v[13] == '-' && v[18] == '-' && v[23] == '-')
        c->confidence -= 20;
    return true;
}

/* True when a word of words[] (lower case) stands whole in t[lo, hi). */
static bool word_in(const char *t, size_t lo, size_t hi, const char *const *words, size_t nw)
{
    for (size_t w = 0; w < nw; w++) {
        size_t wl = strlen(words[w]);
        for (const char *m = t + lo; (m = ks__memmem_ci(m, (size_t)(t + hi - m), words[w], wl));
             m++)
            if ((m == t || !isalnum((unsigned char)m[-1])) && (m + wl == t + hi || !isalnum((unsigned char)m[wl])))
                return true;
    }
    return false;
}

/* An unquoted "IDENTIFIED BY x" sets a password only inside an SQL
 * statement that names an account: CREATE/ALTER USER, ROLE or LOGIN,
 * GRANT ... TO; "Problem identified by Eric Blake" is prose. A quoted value
 * is a literal either way. The statement starts after the last ';', blank
 * line or sentence end, at most 300 bytes back. */
bool ks__tsv_sql_password(ts_cand *c)
{
    static const char *const verbs[] = {"create", "alter", "grant"};
    static const char *const objects[] = {"user", "role", "login", "to"};
    const char *t = c->text;
    size_t lo = c->ms > 300 ? c->ms - 300 : 0, i = c->ms;
    while (i > lo && t[i - 1] != ';' && !(t[i - 1] == '\n' && i >= 2 && t[i - 2] == '\n') &&
           !(isspace((unsigned char)t[i - 1]) && i >= 2 && t[i - 2] == '.'))
        i--;
    bool quoted = value_quoted(c);
    if (!quoted && !(word_in(t, i, c->ms, verbs, KS_ARRAY_LEN(verbs)) &&
                     word_in(t, i, c->ms, objects, KS_ARRAY_LEN(objects))))
        return false;
    return ks__tsv_password(c);
}

/* An Authorization value. "Basic" carries base64 of user:password, so a
 * value that does not decode to that is a word after "basic" in prose
 * ("a very basic ConcurrentInitializer"); user:password with a placeholder
 * password is a documented example. */
/* The secret inside base64 that its format says is "user:password" (an
 * HTTP Basic credential, docker's config.json "auth", .npmrc's _auth) or,
 * with bare, the password alone (.npmrc's _password): the password a
 * responder holds is the decoded one, so it is what secret_sha256 is of;
 * the value's span stays the base64 as written, and `decoded: base64`
 * says so. False when the base64 spells no such text. */
static bool b64_secret(ts_cand *c, bool bare)
{
    uint8_t dec[256];
    /* these formats write padded base64: a word that happens to be made of
     * base64 letters ("_password = admin" in code) is none */
    if ((c->ve - c->vs) % 4)
        return false;
    long dn = ks__ts_b64_decode(c->text + c->vs, c->ve - c->vs, dec, sizeof dec);
    if (dn <= 0 || !ks__utf8_valid((const char *)dec, (size_t)dn))
        return false;
    for (long i = 0; i < dn; i++)
        if (dec[i] < 0x20 || dec[i] == 0x7f)
            return false;
    const char *pw = (const char *)dec;
    if (!bare) {
        const char *colon = memchr(dec, ':', (size_t)dn);
        if (!colon)
            return false;
        pw = colon + 1;
    }
    size_t pn = (size_t)((const char *)dec + dn - pw);
    if (!pn || pn >= sizeof c->norm)
        return false;
    if (placeholder(pw, pn) || ks__ts_is_example(pw, pn))
        c->valid = KS_TV_EXAMPLE;
    memcpy(c->norm, pw, pn);
    c->nnorm = pn;
    c->type = "password";
    if (c->delivering)
        ks__ts_detail(c, "decoded", "base64");
    return true;
}

bool ks__tsv_basic_auth(ts_cand *c) { return b64_secret(c, false); }
bool ks__tsv_b64_password(ts_cand *c) { return b64_secret(c, true); }

bool ks__tsv_bearer(ts_cand *c)
{
    if (!ks__tsv_generic(c))
        return false;
    const char *t = c->text;
    size_t k = c->vs;
    while (k > c->ms && isspace((unsigned char)t[k - 1]))
        k--;
    if (k - c->ms < 5 || !ks__ieq(t + k - 5, 5, "basic", 5))
        return true;
    return b64_secret(c, false);
}

