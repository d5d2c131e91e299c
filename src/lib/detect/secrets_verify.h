/* SPDX-License-Identifier: Apache-2.0
 *
 * Online verification of found credentials (`kensa hunt --verify`,
 * secrets.verify; off by default): asks the credential's own service
 * whether it still works, with the least a check can do:
 *
 *   AWS key pair   STS GetCallerIdentity, signed with Signature V4
 *   GitHub token   GET /user
 *   Slack token    auth.test
 *
 * Rules: one request per distinct secret, at most secrets.verify_rate per
 * second (a sleep between requests) and secrets.verify_max in a run; no
 * redirects followed; never a key whose decoded AWS account is a known
 * canary-token account (rules/verify/canary-aws-accounts.txt, replaceable
 * with secrets.canary_accounts): its owner would be alarmed and the
 * answer tells nothing. Endpoints are options (secrets.verify_*_url) so a
 * test points them at a fixture server on 127.0.0.1.
 *
 * User: the secrets detector (secrets.c), from its finish step (one
 * thread). Values are borrowed for the call and never logged.
 */
#ifndef KS_SECRETS_VERIFY_H
#define KS_SECRETS_VERIFY_H

#include "kensa_int.h"

typedef struct ks_sverify ks_sverify;

typedef enum ks_vverdict {
    KS_VV_NONE = 0,     /* not a verifiable type, or the run's budget is spent */
    KS_VV_LIVE,         /* the service accepted it */
    KS_VV_REJECTED,     /* the service refused it (revoked, wrong pair) */
    KS_VV_CANARY,       /* a canary token: not sent */
    KS_VV_ERROR         /* no answer (network, timeout, unexpected reply) */
} ks_vverdict;

/* Reads the options and the canary list. KS_OK with *out NULL when
 * verification is off. */
int ks__sverify_new(ks_engine *e, ks_sverify **out);
void ks__sverify_free(ks_sverify *v);

/* True when type is one this module can check. */
bool ks__sverify_supports(const char *type);

/* Verifies one credential: type is the secret_type, value its clear bytes,
 * pair the value it pairs with (the AWS key id of a secret key; NULL when
 * none), account the AWS account decoded from the key id (NULL: unknown).
 * info gets a short fact for the finding (the ARN, the GitHub login, the
 * Slack team; never the value). Sleeps as the rate limit asks. */
ks_vverdict ks__sverify_one(ks_sverify *v, const char *type, const char *value, size_t n,
                            const char *pair, size_t npair, const char *account, char *info,
                            size_t cap);

/* True when the AWS account id is on the canary list. */
bool ks__sverify_canary(const ks_sverify *v, const char *account);

/* AWS Signature V4 of one request (tests check it against AWS's published
 * example). amzdate is "YYYYMMDDTHHMMSSZ"; headers are canonical already
 * ("content-type:...\nhost:...\nx-amz-date:...\n") with their names in
 * signed ("content-type;host;x-amz-date"). sig gets 64 hex digits. */
int ks__sigv4(const char *secret, const char *amzdate, const char *region, const char *service,
              const char *method, const char *path, const char *query, const char *headers,
              const char *signed_headers, const char *body, size_t nbody, char sig[65]);

#endif
