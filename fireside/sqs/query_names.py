"""SQS's query-protocol wire names, and the query description made from the json model with them.

SQS's query API (`Action=SendMessage&...`, XML answers; what SDKs before 2024, the AWS CLI v1
and the Java SDK v1 send) has the same operations, members and shapes as the json API botocore
uses today, but names lists and maps differently, and botocore's json model no longer carries
those names. This table holds them, written from the request and response examples of AWS's
SQS API reference: every SQS list and map is flattened (no wrapping element), a list's
elements travel under a singular name, a map's entries as `<Entry>.N.<Key>` / `<Entry>.N.<Value>`:

    Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=40      <Attribute><Name>..</Name>..
    MessageAttribute.1.Value.StringValue=x                        <MessageAttribute>..
    SendMessageBatchRequestEntry.2.MessageBody=...                <SendMessageBatchResultEntry>
    AttributeName.1=All                                           <QueueUrl>..</QueueUrl>

`query_description` applies the table to botocore's json description of SQS (a copy), giving
the description `fireside.aws.query.QueryProtocol` reads and writes with: the model's shapes,
our wire names, each result inside `<OperationResult>`, SQS's XML namespace.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["LISTS", "MAPS", "NAMESPACE", "query_description"]

NAMESPACE: Final = "http://queue.amazonaws.com/doc/2012-11-05/"

#: A list member (json member name) -> the name each of its elements travels under.
LISTS: Final = {
    "AttributeNames": "AttributeName",
    "MessageAttributeNames": "MessageAttributeName",
    "MessageSystemAttributeNames": "MessageSystemAttributeName",
    "TagKeys": "TagKey",
    "AWSAccountIds": "AWSAccountId",
    "Actions": "ActionName",
    "QueueUrls": "QueueUrl",
    "queueUrls": "QueueUrl",
    "Messages": "Message",
    "StringListValues": "StringListValue",
    "BinaryListValues": "BinaryListValue",
    "Failed": "BatchResultErrorEntry",
    "Results": "ListMessageMoveTasksResultEntry",
}
#: The batch operations' lists: `Entries` and `Successful` elements are named by operation.
_BATCH_ENTRIES: Final = {
    "Entries": "{operation}RequestEntry",
    "Successful": "{operation}ResultEntry",
}
_BATCHES: Final = ("SendMessageBatch", "DeleteMessageBatch", "ChangeMessageVisibilityBatch")

#: A map member (json member name) -> (entry name, key name, value name).
MAPS: Final = {
    "Attributes": ("Attribute", "Name", "Value"),
    "MessageAttributes": ("MessageAttribute", "Name", "Value"),
    "MessageSystemAttributes": ("MessageSystemAttribute", "Name", "Value"),
    "Tags": ("Tag", "Key", "Value"),
    "tags": ("Tag", "Key", "Value"),
}


def _list_name(structure: str, member: str, operation_of: Mapping[str, str]) -> str | None:
    if member in _BATCH_ENTRIES:
        operation = operation_of.get(structure)
        return None if operation is None else _BATCH_ENTRIES[member].format(operation=operation)
    return LISTS.get(member)


def query_description(
    json_description: Mapping[str, Any], unnamed: list[str] | None = None
) -> dict[str, Any]:
    """SQS's query-protocol description: botocore's json one with the wire names above.

    A list or map member the table does not name (a newer botocore's SQS feature) gets a
    guess (its element shape's name, or the member's name without its plural `s`) and is
    added to `unnamed`: the table should then be extended (`tests/test_sqs_query.py` checks
    that nothing is guessed for the botocore installed)."""
    description = copy.deepcopy(dict(json_description))
    metadata = description["metadata"]
    metadata["protocol"] = "query"
    metadata["protocols"] = ["query"]
    metadata["xmlNamespace"] = NAMESPACE
    for key in ("jsonVersion", "targetPrefix", "awsQueryCompatible"):
        metadata.pop(key, None)
    shapes: dict[str, Any] = description["shapes"]
    # Batch requests and results -> their operation (entries are named after it).
    operation_of: dict[str, str] = {}
    for name, operation in description["operations"].items():
        if "output" in operation:
            operation["output"]["resultWrapper"] = f"{name}Result"
        if name in _BATCHES:
            for ref in ("input", "output"):
                operation_of[operation[ref]["shape"]] = name
    added: dict[str, Any] = {}
    for structure_name, structure in shapes.items():
        if structure["type"] != "structure":
            continue
        for member, ref in structure.get("members", {}).items():
            target = shapes[ref["shape"]]
            if target["type"] not in ("list", "map"):
                continue
            # A copy per use, so one shape used under two names gets both.
            clone = copy.deepcopy(target)
            clone["flattened"] = True
            ref["flattened"] = True
            guess = member.removesuffix("s")
            if target["type"] == "list":
                element = _list_name(structure_name, member, operation_of)
                if element is None:
                    element_shape = target["member"]["shape"]
                    structured = shapes[element_shape]["type"] == "structure"
                    element = element_shape if structured else guess
                    if unnamed is not None:
                        unnamed.append(f"{structure_name}.{member}")
                clone["member"]["locationName"] = element
            else:
                if member not in MAPS and unnamed is not None:
                    unnamed.append(f"{structure_name}.{member}")
                entry, key, value = MAPS.get(member, (guess, "Name", "Value"))
                ref["locationName"] = entry
                clone["key"]["locationName"] = key
                clone["value"]["locationName"] = value
            clone_name = f"{structure_name}{member[0].upper()}{member[1:]}Query"
            added[clone_name] = clone
            ref["shape"] = clone_name
    shapes.update(added)
    return description
