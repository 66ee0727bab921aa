"""The project's datasets page: export now, freeze snapshots, import TRL datasets."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.core.errors import ApplicationError
from apps.core.errors import PermissionDenied as NotAnAdmin
from apps.exports.forms import DatasetImportForm, ExportForm
from apps.exports.importing import dataset_import_create
from apps.exports.models import DatasetImport, Snapshot
from apps.exports.selectors import dataset_import_get_for_admin, project_get_for_export
from apps.exports.services import snapshot_create
from apps.imports.views import render_import_status


def _admin_project(request, project_id: int):
    try:
        return project_get_for_export(user=request.user, project_id=project_id)
    except NotAnAdmin as exc:
        raise PermissionDenied(exc.message) from None


def _page(request, project, *, export_form=None, import_form=None, status=200) -> HttpResponse:
    context = {
        "project": project,
        "export_form": export_form or ExportForm(project_kind=project.kind),
        "import_form": import_form or DatasetImportForm(),
        "snapshots": Snapshot.objects.filter(project=project).order_by("-created_at", "-id")[:50],
        "imports": DatasetImport.objects.filter(project=project).order_by("-created_at")[:10],
        "trl_import": project.kind in ("pairwise", "thumbs"),
    }
    return render(request, "exports/home.html", context, status=status)


@login_required
def datasets_home(request: HttpRequest, project_id: int) -> HttpResponse:
    """GET: the page. POST: freeze the chosen export as a snapshot."""
    project = _admin_project(request, project_id)
    if request.method != "POST":
        return _page(request, project)
    form = ExportForm(request.POST, project_kind=project.kind)
    if form.is_valid():
        try:
            snapshot = snapshot_create(
                project=project,
                kind=form.cleaned_data["kind"],
                options=form.options(),
                user=request.user,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("Snapshot %(id)s: %(rows)s rows, %(sha)s…")
                % {"id": snapshot.pk, "rows": snapshot.row_count, "sha": snapshot.sha256[:12]},
            )
            return redirect("exports:home", project_id=project.pk)
    return _page(request, project, export_form=form, status=400)


@login_required
def datasets_download(request: HttpRequest, project_id: int) -> HttpResponse:
    """The export form's "download" target: sends the browser on to the streaming API download
    (a GET, so that the browser saves the file as it arrives)."""
    project = _admin_project(request, project_id)
    form = ExportForm(request.POST or request.GET, project_kind=project.kind)
    if not form.is_valid():
        return _page(request, project, export_form=form, status=400)
    options = form.options()
    file_format = options.pop("format")
    url = reverse(
        "exports-api:export-now",
        kwargs={
            "project_id": project.pk,
            "kind": form.cleaned_data["kind"],
            "file_format": file_format,
        },
    )
    return redirect(f"{url}?{urlencode(options)}")


@login_required
def dataset_import_new(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _admin_project(request, project_id)
    form = DatasetImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = dataset_import_create(
                project=project, user=request.user, upload=form.cleaned_data["file"]
            )
        except ApplicationError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("exports:import-detail", import_id=job.pk)
    return _page(
        request, project, import_form=form, status=400 if request.method == "POST" else 200
    )


@login_required
def dataset_import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    job = dataset_import_get_for_admin(user=request.user, import_id=import_id)
    return render_import_status(
        request,
        job,
        poll_url=reverse("exports:import-detail", args=[job.pk]),
        back_url=reverse("exports:home", args=[job.project_id]),
        back_label=f"Datasets of {job.project.name}",
    )
