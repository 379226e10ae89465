"""Organizations (the token's one), their members and roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from mailward.web.api import schemas as s
from mailward.web.api.context import Api
from mailward.web.api.problems import problem_responses

router = APIRouter(tags=["organizations"])
OrgId = Annotated[int, Path(ge=1, le=2**31 - 1)]
MemberEmail = Annotated[str, Path(min_length=3, max_length=320, pattern=s.PRINTABLE)]


@router.get("/organizations", responses=problem_responses())
async def list_organizations(api: Api) -> list[s.Organization]:
    """The organizations this token may act in: the one it was made for."""
    view = await api.services.organizations.get(api.actor, api.organization_id)
    return [s.Organization.model_validate(view)]


@router.get("/organizations/{org_id}", responses=problem_responses(404))
async def get_organization(org_id: OrgId, api: Api) -> s.Organization:
    view = await api.services.organizations.get(api.actor, org_id)
    return s.Organization.model_validate(view)


@router.get("/organizations/{org_id}/members", responses=problem_responses(404))
async def list_members(org_id: OrgId, api: Api) -> list[s.Member]:
    members = await api.services.organizations.members(api.actor, org_id)
    return [s.Member.model_validate(m) for m in members]


@router.post(
    "/organizations/{org_id}/members",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(403, 404, 409, 422),
)
async def add_member(org_id: OrgId, body: s.MemberIn, api: Api) -> s.Member:
    """Offer a person a role: ``pending`` until they accept it, signed in to the
    manager. The answer is the same whether or not they have an account."""
    view = await api.services.organizations.add_member(api.actor, org_id, body.email, body.role)
    return s.Member.model_validate(view)


@router.put(
    "/organizations/{org_id}/members/{email}/role",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(403, 404, 409, 422),
)
async def set_member_role(org_id: OrgId, email: MemberEmail, body: s.RoleIn, api: Api) -> None:
    await api.services.organizations.set_role(api.actor, org_id, email, body.role)


@router.delete(
    "/organizations/{org_id}/members/{email}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(403, 404, 409, 422),
)
async def remove_member(org_id: OrgId, email: MemberEmail, api: Api) -> None:
    """Idempotent: removing someone who is not a member answers 204."""
    await api.services.organizations.remove_member(api.actor, org_id, email)
