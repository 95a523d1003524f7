"""The REST platform shared by every app: the tenant-scoped base viewset, errors, pagination."""
