"""`chat2responses status [--port N]`: a running proxy's status, asked from the shell.

The addon answers `GET /_chat2responses/status` itself (glue/own_endpoints.py), to loopback
clients only, with the text its `chat2responses.status` command returns; this prints it. The
request goes in absolute form (`GET http://127.0.0.1:N/_chat2responses/status`), which a reverse
proxy (`chat2responses run`) and an explicit proxy both accept.

Must not: load mitmproxy, or read anything but the answer (the proxy's state is its own).
"""

from __future__ import annotations

import http.client
import json

from chat2responses.cli.commands import CliError

STATUS_PATH = "/_chat2responses/status"
TIMEOUT = 5.0
FIRST_LINE = "chat2responses status"  # how the addon's status text begins


class NotRunning(CliError):
    """Nothing (or nothing of ours) answers on the port: exit status 1, not a usage error."""


def fetch_status(port: int, host: str = "127.0.0.1", timeout: float = TIMEOUT) -> str:
    """The status text of the chat2responses proxy on `host:port`; `NotRunning` when there is
    none, saying what answered instead and what to do."""
    where = f"{host}:{port}"
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", f"http://{where}{STATUS_PATH}")
        response = connection.getresponse()
        status, body = response.status, response.read(1 << 20)
    except ConnectionRefusedError:
        raise NotRunning(
            f"nothing listens on {where}. Start the proxy (scripts/run, or chat2responses "
            "run), or give the port it runs on: chat2responses status --port N (or C2R_PORT=N)."
        ) from None
    except TimeoutError:
        raise NotRunning(f"{where} did not answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise NotRunning(f"{where} did not answer as an HTTP server does ({exc})") from None
    finally:
        connection.close()
    text = body.decode("utf-8", "replace")
    if status == 200 and text.startswith(FIRST_LINE):
        return text.rstrip("\n")
    said = _error_message(text)
    raise NotRunning(
        f"{where} answered {status}{f' ({said})' if said else ''}: it is not a chat2responses "
        f"proxy that serves {STATUS_PATH} (another program, or an older version)"
    )


def _error_message(text: str) -> str:
    """The message of an OpenAI error body, or "" when `text` is not one."""
    try:
        message = json.loads(text)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return ""
    return message if isinstance(message, str) else ""
