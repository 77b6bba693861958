#!/usr/bin/env python3
"""WebSocket test server on the `websockets` package, for callrelay's socket-layer integration tests.

One process serves several loopback ports on ephemeral numbers, each with its own permessage-deflate
settings (and one with TLS from a throwaway CA made by `trustme`). The request path picks what the
server does, so one start serves every test:

  /echo                 echo every message with its type
  /send?n=N&size=S&fragment=1&binary=1
                        send N messages of about S bytes, then close 1000
  /close?code=C&reason=R
                        close at once with code C and reason R
  /ping                 send a ping, wait for its pong, report "pong:<payload hex>", close 1000
  /slow?n=N             send N messages without waiting, then a ping; report whether the pong came
  /headers              send the request headers as one JSON text message, then close 1000
  /vanish               stop reading and writing, TCP left open (a half-open peer)
  /reset                drop TCP without a close frame
  /bomb?size=S          send one message of S zero bytes (it compresses to almost nothing)
  /check                send text, binary, fragmented and large messages, expect each echoed back
                        unchanged, then close 1000 "all echoed" (or 4000 "mismatch")
  /forbidden            refuse the upgrade with 403

The TLS certificate names only "localhost", so wss://127.0.0.1 must fail hostname verification.
A "silent" port accepts TCP and never answers (for handshake timeouts).

Prints one JSON line when ready: {"ports": {name: port, ...}, "ca": CA_FILE or null}.
"""
import argparse
import asyncio
import json
import os
import sys
from urllib.parse import parse_qs, urlparse

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

CONFIGS = {
    "plain": None,
    "deflate": dict(),
    "server_no_context_takeover": dict(server_no_context_takeover=True),
    "client_no_context_takeover": dict(client_no_context_takeover=True),
    "server_max_window_bits": dict(server_max_window_bits=10),
    "client_max_window_bits": dict(client_max_window_bits=10),
}


async def handler(ws):
    url = urlparse(ws.request.path)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    route = url.path
    try:
        if route == "/echo":
            async for message in ws:
                await ws.send(message)
        elif route == "/send":
            n, size = int(query.get("n", "10")), int(query.get("size", "100"))
            for i in range(n):
                body = json.dumps({"seq": i, "pad": "x" * max(0, size - 20)})
                payload = body.encode() if query.get("binary") else body
                if query.get("fragment"):
                    third = max(1, len(payload) // 3)
                    await ws.send([payload[:third], payload[third:2 * third], payload[2 * third:]])
                else:
                    await ws.send(payload)
            await ws.close(1000, "done")
        elif route == "/close":
            await ws.close(int(query.get("code", "1000")), query.get("reason", ""))
        elif route == "/ping":
            waiter = await ws.ping(b"\x01\x02hello")
            await asyncio.wait_for(waiter, 5)
            await ws.send("pong:" + b"\x01\x02hello".hex())
            await ws.close(1000, "ping ok")
        elif route == "/slow":
            n = int(query.get("n", "200"))
            for i in range(n):
                await ws.send(json.dumps({"seq": i}))
            waiter = await ws.ping(b"slow")
            try:
                await asyncio.wait_for(waiter, 5)
                await ws.send("pong-received")
            except asyncio.TimeoutError:
                await ws.send("pong-missing")
            await ws.close(1000, "slow done")
        elif route == "/headers":
            await ws.send(json.dumps({k.lower(): v for k, v in ws.request.headers.raw_items()}))
            await ws.close(1000, "headers sent")
        elif route == "/vanish":
            ws.transport.pause_reading()
            await asyncio.sleep(3600)
        elif route == "/reset":
            ws.transport.abort()
        elif route == "/check":
            messages = ["short text", "κόσμε € 😀", b"\x00\x01binary\xff", "x" * 70000,
                        json.dumps({"pad": "abc" * 2000}), b"\x00" * 5000, ""]
            for message in messages:
                if isinstance(message, str) and len(message) > 100:
                    third = len(message) // 3
                    await ws.send([message[:third], message[third:2 * third], message[2 * third:]])
                else:
                    await ws.send(message)
                echoed = await asyncio.wait_for(ws.recv(), 10)
                if echoed != message:
                    await ws.close(4000, "mismatch")
                    return
            await ws.close(1000, "all echoed")
        elif route == "/bomb":
            await ws.send(bytes(int(query.get("size", str(64 * 1024 * 1024)))))
            await ws.wait_closed()
        else:
            await ws.close(4404, "unknown route")
    except ConnectionClosed:
        pass


def tls_context(ca_out):
    import ssl
    import trustme
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    ca.cert_pem.write_to_path(ca_out)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


def refuse(connection, request):
    if request.path.startswith("/forbidden"):
        return connection.respond(403, "Forbidden\n")
    return None


async def main(args):
    servers, ports = [], {}
    for name, params in CONFIGS.items():
        extensions = [] if params is None else [ServerPerMessageDeflateFactory(**params)]
        server = await serve(handler, "127.0.0.1", 0, compression=None, extensions=extensions,
                             process_request=refuse,
                             ping_interval=None, max_size=2 ** 24)
        servers.append(server)
        ports[name] = server.sockets[0].getsockname()[1]
    try:  # the same plain server on IPv6 loopback, where the host has it
        server6 = await serve(handler, "::1", 0, compression=None, extensions=[], process_request=refuse,
                              ping_interval=None, max_size=2 ** 24)
        servers.append(server6)
        ports["plain6"] = server6.sockets[0].getsockname()[1]
    except OSError:
        pass
    ca = None
    if args.ca_out:
        ca = os.path.abspath(args.ca_out)
        context = tls_context(ca)
        server = await serve(handler, "127.0.0.1", 0, ssl=context, ping_interval=None, max_size=2 ** 24)
        servers.append(server)
        ports["tls"] = server.sockets[0].getsockname()[1]
    held = []  # the silent server keeps its connections open, unread
    silent = await asyncio.start_server(lambda r, w: held.append(w), "127.0.0.1", 0)
    ports["silent"] = silent.sockets[0].getsockname()[1]
    print(json.dumps({"ports": ports, "ca": ca}), flush=True)
    # Stop when the test process that started us is gone (we are re-parented), however it ended.
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(0.5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ca-out", help="serve TLS too, writing the test CA certificate here")
    asyncio.run(main(parser.parse_args()))
