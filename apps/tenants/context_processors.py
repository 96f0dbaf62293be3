from .selectors import workspaces_grouped


def workspaces(request):
    """The workspace switcher: every workspace the user reaches, grouped by agency.
    Lazy, so pages that do not render the switcher pay no query."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    cache: dict = {}

    def grouped():
        if "v" not in cache:
            cache["v"] = workspaces_grouped(user)
        return cache["v"]

    return {"switcher_groups": grouped, "current_workspace": getattr(request, "workspace", None)}
