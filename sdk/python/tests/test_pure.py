"""The SDK's pure parts, in a plain Python: schemas, config parsing and
values by column type. (The rest needs the host: tests/all/python.rs.)"""

import datetime as dt
import json
import sys
import unittest
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from airlock_sdk import ColumnType, Table, _columns, _config  # noqa: E402


@dataclass
class Inner:
    port: int = 5432


@dataclass
class Config:
    """Makes up users."""

    path: Annotated[str, "Where the API lives."]
    users: Annotated[int, "How many users."] = 1000
    ratio: float = 0.5
    token: Optional[str] = None
    mode: Literal["full", "incremental"] = "full"
    tags: list[str] = field(default_factory=list)
    inner: Inner = field(default_factory=Inner)


class Schemas(unittest.TestCase):
    def test_a_dataclass_becomes_a_json_schema(self):
        s = _config.schema_of(Config)
        self.assertEqual(s["required"], ["path"])
        self.assertEqual(s["description"], "Makes up users.")
        self.assertEqual(s["properties"]["users"], {"type": "integer", "description": "How many users.", "default": 1000})
        self.assertEqual(s["properties"]["token"]["type"], ["string", "null"])
        self.assertEqual(s["properties"]["mode"]["enum"], ["full", "incremental"])
        self.assertEqual(s["properties"]["inner"]["properties"]["port"]["type"], "integer")
        self.assertFalse(s["additionalProperties"])
        json.dumps(s)

    def test_parsing_names_the_field_and_never_the_value(self):
        c = _config.parse(Config, {"path": "/x", "ratio": 1, "inner": {"port": 1}})
        self.assertEqual((c.path, c.users, c.ratio, c.inner.port), ("/x", 1000, 1.0, 1))
        cases = [
            ({"path": "/x", "users": "secret"}, "users", "expected an integer, got a string"),
            ({"path": "/x", "users": True}, "users", "expected an integer, got a boolean"),
            ({"path": "/x", "tags": ["a", 2]}, "tags[1]", "expected a string, got an integer"),
            ({"path": "/x", "inner": {"prot": 1}}, "inner.prot", "unknown field"),
            ({"path": "/x", "mode": "both"}, "mode", "expected one of `full`, `incremental`"),
            ({}, "", "missing field `path`"),
        ]
        for data, path, problem in cases:
            with self.assertRaises(_config.ParseError) as e:
                _config.parse(Config, data)
            self.assertEqual(e.exception.path, path, data)
            self.assertIn(problem, e.exception.problem, data)
            self.assertNotIn("secret", str(e.exception))


class Columns(unittest.TestCase):
    def test_values_become_column_slots(self):
        self.assertEqual(_columns.column(ColumnType.INT, (1, None, 3)), ([True, False, True], "int", [1, 0, 3]))
        self.assertEqual(_columns.column(ColumnType.FLOAT, (1, 2.5)), ([], "float", [1.0, 2.5]))
        self.assertEqual(_columns.column(ColumnType.TEXT, ("ab", "é")), ([], "text", (b"ab\xc3\xa9", [2, 4])))
        self.assertEqual(_columns.column(ColumnType.JSON, ({"a": 1}, "[1]")), ([], "json", (b'{"a":1}[1]', [7, 10])))
        self.assertEqual(_columns.column(ColumnType.TEXT, (None, None)), ([], "null", None))
        t = dt.datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        self.assertEqual(_columns.column(ColumnType.TIMESTAMP, (t, 7)), ([], "timestamp", [-3_598_999_995, 7]))
        self.assertEqual(_columns.column(ColumnType.DATE, (dt.date(1969, 12, 31),)), ([], "date", [-1]))
        d = _columns.column(ColumnType.decimal(10, 2), (Decimal("1E+2"), "-1.50", 3))
        self.assertEqual(d, ([], "decimal", (b"100-1.503", [3, 8, 9])))

    def test_a_value_of_another_type_is_a_mismatch(self):
        for ctype, values in [
            (ColumnType.INT, (1, "2")),
            (ColumnType.INT, (True,)),
            (ColumnType.BOOLEAN, (1,)),
            (ColumnType.TEXT, (b"x",)),
            (ColumnType.DATE, (dt.datetime(2020, 1, 1),)),
            (ColumnType.TIMESTAMP, (False,)),
        ]:
            with self.assertRaises(_columns.Mismatch, msg=f"{ctype} {values}"):
                _columns.column(ctype, values)
        # As a single value it keeps its own type, so the host can name it.
        self.assertEqual(_columns.value("2", ColumnType.INT), ("text", "2"))
        self.assertEqual(_columns.value(3, ColumnType.FLOAT), ("float", 3.0))
        self.assertEqual(_columns.value(Decimal("2.5")), ("decimal", "2.5"))

    def test_tables_chain(self):
        t = Table("t").column("id", ColumnType.INT).nullable("n", ColumnType.TEXT).key("id")
        self.assertEqual([(c.name, c.nullable) for c in t.columns], [("id", False), ("n", True)])
        self.assertEqual(t.primary_key, ["id"])


if __name__ == "__main__":
    unittest.main()
