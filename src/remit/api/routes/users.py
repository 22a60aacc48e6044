"""``/v1/users``: the humans who own, approve and delegate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from remit.api.deps import PageDep, PrincipalDep, RemitDep
from remit.api.routes._common import ERRORS, UserIdPath, render_page
from remit.api.schemas.common import PageResponse
from remit.api.schemas.users import UserCreateRequest, UserResponse, UserUpdateRequest
from remit.registry.models import UserStatus
from remit.registry.ports import UserFilter

router = APIRouter(prefix="/v1/users", tags=["users"], responses=ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserResponse)
def create_user(body: UserCreateRequest, remit: RemitDep, p: PrincipalDep) -> UserResponse:
    return UserResponse.of(remit.registry.create_user(p, body.to_draft()))


@router.get("", response_model=PageResponse[UserResponse])
def list_users(
    remit: RemitDep,
    p: PrincipalDep,
    page: PageDep,
    user_status: Annotated[UserStatus | None, Query(alias="status")] = None,
) -> PageResponse[UserResponse]:
    """Users by id. An owner sees only their own record."""
    return render_page(remit.registry.list_users(p, UserFilter(status=user_status), page), UserResponse.of)


@router.get("/{user_id}", response_model=UserResponse)
def get_user(user_id: UserIdPath, remit: RemitDep, p: PrincipalDep) -> UserResponse:
    return UserResponse.of(remit.registry.get_user(p, user_id))


@router.patch("/{user_id}", response_model=UserResponse)
def update_user(user_id: UserIdPath, body: UserUpdateRequest, remit: RemitDep, p: PrincipalDep) -> UserResponse:
    """Change fields. Disabling a user stops their admin tokens at once."""
    return UserResponse.of(remit.registry.update_user(p, user_id, body.to_changes()))
