"""The checks scripts/api-fuzz adds to schemathesis' own (loaded through
SCHEMATHESIS_HOOKS).

API.md promises that every error leaves the server as RFC 9457
problem+json naming what to fix; schemathesis can only check the media type
the OpenAPI document declares, so this also checks the body's shape.
"""

import schemathesis

# The Problem schema's required members and their JSON types. Other members
# (`field`, `code`, future ones) are allowed: RFC 9457 lets problems carry
# extensions.
REQUIRED = {"type": str, "title": str, "status": int, "detail": str}


@schemathesis.check
def problem_json(ctx, response, case):
    """Every 4xx and 5xx is application/problem+json with type, title,
    status (the response's own) and a non-empty detail."""
    if response.status_code < 400:
        return None
    # A HEAD answer has no body by HTTP (tus' HEAD /v1/uploads/{id}); its
    # headers are what the problem+json GET would send.
    if case.method.upper() == "HEAD":
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.split(";")[0].strip().lower() != "application/problem+json":
        raise AssertionError(
            f"a {response.status_code} answered with content-type {content_type!r}, "
            "not application/problem+json"
        )
    try:
        body = response.json()
    except Exception as e:  # any parse failure is the finding itself
        raise AssertionError(f"a {response.status_code} problem body is not JSON: {e}")
    if not isinstance(body, dict):
        raise AssertionError(f"a {response.status_code} problem body is not an object: {body!r}")
    for name, kind in REQUIRED.items():
        value = body.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise AssertionError(f"problem member `{name}` is missing or not a {kind.__name__}: {body!r}")
    if body["status"] != response.status_code:
        raise AssertionError(f"problem status {body['status']} differs from the response's {response.status_code}")
    if not body["detail"].strip():
        raise AssertionError(f"problem `detail` is empty: {body!r}")
    if "field" in body and not isinstance(body["field"], str):
        raise AssertionError(f"problem `field` is not a string: {body!r}")
    return None


# tus PATCH bodies (/v1/uploads/{id}) are raw bytes, sent as
# application/octet-stream bodies are.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


def _tolerate_cpython_ast_bug():
    """CPython 3.11.7's ast.parse can raise "AST constructor recursion depth
    mismatch" (CPython gh-106905, fixed in 3.11.8) when hypothesis parses
    a lambda's source only to print the strategy's repr; schemathesis then
    reports a runtime error for that operation. The repr is cosmetic, so
    fall back to hypothesis' own "unknown lambda" text."""
    from hypothesis.internal import lambda_sources

    parse = lambda_sources._lambda_description

    def described(f):
        try:
            return parse(f)
        except SystemError:
            return "lambda: <unknown>"

    lambda_sources._lambda_description = described


_tolerate_cpython_ast_bug()
