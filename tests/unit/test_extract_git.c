/* SPDX-License-Identifier: Apache-2.0
 * Git history as evidence: a repository made by the generator (a token
 * committed, then deleted) is found by the walker, its history read once
 * per blob, and the deleted secret reaches the file detectors (YARA here)
 * with the first commit and path; .git internals are not walked; a bare
 * clone works too; extract.git_history=false turns it off. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "gen_docs.h"

static const char *token = "ghp_TestTokenOnlyInHistory0123456789ab";

static char *scan(const char *args)
{
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/kensa scan --no-builtin -q %s 2>&1", ks_test_build(), args);
    ks_test_run(cmd, &out);
    return out;
}

TEST(deleted_secret_found_in_history)
{
    char repo[512], rule[600], args[1600];
    snprintf(repo, sizeof repo, "%s/work/service", ks_test_tmpdir());
    CHECK_INT(gen_git_history(repo, token), 0);
    /* A working-tree file with no secret, to see it is still walked. */
    char wt[600];
    snprintf(wt, sizeof wt, "%s/app.py", repo);
    FILE *fp = fopen(wt, "w");
    fputs("print('hello')\n", fp);
    fclose(fp);
    const char *yar = "rule history_token { strings: $a = \"API_TOKEN=ghp_TestTokenOnlyInHistory\" condition: $a }\n"
                      "rule any_app { strings: $a = \"print('hello')\" condition: $a }\n"
                      "rule git_internals { strings: $a = \"[core]\" condition: $a }\n";
    snprintf(rule, sizeof rule, "%s", ks_test_write("h.yar", yar, strlen(yar)));
    snprintf(args, sizeof args, "--yara %s --json - %s/work", rule, ks_test_tmpdir());
    char *out = scan(args);
    CHECK(out && strstr(out, "\"rule_id\":\"yara:history_token\""));
    /* the first commit (5fade6001ba2 is fixed: fixed author, time, content) */
    CHECK(out && strstr(out, "/work/service!"));
    CHECK(out && strstr(out, ":config.env\""));
    /* app.py: once from history (first commit), once from the working tree */
    CHECK(out && strstr(out, "/work/service/app.py\""));
    CHECK(out && strstr(out, ":app.py\""));
    /* .git/config holds "[core]": not walked */
    CHECK(out && !strstr(out, "git_internals"));
    /* each blob once: app.py's blob is in all three commits, reported once from history */
    int n = 0;
    for (const char *p = out; p && (p = strstr(p, ":app.py\"")); p++)
        n++;
    CHECK_INT(n, 1);
    free(out);
    /* Off: no history, and .git walked as plain files again. */
    snprintf(args, sizeof args, "--yara %s --json - --no-git-history %s/work", rule, ks_test_tmpdir());
    out = scan(args);
    CHECK(out && !strstr(out, "history_token"));
    CHECK(out && strstr(out, "/work/service/app.py\"")); /* the run did happen */
    free(out);
}

TEST(bare_repository)
{
    char repo[512], bare[512], cmd[1400], args[1400];
    snprintf(repo, sizeof repo, "%s/src/r", ks_test_tmpdir());
    snprintf(bare, sizeof bare, "%s/bare/r.git", ks_test_tmpdir());
    CHECK_INT(gen_git_history(repo, token), 0);
    snprintf(cmd, sizeof cmd, "git clone -q --bare %s %s 2>&1", repo, bare);
    if (ks_test_run(cmd, NULL) != 0) {
        ks_test_skip("tool", "git clone --bare failed (no git CLI?)");
        return;
    }
    const char *yar = "rule history_token { strings: $a = \"API_TOKEN=ghp_TestTokenOnlyInHistory\" condition: $a }\n";
    const char *rule = ks_test_write("b.yar", yar, strlen(yar));
    snprintf(args, sizeof args, "--yara %s --json - %s/bare", rule, ks_test_tmpdir());
    char *out = scan(args);
    CHECK(out && strstr(out, "/bare/r.git!"));
    CHECK(out && strstr(out, ":config.env\""));
    free(out);
}

/* trufflesecurity/test_keys: an AWS key pair committed then deleted by
 * "woops, some keys" (fbc1430), an OpenSSH key (77b2a3e), new AWS
 * credentials (0416560): three blobs of its history. */
TEST(corpus_repo_with_history)
{
    const char *corpus = ks_test_corpus();
    char cmd[2048], args[1400];
    if (!corpus) {
        ks_test_skip("corpus", "no ../shared/corpus");
        return;
    }
    snprintf(cmd, sizeof cmd, "mkdir -p %s/th && tar xzf %s/trufflesecurity-test_keys/repo-with-history.tar.gz -C %s/th",
             ks_test_tmpdir(), corpus, ks_test_tmpdir());
    if (ks_test_run(cmd, NULL) != 0) {
        ks_test_skip("corpus-file", "cannot unpack repo-with-history.tar.gz");
        return;
    }
    const char *yar = "rule aws_key_id { strings: $a = /AKIA[0-9A-Z]{16}/ condition: $a }\n"
                      "rule ssh_key { strings: $a = \"BEGIN OPENSSH PRIVATE KEY\" condition: $a }\n";
    const char *rule = ks_test_write("t.yar", yar, strlen(yar));
    snprintf(args, sizeof args, "--yara %s --json - %s/th", rule, ks_test_tmpdir());
    char *out = scan(args);
    static const char *const want[] = {"/th/repo!fbc14303ffbf:keys\"", "/th/repo!77b2a3e56973:keys\"",
                                       "/th/repo!0416560b1330:new_key\""};
    int found = 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        found += out && strstr(out, want[i]) != NULL;
    printf("RECALL git history (trufflesecurity repo-with-history, secret blobs): %d/3\n", found);
    CHECK_INT(found, 3);
    free(out);
}
