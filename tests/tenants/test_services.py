"""Tenants services with no screen of their own: users and agency memberships."""

from django.contrib.auth import get_user_model

from apps.tenants import services
from apps.tenants.models import Membership
from tests.factories import OrganizationFactory, UserFactory


def test_user_create_makes_a_login_with_a_lowercase_email(db):
    user = services.user_create(email="Ann@Example.TEST", password="s3cret-enough", first_name="Ann")
    user.refresh_from_db()
    assert (user.email, user.first_name, user.last_name, user.is_staff, user.is_superuser) == (
        "ann@example.test", "Ann", "", False, False)
    assert user.check_password("s3cret-enough") and not user.check_password("other")


def test_user_create_makes_a_superuser_when_asked(db):
    root = services.user_create(email="root@example.test", password="s3cret-enough", superuser=True)
    assert (root.is_staff, root.is_superuser) == (True, True)
    assert get_user_model().objects.count() == 1


def test_organization_member_add_keeps_the_role_of_someone_already_in(db):
    agency = OrganizationFactory()
    user = UserFactory()
    # when a user is added as owner
    added = services.organization_member_add(organization=agency, user=user, role="owner")
    assert (added.organization, added.user, added.role) == (agency, user, "owner")
    # then adding them again (as a member) neither duplicates nor demotes them
    again = services.organization_member_add(organization=agency, user=user)
    assert again.pk == added.pk
    assert list(Membership.objects.values_list("organization", "user", "role")) == [(agency.pk, user.pk, "owner")]


def test_organization_member_add_defaults_to_member(db):
    agency = OrganizationFactory()
    membership = services.organization_member_add(organization=agency, user=UserFactory())
    assert membership.role == "member" and Membership.objects.count() == 1
