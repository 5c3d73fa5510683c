"""Tables and columns named from the models, for the few hot reads whose SQL is written once
rather than built by the ORM on every request (composing a query costs about a millisecond of
Python; the reads it serves take less). psycopg's `sql` module quotes every name, so nothing is
pasted into the text, and a renamed table or column changes the SQL with the model."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Field, Model
from psycopg import sql


def table(model: type[Model], alias: str) -> sql.Composable:
    """`"table" "alias"`, for a FROM or a JOIN."""
    return sql.SQL("{} {}").format(sql.Identifier(model._meta.db_table), sql.Identifier(alias))


def column(alias: str, model: type[Model], name: str) -> sql.Composable:
    """`"alias"."column"` of the model's field `name` (a foreign key's own column: `x_id`)."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field)  # a column, not a reverse relation
    assert field.column is not None
    return sql.Identifier(alias, field.column)


def columns_as(
    alias: str, model: type[Model], names: Iterable[str], prefix: str = ""
) -> sql.Composable:
    """`"alias"."column" AS "<prefix><name>", ...`: each field read under its own name."""
    return sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(column(alias, model, name), sql.Identifier(prefix + name))
        for name in names
    )
