"""The OpenAPI spec documents responses as well as requests: a named schema for every route."""

import httpx


def test_every_route_declares_a_named_response_schema_and_the_error_shape(server):
    spec = httpx.get(f"{server.url}/api/v1/openapi.json", timeout=10).json()
    missing, no_errors = [], []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            success = next(body for status, body in responses.items() if status.startswith("2"))
            content = success.get("content", {})
            if "application/json" in content:
                schema = content["application/json"]["schema"]
                named = schema.get("$ref") or schema.get("items", {}).get("$ref")
                if not named:
                    missing.append(f"{method.upper()} {path}")
            elif not content:  # binary routes name their media types instead
                missing.append(f"{method.upper()} {path}")
            error = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if error.get("$ref") != "#/components/schemas/ErrorOut":
                no_errors.append(f"{method.upper()} {path}")
    assert missing == [], f"routes without a named response schema: {missing}"
    assert no_errors == [], f"routes whose 422 is not documented as {{'error': ...}}: {no_errors}"
    schemas = spec["components"]["schemas"]
    assert schemas["CastVote"]["properties"]["winner"]["$ref"].endswith("/Winner")
    assert set(schemas["Winner"]["enum"]) == {"model_a", "model_b", "tie", "both_bad"}
    assert set(schemas["Modality"]["enum"]) == {"text", "image", "3d"}
