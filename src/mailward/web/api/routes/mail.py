"""Mail Services, their addresses (paged, searchable), and the addresses' users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from mailward.core.pages import PageRequest
from mailward.web.api import schemas as s
from mailward.web.api.context import Api
from mailward.web.api.paging import Cursor, Limit, link_pages
from mailward.web.api.problems import problem_responses

router = APIRouter()
mail_services = APIRouter(tags=["mail services"])
addresses = APIRouter(tags=["addresses"])
address_users = APIRouter(tags=["address users"])
ObjectId = Annotated[int, Path(ge=1, le=2**31 - 1)]
UserEmail = Annotated[str, Path(min_length=3, max_length=320, pattern=s.PRINTABLE)]


@mail_services.get(
    "/organizations/{org_id}/mail-services",
    responses=problem_responses(404),
)
async def list_mail_services(
    org_id: ObjectId,
    api: Api,
    request: Request,
    response: Response,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> list[s.MailService]:
    """By domain, a page at a time (the next one is in the ``Link`` header)."""
    page = await api.services.mail_services.page(api.actor, org_id, PageRequest(cursor, limit))
    link_pages(request, response, page)
    return [s.MailService.model_validate(v) for v in page.items]


@mail_services.post(
    "/organizations/{org_id}/mail-services",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(403, 404, 409, 422),
)
async def create_mail_service(org_id: ObjectId, body: s.MailServiceIn, api: Api) -> s.MailService:
    """Claim a domain: the Mail Service is ``pending`` until the TXT ``record`` it
    answers is published and verified."""
    view = await api.services.mail_services.create(api.actor, org_id, body.domain)
    return s.MailService.model_validate(view)


@mail_services.get("/mail-services/{mail_service_id}", responses=problem_responses(404))
async def get_mail_service(mail_service_id: ObjectId, api: Api) -> s.MailService:
    view = await api.services.mail_services.get(api.actor, mail_service_id)
    return s.MailService.model_validate(view)


@mail_services.post(
    "/mail-services/{mail_service_id}/verify",
    responses=problem_responses(403, 404, 409),
)
async def verify_mail_service(mail_service_id: ObjectId, api: Api) -> s.MailService:
    """Look the domain's verification record up now and answer the resulting state (a
    failed lookup is an answer too: ``state`` stays ``pending``, ``check_message`` says
    why)."""
    view = await api.services.domain_checks.check(api.actor, mail_service_id)
    return s.MailService.model_validate(view)


@addresses.get(
    "/mail-services/{mail_service_id}/addresses",
    responses=problem_responses(404),
)
async def list_addresses(
    mail_service_id: ObjectId,
    api: Api,
    search: Annotated[str, Query(max_length=100, pattern=s.PRINTABLE)] = "",
    cursor: Cursor = None,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> s.AddressPage:
    """Addresses of a Mail Service in order, one page at a time (pass a page's
    ``next_cursor`` or ``previous_cursor`` as ``cursor``); ``search`` matches the local
    part or display name. A ``user`` member sees only the addresses they are a user of."""
    found = await api.services.addresses.page(api.actor, mail_service_id, search, cursor, per_page)
    return s.AddressPage.model_validate(found)


@addresses.post(
    "/mail-services/{mail_service_id}/addresses",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(403, 404, 409, 422),
)
async def create_address(mail_service_id: ObjectId, body: s.AddressIn, api: Api) -> s.Address:
    view = await api.services.addresses.create(
        api.actor, mail_service_id, body.local_part, body.display_name
    )
    return s.Address.model_validate(view)


@addresses.get("/addresses/{address_id}", responses=problem_responses(404))
async def get_address(address_id: ObjectId, api: Api) -> s.Address:
    view = await api.services.addresses.get(api.actor, address_id)
    return s.Address.model_validate(view)


@address_users.get("/addresses/{address_id}/users", responses=problem_responses(404))
async def list_address_users(address_id: ObjectId, api: Api) -> list[s.AddressUser]:
    views = await api.services.addresses.users(api.actor, address_id)
    return [s.AddressUser.model_validate(v) for v in views]


@address_users.post(
    "/addresses/{address_id}/users",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(403, 404, 409, 422),
)
async def add_address_user(address_id: ObjectId, body: s.AddressUserIn, api: Api) -> s.AddressUser:
    """Offer a person the use of the address: ``pending`` until they accept it, signed
    in to the manager. The answer is the same whether or not they have an account."""
    view = await api.services.addresses.add_user(api.actor, address_id, body.email)
    return s.AddressUser.model_validate(view)


@address_users.delete(
    "/addresses/{address_id}/users/{email}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(403, 404, 422),
)
async def remove_address_user(address_id: ObjectId, email: UserEmail, api: Api) -> None:
    """Idempotent: removing someone who is not a user answers 204."""
    await api.services.addresses.remove_user(api.actor, address_id, email)


for _group in (mail_services, addresses, address_users):
    router.include_router(_group)
