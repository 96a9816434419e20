"""`GET …/v1/models[/{id}]`, answered from the catalog in use (responses_rewrite=all); any other
method there is a 405, as on the paths the addon rewrites."""

from __future__ import annotations

from urllib.parse import unquote

from mitmproxy import http

from chat2responses.glue.flows import forget_upstream_auth, refuse
from chat2responses.protocol.errors import ClientError
from chat2responses.upstream.catalog import Catalog
from chat2responses.upstream.models_list import model_list, models_path, one_model


def answer_models(flow: http.HTTPFlow, catalog: Catalog) -> None:
    is_models, model_id = models_path(flow.request.path)
    if not is_models:
        return
    if flow.request.method != "GET":
        message = f"{flow.request.method} is not allowed here; use GET."
        refuse(flow, ClientError(message, status=405, headers={"allow": "GET"}))
        return
    try:
        body = model_list(catalog) if model_id is None else one_model(catalog, unquote(model_id))
    except ClientError as err:
        refuse(flow, err)
        return
    forget_upstream_auth(flow)
    flow.response = http.Response.make(200, body, {"content-type": "application/json"})
    flow.comment = "chat2responses answered it from the model catalog"
