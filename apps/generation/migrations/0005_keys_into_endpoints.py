"""Plaintext API keys move into encrypted ModelEndpoint rows: a chat project's backend and every
generation job's OpenAI-compatible models name their endpoint instead of carrying a URL and key.
Where one URL had several keys in a project, the chat backend's key wins, then the newest job's."""

from urllib.parse import urlsplit

from django.db import migrations

from apps.core.crypto import encrypt_secret


def _endpoint(ModelEndpoint, project_id, base_url, api_key):
    url = base_url.strip().rstrip("/")[:500]
    endpoint = ModelEndpoint.objects.filter(project_id=project_id, base_url=url).first()
    if endpoint is None:
        parts = urlsplit(url)
        wanted = (parts.netloc + parts.path.rstrip("/"))[:190] or "server"
        taken = set(
            ModelEndpoint.objects.filter(project_id=project_id).values_list("name", flat=True)
        )
        name, n = wanted, 1
        while name in taken:
            n += 1
            name = f"{wanted} ({n})"
        return ModelEndpoint.objects.create(
            project_id=project_id,
            name=name,
            base_url=url,
            api_key_encrypted=encrypt_secret(api_key or ""),
        )
    if api_key and not endpoint.api_key_encrypted:
        endpoint.api_key_encrypted = encrypt_secret(api_key)
        endpoint.save(update_fields=["api_key_encrypted"])
    return endpoint


def _converted(ModelEndpoint, project_id, config):
    if not isinstance(config, dict) or config.get("type") != "openai":
        return config
    base_url = config.get("base_url")
    if not isinstance(base_url, str) or not base_url.strip():
        return {k: v for k, v in config.items() if k != "api_key"}
    key = config.get("api_key") if isinstance(config.get("api_key"), str) else ""
    endpoint = _endpoint(ModelEndpoint, project_id, base_url, key)
    stored = {k: v for k, v in config.items() if k not in ("base_url", "api_key")}
    stored["endpoint"] = endpoint.pk
    return stored


def forwards(apps, schema_editor):
    Project = apps.get_model("projects", "Project")
    GenerationJob = apps.get_model("generation", "GenerationJob")
    ModelEndpoint = apps.get_model("generation", "ModelEndpoint")
    for project in Project.objects.only("pk", "generation_backend").iterator():
        config = _converted(ModelEndpoint, project.pk, project.generation_backend)
        if config != project.generation_backend:
            Project.objects.filter(pk=project.pk).update(generation_backend=config)
    for job in GenerationJob.objects.only("pk", "project_id", "backends").order_by("-pk"):
        entries = [
            {**entry, "config": _converted(ModelEndpoint, job.project_id, entry.get("config"))}
            if isinstance(entry, dict)
            else entry
            for entry in job.backends or []
        ]
        if entries != job.backends:
            GenerationJob.objects.filter(pk=job.pk).update(backends=entries)


def backwards(apps, schema_editor):
    """Back to URLs in the configs; the keys stay behind (they were never to be stored plain)."""
    Project = apps.get_model("projects", "Project")
    GenerationJob = apps.get_model("generation", "GenerationJob")
    ModelEndpoint = apps.get_model("generation", "ModelEndpoint")
    urls = dict(ModelEndpoint.objects.values_list("pk", "base_url"))

    def back(config):
        if isinstance(config, dict) and config.get("type") == "openai" and "endpoint" in config:
            endpoint_id = config["endpoint"]
            config = {k: v for k, v in config.items() if k != "endpoint"}
            config["base_url"] = urls.get(endpoint_id, "")
        return config

    for project in Project.objects.only("pk", "generation_backend").iterator():
        Project.objects.filter(pk=project.pk).update(
            generation_backend=back(project.generation_backend)
        )
    for job in GenerationJob.objects.only("pk", "backends"):
        entries = [
            {**e, "config": back(e.get("config"))} if isinstance(e, dict) else e
            for e in job.backends or []
        ]
        GenerationJob.objects.filter(pk=job.pk).update(backends=entries)


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0004_model_endpoints"),
        ("projects", "0003_project_queue_order"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
