from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MediaType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEDIA_TYPE_UNKNOWN: _ClassVar[MediaType]
    MEDIA_TYPE_WORLD_HEADER: _ClassVar[MediaType]
    MEDIA_TYPE_WORLD_ICON: _ClassVar[MediaType]
    MEDIA_TYPE_CHARACTER_AVATAR: _ClassVar[MediaType]
    MEDIA_TYPE_POST_IMAGE: _ClassVar[MediaType]
MEDIA_TYPE_UNKNOWN: MediaType
MEDIA_TYPE_WORLD_HEADER: MediaType
MEDIA_TYPE_WORLD_ICON: MediaType
MEDIA_TYPE_CHARACTER_AVATAR: MediaType
MEDIA_TYPE_POST_IMAGE: MediaType

class MediaMetadata(_message.Message):
    __slots__ = ("character_id", "world_id", "filename", "content_type", "size")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    character_id: str
    world_id: str
    filename: str
    content_type: str
    size: int
    def __init__(self, character_id: _Optional[str] = ..., world_id: _Optional[str] = ..., filename: _Optional[str] = ..., content_type: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class MediaVariant(_message.Message):
    __slots__ = ("name", "url", "width", "height")
    NAME_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    name: str
    url: str
    width: int
    height: int
    def __init__(self, name: _Optional[str] = ..., url: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class GetMediaRequest(_message.Message):
    __slots__ = ("media_id",)
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    media_id: str
    def __init__(self, media_id: _Optional[str] = ...) -> None: ...

class Media(_message.Message):
    __slots__ = ("media_id", "character_id", "world_id", "filename", "content_type", "size", "variants", "created_at", "media_type")
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    VARIANTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    media_id: str
    character_id: str
    world_id: str
    filename: str
    content_type: str
    size: int
    variants: _containers.RepeatedCompositeFieldContainer[MediaVariant]
    created_at: str
    media_type: MediaType
    def __init__(self, media_id: _Optional[str] = ..., character_id: _Optional[str] = ..., world_id: _Optional[str] = ..., filename: _Optional[str] = ..., content_type: _Optional[str] = ..., size: _Optional[int] = ..., variants: _Optional[_Iterable[_Union[MediaVariant, _Mapping]]] = ..., created_at: _Optional[str] = ..., media_type: _Optional[_Union[MediaType, str]] = ...) -> None: ...

class GetMediaURLRequest(_message.Message):
    __slots__ = ("media_id", "variant", "expires_in")
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    media_id: str
    variant: str
    expires_in: int
    def __init__(self, media_id: _Optional[str] = ..., variant: _Optional[str] = ..., expires_in: _Optional[int] = ...) -> None: ...

class GetMediaURLResponse(_message.Message):
    __slots__ = ("url", "expires_at")
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    url: str
    expires_at: int
    def __init__(self, url: _Optional[str] = ..., expires_at: _Optional[int] = ...) -> None: ...

class OptimizeImageRequest(_message.Message):
    __slots__ = ("media_id", "variants_to_create")
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    VARIANTS_TO_CREATE_FIELD_NUMBER: _ClassVar[int]
    media_id: str
    variants_to_create: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, media_id: _Optional[str] = ..., variants_to_create: _Optional[_Iterable[str]] = ...) -> None: ...

class OptimizeImageResponse(_message.Message):
    __slots__ = ("variants",)
    VARIANTS_FIELD_NUMBER: _ClassVar[int]
    variants: _containers.RepeatedCompositeFieldContainer[MediaVariant]
    def __init__(self, variants: _Optional[_Iterable[_Union[MediaVariant, _Mapping]]] = ...) -> None: ...

class GetPresignedUploadURLRequest(_message.Message):
    __slots__ = ("world_id", "character_id", "filename", "content_type", "size", "media_type")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    character_id: str
    filename: str
    content_type: str
    size: int
    media_type: MediaType
    def __init__(self, world_id: _Optional[str] = ..., character_id: _Optional[str] = ..., filename: _Optional[str] = ..., content_type: _Optional[str] = ..., size: _Optional[int] = ..., media_type: _Optional[_Union[MediaType, str]] = ...) -> None: ...

class GetPresignedUploadURLResponse(_message.Message):
    __slots__ = ("media_id", "upload_url", "expires_at")
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    media_id: str
    upload_url: str
    expires_at: int
    def __init__(self, media_id: _Optional[str] = ..., upload_url: _Optional[str] = ..., expires_at: _Optional[int] = ...) -> None: ...

class ConfirmUploadRequest(_message.Message):
    __slots__ = ("media_id",)
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    media_id: str
    def __init__(self, media_id: _Optional[str] = ...) -> None: ...

class ConfirmUploadResponse(_message.Message):
    __slots__ = ("success", "variants")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    VARIANTS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    variants: _containers.RepeatedCompositeFieldContainer[MediaVariant]
    def __init__(self, success: _Optional[bool] = ..., variants: _Optional[_Iterable[_Union[MediaVariant, _Mapping]]] = ...) -> None: ...

class HealthCheckRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthCheckResponse(_message.Message):
    __slots__ = ("status",)
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[HealthCheckResponse.Status]
        SERVING: _ClassVar[HealthCheckResponse.Status]
        NOT_SERVING: _ClassVar[HealthCheckResponse.Status]
    UNKNOWN: HealthCheckResponse.Status
    SERVING: HealthCheckResponse.Status
    NOT_SERVING: HealthCheckResponse.Status
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: HealthCheckResponse.Status
    def __init__(self, status: _Optional[_Union[HealthCheckResponse.Status, str]] = ...) -> None: ...
