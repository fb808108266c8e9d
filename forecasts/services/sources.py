"""Recording who makes public statements."""

from django.db import transaction

from forecasts.models import Source


@transaction.atomic
def source_create(
    *,
    created_by,
    name: str,
    kind: str = Source.Kind.ORGANISATION,
    url: str = "",
    description: str = "",
    aliases=(),
) -> Source:
    """Add a source (an organisation or a person) whose statements can be recorded and scored."""
    aliases = [alias.strip() for alias in aliases if alias.strip()]
    source = Source(
        name=name.strip(), kind=kind, url=url, description=description, aliases=aliases, created_by=created_by
    )
    source.full_clean()
    source.save()
    return source
