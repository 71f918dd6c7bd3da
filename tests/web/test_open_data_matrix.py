"""Permission-matrix rows of the open-data pages (reports/views_open.py): public, no
login, for every role; an unpublished set or a year without published sets answers 404.
Tested as the anonymous public in tests/reports/test_open_data.py (the citizens' page,
the city-wide zip) and here for an unknown set and year."""
from __future__ import annotations

import pytest

ROLES = ["anonymous"]
MATRIX = {
    "reports:public_citizens": "tests/reports/test_open_data.py: anonymous, 200; here 404",
    "reports:public_bulk": "tests/reports/test_open_data.py: anonymous, 200; here 404",
}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/reports/public/999999/citizens/",
                                 "/reports/public/open-data/1999.zip"])
def test_unknown_set_or_year_is_404_without_login(client, url):  # noqa: ANN001
    assert client.get(url).status_code == 404
