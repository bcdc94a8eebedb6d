"""The simulator's one error type; each system's view renders it in its own dialect."""

from __future__ import annotations


class SimulatorError(Exception):
    """A refusal by a simulated system.

    ``code`` is the NetSuite ``o:errorCode`` (ERP); ``rest_code`` is the code the PSA,
    CRM and CLM APIs answer (derived from ``code`` when not given); ``field`` becomes
    NetSuite's ``o:errorPath``. ``headers`` go on the answer (``WWW-Authenticate``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        rest_code: str | None = None,
        retry_after_seconds: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.rest_code = rest_code or code.lower()
        self.retry_after_seconds = retry_after_seconds
        self.headers = headers or {}
