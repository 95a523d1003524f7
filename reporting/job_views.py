"""Web pages of large exports (``reporting.jobs``): "My exports", one export's page with its
progress bar (``static/js/exports.js`` polls the small JSON status; without JavaScript the page
offers a refresh link), and the download.

Only the user who asked for an export sees it: every page starts from
``ExportJob.objects.restrict(user, VIEW)`` (``ExportJob.tenant_filter``), so another user's
export is a 404, and the download checks again that the file is ready and not expired.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView, ListView

from portal.views import TenantMixin
from reporting.exports import ExportFormat
from reporting.models import ExportJob, ExportStatus

# The job page asks for news this often while the export runs (milliseconds).
POLL_MS = 1000


def job_status(job: ExportJob) -> dict[str, Any]:
    """What the progress bar shows (the JSON of the status endpoint)."""
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": job.get_status_display(),
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "percent": job.percent,
        "finished": job.is_finished,
        "error": job.error,
        "download_url": (
            reverse("reporting:export_download", args=[job.pk]) if is_downloadable(job) else None
        ),
    }


def is_downloadable(job: ExportJob) -> bool:
    return job.status == ExportStatus.DONE and bool(job.file) and job.expires_at > timezone.now()


class ExportJobMixin(TenantMixin):
    model = ExportJob

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.order_by("-created_at", "-id")


class ExportJobListView(ExportJobMixin, ListView):
    """My exports: the large exports of the last day, newest first."""

    template_name = "reporting/export_jobs.html"
    context_object_name = "jobs"
    paginate_by = 50

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["nav_section"] = "charging"
        return context


class ExportJobView(ExportJobMixin, DetailView):
    """One export: its progress while a worker writes it, then the download link."""

    template_name = "reporting/export_job.html"
    context_object_name = "job"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        job: ExportJob = self.object
        context.update(
            status=job_status(job),
            poll_ms=0 if job.is_finished else POLL_MS,
            format_label="Excel" if job.format == ExportFormat.XLSX else "CSV",
            nav_section="charging",
        )
        return context


class ExportJobStatusView(ExportJobMixin, DetailView):
    """The job's progress as JSON, for the progress bar."""

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        response = JsonResponse(job_status(self.object))
        response["Cache-Control"] = "no-store"
        return response


class ExportJobDownloadView(ExportJobMixin, View):
    """The file of a finished export (404 when not ready, expired, or someone else's)."""

    def get(self, request: Any, pk: int) -> HttpResponse:
        job = self.get_object()
        return download(job)

    def get_object(self) -> ExportJob:
        queryset = self.get_queryset()
        try:
            return queryset.get(pk=self.kwargs["pk"])
        except ExportJob.DoesNotExist:
            raise Http404("No such export.") from None


def download(job: ExportJob) -> FileResponse:
    """The job's file as an attachment, after checking that it is ready and kept."""
    if not is_downloadable(job):
        raise Http404("This export is not ready, or it has expired.")
    try:
        handle = default_storage.open(job.file.name, "rb")
    except FileNotFoundError:
        raise Http404("This export's file is gone.") from None
    fmt = ExportFormat(job.format)
    return FileResponse(
        handle, as_attachment=True, filename=job.filename, content_type=fmt.content_type
    )
