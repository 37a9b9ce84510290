"""The aws.ec2 / aws.asg specs, sentences and IAM lists: pure logic, no AWS."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from paramedic.catalog.model import Catalog, Strategy
from paramedic.providers.aws import asg, ec2, elbv2, route53
from paramedic.providers.aws.compute_specs import Ec2Spec, LaunchTemplateRef
from paramedic.providers.aws.route53 import HealthCheckStatus

STEP: TypeAdapter[Strategy] = TypeAdapter(Strategy)
INSTANCE = "i-0123456789abcdef0"


def test_restart_defaults_to_ssm_with_a_command_else_reboot() -> None:
    assert Ec2Spec(instance_id=INSTANCE).restart_mode == "reboot"
    spec = Ec2Spec.model_validate(
        {"instance_id": INSTANCE, "restart_command": ["systemctl", "restart", "my app"]}
    )
    assert spec.restart_mode == "ssm"
    assert spec.restart_line == "systemctl restart 'my app'"
    line = Ec2Spec.model_validate({"instance_id": INSTANCE, "restart_command": "a && b"})
    assert line.restart_line == "a && b"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"restart_by": "ssm"}, "restart_by: ssm needs restart_command"),
        ({"device": "/dev/sdf"}, "device applies only with data_volume"),
        ({"launch_template": {}}, "give exactly one of id or name"),
        (
            {"launch_template": {"id": "lt-0123456789abcdef0", "name": "web"}},
            "give exactly one of id or name",
        ),
        ({"on_replace": "delete"}, "Input should be 'stop' or 'terminate'"),
    ],
)
def test_spec_mistakes_are_named(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Ec2Spec.model_validate({"instance_id": INSTANCE, **spec})


def test_launch_template_reference_as_the_api_wants_it() -> None:
    assert LaunchTemplateRef(name="web").as_api() == {
        "LaunchTemplateName": "web",
        "Version": "$Default",
    }
    ref = LaunchTemplateRef(id="lt-0123456789abcdef0", version="3")
    assert ref.as_api() == {"LaunchTemplateId": "lt-0123456789abcdef0", "Version": "3"}


def test_iam_actions_cover_exactly_the_compute_features() -> None:
    keys = (
        set(ec2.IAM_ACTIONS)
        | set(asg.IAM_ACTIONS)
        | set(elbv2.IAM_ACTIONS)
        | set(route53.IAM_ACTIONS)
    )
    assert keys == {
        "aws.ec2:restart_service",
        "aws.ec2:replace_instance",
        "aws.asg:replace_instance",
        "aws.asg:scale_out",
        "check:aws.ec2_status",
        "check:aws.target_health",
        "check:aws.route53_health",
        "fault:aws.ec2:stop-instance",
        "fault:aws.ec2:reboot-instance",
        "repoint:target_group",
        "repoint:route53",
        "repoint:elastic_ip",
        "repoint:network_interface",
        "repoint:data_volume",
        "start:aws.ec2",
        "terminate:aws.ec2",
    }


def test_describe_says_what_a_replacement_does() -> None:
    catalog = Catalog.model_validate(
        {
            "version": 1,
            "components": {
                "web": {
                    "type": "application_server",
                    "rto": "5m",
                    "rpo": "0s",
                    "provider": "aws.ec2",
                    "spec": {
                        "instance_id": INSTANCE,
                        "elastic_ip": "eipalloc-0abc",
                        "target_group_arns": [
                            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1"
                        ],
                        "route53": {"zone_id": "Z1", "name": "web.example.internal"},
                    },
                    "health": {"check": "aws.ec2_status"},
                }
            },
        }
    )
    provider = ec2.Ec2Provider(catalog=catalog, name="web")
    assert provider.describe(STEP.validate_python({"strategy": "replace_instance"})) == (
        "launch a replacement of web's instance from the failed instance's AMI, type, subnet, "
        "security groups and tags, move Elastic IP eipalloc-0abc to it, register it in 1 target "
        "group(s), UPSERT web.example.internal A to its IP, stop the failed instance and tag it "
        "with the incident"
    )
    assert provider.describe(STEP.validate_python({"strategy": "restart_service"})) == (
        "reboot web's instance (start it if it is stopped)"
    )


def test_route53_health_is_a_majority_of_checkers() -> None:
    assert HealthCheckStatus("h", 2, 3, "").healthy
    assert not HealthCheckStatus("h", 1, 2, "").healthy
    assert not HealthCheckStatus("h", 0, 0, "").healthy


def test_target_group_name_from_its_arn() -> None:
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/50dc6c495c0c9188"
    assert elbv2.group_name(arn) == "web"


def test_the_launch_token_is_unique_per_incident_and_step_and_fits_the_api() -> None:
    from paramedic.providers.aws.ec2_replace import client_token

    long_a = "inc-20261125T231252-" + "a" * 63 + "-0001"
    long_b = "inc-20261125T231252-" + "a" * 63 + "-0002"
    tokens = {client_token(i, s) for i in (long_a, long_b) for s in (0, 1)}
    assert len(tokens) == 4
    assert all(len(t) <= 64 for t in tokens)
    assert client_token(long_a, 0) == client_token(long_a, 0)
