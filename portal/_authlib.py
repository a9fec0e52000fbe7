"""Authlib's server side over Starlette: Authlib is synchronous and reads the request itself, Starlette reads bodies
asynchronously, so the query and the form are read first and handed over as plain values."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request

__all__ = ["FormPayload", "FormRequest"]


class FormPayload(OAuth2Payload):  # type: ignore[misc]
    """The request's parameters (query, then form) as Authlib reads them."""

    def __init__(self, values: list[tuple[str, str]]) -> None:
        self._data = dict(values)
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in values:
            self._datalist[key].append(value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """An Authlib request whose query and form were read beforehand."""

    def __init__(
        self, method: str, uri: str, headers: Any, query: list[tuple[str, str]], form: list[tuple[str, str]]
    ) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self.payload = FormPayload(query + form)
        self._args = dict(query)
        self._form = dict(form)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form
