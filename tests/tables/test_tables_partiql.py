"""PartiQL: ExecuteStatement, BatchExecuteStatement, ExecuteTransaction."""

from __future__ import annotations

from typing import Any

from tests.tables.conftest import TableFactory
from tests.tables.test_tables_items import error_of


def test_select_insert_update_delete(ddb: Any, make_table: TableFactory) -> None:
    table = make_table(range_key=("sk", "N"))
    ddb.execute_statement(
        Statement=f"INSERT INTO \"{table}\" VALUE {{'pk': 'a', 'sk': 1, 'tags': <<'x', 'y'>>, 'm': {{'k': [1, 'two', true, null]}}}}"
    )
    ddb.execute_statement(
        Statement=f"INSERT INTO {table} VALUE {{'pk': ?, 'sk': ?, 'price': ?}}",
        Parameters=[{"S": "b"}, {"N": "2"}, {"N": "9.5"}],
    )
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"]
    assert sorted(item["tags"]["SS"]) == ["x", "y"]
    assert item["m"] == {
        "M": {"k": {"L": [{"N": "1"}, {"S": "two"}, {"BOOL": True}, {"NULL": True}]}}
    }
    assert error_of(
        ddb.execute_statement, Statement=f"INSERT INTO {table} VALUE {{'pk': 'a', 'sk': 1}}"
    ) == ("DuplicateItemException", "Duplicate primary key exists in table")
    everything = ddb.execute_statement(Statement=f"SELECT * FROM {table}")["Items"]
    assert len(everything) == 2
    cheap = ddb.execute_statement(
        Statement=f'SELECT "price" FROM "{table}" WHERE price BETWEEN 9 AND 10 AND tags IS MISSING'
    )["Items"]
    assert cheap == [{"price": {"N": "9.5"}}]
    one = ddb.execute_statement(
        Statement=f"SELECT sk FROM {table} WHERE pk = ? AND sk = ?",
        Parameters=[{"S": "a"}, {"N": "1"}],
    )["Items"]
    assert one == [{"sk": {"N": "1"}}]
    ddb.execute_statement(
        Statement=f"UPDATE {table} SET note = 'hi' REMOVE tags WHERE pk = 'a' AND sk = 1"
    )
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"]
    assert item["note"] == {"S": "hi"} and "tags" not in item
    assert (
        error_of(
            ddb.execute_statement,
            Statement=f"UPDATE {table} SET note = 'x' WHERE pk = 'zz' AND sk = 1",
        )[0]
        == "ConditionalCheckFailedException"
    )
    assert error_of(ddb.execute_statement, Statement=f"DELETE FROM {table} WHERE pk = 'a'") == (
        "ValidationException",
        "Where clause does not contain a mandatory equality on all key attributes",
    )
    ddb.execute_statement(Statement=f"DELETE FROM {table} WHERE pk = 'a' AND sk = 1")
    assert len(ddb.execute_statement(Statement=f"SELECT * FROM {table}")["Items"]) == 1
    assert error_of(ddb.execute_statement, Statement="SELECT * FROM nowhere")[0] == (
        "ResourceNotFoundException"
    )
    assert error_of(ddb.execute_statement, Statement=f"SELECT * FROM {table}.nope") == (
        "ValidationException",
        "The table does not have the specified index",
    )
    code, message = error_of(ddb.execute_statement, Statement=f"SELEKT * FROM {table}")
    assert code == "ValidationException"
    assert message.startswith("Statement wasn't well formed, can't be processed")


def test_batch_and_transaction(ddb: Any, make_table: TableFactory) -> None:
    table = make_table()
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    responses = ddb.batch_execute_statement(
        Statements=[
            {"Statement": f"SELECT * FROM {table} WHERE pk = ?", "Parameters": [{"S": "a"}]},
            {"Statement": f"SELECT * FROM {table} WHERE v = 1"},
            {"Statement": f"INSERT INTO {table} VALUE {{'pk': 'b'}}"},
        ]
    )["Responses"]
    assert responses[0] == {"TableName": table, "Item": {"pk": {"S": "a"}, "v": {"N": "1"}}}
    assert responses[1]["Error"]["Code"] == "ValidationError"
    assert responses[2] == {"TableName": table}
    ddb.execute_transaction(
        TransactStatements=[
            {"Statement": f"UPDATE {table} SET v = 2 WHERE pk = 'a'"},
            {"Statement": f"DELETE FROM {table} WHERE pk = 'b'"},
        ]
    )
    got = ddb.execute_transaction(
        TransactStatements=[{"Statement": f"SELECT v FROM {table} WHERE pk = 'a'"}]
    )["Responses"]
    assert got == [{"Item": {"v": {"N": "2"}}}]
    code, _ = error_of(
        ddb.execute_transaction,
        TransactStatements=[
            {"Statement": f"UPDATE {table} SET v = 3 WHERE pk = 'a'"},
            {"Statement": f"UPDATE {table} SET v = 3 WHERE pk = 'missing'"},
        ],
    )
    assert code == "TransactionCanceledException"
