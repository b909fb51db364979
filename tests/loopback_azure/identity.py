"""Microsoft Entra ID's OAuth 2.0 client-credentials flow, enough for azure-identity (MSAL).

``GET /<tenant>/v2.0/.well-known/openid-configuration`` (OpenID Connect discovery) and
``POST /<tenant>/oauth2/v2.0/token`` (form body). A service principal signs in with the server's client id and
secret, or with a client assertion (workload identity federation: any non-empty assertion is accepted).
Errors are OAuth's shape (``{"error", "error_description", "error_codes"}``, RFC 6749 5.2), with the AADSTS
codes Entra ID uses. Tokens are opaque to clients; the server accepts them on every ARM route.
"""

from __future__ import annotations

from typing import Any

from .core import Azure
from .wire import NAME, Request, Response, Router


def _oauth_error(status: int, error: str, aadsts: int, description: str) -> Response:
    return Response(
        status, {"error": error, "error_description": f"AADSTS{aadsts}: {description}", "error_codes": [aadsts]}
    )


def openid_configuration(az: Azure, req: Request, tenant: str) -> Response:
    base = f"{req.base_url}/{tenant}"
    return Response(
        200,
        {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "tenant_region_scope": "EU",
        },
    )


def token(az: Azure, req: Request, tenant: str) -> Response:
    if tenant.lower() not in (az.tenant.lower(), "organizations"):
        return _oauth_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
    form = req.form()
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
    if not form.get("scope"):
        return _oauth_error(400, "invalid_scope", 1002012, "The provided value for scope is not valid.")
    client_id = form.get("client_id", "")
    if client_id != az.client_id:
        return _oauth_error(
            400, "unauthorized_client", 700016, f"Application with identifier '{client_id}' was not found."
        )
    if form.get("client_assertion"):
        pass  # federated credential: the loopback cannot check the issuer's signature
    elif form.get("client_secret") != az.client_secret:
        return _oauth_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
    access, _expires = az.issue_token(client_id)
    body: dict[str, Any] = {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": access}
    return Response(200, body)


def register(router: Router, az: Azure) -> None:
    router.add(
        "GET",
        rf"/(?P<tenant>{NAME})/v2\.0/\.well-known/openid-configuration",
        lambda r, m: openid_configuration(az, r, m["tenant"]),
        arm=False,
    )
    router.add("POST", rf"/(?P<tenant>{NAME})/oauth2/v2\.0/token", lambda r, m: token(az, r, m["tenant"]), arm=False)
