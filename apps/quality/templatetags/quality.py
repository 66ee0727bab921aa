from django import template

register = template.Library()


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


@register.filter
def seconds(ms: float | None) -> str:
    return "—" if ms is None else f"{ms / 1000:.1f} s"


@register.filter(name="get")
def get_item(mapping: dict, key):
    return mapping.get(key) if mapping else None
