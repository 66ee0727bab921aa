"""Importing datasets in TRL's formats as prompts, responses, tasks and imported judgments.

A pairwise project takes preference rows, a thumbs project unpaired rows. Every row is checked
first; if any is bad nothing is written and each bad row is reported with its line number.
Otherwise the file is written in the transaction that marks the import succeeded. Each row becomes one task judged once by the
file (Judgment.source = "import", source_name = the file's name, no annotator). Rows with the
same prompt share one Prompt, and equal texts of that prompt one Response, so a train/test
split by prompt keeps them together.

Where the chosen response sits (A or B) is drawn per row, reproducibly per import, so that
imported pairs carry no position bias. A margin of 1, 2, 3 or 4 (Arbiter's own scale, as its
exports write it) becomes the strength; any other margin is kept in the task's context, and the
strength is left unknown (null), as it is when there is no margin.
"""

import hashlib
import json
import random
import sqlite3

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from apps.accounts.models import User
from apps.core.errors import ApplicationError
from apps.core.jobs import job_enqueue
from apps.corpus.models import Prompt, Response
from apps.dashboard.services import rollups_judgments_added
from apps.exports.import_rows import (
    PreferenceRow,
    UnpairedRow,
    parse_preference_row,
    parse_unpaired_row,
)
from apps.exports.models import DatasetImport
from apps.feedback.models import Judgment, JudgmentSource, Phase
from apps.feedback.payloads import STRENGTHS
from apps.imports.pipeline import ImportKind, import_run, upload_check
from apps.labeling.models import Task, TaskItem
from apps.labeling.services import project_lock_for_new_tasks
from apps.projects.models import FeedbackKind, Project

PARSERS = {FeedbackKind.PAIRWISE: parse_preference_row, FeedbackKind.THUMBS: parse_unpaired_row}
ROW_KINDS = {PreferenceRow: FeedbackKind.PAIRWISE, UnpairedRow: FeedbackKind.THUMBS}


@transaction.atomic
def dataset_import_create(*, project: Project, user: User, upload: UploadedFile) -> DatasetImport:
    """Stores the upload and queues the import (the worker starts once this commits)."""
    if project.kind not in PARSERS:
        raise ApplicationError(
            "TRL datasets are imported into pairwise projects (preference rows) or thumbs "
            f"projects (unpaired rows), not into a {project.kind} project."
        )
    upload_check(upload)
    job = DatasetImport.objects.create(
        project=project, created_by=user, file=upload, original_name=upload.name[:255]
    )
    job_enqueue(job)
    return job


def _strength(margin: float | None) -> str | None:
    if margin is not None and margin.is_integer() and 1 <= margin <= len(STRENGTHS):
        return STRENGTHS[int(margin) - 1]
    return None


