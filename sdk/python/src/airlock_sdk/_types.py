"""Column types and table schemas, as `Connector.discover` returns them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Iterable


class ColumnType:
    """The type of a destination column. Use the constants (`ColumnType.INT`,
    ...) and `ColumnType.decimal(precision, scale)`.

    | type | Python values a cell takes |
    | --- | --- |
    | BOOLEAN | `bool` |
    | INT | `int` (64-bit) |
    | FLOAT | `float` or `int` |
    | TEXT | `str` |
    | BYTES | `bytes`, `bytearray`, `memoryview` |
    | TIMESTAMP | `datetime` (naive means UTC) or `int` microseconds since the epoch |
    | DATE | `date` or `int` days since the epoch |
    | DECIMAL | `decimal.Decimal`, `int` or `str` in plain notation ("-12.50") |
    | JSON | `str` (already JSON text) or anything `json.dumps` takes |

    `None` is null, on a nullable column.
    """

    __slots__ = ("name", "precision", "scale")

    BOOLEAN: ClassVar["ColumnType"]
    INT: ClassVar["ColumnType"]
    FLOAT: ClassVar["ColumnType"]
    TEXT: ClassVar["ColumnType"]
    BYTES: ClassVar["ColumnType"]
    TIMESTAMP: ClassVar["ColumnType"]
    DATE: ClassVar["ColumnType"]
    JSON: ClassVar["ColumnType"]

    def __init__(self, name: str, precision: int = 0, scale: int = 0) -> None:
        self.name = name
        self.precision = precision
        self.scale = scale

    @staticmethod
    def decimal(precision: int, scale: int) -> "ColumnType":
        """An exact decimal: `precision` digits in all (1..=38), `scale` of them
        after the point. `ColumnType.decimal(12, 2)` holds -9999999999.99 to
        9999999999.99."""
        return ColumnType("decimal", precision, scale)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ColumnType) and (self.name, self.precision, self.scale) == (
            other.name,
            other.precision,
            other.scale,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.precision, self.scale))

    def __repr__(self) -> str:
        if self.name == "decimal":
            return f"ColumnType.decimal({self.precision}, {self.scale})"
        return f"ColumnType.{self.name.upper()}"


for _name in ("boolean", "int", "float", "text", "bytes", "timestamp", "date", "json"):
    setattr(ColumnType, _name.upper(), ColumnType(_name))


@dataclass(frozen=True)
class Column:
    """One column of a `Table`."""

    name: str
    type: ColumnType
    nullable: bool


class Table:
    """A table the connector writes: its name, columns in row order, primary key.

        Table("users").column("id", ColumnType.INT).nullable("email", ColumnType.TEXT).key("id")

    A table without a primary key is append-only: upserts insert and deletes
    are refused by the host.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.columns: list[Column] = []
        self.primary_key: list[str] = []

    def column(self, name: str, type: ColumnType) -> "Table":
        """Adds a column that never holds null."""
        self.columns.append(Column(name, type, False))
        return self

    def nullable(self, name: str, type: ColumnType) -> "Table":
        """Adds a column that may hold `None`."""
        self.columns.append(Column(name, type, True))
        return self

    def key(self, *columns: str | Iterable[str]) -> "Table":
        """Sets the primary key: column names, in the order a key given to
        `Output.delete` lists its values."""
        names: list[str] = []
        for c in columns:
            names.extend([c] if isinstance(c, str) else c)
        self.primary_key = names
        return self

    def __repr__(self) -> str:
        cols = ", ".join(f"{c.name}: {c.type!r}{'?' if c.nullable else ''}" for c in self.columns)
        return f"Table({self.name!r}, [{cols}], key={self.primary_key!r})"
