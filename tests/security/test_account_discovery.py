"""Finding 5: adding a person by email told another organization whether that person
had an account (its id, "active" or "invited"). Now the answer (API, web page, lists)
is the same for an active account of another organization, an invited one, and none:
only the email given and the state of the offer itself."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from mailward.clock import FrozenClock
from mailward.core.access.actors import Actor
from tests.integration.api_world import ApiWorld, make_api_world
from tests.integration.test_web_security import address_id, signed_in
from tests.support import ADMIN_PASSWORD, World

ACTIVE = "active.person@elsewhere.test"
INVITED = "invited.person@elsewhere.test"
NOBODY = "no.account@elsewhere.test"
PEOPLE = (ACTIVE, INVITED, NOBODY)


async def other_people(world: World) -> None:
    """An active member of another organization, and an invited account there."""
    op, services = Actor.operator(), world.services
    active = await services.accounts.create(op, ACTIVE, ADMIN_PASSWORD, "Alma Active")
    org = await services.organizations.create(op, "Elsewhere", legal_representative=active.email)
    await services.mail_services.create(op, org.id, "elsewhere-mail.test")
    await services.addresses.create_by_email(op, "desk@elsewhere-mail.test")
    await services.addresses.add_user(op, "desk@elsewhere-mail.test", INVITED)


def blind(text: str, person: str) -> str:
    """The answer with the person's email (and its URL-encoded form) masked."""
    return text.replace(person, "PERSON").replace(person.replace("@", "%40"), "PERSON")


@pytest.fixture
async def api(world: World, clock: FrozenClock) -> AsyncIterator[ApiWorld]:
    await other_people(world)
    async for api_world in make_api_world(world, clock):
        yield api_world


async def test_the_api_answers_the_same_for_active_invited_and_unknown_people(
    api: ApiWorld,
) -> None:
    for path, extra in (
        ("/addresses/{addr}/users", {}),
        ("/organizations/{org}/members", {"role": "administrator"}),
    ):
        answers = set()
        for person in PEOPLE:
            added = await api.call("admin", "POST", path, {"email": person, **extra})
            answers.add((added.status_code, blind(added.text, person)))
        assert len(answers) == 1, answers
        [(status, body)] = answers
        assert status == 201 and "account_id" not in body and '"status"' not in body
        assert '"state":"pending"' in body and '"display_name":""' in body
        listed = (await api.call("admin", "GET", path)).json()
        rows = {blind(repr(r), r["email"]) for r in listed if r["email"] in PEOPLE}
        assert len(rows) == 1, rows


async def test_the_api_refuses_a_second_offer_the_same_way_for_everyone(api: ApiWorld) -> None:
    answers = set()
    for person in PEOPLE:
        await api.call("admin", "POST", "/addresses/{addr}/users", {"email": person})
        again = await api.call("admin", "POST", "/addresses/{addr}/users", {"email": person})
        answers.add((again.status_code, blind(again.text, person)))
    assert len(answers) == 1 and next(iter(answers))[0] == 409


async def test_role_changes_and_removals_answer_the_same_for_strangers(api: ApiWorld) -> None:
    for method, path, body, status in (
        ("PUT", "/organizations/{org}/members/PERSON/role", {"role": "user"}, 404),
        ("DELETE", "/organizations/{org}/members/PERSON", None, 204),
        ("DELETE", "/addresses/{addr}/users/PERSON", None, 204),
    ):
        answers = set()
        for person in PEOPLE:
            answer = await api.call("admin", method, path.replace("PERSON", person), body)
            answers.add((answer.status_code, blind(answer.text, person)))
        assert len(answers) == 1 and next(iter(answers))[0] == status, answers


def person_row(html: str, person: str) -> str:
    rows = [r for r in re.findall(r"<tr.*?</tr>", html, re.S) if person in r]
    assert len(rows) == 1, rows
    return blind(re.sub(r'name="csrf" value="[^"]*"', "", rows[0]), person)


async def test_the_web_pages_answer_the_same_for_active_invited_and_unknown_people(
    world: World, clock: FrozenClock
) -> None:
    await other_people(world)
    aid = await address_id(world)
    admin = await signed_in(world, clock, world.admin)
    for page, form in (
        (f"/addresses/{aid}/users", {}),
        (f"/orgs/{world.org_id}", {"role": "administrator"}),
    ):
        action = (
            f"/addresses/{aid}/users" if "addresses" in page else f"/orgs/{world.org_id}/members"
        )
        statuses, rows = set(), set()
        for person in PEOPLE:
            added = await admin.post_form(page, action, {"email": person, **form})
            statuses.add((added.status_code, added.headers.get("location")))
            rows.add(person_row((await admin.get(page)).text, person))
        assert len(statuses) == 1 and next(iter(statuses))[0] == 303, statuses
        assert len(rows) == 1, rows
        [row] = rows
        assert "Pending" in row and "Alma" not in row and "nvited" not in row
