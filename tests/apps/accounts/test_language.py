"""The language pages are shown in: a signed-in user's own choice (settings page or the header's
switch), else the browser's Accept-Language; English and German are offered."""

import pytest
from django.urls import reverse

from apps.accounts.services import user_language_set
from apps.core.errors import ApplicationError
from tests.factories import UserFactory, add_member, make_task

pytestmark = pytest.mark.django_db


def test_a_user_who_chose_german_gets_german_pages_whatever_the_browser_asks(client):
    client.force_login(UserFactory(language="de"))

    page = client.get(reverse("projects:list"), HTTP_ACCEPT_LANGUAGE="en")

    html = page.content.decode()
    assert page["Content-Language"] == "de"
    assert '<html lang="de">' in html
    assert ">Projekte</a>" in html and ">Abmelden</button>" in html
    assert "Sie sind noch in keinem Projekt Mitglied." in html
    assert ">Projects</a>" not in html


def test_a_user_who_chose_english_gets_english_pages_even_from_a_german_browser(client):
    client.force_login(UserFactory(language="en"))

    page = client.get(reverse("projects:list"), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")

    html = page.content.decode()
    assert page["Content-Language"] == "en"
    assert ">Projects</a>" in html and "You are not a member of any project yet." in html
    assert "Projekte" not in html


def test_a_user_without_a_choice_and_anonymous_visitors_get_the_browsers_language(client):
    login = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")
    assert login["Content-Language"] == "de" and "Anmelden" in login.content.decode()

    client.force_login(UserFactory(language=""))
    page = client.get(reverse("projects:list"), HTTP_ACCEPT_LANGUAGE="de")
    assert ">Projekte</a>" in page.content.decode()
    page = client.get(reverse("projects:list"), HTTP_ACCEPT_LANGUAGE="fr")  # not offered
    assert ">Projects</a>" in page.content.decode()


def test_the_labeling_page_is_german_for_a_german_annotator(client, project):
    make_task(project)
    annotator = add_member(project, UserFactory(language="de"))
    client.force_login(annotator)

    html = client.get(reverse("labeling:label", args=[project.pk])).content.decode()

    assert "Welche Antwort ist besser?" in html and "Überspringen" in html
    assert "Which response is better?" not in html


def test_the_header_switch_stores_the_choice_and_returns_to_the_page(client):
    user = UserFactory()
    client.force_login(user)
    back = reverse("accounts:tokens")

    answer = client.post(reverse("accounts:language"), {"language": "de", "next": back})

    user.refresh_from_db()
    assert answer.status_code == 302 and answer["Location"] == back
    assert user.language == "de"
    assert ">API-Tokens</a>" in client.get(back).content.decode()


def test_the_header_switch_never_redirects_off_the_site(client):
    client.force_login(UserFactory())

    answer = client.post(
        reverse("accounts:language"), {"language": "de", "next": "https://evil.example/"}
    )

    assert answer["Location"] == reverse("home")


def test_the_settings_page_saves_the_language_and_answers_in_it(client):
    user = UserFactory(language="de")
    client.force_login(user)
    url = reverse("accounts:settings")
    assert 'value="de" selected' in client.get(url).content.decode()

    saved = client.post(url, {"language": "en"}, follow=True)

    user.refresh_from_db()
    assert user.language == "en"
    assert "Your settings are saved." in saved.content.decode()


def test_an_unknown_language_is_refused_and_nothing_changes(client):
    user = UserFactory(language="de")
    client.force_login(user)

    page = client.post(reverse("accounts:settings"), {"language": "xx"})

    user.refresh_from_db()
    assert page.status_code == 200 and user.language == "de"
    with pytest.raises(ApplicationError):
        user_language_set(user=user, language="xx")


def test_the_javascript_catalog_is_served_in_the_users_language(client):
    client.force_login(UserFactory(language="de"))

    script = client.get(reverse("javascript-catalog"))

    assert script["Content-Type"].startswith("text/javascript")
    assert "noch keine \\u00c4nderung" in script.content.decode() or (
        "noch keine Änderung" in script.content.decode()
    )
