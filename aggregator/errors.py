"""Aggregator errors: subclasses of the shared FinSync tree, each with its status."""

from data_sources.errors import (
    BadRequestError,
    FinSyncError,
    ServiceUnavailableError,
)


class UpstreamError(FinSyncError):
    """A statement service answered with an error or an unusable response (502)."""

    status, code, public_message = 502, "upstream_error", "A data source failed"
    #: How the fan-out reports this failure per source: "error" or "unavailable".
    source_status = "error"


class SourceUnavailableError(UpstreamError):
    """A statement service could not be reached or did not answer in time (502)."""

    code, public_message = "source_unavailable", "A data source is unavailable"
    source_status = "unavailable"


class SourcesUnavailableError(ServiceUnavailableError):
    """The run needs sources that did not answer (503)."""

    code = "sources_unavailable"
    public_message = "Required data sources are unavailable"


class UnknownCompanyError(BadRequestError):
    """The query names a company the registry does not know (400)."""

    code, public_message = "unknown_company", "Unknown company"


class PayloadTooLargeError(BadRequestError):
    """The request body is larger than the configured maximum (413)."""

    status, code = 413, "payload_too_large"
    public_message = "Request body too large"
