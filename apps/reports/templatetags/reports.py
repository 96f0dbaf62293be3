from django import template

register = template.Library()


@register.filter
def pct(value, digits: int = 1) -> str:
    """A rate (0.1234) as a percentage ("12.3 %"); "–" where there is none."""
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:.{int(digits)}f} %"
