/* fuzz_backend_msg.c — libFuzzer target for the backend link's frame decoder (backend_msg.c,
 * included so its static validators are reachable): any bytes, as a backend and as a gateway
 * frame, must be refused or decode into a message whose encoding decodes again and then encodes
 * to the same bytes. (Not the input's bytes: protobuf-c keeps unknown fields, even a field 0
 * hidden in an overlong key, and writes them back in canonical form.) */
#include "proto/backend_msg.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *decode_again(const uint8_t *buf, size_t len, bool backend)
{
	if (backend) {
		Cellmux__Backend__BackendMessage *x;
		return backend_msg_decode_backend(buf, len, &x) < 0 ? NULL : x;
	} else {
		Cellmux__Backend__GatewayMessage *x;
		return backend_msg_decode_gateway(buf, len, &x) < 0 ? NULL : x;
	}
}

static void free_any(void *m, bool backend)
{
	if (backend)
		backend_msg_free_backend(m);
	else
		backend_msg_free_gateway(m);
}

static void round_trip(const ProtobufCMessage *m, bool backend)
{
	uint8_t *a = NULL, *b = NULL, *c = NULL;
	size_t la, lb, lc;
	void *again, *third;

	if (backend_msg_encode(m, 16, &a, &la) < 0)
		abort();
	again = decode_again(a + 16, la, backend);
	if (!again || backend_msg_encode(again, 0, &b, &lb) < 0)
		abort();
	third = decode_again(b, lb, backend);
	if (!third || backend_msg_encode(third, 0, &c, &lc) < 0 || lb != lc || memcmp(b, c, lb))
		abort();
	free_any(again, backend);
	free_any(third, backend);
	free(a);
	free(b);
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Cellmux__Backend__BackendMessage *bm;
	Cellmux__Backend__GatewayMessage *gm;

	if (backend_msg_decode_backend(data, size, &bm) == 0) {
		round_trip(&bm->base, true);
		backend_msg_free_backend(bm);
	}
	if (backend_msg_decode_gateway(data, size, &gm) == 0) {
		round_trip(&gm->base, false);
		backend_msg_free_gateway(gm);
	}
	return 0;
}
