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


TRAVEL_MODEL = "apps/demo/data/northwind-travel.json"

TRAVEL_ROWS = {
    "customer": (
        b"customer_id,email,phone,first_name,last_name,country,city,language,birth_date,loyalty_tier,created_at\n"
        b"1,anna@example.test,+31612345678,Anna,Jansen,NL,Amsterdam,nl,1985-03-14,gold,2024-01-05T10:00:00Z\n"
        b"2,ben@example.test,,Ben,Meyer,DE,Berlin,de,1990-07-01,silver,2024-02-10T09:30:00Z\n"
        b"3,chloe@example.test,+33612345678,Chloe,Martin,FR,Paris,fr,,none,2024-03-01T08:00:00Z\n"
    ),
    "product": (
        b"product_id,name,category,destination_country,price\n"
        b"100,Alps ski week,ski,AT,1250.00\n101,Algarve beach,beach,PT,640.50\n"
    ),
    "booking": (
        b"booking_id,customer_id,product_id,booked_at,start_date,end_date,amount,currency,status\n"
        b"1000,1,100,2024-05-01T12:00:00Z,2025-01-10,2025-01-17,1250.00,EUR,confirmed\n"
        b"1001,1,101,2024-06-01T12:00:00Z,2024-08-01,2024-08-08,640.50,EUR,completed\n"
        b"1002,2,100,2024-07-01T12:00:00Z,2025-02-01,2025-02-08,1250.00,EUR,cancelled\n"
    ),
}


def make_travel_model(workspace, *, rows: bool = True):
    """The demo travel model (customer, product, booking) in `workspace`, with a few rows."""
    import io
    import json
    from pathlib import Path

    from django.conf import settings

    from apps.datamodel.ingestion import Options, ingest_csv
    from apps.datamodel.modeldoc import model_import
    from apps.datamodel.models import Entity

    doc = json.loads((Path(settings.BASE_DIR) / TRAVEL_MODEL).read_text())
    model_import(workspace=workspace, actor=None, doc=doc)
    entities = {e.key: e for e in Entity.objects.filter(workspace=workspace)}
    if rows:
        for key in ("customer", "product", "booking"):
            report = ingest_csv(entity=entities[key], stream=io.BytesIO(TRAVEL_ROWS[key]), options=Options())
            assert report.status == "done", report.as_dict()
    return entities
