#!/usr/bin/env python3
"""A TCP proxy in front of swtpm that behaves like one discrete hardware TPM: every command
takes DELAY ms, one command at a time (benchmark 5, docs/performance.md; issue #12).

    tpm_delay_proxy.py UPSTREAM_PORT DELAY_MS TCTI_FILE [--sha256-only]
                       [--quote-count FILE] [--hold-file FILE]

tpm2-tss's swtpm TCTI uses two ports: the command port P (raw TPM 2.0 commands) and the control
port P+1 (power/locality). Both are forwarded; only TPM commands on P are delayed.

All clients share ONE upstream connection to swtpm's command port, as all processes of a host
share one TPM device: swtpm serves one command connection at a time, so a connection per
client deadlocks as soon as two processes attest (the TCTI opens a connection per command; the
proxy would hold its lock waiting on a connection swtpm has not accepted yet). A command is
read whole from its client (the size field of the header), then, holding the TPM: delay,
forward, read the whole response; then the response goes back to that client.

--sha256-only  answer TPM2_Quote (0x158) whose qualifyingData is longer than 34 bytes
               (sizeof(TPMT_HA) of a TPM whose largest hash is SHA-256) with TPM_RC_SIZE on
               parameter 1 (0x1D5), without forwarding it; swtpm implements SHA-512 and
               would accept up to 66.
--quote-count  FILE holds the number of TPM2_Quote commands forwarded to the TPM so far (one
               decimal line, rewritten atomically after each; "0" at start).
--hold-file    while FILE exists, commands are not forwarded (they wait, as on a TPM that
               stopped answering); removing it lets them through in order.

writes "swtpm:host=127.0.0.1,port=P" to TCTI_FILE once both ports listen, then runs until
SIGTERM/SIGINT, then prints per-command-code upstream service times on stderr (with DELAY_MS 0
it is a profiler of the TPM itself). Loopback only.
"""
import argparse
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

TPM_CC_QUOTE = 0x158
TPM_ST_NO_SESSIONS = 0x8001
TPM_ST_SESSIONS = 0x8002
SHA256_TPMT_HA = 34  # sizeof(TPMT_HA) when SHA-256 is the largest digest: hashAlg(2) + 32
# TPM 2.0 Part 2 §6.6: TPM_RC_SIZE = RC_FMT1 + 0x015; + TPM_RC_P (0x040) + TPM_RC_1 (0x100).
TPM_RC_SIZE_PARAM1 = 0x1D5


async def read_tpm_message(reader):
    """One TPM 2.0 command or response: tag(2) | size(4, including the header) | ..."""
    head = await reader.readexactly(6)
    _tag, size = struct.unpack(">HI", head)
    if size < 10 or size > MAX_MSG:
        raise ConnectionError(f"bad TPM message size {size}")
    return head + await reader.readexactly(size - 6)


def quote_qualifying_size(cmd):
    """The qualifyingData size of a TPM2_Quote command, or None when it cannot be parsed.

    TPM 2.0 Part 3 §18.4: header(10) | signHandle(4) | [authorizationSize(4) | auth area]
    (only when tag is TPM_ST_SESSIONS) | qualifyingData (TPM2B_DATA: size(2) | bytes) | ...
    """
    tag = struct.unpack(">H", cmd[0:2])[0]
    off = 10 + 4
    if tag == TPM_ST_SESSIONS:
        if len(cmd) < off + 4:
            return None
        auth_size = struct.unpack(">I", cmd[off:off + 4])[0]
        off += 4 + auth_size
    elif tag != TPM_ST_NO_SESSIONS:
        return None
    if len(cmd) < off + 2:
        return None
    return struct.unpack(">H", cmd[off:off + 2])[0]


