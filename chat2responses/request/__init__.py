"""A client's request → the Responses request, pure.

`translate` is the entry (`translate_request`): chat `messages` (`messages`), tools (`tools`),
reasoning (`reasoning`), a body already Responses-shaped (`responses_shape`) and the
Responses-Lite shape (`lite`); `client_headers` says which of the client's headers go on.

Must not: import an I/O library or read a clock; backend facts come from `upstream.profiles`.
"""
