#!/usr/bin/env python3
"""An asyncio streams server serving the upserver protocol:
python3 asyncio_peer.py [-p PORT] [-d DELAY]."""
import asyncio

import common


async def main():
    args = common.parse_args("asyncio")

    async def handle(reader, writer):
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as e:
                    line = e.partial
                except asyncio.LimitOverrunError as e:
                    line = await reader.readexactly(e.consumed)
                if not line:
                    break
                if args.delay:
                    await asyncio.sleep(args.delay)
                writer.write(line.upper())
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, args.bind, args.port,
                                     limit=args.max_line, backlog=4096,
                                     reuse_address=True)
    common.listening("py-asyncio", srv.sockets[0].getsockname())
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
