"""SNS message signatures: AWS's string to sign, SHA1withRSA (version 1) and SHA256withRSA
(version 2), checked the way AWS tells endpoints to check them (fetch `SigningCertURL` from
the live server, unsigned; verify with its public key) and by a third-party validator
endpoints use (`aws-sns-message-validator` from PyPI); the key kept across restarts."""

from __future__ import annotations

import base64
import stat
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sns_message_validator import SignatureVerificationFailureException, SNSMessageValidator

from fireside.sns.signing import Signer
from tests.conftest import Server

TOPIC = "arn:aws:sns:us-east-1:000000000000:orders"

NOTIFICATION = {
    "Type": "Notification",
    "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
    "TopicArn": TOPIC,
    "Subject": "My First Message",
    "Message": "Hello world!\nwith a second line and ü",
    "Timestamp": "2012-05-02T00:54:06.655Z",
    "UnsubscribeURL": "http://127.0.0.1/?Action=Unsubscribe&SubscriptionArn=x",
}
CONFIRMATION = {
    "Type": "SubscriptionConfirmation",
    "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
    "Token": "2336412f37f",
    "TopicArn": TOPIC,
    "Message": "You have chosen to subscribe to the topic.",
    "SubscribeURL": "http://127.0.0.1/?Action=ConfirmSubscription&Token=2336412f37f",
    "Timestamp": "2012-04-26T20:45:04.751Z",
}


def aws_verify(message: Mapping[str, str]) -> None:
    """AWS's documented steps ("Verifying the signatures of Amazon SNS messages"), written
    from the page: fetch the certificate, extract its public key, build the string to sign
    from the message's fields, check the signature with SHA1 (version 1) or SHA256 (2).
    Raises InvalidSignature when the message does not verify."""
    with urllib.request.urlopen(message["SigningCertURL"], timeout=10) as response:
        verify_with(response.read(), message)


def verify_with(pem: bytes, message: Mapping[str, str]) -> None:
    """The checks after fetching the certificate (`pem`)."""
    certificate = x509.load_pem_x509_certificate(pem)
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    if message["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
        if "Subject" not in message:
            names.remove("Subject")
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{name}\n{message[name]}\n" for name in names)
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}[message["SignatureVersion"]]
    public_key.verify(
        base64.b64decode(message["Signature"]), text.encode(), padding.PKCS1v15(), algorithm
    )


def server_signer(server: Server) -> Signer:
    """The live server's own signing key (made in its data dir when it started)."""
    return Signer(server.data_dir / "sns-signing")


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("document", [NOTIFICATION, CONFIRMATION], ids=["notification", "confirm"])
def test_signed_messages_verify_against_the_served_certificate(
    server: Server, version: str, document: dict[str, str]
) -> None:
    signed = server_signer(server).sign(document, version, server.endpoint, "us-east-1")
    assert signed["SignatureVersion"] == version
    assert signed["SigningCertURL"].startswith(f"{server.endpoint}/_fireside/sns/")
    assert signed["SigningCertURL"].endswith(".pem")
    aws_verify(signed)
    for field in ("Message", "Timestamp", "TopicArn", "MessageId"):
        with pytest.raises(InvalidSignature):
            aws_verify({**signed, field: signed[field] + "x"})
    # The unsigned fields are not covered, as on AWS.
    aws_verify({**signed, "UnsubscribeURL": "elsewhere"})


def test_version_1_and_2_differ_and_a_notification_without_subject_verifies(
    server: Server,
) -> None:
    signer = server_signer(server)
    one = signer.sign(NOTIFICATION, "1", server.endpoint, "us-east-1")
    two = signer.sign(NOTIFICATION, "2", server.endpoint, "us-east-1")
    assert one["Signature"] != two["Signature"]
    with pytest.raises(InvalidSignature):  # a version-2 signature is not a version-1 one
        aws_verify({**two, "SignatureVersion": "1"})
    bare = {key: value for key, value in NOTIFICATION.items() if key != "Subject"}
    aws_verify(signer.sign(bare, "1", server.endpoint, "us-east-1"))
    with pytest.raises(ValueError):
        signer.sign(NOTIFICATION, "3", server.endpoint, "us-east-1")


def test_third_party_validator_accepts_fireside_messages(server: Server) -> None:
    """aws-sns-message-validator (PyPI) does what endpoints do, SignatureVersion 1 only;
    told that Fireside's endpoint is where certificates come from, it accepts the message
    and refuses a tampered one."""
    signed = server_signer(server).sign(NOTIFICATION, "1", server.endpoint, "us-east-1")
    validator = SNSMessageValidator(cert_url_regex=rf"^{server.endpoint}/_fireside/sns/")
    validator.validate_message(signed)
    with pytest.raises(SignatureVerificationFailureException):
        validator.validate_message({**signed, "Message": "forged"})
    confirmation = server_signer(server).sign(CONFIRMATION, "1", server.endpoint, "us-east-1")
    validator.validate_message(confirmation)


def test_the_key_is_private_and_kept_across_restarts(
    fresh_server: Callable[..., Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    srv = fresh_server(data, FIRESIDE_CREDENTIALS="111111111111:secret")
    signer = Signer(data / "sns-signing")
    key_file = data / "sns-signing" / "sns-signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "sns-signing").stat().st_mode) == 0o700
    signed = signer.sign(NOTIFICATION, "2", srv.endpoint, "us-east-1")
    # Fetched without any signature, from a server that requires them for its APIs.
    aws_verify(signed)
    with urllib.request.urlopen(signed["SigningCertURL"], timeout=10) as response:
        assert response.status == 200
        assert response.read() == signer.certificate_pem()
    srv.stop()
    again = fresh_server(data, FIRESIDE_CREDENTIALS="111111111111:secret")
    assert Signer(data / "sns-signing").fingerprint == signer.fingerprint
    # A message signed before the restart still verifies against the certificate served now.
    aws_verify({**signed, "SigningCertURL": signed["SigningCertURL"].replace(
        srv.endpoint, again.endpoint
    )})  # fmt: skip


def test_another_certificate_name_is_not_found(server: Server) -> None:
    wrong = f"{server.endpoint}/_fireside/sns/SimpleNotificationService-{'0' * 32}.pem"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(wrong, timeout=10)
    caught.value.close()
    assert caught.value.code == 404
