"""A test-only activity that takes its time, so a test can kill a worker in the middle."""

from psycopg import sql

from apps.campaigns.activities.base import Activity, register


@register
class TestSleep(Activity):
    type, label = "test_sleep", "Sleep (tests only)"

    def run(self, ctx):
        ctx.execute("SELECT pg_sleep(%s)", [float(ctx.node["settings"].get("seconds", 1))])
        source = ctx.inputs[0]
        return {"out": ctx.subset("out", source, sql.SQL("SELECT key FROM {}").format(ctx.ident(source.table)))}
