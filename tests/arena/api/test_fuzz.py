"""A bounded schemathesis run over the whole OpenAPI description: no operation answers 5xx,
whatever the body, query, path or header, on SQLite and PostgreSQL.

Outbound calls are off: no trusted hosts, and the submission address check refuses every
URL before anything is resolved or dialled (the fuzzed URLs are recorded, never reached).
Examples per operation are few (FUZZ_EXAMPLES), so the run fits CI on two cores.
"""

from __future__ import annotations

import dataclasses
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings

from generators.net_guard import BlockedAddressError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
VOTER = "fuzz-voter-0001"
ADMIN_TOKEN = "fuzz-admin-token-0123456789"


@pytest.fixture
def settings(settings):
    # generous limits, so the run explores the API instead of collecting 429s
    return dataclasses.replace(
        settings,
        submission_trusted_hosts="",
        admin_token=ADMIN_TOKEN,
        battles_per_minute=100_000,
        battles_per_day=100_000,
        votes_per_minute=100_000,
        votes_per_day=100_000,
        ip_battles_per_minute=100_000,
        ip_votes_per_minute=100_000,
        ip_requests_per_minute=100_000,
        new_voters_per_hour=100_000,
        generation_timeout_s=10,
    )


@pytest.fixture
def dialled(monkeypatch) -> list[str]:
    urls: list[str] = []

    async def refuse(url: str, allow_private: bool = False) -> None:
        urls.append(url)
        raise BlockedAddressError("no outbound calls while fuzzing")

    monkeypatch.setattr("arena.services.submissions.check_url", refuse)
    return urls


def test_no_operation_answers_a_server_error(server, dialled):
    # hypothesis strategies per operation, not schemathesis' pytest plugin (its lazy loader
    # does not run on pytest 9): the same generation, one bounded run per operation
    schema = schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json")
    problems: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,  # the same examples on every run: CI is reproducible
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def call(case) -> None:
            sent = {k.lower() for k in case.headers or {}}
            headers = {} if "x-arena-voter" in sent else {"X-Arena-Voter": VOTER}
            if "/admin/" in case.path and "authorization" not in sent:
                headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
            response = case.call(headers=headers, timeout=60)
            where = f"{case.method} {case.formatted_path}"
            if response.status_code >= 500:
                problems.append(f"{where}: {response.status_code} {response.text[:200]}")
            elif response.status_code >= 400 and case.method != "HEAD" and "error" not in response.json():
                problems.append(f"{where}: {response.status_code} without an error: {response.text[:200]}")

        call()
    assert operations >= 15
    assert problems == []
    assert server.arena.submissions._probes == {}  # nothing was probed: no URL got past the check
