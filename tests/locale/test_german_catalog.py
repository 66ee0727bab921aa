"""The German catalog is complete: every string the code marks for translation has a German
translation, none is fuzzy, and the committed .mo files say what the .po files say. A template
or message added without its translation fails here."""

import ast
import gettext
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale"
DOMAINS = ("django", "djangojs")
# What makemessages reads: the Django apps, the templates, our own scripts (not vendored ones).
SOURCES = ("apps", "config", "templates", "static/js")


def parse_po(text: str) -> list[dict]:
    """The entries of a .po file (header included, obsolete `#~` entries left out)."""
    entries, entry, key = [], None, None
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if entry and entry["msgid"] is not None and not entry["obsolete"]:
                entries.append(entry)
            entry, key = None, None
            continue
        entry = entry or {"msgctxt": None, "msgid": None, "plural": None, "msgstr": {},
                          "flags": set(), "obsolete": False}  # fmt: skip
        if line.startswith("#~"):
            entry["obsolete"] = True
        elif line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif match := re.match(
            r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$', line
        ):
            name, index, value = match.group(1), match.group(2), ast.literal_eval(match.group(3))
            if name.startswith("msgstr"):
                key = ("msgstr", int(index or 0))
                entry["msgstr"][key[1]] = value
            else:
                key = ({"msgid_plural": "plural"}.get(name, name), None)
                entry[key[0]] = value
        elif line.startswith('"'):
            value = ast.literal_eval(line)
            if key[0] == "msgstr":
                entry["msgstr"][key[1]] += value
            else:
                entry[key[0]] += value
    return entries


def untranslated(entries: list[dict]) -> list[str]:
    """The msgids of entries without a full translation, or marked fuzzy."""
    return [
        e["msgid"]
        for e in entries
        if e["msgid"] and ("fuzzy" in e["flags"] or not all(e["msgstr"].values()))
    ]


@pytest.mark.parametrize("domain", DOMAINS)
def test_german_catalog_has_no_untranslated_or_fuzzy_entry(domain):
    entries = parse_po((LOCALE / "de/LC_MESSAGES" / f"{domain}.po").read_text(encoding="utf-8"))

    assert len(entries) > (500 if domain == "django" else 3)
    assert untranslated(entries) == []


@pytest.mark.parametrize("domain", DOMAINS)
def test_committed_mo_file_matches_the_po_file(domain):
    """A clean clone serves German without a build step, so the .mo must be current."""
    entries = parse_po((LOCALE / "de/LC_MESSAGES" / f"{domain}.po").read_text(encoding="utf-8"))
    with (LOCALE / "de/LC_MESSAGES" / f"{domain}.mo").open("rb") as mo:
        catalog = gettext.GNUTranslations(mo)

    for e in entries:
        if not e["msgid"]:
            continue
        if e["plural"] is None:
            got = (
                catalog.pgettext(e["msgctxt"], e["msgid"])
                if e["msgctxt"]
                else catalog.gettext(e["msgid"])
            )
            assert got == e["msgstr"][0], e["msgid"]
        else:
            assert catalog.ngettext(e["msgid"], e["plural"], 1) == e["msgstr"][0], e["msgid"]
            assert catalog.ngettext(e["msgid"], e["plural"], 5) == e["msgstr"][1], e["msgid"]


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_makemessages_finds_no_string_missing_from_the_german_catalog(tmp_path):
    """makemessages is run on a copy of the sources (it rewrites the catalog it finds), and the
    catalog it merges must still be complete: a new msgid arrives untranslated, a changed one
    fuzzy, and both fail here."""
    base = Path(settings.BASE_DIR)
    tree = tmp_path / "tree"
    for source in SOURCES:
        shutil.copytree(base / source, tree / source, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(LOCALE, tree / "locale")
    shutil.copy(base / "manage.py", tree / "manage.py")

    for domain in DOMAINS:
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-l", "de", "-d", domain,
             "--no-location", "--no-obsolete"],
            cwd=tree, check=True, capture_output=True,
        )  # fmt: skip
        fresh = parse_po((tree / "locale/de/LC_MESSAGES" / f"{domain}.po").read_text("utf-8"))
        committed = parse_po((LOCALE / "de/LC_MESSAGES" / f"{domain}.po").read_text("utf-8"))

        missing = {(e["msgctxt"], e["msgid"]) for e in fresh} - {
            (e["msgctxt"], e["msgid"]) for e in committed
        }
        assert missing == set(), f"{domain}: strings without a German translation"
        assert untranslated(fresh) == [], domain
