"""Python 3 peers of the compatibility suite, using only the standard ssl module (which links
the system libssl, so the preloaded shim and OPENSSL_CONF's provider apply).

  py_peer.py urllib URL CA OUT
      urllib.request GET; the body goes to OUT. Exit 1 with "error: ..." on stderr.
  py_peer.py aclient PORT CA CERT KEY UP OUT
      asyncio client (SSLObject over MemoryBIO): sends the file UP, then writes everything the
      server sends back until it closes to OUT. Exit 1 with "error: ..." on stderr.
  py_peer.py aserver PORT CA CERT KEY SIZE LOG
      asyncio server requiring a client certificate: on each connection reads exactly SIZE
      bytes, sends them back and closes. LOG gets one line per connection ("conn received N")
      with the number of application bytes the server received, and one line per handshake
      or connection error ("error: ..."). Prints "READY" on stdout once listening.
"""
import asyncio
import ssl
import sys
import urllib.request


def client_context(ca, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def urllib_get(url, ca, out):
    try:
        with urllib.request.urlopen(url, context=client_context(ca), timeout=30) as r:
            data = r.read()
    except Exception as e:  # the test asserts the text
        print(f"error: {e!r}", file=sys.stderr)
        return 1
    with open(out, "wb") as f:
        f.write(data)
    return 0


async def aclient(port, ca, cert, key, up, out):
    with open(up, "rb") as f:
        payload = f.read()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", int(port),
                                    ssl=client_context(ca, cert, key),
                                    server_hostname="localhost"), 30)
        writer.write(payload)
        await writer.drain()
        got = await asyncio.wait_for(reader.read(), 30)
        writer.close()
    except Exception as e:
        print(f"error: {e!r}", file=sys.stderr)
        return 1
    with open(out, "wb") as f:
        f.write(got)
    return 0


async def aserver(port, ca, cert, key, size, log):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    logf = open(log, "a", buffering=1)
    loop = asyncio.get_running_loop()

    def on_error(_loop, context):
        exc = context.get("exception")
        logf.write(f"error: {context.get('message')} {exc!r}\n")

    loop.set_exception_handler(on_error)

    async def serve(reader, writer):
        received = bytearray()
        try:
            while len(received) < size:
                chunk = await reader.read(size - len(received))
                if not chunk:
                    break
                received += chunk
            if len(received) == size:
                writer.write(bytes(received))
                await writer.drain()
        except Exception as e:
            logf.write(f"error: connection {e!r}\n")
        finally:
            logf.write(f"conn received {len(received)}\n")
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", int(port), ssl=ctx)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()


def main(argv):
    cmd = argv[1]
    if cmd == "urllib":
        return urllib_get(*argv[2:5])
    if cmd == "aclient":
        return asyncio.run(aclient(*argv[2:8]))
    if cmd == "aserver":
        port, ca, cert, key, size, log = argv[2:8]
        return asyncio.run(aserver(port, ca, cert, key, int(size), log))
    print(f"unknown command {cmd}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
