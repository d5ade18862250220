"""The ECR provider (`ecr`, JSON 1.1): repositories and their settings, as `cdk bootstrap`
and CloudFormation's `AWS::ECR::Repository` use them. No images: Fireside serves no registry
(`docker push` has nowhere to go), so image operations are answered as not implemented.

ECR words a bad repository name its own way (`InvalidParameterException: Invalid parameter
at 'repositoryName' ...`), not as a Coral ValidationException, so the wire protocol checks
only required members and each operation checks the name first, then the model's other
constraints (`Validator`), in that order. Operations run in a worker thread under one lock
and commit before they answer. Repository policies are stored and returned, not evaluated:
another account's `registryId` reaches nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ModelledErrors, ServiceError, validation_error
from fireside.aws.model import load_service
from fireside.aws.pagination import token_page
from fireside.aws.validation import Validator
from fireside.ecr.store import EcrStore, Repository

__all__ = ["EcrProvider"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
Sync = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]

error = ModelledErrors("ecr")

MAX_REPOSITORIES: Final = 100_000  # per account and region, AWS's default quota
MAX_TAGS: Final = 50
#: The model's pattern (which allows `__` and runs of `-`, as ECR does since 2023).
_NAME_PATTERN: Final = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*"
_NAME: Final = re.compile(_NAME_PATTERN)
_ARN: Final = re.compile(
    r"^arn:aws[\w-]*:ecr:(?P<region>[^:]+):(?P<account>\d{12}):repository/(?P<name>.+)$"
)
_EXCLUSIONS: Final = frozenset({"MUTABLE_WITH_EXCLUSION", "IMMUTABLE_WITH_EXCLUSION"})


def _invalid(member: str, constraint: str) -> ServiceError:
    return error(
        "InvalidParameterException",
        f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'",
    )


def _registry(ctx: RequestContext, params: dict[str, Any]) -> str:
    return str(params.get("registryId") or ctx.account_id)


def _check_name(name: str) -> None:
    if not 2 <= len(name) <= 256 or _NAME.fullmatch(name) is None:
        raise _invalid("repositoryName", f"must satisfy regular expression '{_NAME_PATTERN}'")


def _check_tags(tags: list[dict[str, str]]) -> None:
    if len(tags) > MAX_TAGS:
        raise error(
            "TooManyTagsException",
            f"The number of tags exceeds the limit of {MAX_TAGS} tags per resource.",
        )


def _check_mutability(mutability: str, filters: list[dict[str, Any]] | None) -> None:
    if mutability in _EXCLUSIONS and not filters:
        raise _invalid(
            "imageTagMutabilityExclusionFilters",
            "ImageTagMutabilityExclusionFilters can't be null when imageTagMutability is set "
            f"as {mutability}",
        )
    if mutability not in _EXCLUSIONS and filters:
        raise _invalid(
            "imageTagMutabilityExclusionFilters",
            "ImageTagMutabilityExclusionFilters can only be set when imageTagMutability is "
            "set as MUTABLE_WITH_EXCLUSION or IMMUTABLE_WITH_EXCLUSION",
        )


class EcrProvider:
    def __init__(self, store: EcrStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        model = load_service("ecr")
        self._validators: dict[str, Validator] = {}
        for name in self._sync():
            shape = model.operation(name).input
            if shape is not None:
                self._validators[name] = Validator(shape)

    def _sync(self) -> dict[str, Sync]:
        return {
            "CreateRepository": self._create,
            "DescribeRepositories": self._describe,
            "DeleteRepository": self._delete,
            "PutLifecyclePolicy": self._put_lifecycle,
            "GetLifecyclePolicy": self._get_lifecycle,
            "DeleteLifecyclePolicy": self._delete_lifecycle,
            "SetRepositoryPolicy": self._set_policy,
            "GetRepositoryPolicy": self._get_policy,
            "DeleteRepositoryPolicy": self._delete_policy,
            "TagResource": self._tag,
            "UntagResource": self._untag,
            "ListTagsForResource": self._list_tags,
            "PutImageTagMutability": self._put_mutability,
            "PutImageScanningConfiguration": self._put_scanning,
        }

    def operations(self) -> dict[str, Operation]:
        return {name: self._threaded(name, fn) for name, fn in self._sync().items()}

    def _threaded(self, name: str, fn: Sync) -> Operation:
        validator = self._validators.get(name)

        def locked(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
            if isinstance(params.get("repositoryName"), str):
                _check_name(params["repositoryName"])
            if isinstance(params.get("repositoryNames"), list):
                for given in params["repositoryNames"]:
                    if isinstance(given, str):
                        _check_name(given)
            if validator is not None:
                problems = validator.problems(params)
                if problems:
                    raise validation_error(problems)
            with self._lock:
                return fn(ctx, params)

        async def operation(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
            return await asyncio.to_thread(locked, ctx, params)

        return operation

    def close(self) -> None:
        self.store.close()

    # -- helpers ------------------------------------------------------------------------------

    def _repository(self, ctx: RequestContext, params: dict[str, Any]) -> Repository:
        name: str = params["repositoryName"]
        registry = _registry(ctx, params)
        found = None
        if registry == ctx.account_id:
            found = self.store.get(ctx.account_id, ctx.region, name)
        if found is None:
            raise error(
                "RepositoryNotFoundException",
                f"The repository with name '{name}' does not exist in the registry with id "
                f"'{registry}'",
            )
        return found

    @staticmethod
    def _wire(repository: Repository) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "repositoryArn": repository.arn,
            "registryId": repository.account,
            "repositoryName": repository.name,
            "repositoryUri": repository.uri,
            "createdAt": datetime.fromtimestamp(repository.created, UTC),
            "imageTagMutability": repository.tag_mutability,
            "imageScanningConfiguration": {"scanOnPush": repository.scan_on_push},
            "encryptionConfiguration": dict(repository.encryption),
        }
        if repository.mutability_filters:
            wire["imageTagMutabilityExclusionFilters"] = repository.mutability_filters
        return wire

    @staticmethod
    def _named(repository: Repository, **extra: Any) -> dict[str, Any]:
        return {"registryId": repository.account, "repositoryName": repository.name, **extra}

    # -- repositories -------------------------------------------------------------------------

    def _create(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name: str = params["repositoryName"]
        registry = _registry(ctx, params)
        if registry != ctx.account_id:
            raise error(
                "InvalidParameterException",
                f"Invalid parameter at 'registryId' failed to satisfy constraint: 'must be "
                f"the registry of account {ctx.account_id}'",
            )
        if self.store.get(ctx.account_id, ctx.region, name) is not None:
            raise error(
                "RepositoryAlreadyExistsException",
                f"The repository with name '{name}' already exists in the registry with id "
                f"'{registry}'",
            )
        if self.store.count(ctx.account_id, ctx.region) >= MAX_REPOSITORIES:
            raise error(
                "LimitExceededException",
                f"The maximum number of repositories ({MAX_REPOSITORIES}) has been reached.",
            )
        mutability = params.get("imageTagMutability") or "MUTABLE"
        filters = params.get("imageTagMutabilityExclusionFilters")
        _check_mutability(mutability, filters)
        tags = list(params.get("tags") or [])
        _check_tags(tags)
        encryption = dict(params.get("encryptionConfiguration") or {"encryptionType": "AES256"})
        if encryption.get("encryptionType") == "AES256" and encryption.get("kmsKey"):
            raise _invalid(
                "encryptionConfiguration",
                "kmsKey can only be specified when encryptionType is KMS or KMS_DSSE",
            )
        repository = Repository(
            account=ctx.account_id,
            region=ctx.region,
            name=name,
            created=time.time(),
            tag_mutability=mutability,
            mutability_filters=filters,
            scan_on_push=bool((params.get("imageScanningConfiguration") or {}).get("scanOnPush")),
            encryption=encryption,
            tags=tags,
        )
        self.store.put(repository)
        return {"repository": self._wire(repository)}

    def _describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        names: list[str] | None = params.get("repositoryNames")
        if names:
            return {
                "repositories": [
                    self._wire(self._repository(ctx, {**params, "repositoryName": name}))
                    for name in dict.fromkeys(names)
                ]
            }
        if _registry(ctx, params) != ctx.account_id:
            return {"repositories": []}
        page, more = token_page(
            self.store.listing(ctx.account_id, ctx.region),
            lambda repository: repository.name,
            params.get("nextToken"),
            params.get("maxResults") or 100,
            scope="repositories",
            invalid=lambda: _invalid("nextToken", "Invalid NextToken"),
            cap=1000,
        )
        token = {"nextToken": more["NextToken"]} if more else {}
        return {"repositories": [self._wire(r) for r in page], **token}

    def _delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repository = self._repository(ctx, params)
        self.store.delete(repository)  # it holds no images: `force` changes nothing
        return {"repository": self._wire(repository)}

    def _put_mutability(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repository = self._repository(ctx, params)
        filters = params.get("imageTagMutabilityExclusionFilters")
        _check_mutability(params["imageTagMutability"], filters)
        repository.tag_mutability = params["imageTagMutability"]
        repository.mutability_filters = filters
        self.store.put(repository)
        extra = {"imageTagMutabilityExclusionFilters": filters} if filters else {}
        return self._named(repository, imageTagMutability=repository.tag_mutability, **extra)

    def _put_scanning(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repository = self._repository(ctx, params)
        repository.scan_on_push = bool(params["imageScanningConfiguration"].get("scanOnPush"))
        self.store.put(repository)
        scanning = {"scanOnPush": repository.scan_on_push}
        return self._named(repository, imageScanningConfiguration=scanning)

    # -- lifecycle and repository policies ----------------------------------------------------

    def _put_lifecycle(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repository = self._repository(ctx, params)
        text: str = params["lifecyclePolicyText"]
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
            raise _invalid(
                "LifecyclePolicyText",
                "Lifecycle policy validation failure: Could not map policyString into "
                "LifecyclePolicy.",
            )
        repository.lifecycle_policy = text
        self.store.put(repository)
        return self._named(repository, lifecyclePolicyText=text)

    def _lifecycle(self, ctx: RequestContext, params: dict[str, Any]) -> Repository:
        repository = self._repository(ctx, params)
        if repository.lifecycle_policy is None:
            raise error(
                "LifecyclePolicyNotFoundException",
                "Lifecycle policy does not exist for the repository with name "
                f"'{repository.name}' in the registry with id '{repository.account}'",
            )
        return repository

    def _get_lifecycle(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repository = self._lifecycle(ctx, params)
        return self._named(repository, lifecyclePolicyText=repository.lifecycle_policy)

    def _delete_lifecycle(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repository = self._lifecycle(ctx, params)
        text = repository.lifecycle_policy
        repository.lifecycle_policy = None
        self.store.put(repository)
        return self._named(repository, lifecyclePolicyText=text)

    def _set_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repository = self._repository(ctx, params)
        text: str = params["policyText"]
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if not isinstance(document, dict) or "Statement" not in document:
            raise _invalid("PolicyText", "Invalid repository policy provided")
        repository.policy = text
        self.store.put(repository)
        return self._named(repository, policyText=text)

    def _policy(self, ctx: RequestContext, params: dict[str, Any]) -> Repository:
        repository = self._repository(ctx, params)
        if repository.policy is None:
            raise error(
                "RepositoryPolicyNotFoundException",
                "Repository policy does not exist for the repository with name "
                f"'{repository.name}' in the registry with id '{repository.account}'",
            )
        return repository

    def _get_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repository = self._policy(ctx, params)
        return self._named(repository, policyText=repository.policy)

    def _delete_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repository = self._policy(ctx, params)
        text = repository.policy
        repository.policy = None
        self.store.put(repository)
        return self._named(repository, policyText=text)

    # -- tags -----------------------------------------------------------------------------------

    def _by_arn(self, ctx: RequestContext, arn: str) -> Repository:
        found = _ARN.match(arn)
        if found is None:
            raise _invalid("resourceArn", "Invalid ARN")
        params = {"repositoryName": found["name"], "registryId": found["account"]}
        if found["region"] != ctx.region:
            params["registryId"] = "(another region)"
        try:
            return self._repository(ctx, params)
        except ServiceError:
            raise error(
                "RepositoryNotFoundException",
                f"The repository with name '{found['name']}' does not exist in the registry "
                f"with id '{found['account']}'",
            ) from None

    def _tag(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repository = self._by_arn(ctx, params["resourceArn"])
        tags = {tag["Key"]: tag["Value"] for tag in repository.tags}
        for tag in params["tags"]:
            tags[tag["Key"]] = tag["Value"]
        merged = [{"Key": key, "Value": value} for key, value in tags.items()]
        _check_tags(merged)
        repository.tags = merged
        self.store.put(repository)
        return {}

    def _untag(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repository = self._by_arn(ctx, params["resourceArn"])
        gone = set(params["tagKeys"])
        repository.tags = [tag for tag in repository.tags if tag["Key"] not in gone]
        self.store.put(repository)
        return {}

    def _list_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"tags": list(self._by_arn(ctx, params["resourceArn"]).tags)}
