/* SPDX-License-Identifier: Apache-2.0
 *
 * nats_tool: JetStream set-up, publishing and reading for the NATS stream
 * test (tests/stream/nats.sh) against a real nats-server on loopback.
 *
 *   nats_tool setup   --url U     streams EVENTS (events.>) and FINDINGS
 *                                 (findings, 10-minute duplicate window)
 *   nats_tool publish --url U --subject S --file F [--from N --count M]
 *   nats_tool dump    --url U --stream NAME --subject S   every message, one a line
 */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *arg(int argc, char **argv, const char *name, const char *dflt)
{
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return dflt;
}

static int add(jsCtx *js, const char *name, const char *subject, int64_t dup_ns)
{
    jsStreamConfig sc;
    const char *subs[1] = {subject};
    jsStreamConfig_Init(&sc);
    sc.Name = name;
    sc.Subjects = subs;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    if (dup_ns)
        sc.Duplicates = dup_ns;
    natsStatus s = js_AddStream(NULL, js, &sc, NULL, NULL);
    if (s != NATS_OK)
        fprintf(stderr, "nats_tool: add stream %s: %s\n", name, natsStatus_GetText(s));
    return s == NATS_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    int rc = 2;
    if (argc < 2 || natsConnection_ConnectTo(&nc, arg(argc, argv, "--url", "nats://127.0.0.1:4222")) != NATS_OK ||
        natsConnection_JetStream(&js, nc, NULL) != NATS_OK)
        return 2;
    if (!strcmp(argv[1], "setup")) {
        rc = add(js, "EVENTS", "events.>", 0) | add(js, "FINDINGS", "findings", (int64_t)600 * 1000000000);
    } else if (!strcmp(argv[1], "publish")) {
        char line[1 << 16];
        long from = atol(arg(argc, argv, "--from", "0")), count = atol(arg(argc, argv, "--count", "-1"));
        long n = 0, sent = 0;
        FILE *fp = fopen(arg(argc, argv, "--file", ""), "r");
        rc = fp ? 0 : 2;
        while (fp && fgets(line, sizeof line, fp)) {
            size_t len = strcspn(line, "\r\n");
            if (n++ < from || !len)
                continue;
            if (count >= 0 && sent >= count)
                break;
            if (js_PublishAsync(js, arg(argc, argv, "--subject", "events.x"), line, (int)len, NULL) != NATS_OK) {
                rc = 1;
                break;
            }
            sent++;
        }
        js_PublishAsyncComplete(js, NULL);
        if (fp)
            fclose(fp);
        fprintf(stderr, "nats_tool: published %ld messages\n", sent);
    } else if (!strcmp(argv[1], "dump")) {
        natsSubscription *sub = NULL;
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = arg(argc, argv, "--stream", "FINDINGS");
        so.Config.AckPolicy = js_AckNone;
        if (js_PullSubscribe(&sub, js, arg(argc, argv, "--subject", "findings"), NULL, NULL, &so, NULL) == NATS_OK) {
            for (;;) {
                natsMsgList l = {0};
                if (natsSubscription_Fetch(&l, sub, 256, 1000, NULL) != NATS_OK || l.Count == 0) {
                    natsMsgList_Destroy(&l);
                    break;
                }
                for (int i = 0; i < l.Count; i++)
                    printf("%.*s\n", natsMsg_GetDataLength(l.Msgs[i]), natsMsg_GetData(l.Msgs[i]));
                natsMsgList_Destroy(&l);
            }
            natsSubscription_Destroy(sub);
            rc = 0;
        }
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return rc;
}
