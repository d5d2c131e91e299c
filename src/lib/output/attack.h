/* SPDX-License-Identifier: Apache-2.0
 *
 * ATT&CK tactics of a technique id (attack.def): what the terminal summary
 * counts by tactic and the HTML report lays out as its matrix. Pure
 * functions over a const table: thread-safe.
 */
#ifndef KS_OUTPUT_ATTACK_H
#define KS_OUTPUT_ATTACK_H

/* The tactics in the order of the ATT&CK Enterprise matrix. */
enum {
    KS_TA_RECON_I, KS_TA_RESDEV_I, KS_TA_INITIAL_I, KS_TA_EXEC_I, KS_TA_PERSIST_I,
    KS_TA_PRIVESC_I, KS_TA_EVASION_I, KS_TA_CREDS_I, KS_TA_DISCOVERY_I, KS_TA_LATERAL_I,
    KS_TA_COLLECT_I, KS_TA_C2_I, KS_TA_EXFIL_I, KS_TA_IMPACT_I,
    KS_TACTICS            /* how many */
};
#define KS_TA_BIT(x) (1u << KS_TA_##x##_I)
enum {
    KS_TA_RECON = KS_TA_BIT(RECON), KS_TA_RESDEV = KS_TA_BIT(RESDEV),
    KS_TA_INITIAL = KS_TA_BIT(INITIAL), KS_TA_EXEC = KS_TA_BIT(EXEC),
    KS_TA_PERSIST = KS_TA_BIT(PERSIST), KS_TA_PRIVESC = KS_TA_BIT(PRIVESC),
    KS_TA_EVASION = KS_TA_BIT(EVASION), KS_TA_CREDS = KS_TA_BIT(CREDS),
    KS_TA_DISCOVERY = KS_TA_BIT(DISCOVERY), KS_TA_LATERAL = KS_TA_BIT(LATERAL),
    KS_TA_COLLECT = KS_TA_BIT(COLLECT), KS_TA_C2 = KS_TA_BIT(C2),
    KS_TA_EXFIL = KS_TA_BIT(EXFIL), KS_TA_IMPACT = KS_TA_BIT(IMPACT),
};

/* "credential-access" (ATT&CK's short name) of tactic i < KS_TACTICS,
 * and its display name ("Credential Access"). */
const char *ks__tactic_name(int i);
const char *ks__tactic_title(int i);
/* ATT&CK's id of tactic i ("TA0006"), NULL out of range. */
const char *ks__tactic_uid(int i);
/* Tactics (KS_TA_* bits) of a technique id ("T1110.003", "t1110"); 0 when
 * the id is not an Enterprise technique. */
unsigned ks__technique_tactics(const char *id);
/* The technique's name ("Brute Force" for T1110 and T1110.003: the
 * parent's), NULL when unknown. */
const char *ks__technique_name(const char *id);

#endif
