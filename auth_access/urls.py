"""Web pages of access control (namespace ``access``): my cards, an installation's Access tab,
starting / stopping charging on a charger, and reserving its connectors."""

from django.urls import path

from auth_access import charging_views, people_views, reservation_views, tab_views, views

app_name = "access"

urlpatterns = [
    # My cards (everyone).
    path("access/cards/", views.MyCardsView.as_view(), name="cards"),
    path("access/cards/<int:card_pk>/edit/", views.MyCardEditView.as_view(), name="card_edit"),
    path("access/cards/<int:pk>/block/", views.CardBlockView.as_view(), name="card_block"),
    path("access/cards/<int:pk>/unblock/", views.CardUnblockView.as_view(), name="card_unblock"),
    path("access/cards/<int:pk>/delete/", views.CardDeleteView.as_view(), name="card_delete"),
    # The Access tab of an installation (owners and installers).
    path("installations/<int:pk>/access/", people_views.PeopleView.as_view(), name="people"),
    path(
        "installations/<int:pk>/access/rights/<int:membership_pk>/",
        people_views.ChargingRightsView.as_view(),
        name="rights",
    ),
    path(
        "installations/<int:pk>/access/cards/new/",
        people_views.MemberCardAddView.as_view(),
        name="member_card_add",
    ),
    path(
        "installations/<int:pk>/access/cards/<int:card_pk>/edit/",
        people_views.MemberCardEditView.as_view(),
        name="member_card_edit",
    ),
    path(
        "installations/<int:pk>/access/seen-cards/",
        tab_views.SeenCardsView.as_view(),
        name="seen_cards",
    ),
    path(
        "installations/<int:pk>/access/seen-cards/<int:seen_pk>/assign/",
        tab_views.AssignSeenCardView.as_view(),
        name="seen_card_assign",
    ),
    path(
        "installations/<int:pk>/access/seen-cards/<int:seen_pk>/dismiss/",
        tab_views.DismissSeenCardView.as_view(),
        name="seen_card_dismiss",
    ),
    path("installations/<int:pk>/access/rules/", tab_views.AccessRulesView.as_view(), name="rules"),
    path(
        "installations/<int:pk>/access/external/",
        tab_views.ExternalAuthorizerView.as_view(),
        name="external",
    ),
    path(
        "installations/<int:pk>/access/external/test/",
        tab_views.ExternalAuthorizerTestView.as_view(),
        name="external_test",
    ),
    path(
        "installations/<int:pk>/access/log/", tab_views.AuthorizationLogView.as_view(), name="log"
    ),
    # Start / stop charging from the portal.
    path(
        "chargers/<int:pk>/charging/",
        charging_views.ChargingPanelView.as_view(),
        name="charging_panel",
    ),
    path(
        "chargers/<int:pk>/charging/start/",
        charging_views.StartChargingView.as_view(),
        name="charging_start",
    ),
    path(
        "chargers/sessions/<int:session_pk>/stop/",
        charging_views.StopChargingView.as_view(),
        name="charging_stop",
    ),
    # Reservations of a charger's connectors.
    path(
        "chargers/<int:pk>/reservations/new/",
        reservation_views.ReserveView.as_view(),
        name="reserve",
    ),
    path(
        "chargers/reservations/<int:reservation_pk>/cancel/",
        reservation_views.CancelReservationView.as_view(),
        name="reservation_cancel",
    ),
]
