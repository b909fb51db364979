"""A loopback Azure for the tests: Azure ML + Azure Resource Manager + Microsoft Entra ID on 127.0.0.1, over TLS.

The Azure provider's tests run the real SDK clients (azure-ai-ml's MLClient, azure-mgmt-resource-deployments,
azure-identity) over real HTTP against it; datastore uploads go to Azurite (``tests/loopback_azure/azurite.py``).

Start it::

    from tests.loopback_azure import LoopbackAzure

    with LoopbackAzure(state_dir=tmp_path / "azure", latency=0.0) as az:
        ml = az.ml_client()                  # MLClient on az (unique cloud name, TLS trusted)
        ...

or from the shell (prints its URL, CA certificate and identities; runs until interrupted)::

    python -m tests.loopback_azure --port 8443 [--latency-ms 20] [--state-dir DIR] [--azurite URL]

API (``LoopbackAzure``):

- where: ``url`` (``https://127.0.0.1:PORT/``), ``port``, ``ca_path`` (trust it through ``REQUESTS_CA_BUNDLE`` or
  ``connection_verify``), ``authority`` (for ``ClientSecretCredential(..., authority=az.authority,
  disable_instance_discovery=True)``), ``cloud_name`` + ``cloud_metadata`` (MLClient's ``cloud=`` and
  ``cloud_metadata=``: a new cloud name per server, since azure-ai-ml's cloud table is process-global),
  ``cloud_config`` (an mlplan.yaml ``cloud:`` mapping), ``tenant``, ``subscription_id``, ``resource_group``,
  ``workspace``, ``workspace_id``, ``location``, ``client_id`` / ``client_secret`` (the service principal the token
  endpoint accepts), ``env()`` (REQUESTS_CA_BUNDLE and AZURE_TENANT_ID / CLIENT_ID / CLIENT_SECRET /
  AUTHORITY_HOST for a process talking to it).
- clients: ``credential()`` (a TokenCredential with a token the server accepts), ``ml_client(credential=None,
  workspace_name=None, resource_group=None)``.
- behaviour: ``latency`` (seconds added to every request), ``lro_seconds`` (how long a long-running operation
  runs, default 0.05), ``job_seconds`` (how long a command job is Running, default 0.3), ``page_size`` (list
  items per page before ``nextLink``, default 50), ``require_auth``.
- faults: ``inject(status=429, retry_after=None, times=1, path_contains=None, method=None)`` (Azure's error shape;
  ``times=None``: every matching request; ``retry_after`` seconds go out as ``retry-after-ms``, and as
  ``Retry-After`` too when whole: azure-core reads Retry-After first), ``inject_reset(times=1, path_contains=None,
  method=None)`` (the connection dropped with a TCP reset, no answer), ``fail_operations(path_contains=None,
  times=1, code=..., message=...)`` (the long-running operation a matching request starts ends Failed, the
  resource's provisioningState too), ``clear_faults()``. Faults and latency apply to every route, the token
  endpoint and operation polls included; narrow them with ``path_contains`` / ``method``.
- what happened: ``calls`` (``Call(method, path, query, status)`` per request, in order; status 0 = reset),
  ``max_in_flight`` (the most requests served at once), ``clear_calls()`` (both).
- arranging: ``add_workspace(name, resource_group=None)`` (dev / qa / prd workspaces), ``attach_storage(blob_url)``
  (Azurite; then ``upload_template`` is azure-ai-ml's blob URL template for it),
  ``resource(arm_id)`` (a copy or None), ``edit(arm_id, change)`` (a change made in the studio: drift),
  ``set_scorer(endpoint, fn, deployment=None)`` (what scoring answers), ``finish_job(name, status)``,
  ``reset()`` (a fresh, empty "Azure").

What it serves, with the REST API version each shape follows (named in each module): ``workspace.py``
(resource groups, workspaces, datastores + listSecrets, discovery), ``assets.py`` (data, environments, models,
codes: containers and immutable versions, startPendingUpload), ``computes.py``, ``endpoints.py`` (online
endpoints, deployments, keys, scoring), ``jobs.py`` (command jobs), ``arm.py`` + ``template.py`` (template
deployments at resource-group scope and what-if), ``identity.py`` (OpenID metadata and the client-credentials
token endpoint), ``lro.py`` (long-running operations). Errors are ARM's ``{"error": {"code", "message"}}``.
pytest fixtures (``tests/loopback_azure/fixtures.py``, a plugin of tests/conftest.py): ``loopback_azure`` (a fresh
server per test, ``env()`` set and ``AZUREML_CURRENT_CLOUD`` cleared for the test), ``loopback_azure_module``,
``azurite`` (per session), ``loopback_azure_storage`` (``loopback_azure`` on Azurite, uploads pointed there in this
process and, through ``env()``, in the ``mlplan`` processes the test starts).

Not served: data-plane run history (``jobs.stream``), registries, batch endpoints, workspace creation through
ARM's ML provider, template links and copy loops. An unserved call answers 404 ``InvalidResourceType`` naming it.
"""

from __future__ import annotations

from .server import Call, Fault, LoopbackAzure

__all__ = ["Call", "Fault", "LoopbackAzure"]
