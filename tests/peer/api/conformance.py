"""Running schemathesis against a served Quantix API (in-process or the lab)."""

from __future__ import annotations

from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Operations fuzzing must not run: the stream never ends and logout would end
# nothing useful (bearer tokens have no session).
SKIP = {"stream_events"}


def run_conformance(
    base_url: str, token: str, max_examples: int = 10, verify: bool = True
) -> tuple[list[str], int]:
    """Fuzz every operation of the served document; return the failures (empty:
    pass) and how many calls were made."""
    headers = {"Authorization": f"Bearer {token}"}
    session = requests.Session()
    # verify=False for the lab's self-signed certificates; trust_env=False so that
    # REQUESTS_CA_BUNDLE in the environment cannot override it.
    session.trust_env = False
    session.verify = verify
    doc = session.get(f"{base_url}/api/v1/openapi.json", headers=headers, timeout=10).json()
    schema = schemathesis.openapi.from_dict(doc)
    failures: list[str] = []
    calls = [0]
    for result in schema.get_all_operations():
        op = result.ok()
        if op.definition.raw.get("operationId") in SKIP:
            continue

        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def fuzz(case: Any) -> None:
            calls[0] += 1
            resp = case.call(base_url=base_url, session=session, headers=headers, verify=verify)
            case.validate_response(resp, checks=CHECKS)

        try:
            fuzz()
        except requests.ConnectionError as e:  # the server is gone: stop, do not fuzz on
            failures.append(f"{op.label}: cannot connect: {e}")
            break
        except Exception as e:  # one operation's failure must not hide the others'
            failures.append(f"{op.label}: {str(e)[:1500]}")
    return failures, calls[0]
