"""The errors the app tells apart: what Event Grid should retry, and what it must not."""


class AuditError(Exception):
    """Base class of the app's own errors."""


class ConfigurationError(AuditError):
    """An app setting is missing or unusable; the message names the setting."""


class MalformedEvent(AuditError):
    """The event cannot be interpreted; retrying it can never succeed."""


class OutOfScope(MalformedEvent):
    """The event is about something this audit log does not record (e.g. another resource type)."""


class StorageError(AuditError):
    """Table Storage did not accept a request."""


class TransientStorageError(StorageError):
    """Storage is unreachable, throttled or failing; Event Grid should retry the event."""


class StorageAccessError(StorageError):
    """Storage refused the credential or its access (wrong key, missing role, no credential): waiting
    never heals it; the message says what to fix."""


class PermanentStorageError(StorageError):
    """Storage rejected the entity itself (too large, invalid); a retry would fail the same way."""


class UnfaithfulDecoding(AuditError):
    """The worker handed over less than the event held (an old decoder); Event Grid must redeliver it."""