class Proxy:
    def __init__(self, args):
        self.upstream_port = args.upstream_port
        self.delay = args.delay_ms / 1000.0
        self.sha256_only = args.sha256_only
        self.quote_count_file = args.quote_count
        self.hold_file = args.hold_file
        self.tpm_lock = asyncio.Lock()
        self.upstream = None  # (reader, writer): the one command connection to swtpm
        self.commands = 0
        self.quotes = 0
        self.refused = 0
        self.service = {}  # command code -> list of upstream service times (ms)
        self.write_quote_count()

    def write_quote_count(self):
        if not self.quote_count_file:
            return
        tmp = self.quote_count_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{self.quotes}\n")
        os.replace(tmp, self.quote_count_file)

    async def upstream_conn(self):
        if self.upstream is None:
            self.upstream = await asyncio.open_connection(HOST, self.upstream_port)
        return self.upstream

    def drop_upstream(self):
        if self.upstream is not None:
            self.upstream[1].close()
            self.upstream = None

    async def execute(self, cmd):
        """The TPM's answer to one command; the caller holds tpm_lock."""
        code = struct.unpack(">I", cmd[6:10])[0]
        while self.hold_file and os.path.exists(self.hold_file):
            await asyncio.sleep(0.02)
        if code == TPM_CC_QUOTE and self.sha256_only:
            size = quote_qualifying_size(cmd)
            if size is not None and size > SHA256_TPMT_HA:
                self.refused += 1
                print(f"tpm_delay_proxy: TPM2_Quote with {size}-byte qualifyingData refused "
                      f"(TPM_RC_SIZE, parameter 1)", file=sys.stderr, flush=True)
                await asyncio.sleep(self.delay)
                return struct.pack(">HII", TPM_ST_NO_SESSIONS, 10, TPM_RC_SIZE_PARAM1)
        await asyncio.sleep(self.delay)
        t0 = time.monotonic()
        try:
            ureader, uwriter = await self.upstream_conn()
            uwriter.write(cmd)
            await uwriter.drain()
            resp = await read_tpm_message(ureader)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            # swtpm went away mid-command: the next command reconnects; this one is lost, as
            # on a TPM reset, and its client sees its connection close.
            self.drop_upstream()
            raise ConnectionError("upstream TPM connection lost")
        self.service.setdefault(code, []).append((time.monotonic() - t0) * 1e3)
        self.commands += 1
        if code == TPM_CC_QUOTE:
            self.quotes += 1
            self.write_quote_count()
        return resp

    async def command_conn(self, creader, cwriter):
        try:
            while True:
                cmd = await read_tpm_message(creader)
                async with self.tpm_lock:
                    resp = await self.execute(cmd)
                cwriter.write(resp)
                await cwriter.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            cwriter.close()

    async def control_conn(self, creader, cwriter):
        try:
            ureader, uwriter = await asyncio.open_connection(HOST, self.upstream_port + 1)
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
                s.listen(128)
                socks.append(s)
            return port, socks
        except OSError:
            for s in socks:
                s.close()
    sys.exit("tpm_delay_proxy: no free port pair")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("upstream_port", type=int, help="swtpm's command port (control = +1)")
    ap.add_argument("delay_ms", type=float, help="added latency per TPM command")
    ap.add_argument("tcti_file", help="where to write the proxy's TCTI string")
    ap.add_argument("--sha256-only", action="store_true",
                    help="refuse TPM2_Quote qualifyingData > 34 bytes with TPM_RC_SIZE (0x1D5)")
    ap.add_argument("--quote-count", metavar="FILE", help="keep the forwarded-quote count here")
    ap.add_argument("--hold-file", metavar="FILE", help="hold commands while FILE exists")
    return ap.parse_args()


async def main():
    args = parse_args()
    proxy = Proxy(args)
    port, (cmd_sock, ctrl_sock) = bind_pair()
    servers = [
        await asyncio.start_server(proxy.command_conn, sock=cmd_sock),
        await asyncio.start_server(proxy.control_conn, sock=ctrl_sock),
    ]
    tmp = args.tcti_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"swtpm:host={HOST},port={port}\n")
    os.replace(tmp, args.tcti_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for s in servers:
        s.close()
    proxy.drop_upstream()
    print(f"tpm_delay_proxy: {proxy.commands} TPM commands delayed by {args.delay_ms} ms, "
          f"{proxy.quotes} quotes, {proxy.refused} refused", file=sys.stderr)
    # What the TPM behind the proxy spent per command code (the delay not included).
    for code, ts in sorted(proxy.service.items()):
        ts.sort()
        print(f"tpm_delay_proxy: command 0x{code:08x}: n={len(ts)} "
              f"median {ts[len(ts) // 2]:.3f} ms upstream", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
