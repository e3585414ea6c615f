#!/usr/bin/python3
# fake_backend.py — a scriptable backend for the link tests: TLS WebSocket server that answers
# Hello with Welcome, writes every frame it receives as a JSON line to --out, and sends what the
# test asks for, one command per line on --commands (a FIFO): the frames a real backend would
# send and the broken ones it should not.
import argparse
import asyncio
import json
import os
import ssl
import sys
import threading

sys.path.insert(0, os.path.join(os.environ["BUILD"], "gen", "py"))
import backend_pb2 as pb  # noqa: E402
import websockets  # noqa: E402
from google.protobuf import json_format  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--commands", required=True)
args = ap.parse_args()
out = open(args.out, "a", buffering=1)
current = {"ws": None, "conn": 0}


def record(d):
    out.write(json.dumps(d) + "\n")


def frame(cmd):
    m = pb.BackendMessage()
    op = cmd["op"]
    if op == "garbage":
        return b"\xff\xfe\xfd\x00garbage"
    if op == "truncated":
        m.delivery.id = 77
        m.delivery.session = "e1"
        m.delivery.payload = b"x" * 100
        return m.SerializeToString()[:-30]
    if op == "wrong_type":
        return b"\x18\x05"  # field 3 (delivery, a message) sent as a varint
    if op == "unknown_case":
        return b"\x7a\x02\x08\x01"  # field 15, never defined
    if op == "oversized":
        m.delivery.id = 78
        m.delivery.session = "e1"
        m.delivery.payload = b"y" * (300 * 1024)
        return m.SerializeToString()
    if op == "text":
        return "a text frame"
    if op == "delivery":
        m.delivery.id = cmd["id"]
        m.delivery.session = cmd["session"]
        m.delivery.payload = cmd["payload"].encode()
    elif op == "start":
        m.start_session.id = cmd["id"]
        m.start_session.profile = cmd["profile"]
        m.start_session.name = cmd.get("name", "")
    elif op == "stop":
        m.stop_session.id = cmd["id"]
        m.stop_session.name = cmd["name"]
    elif op == "uplink":
        m.uplink_action.id = cmd["id"]
        m.uplink_action.uplink = cmd["uplink"]
        m.uplink_action.action = pb.UplinkAction.Action.Value(cmd["action"])
    elif op == "ack":
        m.ack.ids.extend(cmd["ids"])
    else:
        raise ValueError(op)
    return m.SerializeToString()


async def handler(ws, path=None):
    current["conn"] += 1
    conn = current["conn"]
    record({"conn": conn, "type": "open", "subprotocol": ws.subprotocol,
            "auth": ws.request_headers.get("Authorization", "") != ""})
    current["ws"] = ws
    try:
        async for data in ws:
            m = pb.GatewayMessage()
            m.ParseFromString(data)
            kind = m.WhichOneof("msg")
            d = json_format.MessageToDict(getattr(m, kind), preserving_proto_field_name=True)
            record({"conn": conn, "type": kind, "msg": d})
            if kind == "hello":
                w = pb.BackendMessage()
                w.welcome.backend = "fake"
                await ws.send(w.SerializeToString())
            elif kind in ("event", "events"):
                a = pb.BackendMessage()
                a.ack.ids.extend([m.event.id] if kind == "event" else
                                 [e.id for e in m.events.events])
                await ws.send(a.SerializeToString())
    except websockets.ConnectionClosed as e:
        record({"conn": conn, "type": "closed", "code": e.code})
    else:
        record({"conn": conn, "type": "closed", "code": ws.close_code})


async def send(cmd):
    ws = current["ws"]
    try:
        await ws.send(frame(cmd))
        record({"type": "sent", "op": cmd["op"]})
    except Exception as e:  # noqa: BLE001 — reported to the test through the log
        record({"type": "send_failed", "op": cmd["op"], "error": str(e)})


def reader(loop):
    while True:
        with open(args.commands) as f:
            for line in f:
                if line.strip():
                    asyncio.run_coroutine_threadsafe(send(json.loads(line)), loop)


async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    async with websockets.serve(handler, "127.0.0.1", args.port, ssl=ctx,
                                subprotocols=["cellmux.v1"], max_size=2**20):
        record({"type": "listening"})
        threading.Thread(target=reader, args=(asyncio.get_running_loop(),), daemon=True).start()
        await asyncio.Future()

asyncio.run(main())
