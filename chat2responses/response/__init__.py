"""Responses events → the client's bytes, pure.

One translator (`translate`: events → chat chunks) serves both transports; `chunks` and
`chunk_frames` shape and frame chat chunks, `aggregate` folds a non-streamed reply; the sinks turn
events into exactly what a client reads (`chat_sinks`, `responses_sinks`).

Must not: import an I/O library or read a clock (ids and times are passed in).
"""
