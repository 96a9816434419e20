"""The wire, pure: what crosses it and how it is checked.

SSE framing (`sse`), the Responses event types (`events`), the error tree and the one place errors
become OpenAI error bodies (`errors`), typed wire shapes (`wire`), the shape checks on a client's
JSON (`params`), a client body's checks (`body`) and its content-encoding undone (`content_coding`).

Must not: import an I/O library (asyncio, aiohttp, websockets, mitmproxy, socket) or read a clock.
"""