class _KeysOnDisk:
    """digest → primary key, kept in a private temporary SQLite file (Python's own sqlite3, not
    the project's database), so that memory stays flat however many distinct prompts and
    responses a file holds."""

    def __init__(self):
        self.db = sqlite3.connect("")  # "": a temporary file, deleted when closed
        self.db.execute("CREATE TABLE seen (key BLOB PRIMARY KEY, pk INTEGER) WITHOUT ROWID")

    def get_many(self, keys: set[bytes]) -> dict[bytes, int]:
        found, keys = {}, list(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(self.db.execute(f"SELECT key, pk FROM seen WHERE key IN ({marks})", chunk))
        return found

    def put_many(self, items: dict[bytes, int]) -> None:
        self.db.executemany("INSERT INTO seen VALUES (?, ?)", items.items())


def _digest(*parts: str | int) -> bytes:
    return hashlib.blake2b("\x00".join(map(str, parts)).encode(), digest_size=16).digest()


class _DatasetRowWriter:
    """Rows with the same prompt share one Prompt, and equal texts of a prompt one Response,
    across the whole file; each row is one task judged once by the file."""

    def __init__(self, job: DatasetImport):
        self.job, self.project = job, job.project
        self.marker = {"dataset_import": job.pk}
        self.rng = random.Random(job.pk)  # where the chosen response sits: reproducible
        self.prompt_pks, self.response_pks = _KeysOnDisk(), _KeysOnDisk()
        self.prompts = self.responses = self.tasks = 0

    def _prompt_pks(self, rows: list) -> list[int]:
        keys = [_digest(json.dumps(row.messages, sort_keys=True)) for row in rows]
        known = self.prompt_pks.get_many(set(keys))
        new: dict[bytes, Prompt] = {}
        for row, key in zip(rows, keys, strict=True):
            if key not in known and key not in new:
                new[key] = Prompt(
                    project=self.project,
                    messages=row.messages,
                    external_id=row.external_id,
                    metadata=self.marker,
                )
        Prompt.objects.bulk_create(new.values())
        created = {key: prompt.pk for key, prompt in new.items()}
        self.prompt_pks.put_many(created)
        self.prompts += len(created)
        return [(known.get(key) or created[key]) for key in keys]

    def _response_pks(self, pairs: list[tuple[int, str]]) -> dict[tuple[int, str], int]:
        keys = {pair: _digest(*pair) for pair in pairs}
        known = self.response_pks.get_many(set(keys.values()))
        new: dict[bytes, Response] = {}
        for (prompt_pk, text), key in keys.items():
            if key not in known and key not in new:
                new[key] = Response(
                    prompt_id=prompt_pk,
                    text=text,
                    source=self.job.original_name[:200],
                    metadata=self.marker,
                )
        Response.objects.bulk_create(new.values())
        created = {key: response.pk for key, response in new.items()}
        self.response_pks.put_many(created)
        self.responses += len(created)
        return {pair: known.get(key) or created[key] for pair, key in keys.items()}

    def add(self, rows: list[PreferenceRow] | list[UnpairedRow]) -> None:
        project, job = self.project, self.job
        # The rows were checked for the kind the project had then; the lock (held until the
        # import commits) keeps a kind change from racing with these tasks, or refuses them.
        kind = ROW_KINDS[type(rows[0])]
        project_lock_for_new_tasks(project_id=project.pk, kind=kind)
        prompt_pks = self._prompt_pks(rows)
        texts = [
            [row.chosen, row.rejected] if isinstance(row, PreferenceRow) else [row.completion]
            for row in rows
        ]
        response_pks = self._response_pks(
            [
                (pk, text)
                for pk, row_texts in zip(prompt_pks, texts, strict=True)
                for text in row_texts
            ]
        )
        tasks, groups, payloads = [], [], []
        for row, prompt_pk in zip(rows, prompt_pks, strict=True):
            context = {**self.marker, "line": row.line}
            if isinstance(row, PreferenceRow):
                chosen_first = self.rng.random() < 0.5
                pair = [row.chosen, row.rejected] if chosen_first else [row.rejected, row.chosen]
                group = [response_pks[(prompt_pk, text)] for text in pair]
                payload = {
                    "choice": "A" if chosen_first else "B",
                    "strength": _strength(row.margin),
                }
                if row.margin is not None and payload["strength"] is None:
                    context["margin"] = row.margin
            else:
                group = [response_pks[(prompt_pk, row.completion)]]
                payload = {"labels": [row.label]}
            tasks.append(
                Task(
                    project=project,
                    prompt_id=prompt_pk,
                    kind=kind,
                    judgment_count=1,
                    context=context,
                )
            )
            groups.append(group)
            payloads.append(payload)
        Task.objects.bulk_create(tasks)
        TaskItem.objects.bulk_create(
            [
                TaskItem(task=task, response_id=response_pk, position=position)
                for task, group in zip(tasks, groups, strict=True)
                for position, response_pk in enumerate(group)
            ]
        )
        judgments = Judgment.objects.bulk_create(
            [
                Judgment(
                    project=project,
                    task=task,
                    annotator=None,
                    kind=kind,
                    phase=Phase.MAIN,
                    payload=payload,
                    display_order=[],
                    source=JudgmentSource.IMPORT,
                    source_name=job.original_name[:200],
                )
                for task, payload in zip(tasks, payloads, strict=True)
            ]
        )
        rollups_judgments_added(project=project, judgments=judgments)
        self.tasks += len(tasks)

    def counters(self) -> dict[str, int]:
        return {
            "prompts_created": self.prompts,
            "responses_created": self.responses,
            "tasks_created": self.tasks,
            "judgments_created": self.tasks,
        }


def _parser(job: DatasetImport):
    return PARSERS[job.project.kind]


DATASET_IMPORT = ImportKind(model=DatasetImport, parser=_parser, writer=_DatasetRowWriter)


def dataset_import_run(*, import_id: int, worker: str | None = None) -> DatasetImport | None:
    """Checks and imports the file (apps/imports/pipeline.py). Safe to run twice, at once or
    after a crash: the rows and `succeeded` commit together, once."""
    return import_run(kind=DATASET_IMPORT, job_id=import_id, worker=worker)
