"""One rewritten call, pure: what it is, what it does next, and what it did.

The call policy (`policy`) and what upstreams taught (`memory`); the call's part in its
conversation (`turn`, `conversation`, `replay`); what the glue hands the driver and what the call
did (`job`); the call in words (`report`).

Must not: import an I/O library or read a clock (time and randomness are passed in).
"""
