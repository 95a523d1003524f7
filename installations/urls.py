"""Web pages of installations (namespace ``installations``)."""

from django.urls import path

from installations import member_views, views

app_name = "installations"

urlpatterns = [
    path("", views.InstallationListView.as_view(), name="list"),
    path("new/", views.InstallationCreateView.as_view(), name="create"),
    path("<int:pk>/", views.InstallationDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.InstallationUpdateView.as_view(), name="edit"),
    path("<int:pk>/delete/", views.InstallationDeleteView.as_view(), name="delete"),
    path("<int:pk>/circuits/", views.CircuitTreeView.as_view(), name="circuits"),
    path("<int:pk>/circuits/new/", views.CircuitCreateView.as_view(), name="circuit_create"),
    path("circuits/<int:pk>/edit/", views.CircuitUpdateView.as_view(), name="circuit_edit"),
    path("circuits/<int:pk>/delete/", views.CircuitDeleteView.as_view(), name="circuit_delete"),
    path("<int:pk>/chargers/", views.InstallationChargersView.as_view(), name="chargers"),
    path("<int:pk>/members/", member_views.InstallationMembersView.as_view(), name="members"),
    path("<int:pk>/members/invite/", member_views.InviteView.as_view(), name="invite"),
    path("members/<int:pk>/role/", member_views.MembershipRoleView.as_view(), name="member_role"),
    path(
        "members/<int:pk>/remove/",
        member_views.MembershipRemoveView.as_view(),
        name="member_remove",
    ),
    path(
        "invitations/<int:pk>/revoke/",
        member_views.InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
]
