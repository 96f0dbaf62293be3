import io
from apps.audiences import selectors, services
from apps.audiences.rules.schema import check_definition, RuleError, Schema
from tests.factories import make_travel_model

def test_scratch(workspace, alice):
    make_travel_model(workspace)
    s = Schema.load(workspace)
    for k, e in s.entities.items():
        print(k, list(s.attributes[e.pk]), list(s.outgoing[e.pk]), list(s.incoming[e.pk]))
    d = {"entity": "customer", "rule": {"all": [{"attr": "country", "op": "in", "value": ["NL", "DE"]},
          {"related": "bookings", "exists": True, "where": {"attr": "product.category", "op": "eq", "value": "ski"}}]}}
    c = check_definition(workspace=workspace, definition=d)
    print(selectors.count(definition=c))
    print(selectors.sample(definition=c))
    print(selectors.distribution(definition=c, attribute="country"))
    print(selectors.group_counts(workspace=workspace, definition=d, path="rule"))
    print(selectors.explain_sql(definition=c))
    try:
        check_definition(workspace=workspace, definition={"entity": "customer", "rule": {"all": [{"attr": "country", "op": "zz"}, {"attr": "nope"}]}})
    except RuleError as e:
        print(e.problems)
    a = services.audience_create(workspace=workspace, actor=alice, name="A", definition=d)
    snap = services.snapshot_create(workspace=workspace, actor=alice, name="S", source=a, enqueue=False)
    snap = services.snapshot_build(audience_id=snap.pk)
    print(snap.status, snap.size, snap.status_message)
    up = services.upload_create(workspace=workspace, actor=alice, name="U", entity=s.entities["customer"], stream=io.BytesIO(b"customer_id\n1\n2\n99\nabc\n1\n"))
    print(up.size, up.upload_report)
    print(b"".join(services.export_rows(audience=up, attributes=["customer_id", "first_name"])))
    print(selectors.audience_usages(a))
    assert 0
