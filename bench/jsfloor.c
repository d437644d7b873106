/*
 * bench/jsfloor: the floor for the cluster's log on this machine.
 * Publishes N messages of SIZE bytes (a tap record is about 170) to a
 * JetStream stream FLOOR (replicas 3, file storage; created, and deleted
 * afterwards) the way a gateway does: asynchronously, each with its own
 * Nats-Msg-Id, WINDOW in flight, every one acknowledged; prints
 * acknowledged messages per second.  Nothing else: no TLS, no tap check,
 * no pricing.
 *
 *   jsfloor URLS [N [SIZE [WINDOW]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "clock.h"

static long acked, failed;

static void
ack_cb(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae, void *arg)
{
	(void)js;
	(void)pae;
	(void)arg;
	if (pa != NULL)
		acked++;
	else
		failed++;
	natsMsg_Destroy(m);
}

int
main(int argc, char **argv)
{
	const char *subjects[] = {"floor.x"};
	long n = argc > 2 ? atol(argv[2]) : 200000, i;
	int size = argc > 3 ? atoi(argv[3]) : 170;
	long window = argc > 4 ? atol(argv[4]) : 512;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsOptions jo;
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	jsPubOptions po;
	natsStatus s;
	char *data, id[32];
	uint64_t t0, t1;

	if (argc < 2 || n < 1 || size < 1 || size > 65536 || window < 1) {
		fprintf(stderr, "usage: jsfloor URLS [N [SIZE [WINDOW]]]\n");
		return 2;
	}
	if ((data = malloc((size_t)size)) == NULL)
		return 1;
	memset(data, 'x', (size_t)size);
	s = natsConnection_ConnectTo(&nc, argv[1]);
	jsOptions_Init(&jo);
	jo.PublishAsync.AckHandler = ack_cb;
	jo.PublishAsync.MaxPending = window;
	if (s == NATS_OK)
		s = natsConnection_JetStream(&js, nc, &jo);
	if (s == NATS_OK) {
		jsStreamConfig_Init(&sc);
		sc.Name = "FLOOR";
		sc.Subjects = subjects;
		sc.SubjectsLen = 1;
		sc.Storage = js_FileStorage;
		sc.Replicas = 3;
		js_DeleteStream(js, "FLOOR", NULL, NULL);
		s = js_AddStream(&si, js, &sc, NULL, &jerr);
		jsStreamInfo_Destroy(si);
	}
	if (s != NATS_OK) {
		fprintf(stderr, "jsfloor: %s (JetStream error %d)\n",
		    natsStatus_GetText(s), (int)jerr);
		return 1;
	}
	t0 = clock_mono_us();
	for (i = 0; i < n && s == NATS_OK; i++) {
		natsMsg *m = NULL;
		snprintf(id, sizeof id, "f:%ld", i);
		jsPubOptions_Init(&po);
		po.MsgId = id;
		s = natsMsg_Create(&m, "floor.x", NULL, data, size);
		if (s == NATS_OK)
			s = js_PublishMsgAsync(js, &m, &po);
		natsMsg_Destroy(m);
	}
	jsPubOptions_Init(&po);
	po.MaxWait = 60000;
	if (s == NATS_OK)
		s = js_PublishAsyncComplete(js, &po);
	t1 = clock_mono_us();
	if (s != NATS_OK || acked != n) {
		fprintf(stderr, "jsfloor: %ld of %ld acknowledged, %ld failed: "
		    "%s\n", acked, n, failed, natsStatus_GetText(s));
		return 1;
	}
	printf("jsfloor: %ld messages of %d bytes, R3 file storage, %ld in "
	    "flight: %.0f acknowledged msgs/s\n", n, size, window,
	    (double)n / ((double)(t1 - t0) / 1e6));
	js_DeleteStream(js, "FLOOR", NULL, NULL);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	free(data);
	return 0;
}
