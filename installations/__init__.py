"""Installations (the tenancy boundary), their fuse tree, memberships and invitations."""
