"""Names and tags the AWS data providers give what they create (pure logic)."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from paramedic.providers.aws.data_common import derived_id, safe_name, short_id, user_tags
from paramedic.providers.aws.data_specs import RdsSpec
from paramedic.providers.aws.elasticache import restored_cluster_id
from paramedic.providers.aws.rds_restore import aside_name, restored_name

RDS_ID = re.compile(r"^[A-Za-z](-?[A-Za-z0-9])*$")


def test_names_carry_a_stable_short_incident_id() -> None:
    incident = "inc-20261125T120000-orders-ab12"
    assert short_id(incident) == short_id(incident)
    assert restored_name("orders", incident) == f"orders-r{short_id(incident)}"
    assert aside_name("orders", incident) == f"orders-damaged-{short_id(incident)}"


@pytest.mark.parametrize("base", ["a" * 63, "a" * 54 + "-b" * 4, "x"])
def test_derived_names_stay_valid_identifiers(base: str) -> None:
    for name in (restored_name(base, "i"), aside_name(base, "i")):
        assert len(name) <= 63 and RDS_ID.match(name), name
    assert len(restored_cluster_id(base.lower(), "i")) <= 40


def test_derived_id_never_leaves_a_double_hyphen() -> None:
    assert derived_id("ab-cd", "r1", 6) == "ab-r1"


def test_safe_name_of_a_drill_id() -> None:
    assert safe_name("orders_db-20261125T120000") == "orders-db-20261125t120000"


def test_copied_tags_drop_paramedic_and_aws_ones() -> None:
    found = [
        {"Key": "team", "Value": "a"},
        {"Key": "paramedic:incident", "Value": "old"},
        {"Key": "aws:cloudformation:stack-name", "Value": "s"},
    ]
    assert user_tags(found) == {"team": "a"}


def test_route53_cutover_needs_its_record() -> None:
    with pytest.raises(ValidationError, match="cutover: route53 needs route53"):
        RdsSpec(db_instance_identifier="orders", cutover="route53")
    with pytest.raises(ValidationError):
        RdsSpec(db_instance_identifier="orders--db")
