"""factory_boy factories. Sub-factories share one workspace: pass `workspace=`."""

import factory
from django.contrib.auth import get_user_model

from apps.tenants import services
from apps.tenants.models import ApiKey, Membership, Organization, OrganizationRole, Workspace

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Agency {n}")
    slug = factory.Sequence(lambda n: f"agency-{n}")


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Client {n}")
    slug = factory.Sequence(lambda n: f"client-{n}")
    time_zone = "Europe/Amsterdam"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = OrganizationRole.MEMBER


def grant(user, workspace, role):
    """Give `user` a workspace role, as a workspace admin would."""
    services.member_set_role(workspace=workspace, actor=None, user=user, role=role)
    return user


def make_api_key(workspace, role="marketer", **kwargs) -> tuple[ApiKey, str]:
    return services.api_key_create(workspace=workspace, actor=None, name=kwargs.pop("name", f"key-{role}"),
                                   role=role, **kwargs)
