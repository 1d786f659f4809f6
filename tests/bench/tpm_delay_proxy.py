#!/usr/bin/env python3
"""A TCP proxy in front of swtpm that makes every TPM command take DELAY ms, like a discrete
hardware TPM (benchmark 5, docs/performance.md).

tpm2-tss's swtpm TCTI uses two ports: the command port P (raw TPM 2.0 commands) and the control
port P+1 (power/locality). Both are forwarded; only TPM commands on P are delayed. Commands are
also serialised process-wide, as one TPM executes one command at a time.

    tpm_delay_proxy.py UPSTREAM_PORT DELAY_MS TCTI_FILE
writes "swtpm:host=127.0.0.1,port=P" to TCTI_FILE once both ports listen, then runs until
SIGTERM/SIGINT, then prints per-command-code upstream service times on stderr (with DELAY_MS 0
it is a profiler of the TPM itself). Loopback only.
"""
import asyncio
import os
import random
import signal
import socket
import struct
import sys
import time

HOST = "127.0.0.1"
MAX_MSG = 1 << 20  # a TPM message is a few KiB; anything larger is a framing error


async def read_tpm_message(reader):
    """One TPM 2.0 command or response: tag(2) | size(4, including the header) | ..."""
    head = await reader.readexactly(6)
    _tag, size = struct.unpack(">HI", head)
    if size < 10 or size > MAX_MSG:
        raise ConnectionError(f"bad TPM message size {size}")
    return head + await reader.readexactly(size - 6)


class Proxy:
    def __init__(self, upstream, delay_ms):
        self.upstream = upstream
        self.delay = delay_ms / 1000.0
        self.tpm_lock = asyncio.Lock()
        self.commands = 0
        self.service = {}  # command code -> list of upstream service times (ms)

    async def command_conn(self, creader, cwriter):
        try:
            ureader, uwriter = await asyncio.open_connection(HOST, self.upstream)
        except OSError:
            cwriter.close()
            return
        try:
            while True:
                cmd = await read_tpm_message(creader)
                async with self.tpm_lock:
                    await asyncio.sleep(self.delay)
                    t0 = time.monotonic()
                    uwriter.write(cmd)
                    await uwriter.drain()
                    resp = await read_tpm_message(ureader)
                    code = struct.unpack(">I", cmd[6:10])[0]
                    self.service.setdefault(code, []).append((time.monotonic() - t0) * 1e3)
                    self.commands += 1
                cwriter.write(resp)
                await cwriter.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            uwriter.close()
            cwriter.close()

    async def control_conn(self, creader, cwriter):
        try:
            ureader, uwriter = await asyncio.open_connection(HOST, self.upstream + 1)
        except OSError:
            cwriter.close()
            return

        async def pipe(r, w):
            try:
                while True:
                    data = await r.read(65536)
                    if not data:
                        break
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                w.close()

        await asyncio.gather(pipe(creader, uwriter), pipe(ureader, cwriter))


def bind_pair():
    """An even port P with P and P+1 both free on loopback (tries random pairs)."""
    for _ in range(50):
        port = random.randrange(20000, 60000, 2)
        socks = []
        try:
            for p in (port, port + 1):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((HOST, p))
                s.listen(64)
                socks.append(s)
            return port, socks
        except OSError:
            for s in socks:
                s.close()
    sys.exit("tpm_delay_proxy: no free port pair")


async def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    upstream, delay_ms, tcti_file = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    proxy = Proxy(upstream, delay_ms)
    port, (cmd_sock, ctrl_sock) = bind_pair()
    servers = [
        await asyncio.start_server(proxy.command_conn, sock=cmd_sock),
        await asyncio.start_server(proxy.control_conn, sock=ctrl_sock),
    ]
    tmp = tcti_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"swtpm:host={HOST},port={port}\n")
    os.replace(tmp, tcti_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for s in servers:
        s.close()
    print(f"tpm_delay_proxy: {proxy.commands} TPM commands delayed by {delay_ms} ms",
          file=sys.stderr)
    # What the TPM behind the proxy spent per command code (the delay not included).
    for code, ts in sorted(proxy.service.items()):
        ts.sort()
        print(f"tpm_delay_proxy: command 0x{code:08x}: n={len(ts)} "
              f"median {ts[len(ts) // 2]:.3f} ms upstream", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
