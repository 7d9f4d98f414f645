"""Size limits on uploads, enforced before and while the body is read.

Django reads an upload while parsing ``request.POST``/``FILES`` (the CSRF check
does it first), so a limit must be in place before that: ``limit_upload``
refuses a declared ``Content-Length`` over the limit without reading a byte,
and installs ``SizeLimitHandler`` first among the upload handlers so that a body
sent without a truthful length is cut off as soon as it passes the limit.
"""

from __future__ import annotations

from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class SizeLimitHandler(FileUploadHandler):
    """Stop parsing once the files of a request pass ``limit`` bytes."""

    def __init__(self, request, limit: int):
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return raw_data  # the next handlers store it

    def file_complete(self, file_size):
        return None


def limit_upload(request, limit: int) -> SizeLimitHandler | None:
    """Return None if the request declares a body over ``limit``; else install a
    handler that enforces it while reading (check its ``exceeded`` afterwards).

    Call it before anything reads ``request.POST`` or ``request.FILES``.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    handler = SizeLimitHandler(request, limit)
    request.upload_handlers.insert(0, handler)
    return handler
