"""What scripts/gateway decides (deploy/policy.py): who may reach it, how many instances, the
backoff of an instance that keeps exiting, what it says, and HAProxy's map of the keys file."""

from __future__ import annotations

import pytest

from chat2responses.request.client_keys import key_digest, key_line, parse_keys
from deploy.policy import (
    FIRST_BACKOFF,
    MAX_BACKOFF,
    STABLE,
    check_instances,
    check_listen_host,
    exit_message,
    keys_map,
    next_backoff,
    standby_message,
)


@pytest.mark.parametrize(
    ("host", "keys", "refused"),
    [
        ("127.0.0.1", None, False),
        ("127.0.0.2", None, False),
        ("localhost", None, False),
        ("::1", None, False),
        ("[::1]", None, False),
        ("0.0.0.0", None, True),
        ("::", None, True),
        ("192.168.1.5", None, True),
        ("gateway.example", None, True),
        ("0.0.0.0", "keys.txt", False),
    ],
)
def test_beyond_loopback_only_with_keys(host: str, keys: str | None, refused: bool) -> None:
    problem = check_listen_host(host, keys)
    assert (problem is not None) is refused
    if problem:
        assert "--keys PATH" in problem and "chat2responses keys add" in problem


@pytest.mark.parametrize(("count", "ok"), [(0, False), (1, True), (2, True), (8, True), (9, False)])
def test_one_to_eight_instances(count: int, ok: bool) -> None:
    assert (check_instances(count) is None) is ok


@pytest.mark.parametrize(
    ("previous", "ran_for", "delay"),
    [
        (None, 0.1, FIRST_BACKOFF),
        (FIRST_BACKOFF, 1.0, FIRST_BACKOFF * 2),
        (8.0, 1.0, 16.0),
        (16.0, 1.0, MAX_BACKOFF),
        (MAX_BACKOFF, 1.0, MAX_BACKOFF),
        (MAX_BACKOFF, STABLE, FIRST_BACKOFF),  # it ran long enough: start over
    ],
)
def test_the_backoff_doubles_and_starts_over(
    previous: float | None, ran_for: float, delay: float
) -> None:
    assert next_backoff(previous, ran_for) == delay


def test_what_the_gateway_says_is_true_to_the_state() -> None:
    assert exit_message("c2r-1", -9, 0.5, ["c2r-2"]) == (
        "gateway: c2r-1 exited (killed by signal 9); starting it again in 0.5 s; HAProxy sends "
        "its conversations to c2r-2 meanwhile."
    )
    assert "no instance is left: clients get 503" in exit_message("c2r-2", 1, 1, [])
    assert "(status 1)" in exit_message("c2r-2", 1, 1, [])
    said = standby_message("c2r-2", -15, 4242, 9000)
    assert said.startswith("gateway: c2r-2 exited (killed by signal 15); its standby takes")
    assert "(pid 4242, 127.0.0.1:9000)" in said and "a new standby starts" in said


def test_haproxys_map_puts_the_digest_first() -> None:
    keys = parse_keys(key_line("bob", "kb") + key_line("alice", "ka"), "f")
    lines = keys_map(keys).splitlines()
    assert sorted(lines) == sorted([f"{key_digest('ka')} alice", f"{key_digest('kb')} bob"])
