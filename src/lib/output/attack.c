/* SPDX-License-Identifier: Apache-2.0
 *
 * Technique -> tactics lookups over attack.def (see attack.h).
 */
#include <stdlib.h>
#include <string.h>
#include "output/attack.h"

typedef struct tech_row {
    unsigned num;         /* 1110 for T1110 */
    const char *name;     /* the parent technique's name */
    unsigned tactics;     /* KS_TA_* bits */
} tech_row;

static const tech_row techs[] = {
#define KS_TECH(num, name, tactics) {num, name, tactics},
#include "output/attack.def"
#undef KS_TECH
};

static const char *const tactic_names[KS_TACTICS] = {
    "reconnaissance", "resource-development", "initial-access", "execution", "persistence",
    "privilege-escalation", "defense-evasion", "credential-access", "discovery",
    "lateral-movement", "collection", "command-and-control", "exfiltration", "impact",
};

static const char *const tactic_titles[KS_TACTICS] = {
    "Reconnaissance", "Resource Development", "Initial Access", "Execution", "Persistence",
    "Privilege Escalation", "Defense Evasion", "Credential Access", "Discovery",
    "Lateral Movement", "Collection", "Command and Control", "Exfiltration", "Impact",
};

static const char *const tactic_uids[KS_TACTICS] = {
    "TA0043", "TA0042", "TA0001", "TA0002", "TA0003", "TA0004", "TA0005",
    "TA0006", "TA0007", "TA0008", "TA0009", "TA0011", "TA0010", "TA0040",
};

const char *ks__tactic_uid(int i) { return i >= 0 && i < KS_TACTICS ? tactic_uids[i] : NULL; }
const char *ks__tactic_name(int i) { return i >= 0 && i < KS_TACTICS ? tactic_names[i] : "other"; }
const char *ks__tactic_title(int i) { return i >= 0 && i < KS_TACTICS ? tactic_titles[i] : "Other"; }

static int cmp_row(const void *k, const void *r)
{
    unsigned a = *(const unsigned *)k, b = ((const tech_row *)r)->num;
    return a < b ? -1 : a > b;
}

static const tech_row *find(const char *id)
{
    unsigned num = 0;
    int digits = 0;
    if (!id || (id[0] != 'T' && id[0] != 't'))
        return NULL;
    for (const char *p = id + 1; *p >= '0' && *p <= '9' && digits < 5; p++, digits++)
        num = num * 10 + (unsigned)(*p - '0');
    if (digits != 4)
        return NULL;
    return bsearch(&num, techs, sizeof techs / sizeof techs[0], sizeof techs[0], cmp_row);
}

unsigned ks__technique_tactics(const char *id)
{
    const tech_row *r = find(id);
    return r ? r->tactics : 0;
}

const char *ks__technique_name(const char *id)
{
    const tech_row *r = find(id);
    return r ? r->name : NULL;
}
