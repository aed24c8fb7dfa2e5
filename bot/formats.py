"""The document formats the plan can be exported in: cheap to import (the CLI's choices)."""

FORMATS = ("docx", "xlsx", "csv", "md", "json", "png")

MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "png": "image/png",
}
