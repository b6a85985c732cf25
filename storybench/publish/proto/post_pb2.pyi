from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreatePostRequest(_message.Message):
    __slots__ = ("user_id", "character_id", "caption", "media_id", "world_id", "is_ai", "tags")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    IS_AI_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    character_id: str
    caption: str
    media_id: str
    world_id: str
    is_ai: bool
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_id: _Optional[str] = ..., character_id: _Optional[str] = ..., caption: _Optional[str] = ..., media_id: _Optional[str] = ..., world_id: _Optional[str] = ..., is_ai: _Optional[bool] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateAIPostRequest(_message.Message):
    __slots__ = ("character_id", "caption", "media_id", "world_id", "tags")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    character_id: str
    caption: str
    media_id: str
    world_id: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, character_id: _Optional[str] = ..., caption: _Optional[str] = ..., media_id: _Optional[str] = ..., world_id: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class CreatePostResponse(_message.Message):
    __slots__ = ("post_id", "created_at")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    created_at: str
    def __init__(self, post_id: _Optional[str] = ..., created_at: _Optional[str] = ...) -> None: ...

class GetPostRequest(_message.Message):
    __slots__ = ("post_id", "world_id")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    world_id: str
    def __init__(self, post_id: _Optional[str] = ..., world_id: _Optional[str] = ...) -> None: ...

class GetUserPostsRequest(_message.Message):
    __slots__ = ("user_id", "limit", "offset", "world_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    limit: int
    offset: int
    world_id: str
    def __init__(self, user_id: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., world_id: _Optional[str] = ...) -> None: ...

class GetCharacterPostsRequest(_message.Message):
    __slots__ = ("character_id", "limit", "offset", "world_id")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: str
    limit: int
    offset: int
    world_id: str
    def __init__(self, character_id: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., world_id: _Optional[str] = ...) -> None: ...

class GetPostsByIdsRequest(_message.Message):
    __slots__ = ("post_ids",)
    POST_IDS_FIELD_NUMBER: _ClassVar[int]
    post_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, post_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetGlobalFeedRequest(_message.Message):
    __slots__ = ("limit", "cursor", "world_id")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    limit: int
    cursor: str
    world_id: str
    def __init__(self, limit: _Optional[int] = ..., cursor: _Optional[str] = ..., world_id: _Optional[str] = ...) -> None: ...

class Post(_message.Message):
    __slots__ = ("post_id", "character_id", "display_name", "caption", "media_url", "created_at", "likes_count", "comments_count", "world_id", "avatar_url", "is_ai", "tags")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    MEDIA_URL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LIKES_COUNT_FIELD_NUMBER: _ClassVar[int]
    COMMENTS_COUNT_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    AVATAR_URL_FIELD_NUMBER: _ClassVar[int]
    IS_AI_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    character_id: str
    display_name: str
    caption: str
    media_url: str
    created_at: str
    likes_count: int
    comments_count: int
    world_id: str
    avatar_url: str
    is_ai: bool
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, post_id: _Optional[str] = ..., character_id: _Optional[str] = ..., display_name: _Optional[str] = ..., caption: _Optional[str] = ..., media_url: _Optional[str] = ..., created_at: _Optional[str] = ..., likes_count: _Optional[int] = ..., comments_count: _Optional[int] = ..., world_id: _Optional[str] = ..., avatar_url: _Optional[str] = ..., is_ai: _Optional[bool] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class PostList(_message.Message):
    __slots__ = ("posts", "total", "next_cursor")
    POSTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    posts: _containers.RepeatedCompositeFieldContainer[Post]
    total: int
    next_cursor: str
    def __init__(self, posts: _Optional[_Iterable[_Union[Post, _Mapping]]] = ..., total: _Optional[int] = ..., next_cursor: _Optional[str] = ...) -> None: ...

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
