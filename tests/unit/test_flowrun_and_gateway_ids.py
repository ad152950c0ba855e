"""The one promise-id rule: the CLI's ``--id`` and the gateway's ``{"id"}`` agree."""

from __future__ import annotations

import pytest

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.flows import FLOWS
from resonate_rpc_cli.contracts.ids import MAX_ID_LEN, origin_of, root_id_problem
from resonate_rpc_cli.observe.flowrun import choose_id
from services.gateway_app import BadRequest, validate_id

GOOD = ["x", "my.app.workflow", "order-42", "x" * MAX_ID_LEN]
BAD = ["", "x" * (MAX_ID_LEN + 1), "a b", "a\tb", "a\x00b", "a:b"]


@pytest.mark.parametrize("value", GOOD)
def test_good_ids_pass_cli_and_gateway(value: str) -> None:
    assert root_id_problem(value) is None
    assert choose_id(FLOWS["await-chain"], value, fresh=False) == value
    assert validate_id(value) == value


@pytest.mark.parametrize("value", BAD)
def test_bad_ids_fail_cli_and_gateway_alike(value: str) -> None:
    problem = root_id_problem(value)
    assert problem is not None
    with pytest.raises(UsageError, match="bad --id"):
        choose_id(FLOWS["await-chain"], value, fresh=False)
    with pytest.raises(BadRequest) as caught:
        validate_id(value)
    assert problem in str(caught.value)


def test_origin_of_is_the_part_before_the_first_colon() -> None:
    assert origin_of("root") == "root"
    assert origin_of("root:1.2") == "root"
    assert origin_of("my.app:1") == "my.app"
