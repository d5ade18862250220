"""`Code.ZipFile` of AWS::Lambda::Function: inline source packaged as CloudFormation does.

CloudFormation writes inline Node.js and Python source to a file named `index` (`index.js`,
`index.py`), zips it, and adds its `cfn-response` helper (`cfnresponse` in Python), which
inline custom-resource handlers import to answer the stack's presigned response URL. The
helpers here are Fireside's own, with the same interface: `send(event, context, status,
data, physical_id=None, no_echo=False, reason=None)` and `SUCCESS` / `FAILED`.

The archive is deterministic (fixed timestamps and modes), so the same source gives the same
CodeSha256 and a template deployed again updates nothing.
"""

from __future__ import annotations

import io
import zipfile

__all__ = ["package_inline"]

_PY_RESPONSE = '''"""Answer a CloudFormation custom resource request (Fireside's cfnresponse)."""
import json
import urllib.request

SUCCESS = "SUCCESS"
FAILED = "FAILED"


def send(event, context, responseStatus, responseData, physicalResourceId=None,
         noEcho=False, reason=None):
    log_stream = getattr(context, "log_stream_name", "")
    body = {
        "Status": responseStatus,
        "Reason": reason or "See the details in CloudWatch Log Stream: " + log_stream,
        "PhysicalResourceId": physicalResourceId or log_stream,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": noEcho,
        "Data": responseData,
    }
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        event["ResponseURL"], data=data, method="PUT",
        headers={"content-type": "", "content-length": str(len(data))},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            print("Status code:", answer.status)
    except Exception as error:  # as AWS's helper: report, do not raise
        print("send(..) failed executing request:", error)
'''

_JS_RESPONSE = """// Answer a CloudFormation custom resource request (Fireside's cfn-response).
exports.SUCCESS = "SUCCESS";
exports.FAILED = "FAILED";
exports.send = function (event, context, responseStatus, responseData, physicalResourceId,
                         noEcho, reason) {
  return new Promise((resolve, reject) => {
    const logStream = context.logStreamName || "";
    const body = JSON.stringify({
      Status: responseStatus,
      Reason: reason || "See the details in CloudWatch Log Stream: " + logStream,
      PhysicalResourceId: physicalResourceId || logStream,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
      NoEcho: noEcho || false,
      Data: responseData,
    });
    const url = new URL(event.ResponseURL);
    const transport = require(url.protocol === "https:" ? "https" : "http");
    const request = transport.request(url, {
      method: "PUT",
      headers: { "content-type": "", "content-length": Buffer.byteLength(body) },
    }, (response) => {
      console.log("Status code: " + response.statusCode);
      response.resume();
      response.on("end", () => { resolve(); context.done && context.done(); });
    });
    request.on("error", (error) => {
      console.log("send(..) failed executing https.request(..): " + error);
      resolve();
      context.done && context.done();
    });
    request.write(body);
    request.end();
  });
};
"""


def _add(archive: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o100644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def package_inline(runtime: str, source: str) -> bytes | None:
    """The deployment package CloudFormation makes of inline `source`, or None when the
    runtime takes no inline code (only Node.js and Python do)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if runtime.startswith("python"):
            _add(archive, "index.py", source)
            _add(archive, "cfnresponse.py", _PY_RESPONSE)
        elif runtime.startswith("nodejs"):
            _add(archive, "index.js", source)
            _add(archive, "node_modules/cfn-response/index.js", _JS_RESPONSE)
        else:
            return None
    return buffer.getvalue()
