"""The API's output models take their fields from the core's views."""

from __future__ import annotations

import dataclasses

import pytest

from mailward.core.devices.views import DeviceView
from mailward.core.invitations.service import InvitationView
from mailward.web.api import schemas as s


def test_a_model_has_its_views_fields_in_order() -> None:
    assert list(s.Device.model_fields) == [f.name for f in dataclasses.fields(DeviceView)]


def test_omitted_fields_stay_out_of_the_api() -> None:
    names = [f.name for f in dataclasses.fields(InvitationView)]
    assert list(s.Invitation.model_fields) == [
        n for n in names if n not in ("organization_id", "organization")
    ]


def test_a_narrowed_field_refuses_other_values() -> None:
    with pytest.raises(ValueError, match="status"):
        s.ApiToken.model_validate(
            {
                **dict.fromkeys(s.ApiToken.model_fields),
                "id": 1,
                "organization_id": 1,
                "name": "n",
                "prefix": "p",
                "created_at": "2026-01-01T00:00:00Z",
                "status": "gone",
            }
        )


def test_a_field_the_view_lacks_is_refused() -> None:
    with pytest.raises(TypeError, match="no field colour"):
        s.fields_of(DeviceView, colour=str)
